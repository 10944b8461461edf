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
// userName, by every replica alike. A second create for the same person
// while the first is in flight is refused (the SCIM client gets 409 and
// finds the user with its userName lookup). A reservation whose holder died
// after Webflow accepted the invite but before the record was stored grows
// stale; the next create takes it over and looks the email up in Webflow
// before inviting, so the user is linked, not invited again.

// ErrCreateInProgress means another create for the same user holds a fresh
// reservation.
var ErrCreateInProgress = errors.New("state: a create for this user is already in progress")

// reserveScript: KEYS = users HASH, the nc index HASHes to check, then the
// reservation keys. ARGV = now ms, ttl ms, stale ms, token, nc, then the nc
// normalised values. Returns {1, takeover}, {0, 0} (in progress), or
// {2, i, holderID, holderJSON} when the i-th value is already taken: then
// nothing is reserved. Checking and reserving in one step means a create
// that finished a moment ago is seen either by its record or by its
// reservation, never by neither.
const reserveScript = `
local now, ttl, stale, tok, nc = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
for i = 1, nc do
  local v = ARGV[5 + i]
  if v ~= '' then
    local holder = redis.call('HGET', KEYS[1 + i], v)
    if holder then return {2, i, holder, redis.call('HGET', KEYS[1], holder) or ''} end
  end
end
local takeover = 0
for j = 2 + nc, #KEYS do
  local v = redis.call('GET', KEYS[j])
  if v then
    local ts = tonumber(string.match(v, '^(%d+)|')) or 0
    if now - ts < stale then return {0, 0} end
    takeover = 1
  end
end
for j = 2 + nc, #KEYS do redis.call('SET', KEYS[j], ARGV[1] .. '|' .. tok, 'PX', ttl) end
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

// CreateReservation is a held reservation.
type CreateReservation struct {
	// Takeover is true when a stale reservation was taken over: a previous
	// attempt may have invited the user already, so look before inviting.
	Takeover bool
	release  func()
	keys     []string // the reservation keys
	token    string   // the suffix of their values that says they are ours
}

// Release gives the reservation up (after the record is stored, or when
// the create failed before anything reached Webflow).
func (r *CreateReservation) Release() {
	if r != nil && r.release != nil {
		r.release()
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
// Holder is that record. A reservation older than staleAfter is presumed
// abandoned and taken over. It returns ErrCreateInProgress while another
// holder's reservation is fresh.
func (s *RedisStore) ReserveCreate(ctx context.Context, siteID string, names []string, checks []CreateCheck, ttl, staleAfter time.Duration) (*CreateReservation, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	k := s.keysFor(siteID)
	keys := []string{k.users}
	args := []any{s.now().UnixMilli(), ttl.Milliseconds(), staleAfter.Milliseconds(), "", len(checks)}
	for _, c := range checks {
		if !c.Index.Unique() {
			return nil, fmt.Errorf("%w: a create can only check unique indexes, not %q", ErrInvalid, c.Index)
		}
		keys = append(keys, k.index(c.Index))
		args = append(args, normalize(c.Index, c.Value))
	}
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
	res, err := s.createScripts.reserve.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
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
	rkeys := keys[1+len(checks):]
	release := func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.createScripts.release.Run(c, s.rdb, rkeys, "|"+tok).Err()
	}
	takeover, _ := res[1].(int64)
	return &CreateReservation{Takeover: takeover == 1, release: release, keys: rkeys, token: "|" + tok}, nil
}

type createScripts struct{ reserve, release *redis.Script }

func newCreateScripts() createScripts {
	return createScripts{redis.NewScript(reserveScript), redis.NewScript(releaseScript)}
}
