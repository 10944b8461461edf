package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// retryingIdP provisions users as Okta does: POST /Users; on a 409 its
// userName eq lookup, which links the user when it finds them and marks
// the assignment failed when it does not (an unfindable 409); any other
// answer is retried after pause(attempt), on the next replica, at most
// retries times (0: until the deadline).
type retryingIdP struct {
	reps     []*bridgeHarness
	retries  int
	pause    func(attempt int) time.Duration
	deadline time.Time

	mu         sync.Mutex
	seen       map[int]int // statuses answered to POST /Users
	unfindable []string    // 409s that the lookup right after did not find
	failed     []string    // users the IdP gave up on
}

func newRetryingIdP(reps []*bridgeHarness, retries int, pause func(attempt int) time.Duration) *retryingIdP {
	return &retryingIdP{reps: reps, retries: retries, pause: pause, deadline: time.Now().Add(4 * time.Minute), seen: map[int]int{}}
}

// provision runs one assignment to its end and reports whether the user
// ended up provisioned.
func (p *retryingIdP) provision(first int, email, name string) bool {
	for attempt := 0; (p.retries == 0 || attempt <= p.retries) && time.Now().Before(p.deadline); attempt++ {
		h := p.reps[(first+attempt)%len(p.reps)]
		r := h.doQuiet("POST", "/Users", createBody(email, name))
		p.mu.Lock()
		p.seen[r.Status]++
		p.mu.Unlock()
		switch r.Status {
		case 201:
			return true
		case 409:
			l := h.doQuiet("GET", filterQ(`userName eq "`+email+`"`), nil)
			if l.Status == 200 && l.Body["totalResults"] == 1.0 {
				return true
			}
			p.mu.Lock()
			p.unfindable = append(p.unfindable, email)
			p.failed = append(p.failed, email)
			p.mu.Unlock()
			return false
		}
		time.Sleep(p.pause(attempt))
	}
	p.mu.Lock()
	p.failed = append(p.failed, email)
	p.mu.Unlock()
	return false
}

