package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Exactly-once invites. Every Webflow invite sends an email, so a create is
// reserved in Redis before the invite, under the lower-cased email and
// userName, by every replica alike. A reservation is in one of two states:
//
//   - held ("<ms>|<token>"): its holder is at work. Another create for the
//     same person gets ErrCreateInProgress and waits for it.
//   - unresolved ("<ms>|!|<token>"): its holder gave up without knowing
//     whether Webflow invited the user (a 5xx, a reset connection, a
//     timeout), or knowing it did but failing to store the record. Nothing
//     is in flight any more, so the next create, on any replica, takes it
//     over at once and looks the email up in Webflow before inviting.
//
// A held reservation whose holder died (between the invite and the record)
// grows stale after staleAfter and is taken over the same way.

// ErrCreateInProgress means another create for the same user holds a fresh
// reservation and is still at work.
var ErrCreateInProgress = errors.New("state: a create for this user is already in progress")

// reserveScript: KEYS = users HASH, the nc index HASHes to check, the
// userName index HASH, then the reservation keys. ARGV = now ms, ttl ms,
// stale ms, token, nc, then the nc normalised values, then the position
// (1-nc) of the email check, 0 for none: an email may be held without an
// index entry (implicitEmailHolder). Returns {1, takeover} (0: nothing held the names, 1: a
// stale reservation, 2: an unresolved one), {0, 0} (in progress), or
// {2, i, holderID, holderJSON} when the i-th value is already taken: then
// nothing is reserved. Checking and reserving in one step means a create
// that finished a moment ago is seen either by its record or by its
// reservation, never by neither. Run twice (go-redis re-sends a script
// after a lost reply), the second run finds the first run's reservation,
// which ends with the same token, and reserves again; it cannot know
// whether the first run took another one over, so it reports a takeover
// (the caller looks the email up before inviting: one read, never a
// second invite).
const reserveScript = luaStored + `
local now, ttl, stale, tok, nc = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local emailAt = tonumber(ARGV[6 + nc])
for i = 1, nc do
  local v = ARGV[5 + i]
  if v ~= '' then
    local holder = redis.call('HGET', KEYS[1 + i], v)
    if not holder and i == emailAt then holder = implicitEmailHolder(KEYS[1], KEYS[2 + nc], v) end
    if holder then return {2, i, holder, redis.call('HGET', KEYS[1], holder) or ''} end
  end
end
local takeover = 0
for j = 3 + nc, #KEYS do
  local v = redis.call('GET', KEYS[j])
  if v then
    if string.sub(v, -#tok - 1) == '|' .. tok then
      if takeover == 0 then takeover = 1 end
    elseif string.find(v, '|!|', 1, true) then
      takeover = 2
    else
      local ts = tonumber(string.match(v, '^(%d+)|')) or 0
      if now - ts < stale then return {0, 0} end
      if takeover == 0 then takeover = 1 end
    end
  end
end
for j = 3 + nc, #KEYS do redis.call('SET', KEYS[j], ARGV[1] .. '|' .. tok, 'PX', ttl) end
return {1, takeover}
`

// releaseScript deletes the reservation keys still holding our token.
const releaseScript = `
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, -string.len(ARGV[1])) == ARGV[1] then n = n + redis.call('DEL', k) end
end
return n
`

// abandonScript marks the reservation keys still holding our token (suffix
// ARGV[2]) unresolved, keeping their time to live. ARGV = now ms, token
// suffix. The new value still ends with the token, so a re-sent run writes
// the same value again: it is idempotent.
const abandonScript = `
local n = 0
local tok = ARGV[2]
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and string.sub(v, -string.len(tok)) == tok then
    local ttl = redis.call('PTTL', k)
    if ttl > 0 then
      redis.call('SET', k, ARGV[1] .. '|!' .. tok, 'PX', ttl)
      n = n + 1
    end
  end
end
return n
`

