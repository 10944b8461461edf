package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// UserView is what a SCIM answer about some users needs, read in one round
// trip: their records, the linked groups the IdP put them in, and, for
// writers, the site's managed slugs. Every SCIM request pays for each
// round trip in latency, so the hot paths (a userName lookup, a GET by id,
// a PATCH) read through a view instead of four separate commands.
type UserView struct {
	// Users are the records found, in the order asked; missing ids are
	// skipped.
	Users []*UserRecord
	// Slugs maps a user id to the slugs of the linked groups the IdP put
	// the user in (UserGroups).
	Slugs map[string][]string
	// Groups maps a slug held in Slugs to its linked group.
	Groups map[string]*GroupRecord
	// Managed is every managed slug (linked, or retiring after an unlink),
	// as ManagedSlugs; only filled when asked for.
	Managed map[string]bool

	pendingSeq string // LockView: the user's pending sequence, "" if none
	locked     bool   // the read took the user's lock
}

// viewScript reads a UserView. KEYS: users, umem, grp, grp:slug, retiring,
// then the index HASH in "ix" mode (and, for the email index, the userName
// index: an email may be held without an entry, implicitEmailHolder) or,
// when locking, the lock key, the pending ZSET and the pending sequence
// HASH. ARGV[1] =
// "ids", "ix", or "refs" (ids, without the records), ARGV[2] = "1" to read
// the managed slugs, ARGV[3] = a lock token ("" for none), ARGV[4] = the
// lock's ttl in ms, ARGV[5] = when to take the lock (LockMode: "" always,
// "a1"/"a0" only if the stored record's active flag is not true/false),
// ARGV[6..] = the ids, or the normalised index value.
// Only the groups the users hold are read, so the cost does not grow with
// the number of linked groups. With a token, the user's lock (SET NX) is
// taken, when ARGV[5] asks for it, before anything but the record is read,
// and the view read only if it was free ({"BUSY"} otherwise): a writer
// locks and reads what it must write in one round trip, with the user's
// pending sequence (the 7th reply, false when nothing is pending) and the
// managed slugs; the 8th reply is 1 when the lock was taken.
const viewScript = luaStored + `
local ids = {}
if ARGV[1] == 'ix' then
  local id = redis.call('HGET', KEYS[6], ARGV[6])
  if not id and KEYS[7] then id = implicitEmailHolder(KEYS[1], KEYS[7], ARGV[6]) end
  if id then ids[1] = id end
else
  for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local recs = {}
if #ids > 0 and ARGV[1] ~= 'refs' then recs = redis.call('HMGET', KEYS[1], unpack(ids)) end
local pending, locked = false, 0
if ARGV[3] ~= '' then
  local want = true
  if ARGV[5] ~= '' then
    -- Only a writer that changes the active flag needs the lock: none if
    -- the record is gone or already holds the flag asked for.
    want = false
    if recs[1] then
      local ok, doc = pcall(cjson.decode, recs[1])
      want = not ok or storedActive(doc) ~= (ARGV[5] == 'a1')
    end
  end
  if want then
    if not redis.call('SET', KEYS[6], ARGV[3], 'NX', 'PX', ARGV[4]) then return {'BUSY'} end
    locked = 1
    if redis.call('ZSCORE', KEYS[7], ARGV[6]) then pending = redis.call('HGET', KEYS[8], ARGV[6]) or '0' end
  end
end
local mems, groups = {}, {}
if #ids > 0 then
  mems = redis.call('HMGET', KEYS[2], unpack(ids))
  local seen, gids = {}, {}
  for i = 1, #ids do
    if mems[i] then
      for _, slug in ipairs(cjson.decode(mems[i])) do
        if not seen[slug] then
          seen[slug] = true
          local gid = redis.call('HGET', KEYS[4], slug)
          if gid then gids[#gids + 1] = gid end
        end
      end
    end
  end
  if #gids > 0 then groups = redis.call('HMGET', KEYS[3], unpack(gids)) end
end
local managed, retiring = {}, {}
if ARGV[2] == '1' or locked == 1 then
  managed = redis.call('HKEYS', KEYS[4])
  retiring = redis.call('HGETALL', KEYS[5])
end
return {ids, recs, mems, groups, managed, retiring, pending, locked}
`

// ViewUsers reads the users with these ids, their groups and, with
// managed, the managed slugs, in one round trip.
func (s *RedisStore) ViewUsers(ctx context.Context, siteID string, ids []string, managed bool) (*UserView, error) {
	return s.viewIDs(ctx, siteID, "ids", ids, managed)
}

