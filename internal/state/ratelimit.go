package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Distributed rate limiter for Webflow API tokens.
//
// Webflow allows 60 or 120 requests per minute per API token, and several
// bridge replicas share one token. Limiter keeps one GCRA (generic cell rate
// algorithm) state per token in Redis, so every replica draws from the same
// budget, and evaluates it in one Lua script per call.
//
// # Key layout
//
// Every key of one token carries the hash tag {t:<key>} (key is the token's
// fingerprint, never the token), so a script may touch all of them on a
// Redis Cluster. With the default prefix "wfb":
//
//	wfb:{t:<key>}:gcra   STRING theoretical arrival time (TAT), µs since the epoch
//	wfb:{t:<key>}:pause  STRING paused-until, µs since the epoch (set after a 429)
//	wfb:{t:<key>}:limit  STRING limit reported by Webflow (X-RateLimit-Limit) when lower than configured; 10 min TTL
//
// Keys expire on their own: gcra and pause once they no longer carry
// information (plus one Period of slack), limit after 10 minutes.
//
// # GCRA parameters and the window bound
//
// Let L be the effective limit per Period P: min(configured, reported by
// Webflow). The script derives
//
//	b = max(1, floor(L/BurstDivisor)), BurstDivisor 50 by default    burst: extra admissions beyond the first that a rested bucket allows
//	m = 1, or 1 + ceil(15 ms / T0) when T0 = P/(L−b−1) < 100 ms   margin slots (jitter spans whole intervals at fast rates)
//	r = L - b - m              steady rate per period
//	T = ceil(P / r)            emission interval, µs (rounded up, so the rate never exceeds r)
//	τ = b·T                    tolerance for interactive callers
//
// (for tiny limits the margin is dropped first, then the burst, so that
// r ≥ 1; L=60 gives b=3, r=56, T≈1.071 s; L=120 gives b=6, r=113, T≈0.531 s).
//
// A request at time t is admitted iff max(TAT, t) − t ≤ τ_p, after which
// TAT = max(TAT, t) + T. Claim: any N admissions at times t1 ≤ … ≤ tN satisfy
// (N−1)·T ≤ tN − t1 + τ. Proof: after the first admission TAT ≥ t1 + T and
// every admission adds T, so before the N-th admission TAT ≥ t1 + (N−1)·T;
// admitting it needs TAT − tN ≤ τ_p ≤ τ. Hence, for all admissions inside
// a window of length P (tN − t1 < P):
//
//	N < P/T + b + 1 ≤ r + b + 1 = L − m + 1   ⇒   N ≤ L − m = L − 1
//
// so no sliding window of length P ever holds more than L − m admissions.
// The margin slots absorb jitter between the moment Redis admits a request
// and the moment Webflow counts it: with jitter J < m·T, Webflow sees at
// most L requests in any window of length P (T ≈ 1 s at 60 a minute, so one
// slot covers any real jitter; compressed test budgets get 15 ms' worth).
// Steady-state utilisation is r/L (93 % at L=60, 94 % at L=120), plus the
// burst after a quiet period.
//
// # Priorities
//
// Each priority gets its own tolerance τ_p = max(0, b − R_p)·T, i.e. it needs
// R_p free slots beyond its own: R = 0 for interactive, R_bg = max(1,
// ceil(0.2·(b+1))) for background and R_rec = max(R_bg+1, ceil(0.4·(b+1)))
// for reconcile. Because τ_p ≥ 0, a lone background stream still gets the full
// rate r; under contention an interactive waiter's slot comes R·T earlier
// than a background waiter's, so interactive work is served first. (With
// b=1, i.e. L < 40, background and reconcile share tolerance 0.)
//
// # Time
//
// The script reads Redis TIME, so the replicas' clocks do not matter (all keys
// of a token live on one Redis node). LimiterOptions.Now replaces it with a
// time passed in ARGV, for deterministic tests.
//
// # Retries
//
// go-redis may re-send a script whose reply was lost (io.EOF). A re-sent
// admission consumes at worst one extra slot that no request uses, which only
// makes the limiter more conservative. The feedback script (Observe) is
// idempotent: it stores the later pause, and SET/DEL of the reported limit.

