// Package passthrough is the workspace-collaborator SCIM surface: a
// reverse proxy from /workspace/scim/v2/* to Webflow's native SCIM endpoint
// (webflow.scimBaseURL), which provisions workspace collaborators on
// Enterprise workspaces with SSO. It exists so one IdP app configuration
// can reach both surfaces (site Memberships through the bridge's own SCIM
// server, collaborators through this proxy) and so the bridge sees
// collaborator lifecycle events it can cascade to site Memberships.
//
// What it does to a request, in order:
//
//  1. Only GET, POST, PUT, PATCH and DELETE (405 otherwise).
//  2. The IdP's bearer must be one of workspace.scimTokens, compared in
//     constant time (401 SCIM Error otherwise). Site tokens are not valid
//     here.
//  3. The path after Prefix must be one of /Users, /Users/{id}, /Groups,
//     /Groups/{id}, /ServiceProviderConfig, /Schemas[/{id}],
//     /ResourceTypes[/{id}] (collection names case-insensitive, sent in
//     canonical case). Ids are [A-Za-z0-9._~-]{1,128} after one decoding
//     (schema ids may also hold ':'); ".", "..", empty segments, "%2f",
//     "%5c", backslashes and anything still percent-encoded after one
//     decoding are refused with 400/404, without contacting upstream. The
//     upstream URL is built from the configured base plus this route only,
//     so no request can reach another host or a path outside the base.
//  4. The body is read, bounded by MaxBodyBytes (413).
//  5. Limiter.Wait on the native SCIM token's own key (its fingerprint);
//     a budget timeout answers 429 with Retry-After, other failures 503.
//  6. Headers sent upstream are an allowlist (Accept*, Content-Type,
//     If-*); Authorization is replaced by the workspace Webflow SCIM token,
//     User-Agent by the bridge's. Cookies, X-Forwarded-*, Forwarded,
//     X-Real-IP and hop-by-hop headers never leave.
//
// And to the answer: its headers are an allowlist too (responseHeaders:
// Content-Type and framing, Location, ETag, Retry-After, X-RateLimit-*,
// request ids); trailers are dropped. Location and meta.location (single
// resources and ListResponse Resources) are rewritten from the upstream
// base to PublicURL, and a Location outside the upstream base (another
// host or path, a climb with dot segments) is dropped; 429 passes
// unchanged with its Retry-After (and pauses the token via
// Limiter.Observe); a 5xx that is not already a SCIM Error, or any non-JSON
// error, becomes a SCIM Error with the same status; no answer within
// Timeout is a 504 SCIM Error, a failed or dropped connection a 502. JSON
// answers are buffered (bounded by MaxResponseBytes) for the rewrite;
// everything else streams.
//
// Groups: Webflow's native SCIM does not support groups ("Webflow doesn't
// currently support assigning roles or groups via your IdP"), so /Groups
// is passed through as-is and the IdP sees whatever upstream answers (404
// from the simulator). Push groups to the site surface instead, or turn
// off group push for the workspace app.
//
// Linking: answers to create, get, list, replace and patch of Users record
// native id ↔ email in Links (best-effort). After upstream confirms a
// DELETE, or a PUT/PATCH answer shows active:false for a user that was
// active or unknown, OnDeprovision is called; cascading to site
// Memberships is the caller's business.
package passthrough