// GroupsOf reads the groups of the users with these ids (Slugs and Groups;
// no records) and, with managed, the managed slugs, in one round trip.
func (s *RedisStore) GroupsOf(ctx context.Context, siteID string, ids []string, managed bool) (*UserView, error) {
	return s.viewIDs(ctx, siteID, "refs", ids, managed)
}

// viewIDs runs viewScript in an id mode ("ids" or "refs").
func (s *RedisStore) viewIDs(ctx context.Context, siteID, mode string, ids []string, managed bool) (*UserView, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	args := make([]any, 0, len(ids)+5)
	args = append(args, constArg(mode), constArg(boolArg(managed)), "", 0, "")
	for _, id := range ids {
		args = append(args, id)
	}
	return s.view(ctx, siteID, nil, args)
}

// ViewUserBy resolves a unique index value and reads the user's view in one
// round trip. No match is an empty view, not an error.
func (s *RedisStore) ViewUserBy(ctx context.Context, siteID string, idx Index, value string, managed bool) (*UserView, error) {
	if err := checkUniqueLookup("ViewUserBy", siteID, idx); err != nil {
		return nil, err
	}
	if value == "" {
		return s.ViewUsers(ctx, siteID, nil, managed)
	}
	if idx == IndexWebflowID {
		// Most Webflow user ids are held by the record with that SCIM id,
		// without an index entry: resolve first (rare path, 2 round trips).
		ids, err := s.LookupUserIDs(ctx, siteID, idx, value)
		if err != nil {
			return nil, err
		}
		return s.ViewUsers(ctx, siteID, ids, managed)
	}
	k := s.keysFor(siteID)
	keys := []string{k.index(idx)}
	if idx == IndexEmail {
		keys = append(keys, k.ixUserName)
	}
	return s.view(ctx, siteID, keys, []any{"ix", constArg(boolArg(managed)), "", 0, "", normalize(idx, value)})
}

// LockView takes the user's write lock (as LockUser) and, if it was free,
// reads the user's view with the managed slugs, in one round trip. With
// records false the record itself is not read. ok is false, with no view,
// when another writer holds the lock.
func (s *RedisStore) LockView(ctx context.Context, siteID, userID string, ttl time.Duration, records bool) (v *UserView, lock *UserLock, ok bool, err error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, nil, false, err
	}
	mode := "refs"
	if records {
		mode = "ids"
	}
	mk := s.memKeys(siteID)
	lock = &UserLock{s: s, siteID: siteID, userID: userID, key: s.lockKey(siteID, userID), tok: lockToken()}
	v, err = s.view(ctx, siteID, []string{lock.key, mk.pending, mk.pseq}, []any{constArg(mode), "1", lock.tok, ttl.Milliseconds(), "", userID})
	if errors.Is(err, errLockBusy) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	lock.seq = v.pendingSeq
	return v, lock, true, nil
}

// LockMode says when WriteView takes the user's write lock.
type LockMode string

const (
	// LockAlways takes the lock whatever the record holds.
	LockAlways LockMode = ""
	// LockNever reads without the lock.
	LockNever LockMode = "-"
)

// LockToSetActive is the mode of a writer that will set the user's active
// flag to active: it takes the lock only when the stored record is there
// and holds the other value (deactivate and reactivate write the user's
// full access-group list to Webflow; setting the flag a record already
// holds writes nothing there).
func LockToSetActive(active bool) LockMode {
	if active {
		return "a1"
	}
	return "a0"
}

// WriteView reads the user's view with its record, for a writer, and in
// the same round trip takes the user's write lock (as LockView) when mode
// asks for it of the stored record; a locked view holds the managed slugs
// too. lock is nil when the lock was not taken. busy reports that mode
// asked for the lock and another writer holds it: nothing is read then.
func (s *RedisStore) WriteView(ctx context.Context, siteID, userID string, ttl time.Duration, mode LockMode) (v *UserView, lock *UserLock, busy bool, err error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, nil, false, err
	}
	if mode == LockNever {
		v, err = s.ViewUsers(ctx, siteID, []string{userID}, false)
		return v, nil, false, err
	}
	mk := s.memKeys(siteID)
	lock = &UserLock{s: s, siteID: siteID, userID: userID, key: s.lockKey(siteID, userID), tok: lockToken()}
	v, err = s.view(ctx, siteID, []string{lock.key, mk.pending, mk.pseq}, []any{"ids", "0", lock.tok, ttl.Milliseconds(), string(mode), userID})
	if errors.Is(err, errLockBusy) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !v.locked {
		return v, nil, false, nil
	}
	lock.seq = v.pendingSeq
	return v, lock, false, nil
}

