package main

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Requests about ids the bridge does not know (issue 14, point 3).

// unknownIDRequests are the four requests an IdP (or anyone with the
// site's token) can send about one user id.
func unknownIDRequests(email string) []struct {
	method string
	body   any
} {
	return []struct {
		method string
		body   any
	}{
		{"GET", nil},
		{"PUT", `{"schemas":["` + userSchema + `"],"userName":"` + email + `","name":{"givenName":"Taken","familyName":"Over"},"active":false}`},
		{"PATCH", patch(op("replace", "", map[string]any{"active": false}))},
		{"DELETE", nil},
	}
}

// Outside a rebuild, GET, PUT, PATCH and DELETE of an id the bridge does
// not hold answer 404 and make no Webflow call: a customer who signed up
// on the site (never provisioned by the bridge) cannot be read, changed
// or deleted with a SCIM token, and random ids cost nothing. Asked again,
// the same id costs no Redis round trip either.
func TestUnknownUserIDsCostNothing(t *testing.T) {
	h := newBridge(t)
	cnt := &rtCounter{}
	h.app.rdb.AddHook(cnt)
	known := h.newUser("known@example.com")
	gone := h.newUser("gone@example.com")
	h.must(204, h.do("DELETE", "/Users/"+gone, nil))
	// mike@example.com signed up on the site and bought the "customers"
	// group: a Webflow user the bridge never provisioned.
	mike, ok := h.webflowUser("mike@example.com")
	if !ok {
		t.Fatal("the demo seed has mike@example.com")
	}
	for _, tc := range []struct{ name, id, email string }{
		{"never provisioned", mike.ID, "mike@example.com"},
		{"random 24-hex", "65a1b2c3d4e5f60718293a4b", "nobody@example.com"},
		{"deleted by the IdP", gone, "gone@example.com"},
		{"not a Webflow id", "not-an-id", "nobody@example.com"},
	} {
		for _, rq := range unknownIDRequests(tc.email) {
			for attempt := 1; attempt <= 2; attempt++ {
				calls := h.calls()
				cnt.take()
				r := h.do(rq.method, "/Users/"+tc.id, rq.body)
				n, cmds := cnt.take()
				if r.Status != 404 || !hasSchema(r.Body, scimErrorURN) || r.Body["status"] != "404" {
					t.Errorf("%s: %s #%d: %d %s, want a 404 SCIM error", tc.name, rq.method, attempt, r.Status, r.Raw)
				}
				if c := h.calls() - calls; c != 0 {
					t.Errorf("%s: %s #%d made %d Webflow calls, want 0", tc.name, rq.method, attempt, c)
				}
				if attempt == 2 && n != 0 {
					t.Errorf("%s: %s of a known miss made %d Redis round trips, want 0: %s", tc.name, rq.method, n, strings.Join(cmds, " "))
				}
			}
		}
	}
	if after, ok := h.sim.User(testSite, mike.ID); !ok || !reflect.DeepEqual(after, mike) {
		t.Errorf("the never-provisioned customer changed:\n before %+v\n after  %+v (exists %v)", mike, after, ok)
	}
	if r := h.must(200, h.do("GET", "/Users/"+known, nil)); r.Body["active"] != true {
		t.Errorf("a known user is unaffected: %s", r.Raw)
	}
	if c := h.sim.CountRequests("DELETE", "/v2/sites/*/users/*"); c != 1 {
		t.Errorf("%d Webflow DELETEs, want 1 (the IdP's delete of its own user)", c)
	}
}

// peerRebuild plays another replica that is rebuilding the site after a
// Redis loss: it keeps the site marker at "rebuilding" until stopped, then
// marks the site steady, as that replica would when done.
func peerRebuild(t *testing.T, h *bridgeHarness) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_ = h.app.store.StoreBlob(context.Background(), testSite, "marker", []byte("rebuilding"))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			_ = h.app.store.StoreBlob(context.Background(), testSite, "marker", []byte("1"))
		})
	}
	t.Cleanup(stop)
	return stop
}

