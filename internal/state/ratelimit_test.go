package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/vclock"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// ---------------------------------------------------------------------------
// Test environment: miniredis (single and cluster client), and real Redis when
// REDIS_URL is set. Every environment has its own key prefix, cleaned up.

type rlEnv struct {
	t       testing.TB
	name    string
	mr      *miniredis.Miniredis // nil for real Redis
	url     string
	cluster bool
	prefix  string
}

// rlEnvs lists the environments a test runs in. withCluster adds a go-redis
// ClusterClient on miniredis (routing by KEYS[1]).
func rlEnvs(withCluster bool) []string {
	names := []string{"miniredis"}
	if withCluster {
		names = append(names, "miniredis-cluster")
	}
	if os.Getenv("REDIS_URL") != "" {
		names = append(names, "redis")
	}
	return names
}

func rlEach(t *testing.T, withCluster bool, fn func(t *testing.T, e *rlEnv)) {
	for _, name := range rlEnvs(withCluster) {
		t.Run(name, func(t *testing.T) { fn(t, newRLEnv(t, name)) })
	}
}

func rlRandHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newRLEnv(t testing.TB, name string) *rlEnv {
	t.Helper()
	e := &rlEnv{t: t, name: name, prefix: "wfbtest-" + rlRandHex(t, 6)}
	switch name {
	case "miniredis", "miniredis-cluster":
		e.mr = miniredis.RunT(t)
		e.cluster = name == "miniredis-cluster"
	case "redis":
		e.url = os.Getenv("REDIS_URL")
		if e.url == "" {
			t.Skip("REDIS_URL not set")
		}
		rdb := e.client()
		t.Cleanup(func() { rlDeletePrefix(t, rdb, e.prefix) })
	default:
		t.Fatalf("unknown env %q", name)
	}
	return e
}

// client returns a new client (own connection pool) to the environment's
// server: one per simulated replica.
func (e *rlEnv) client() redis.UniversalClient {
	e.t.Helper()
	var rdb redis.UniversalClient
	if e.mr != nil {
		rdb = redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: []string{e.mr.Addr()}, IsClusterMode: e.cluster,
			ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1,
		})
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		if rdb, err = Open(ctx, e.url); err != nil {
			e.t.Fatalf("Open(REDIS_URL): %v", err)
		}
	}
	e.t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// limiter returns a Limiter on a new client with the environment's prefix.
func (e *rlEnv) limiter(opts LimiterOptions) *Limiter {
	e.t.Helper()
	opts.Prefix = e.prefix
	if opts.BurstDivisor == 0 {
		// The scenarios below are written for L=60 with a burst of 3.
		opts.BurstDivisor = 20
	}
	l, err := NewLimiter(e.client(), opts)
	if err != nil {
		e.t.Fatalf("NewLimiter: %v", err)
	}
	return l
}

func rlDeletePrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleanup scan: %v", err)
		return
	}
	for _, k := range keys {
		_ = rdb.Del(ctx, k).Err()
	}
}

// rlClock is a manual clock for LimiterOptions.Now.
type rlClock struct {
	mu sync.Mutex
	t  time.Time
}

func newRLClock() *rlClock { return &rlClock{t: time.Now().Truncate(time.Second)} }

