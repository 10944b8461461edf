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
//     label "scim".
