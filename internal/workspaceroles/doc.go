// Package workspaceroles turns IdP groups into Webflow Workspace roles and
// per-site access (issue 15), and plans the fewest Workspace Members and
// Site Access writes that bring Webflow to them. It is pure: no network,
// no Redis, no clock, no SCIM. Its input and output types are its own, so
// the Webflow client's types convert to them in a few lines.
//
//   - Mapping (NewMapping, from the config's workspace.defaultRole,
//     workspace.groups and workspace.siteRoleOrder) gives the Effective
//     roles of a user from the names of their IdP groups.
//   - NewPlan compares Current (List Workspace Members, List Site Members)
//     with the effective roles and returns the writes: bulk role updates,
//     then per-site grant, PATCH and revoke, and Reports of what it leaves.
//   - LowerBound is the fewest calls a change can cost; a Plan costs
//     exactly that.
//
// # The order
//
// Workspace roles: admin > member > reviewer. Site roles, by default:
// site_manager > designer > marketer > content_editor > reviewer, which is
// the seats of reference §2.3 (Full, Limited, Free) and, within a seat,
// what a role can do. workspace.siteRoleOrder may reorder them and must
// place every custom Site Role the config uses ("custom:<id>"), because
// Webflow says nothing of where a custom role stands.
//
// A user's pair is the highest of their groups' pairs, by Workspace role
// first and then default Site role; every group's pair is one Webflow
// allows, so the result is too. On each site a user gets the highest role
// their groups give there among those that pair with their Workspace role.
// An admin gets no per-site access: admins have every site. A user none
// of whose groups sets a Workspace role gets workspace.defaultRole (default
// reviewer/reviewer: the least role, a free seat), plus any per-site
// access of their groups.
//
// # Guarantees
//
//   - Only the seven pairs of reference §2.2 are ever planned, and only
//     writable roles: never owner, guest or client (members holding them
//     are reported and left, site access included), never branch_designer,
//     limited_designer or viewer.
//   - No Site Access call for an admin.
//   - Nothing for a user whose roles are already right; a repeated plan of
//     an applied state is empty.
//   - Bulk updates carry one target pair and at most 100 ids (members and
//     invites together), so N users moving to one pair cost ⌈N/100⌉ calls.
//   - A member locked by Webflow's native SCIM (RoleLocked, from
//     workspace_member_managed_by_scim) gets no role write; the Report
//     keeps the desired pair, so a later plan applies it once the lock is
//     gone.
//   - The output depends only on the input's content, not its order.
//
// # Choices where the reference says "unknown"
//
//   - Per-site roles pair with the Workspace role as the default Site role
//     does (§2.2: "For Member and Reviewer invites ... use the pairings in
//     the table above"): a reviewer is only ever reviewer on a site, a
//     member never is. A per-site role that does not pair is left out and
//     reported (Effective.Refused); it never raises the Workspace role.
//     Seat limits beyond that (a content_editor member made site_manager on
//     one site) are not guessed; Webflow's cannot_update_user_role is the
//     answer, permanent for that item.
//   - roles.site is absent outside Workspace seats: the Workspace role
//     alone then decides whether the pair changed, or every reconcile would
//     rewrite every member.
//   - A Workspace Member has no roles.siteRoleId: a custom role whose id is
//     unknown on either side counts as the same custom role. A caller that
//     recorded the id it wrote passes it in.
//   - A Site Member's id is the Workspace Member's id (both are "Unique
//     identifier for a Member"); an entry whose id is no member's is matched
//     by email.
//   - Whether List Site Members shows implicit access is unknown. An
//     admin's entries are never revoked; a demoted admin gets grants only
//     (a grant answered member_already_has_access falls through to PATCH),
//     and the next plan revokes what is left.
//   - The API cannot tell an open site from a restricted one (§3.1, §8),
//     so the config says which are open (workspace.openSites, SiteState.Open).
//     On an open site every member and reviewer is taken to have implicit
//     access at their default Site role, listed or not; the plan never
//     grants there (a grant may be member_already_has_access) and never
//     revokes (what a revoke does there is unknown: it may remove the
//     implicit access). A role the groups give is set with PATCH, which
//     the reference says sets a per-site role there for the first time; a
//     per-site role the groups stop giving is PATCHed back to the default
//     Site role. Any site not marked open is taken as restricted: access
//     the IdP does not give is revoked.
//   - Whether the SCIM lock covers Site Access is unknown: site writes are
//     planned for a locked member whose Workspace role is already the
//     desired one; a refusal is the executor's to record.
//   - Read-only site roles are left as they are, unless the user's groups
//     name that site, in which case the configured role is written over
//     them.
//   - Pending invitees get no Site Access (Webflow's grant takes a
//     member; for an invitee it is likely refused): per-site access waits
//     for acceptance. Declined and expired invites are not updated, though
//     the API would accept it: they cannot be accepted.
//   - Emails compare case-insensitively; IdP group names too, as
//     sites[].groupMappings do.
package workspaceroles