// During a rebuild after a Redis loss, an id the store does not hold costs
// one Webflow read: a user Webflow has is adopted (the IdP holds the id
// because the bridge gave it out), one it does not have is 404 and
// remembered, so asking again costs nothing. A DELETE of a Webflow-held id
// adopts, then deletes: the IdP's deprovisioning is not lost. Once the
// rebuild is over, unknown ids are 404 without a call again.
func TestUnknownUserIDsDuringRebuild(t *testing.T) {
	h := newBridge(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.app.scim.WatchStore(ctx, 20*time.Millisecond)
	held := h.newUser("held@example.com")
	h.wipeStore() // Redis lost the bridge's records...
	stop := peerRebuild(t, h)
	waitFor(t, "the replica to learn from the marker that the site is rebuilding", func() bool { return h.app.scim.Rebuilding(testSite) })
	if strings.Contains(h.logs.String(), "rebuild after Redis loss finished") || strings.Contains(h.logs.String(), "the site marker is gone") {
		t.Fatal("this replica must follow the other replica's rebuild, not run its own")
	}

	reads := func() int { return h.sim.CountRequests("GET", "/v2/sites/*/users/*") }
	step := func(what, method, id string, body any, want, wantCalls, wantReads int) resp {
		t.Helper()
		calls, r0 := h.calls(), reads()
		r := h.do(method, "/Users/"+id, body)
		if r.Status != want {
			t.Errorf("%s: %s: %d %s, want %d", what, method, r.Status, r.Raw, want)
		}
		if c, rd := h.calls()-calls, reads()-r0; c != wantCalls || rd != wantReads {
			t.Errorf("%s: %s made %d Webflow calls (%d reads), want %d (%d)", what, method, c, rd, wantCalls, wantReads)
		}
		return r
	}
	// The IdP's own user, lost with Redis: one read adopts it.
	r := step("an id the IdP holds", "GET", held, nil, 200, 1, 1)
	if str(r.Body, "userName") != "held@example.com" || str(r.Body, "id") != held {
		t.Errorf("adopted: %s", r.Raw)
	}
	step("the adopted id again", "GET", held, nil, 200, 0, 0)
	step("a profile change of the adopted user", "PATCH", held, patch(op("replace", "displayName", "Held Again")), 200, 1, 0)

	// An id Webflow does not have: one read, then nothing, whatever the
	// method.
	const random = "65a1b2c3d4e5f60718293a4b"
	step("a random id", "GET", random, nil, 404, 1, 1)
	for _, rq := range unknownIDRequests("nobody@example.com") {
		step("the same random id", rq.method, random, rq.body, 404, 0, 0)
	}

	// A DELETE of an id Webflow has: adopt with one read, then delete.
	ada, _ := h.webflowUser("ada@example.com")
	step("DELETE of a Webflow-held id", "DELETE", ada.ID, nil, 204, 2, 1)
	if _, ok := h.sim.User(testSite, ada.ID); ok {
		t.Error("the deprovisioned user is still in Webflow")
	}
	step("the deleted id", "GET", ada.ID, nil, 404, 0, 0)

	// The rebuild ends: the replica leaves rebuild mode, and an id the
	// store does not hold is 404 without a call, even one Webflow has.
	stop()
	waitFor(t, "the rebuild to end", func() bool { return !h.app.scim.Rebuilding(testSite) })
	mike, _ := h.webflowUser("mike@example.com")
	for _, rq := range unknownIDRequests("mike@example.com") {
		step("a never-provisioned customer after the rebuild", rq.method, mike.ID, rq.body, 404, 0, 0)
	}
	if after, ok := h.sim.User(testSite, mike.ID); !ok || !reflect.DeepEqual(after, mike) {
		t.Errorf("the never-provisioned customer changed: %+v", after)
	}
}

// The rebuild state is shared: every replica knows the site is rebuilding,
// one replica rebuilds, and when it dies mid-rebuild another takes over.
func TestRebuildIsSharedAcrossReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	ss := newSharedSim(t)
	shared := func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() }
	reps := []*bridgeHarness{newReplica(t, ss, shared), newReplica(t, ss, shared)}
	cancels := make([]context.CancelFunc, len(reps))
	for i, r := range reps {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		t.Cleanup(cancel)
		go r.app.scim.WatchStore(ctx, 20*time.Millisecond)
	}
	held := reps[0].newUser("held@example.com")
	time.Sleep(50 * time.Millisecond) // the markers are written
	// Webflow refuses to list users for now, so the rebuild cannot end.
	ss.sim.InjectFault(webflowsim.Fault{Method: "GET", Path: "/v2/sites/*/users", Status: 400, Count: 1 << 30})
	mr.FlushAll()

	waitFor(t, "both replicas to know the site is rebuilding", func() bool {
		return reps[0].app.scim.Rebuilding(testSite) && reps[1].app.scim.Rebuilding(testSite)
	})
	time.Sleep(100 * time.Millisecond) // five more checks: a second claim would show now
	rebuilder, follower := -1, -1
	for i, r := range reps {
		if strings.Contains(r.logs.String(), "the site marker is gone") {
			if rebuilder >= 0 {
				t.Fatal("both replicas started a rebuild")
			}
			rebuilder = i
		} else {
			follower = i
		}
	}
	if rebuilder < 0 {
		t.Fatal("no replica started the rebuild")
	}
	f := reps[follower]
	calls := len(ss.sim.Requests())
	if r := f.must(200, f.do("GET", "/Users/"+held, nil)); str(r.Body, "id") != held {
		t.Errorf("the follower adopts an id the IdP holds: %s", r.Raw)
	}
	if c := len(ss.sim.Requests()) - calls; c != 1 {
		t.Errorf("adopting on the follower made %d Webflow calls, want 1", c)
	}

	// The rebuilder dies; its heartbeat stops; the follower takes over and,
	// once Webflow answers again, finishes.
	cancels[rebuilder]()
	time.Sleep(400 * time.Millisecond) // 15 missed heartbeats (300 ms)...
	mr.FastForward(time.Second)        // ...and its claim expires (miniredis moves TTLs only when told)
	waitFor(t, "the follower to take the rebuild over", func() bool {
		return strings.Contains(f.logs.String(), "taking the rebuild over")
	})
	ss.sim.ClearFaults()
	waitFor(t, "the rebuild to finish", func() bool { return strings.Contains(f.logs.String(), "rebuild after Redis loss finished") })
	if f.app.scim.Rebuilding(testSite) {
		t.Error("the site is still rebuilding after the rebuild finished")
	}
	// Everything Webflow has was adopted; the site is steady, so an id
	// nobody holds is 404 without a call.
	calls = len(ss.sim.Requests())
	f.must(404, f.do("GET", "/Users/65a1b2c3d4e5f60718293a4b", nil))
	if c := len(ss.sim.Requests()) - calls; c != 0 {
		t.Errorf("an unknown id after the rebuild made %d Webflow calls", c)
	}
	var mike webflowdata.User
	for _, u := range ss.sim.Users(testSite) {
		if u.Email() == "mike@example.com" {
			mike = u
		}
	}
	f.must(200, f.do("GET", "/Users/"+mike.ID, nil)) // adopted by the rebuild
}