// ErrBudgetExhausted is matched (errors.Is) by every *WaitTimeoutError.
var ErrBudgetExhausted = errors.New("state: webflow rate budget exhausted")

// WaitTimeoutError is returned by Wait when the token's budget cannot be had
// within the caller's bound (MaxWait for interactive callers, the ctx deadline
// for everyone). RetryAfter is how long this caller would have had to wait
// for a slot when it gave up; it does not account for other waiters.
type WaitTimeoutError struct {
	Key        string
	RetryAfter time.Duration
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("state: webflow rate budget of token %s exhausted; retry after %s", e.Key, e.RetryAfter)
}

// Is makes errors.Is(err, ErrBudgetExhausted) true.
func (e *WaitTimeoutError) Is(target error) bool { return target == ErrBudgetExhausted }

// LimiterOptions configures NewLimiter. Zero values take the defaults.
type LimiterOptions struct {
	Prefix           string         // default "wfb"
	DefaultPerMinute int            // budget per Period of a token; default 60 (named per minute, applies per Period)
	PerKey           map[string]int // budget per token fingerprint, overrides DefaultPerMinute
	MaxWait          time.Duration  // longest an interactive caller waits for budget; default 20s
	Period           time.Duration  // window the budget applies to; default 1 minute
	// BurstDivisor sets the burst b = max(1, L/BurstDivisor). Every slot of
	// burst is a slot taken from the steady rate (r = L − b − 1), so a
	// larger divisor uses more of the budget: 50 (the default) gives 96.7%
	// at 60/min and 97.5% at 120/min; 20 gives 93.3% and 94.2%.
	BurstDivisor int
	// Now, if set, replaces Redis TIME as the limiter's clock (tests only:
	// in production the replicas' clocks would then have to agree).
	Now func() time.Time
	// Sleep, if set, replaces the timer Wait sleeps on (tests).
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger // default slog.Default()
	// MaxPause caps the pause a 429's Retry-After imposes on every replica
	// (webflow.maxRetryAfter); default webflowdata.DefaultMaxRetryAfter.
	// Every caller's RateInfo reaches Observe, the workspace passthrough's
	// too, so the cap holds whoever read the header.
	MaxPause time.Duration
}

// LimiterStats describes one token's budget, for health checks and metrics.
type LimiterStats struct {
	Key        string
	Period     time.Duration
	Configured int // budget per Period from the options
	Reported   int // lower limit reported by Webflow and still in force, 0 if none
	Effective  int // min(Configured, Reported)
	Rate       int // GCRA admissions per Period in steady state (Effective − burst − margin)
	Burst      int // extra admissions a rested bucket allows at once
	Interval   time.Duration
	// Available is how many interactive admissions would pass right now
	// (0 while paused).
	Available   int
	NextIn      time.Duration // wait before the next interactive admission; 0 if one is available
	PausedUntil time.Time     // zero if not paused
	Now         time.Time     // the limiter clock (Redis TIME) when the stats were taken
}

// Limiter implements webflowdata.Limiter on Redis. It is safe for concurrent
// use. Besides its configuration it holds only a memo of the limit it last
// reported to Redis per token (see Observe), never budget state.
type Limiter struct {
	rdb      redis.UniversalClient
	prefix   string
	def      int
	perKey   map[string]int
	maxWait  time.Duration
	period   time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	log      *slog.Logger
	limitTTL time.Duration
	burstDiv int
	maxPause time.Duration
	gcra     *redis.Script
	feedback *redis.Script

	onAdmit func(key string, at time.Time) // tests: called with the Redis-side admission time

	// reportedMu guards reported: per token, the X-RateLimit-Limit this
	// replica last wrote to Redis and when. Webflow sends the header on
	// every answer; writing the same value again each time would cost a
	// Redis round trip per Webflow call for nothing.
	reportedMu sync.Mutex
	reported   map[string]reportedLimit
}