func (c *rlClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rlClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *rlClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sleep advances the clock instead of sleeping.
func (c *rlClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

func noSleep(t *testing.T) func(context.Context, time.Duration) error {
	return func(context.Context, time.Duration) error {
		t.Error("Wait slept although it should have given up at once")
		return errors.New("unexpected sleep")
	}
}

func rlKey(t testing.TB) string { return "tok_" + rlRandHex(t, 8) }

func prioCtx(p webflowdata.Priority) context.Context {
	return webflowdata.WithPriority(context.Background(), p)
}

// take runs one admission attempt at the limiter's current clock.
func take(t testing.TB, l *Limiter, key string, p webflowdata.Priority) gcraResult {
	t.Helper()
	res, err := l.run(context.Background(), key, p, modeTake)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func stats(t testing.TB, l *Limiter, key string) LimiterStats {
	t.Helper()
	st, err := l.Stats(context.Background(), key)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// maxInWindow returns the largest number of times in any half-open window
// [t, t+w).
func maxInWindow(times []time.Time, w time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// ---------------------------------------------------------------------------

func TestLimiterParams(t *testing.T) {
	e := newRLEnv(t, "miniredis")
	clk := newRLClock()
	for _, tc := range []struct {
		limit, rate, burst int
		interval           time.Duration
	}{
		{1, 1, 0, time.Minute},
		{2, 1, 1, time.Minute},
		{3, 1, 1, time.Minute},
		{10, 8, 1, 7500 * time.Millisecond},
		{30, 28, 1, 2142858 * time.Microsecond},
		{60, 56, 3, 1071429 * time.Microsecond},
		{120, 113, 6, 530974 * time.Microsecond},
		{1000, 948, 50, 63292 * time.Microsecond},
	} {
		l := e.limiter(LimiterOptions{DefaultPerMinute: tc.limit, Now: clk.Now})
		st := stats(t, l, rlKey(t))
		if st.Effective != tc.limit || st.Rate != tc.rate || st.Burst != tc.burst || st.Interval != tc.interval {
			t.Errorf("limit %d: got rate %d burst %d interval %s, want %d %d %s",
				tc.limit, st.Rate, st.Burst, st.Interval, tc.rate, tc.burst, tc.interval)
		}
		if st.Available != tc.burst+1 || st.NextIn != 0 || !st.PausedUntil.IsZero() {
			t.Errorf("limit %d: fresh bucket: available %d nextIn %s paused %v", tc.limit, st.Available, st.NextIn, st.PausedUntil)
		}
		// The window bound N ≤ r + b (+1 margin slot when L ≥ 3).
		if bound := tc.rate + tc.burst; bound > tc.limit || (tc.limit >= 3 && bound+1 > tc.limit) {
			t.Errorf("limit %d: r+b = %d leaves no margin", tc.limit, bound)
		}
		if st.Interval < time.Minute/time.Duration(tc.rate) {
			t.Errorf("limit %d: interval %s shorter than period/rate", tc.limit, st.Interval)
		}
	}
}

// TestLimiterExactAdmissionsUnderConcurrency: at a frozen clock, 3 replicas
// × 30 goroutines compete for a rested bucket; exactly the priority's burst
// passes and everyone else gets a WaitTimeoutError without sleeping.
func TestLimiterExactAdmissionsUnderConcurrency(t *testing.T) {
	rlEach(t, true, func(t *testing.T, e *rlEnv) {
		for _, tc := range []struct {
			name string
			prio webflowdata.Priority
			want int
		}{
			// L=60: b=3, τ_i=3T, τ_bg=2T, τ_rec=T.
			{"interactive", webflowdata.PriorityInteractive, 4},
			{"background", webflowdata.PriorityBackground, 3},
			{"reconcile", webflowdata.PriorityReconcile, 2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk := newRLClock()
				key := rlKey(t)
				var ls []*Limiter
				for range 3 {
					// Period 10m: T ≈ 10.7s, beyond every caller's bound.
					ls = append(ls, e.limiter(LimiterOptions{Now: clk.Now, Sleep: noSleep(t), MaxWait: time.Millisecond, Period: 10 * time.Minute}))
				}
				ctx, cancel := context.WithTimeout(prioCtx(tc.prio), 5*time.Second) // bounds bg/rec too
				defer cancel()
				var admitted, exhausted atomic.Int64
				var wg sync.WaitGroup
				for i := range 90 {
					wg.Go(func() {
						err := ls[i%3].Wait(ctx, key)
						switch {
						case err == nil:
							admitted.Add(1)
						case errors.Is(err, ErrBudgetExhausted):
							exhausted.Add(1)
						default:
							t.Errorf("Wait: %v", err)
						}
					})
				}
				wg.Wait()
				if admitted.Load() != int64(tc.want) || exhausted.Load() != int64(90-tc.want) {
					t.Errorf("admitted %d exhausted %d, want %d and %d", admitted.Load(), exhausted.Load(), tc.want, 90-tc.want)
				}
			})
		}
	})
}

// TestLimiterSlidingWindow hammers one key from 3 Limiter instances (own
// connection pools, 4 workers each, all priorities) for 3 periods. Every
// half-open window of length Period must hold at most L admissions (the
// script's admission times), and while work is waiting at least 90 % of L
// per period must pass.
//
// Twice: on a virtual clock (vclock: the limiters' Now and Sleep, time
// moving only once every worker waits), where both are asserted, and in
// real time on Redis TIME, where only the window bound is. Utilisation in
// real time measures the machine: a worker the scheduler starves past its
// slot loses that slot (GCRA keeps no credit beyond the burst), and under
// -race on a loaded 2-core machine that cost 5-7 % of the budget. On the
// virtual clock a worker retries exactly when the script says, so the
// figure is the limiter's own.
func TestLimiterSlidingWindow(t *testing.T) {
	const (
		limit   = 60
		period  = 1500 * time.Millisecond
		periods = 3
		workers = 4 // per instance
		run     = periods*period + period/3
	)
	for _, name := range rlEnvs(false) {
		for _, virtual := range []bool{true, false} {
			clockName := "realtime"
			if virtual {
				clockName = "virtual"
			}
			t.Run(name+"/"+clockName, func(t *testing.T) {
				t.Parallel() // real time: run the environments side by side
				e := newRLEnv(t, name)
				key := rlKey(t)
				var mu sync.Mutex
				var times []time.Time
				record := func(_ string, at time.Time) {
					mu.Lock()
					times = append(times, at)
					mu.Unlock()
				}
				opts := LimiterOptions{DefaultPerMinute: limit, Period: period}
				var clk *vclock.Clock
				ctx, cancel := context.WithTimeout(context.Background(), run)
				if virtual {
					clk = vclock.New(time.Now().Truncate(time.Second))
					opts.Now, opts.Sleep = clk.Now, clk.Sleep
					// A bound in real time only against a hang: the run
					// ends on the virtual clock.
					cancel()
					ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
				}
				defer cancel()
				var end time.Time
				if virtual {
					end = clk.Now().Add(run)
				}
				more := func() bool {
					if virtual {
						return clk.Now().Before(end) && ctx.Err() == nil
					}
					return ctx.Err() == nil
				}
				var wg sync.WaitGroup
				for range 3 {
					l := e.limiter(opts)
					l.onAdmit = record
					for i := range workers {
						ctx := webflowdata.WithPriority(ctx, webflowdata.Priority(i%3)) // all priorities share the budget
						if virtual {
							clk.Join()
						}
						wg.Go(func() {
							if virtual {
								defer clk.Leave()
							}
							for more() {
								err := l.Wait(ctx, key)
								if err != nil && ctx.Err() == nil && !errors.Is(err, ErrBudgetExhausted) && !errors.Is(err, context.DeadlineExceeded) {
									t.Errorf("Wait: %v", err)
									return
								}
							}
						})
					}
				}
				wg.Wait()
				if virtual && ctx.Err() != nil {
					t.Fatalf("the virtual run did not end within a minute: %v", ctx.Err())
				}
				if len(times) == 0 {
					t.Fatal("nothing admitted")
				}
				worst := maxInWindow(times, period)
				slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
				t0 := times[0]
				inRun := 0
				for _, at := range times {
					if at.Sub(t0) < periods*period {
						inRun++
					}
				}
				util := float64(inRun) / float64(periods*limit)
				t.Logf("admitted %d in total, %d in the first %d periods (utilisation %.1f%% of %d/period); max in any window %d (limit %d)",
					len(times), inRun, periods, 100*util, limit, worst, limit)
				if worst > limit {
					t.Errorf("a window of %s held %d admissions, limit %d", period, worst, limit)
				}
				if virtual && util < 0.90 {
					t.Errorf("utilisation %.1f%% < 90%%", 100*util)
				}
			})
		}
	}
}

// TestLimiterPriorities simulates waiters on a virtual clock (discrete
// events, each waiter retrying exactly when the script tells it to) and
// checks the ordering the tolerances produce: while interactive work waits,
// no background or reconcile request passes; background goes before
// reconcile; and a lone stream of either gets the full rate.
func TestLimiterPriorities(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		clk := newRLClock()
		l := e.limiter(LimiterOptions{DefaultPerMinute: 120, Now: clk.Now})
		key := rlKey(t)
		st := stats(t, l, key)

		type waiter struct {
			prio webflowdata.Priority
			left int
			next time.Time
		}
		var ws []*waiter
		add := func(p webflowdata.Priority, n, demand int) {
			for range n {
				ws = append(ws, &waiter{prio: p, left: demand, next: clk.Now()})
			}
		}
		add(webflowdata.PriorityReconcile, 2, 60)
		add(webflowdata.PriorityBackground, 2, 60)
		add(webflowdata.PriorityInteractive, 3, 40)
		rng := rand.New(rand.NewPCG(1, 2))
		type adm struct {
			at   time.Time
			prio webflowdata.Priority
		}
		var log []adm
		for steps := 0; steps < 20000; steps++ {
			rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
			var w *waiter
			for _, c := range ws {
				if c.left > 0 && (w == nil || c.next.Before(w.next)) {
					w = c
				}
			}
			if w == nil {
				break
			}
			clk.Set(w.next)
			res := take(t, l, key, w.prio)
			if res.admitted {
				w.left--
				log = append(log, adm{res.now, w.prio})
			} else {
				w.next = res.now.Add(res.wait)
			}
		}
		if len(log) != 3*40+2*60+2*60 {
			t.Fatalf("simulation admitted %d, want %d", len(log), 3*40+2*60+2*60)
		}
		last := map[webflowdata.Priority]int{}
		first := map[webflowdata.Priority]int{}
		for i, a := range log {
			last[a.prio] = i
			if _, ok := first[a.prio]; !ok {
				first[a.prio] = i
			}
		}
		// Past the rested bucket's first b+1 admissions, interactive work
		// takes every slot until it is done, then background, then reconcile.
		for i, a := range log[st.Burst+1:] {
			i += st.Burst + 1
			if i < last[webflowdata.PriorityInteractive] && a.prio != webflowdata.PriorityInteractive {
				t.Errorf("admission %d went to priority %d while interactive work was waiting", i, a.prio)
			}
			if i > last[webflowdata.PriorityInteractive] && i < last[webflowdata.PriorityBackground] && a.prio == webflowdata.PriorityReconcile {
				t.Errorf("admission %d went to reconcile while background work was waiting", i)
			}
		}
		// Every stream runs at the full rate: no gaps longer than the interval,
		// except when the priority changes and the lower one's reserve refills
		// (those slots are not lost: they become burst credit).
		for i := st.Burst + 1; i < len(log); i++ {
			allowed := st.Interval
			if log[i].prio != log[i-1].prio {
				allowed = 4 * st.Interval
			}
			if gap := log[i].at.Sub(log[i-1].at); gap > allowed {
				t.Errorf("gap of %s before admission %d (priority %d), interval %s", gap, i, log[i].prio, st.Interval)
			}
		}
		if worst := maxInWindow(func() []time.Time {
			var ts []time.Time
			for _, a := range log {
				ts = append(ts, a.at)
			}
			return ts
		}(), time.Minute); worst > 120 {
			t.Errorf("window held %d admissions, limit 120", worst)
		}
		t.Logf("admission order: interactive %d..%d, background %d..%d, reconcile %d..%d",
			first[0], last[0], first[1], last[1], first[2], last[2])
	})
}

// TestLimiterInteractiveNotStarved: in real time, background goroutines keep
// the bucket saturated; interactive calls still get through promptly.
func TestLimiterInteractiveNotStarved(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		const period = time.Second // L=60: T≈17.9ms, τ≈54ms
		key := rlKey(t)
		bg := e.limiter(LimiterOptions{Period: period})
		in := e.limiter(LimiterOptions{Period: period, MaxWait: 2 * time.Second})
		ctx, cancel := context.WithCancel(prioCtx(webflowdata.PriorityBackground))
		var wg sync.WaitGroup
		var bgAdmitted atomic.Int64
		for range 6 {
			wg.Go(func() {
				for bg.Wait(ctx, key) == nil {
					bgAdmitted.Add(1)
				}
			})
		}
		time.Sleep(period / 4) // let background saturate the bucket
		var worst time.Duration
		for range 10 {
			t0 := time.Now()
			if err := in.Wait(context.Background(), key); err != nil {
				t.Errorf("interactive Wait: %v", err)
			}
			worst = max(worst, time.Since(t0))
		}
		cancel()
		wg.Wait()
		t.Logf("background admitted %d; slowest interactive wait %s", bgAdmitted.Load(), worst)
		if bgAdmitted.Load() == 0 {
			t.Error("background never admitted")
		}
		if worst > time.Second { // generous: the interval is ~18ms
			t.Errorf("interactive waited %s behind background work", worst)
		}
	})
}

