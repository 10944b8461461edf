package state

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "wfb"

const maxSiteIDLen = 64

// ValidateSiteID rejects site ids that could break the key scheme. Only
// [A-Za-z0-9_-]{1,64} is accepted: no "{" or "}" (which would move the Redis
// Cluster hash tag), no ":" (the key separator), no glob characters, and a
// bounded length.
func ValidateSiteID(siteID string) error {
	if siteID == "" || len(siteID) > maxSiteIDLen {
		return fmt.Errorf("%w: site id must be 1-%d characters", ErrInvalid, maxSiteIDLen)
	}
	for i := 0; i < len(siteID); i++ {
		c := siteID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: site id %q may only contain A-Z a-z 0-9 _ -", ErrInvalid, siteID)
		}
	}
	return nil
}

// validatePrefix rejects prefixes that would add a hash tag of their own:
// Redis Cluster hashes only the first {...} of a key, so a "{" in the prefix
// would put every site into the same slot, or split one site's keys.
func validatePrefix(p string) error {
	if strings.ContainsAny(p, "{}") {
		return fmt.Errorf("%w: key prefix %q must not contain { or }", ErrInvalid, p)
	}
	if strings.ContainsAny(p, "*?[]\\ \r\n") {
		return fmt.Errorf("%w: key prefix %q must not contain glob characters or whitespace", ErrInvalid, p)
	}
	return nil
}

// siteTag is the hash tag shared by every key of a site.
func siteTag(siteID string) string { return "{s:" + siteID + "}" }

// siteKey builds "<prefix>:{s:<site>}:<parts...>". siteID must be valid.
func siteKey(prefix, siteID string, parts ...string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(siteID) + 8 + 16*len(parts))
	b.WriteString(prefix)
	b.WriteByte(':')
	b.WriteString(siteTag(siteID))
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// siteKeys are all the keys the user scripts touch, in the order the scripts
// expect them in KEYS.
type siteKeys struct {
	users, ixUserName, ixEmail, ixExternalID, ixWebflowID, ixDisplayName, order, seq string
	// names is user id → userName, the display of a group member: a
	// group's members are rendered from it with one HMGET, without
	// reading (and decoding) their records.
	names string
	// dn is the displayName index: member SCIM id, score dnScore. It
	// replaced ixDisplayName (members sha1hex + id, score 0), which now
	// only holds the entries of records written before, until they are
	// next written.
	dn string
}

func (s *RedisStore) keysFor(siteID string) siteKeys { return s.siteKeySet(siteID).keys }

// siteKeySet holds the keys of one site, built once: every request names
// a dozen of them, and building each (prefix, tag, parts) cost about 3%
// of the bridge's CPU.
type siteKeySet struct {
	keys  siteKeys
	scope memScope
}

// maxCachedSites bounds keyCache: a store serves the configured sites,
// but nothing stops a caller from naming others, which are then built on
// every call instead of being kept.
const maxCachedSites = 256

// siteKeySet returns the site's keys, from keyCache when it has them. The
// cache is copy-on-write: a lookup is one atomic load and a map read, and
// a site is added once.
func (s *RedisStore) siteKeySet(siteID string) *siteKeySet {
	cache := s.keyCache.Load()
	if cache != nil {
		if ks, ok := (*cache)[siteID]; ok {
			return ks
		}
	}
	ks := &siteKeySet{keys: s.buildKeys(siteID)}
	ks.scope = s.scopeAt(func(p ...string) string { return siteKey(s.prefix, siteID, p...) }, ks.keys.users)
	for cache == nil || len(*cache) < maxCachedSites {
		next := make(map[string]*siteKeySet, 1)
		if cache != nil {
			if have, ok := (*cache)[siteID]; ok {
				return have
			}
			for k, v := range *cache {
				next[k] = v
			}
		}
		next[siteID] = ks
		if s.keyCache.CompareAndSwap(cache, &next) {
			break
		}
		cache = s.keyCache.Load()
	}
	return ks
}