type reportedLimit struct {
	limit int
	at    time.Time
}

// reportRefresh is how often a replica re-sends an unchanged reported
// limit. A lower limit recorded by another replica is forgotten by this
// one at most this long after Webflow reports the full limit again (and
// in any case when it expires, after reportedLimitTTL).
const reportRefresh = 10 * time.Second

var _ webflowdata.Limiter = (*Limiter)(nil)

const (
	defaultLimiterPerMinute = 60
	defaultLimiterMaxWait   = 20 * time.Second
	defaultLimiterPeriod    = time.Minute
	defaultBurstDivisor     = 50
	default429Pause         = 60 * time.Second
	reportedLimitTTL        = 10 * time.Minute
	observeTimeout          = 2 * time.Second
	maxLimiterKeyLen        = 128
)

// NewLimiter returns a Limiter using rdb.
func NewLimiter(rdb redis.UniversalClient, opts LimiterOptions) (*Limiter, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil redis client", ErrInvalid)
	}
	l := &Limiter{
		rdb: rdb, prefix: opts.Prefix, def: opts.DefaultPerMinute, maxWait: opts.MaxWait,
		period: opts.Period, now: opts.Now, sleep: opts.Sleep, log: opts.Logger, burstDiv: opts.BurstDivisor, maxPause: opts.MaxPause,
		limitTTL: reportedLimitTTL, reported: map[string]reportedLimit{},
		gcra:     redis.NewScript(luaLimitParams + gcraScript),
		feedback: redis.NewScript(luaLimitParams + feedbackScript),
	}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if err := validatePrefix(l.prefix); err != nil {
		return nil, err
	}
	if l.def == 0 {
		l.def = defaultLimiterPerMinute
	}
	if l.maxWait == 0 {
		l.maxWait = defaultLimiterMaxWait
	}
	if l.period == 0 {
		l.period = defaultLimiterPeriod
	}
	if l.burstDiv <= 0 {
		l.burstDiv = defaultBurstDivisor
	}
	if l.maxPause == 0 {
		l.maxPause = webflowdata.DefaultMaxRetryAfter
	}
	if l.def < 0 || l.maxWait < 0 || l.period < time.Millisecond || l.maxPause < 0 {
		return nil, fmt.Errorf("%w: limiter budget, MaxWait, Period and MaxPause must be positive (Period ≥ 1ms)", ErrInvalid)
	}
	if l.sleep == nil {
		l.sleep = sleepCtx
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	l.perKey = make(map[string]int, len(opts.PerKey))
	for k, v := range opts.PerKey {
		if err := validateLimiterKey(k); err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("%w: limiter budget for %s must be positive", ErrInvalid, k)
		}
		l.perKey[k] = v
	}
	return l, nil
}