func TestLimiterBoundedWait(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		// L=60 per minute: T = 1.071429s; a saturated bucket's next slot is T away.
		const interval = 1071429 * time.Microsecond
		for _, tc := range []struct {
			name     string
			prio     webflowdata.Priority
			maxWait  time.Duration
			deadline time.Duration // ctx deadline, 0 none
			timeout  bool          // want WaitTimeoutError
			retry    time.Duration // want RetryAfter (±1ms)
		}{
			{"interactive beyond MaxWait", webflowdata.PriorityInteractive, 500 * time.Millisecond, 0, true, interval},
			{"interactive beyond ctx deadline", webflowdata.PriorityInteractive, 20 * time.Second, 300 * time.Millisecond, true, interval},
			{"background beyond ctx deadline", webflowdata.PriorityBackground, 0, 300 * time.Millisecond, true, interval + interval},
			{"interactive within MaxWait sleeps", webflowdata.PriorityInteractive, 5 * time.Second, 0, false, 0},
			{"background without deadline sleeps", webflowdata.PriorityBackground, time.Millisecond, 0, false, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk := newRLClock()
				key := rlKey(t)
				opts := LimiterOptions{Now: clk.Now, MaxWait: tc.maxWait, Sleep: clk.sleep}
				if tc.timeout {
					opts.Sleep = noSleep(t)
				}
				l := e.limiter(opts)
				for range 4 {
					if !take(t, l, key, webflowdata.PriorityInteractive).admitted {
						t.Fatal("rested bucket refused")
					}
				}
				ctx := prioCtx(tc.prio)
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				start, t0 := time.Now(), clk.Now()
				err := l.Wait(ctx, key)
				if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
					t.Errorf("Wait took %s of real time", elapsed)
				}
				if !tc.timeout {
					if err != nil {
						t.Fatalf("Wait: %v", err)
					}
					if slept := clk.Now().Sub(t0); slept < interval/2 {
						t.Errorf("admitted after %s of limiter time, want ≥ %s", slept, interval/2)
					}
					return
				}
				var wte *WaitTimeoutError
				if !errors.As(err, &wte) || !errors.Is(err, ErrBudgetExhausted) {
					t.Fatalf("err = %v, want *WaitTimeoutError", err)
				}
				if d := wte.RetryAfter - tc.retry; d < -time.Millisecond || d > time.Millisecond || wte.Key != key {
					t.Errorf("WaitTimeoutError %+v, want RetryAfter %s", wte, tc.retry)
				}
			})
		}
	})
}

