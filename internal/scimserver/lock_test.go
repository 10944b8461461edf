package scimserver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/state"
)

func newLockHandler(t *testing.T, store *state.RedisStore, poll time.Duration) *usersHandler {
	t.Helper()
	return &usersHandler{site: SiteConfig{ID: "site-lock"}, store: store, lockPoll: poll}
}

func embeddedStore(t *testing.T) *state.RedisStore {
	t.Helper()
	rdb, stop, err := state.NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return state.NewRedisStore(rdb, state.Options{})
}

// waitFor polls cond; it fails the test after a generous bound (it is a
// liveness check, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestLockHandOverOnSameReplica: a request waiting for a user's lock held
// by this replica's worker gets it when the worker lets go, without polling
// (the poll interval is an hour, so only the hand-over can wake it).
func TestLockHandOverOnSameReplica(t *testing.T) {
	h := newLockHandler(t, embeddedStore(t), time.Hour)
	ctx := context.Background()
	_, lk, ok, err := h.tryLock(ctx, "u1", false)
	if err != nil || !ok {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	got := make(chan error, 1)
	go func() {
		_, u, err := h.lockUser(ctx, "u1")
		if err == nil {
			u.unlock()
		}
		got <- err
	}()
	waitFor(t, "the waiter to register", func() bool { return h.waiters.size() == 1 })
	lk.unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("lockUser: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter was not handed the lock")
	}
	if n := h.waiters.size(); n != 0 {
		t.Fatalf("%d waiter entries left behind", n)
	}
	// The user is free again.
	if _, u, ok, err := h.tryLock(ctx, "u1", false); err != nil || !ok {
		t.Fatalf("lock not released: %v %v", ok, err)
	} else {
		u.unlock()
	}
}

// TestLockWaitsForOtherReplica: another replica's holder cannot wake this
// replica's waiter, so the waiter polls; it gets the lock after the release,
// never before, and leaves no waiter entries.
func TestLockWaitsForOtherReplica(t *testing.T) {
	store := embeddedStore(t)
	a, b := newLockHandler(t, store, 0), newLockHandler(t, store, 0)
	ctx := context.Background()
	_, lk, ok, err := a.tryLock(ctx, "u1", false)
	if err != nil || !ok {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	released := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		_, u, err := b.lockUser(ctx, "u1")
		select {
		case <-released:
		default:
			err = errBusy // got the lock while a held it
		}
		if u != nil {
			u.unlock()
		}
		got <- err
	}()
	waitFor(t, "the waiter to register", func() bool { return b.waiters.size() == 1 })
	time.Sleep(30 * time.Millisecond) // several polls while a holds it
	close(released)
	lk.unlock()
	if err := <-got; err != nil {
		t.Fatalf("lockUser on the other replica: %v", err)
	}
	if a.waiters.size() != 0 || b.waiters.size() != 0 {
		t.Fatal("waiter entries left behind")
	}
}

// TestLockWaitCancelled: a cancelled request stops waiting and unregisters.
// The cancel may land while the waiter sleeps or while its try is at Redis
// (the waiter is registered before each try): in the second case the
// store's error wraps context.Canceled, as every ctx error is matched
// (errors.Is), so that is what is asserted.
func TestLockWaitCancelled(t *testing.T) {
	h := newLockHandler(t, embeddedStore(t), time.Hour)
	_, lk, ok, err := h.tryLock(context.Background(), "u1", false)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer lk.unlock()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, _, err := h.lockUser(ctx, "u1"); got <- err }()
	waitFor(t, "the waiter to register", func() bool { return h.waiters.size() == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := h.waiters.size(); n != 0 {
		t.Fatalf("%d waiter entries left behind", n)
	}
}

// TestWaitTurnCancelled pins both moments a cancel can land at, which
// TestLockWaitCancelled hits by chance: while the waiter sleeps (waitTurn
// answers ctx.Err()) and during a try (the try's error, wrapping
// context.Canceled, is answered). Either way the waiter unregisters and
// does not try again.
func TestWaitTurnCancelled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		duringTry bool
	}{
		{"while sleeping", false},
		{"during a try", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newLockHandler(t, nil, time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tries := 0
			got := make(chan error, 1)
			go func() {
				got <- h.waitTurn(ctx, &h.waiters, "u1", func() (bool, error) {
					tries++
					if tc.duringTry {
						cancel()
						return false, fmt.Errorf("state: read users: %w", ctx.Err())
					}
					return false, nil
				})
			}()
			if !tc.duringTry {
				waitFor(t, "the waiter to register", func() bool { return h.waiters.size() == 1 })
				cancel()
			}
			if err := <-got; !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if tries != 1 {
				t.Errorf("%d tries, want 1", tries)
			}
			if n := h.waiters.size(); n != 0 {
				t.Fatalf("%d waiter entries left behind", n)
			}
		})
	}
}