// Wait blocks until one request for key may go, the caller's bound is
// reached, or ctx ends. The priority comes from webflowdata.PriorityFrom(ctx).
//
// An interactive caller waits at most MaxWait; every caller waits at most
// until its ctx deadline. When the wait the script computes would overrun
// that bound, Wait returns a *WaitTimeoutError at once rather than sleeping
// in vain. A Redis failure is returned wrapped (the caller answers 503).
func (l *Limiter) Wait(ctx context.Context, key string) error {
	if err := validateLimiterKey(key); err != nil {
		return err
	}
	prio := webflowdata.PriorityFrom(ctx)
	var bound time.Time // on the limiter clock; zero = none
	if prio <= webflowdata.PriorityInteractive {
		bound = l.clock().Add(l.maxWait)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := l.run(ctx, key, prio, modeTake)
		if err != nil {
			if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
				// With ContextTimeoutEnabled the socket deadline may fire
				// before ctx reports it: say what really happened.
				return fmt.Errorf("state: rate limiter for token %s: %w: %w", key, context.DeadlineExceeded, err)
			}
			return fmt.Errorf("state: rate limiter for token %s: %w", key, err)
		}
		if res.admitted {
			if l.onAdmit != nil {
				l.onAdmit(key, res.now)
			}
			return nil
		}
		wait := res.wait
		left := time.Duration(1<<63 - 1)
		if !bound.IsZero() {
			left = bound.Sub(l.clock())
		}
		if d, ok := ctx.Deadline(); ok {
			left = min(left, time.Until(d))
		}
		if wait > left {
			return &WaitTimeoutError{Key: key, RetryAfter: wait}
		}
		if err := l.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Observe feeds back what Webflow said about key's budget:
//
//   - 429: pause the token on every replica for RetryAfter (60 s if absent,
//     at most MaxPause), keeping the later of an existing pause and the new
//     one. The header as Webflow sent it is logged.
//   - X-RateLimit-Limit lower than configured: use it for 10 minutes; equal
//     or higher: forget a previously reported lower limit. Headers never
//     raise the budget above the configured one.
//   - X-RateLimit-Remaining 0 on a 2xx: Webflow's window is spent (someone
//     else uses the token, or our window and theirs are aligned differently).
//     The bucket is emptied: TAT moves to at least now + τ + T, so no replica
//     fires for one emission interval and the burst is gone; admissions then
//     resume at the steady rate. A further 429 pauses for real.
//
// Errors are logged, never returned: the seam has no error and the response
// has already been received. Observe keeps working for a short while after
// ctx is cancelled, so that a pause is recorded even when the caller gave up.
func (l *Limiter) Observe(ctx context.Context, key string, info webflowdata.RateInfo) {
	if validateLimiterKey(key) != nil {
		return
	}
	var pause time.Duration
	clamped := false
	if info.Status == 429 {
		pause = info.RetryAfter
		if pause <= 0 {
			pause = default429Pause
		}
		if pause > l.maxPause {
			pause = l.maxPause
		}
		// The caller may have clamped RetryAfter already (the Webflow
		// client does): compare with the header as sent.
		clamped = info.RetryAfterHeader != "" && webflowdata.ParseRetryAfter(info.RetryAfterHeader) > pause
	}
	reported := max(info.Limit, 0)
	drain := info.Status >= 200 && info.Status < 300 && info.Remaining == 0
	if pause == 0 && !drain && !l.reportDue(key, reported) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), observeTimeout)
	defer cancel()
	keys := l.keys(key)
	args := []any{
		l.limitFor(key), l.period.Microseconds(), l.nowArg(),
		pause.Microseconds(), reported, boolArg(drain), l.limitTTL.Milliseconds(), l.burstDiv,
	}
	if err := l.feedback.Run(ctx, l.rdb, keys, args...).Err(); err != nil {
		l.log.WarnContext(ctx, "rate limiter: recording Webflow feedback failed",
			"token", key, "status", info.Status, "pause", pause, "error", err)
		return
	}
	sent := info.RetryAfterHeader
	if len(sent) > 64 {
		sent = sent[:64] + "…" // a header, not a log flood
	}
	switch {
	case clamped:
		l.log.WarnContext(ctx, "rate limiter: Webflow answered 429 with a Retry-After longer than webflow.maxRetryAfter; token paused on all replicas for the maximum instead",
			"token", key, "pause", pause, "retry_after", sent)
	case pause > 0:
		l.log.InfoContext(ctx, "rate limiter: Webflow answered 429; token paused on all replicas",
			"token", key, "pause", pause, "retry_after", sent)
	}
}

// reportDue says whether a reported limit must be written: it is new for
// this replica, changed, or last written more than reportRefresh ago. It
// records the write it allows.
func (l *Limiter) reportDue(key string, limit int) bool {
	if limit == 0 {
		return false
	}
	now := time.Now()
	l.reportedMu.Lock()
	defer l.reportedMu.Unlock()
	if last, ok := l.reported[key]; ok && last.limit == limit && now.Sub(last.at) < reportRefresh {
		return false
	}
	l.reported[key] = reportedLimit{limit: limit, at: now}
	return true
}