func TestLimiterContextCancel(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		clk := newRLClock() // frozen: the wait never shrinks
		l := e.limiter(LimiterOptions{Now: clk.Now})
		key := rlKey(t)
		for range 4 {
			take(t, l, key, webflowdata.PriorityInteractive)
		}
		ctx, cancel := context.WithCancel(prioCtx(webflowdata.PriorityReconcile))
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		err := l.Wait(ctx, key)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > 900*time.Millisecond {
			t.Errorf("cancelled Wait returned after %s", el)
		}
		if err := l.Wait(ctx, key); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait on a cancelled ctx: %v", err)
		}
	})
}

// TestLimiterPauseOn429: a 429 seen by one replica stops all of them until
// Retry-After has passed; a shorter later pause does not cut it short.
func TestLimiterPauseOn429(t *testing.T) {
	rlEach(t, true, func(t *testing.T, e *rlEnv) {
		clk := newRLClock()
		key := rlKey(t)
		a := e.limiter(LimiterOptions{Now: clk.Now, MaxWait: time.Second, Sleep: noSleep(t)})
		b := e.limiter(LimiterOptions{Now: clk.Now, MaxWait: time.Second, Sleep: noSleep(t)})
		c := e.limiter(LimiterOptions{Now: clk.Now, MaxWait: time.Second, Sleep: noSleep(t)})
		ctx := context.Background()
		a.Observe(ctx, key, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: 5 * time.Second})
		a.Observe(ctx, key, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: time.Second})
		for _, l := range []*Limiter{a, b, c} {
			err := l.Wait(ctx, key)
			var wte *WaitTimeoutError
			if !errors.As(err, &wte) || wte.RetryAfter != 5*time.Second {
				t.Errorf("Wait while paused: %v, want WaitTimeoutError after 5s", err)
			}
		}
		st := stats(t, b, key)
		if !st.PausedUntil.Equal(clk.Now().Add(5*time.Second)) || st.Available != 0 || st.NextIn != 5*time.Second {
			t.Errorf("stats while paused: %+v", st)
		}
		clk.Advance(5 * time.Second)
		if err := c.Wait(ctx, key); err != nil {
			t.Errorf("Wait after the pause: %v", err)
		}
		if st := stats(t, b, key); !st.PausedUntil.IsZero() || st.Available != 3 {
			t.Errorf("stats after the pause: %+v", st)
		}

		// No Retry-After: 60 s.
		key2 := rlKey(t)
		a.Observe(ctx, key2, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1})
		if st := stats(t, c, key2); st.NextIn != time.Minute {
			t.Errorf("pause without Retry-After: %s, want 1m", st.NextIn)
		}
	})
}

