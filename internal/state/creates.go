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

// reserveScript: KEYS = reservation keys. ARGV = now ms, ttl ms, stale ms, token.
// Returns {1, takeover} or {0, 0}.
const reserveScript = `
local now, ttl, stale, tok = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local takeover = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then
    local ts = tonumber(string.match(v, '^(%d+)|')) or 0
    if now - ts < stale then return {0, 0} end
    takeover = 1
  end
end
for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1] .. '|' .. tok, 'PX', ttl) end
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
}

// Release gives the reservation up (after the record is stored, or when
// the create failed before anything reached Webflow).
func (r *CreateReservation) Release() {
	if r != nil && r.release != nil {
		r.release()
	}
}

// ReserveCreate reserves the creation of a user known by these names
// (email, userName), for at most ttl. A reservation older than staleAfter
// is presumed abandoned and taken over. It returns ErrCreateInProgress
// while another holder's reservation is fresh.
func (s *RedisStore) ReserveCreate(ctx context.Context, siteID string, names []string, ttl, staleAfter time.Duration) (*CreateReservation, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var keys []string
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		keys = append(keys, siteKey(s.prefix, siteID, "creating", sha1Hex(n)))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: nothing to reserve", ErrInvalid)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	res, err := s.createScripts.reserve.Run(ctx, s.rdb, keys, s.now().UnixMilli(), ttl.Milliseconds(), staleAfter.Milliseconds(), tok).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("reserving a create: %w", err)
	}
	if len(res) != 2 || res[0] != 1 {
		return nil, ErrCreateInProgress
	}
	release := func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.createScripts.release.Run(c, s.rdb, keys, "|"+tok).Err()
	}
	return &CreateReservation{Takeover: res[1] == 1, release: release}, nil
}

type createScripts struct{ reserve, release *redis.Script }

func newCreateScripts() createScripts {
	return createScripts{redis.NewScript(reserveScript), redis.NewScript(releaseScript)}
}
