package webflowsim

// Choices the reference leaves open, and what the simulator does:
//
//   - Site access: a site the token was not seeded with answers 403
//     forbidden if it exists and 404 resource_not_found if it does not; a
//     malformed site id is 400 validation_error. GET /v2/sites lists only
//     the token's sites.
//   - Order of checks on /v2: auth (401) -> rate limit (429; every
//     authenticated call counts) -> route (404 resource_not_found, also
//     for a wrong method) -> removed-mode answer -> scope (403
//     missing_scopes) -> site access -> handler. An unknown route without
//     a token is therefore 401. Faults come before all of it.
//   - Scopes match exactly: users:write does not imply users:read.
//   - Rate limits: a fixed one-minute window per token that opens at the
//     first call after the last window ended. Retry-After is the seconds
//     left in the window (at least 1). With the limit off (0), the
//     X-RateLimit-Limit and -Remaining headers still go out, carrying
//     UnlimitedHeaderValue, and introspection reports the same number.
//   - Lists: limit defaults to 10 and is clamped to 100 (not refused);
//     a bad offset/limit/sort is 400 validation_error.
//   - Invite: any key but email and accessGroups is 400 validation_error;
//     unknown slugs 400 validation_error; a malformed address 400
//     invalid_user_email; then 409 duplicate_user_email (case-insensitive)
//     and 409 user_limit_reached.
//   - PATCH: accessGroups (slug strings or {slug} objects) replaces the
//     list; listed groups become type admin, except ones the user already
//     holds as ecommerce, which keep that type; ecommerce groups not listed
//     are kept (the API can neither assign nor remove them), unless
//     Options.PatchDropsEcommerce makes the list replace them too. data merges;
//     null deletes a key (resets a consent flag to false); data.email or
//     data.password is 400 validation_error. Other top-level keys are
//     ignored, since one spec revision sent a whole User.
//   - DELETE user and DELETE webhook answer 204 with no body.
//   - Webhooks: secretKey only in the create answer of a site-token
//     webhook; OAuth app tokens (seeded with clientSecret) get none and
//     their deliveries are signed with the client secret. A filter on a
//     trigger other than form_submission is 400
//     incompatible_webhook_filter. The 76th webhook of a trigger on a site
//     is 400 validation_error. Delivery timestamps come from Options.Now,
//     so a receiver verifying against wall-clock time needs the default.
//     VerifyUser and SetUserAccessGroups (an out-of-band purchase or
//     dashboard change) fire user_account_updated; AddUser and seeds fire
//     nothing. Removed mode fires no user_account_* events.
//   - Removed mode: users/accessgroups routes answer after auth and rate
//     limiting but before scope checks (the route is gone), default 404
//     resource_not_found "Requested resource not found: The route cannot
//     be found".
//   - Faults on SCIM paths answer with a SCIM error body; elsewhere with
//     the Webflow envelope (5xx: internal_error). A dropped connection is
//     logged with status 0.
//   - Native SCIM is not rate limited; its requests are logged with the
//     label "scim". A user it provisions is also a workspace member (linked
//     by address to an existing member, else a new member/content_editor:
//     Webflow's SCIM assigns no role), SCIM-managed; deactivating or
//     deleting it removes the member, reactivating adds it again with a new
//     member id.
//
// The Enterprise Workspace Members and Site Access APIs
// (webflow-enterprise-api.md §3-4): /v2/workspaces/{id}/members and
// /v2/sites/{id}/members, scopes workspace_members:read/write and
// site_access:read/write, for workspace tokens (SeedToken.Workspace) on an
// Enterprise workspace. Order of checks: auth -> rate limit -> route ->
// scope (403 missing_scopes) -> workspace token (403 forbidden) ->
// Enterprise plan (403 not_enterprise_plan_workspace) -> workspace or site
// id (400 validation_error malformed, 404 resource_not_found) -> body
// (400 bad_request malformed JSON, 400 validation_error for unknown keys,
// missing fields and values outside the enums) -> the call's own rules.
// Fixed choices, where the reference is silent or only "presumes":
//
//   - Lists: limit 1-100 (default 50); out of range is 400, not clamped.
//     Cursors are opaque and survive members coming and going. A workspace
//     page carries up to limit members and up to limit invites; the last
//     page leaves nextCursor out (as the reference's example does).
//   - Pairs (§2.2) and the custom-role id rule give invalid_site_role, a
//     role that cannot be written (owner, guest, client on PATCH)
//     invalid_workspace_role, both 400 on single calls. Owners, guests and
//     clients are 409 cannot_update_user_role on PATCH and bulk, as is a
//     write that needs a paid seat when none is free (Seats).
//   - The SCIM lock (409 workspace_member_managed_by_scim) covers role
//     writes (PATCH, bulk per item) and removal (single, bulk per item);
//     Site Access writes only under the scimLocksSiteAccess reading.
//   - Invite: a repeat matching a pending invite or an active membership is
//     200 with it (no email); the same address with other roles is 409
//     conflict; a client invite repeated for another site extends the
//     pending client invite. An invite stays pending until
//     POST /_sim/workspace/invites/{id}/accept; the member gets a new id, a
//     site-list invite's sites become grants, the invite leaves the list.
//     Declined and expired invites are kept and listed.
//   - Owners and admins have implicit site_manager access everywhere: a
//     grant to them is 409 member_already_has_access, a site PATCH or revoke
//     409 cannot_update_user_role. Removing the owner is 409
//     cannot_update_user_role.
//   - A site is restricted unless seeded or set open; on an open site every
//     member and reviewer has implicit access with their default site role
//     (guests and clients only by grant). PATCH there sets a per-site role
//     for the first time, as documented.
//   - Bulk: ids are de-duplicated per list; the member and invite id
//     spaces are apart, so the same id in both lists is two items; more than
//     100 ids is 400 and nothing is applied. Per-item internal_error comes
//     only from InjectBulkItemFault.
//   - Roles of a member are not changed by a role change on sites (explicit
//     grants stay when a member becomes admin, and show again if demoted).
//
// Every point the reference lists as unknown (§3, §4, §8) is a field of
// Readings, settable in Options.Readings and by PUT /_sim/readings, so tests
// can run under each reading. The zero value is the safe reading:
//
//   - successCodes: new invite and grant 201, matching invite 200, DELETEs
//     204 ("distinct", default) | 200 everywhere ("ok").
//   - errorCodes (literal 4xx codes of the single-item endpoints): the bulk
//     per-item codes ("specific", default) | resource_not_found, conflict,
//     validation_error ("generic"), the meaning only in the message.
//   - bulkRemoveOutcome (bulk remove field names): outcome "removed" for
//     members and invites, summary {removed, failed} ("removed", default) |
//     invites "cancelled", summary {removed, cancelled, failed}. The body is
//     {memberIds, inviteIds} under both.
//   - siteListImplicit (does List Site Members show owners, admins and open-
//     site members): yes ("listed", default, as the example lists an admin)
//     | only explicit grants ("omitted").
//   - openSiteGrant (grant on an open site): 409 member_already_has_access
//     ("already_has_access", default: the client must fall through to PATCH)
//     | creates an explicit grant ("creates").
//   - openSiteRevoke (revoke on an open site): drops the per-site role, the
//     member keeps implicit access ("resets", default) | 409 conflict
//     ("refused") | the member loses access to that site ("removes").
//   - nonMember (grant or PATCH naming a pending invitee or a non-member):
//     404 workspace_member_not_found ("not_found", default) | 400
//     validation_error ("validation"). Revoke is documented: 404.
//   - noAccessPatch (PATCH without access on a restricted site): 404
//     resource_not_found ("not_found", default) | 409 conflict ("conflict").
//   - scimLocksSiteAccess (are Site Access writes locked for SCIM-managed
//     members): no (false, default) | yes (true).
//   - siteTokens (may a site token call these endpoints): no, 403 forbidden
//     ("refused", default) | yes, Site Access on its own sites ("allowed").
//   - emailMatch (case sensitivity of ?email= and of by-email calls): the
//     stored case only ("exact", default: a client that finds members this
//     way finds them under the other reading too) | any case
//     ("insensitive").
//   - rolesQuery (roles=a,b or repeated keys): comma form only, repeated
//     keys 400 ("comma", default) | both ("repeated").
//   - bulkPairErrors (a bulk update with a pair outside §2.2): per item,
//     200 ("per_item", default, the documented per-item codes) | 400 for the
//     whole request ("request").
//   - bulkSuccessError (the example's error object on successful items):
//     present, with a message ("example", default: a client must read
//     outcome, not error) | absent ("schema").
//   - closedInvite (an invite of an address whose only invites are declined
//     or expired): 409 conflict until the closed invite is cancelled with
//     bulk remove ("conflict", default: a client that cancels and invites
//     again works under both) | a new pending invite ("new").
//
// Workspace plan, seat model (roles.site is absent on legacy seats) and
// seat limits are workspace settings (SeedWorkspace, PUT /_sim/workspace).