// TestLimiterPauseClamped: a Retry-After longer than MaxPause (5 minutes by
// default) pauses the token for MaxPause, and the header as Webflow sent
// it is logged, also when the caller already clamped RetryAfter (the
// Webflow client does; the passthrough does not). On the old main a
// "Retry-After: 31536000" paused every replica for a year.
func TestLimiterPauseClamped(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		year := 365 * 24 * time.Hour
		for _, c := range []struct {
			name     string
			maxPause time.Duration
			info     webflowdata.RateInfo
			want     time.Duration
			warn     bool
		}{
			{"a year, unclamped (passthrough)", 0, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: year, RetryAfterHeader: "31536000"}, 5 * time.Minute, true},
			{"a year, clamped by the client", 0, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: 5 * time.Minute, RetryAfterHeader: "31536000"}, 5 * time.Minute, true},
			{"a year, configured maximum", 30 * time.Second, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: year, RetryAfterHeader: "31536000"}, 30 * time.Second, true},
			{"within the maximum", 0, webflowdata.RateInfo{Status: 429, Limit: -1, Remaining: -1, RetryAfter: 90 * time.Second, RetryAfterHeader: "90"}, 90 * time.Second, false},
		} {
			var logs strings.Builder
			clk := newRLClock()
			key := rlKey(t)
			l := e.limiter(LimiterOptions{Now: clk.Now, MaxPause: c.maxPause, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			l.Observe(context.Background(), key, c.info)
			if st := stats(t, l, key); st.NextIn != c.want || !st.PausedUntil.Equal(clk.Now().Add(c.want)) {
				t.Errorf("%s: paused for %s (until %v), want %s", c.name, st.NextIn, st.PausedUntil, c.want)
			}
			out := logs.String()
			if !strings.Contains(out, "retry_after="+c.info.RetryAfterHeader) {
				t.Errorf("%s: the log does not show the header as sent: %s", c.name, out)
			}
			if got := strings.Contains(out, "level=WARN"); got != c.warn {
				t.Errorf("%s: warned %v, want %v: %s", c.name, got, c.warn, out)
			}
		}
		if _, err := NewLimiter(e.client(), LimiterOptions{MaxPause: -time.Second}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a negative MaxPause: %v, want ErrInvalid", err)
		}
	})
}

