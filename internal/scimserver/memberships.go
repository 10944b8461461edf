package scimserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Webflow replaces a user's whole accessGroups list on every PATCH. The
// bridge owns only the slugs of linked groups (managed slugs), so every
// write is: what Webflow holds minus the managed slugs, plus the managed
// slugs the IdP wants, with ecommerce groups always kept. Writes for one
// user are serialised across replicas by a Redis lock.
//
// "What Webflow holds" is a GET of the user made under that lock, just
// before the PATCH (readLocked): Webflow changes the list behind the
// bridge's back (a purchase adds an ecommerce group, a site admin sets a
// group in the dashboard), and a list computed from an older copy would
// take those away. A PATCH that carries only data needs no read.

// lockTTL bounds how long a crashed holder can block a user's writes.
const lockTTL = 30 * time.Second

// lockMargin is how long before lockTTL runs out a holder stops calling
// Webflow, so that its PATCH goes out while the lock still keeps every
// other writer of the user away.
const lockMargin = 5 * time.Second

// readLocked returns what Webflow holds for the user now: one GET, made by
// a caller that holds the user's lock and computes its accessGroups write
// from the answer.
//
// It never answers from the stored snapshot, whatever its age or source:
//   - a user_account_updated webhook stored before the lock was taken says
//     nothing about changes after it, and Webflow bounds neither the delay
//     nor the order of its deliveries, so a newer change may still be on
//     its way;
//   - the answer of the bridge's own previous write is stale for the same
//     reason as soon as the lock that covered it is released, and within
//     one hold the bridge writes a user at most once.
//
// Both shortcuts would therefore be safe only if nothing else could change
// the list, which the bridge cannot know; so it reads.
func (h *usersHandler) readLocked(ctx context.Context, rec *state.UserRecord) (*webflowdata.User, error) {
	return h.wf.GetUser(ctx, h.site.ID, rec.WebflowUserID)
}

// fullList computes the accessGroups list to send, and whether it differs
// from what the user holds.
func fullList(cur *webflowdata.User, managed map[string]bool, desired []string) ([]string, bool) {
	out := []string{}
	seen := map[string]bool{}
	for _, g := range cur.AccessGroups {
		if seen[g.Slug] {
			continue
		}
		if !managed[g.Slug] || g.Type == webflowdata.AccessGroupEcommerce {
			out = append(out, g.Slug)
			seen[g.Slug] = true
		}
	}
	for _, s := range desired {
		if managed[s] && !seen[s] {
			out = append(out, s)
			seen[s] = true
		}
	}
	return out, !sameSet(out, cur.Slugs())
}

func sameSet(a, b []string) bool {
	as, bs := slices.Clone(a), slices.Clone(b)
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(slices.Compact(as), slices.Compact(bs))
}

// desiredSlugs is what the IdP wants the user to hold among the managed
// slugs: nothing while the user is deactivated (remove-access).
// Both come from one round trip.
func (h *usersHandler) desiredSlugs(ctx context.Context, rec *state.UserRecord) (map[string]bool, []string, error) {
	v, err := h.store.GroupsOf(ctx, h.site.ID, []string{rec.ID}, true)
	if err != nil {
		return nil, nil, err
	}
	managed, desired := desiredFrom(v, rec)
	return managed, desired, nil
}

// desiredFrom is desiredSlugs on a view already read (with managed slugs).
func desiredFrom(v *state.UserView, rec *state.UserRecord) (map[string]bool, []string) {
	if !rec.Active {
		return v.Managed, nil
	}
	return v.Managed, v.Slugs[rec.ID]
}

