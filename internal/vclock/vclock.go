// Package vclock is a virtual clock for tests and benchmarks of pacing
// (the Webflow rate limiter with time compressed to a budget per second).
//
// Time stands still while any participant is at work and jumps to the
// earliest wake-up once every participant sleeps on the clock. A request
// the limiter admits at virtual time t therefore reaches the (simulated)
// Webflow at t as well, however long the machine takes to carry it there:
// with time compressed 60-fold a scheduling delay of 15 ms counts as a
// second, which on a loaded machine is noise the limiter cannot see, not
// pacing. Starved goroutines do not lose slots either, so what a run
// measures (admissions per window, budget used) is what the limiter's
// arithmetic allows, the same on every run.
//
// Participants are the goroutines that generate the load (the clients of a
// bulk create, the workers of a limiter test): each calls Join before its
// first request and Leave after its last. Sleep is the limiter's timer
// (state.LimiterOptions.Sleep) and Now its clock (LimiterOptions.Now, and
// the simulator's). A goroutine that sleeps without having joined counts as
// a sleeper too; with no participant left, every Sleep returns at once
// after moving time on.
//
// On a real Redis the limiter's keys still expire in real time (the time
// they cover plus one Period): were every participant stalled for more
// than a Period while virtual time stood still, a bucket could expire
// early. A call takes milliseconds, the compressed Periods are a second or
// more; miniredis expires nothing on its own.
package vclock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock is a virtual clock. The zero value is not usable; call New.
type Clock struct {
	mu       sync.Mutex
	now      time.Time
	active   int // participants that joined and have not left
	sleepers []*sleeper
}

type sleeper struct {
	at   time.Time
	wake chan struct{}
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Join adds a participant: time does not move while it is at work.
func (c *Clock) Join() {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
}

// Leave removes a participant; time may move on without it.
func (c *Clock) Leave() {
	c.mu.Lock()
	c.active--
	c.advanceLocked()
	c.mu.Unlock()
}

// Sleep returns once the clock reads d later than now, or when ctx ends
// (with ctx.Err()). It has the signature of state.LimiterOptions.Sleep.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{at: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.advanceLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.sleepers, s); i >= 0 {
			c.sleepers = slices.Delete(c.sleepers, i, i+1)
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// advanceLocked moves time to the earliest wake-up and wakes every sleeper
// due by then, if every participant sleeps.
func (c *Clock) advanceLocked() {
	if len(c.sleepers) == 0 || len(c.sleepers) < c.active {
		return
	}
	next := c.sleepers[0].at
	for _, s := range c.sleepers[1:] {
		if s.at.Before(next) {
			next = s.at
		}
	}
	if next.After(c.now) {
		c.now = next
	}
	c.sleepers = slices.DeleteFunc(c.sleepers, func(s *sleeper) bool {
		if s.at.After(c.now) {
			return false
		}
		close(s.wake)
		return true
	})
}