// TestLimiterPauseRealTime: with Redis TIME, a background waiter on another
// replica resumes after the pause.
func TestLimiterPauseRealTime(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		key := rlKey(t)
		a := e.limiter(LimiterOptions{})
		b := e.limiter(LimiterOptions{})
		start := time.Now() // before the script reads TIME
		a.Observe(context.Background(), key, webflowdata.RateInfo{Status: 429, Limit: 60, Remaining: 0, RetryAfter: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(prioCtx(webflowdata.PriorityBackground), 5*time.Second)
		defer cancel()
		if err := b.Wait(ctx, key); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if el := time.Since(start); el < 290*time.Millisecond {
			t.Errorf("admitted after %s, during the 300ms pause", el)
		}
	})
}

func TestLimiterHeaderAdaptation(t *testing.T) {
	rlEach(t, false, func(t *testing.T, e *rlEnv) {
		ctx := context.Background()
		for _, tc := range []struct {
			name     string
			observed []int // X-RateLimit-Limit values, in order
			want     int   // effective limit
			count    bool  // also count admissions (slow on miniredis under -race)
		}{
			{"absent", []int{-1}, 60, false},
			{"lower", []int{30}, 30, true},
			{"higher does not raise", []int{120}, 60, true},
			{"lower then equal restores", []int{30, 60}, 60, false},
			{"lower then higher restores", []int{30, 120}, 60, false},
			{"lower then absent keeps", []int{30, -1}, 30, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk := newRLClock()
				key := rlKey(t)
				l := e.limiter(LimiterOptions{Now: clk.Now})
				other := e.limiter(LimiterOptions{Now: clk.Now})
				for _, lim := range tc.observed {
					l.Observe(ctx, key, webflowdata.RateInfo{Status: 200, Limit: lim, Remaining: 10})
				}
				st := stats(t, other, key)
				if st.Effective != tc.want || st.Configured != 60 {
					t.Fatalf("effective %d configured %d, want %d and 60", st.Effective, st.Configured, tc.want)
				}
				if !tc.count {
					return
				}
				// Count what passes in 90s of limiter time, polling every 200ms.
				var times []time.Time
				for end := clk.Now().Add(90 * time.Second); clk.Now().Before(end); clk.Advance(200 * time.Millisecond) {
					if res := take(t, other, key, webflowdata.PriorityInteractive); res.admitted {
						times = append(times, res.now)
					}
				}
				worst := maxInWindow(times, time.Minute)
				if worst > tc.want || worst < tc.want*85/100 {
					t.Errorf("max %d admissions per minute, want ≤ %d and ≥ 85%% of it", worst, tc.want)
				}
			})
		}

		t.Run("remaining 0 empties the bucket", func(t *testing.T) {
			clk := newRLClock()
			key := rlKey(t)
			l := e.limiter(LimiterOptions{Now: clk.Now})
			l.Observe(ctx, key, webflowdata.RateInfo{Status: 200, Limit: 60, Remaining: 0})
			st := stats(t, l, key)
			if st.Available != 0 || st.NextIn != st.Interval || st.Interval == 0 {
				t.Errorf("after Remaining=0: %+v, want nothing available for one interval", st)
			}
			clk.Advance(st.Interval)
			if st := stats(t, l, key); st.Available != 1 {
				t.Errorf("one interval later: available %d, want 1", st.Available)
			}
			// On a 4xx Remaining=0 changes nothing.
			key2 := rlKey(t)
			l.Observe(ctx, key2, webflowdata.RateInfo{Status: 404, Limit: 60, Remaining: 0})
			if st := stats(t, l, key2); st.Available != 4 {
				t.Errorf("after a 404 with Remaining=0: available %d, want 4", st.Available)
			}
		})
	})
}