// writeUserRemoved brings the Webflow user in line with rec (its active
// flag and the desired managed groups) and with dataPatch, under the
// user's lock (lockedWrite): one GET (readLocked), then at most one PATCH
// computed from it. It returns what Webflow holds afterwards (not saved)
// and the access groups the write took away (so that a log line can say
// what happened, not what was meant to).
func (h *usersHandler) writeUserRemoved(ctx context.Context, w *userWrite, rec *state.UserRecord, dataPatch webflowdata.UserData) (*webflowdata.User, []string, error) {
	if rec.WebflowUserID == "" {
		return nil, nil, nil
	}
	var out *webflowdata.User
	var removed []string
	err := h.lockedWrite(ctx, w, rec, false, func(ctx context.Context, v *state.UserView, cur *webflowdata.User) (bool, error) {
		managed, desired := desiredFrom(v, rec)
		ctx = webflowdata.WithAuditBefore(ctx, cur)
		req := webflowdata.UpdateUserRequest{Data: dataPatch}
		groups, changed := fullList(cur, managed, desired)
		if changed {
			req.AccessGroups = groups
		}
		if req.Data == nil && req.AccessGroups == nil {
			out = cur
			return true, nil
		}
		nu, err := h.wf.UpdateUser(ctx, h.site.ID, rec.WebflowUserID, req)
		if err != nil {
			return false, err
		}
		out = nu
		removed = removed[:0]
		for _, g := range adminSlugs(cur) {
			if changed && !slices.Contains(groups, g) && !slices.Contains(nu.Slugs(), g) {
				removed = append(removed, g)
			}
		}
		if changed && !sameSet(nu.Slugs(), groups) {
			h.log.Warn("access-group drift: Webflow holds a different list than the bridge wrote", "id", rec.ID, "sent", groups, "holds", nu.Slugs())
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, removed, nil
}

// lockedWrite runs write under the user's lock, which w holds (taken by
// the read w comes from, so the record and the view were read under it;
// taken here, with a fresh view, if not): with ctx bounded by the lock
// (heldLock.bound), the user's groups view, and cur, what Webflow holds now
// (readLocked for rec; nil when the Webflow user is gone and missingOK).
// write reports whether Webflow afterwards holds the full list the IdP
// wants, which completes the user's queued membership write as the lock is
// released (w.satisfied). The lock stays held: the caller stores the
// record and releases it in one step (saveWrite), or w.release does. A
// call that must not be cut short by the bound (an invite) uses the
// caller's own ctx.
func (h *usersHandler) lockedWrite(ctx context.Context, w *userWrite, rec *state.UserRecord, missingOK bool,
	write func(ctx context.Context, v *state.UserView, cur *webflowdata.User) (satisfied bool, err error)) error {
	if w.lock == nil {
		v, lk, err := h.lockUser(ctx, rec.ID)
		if err != nil {
			return err
		}
		w.view, w.lock = v, lk
	}
	bounded, cancel := w.lock.bound(ctx)
	defer cancel()
	cur, err := h.readLocked(bounded, rec)
	if err != nil {
		if !missingOK || !webflowdata.IsNotFound(err) {
			return err
		}
		cur = nil
	}
	satisfied, err := write(bounded, w.view, cur)
	w.satisfied = satisfied && err == nil
	return err
}

var errBusy = errors.New("another writer holds this user's lock")

// lockUser waits briefly for the user's lock (waitTurn): a SCIM request
// should not fail because a background write is in flight. With the lock
// comes the user's groups view (no record), read in the same round trip.
func (h *usersHandler) lockUser(ctx context.Context, id string) (*state.UserView, *heldLock, error) {
	var v *state.UserView
	var lk *heldLock
	err := h.waitTurn(ctx, &h.waiters, id, func() (bool, error) {
		var ok bool
		var err error
		v, lk, ok, err = h.tryLock(ctx, id, false)
		return ok, err
	})
	if err != nil {
		return nil, nil, err
	}
	return v, lk, nil
}

// tryLock takes the user's lock if it is free and reads the user's view
// (with the record when records is set) in the same round trip. Releasing
// it also wakes the requests of this replica that wait for the same user.
func (h *usersHandler) tryLock(ctx context.Context, id string, records bool) (*state.UserView, *heldLock, bool, error) {
	// Taken before the lock, so the lock expires no earlier than this.
	expires := time.Now().Add(lockTTL)
	v, lk, ok, err := h.store.LockView(ctx, h.site.ID, id, lockTTL, records)
	if err != nil || !ok {
		return nil, nil, false, err
	}
	return v, &heldLock{lk: lk, id: id, waiters: &h.waiters, expires: expires}, true, nil
}

// heldLock is a user's write lock held by this replica.
type heldLock struct {
	lk      *state.UserLock
	id      string
	waiters *lockWaiters
	expires time.Time // the lock's TTL runs out no earlier than this
}

// bound returns ctx ending lockMargin before the lock may expire, for the
// holder's Webflow calls: a budget wait that would outlast the lock fails
// at once (429 to an IdP, a later retry for the worker) instead of writing
// a list read before another writer could take the lock.
func (l *heldLock) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, l.expires.Add(-lockMargin))
}

// unlock releases the lock.
func (l *heldLock) unlock() {
	l.lk.Unlock()
	l.waiters.release(l.id)
}

// unlockSatisfied releases the lock after the holder wrote the user's full
// desired group list to Webflow: the user's queued membership write, if
// nothing changed meanwhile, is done too, so the worker skips the user.
func (l *heldLock) unlockSatisfied() {
	l.lk.UnlockSatisfied()
	l.waiters.release(l.id)
}

// saveUnlock stores rec, releases the lock and completes the user's
// queued membership write in one round trip (state.UserLock.SaveUnlock):
// the worker's step after a successful write that changed the record. If
// the lock expired meanwhile nothing is stored (another writer may hold
// the user, and stores what it reads) and the user stays queued.
func (l *heldLock) saveUnlock(ctx context.Context, rec *state.UserRecord) error {
	err := l.lk.SaveUnlock(ctx, rec, true)
	l.waiters.release(l.id)
	return err
}

// unlockCompleted releases the lock and completes the user's queued
// membership write (state.UserLock.UnlockCompleted): the worker's step
// after a successful write.
func (l *heldLock) unlockCompleted(ctx context.Context) error {
	_, err := l.lk.UnlockCompleted(ctx)
	l.waiters.release(l.id)
	return err
}

// lockWaiters lets a replica's lock holder wake that replica's waiters for
// the same user at once. Entries exist only while someone waits.
type lockWaiters struct {
	mu sync.Mutex
	m  map[string]*lockWaiter
}

type lockWaiter struct {
	ch chan struct{} // closed by release
	n  int           // waiters holding ch
}

// wait registers a waiter for id and returns the channel release closes.
// Register before trying the lock, so a release in between is not missed.
func (w *lockWaiters) wait(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]*lockWaiter)
	}
	e := w.m[id]
	if e == nil {
		e = &lockWaiter{ch: make(chan struct{})}
		w.m[id] = e
	}
	e.n++
	return e.ch
}

