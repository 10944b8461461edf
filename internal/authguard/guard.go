// Package authguard slows down clients that keep presenting wrong tokens.
//
// Each client address has a budget of failed authentications: Burst of
// them at once, refilling at one per Every (a GCRA, one timestamp per
// address). Within the budget a failure is a plain 401. Past it, a failing
// request is held for Penalty and then answered 429 with Retry-After, and
// at most MaxHeld such requests are held per address at a time; while an
// address has MaxHeld held, any further request from it is answered 429 at
// once, without its token being compared. A guesser therefore gets at most
// MaxHeld/Penalty guesses a second per address (4 by default), whatever its
// concurrency, while a valid token from the same address (an IdP behind
// the same ingress as a misconfigured one) is served as long as the
// guesser does not fill every held slot, and otherwise gets a 429 that
// Okta and Entra retry.
//
// A held slot is released only when its Penalty has passed, not when the
// client hangs up: closing the connection early must not buy a faster
// guess.
//
// The address is the TCP peer (IPv6 by its /64, which one host usually
// holds whole), never X-Forwarded-For, which any client can write. Behind
// an ingress the peer is the ingress, so the budget is then shared by every
// client behind it; Burst and the held-slot rule keep valid tokens flowing
// in that case.
//
// The table is per process, and bounded: at most MaxAddresses entries
// (about 100 bytes each); when it is full, drained entries are swept and,
// failing that, an arbitrary idle one is forgotten. An attacker with more
// addresses than that gains nothing it did not already have by rotating
// addresses. Per process rather than shared through Redis: a failed
// authentication must not cost a Redis round trip (that would let anyone
// without a token load the store every tenant depends on), and R replicas
// only multiply the budget by R.
package authguard

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultBurst        = 10
	DefaultEvery        = 6 * time.Second // 10 failures a minute, after the burst
	DefaultPenalty      = time.Second
	DefaultMaxHeld      = 4
	DefaultMaxAddresses = 10_000
)

// Options configures a Guard; zero values take the defaults.
type Options struct {
	Burst        int
	Every        time.Duration
	Penalty      time.Duration
	MaxHeld      int
	MaxAddresses int
	Now          func() time.Time
}

// Guard is safe for concurrent use. A nil *Guard checks tokens and
// throttles nothing.
type Guard struct {
	opts      Options
	mu        sync.Mutex
	addrs     map[string]*entry
	lastSweep time.Time
	// holding is the sum of the entries' held (changed with mu held):
	// while it is 0 no address can be over MaxHeld, and a request is
	// checked without taking mu or parsing its address first.
	holding atomic.Int64
}

type entry struct {
	tat  time.Time // GCRA theoretical arrival time of the next failure
	held int       // penalised requests being held now
}

// New builds a Guard.
func New(opts Options) *Guard {
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	if opts.Penalty <= 0 {
		opts.Penalty = DefaultPenalty
	}
	if opts.MaxHeld <= 0 {
		opts.MaxHeld = DefaultMaxHeld
	}
	if opts.MaxAddresses <= 0 {
		opts.MaxAddresses = DefaultMaxAddresses
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Guard{opts: opts, addrs: map[string]*entry{}}
}

// Result is the outcome of Check.
type Result struct {
	OK bool // the token is valid: serve the request
	// RetryAfter, when OK is false and RetryAfter > 0, means: answer 429
	// with this Retry-After; when it is 0, answer 401.
	RetryAfter time.Duration
}

// Limited reports whether the answer is a 429.
func (r Result) Limited() bool { return !r.OK && r.RetryAfter > 0 }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1.
func (r Result) RetryAfterSeconds() int {
	return max(1, int((r.RetryAfter+time.Second-1)/time.Second))
}

// Check runs valid (the constant-time token comparison) for r, within the
// budget of r's client address. It blocks for Penalty when the address is
// over its budget and the token is wrong.
func (g *Guard) Check(r *http.Request, valid func() bool) Result {
	if g == nil {
		return Result{OK: valid()}
	}
	key := ""
	if g.holding.Load() > 0 {
		key = ClientKey(r.RemoteAddr)
		g.mu.Lock()
		if e := g.addrs[key]; e != nil && e.held >= g.opts.MaxHeld {
			retry := g.retryAfter(e, g.opts.Now())
			g.mu.Unlock()
			return Result{RetryAfter: retry}
		}
		g.mu.Unlock()
	}
	if valid() {
		return Result{OK: true}
	}
	if key == "" {
		key = ClientKey(r.RemoteAddr)
	}

	g.mu.Lock()
	now := g.opts.Now()
	e := g.entry(key, now)
	tat := e.tat
	if tat.Before(now) {
		tat = now
	}
	window := time.Duration(g.opts.Burst) * g.opts.Every
	if next := tat.Add(g.opts.Every); next.Sub(now) <= window {
		e.tat = next
		g.mu.Unlock()
		return Result{}
	}
	// Over budget: the budget itself is not charged (it refills at its
	// own pace); the held slot is what slows the guessing.
	retry := g.retryAfter(e, now)
	e.held++
	g.holding.Add(1)
	g.mu.Unlock()

	t := time.NewTimer(g.opts.Penalty)
	<-t.C
	g.mu.Lock()
	e.held--
	g.holding.Add(-1)
	g.mu.Unlock()
	return Result{RetryAfter: retry}
}

// retryAfter is when e may fail again within its budget (at least 1s).
func (g *Guard) retryAfter(e *entry, now time.Time) time.Duration {
	window := time.Duration(g.opts.Burst) * g.opts.Every
	d := e.tat.Add(g.opts.Every).Sub(now) - window
	return max(d, time.Second)
}

// entry returns key's entry, creating it; the table never grows past
// MaxAddresses. Called with mu held.
func (g *Guard) entry(key string, now time.Time) *entry {
	if e := g.addrs[key]; e != nil {
		return e
	}
	if len(g.addrs) >= g.opts.MaxAddresses {
		// Sweep drained entries at most once per Every (a full table of
		// live entries must not cost a scan per request), then forget an
		// arbitrary idle one (map order is random).
		if now.Sub(g.lastSweep) >= g.opts.Every {
			g.lastSweep = now
			for k, e := range g.addrs {
				if e.held == 0 && !e.tat.After(now) {
					delete(g.addrs, k)
				}
			}
		}
		for k, e := range g.addrs {
			if len(g.addrs) < g.opts.MaxAddresses {
				break
			}
			if e.held == 0 {
				delete(g.addrs, k)
			}
		}
	}
	e := &entry{}
	g.addrs[key] = e
	return e
}

// Len is the number of addresses remembered.
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.addrs)
}

// ClientKey is the budget key of a request's RemoteAddr: the IP, IPv6 by
// its /64. An address that does not parse is its own key.
func ClientKey(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return remoteAddr
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
