package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a RedisStore.
type Options struct {
	// Prefix starts every key (default DefaultPrefix). Give each deployment
	// (or test run) sharing one Redis its own prefix. It must not contain
	// "{", "}", glob characters or whitespace.
	Prefix string
	// Now is the clock for Created/Modified (default time.Now); tests
	// inject a fixed clock.
	Now func() time.Time
	// Durability: WAIT for replicas after the writes a failover must not
	// lose (durable.go). Off by default.
	Durability Durability
}

// Validate reports whether the options can be used, so that a prefix coming
// from configuration can be rejected at start-up instead of in NewRedisStore.
func (o Options) Validate() error {
	if o.Prefix == "" {
		return nil
	}
	return validatePrefix(o.Prefix)
}

// RedisStore is the Redis implementation of Store. It works with a single
// Redis, Redis Cluster (every key of a site shares one hash tag) and the
// embedded miniredis of NewEmbedded.
type RedisStore struct {
	rdb           redis.UniversalClient
	prefix        string
	now           func() time.Time
	scripts       scripts
	memScripts    memScripts
	createScripts createScripts
	// memberChunk is the most users one membership script flips
	// (defaultMemberChunk; benchmarks compare others).
	memberChunk int
	durability  Durability
	// unreplicated counts durable writes no replica confirmed in time.
	unreplicated atomic.Int64
	replicas     replicaState
	// keyCache holds each site's keys, built once (keys.go siteKeySet).
	keyCache atomic.Pointer[map[string]*siteKeySet]
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore wraps a client. It panics if opts.Validate fails, because a
// bad prefix is a programming or configuration error that must stop start-up
// rather than corrupt the key scheme; call opts.Validate first to report it.
func NewRedisStore(rdb redis.UniversalClient, opts Options) *RedisStore {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	s := &RedisStore{rdb: rdb, prefix: opts.Prefix, now: opts.Now, scripts: newScripts(), memScripts: newMemScripts(), createScripts: newCreateScripts(),
		memberChunk: defaultMemberChunk, durability: opts.Durability}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Client returns the underlying client, so other packages can keep their own
// shared state (e.g. group records, webhook dedup) in the same Redis.
func (s *RedisStore) Client() redis.UniversalClient { return s.rdb }

// Key builds "<prefix>:{s:<siteID>}:<parts joined by ':'>", a key in the
// site's hash-tag slot, for other packages' per-site state. Scripts and
// transactions may combine any keys built for the same site, also with the
// store's own keys. The parts "users", "ix", "order" and "seq" are used by
// this package and must not be the first part.
//
// Key cannot fail; a site id that ValidateSiteID rejects is replaced by
// "!<sha1hex(siteID)>", which cannot collide with a valid id and cannot break
// the hash tag. Callers should still validate site ids at the edge.
func (s *RedisStore) Key(siteID string, parts ...string) string {
	if ValidateSiteID(siteID) != nil {
		siteID = "!" + sha1Hex(siteID)
	}
	return siteKey(s.prefix, siteID, parts...)
}

// storedIx is the normalised index values of a stored record. They are kept
// in the record JSON (only those that differ from the stored originals, see
// encodeRecord) so that the Lua scripts can remove exactly the entries a
// record owns without lower-casing anything themselves.
type storedIx struct {
	UserName   string `json:"userName,omitempty"`
	Email      string `json:"email,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	WebflowID  string `json:"webflowId,omitempty"`
	// DisplayName is the dnHash of a record written before the dnScore
	// index; it is never written any more (the entry is removed by id).
	DisplayName string `json:"displayName,omitempty"`
}

func indexValues(rec *UserRecord) storedIx {
	return storedIx{
		UserName:   normalize(IndexUserName, rec.UserName),
		Email:      normalize(IndexEmail, rec.Email),
		ExternalID: rec.ExternalID,
		WebflowID:  rec.WebflowUserID,
	}
}

// originalValue returns the value of an index as the record holds it (not
// normalised), for ConflictError and tests.
func originalValue(rec *UserRecord, idx Index) string {
	switch idx {
	case IndexUserName:
		return rec.UserName
	case IndexEmail:
		return rec.Email
	case IndexExternalID:
		return rec.ExternalID
	case IndexWebflowID:
		return rec.WebflowUserID
	case IndexDisplayName:
		return rec.DisplayName
	}
	return ""
}

func validateRecord(rec *UserRecord) error {
	if rec == nil {
		return fmt.Errorf("%w: nil record", ErrInvalid)
	}
	if err := ValidateSiteID(rec.SiteID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"id", rec.ID}, {"userName", rec.UserName}, {"email", rec.Email},
		{"externalId", rec.ExternalID}, {"webflowUserId", rec.WebflowUserID}, {"displayName", rec.DisplayName},
	} {
		if err := validText(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

func validateIDs(siteID, id string) error {
	if err := ValidateSiteID(siteID); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	return nil
}

// writeArgs returns the ARGV shared by the create and replace scripts.
func writeArgs(rec *UserRecord) ([]any, error) {
	ix := indexValues(rec)
	doc, err := encodeRecord(rec, ix)
	if err != nil {
		return nil, err
	}
	dn := ""
	if rec.DisplayName != "" {
		dn = dnScore(rec.DisplayName)
	}
	return []any{rec.ID, doc, ix.UserName, ix.Email, ix.ExternalID, ix.WebflowID, dn, rec.UserName}, nil
}

// scriptResult interprets the status reply of a write script.
func scriptResult(res any, rec *UserRecord) error {
	arr, ok := res.([]any)
	if !ok || len(arr) == 0 {
		return fmt.Errorf("state: unexpected script reply %T %v", res, res)
	}
	status, _ := arr[0].(string)
	switch status {
	case "OK":
		return nil
	case "EXISTS":
		return fmt.Errorf("%w: user %q in site %q", ErrExists, rec.ID, rec.SiteID)
	case "NOTFOUND":
		return fmt.Errorf("%w: user %q in site %q", ErrNotFound, rec.ID, rec.SiteID)
	case "MISMATCH":
		stored := ""
		if len(arr) > 1 {
			stored, _ = arr[1].(string)
		}
		return fmt.Errorf("%w: user %q in site %q is at version %s, caller had %d",
			ErrVersionMismatch, rec.ID, rec.SiteID, stored, rec.Version)
	case "CONFLICT":
		if len(arr) == 3 {
			n, _ := strconv.Atoi(fmt.Sprint(arr[1]))
			holder, _ := arr[2].(string)
			if n >= 1 && n <= 4 {
				idx := uniqueIndexes()[n-1]
				return &ConflictError{Index: idx, Value: originalValue(rec, idx), ID: holder}
			}
		}
	}
	return fmt.Errorf("state: unexpected script reply %v", arr)
}

// newID returns a random RFC 4122 version 4 UUID.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("state: generate id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// CreateUser implements Store.
func (s *RedisStore) CreateUser(ctx context.Context, rec *UserRecord) error {
	return s.createUser(ctx, rec, nil)
}

// CreateReservedUser is CreateUser for a create reserved with
// ReserveCreate: storing the record releases the reservation in the same
// step, so its Release is then a no-op.
func (s *RedisStore) CreateReservedUser(ctx context.Context, rec *UserRecord, res *CreateReservation) error {
	return s.createUser(ctx, rec, res)
}

func (s *RedisStore) createUser(ctx context.Context, rec *UserRecord, res *CreateReservation) error {
	if err := validateRecord(rec); err != nil {
		return err
	}
	next := *rec
	if next.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		next.ID = id
	}
	now := s.now().UTC()
	next.Version = 1
	if next.Created.IsZero() {
		next.Created = now
	}
	if next.Modified.IsZero() {
		next.Modified = now
	}
	args, err := writeArgs(&next)
	if err != nil {
		return err
	}
	keys := s.keysFor(next.SiteID).list()
	if res != nil && len(res.keys) > 0 {
		keys = append(keys, res.keys...)
		args = append(args, res.token)
	}
	var reply any
	err = s.durable(ctx, keys[0], func(c redis.Cmdable) error {
		var err error
		reply, err = s.scripts.create.Run(ctx, c, keys, args...).Result()
		return err
	})
	if err != nil {
		return fmt.Errorf("state: create user %q in site %q: %w", next.ID, next.SiteID, err)
	}
	if err := scriptResult(reply, &next); err != nil {
		return err
	}
	if res != nil {
		res.release, res.abandon = nil, nil
	}
	*rec = next
	return nil
}

// ReplaceUser implements Store.
func (s *RedisStore) ReplaceUser(ctx context.Context, rec *UserRecord) error {
	if err := validateRecord(rec); err != nil {
		return err
	}
	if err := validateIDs(rec.SiteID, rec.ID); err != nil {
		return err
	}
	next := *rec
	next.Version = rec.Version + 1
	next.Modified = s.now().UTC()
	args, err := writeArgs(&next)
	if err != nil {
		return err
	}
	args = append(args, rec.Version)
	res, err := s.scripts.replace.Run(ctx, s.rdb, s.keysFor(next.SiteID).list(), args...).Result()
	if err != nil {
		return fmt.Errorf("state: replace user %q in site %q: %w", next.ID, next.SiteID, err)
	}
	if err := scriptResult(res, rec); err != nil { // rec: report the caller's version
		return err
	}
	*rec = next
	return nil
}

// DeleteUser implements Store.
//
// If go-redis re-sends the script after a lost reply, the second run finds
// nothing and the caller sees ErrNotFound although the delete succeeded;
// SCIM clients treat a 404 on DELETE as done, so this is left as is.
func (s *RedisStore) DeleteUser(ctx context.Context, siteID, id string) error {
	if err := validateIDs(siteID, id); err != nil {
		return err
	}
	res, err := s.scripts.delete.Run(ctx, s.rdb, s.keysFor(siteID).list(), id).Result()
	if err != nil {
		return fmt.Errorf("state: delete user %q in site %q: %w", id, siteID, err)
	}
	return scriptResult(res, &UserRecord{ID: id, SiteID: siteID})
}

// GetUser implements Store.
func (s *RedisStore) GetUser(ctx context.Context, siteID, id string) (*UserRecord, error) {
	if err := validateIDs(siteID, id); err != nil {
		return nil, err
	}
	doc, err := s.rdb.HGet(ctx, s.keysFor(siteID).users, id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: user %q in site %q", ErrNotFound, id, siteID)
	}
	if err != nil {
		return nil, fmt.Errorf("state: get user %q in site %q: %w", id, siteID, err)
	}
	return decodeRecord(siteID, id, doc)
}

func checkIndex(idx Index) error {
	if !idx.Valid() {
		return fmt.Errorf("%w: unknown index %q", ErrInvalid, idx)
	}
	return nil
}

// checkUniqueLookup validates the arguments of a lookup by a unique index.
func checkUniqueLookup(op, siteID string, idx Index) error {
	if err := ValidateSiteID(siteID); err != nil {
		return err
	}
	if err := checkIndex(idx); err != nil {
		return err
	}
	if !idx.Unique() {
		return fmt.Errorf("%w: %s needs a unique index, not %q; use LookupUserIDs", ErrInvalid, op, idx)
	}
	return nil
}

// FindUser implements Store.
func (s *RedisStore) FindUser(ctx context.Context, siteID string, idx Index, value string) (*UserRecord, error) {
	if err := checkUniqueLookup("FindUser", siteID, idx); err != nil {
		return nil, err
	}
	if value == "" {
		return nil, fmt.Errorf("%w: %s %q in site %q", ErrNotFound, idx, value, siteID)
	}
	k := s.keysFor(siteID)
	// Run, not RunRO: EVALSHA_RO needs Redis 7, and go-redis' cluster
	// client cannot route it against servers whose COMMAND table lacks it.
	res, err := s.find(ctx, k, idx, value)
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: %s %q in site %q", ErrNotFound, idx, value, siteID)
	}
	if err != nil {
		return nil, fmt.Errorf("state: find user by %s in site %q: %w", idx, siteID, err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("state: find user by %s in site %q: unexpected reply %q", idx, siteID, res)
	}
	return decodeRecord(siteID, res[0], res[1])
}

// find runs findScript: {SCIM id, record JSON} of the holder of a unique
// index value, or redis.Nil.
func (s *RedisStore) find(ctx context.Context, k siteKeys, idx Index, value string) ([]string, error) {
	keys, implicit := []string{k.index(idx), k.users}, "0"
	switch idx {
	case IndexWebflowID:
		implicit = "1"
	case IndexEmail:
		keys, implicit = append(keys, k.ixUserName), "2"
	}
	return s.scripts.find.Run(ctx, s.rdb, keys, normalize(idx, value), implicit).StringSlice()
}

// LookupUserIDs implements Store.
func (s *RedisStore) LookupUserIDs(ctx context.Context, siteID string, idx Index, value string) ([]string, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	if err := checkIndex(idx); err != nil {
		return nil, err
	}
	if value == "" {
		return []string{}, nil
	}
	k := s.keysFor(siteID)
	if idx == IndexWebflowID || idx == IndexEmail {
		// Most Webflow user ids and emails have no index entry (see index
		// in scripts.go): the script also asks the record that may hold
		// the value without one.
		res, err := s.find(ctx, k, idx, value)
		if errors.Is(err, redis.Nil) {
			return []string{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("state: lookup %s in site %q: %w", idx, siteID, err)
		}
		if len(res) != 2 {
			return nil, fmt.Errorf("state: lookup %s in site %q: unexpected reply %q", idx, siteID, res)
		}
		return []string{res[0]}, nil
	}
	if idx.Unique() {
		id, err := s.rdb.HGet(ctx, k.index(idx), normalize(idx, value)).Result()
		if errors.Is(err, redis.Nil) {
			return []string{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("state: lookup %s in site %q: %w", idx, siteID, err)
		}
		return []string{id}, nil
	}
	// One round trip: the index, and the previous index for the records
	// written before it (empty once they have all been written again).
	score := dnScore(value)
	h := dnHash(value)
	min, max := dnRange(h)
	var cur, prev *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cur = p.ZRangeByScore(ctx, k.dn, &redis.ZRangeBy{Min: score, Max: score})
		prev = p.ZRangeByLex(ctx, k.ixDisplayName, &redis.ZRangeBy{Min: min, Max: max})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: lookup %s in site %q: %w", idx, siteID, err)
	}
	ids := cur.Val()
	if ids == nil {
		ids = []string{}
	}
	if old := prev.Val(); len(old) > 0 {
		for _, m := range old {
			if strings.HasPrefix(m, h) {
				ids = append(ids, m[len(h):])
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	return ids, nil
}

// ListUserIDs implements Store. The page and the total are read in one
// MULTI/EXEC so they describe the same moment.
func (s *RedisStore) ListUserIDs(ctx context.Context, siteID string, offset, count int) ([]string, int, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, 0, err
	}
	if offset < 0 || count < 0 {
		return nil, 0, fmt.Errorf("%w: offset %d and count %d must not be negative", ErrInvalid, offset, count)
	}
	k := s.keysFor(siteID)
	var card *redis.IntCmd
	var page *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, k.order)
		if count > 0 {
			page = p.ZRange(ctx, k.order, int64(offset), int64(offset)+int64(count)-1)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("state: list users of site %q: %w", siteID, err)
	}
	ids := []string{}
	if page != nil {
		ids = page.Val()
	}
	return ids, int(card.Val()), nil
}

// GetUsers implements Store. A single HMGET keeps it to one round trip.
func (s *RedisStore) GetUsers(ctx context.Context, siteID string, ids []string) ([]*UserRecord, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	out := make([]*UserRecord, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.keysFor(siteID).users, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("state: get %d users of site %q: %w", len(ids), siteID, err)
	}
	for i, v := range vals {
		doc, ok := v.(string)
		if !ok {
			continue // missing (nil)
		}
		rec, err := decodeRecord(siteID, ids[i], doc)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// CountUsers implements Store.
func (s *RedisStore) CountUsers(ctx context.Context, siteID string) (int, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return 0, err
	}
	n, err := s.rdb.HLen(ctx, s.keysFor(siteID).users).Result()
	if err != nil {
		return 0, fmt.Errorf("state: count users of site %q: %w", siteID, err)
	}
	return int(n), nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("state: ping redis: %w", err)
	}
	return nil
}