// done unregisters a waiter; the last one removes the entry.
func (w *lockWaiters) done(id string, ch <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.m[id]; e != nil && e.ch == ch {
		if e.n--; e.n <= 0 {
			delete(w.m, id)
		}
	}
}

// release wakes every waiter for id.
func (w *lockWaiters) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.m[id]; e != nil {
		close(e.ch)
		delete(w.m, id)
	}
}

// size is the number of users with waiters (for tests).
func (w *lockWaiters) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// drain applies every due pending write of the site once, leaving those
// younger than settle queued. It returns how many users it handled.
func (h *usersHandler) drain(ctx context.Context, batch int, settle time.Duration) (int, error) {
	due, err := h.store.DuePending(ctx, h.site.ID, batch, settle)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range due {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if h.applyPending(ctx, p) {
			n++
		}
	}
	return n, nil
}

// applyPending writes one pending user. It reports false when another
// replica holds the user's lock (that replica will do it).
func (h *usersHandler) applyPending(ctx context.Context, p state.Pending) bool {
	ctx = withActor(webflowdata.WithPriority(ctx, webflowdata.PriorityBackground), "membership-worker")
	v, lk, ok, err := h.tryLock(ctx, p.UserID, true)
	if err != nil || !ok {
		return false
	}
	store, err := h.applyLocked(ctx, p.UserID, v, lk)
	if err == nil {
		// The record stored (when it changed), the lock released and the
		// write marked done, in one round trip.
		var cerr error
		if store != nil {
			cerr = lk.saveUnlock(ctx, store)
		} else {
			cerr = lk.unlockCompleted(ctx)
		}
		if cerr != nil {
			h.log.Warn("could not mark a membership write done; it will be re-checked", "id", p.UserID, "error", cerr)
		}
		return true
	}
	lk.unlock()
	log := h.log.With("id", p.UserID)
	switch {
	case permanent(err):
		log.Error("membership write failed for good; recorded, not retried", "error", err)
		_, _ = h.store.CompletePending(ctx, h.site.ID, p, failureText(err))
	default:
		wait := backoff(err, p)
		attempts, _ := h.store.RetryPending(ctx, h.site.ID, p.UserID, wait, failureText(err))
		if attempts >= maxAttempts {
			log.Error("membership write kept failing; recorded, not retried", "attempts", attempts, "error", err)
			_, _ = h.store.CompletePending(ctx, h.site.ID, p, failureText(err))
		} else {
			log.Warn("membership write failed; will retry", "attempt", attempts, "retry_in", wait.String(), "error", err)
		}
	}
	return true
}

const maxAttempts = 20