// CreateReservation is a held reservation.
type CreateReservation struct {
	// Takeover is true when an earlier attempt's reservation was taken
	// over (Unresolved, or stale because its holder died): that attempt
	// may have invited the user already, so look before inviting.
	Takeover bool
	// Unresolved is true when the earlier attempt gave the reservation up
	// with Abandon, rather than dying with it.
	Unresolved bool
	release    func()
	abandon    func()
	keys       []string // the reservation keys
	token      string   // the suffix of their values that says they are ours
}

// Release gives the reservation up (after the record is stored, or when
// the create failed before anything reached Webflow).
func (r *CreateReservation) Release() {
	if r != nil && r.release != nil {
		r.release()
		r.release, r.abandon = nil, nil
	}
}

// Abandon gives the reservation up when the invite may have reached
// Webflow without the record being stored: it stays in place, marked
// unresolved, so that the next create for these names, on any replica,
// takes it over at once (Takeover) and looks the email up before
// inviting. After the record is stored, or after Release, it does nothing.
func (r *CreateReservation) Abandon() {
	if r != nil && r.abandon != nil {
		r.abandon()
		r.release, r.abandon = nil, nil
	}
}

// CreateCheck is a unique index value a create needs free.
type CreateCheck struct {
	Index Index
	Value string // as the IdP sent it; normalised here
}

// ReserveCreate reserves the creation of a user known by these names
// (email, userName), for at most ttl. In the same atomic step it checks
// that no record holds any of the checks' values; if one does, nothing is
// reserved and the error is a *ConflictError (errors.Is ErrConflict) whose
// Holder is that record. An unresolved reservation (see Abandon) is taken
// over at once; a held one older than staleAfter is presumed to belong to
// a holder that died, and is taken over too. It returns
// ErrCreateInProgress while another holder's reservation is held and fresh.
func (s *RedisStore) ReserveCreate(ctx context.Context, siteID string, names []string, checks []CreateCheck, ttl, staleAfter time.Duration) (*CreateReservation, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	k := s.keysFor(siteID)
	keys := []string{k.users}
	args := []any{s.now().UnixMilli(), ttl.Milliseconds(), staleAfter.Milliseconds(), "", len(checks)}
	emailAt := 0
	for i, c := range checks {
		if !c.Index.Unique() {
			return nil, fmt.Errorf("%w: a create can only check unique indexes, not %q", ErrInvalid, c.Index)
		}
		if c.Index == IndexEmail {
			emailAt = i + 1
		}
		keys = append(keys, k.index(c.Index))
		args = append(args, normalize(c.Index, c.Value))
	}
	keys = append(keys, k.ixUserName)
	args = append(args, emailAt)
	seen := map[string]bool{}
	reserved := 0
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		keys = append(keys, siteKey(s.prefix, siteID, "creating", sha1Hex(n)))
		reserved++
	}
	if reserved == 0 {
		return nil, fmt.Errorf("%w: nothing to reserve", ErrInvalid)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	args[3] = tok
	var res []any
	err := s.durable(ctx, keys[0], func(c redis.Cmdable) error {
		var err error
		res, err = s.createScripts.reserve.Run(ctx, c, keys, args...).Slice()
		return err
	})
	if err != nil {
		// The script may have run (the master died before its answer or
		// WAIT's): release what it may have reserved, or every next
		// attempt at this user would wait until it is stale.
		rkeys := keys[2+len(checks):]
		s.untilStored(ctx, func(c context.Context) error {
			return s.durable(c, rkeys[0], func(rc redis.Cmdable) error { return s.createScripts.release.Run(c, rc, rkeys, "|"+tok).Err() })
		})
		return nil, fmt.Errorf("reserving a create: %w", err)
	}
	status := int64(-1)
	if len(res) > 0 {
		status, _ = res[0].(int64)
	}
	switch {
	case status == 2 && len(res) == 4:
		i, _ := res[1].(int64)
		holder, _ := res[2].(string)
		if i < 1 || int(i) > len(checks) {
			return nil, fmt.Errorf("state: unexpected reserve reply %v", res)
		}
		c := checks[i-1]
		ce := &ConflictError{Index: c.Index, Value: c.Value, ID: holder}
		if doc, _ := res[3].(string); doc != "" {
			if rec, err := decodeRecord(siteID, holder, doc); err == nil {
				ce.Holder = rec
			}
		}
		return nil, ce
	case status == 1 && len(res) == 2:
	case status == 0:
		return nil, ErrCreateInProgress
	default:
		return nil, fmt.Errorf("state: unexpected reserve reply %v", res)
	}
	rkeys := keys[2+len(checks):]
	// Both run after the request may have ended (its context cancelled):
	// leaving the reservation held would block the next attempt until it
	// is stale.
	// A failed release or abandon (the master died, a failover is under
	// way) is retried in the background until Redis answers again: left
	// held, the reservation would make every next attempt at this user
	// wait until it is stale (pendingCreateTimeout, 90 s by default). Both
	// scripts act only while the keys hold this token, so a late run
	// changes nothing another attempt did since.
	// Durable too: a release or abandon that only the old master of a
	// failover saw would leave the reservation held on the new one.
	release := func() {
		s.untilStored(ctx, func(c context.Context) error {
			return s.durable(c, rkeys[0], func(rc redis.Cmdable) error { return s.createScripts.release.Run(c, rc, rkeys, "|"+tok).Err() })
		})
	}
	abandon := func() {
		at := s.now().UnixMilli()
		s.untilStored(ctx, func(c context.Context) error {
			return s.durable(c, rkeys[0], func(rc redis.Cmdable) error { return s.createScripts.abandon.Run(c, rc, rkeys, at, "|"+tok).Err() })
		})
	}
	takeover, _ := res[1].(int64)
	return &CreateReservation{Takeover: takeover >= 1, Unresolved: takeover == 2, release: release, abandon: abandon, keys: rkeys, token: "|" + tok}, nil
}

