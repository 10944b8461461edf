package webflowsim

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Header keys in canonical form, assigned directly to skip canonicalising
// on the hot path.
const (
	hdrLimit      = "X-Ratelimit-Limit"
	hdrRemaining  = "X-Ratelimit-Remaining"
	hdrRetryAfter = "Retry-After"
)

// UnlimitedHeaderValue is what X-RateLimit-Limit and -Remaining carry when
// rate limiting is off (limit 0). The headers are still sent, with a number
// large enough that a client pacing itself on Remaining never waits.
const UnlimitedHeaderValue = 1000000

var unlimitedHdr = []string{strconv.Itoa(UnlimitedHeaderValue)}

// limiter holds the default budget; each token has its own window, since
// Webflow counts limits per API token, not per site.
type limiter struct {
	def atomic.Int64
}

func newLimiter(def int) *limiter {
	l := &limiter{}
	l.def.Store(int64(def))
	return l
}

// tokenLimit is one token's fixed one-minute window. The window opens at
// the first request after the previous one expired.
type tokenLimit struct {
	limit atomic.Int64 // requests per minute; 0 = unlimited
	mu    sync.Mutex
	start time.Time
	count int
}

// allow consumes one request from tl's budget and sets the rate-limit
// headers. It returns false (and the Retry-After seconds) when over.
func (tl *tokenLimit) allow(now time.Time, window time.Duration, h http.Header) (bool, int) {
	limit := int(tl.limit.Load())
	if limit <= 0 {
		h[hdrLimit] = unlimitedHdr
		h[hdrRemaining] = unlimitedHdr
		return true, 0
	}
	tl.mu.Lock()
	if tl.start.IsZero() || now.Sub(tl.start) >= window || now.Before(tl.start) {
		tl.start = now
		tl.count = 0
	}
	ok := tl.count < limit
	if ok {
		tl.count++
	}
	remaining := limit - tl.count
	wait := tl.start.Add(window).Sub(now)
	tl.mu.Unlock()
	h[hdrLimit] = []string{strconv.Itoa(limit)}
	h[hdrRemaining] = []string{strconv.Itoa(remaining)}
	if ok {
		return true, 0
	}
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return false, secs
}

// peekHeaders sets headers for a request that has no token (401) or never
// reached the limiter (faults): the default budget, nothing consumed.
func (l *limiter) peekHeaders(h http.Header) {
	d := int(l.def.Load())
	if d <= 0 {
		h[hdrLimit] = unlimitedHdr
		h[hdrRemaining] = unlimitedHdr
		return
	}
	v := []string{strconv.Itoa(d)}
	h[hdrLimit] = v
	h[hdrRemaining] = v
}

// writeTooMany writes Webflow's 429.
func writeTooMany(w http.ResponseWriter, retryAfter string) {
	w.Header()[hdrRetryAfter] = []string{retryAfter}
	writeError(w, http.StatusTooManyRequests, webflowdata.CodeTooManyRequests, msgTooMany)
}

// SetRateLimit sets the budget of every token (and the default for tokens
// seeded later), overriding seed values. 0 = unlimited.
func (s *Simulator) SetRateLimit(perMinute int) {
	s.limiter.def.Store(int64(perMinute))
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range s.tokens {
		t.rl.limit.Store(int64(perMinute))
	}
}

// SetTokenRateLimit sets one token's budget. tok is the bearer value or
// the token's label; unknown tokens are ignored.
func (s *Simulator) SetTokenRateLimit(tok string, perMinute int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for v, t := range s.tokens {
		if v == tok || t.label == tok {
			t.rl.limit.Store(int64(perMinute))
		}
	}
}