// applyLocked writes the user's groups (the caller holds lk and read v,
// the user's view with its record, when it took it): one GET, then one
// PATCH if the list changes. It returns the record to store as the lock
// is released (what Webflow holds now), or nil when it is unchanged.
func (h *usersHandler) applyLocked(ctx context.Context, id string, v *state.UserView, lk *heldLock) (*state.UserRecord, error) {
	if len(v.Users) == 0 {
		return nil, nil // deleted meanwhile: nothing to write
	}
	wctx, cancel := lk.bound(ctx)
	defer cancel()
	rec := v.Users[0]
	if rec.Tombstone {
		// A cascaded delete: the Webflow user, then the record.
		if rec.WebflowUserID != "" {
			if err := h.deleteUpstream(wctx, rec.WebflowUserID); err != nil {
				return nil, err
			}
		}
		if err := h.store.DeleteUser(ctx, h.site.ID, id); err != nil && !errors.Is(err, state.ErrNotFound) {
			return nil, err
		}
		h.log.Info("audit: cascaded delete applied", "audit", true, "id", id, "email", rec.Email)
		return nil, h.store.ForgetUser(ctx, h.site.ID, id)
	}
	if rec.WebflowUserID == "" {
		return nil, nil
	}
	if !rec.Active && h.site.Deactivation == DeactivateDelete {
		// A queued deactivation (cascade) under the delete policy.
		if err := h.deleteUpstream(wctx, rec.WebflowUserID); err != nil {
			return nil, err
		}
		out := *rec
		out.WebflowUserID, out.Webflow = "", nil
		return nil, h.save(ctx, &out)
	}
	cur, err := h.readLocked(wctx, rec)
	if err != nil {
		return nil, err
	}
	managed, desired := desiredFrom(v, rec)
	groups, changed := fullList(cur, managed, desired)
	nu := cur
	if changed {
		if nu, err = h.wf.UpdateUser(webflowdata.WithAuditBefore(wctx, cur), h.site.ID, rec.WebflowUserID, webflowdata.UpdateUserRequest{AccessGroups: groups}); err != nil {
			return nil, err
		}
		if !sameSet(nu.Slugs(), groups) {
			h.log.Warn("access-group drift: Webflow holds a different list than the bridge wrote", "id", id, "sent", groups, "holds", nu.Slugs())
		}
	}
	out := *rec
	h.fill(&out, decodeUser(rec), rec.Email, nu)
	if sameContent(rec, &out) {
		return nil, nil // nothing written, nothing new to store
	}
	return &out, nil
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) bool {
	var pe permanentError
	return errors.As(err, &pe) || webflowdata.IsNotFound(err) || webflowdata.IsValidation(err) || webflowdata.IsUserAccountsUnavailable(err)
}

func failureText(err error) string {
	switch {
	case webflowdata.IsNotFound(err):
		return "the Webflow user no longer exists"
	case webflowdata.IsUserAccountsUnavailable(err):
		return webflowdata.ErrUserAccountsUnavailable.Error()
	}
	return err.Error()
}

func backoff(err error, _ state.Pending) time.Duration {
	if e, ok := webflowdata.AsAPIError(err); ok && e.RetryAfter > 0 {
		return e.RetryAfter
	}
	var wte *state.WaitTimeoutError
	if errors.As(err, &wte) && wte.RetryAfter > 0 {
		return wte.RetryAfter // the budget was not to be had within the lock's time
	}
	if errors.Is(err, errBusy) {
		return time.Second
	}
	return 0 // exponential, by attempt count
}

// Worker drains every site's membership queue until ctx ends. Each replica
// runs one; the per-user lock makes them share the work safely. A change
// is written once it is MembershipSettle old, with whatever else arrived
// for the same user meanwhile.
func (s *Server) Worker(ctx context.Context, poll time.Duration) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	lastLog := time.Now()
	for {
		if time.Since(lastLog) > time.Minute {
			s.logQueue(ctx, s.log)
			lastLog = time.Now()
		}
		busy := false
		for _, st := range s.sites {
			n, err := st.users.drain(ctx, 50, s.settle)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("membership queue unavailable", "site", st.cfg.ID, "error", err)
			}
			busy = busy || n > 0
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
			// A change was just queued: let it settle, then write it
			// with whatever else arrived for the same user meanwhile.
			if s.settle > 0 {
				st := time.NewTimer(s.settle)
				select {
				case <-ctx.Done():
					st.Stop()
					return
				case <-st.C:
				}
			}
		}
	}
}

// Drain applies every pending write now (tests, shutdown). It loops until
// no site has due work or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	for {
		total := 0
		for _, st := range s.sites {
			n, err := st.users.drain(ctx, 100, 0)
			if err != nil {
				return err
			}
			total += n
		}
		if total == 0 {
			return nil
		}
	}
}

// QueueStats reports a site's membership queue.
func (s *Server) QueueStats(ctx context.Context, siteID string) (state.QueueStats, error) {
	st, ok := s.sites[siteID]
	if !ok {
		return state.QueueStats{}, fmt.Errorf("no site %s", siteID)
	}
	return st.users.store.QueueStats(ctx, siteID)
}

// logQueue logs each site's queue when it has work, so operators see it.
func (s *Server) logQueue(ctx context.Context, log *slog.Logger) {
	for id, st := range s.sites {
		qs, err := st.users.store.QueueStats(ctx, id)
		if err != nil || (qs.Pending == 0 && len(qs.Failures) == 0) {
			continue
		}
		age := time.Duration(0)
		if !qs.OldestPending.IsZero() {
			age = time.Since(qs.OldestPending).Round(time.Second)
		}
		log.Info("membership queue", "site", id, "pending", qs.Pending, "oldest_age", age.String(), "failures", len(qs.Failures))
	}
}
