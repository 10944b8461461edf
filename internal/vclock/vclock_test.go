package vclock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Time moves only when every participant sleeps, and then to the earliest
// wake-up; sleepers due by then wake, later ones keep sleeping.
func TestClockMovesWhenEveryParticipantSleeps(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := New(t0)
	c.Join()
	c.Join()
	ctx := context.Background()
	done := make(chan time.Time, 1)
	go func() {
		_ = c.Sleep(ctx, 3*time.Second)
		done <- c.Now()
	}()
	// One participant sleeps, the other is at work: time stands still.
	waitSleepers(t, c, 1)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("time moved to %v while a participant was at work", got)
	}
	// The second sleeps for 1 s: time jumps to t0+1s, the first sleeps on.
	if err := c.Sleep(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.Now(); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("now %v, want t0+1s", got)
	}
	select {
	case at := <-done:
		t.Fatalf("the 3 s sleeper woke at %v", at)
	default:
	}
	// The second leaves: the first is the only participant, and sleeps.
	c.Leave()
	if at := <-done; !at.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("the 3 s sleeper woke at %v, want t0+3s", at)
	}
}

// Sleepers due at the same instant wake together; a cancelled sleep
// returns ctx's error and no longer counts.
func TestClockSameInstantAndCancel(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := New(t0)
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		c.Join()
	}
	errs := make(chan error, 3)
	go func() { errs <- c.Sleep(ctx, time.Hour) }()
	waitSleepers(t, c, 1)
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled sleep: %v", err)
	}
	c.Leave() // the cancelled one leaves
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { errs <- c.Sleep(context.Background(), 2*time.Second) })
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Now(); !got.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("now %v, want t0+2s", got)
	}
	// No participant left: a sleep moves time on and returns.
	c.Leave()
	c.Leave()
	if err := c.Sleep(context.Background(), time.Minute); err != nil || !c.Now().Equal(t0.Add(2*time.Second+time.Minute)) {
		t.Fatalf("lone sleep: %v, now %v", err, c.Now())
	}
}

func waitSleepers(t *testing.T, c *Clock, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		got := len(c.sleepers)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sleepers, want %d", got, n)
		}
	}
}