func (s *RedisStore) buildKeys(siteID string) siteKeys {
	return siteKeys{
		users:         siteKey(s.prefix, siteID, "users"),
		ixUserName:    siteKey(s.prefix, siteID, "ix", string(IndexUserName)),
		ixEmail:       siteKey(s.prefix, siteID, "ix", string(IndexEmail)),
		ixExternalID:  siteKey(s.prefix, siteID, "ix", string(IndexExternalID)),
		ixWebflowID:   siteKey(s.prefix, siteID, "ix", string(IndexWebflowID)),
		ixDisplayName: siteKey(s.prefix, siteID, "ix", string(IndexDisplayName)),
		order:         siteKey(s.prefix, siteID, "order"),
		seq:           siteKey(s.prefix, siteID, "seq"),
		names:         siteKey(s.prefix, siteID, "names"),
		dn:            siteKey(s.prefix, siteID, "ix", "dn"),
	}
}

// list returns the keys in script order: KEYS[1]=users, KEYS[2..5]=unique
// indexes in uniqueIndexes() order, KEYS[6]=the previous displayName index,
// KEYS[7]=order, KEYS[8]=seq, KEYS[9]=names, KEYS[10]=displayName.
func (k siteKeys) list() []string {
	return []string{k.users, k.ixUserName, k.ixEmail, k.ixExternalID, k.ixWebflowID, k.ixDisplayName, k.order, k.seq, k.names, k.dn}
}

func (k siteKeys) index(idx Index) string {
	switch idx {
	case IndexUserName:
		return k.ixUserName
	case IndexEmail:
		return k.ixEmail
	case IndexExternalID:
		return k.ixExternalID
	case IndexWebflowID:
		return k.ixWebflowID
	case IndexDisplayName:
		return k.ixDisplayName
	}
	return ""
}

// normalize turns an attribute value into its index form: lower case for the
// case-insensitive indexes, unchanged for the exact ones. Lowering happens in
// Go only (Lua's string.lower is ASCII-only), and the result is stored in the
// record's "_ix" so the scripts never need to recompute it.
func normalize(idx Index, value string) string {
	switch idx {
	case IndexUserName, IndexEmail, IndexDisplayName:
		return strings.ToLower(value)
	}
	return value
}

// dnScore is the score of a user in the displayName index: the first 52
// bits of sha1(lower(displayName)), an integer a ZSET score (a double)
// holds exactly, as a decimal string. The member is the SCIM id alone, so
// an entry costs a sorted-set element of an id (the previous index's
// members were a 40-character hash plus the id) and the record need not
// keep the hash to remove it: ZREM by id. Two names share a score with a
// chance of 2^-52 per pair; a lookup then also returns the other name's
// users, and every caller re-checks the candidates' displayName (the SCIM
// filter does).
func dnScore(displayName string) string {
	sum := sha1.Sum([]byte(normalize(IndexDisplayName, displayName)))
	return strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])>>12, 10)
}

// dnHash is the fixed-length (40 hex chars) prefix of a member of the
// previous displayName index (ixDisplayName), still read for the records
// written before dnScore.
func dnHash(displayName string) string {
	return sha1Hex(normalize(IndexDisplayName, displayName))
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// dnRange returns the ZRANGEBYLEX bounds that select exactly the members
// starting with h (a 40-char lower-case hex string): [h, h') where h' is h
// with its last character incremented ('9'+1 is ':', 'f'+1 is 'g', both sort
// after every hex digit that could follow).
func dnRange(h string) (min, max string) {
	last := h[len(h)-1] + 1
	return "[" + h, "(" + h[:len(h)-1] + string(rune(last))
}

// validText rejects strings that JSON cannot carry byte for byte: json.Marshal
// would silently replace invalid UTF-8, and the stored record (and its "_ix")
// would then no longer match the index entries written from the raw value.
func validText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

// WorkspaceKeyspace is where the users of workspace.mode: members live:
// the user records, their indexes and their create reservations, kept by
// the same code as a site's, under "ws-<workspace id>" in place of a site
// id (a valid site id, in its own hash tag). A Webflow site id is 24 hex
// digits, so no configured site can share it; config refuses one that
// would.
func WorkspaceKeyspace(workspaceID string) string { return "ws-" + workspaceID }
