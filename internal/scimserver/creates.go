package scimserver

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
)

// DefaultLockWait is how long a SCIM request waits for another writer of
// the same user (the user's lock, or another attempt at creating the same
// person) before it answers 503 with Retry-After.
const DefaultLockWait = 5 * time.Second

// errCreateInFlight means another attempt at creating the same person was
// still at work when the wait ran out.
var errCreateInFlight = errors.New("another create of this user is in progress")

// waitTurn calls try until it reports done or fails, for at most the lock
// wait. A holder on this replica wakes the waiter the moment it lets go of
// key (w.release); one on another replica is polled for, at 2 ms doubling
// to 25 ms, so the usual wait (one Webflow call, a few ms) costs a few ms
// and not a fixed tick. It returns errBusy when the time runs out.
func (h *usersHandler) waitTurn(ctx context.Context, w *lockWaiters, key string, try func() (done bool, err error)) error {
	deadline := time.Now().Add(h.lockWaitBound())
	poll, maxPoll := 2*time.Millisecond, 25*time.Millisecond
	if h.lockPoll > 0 {
		poll, maxPoll = h.lockPoll, h.lockPoll
	}
	for {
		released := w.wait(key)
		done, err := try()
		if done || err != nil {
			w.done(key, released)
			return err
		}
		if time.Now().After(deadline) {
			w.done(key, released)
			return errBusy
		}
		t := time.NewTimer(min(poll, time.Until(deadline)+time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			w.done(key, released)
			return ctx.Err()
		case <-released:
		case <-t.C:
		}
		t.Stop()
		w.done(key, released)
		poll = min(2*poll, maxPoll)
	}
}

func (h *usersHandler) lockWaitBound() time.Duration {
	if h.lockWait > 0 {
		return h.lockWait
	}
	return DefaultLockWait
}

// createKey is what a create's waiters on this replica wait on: the email,
// which every attempt at creating the same person reserves.
func createKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// reserveCreate reserves the create of u before anything reaches Webflow
// (every invite sends an email), checking in the same atomic step that no
// record holds the userName or the email. While another attempt at
// creating the same person is at work (two concurrent POSTs), it waits for
// that attempt, within the lock wait: when that attempt stores the user,
// the answer is the *state.ConflictError the caller turns into a 409 that
// a userName filter then finds; when it fails, this attempt carries on
// with the reservation; when it gave up without knowing whether Webflow
// invited the user, this attempt takes it over (Takeover) and resolves it.
// errCreateInFlight means the wait ran out.
func (h *usersHandler) reserveCreate(ctx context.Context, u mapping.User, email string) (*state.CreateReservation, error) {
	var res *state.CreateReservation
	err := h.waitTurn(ctx, &h.creates, createKey(email), func() (bool, error) {
		r, err := h.store.ReserveCreate(ctx, h.site.ID, []string{email, u.UserName},
			[]state.CreateCheck{{Index: state.IndexUserName, Value: u.UserName}, {Index: state.IndexEmail, Value: email}},
			createReservationTTL, h.createStaleAfter)
		if errors.Is(err, state.ErrCreateInProgress) {
			return false, nil
		}
		res = r
		return true, err
	})
	if errors.Is(err, errBusy) {
		return nil, errCreateInFlight
	}
	return res, err
}