// Stats reports key's budget without consuming any of it.
func (l *Limiter) Stats(ctx context.Context, key string) (LimiterStats, error) {
	if err := validateLimiterKey(key); err != nil {
		return LimiterStats{}, err
	}
	res, err := l.run(ctx, key, webflowdata.PriorityInteractive, modePeek)
	if err != nil {
		return LimiterStats{}, fmt.Errorf("state: rate limiter for token %s: %w", key, err)
	}
	st := LimiterStats{
		Key: key, Period: l.period, Configured: res.configured, Reported: res.reported,
		Effective: res.effective, Rate: res.rate, Burst: res.burst, Interval: res.interval,
		Available: res.available, NextIn: res.wait, Now: res.now,
	}
	if res.pausedUntil.After(res.now) {
		st.PausedUntil = res.pausedUntil
		st.Available = 0
	}
	return st, nil
}

// keys returns KEYS for both scripts: gcra, pause, limit.
func (l *Limiter) keys(key string) []string {
	tag := l.prefix + ":{t:" + key + "}:"
	return []string{tag + "gcra", tag + "pause", tag + "limit"}
}

func (l *Limiter) limitFor(key string) int {
	if v, ok := l.perKey[key]; ok {
		return v
	}
	return l.def
}

func (l *Limiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// nowArg is the script's clock argument: "" means Redis TIME.
func (l *Limiter) nowArg() string {
	if l.now == nil {
		return ""
	}
	return strconv.FormatInt(l.now().UnixMicro(), 10)
}

const (
	modePeek = "0"
	modeTake = "1"
)

type gcraResult struct {
	admitted                                     bool
	wait                                         time.Duration
	now, pausedUntil                             time.Time
	configured, reported, effective, rate, burst int
	interval                                     time.Duration
	available                                    int
}

func (l *Limiter) run(ctx context.Context, key string, prio webflowdata.Priority, mode string) (gcraResult, error) {
	p := min(max(int(prio), 0), 2)
	vals, err := l.gcra.Run(ctx, l.rdb, l.keys(key),
		l.limitFor(key), l.period.Microseconds(), p, l.nowArg(), mode, l.burstDiv).Int64Slice()
	if err != nil {
		return gcraResult{}, err
	}
	if len(vals) != 11 {
		return gcraResult{}, fmt.Errorf("rate limiter script: unexpected reply of %d values", len(vals))
	}
	return gcraResult{
		admitted:    vals[0] == 1,
		wait:        time.Duration(vals[1]) * time.Microsecond,
		now:         time.UnixMicro(vals[2]),
		configured:  int(vals[3]),
		reported:    int(vals[4]),
		effective:   int(vals[5]),
		rate:        int(vals[6]),
		burst:       int(vals[7]),
		interval:    time.Duration(vals[8]) * time.Microsecond,
		available:   int(vals[9]),
		pausedUntil: time.UnixMicro(vals[10]),
	}, nil
}

// validateLimiterKey accepts token fingerprints: [A-Za-z0-9_-]{1,128}. No
// braces (hash tag), no ":" (separator), no glob characters.
func validateLimiterKey(key string) error {
	if key == "" || len(key) > maxLimiterKeyLen {
		return fmt.Errorf("%w: limiter key must be 1-%d characters", ErrInvalid, maxLimiterKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: limiter key may only contain A-Z a-z 0-9 _ -", ErrInvalid)
		}
	}
	return nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// luaLimitParams is prepended to both scripts. It expects `configured`,
// `period` (µs) and `nowArg` to be set, reads the reported limit (KEYS[3])
// and defines now, limit, reported, burst, rate, interval and tauI, as
// documented at the top of this file. Integer arithmetic only where rounding
// matters (0.2*5 is not exactly 1 in floating point).
//
// Absolute times are µs since the epoch (~1.8e15 < 2^53, exact in a double);
// they are written with %.0f because tostring() keeps only 14 digits.
const luaLimitParams = `
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function num(v) return tonumber(v or '') or 0 end
local burstDiv = 50
local function params(configured, period)
  local limit = configured
  local reported = num(redis.call('GET', KEYS[3]))
  if reported > 0 and reported < limit then limit = reported end
  local burst = math.floor(limit / burstDiv)
  if burst < 1 then burst = 1 end
  local rate = limit - burst - 1
  -- At fast rates (an interval under 100 ms: compressed budgets, or very
  -- large plans) the jitter between our admission and Webflow's count
  -- (scheduling, the network) spans whole intervals: keep enough slots in
  -- reserve to absorb 15 ms of it. At 60 or 120 a minute this adds nothing.
  local t0 = period / rate
  if rate > 2 and t0 < 100000 then
    rate = rate - math.max(1, math.ceil(15000 / t0))
    if rate < 1 then rate = 1 end
  end
  if rate < 1 then rate = limit - burst end
  if rate < 1 then burst = 0; rate = limit end
  local interval = math.ceil(period / rate)
  return limit, reported, burst, rate, interval
end
local function setAt(key, value, now, slackMs)
  redis.call('SET', key, string.format('%.0f', value), 'PX', math.ceil((value - now) / 1000) + slackMs)
end
`

// gcraScript admits one request or says how long to wait.
//
//	KEYS  gcra, pause, limit
//	ARGV  configured limit, period µs, priority 0..2, now µs or "" (Redis TIME), mode "1" take / "0" peek
//	reply {admitted 0|1, wait µs, now µs, configured, reported, effective, rate, burst, interval µs,
//	       available (interactive, ignoring any pause), paused-until µs or 0}
const gcraScript = `
local configured = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local prio = tonumber(ARGV[3])
burstDiv = tonumber(ARGV[6])
local now = clock(ARGV[4])
local limit, reported, burst, rate, interval = params(configured, period)

local reserve = 0
local rbg = math.floor(((burst + 1) * 2 + 9) / 10)
if rbg < 1 then rbg = 1 end
if prio == 1 then
  reserve = rbg
elseif prio >= 2 then
  reserve = math.floor(((burst + 1) * 4 + 9) / 10)
  if reserve < rbg + 1 then reserve = rbg + 1 end
end
local slack = burst - reserve
if slack < 0 then slack = 0 end
local tau = slack * interval
local tauI = burst * interval

local pausedUntil = num(redis.call('GET', KEYS[2]))
local tat = num(redis.call('GET', KEYS[1]))
if tat < now then tat = now end
local available = 0
if tat - now <= tauI then available = math.floor((tauI - (tat - now)) / interval) + 1 end

local function reply(admitted, wait)
  return {admitted, wait, now, configured, reported, limit, rate, burst, interval, available, pausedUntil}
end
if pausedUntil > now then return reply(0, pausedUntil - now) end
local allowAt = tat - tau
if now < allowAt then return reply(0, allowAt - now) end
if ARGV[5] == '1' then
  setAt(KEYS[1], tat + interval, now, math.ceil(period / 1000))
end
return reply(1, 0)
`

// feedbackScript records what Webflow reported.
//
//	KEYS  gcra, pause, limit
//	ARGV  configured limit, period µs, now µs or "", pause µs (0 none),
//	      reported limit (0 none), drain "1"/"0", limit TTL ms
const feedbackScript = `
local configured = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
burstDiv = tonumber(ARGV[8])
local now = clock(ARGV[3])
local pause = tonumber(ARGV[4])
local rep = tonumber(ARGV[5])
if rep > 0 then
  if rep < configured then
    redis.call('SET', KEYS[3], rep, 'PX', ARGV[7])
  else
    redis.call('DEL', KEYS[3])
  end
end
if pause > 0 then
  local untilAt = now + pause
  if num(redis.call('GET', KEYS[2])) < untilAt then setAt(KEYS[2], untilAt, now, 1000) end
end
if ARGV[6] == '1' then
  local limit, reported, burst, rate, interval = params(configured, period)
  local target = now + (burst + 1) * interval
  if num(redis.call('GET', KEYS[1])) < target then setAt(KEYS[1], target, now, math.ceil(period / 1000)) end
end
return 0
`