// Bounds of untilStored: the first try, then retries for as long as a
// failover takes (seconds) with room to spare.
const (
	reservationFirstTry  = 2 * time.Second
	reservationRetryFor  = 30 * time.Second
	reservationRetryEach = 250 * time.Millisecond
	// reservationConfirmAfter is when a release or abandon that no replica
	// confirmed runs again: after a Sentinel or Cluster failover has
	// settled (promotion 0.2-3.7 s in docs/operations.md's measurements).
	reservationConfirmAfter = 5 * time.Second
)

// untilStored runs write once within reservationFirstTry and, if that
// fails, again in the background every reservationRetryEach until it
// succeeds or reservationRetryFor has passed. It runs after the request
// may have ended, so it keeps ctx's values but not its cancellation.
func (s *RedisStore) untilStored(ctx context.Context, write func(ctx context.Context) error) {
	ctx = context.WithoutCancel(ctx)
	unconfirmed := s.unreplicated.Load()
	c, cancel := context.WithTimeout(ctx, reservationFirstTry)
	err := write(c)
	cancel()
	if err == nil {
		if s.unreplicated.Load() != unconfirmed {
			// No replica confirmed a write meanwhile (this one, or another
			// at the same moment): a master that has just lost its replica
			// to a failover still takes writes until it is demoted, and
			// then drops them, so a release or abandon it took may be gone
			// while the reservation it cleared lives on, replicated before
			// the promotion, on the new master. Run it once more when the
			// failover is over: both scripts act only on keys that still
			// hold this token, so a second run changes nothing else.
			go func() {
				time.Sleep(reservationConfirmAfter)
				c, cancel := context.WithTimeout(ctx, reservationFirstTry)
				defer cancel()
				_ = write(c)
			}()
		}
		return
	}
	go func() {
		deadline := time.Now().Add(reservationRetryFor)
		for time.Now().Before(deadline) {
			time.Sleep(reservationRetryEach)
			c, cancel := context.WithTimeout(ctx, reservationFirstTry)
			err := write(c)
			cancel()
			if err == nil {
				return
			}
		}
	}()
}

type createScripts struct{ reserve, release, abandon *redis.Script }

func newCreateScripts() createScripts {
	return createScripts{redis.NewScript(reserveScript), redis.NewScript(releaseScript), redis.NewScript(abandonScript)}
}