// UserLock is a per-user write lock held through LockView.
type UserLock struct {
	s                        *RedisStore
	siteID, userID, key, tok string
	seq                      string // the pending sequence when locked; "" when nothing was pending
}

// Unlock releases the lock (never someone else's).
func (l *UserLock) Unlock() { l.s.unlocker(l.key, l.tok)() }

// UnlockSatisfied releases the lock and, in the same step, completes the
// user's queued membership write if nothing changed since the lock was
// taken: the holder has just written the full list the IdP wants, so the
// worker need not look at the user again.
func (l *UserLock) UnlockSatisfied() {
	if l.seq == "" {
		l.Unlock()
		return
	}
	mk := l.s.memKeys(l.siteID)
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.s.memScripts.unlockDone.Run(c, l.s.rdb, []string{l.key, mk.pending, mk.pseq, mk.pinfo, mk.failed}, l.tok, l.userID, l.seq).Err()
}

// saveUnlockScript stores a record, as replaceScript, and releases the
// user's lock in the same step, completing the user's queued membership
// write as unlockDoneScript when ARGV[11] is a sequence. KEYS: the write
// scripts' (siteKeys.list), then lock, pending, pseq, pinfo, failed. ARGV: as
// replaceScript's, then the lock token, the pending sequence or "".
// Nothing is written unless the lock is still held with the token
// ({"LOST"}), except that the record already stored byte for byte is OK
// (go-redis re-sending this script after a lost reply). Any reply but OK
// leaves the lock held.
const saveUnlockScript = luaHelpers + `
local L = #KEYS - 5 -- the write scripts' keys come first
local id = ARGV[1]
local cur = redis.call('HGET', KEYS[1], id)
if redis.call('GET', KEYS[L + 1]) ~= ARGV[10] then
  if cur == ARGV[2] then return {'OK'} end
  return {'LOST'}
end
if not cur then return {'NOTFOUND'} end
local e = replace(id, cur)
if e then return e end
redis.call('DEL', KEYS[L + 1])
if ARGV[11] ~= '' and tonumber(redis.call('HGET', KEYS[L + 3], id) or '0') == tonumber(ARGV[11]) then
  redis.call('ZREM', KEYS[L + 2], id)
  redis.call('HDEL', KEYS[L + 3], id)
  redis.call('HDEL', KEYS[L + 4], id)
  redis.call('HDEL', KEYS[L + 5], id)
end
return {'OK'}
`

// ErrLockLost fails a write whose user's lock expired before it: another
// writer may hold the user now, so nothing was written.
var ErrLockLost = errors.New("state: the user's write lock expired before the write")

// SaveUnlock stores rec, as ReplaceUser, and releases the lock in the same
// round trip; with satisfied it also completes the user's queued
// membership write, as UnlockSatisfied. The holder read the record under
// the lock and has brought Webflow in line with rec, so rec wins over a
// version stored meanwhile by a writer that takes no lock (a GET's
// refresh, a webhook): the write is retried over that version, the lock
// still held. If the lock is no longer held (it expired), nothing is
// written and the error is ErrLockLost. On any other failure the lock is
// released all the same. On success rec holds the stored version.
func (l *UserLock) SaveUnlock(ctx context.Context, rec *UserRecord, satisfied bool) error {
	s := l.s
	err := validateRecord(rec)
	if err == nil {
		err = validateIDs(rec.SiteID, rec.ID)
	}
	if err == nil && (rec.SiteID != l.siteID || rec.ID != l.userID) {
		err = fmt.Errorf("%w: the lock of user %q cannot save user %q", ErrInvalid, l.userID, rec.ID)
	}
	if err != nil {
		l.Unlock()
		return err
	}
	mk := s.memKeys(l.siteID)
	keys := append(s.keysFor(l.siteID).list(), l.key, mk.pending, mk.pseq, mk.pinfo, mk.failed)
	seq := ""
	if satisfied {
		seq = l.seq
	}
	for range 3 {
		next := *rec
		next.Version = rec.Version + 1
		next.Modified = s.now().UTC()
		args, err := writeArgs(&next)
		if err != nil {
			l.Unlock()
			return err
		}
		args = append(args, rec.Version, l.tok, seq)
		var reply any
		err = s.durable(ctx, l.key, func(c redis.Cmdable) error {
			var err error
			reply, err = s.memScripts.saveUnlock.Run(ctx, c, keys, args...).Result()
			return err
		})
		if err != nil {
			l.Unlock()
			return fmt.Errorf("state: save user %q in site %q: %w", rec.ID, rec.SiteID, err)
		}
		arr, _ := reply.([]any)
		switch status, _ := at(arr, 0).(string); status {
		case "LOST":
			return fmt.Errorf("%w: user %q in site %q", ErrLockLost, rec.ID, rec.SiteID)
		case "MISMATCH":
			stored, _ := at(arr, 1).(string)
			v, perr := strconv.ParseInt(stored, 10, 64)
			if perr != nil {
				l.Unlock()
				return fmt.Errorf("state: unexpected version %q of user %q", stored, rec.ID)
			}
			rec.Version = v
			continue
		}
		if err := scriptResult(reply, rec); err != nil {
			l.Unlock()
			return err
		}
		*rec = next
		return nil
	}
	l.Unlock()
	return fmt.Errorf("%w: user %q in site %q kept changing", ErrVersionMismatch, rec.ID, rec.SiteID)
}

