// Package state is the bridge's shared, durable state: the SCIM user records
// of every site, the SCIM-id ↔ Webflow-id mapping and the lookup indexes the
// SCIM handlers filter on.
//
// It lives in Redis because several bridge replicas serve the same sites and
// must agree on which SCIM id belongs to which Webflow user; a SCIM id, once
// handed to an IdP, must survive restarts and never change.
//
// # Consistency
//
// A record and all of its index entries change together in one Lua script, so
// readers never see an index entry without its record (or the reverse), even
// with many replicas writing concurrently. The scripts read the previous index
// values from the stored document itself (not from what the caller believes
// the record looked like), which is what keeps them correct under concurrent
// writers. They are also safe to run twice: go-redis re-sends a command whose
// reply was lost (io.EOF), and a repeated create or replace recognises its own
// write and reports success instead of ErrExists or ErrVersionMismatch.
//
// # Key layout
//
// Every key of a site carries the same hash tag {s:<siteID>}, so all of a
// site's keys live in one Redis Cluster slot and a script may touch any of
// them. With the default prefix "wfb":
//
//	wfb:{s:<site>}:users           HASH  SCIM id → record JSON, compact (encoding.go), with "_ix" for the normalised index values the scripts cannot take from the record
//	wfb:{s:<site>}:ix:userName     HASH  lower(userName) → SCIM id   (unique)
//	wfb:{s:<site>}:ix:email        HASH  lower(email) → SCIM id      (unique; none when lower(email) = lower(userName): the record the userName entry names holds it)
//	wfb:{s:<site>}:ix:externalId   HASH  externalId → SCIM id        (unique, exact)
//	wfb:{s:<site>}:ix:webflowId    HASH  webflowUserId → SCIM id     (unique, exact; none when webflowUserId = SCIM id: the record holds it)
//	wfb:{s:<site>}:ix:dn           ZSET  score = first 52 bits of sha1(lower(displayName)), member = SCIM id (not unique; dnScore)
//	wfb:{s:<site>}:ix:displayName  ZSET  the previous displayName index: score 0, member sha1hex(lower(displayName)) + SCIM id, for the records written before ix:dn until they are written again
//	wfb:{s:<site>}:order           ZSET  score = per-site sequence, member = SCIM id (creation order, paging)
//	wfb:{s:<site>}:seq             STRING per-site creation counter
//
// Records live in one hash per site rather than one key per record so that
// every key a script touches is known before the script runs and can be
// declared in KEYS (a Cluster requirement), which in turn lets FindUser resolve
// index → record in one round trip. The displayName index is a single ZSET
// for the same reason: a per-value SET key of the previous displayName would
// only be known after reading the record. Its entries are found by score and
// removed by id, so the record does not keep the hash.
//
// Site ids are validated (see ValidateSiteID) so that they cannot inject "{",
// "}" or ":" into the key scheme; SCIM ids and attribute values are only ever
// used as hash fields, set members or script arguments, so they may contain
// anything.
package state