func TestLimiterIndependentKeys(t *testing.T) {
	rlEach(t, true, func(t *testing.T, e *rlEnv) {
		clk := newRLClock()
		a, b, c := rlKey(t), rlKey(t), rlKey(t)
		l := e.limiter(LimiterOptions{Now: clk.Now, PerKey: map[string]int{c: 120}})
		for range 4 {
			take(t, l, a, webflowdata.PriorityInteractive)
		}
		l.Observe(context.Background(), a, webflowdata.RateInfo{Status: 429, Limit: 30, Remaining: 0, RetryAfter: time.Minute})
		if st := stats(t, l, a); st.Available != 0 || st.PausedUntil.IsZero() || st.Effective != 30 {
			t.Errorf("key a: %+v", st)
		}
		if st := stats(t, l, b); st.Available != 4 || !st.PausedUntil.IsZero() || st.Effective != 60 {
			t.Errorf("key b affected by key a: %+v", st)
		}
		if st := stats(t, l, c); st.Configured != 120 || st.Burst != 6 || st.Available != 7 {
			t.Errorf("key c (PerKey 120): %+v", st)
		}
	})
}

func TestLimiterRedisDown(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(mr *miniredis.Miniredis)
	}{
		{"closed", func(mr *miniredis.Miniredis) { mr.Close() }},
		{"error reply", func(mr *miniredis.Miniredis) { mr.SetError("LOADING Redis is loading the dataset in memory") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRLEnv(t, "miniredis")
			l := e.limiter(LimiterOptions{})
			key := rlKey(t)
			if err := l.Wait(context.Background(), key); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			tc.break_(e.mr)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := l.Wait(ctx, key)
			if err == nil || errors.Is(err, ErrBudgetExhausted) || !strings.Contains(err.Error(), key) {
				t.Errorf("Wait with Redis down: %v", err)
			}
			if tc.name == "error reply" && !redis.IsLoadingError(errors.Unwrap(err)) {
				t.Errorf("Redis error not wrapped: %v", err)
			}
			l.Observe(ctx, key, webflowdata.RateInfo{Status: 429, Limit: 60, Remaining: 0})
			if _, err := l.Stats(ctx, key); err == nil {
				t.Error("Stats with Redis down: no error")
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("failing took %s", el)
			}
		})
	}
}