// run provisions users 0..n-1 (email(i)) with workers assignments at a time.
func (p *retryingIdP) run(n, workers int, email func(i int) string) {
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p.provision(i+w, email(i), fmt.Sprintf("User %d", i))
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// checkInvitedOnce asserts that every email was invited exactly once and
// that the bridge's record and Webflow's user agree.
func checkInvitedOnce(t *testing.T, h *bridgeHarness, emails []string) {
	t.Helper()
	twice := 0
	for _, email := range emails {
		if n := h.sim.InvitesTo(email); n != 1 {
			twice++
			if twice < 5 {
				t.Errorf("%s invited %d times", email, n)
			}
		}
		r := h.must(200, h.do("GET", filterQ(`userName eq "`+email+`"`), nil))
		if r.Body["totalResults"] != 1.0 {
			t.Errorf("%s not provisioned: %s", email, r.Raw)
			continue
		}
		wu, ok := h.webflowUser(email)
		if !ok || str(r.Body, "Resources.0.id") != wu.ID {
			t.Errorf("%s: record and Webflow disagree", email)
		}
	}
	if twice > 0 {
		t.Errorf("%d users were not invited exactly once", twice)
	}
}

const invitePath = "/v2/sites/*/users/invite"

// An IdP that retries every 300 ms, 10 times, against two replicas while
// 30% of invites fail ambiguously (5xx before and after Webflow processed
// them, dropped connections): every user is created, each invited exactly
// once, and no 409 is ever unfindable. The reservations keep the default
// pendingCreateTimeout (90 s): nothing here may wait for it.
func TestCreateRetriesThroughAmbiguousInvites(t *testing.T) {
	const users = 40
	ss := newSharedSim(t)
	shared := sharedRedis(t)
	reps := []*bridgeHarness{newReplica(t, ss, shared), newReplica(t, ss, shared)}
	ss.sim.SetRandomFaults(webflowsim.RandomFaults{Seed: 14, Rate: 0.3, Statuses: []int{500, 502, 503}, DropRate: 0.3, AfterRate: 0.5,
		Method: http.MethodPost, Path: invitePath})
	idp := newRetryingIdP(reps, 10, func(int) time.Duration { return 300 * time.Millisecond })
	email := func(i int) string { return fmt.Sprintf("amb%02d@example.com", i) }
	start := time.Now()
	idp.run(users, 8, email)
	ss.sim.ClearFaults()
	invites := ss.sim.CountRequests(http.MethodPost, invitePath)
	lookups := ss.sim.CountRequests(http.MethodGet, "/v2/sites/*/users")
	t.Logf("%d users in %v; IdP saw %v; %d invite calls, %d user-list reads", users, time.Since(start).Round(time.Millisecond), idp.seen, invites, lookups)
	if len(idp.unfindable) > 0 {
		t.Errorf("409 answered but the userName filter right after found nobody, for %d users, e.g. %s", len(idp.unfindable), idp.unfindable[0])
	}
	if len(idp.failed) > 0 {
		t.Errorf("the IdP gave up on %d users, e.g. %s", len(idp.failed), idp.failed[0])
	}
	for code, n := range idp.seen {
		if code != 201 && code != 409 && code != 503 {
			t.Errorf("the IdP saw %d %d times", code, n)
		}
	}
	if idp.seen[503] == 0 {
		t.Errorf("no invite failed before Webflow processed it: the faults did not bite (%v)", idp.seen)
	}
	var emails []string
	for i := range users {
		emails = append(emails, email(i))
	}
	checkInvitedOnce(t, reps[0], emails)
}

// After one ambiguous invite, the next attempt, on the other replica,
// resolves it at once: it looks the email up and links the user if the
// invite went through (then the first attempt already did), otherwise
// invites. Every case ends with one invite and a user the filter finds.
func TestAmbiguousInviteResolvedByNextAttempt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     webflowsim.Fault
		processed bool // Webflow invited the user before the answer was lost
	}{
		{"502 before processing", webflowsim.Fault{Status: 502}, false},
		{"500 after processing", webflowsim.Fault{Status: 500, After: true}, true},
		{"dropped before processing", webflowsim.Fault{Drop: true}, false},
		{"dropped after processing", webflowsim.Fault{Drop: true, After: true}, true},
		{"timeout before processing", webflowsim.Fault{Delay: 2 * time.Second}, false},
		{"timeout after processing", webflowsim.Fault{Delay: 2 * time.Second, After: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss := newSharedSim(t)
			shared := sharedRedis(t)
			// Webflow calls give up after 1 s, so a 2 s delay is
			// a timeout.
			aopts := appOptions{HTTPClient: &http.Client{Timeout: time.Second}}
			reps := []*bridgeHarness{newReplicaWith(t, ss, aopts, shared), newReplicaWith(t, ss, aopts, shared)}
			const email = "ambiguous@example.com"
			ft := tc.fault
			ft.Method, ft.Path = http.MethodPost, invitePath
			ss.sim.InjectFault(ft)

			first := reps[0].do("POST", "/Users", createBody(email, "Amb Iguous"))
			want := 503
			if tc.processed {
				want = 201 // the lookup right after the lost answer found the user
			}
			if first.Status != want {
				t.Fatalf("first attempt: %d, want %d: %s", first.Status, want, first.Raw)
			}
			if want == 503 && first.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			ss.sim.ResetRequests()
			second := reps[1].do("POST", "/Users", createBody(email, "Amb Iguous"))
			if tc.processed {
				if second.Status != 409 {
					t.Fatalf("second attempt: %d, want 409: %s", second.Status, second.Raw)
				}
				if n := reps[1].calls(); n != 0 {
					t.Errorf("a 409 from the record cost %d Webflow calls", n)
				}
			} else {
				if second.Status != 201 {
					t.Fatalf("second attempt: %d, want 201 at once: %s", second.Status, second.Raw)
				}
				// The unresolved create costs one look-up and one invite.
				if l, i := ss.sim.CountRequests(http.MethodGet, "/v2/sites/*/users"), ss.sim.CountRequests(http.MethodPost, invitePath); l != 1 || i != 1 {
					t.Errorf("resolving cost %d user-list reads and %d invites, want 1 and 1", l, i)
				}
			}
			l := reps[0].must(200, reps[0].do("GET", filterQ(`userName eq "`+email+`"`), nil))
			if l.Body["totalResults"] != 1.0 {
				t.Errorf("the user is not findable: %s", l.Raw)
			}
			checkInvitedOnce(t, reps[0], []string{email})
		})
	}
}