var errLockBusy = errors.New("state: lock busy")

// constArg is a view script's mode or flag argument as an interface
// value that points at a constant: converting a string variable to any
// allocates, a constant does not. Other values are boxed as they are.
func constArg(s string) any {
	switch s {
	case "ids":
		return "ids"
	case "refs":
		return "refs"
	case "0":
		return "0"
	case "1":
		return "1"
	}
	return s
}

func (s *RedisStore) view(ctx context.Context, siteID string, extraKeys []string, args []any) (*UserView, error) {
	ks := s.siteKeySet(siteID)
	mk := ks.scope.memKeys
	keys := make([]string, 5, 5+len(extraKeys))
	keys[0], keys[1], keys[2], keys[3], keys[4] = ks.keys.users, mk.umem, mk.grp, mk.grpSlug, mk.retiring
	keys = append(keys, extraKeys...)
	res, err := s.memScripts.view.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("state: read users of site %q: %w", siteID, err)
	}
	if len(res) == 1 && res[0] == "BUSY" {
		return nil, errLockBusy
	}
	if len(res) != 8 {
		return nil, fmt.Errorf("state: unexpected view reply of %d parts", len(res))
	}
	part := func(i int) []any { p, _ := res[i].([]any); return p }
	ids, recs, mems := part(0), part(1), part(2)
	v := &UserView{Slugs: map[string][]string{}, Groups: map[string]*GroupRecord{}}
	for i, raw := range ids {
		id, _ := raw.(string)
		if doc, ok := at(recs, i).(string); ok {
			rec, err := decodeRecord(siteID, id, doc)
			if err != nil {
				return nil, err
			}
			v.Users = append(v.Users, rec)
		}
		if doc, ok := at(mems, i).(string); ok {
			var slugs []string
			if DecodeStored([]byte(doc), &slugs) == nil && len(slugs) > 0 {
				v.Slugs[id] = slugs
			}
		}
	}
	for _, raw := range part(3) {
		if doc, ok := raw.(string); ok {
			var g GroupRecord
			if DecodeStored([]byte(doc), &g) == nil {
				v.Groups[g.Slug] = &g
			}
		}
	}
	v.pendingSeq, _ = res[6].(string)
	locked, _ := res[7].(int64)
	v.locked = locked == 1
	if v.locked || args[1] == "1" {
		v.Managed = map[string]bool{}
		for _, raw := range part(4) {
			if sl, ok := raw.(string); ok {
				v.Managed[sl] = true
			}
		}
		s.addRetiring(ctx, siteID, v.Managed, part(5))
	}
	return v, nil
}

// addRetiring adds the retiring slugs still within their retirement to
// managed; expired ones are removed from Redis (rarely: once each).
func (s *RedisStore) addRetiring(ctx context.Context, siteID string, managed map[string]bool, flat []any) {
	now := s.now().UnixMilli()
	var expired []string
	for i := 0; i+1 < len(flat); i += 2 {
		sl, _ := flat[i].(string)
		until, _ := flat[i+1].(string)
		if ms, _ := strconv.ParseInt(until, 10, 64); ms > now {
			managed[sl] = true
		} else {
			expired = append(expired, sl)
		}
	}
	if len(expired) > 0 {
		if err := s.rdb.HDel(ctx, s.memKeys(siteID).retiring, expired...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return // best effort: the next reader retries
		}
	}
}

func at(xs []any, i int) any {
	if i < len(xs) {
		return xs[i]
	}
	return nil
}