func TestLimiterValidation(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
		opts LimiterOptions
	}{
		{"nil client", nil, LimiterOptions{}},
		{"prefix with tag", rdb, LimiterOptions{Prefix: "a{b}"}},
		{"negative budget", rdb, LimiterOptions{DefaultPerMinute: -1}},
		{"tiny period", rdb, LimiterOptions{Period: time.Microsecond}},
		{"zero per-key budget", rdb, LimiterOptions{PerKey: map[string]int{"tok_a": 0}}},
		{"bad per-key key", rdb, LimiterOptions{PerKey: map[string]int{"tok:{a}": 10}}},
	} {
		if _, err := NewLimiter(tc.rdb, tc.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
	l, err := NewLimiter(rdb, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "tok_{x}", "tok:a", "tok_*", strings.Repeat("a", 129)} {
		if err := l.Wait(context.Background(), key); !errors.Is(err, ErrInvalid) {
			t.Errorf("Wait(%q) = %v, want ErrInvalid", key, err)
		}
	}
	// All keys of a token share one hash tag (one Cluster slot).
	keys := l.keys("tok_0123abcd")
	for _, k := range keys {
		if !strings.HasPrefix(k, "wfb:{t:tok_0123abcd}:") {
			t.Errorf("key %q lacks the token's hash tag", k)
		}
	}
}

// BenchmarkLimiterWait measures the limiter's overhead per admitted call (a
// budget so large that nothing ever waits).
func BenchmarkLimiterWait(b *testing.B) {
	for _, name := range []string{"miniredis", "redis"} {
		b.Run(name, func(b *testing.B) {
			if name == "redis" && os.Getenv("REDIS_URL") == "" {
				b.Skip("REDIS_URL not set")
			}
			e := newRLEnv(b, name)
			l := e.limiter(LimiterOptions{DefaultPerMinute: 1_000_000_000})
			key := rlKey(b)
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Wait(ctx, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "admissions/s")
		})
	}
}

// TestLimiterDefaultBurst pins the default parameters: a burst of L/50
// keeps the steady rate above 95% of Webflow's budget.
func TestLimiterDefaultBurst(t *testing.T) {
	_, rdb := newMiniredisClient(t, false)
	for _, tc := range []struct {
		limit, rate, burst int
	}{{60, 58, 1}, {120, 117, 2}, {600, 587, 12}, {1000, 978, 20}} {
		l, err := NewLimiter(rdb, LimiterOptions{DefaultPerMinute: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.Stats(context.Background(), "tok_default")
		if err != nil {
			t.Fatal(err)
		}
		if st.Rate != tc.rate || st.Burst != tc.burst || float64(st.Rate)/float64(tc.limit) < 0.95 {
			t.Errorf("limit %d: rate %d burst %d", tc.limit, st.Rate, st.Burst)
		}
	}
}

// scriptCounter counts script runs on a client (EVALSHA; the EVAL that
// follows a NOSCRIPT is the same run).
type scriptCounter struct{ n atomic.Int64 }

func (c *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestObserveWritesOnlyWhatChanged: Webflow sends X-RateLimit-Limit on
// every answer; the limiter writes a reported limit to Redis only when it
// is new or changed for this replica (or due for a refresh), while a 429
// and an empty window are always recorded.
func TestObserveWritesOnlyWhatChanged(t *testing.T) {
	_, rdb := newMiniredisClient(t, false)
	cnt := &scriptCounter{}
	rdb.AddHook(cnt)
	l, err := NewLimiter(rdb, LimiterOptions{DefaultPerMinute: 120, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "tok1"
	steps := []struct {
		name   string
		info   webflowdata.RateInfo
		writes int64
		limit  int // Effective afterwards
	}{
		{"first report of the full limit", webflowdata.RateInfo{Status: 200, Limit: 120, Remaining: 50}, 1, 120},
		{"same limit again", webflowdata.RateInfo{Status: 200, Limit: 120, Remaining: 49}, 0, 120},
		{"and again", webflowdata.RateInfo{Status: 200, Limit: 120, Remaining: 48}, 0, 120},
		{"a lower limit", webflowdata.RateInfo{Status: 200, Limit: 60, Remaining: 40}, 1, 60},
		{"the lower limit again", webflowdata.RateInfo{Status: 200, Limit: 60, Remaining: 39}, 0, 60},
		{"back to the full limit: forgotten at once", webflowdata.RateInfo{Status: 200, Limit: 120, Remaining: 80}, 1, 120},
		{"no header", webflowdata.RateInfo{Status: 200, Limit: -1, Remaining: -1}, 0, 120},
		{"an empty window is always recorded", webflowdata.RateInfo{Status: 200, Limit: 120, Remaining: 0}, 1, 120},
		{"a 429 is always recorded", webflowdata.RateInfo{Status: 429, Limit: 120, RetryAfter: time.Second}, 1, 120},
	}
	for _, st := range steps {
		before := cnt.n.Load()
		l.Observe(ctx, key, st.info)
		if got := cnt.n.Load() - before; got != st.writes {
			t.Errorf("%s: %d script runs, want %d", st.name, got, st.writes)
		}
		stats, err := l.Stats(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Effective != st.limit {
			t.Errorf("%s: effective limit %d, want %d", st.name, stats.Effective, st.limit)
		}
	}
}