// Two POSTs for one user at once: the second waits for the first (at once
// when both are on one replica, by polling across replicas), then answers
// 409 with the user findable, or carries on when the first failed. When
// the wait runs out (a holder that is still at work, or died), 503 with
// Retry-After, and nothing reaches Webflow.
func TestConcurrentCreateWaitsForTheFirst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     *webflowsim.Fault // on the first attempt's invite
		sameRep   bool
		want1     int // the first attempt's answer
		want2     int // the second's
		deadFirst bool
	}{
		{"first succeeds, other replica", &webflowsim.Fault{Delay: 400 * time.Millisecond}, false, 201, 409, false},
		{"first succeeds, same replica", &webflowsim.Fault{Delay: 400 * time.Millisecond}, true, 201, 409, false},
		{"first refused, nothing sent", &webflowsim.Fault{Delay: 400 * time.Millisecond, Status: 400}, false, 400, 201, false},
		{"first gives up unresolved", &webflowsim.Fault{Delay: 400 * time.Millisecond, Status: 502}, false, 503, 201, false},
		{"first is dead", nil, false, 0, 503, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			ss := newSharedSim(t)
			shared := func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() }
			aopts := appOptions{LockWait: 2 * time.Second}
			reps := []*bridgeHarness{newReplicaWith(t, ss, aopts, shared), newReplicaWith(t, ss, aopts, shared)}
			const email = "twice@example.com"
			second := reps[1]
			if tc.sameRep {
				second = reps[0]
			}
			var first resp
			done := make(chan struct{})
			if tc.deadFirst {
				// A holder that reserved and died: nobody will release it
				// before pendingCreateTimeout (90 s).
				if _, err := reps[0].app.store.ReserveCreate(context.Background(), testSite, []string{email}, nil, time.Minute, time.Minute); err != nil {
					t.Fatal(err)
				}
				close(done)
			} else {
				ft := *tc.fault
				ft.Method, ft.Path = http.MethodPost, invitePath
				ss.sim.InjectFault(ft)
				go func() {
					defer close(done)
					first = reps[0].doQuiet("POST", "/Users", createBody(email, "Twice"))
				}()
				waitUntil(t, "the first attempt's reservation", func() bool {
					for _, k := range mr.Keys() {
						if strings.Contains(k, ":creating:") {
							return true
						}
					}
					return false
				})
			}
			ss.sim.ResetRequests()
			t0 := time.Now()
			r := second.do("POST", "/Users", createBody(email, "Twice"))
			waited := time.Since(t0)
			var l resp
			if r.Status == 409 {
				l = second.do("GET", filterQ(`userName eq "`+email+`"`), nil)
			}
			<-done
			if !tc.deadFirst && first.Status != tc.want1 {
				t.Errorf("first attempt: %d, want %d", first.Status, tc.want1)
			}
			if r.Status != tc.want2 {
				t.Fatalf("second attempt: %d after %v, want %d: %s", r.Status, waited, tc.want2, r.Raw)
			}
			switch r.Status {
			case 409:
				if l.Body["totalResults"] != 1.0 {
					t.Errorf("409 but the userName filter right after finds nobody: %s", l.Raw)
				}
			case 503:
				if r.Header.Get("Retry-After") == "" || waited < 2*time.Second {
					t.Errorf("503 after %v with Retry-After %q, want after the 2s wait, with Retry-After", waited, r.Header.Get("Retry-After"))
				}
				if n := second.calls(); n != 0 {
					t.Errorf("a create that waited in vain made %d Webflow calls", n)
				}
				return
			}
			checkInvitedOnce(t, reps[0], []string{email})
		})
	}
}

// waitUntil polls cond; it fails the test after a generous bound (a
// liveness check, not a timing assertion).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
