// Package workspacemembers serves /workspace/scim/v2/Users in
// workspace.mode: members (issue 15): the IdP's workspace users become
// Webflow Workspace Members through the Enterprise Workspace Members API,
// without Webflow's native SCIM.
//
//   - POST invites (POST /workspaces/{id}/members) with the role the
//     user's workspace groups give (workspaceroles.Mapping.Effective), or
//     workspace.defaultRole. The create is reserved in Redis first
//     (state.ReserveCreate, the site surface's machinery, in the keyspace
//     state.WorkspaceKeyspace), so a retried or concurrent POST, on any
//     replica, never invites twice; an invite whose answer was lost is
//     resolved by a list by email before anything is sent again.
//   - active false (PATCH or PUT) and DELETE remove the person: a single
//     DELETE for an active member, a bulk remove (the only call that
//     cancels one) for a pending invite. active true invites again.
//   - Invite ids and member ids are kept apart (the record's reference is
//     "invite:<id>" or "member:<id>"); an invite becomes a member, with a
//     new id, when it is accepted. A PATCH or PUT of a pending user, or a
//     GET once the last look is older than AcceptanceCheckAge, lists the
//     email; a member found then is recorded and the user is queued for
//     the workspace groups worker, which applies what only a member can
//     get (per-site access).
//   - Names and every other SCIM attribute are stored and echoed: the API
//     cannot change a member's name or email. An email change of an
//     active user is refused (400 mutability).
//   - Filters (userName, externalId, id, emails, displayName eq, and) are
//     answered from the Redis indexes with no Webflow call; an id the
//     bridge did not provision is 404 with no Webflow call, whatever the
//     method: the bridge never removes a member it did not provision.
//
// The user's SCIM id is the bridge's own (24 hex digits), never a Webflow
// id, and each user is recorded as a collaborator (state.Collaborator), so
// the workspace groups handler and worker (internal/workspacegroups) take
// these users as group members unchanged and find their member by email.
//
// # Choices where the reference is silent (webflow-enterprise-api.md §8)
//
//   - An invite to an address that is already an active member answers
//     it ("active"), and one whose roles differ is a 409: either way the
//     bridge links that member (as the site surface links an existing
//     user, onExistingUser: link), and so a pending invite. What is linked
//     at a create keeps the role Webflow holds until the user's groups
//     change: a new user is in no group, and the bridge never demotes
//     anyone to workspace.defaultRole for a link. On reactivation (the
//     user has groups) a link is queued for the worker at once. An owner,
//     guest or client so linked is never written and never removed
//     (Webflow refuses both); deprovisioning leaves them and logs it.
//   - A 409 or a lost answer on the invite is resolved by one list by
//     email: a member is linked, a pending invite is taken as this
//     user's. Whether Webflow invites an address whose only invites are
//     declined or expired is not documented (simulator reading
//     closedInvite): on a 409 the bridge cancels them (bulk remove) and
//     invites once more, which works under both readings. A 409 nothing
//     explains is answered 409 with Webflow's message.
//   - A removal answered 404 (member) or workspace_invite_not_found
//     (invite) means already gone; for an invite, the email is then
//     listed once, since the invite may have been accepted meanwhile.
package workspacemembers
