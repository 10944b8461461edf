package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Webflow changes a user's groups behind the bridge's back: a purchase adds
// an ecommerce group, a site admin sets an admin group in the dashboard
// that no IdP group is linked to. Before each step below, a new pair of
// such groups is set at the simulator (no webhook is registered, so the
// bridge hears nothing, and its copy of the user is only seconds old).
// Every step that writes the full accessGroups list reads the user first,
// under its lock, so every out-of-band group survives every step, at 1 GET
// + 1 PATCH per step; a name change carries no accessGroups and reads
// nothing. The simulator replaces ecommerce groups too
// (PatchDropsEcommerce), as Webflow may: the bridge must list them itself.
func TestOutOfBandGroupsSurviveEveryWrite(t *testing.T) {
	h := newBridge(t)
	h.sim.SetPatchDropsEcommerce(true)
	const email = "oob@example.com"
	id := h.newUser(email)
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": id}}}))
	premium := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Premium"})).Body, "id")
	h.drain()
	if got := h.slugs(email); got != "members" {
		t.Fatalf("before: %s", got)
	}
	wu, _ := h.webflowUser(email)

	// outOfBand adds, at the simulator only, the ecommerce group course-N
	// (a purchase) and the unlinked admin group vip-N (the dashboard).
	var kept []string
	outOfBand := func(n int) {
		t.Helper()
		course, vip := fmt.Sprintf("course-%d", n), fmt.Sprintf("vip-%d", n)
		for _, g := range []webflowsim.SeedAccessGroup{{Name: "Course " + fmt.Sprint(n), Slug: course}, {Name: "VIP " + fmt.Sprint(n), Slug: vip}} {
			if _, err := h.sim.AddAccessGroup(testSite, g); err != nil {
				t.Fatal(err)
			}
		}
		cur, _ := h.sim.User(testSite, wu.ID)
		groups := append(cur.AccessGroups, webflowdata.AccessGroupRef{Slug: course, Type: webflowdata.AccessGroupEcommerce}, webflowdata.AccessGroupRef{Slug: vip, Type: webflowdata.AccessGroupAdmin})
		if _, err := h.sim.SetUserAccessGroups(testSite, wu.ID, groups); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, course, vip)
	}
	activePatch := func(active bool) map[string]any {
		return patch(op("replace", "", map[string]any{"active": active}))
	}

	for i, step := range []struct {
		name          string
		method, path  string
		body          any
		managed       []string // the linked groups Webflow holds afterwards
		gets, patches int
	}{
		{"add to a linked group", "PATCH", "/Groups/" + premium, patch(op("add", "members", []map[string]any{{"value": id}})), []string{"members", "premium"}, 1, 1},
		{"remove from it", "PATCH", "/Groups/" + premium, patch(op("remove", "members", []map[string]any{{"value": id}})), []string{"members"}, 1, 1},
		{"deactivate (remove-access)", "PATCH", "/Users/" + id, activePatch(false), nil, 1, 1},
		{"reactivate", "PATCH", "/Users/" + id, activePatch(true), []string{"members"}, 1, 1},
		{"name change (data only)", "PATCH", "/Users/" + id, patch(op("replace", "name.givenName", "Oona")), []string{"members"}, 0, 1},
	} {
		outOfBand(i)
		h.sim.ResetRequests()
		want := 200
		if strings.HasPrefix(step.path, "/Groups/") {
			want = 204 // a group PATCH answers 204 No Content
		}
		h.must(want, h.do(step.method, step.path, step.body))
		h.drain()
		got, _ := h.sim.User(testSite, wu.ID)
		held := map[string]webflowdata.AccessGroupRef{}
		for _, g := range got.AccessGroups {
			held[g.Slug] = g
		}
		for j, sl := range kept {
			typ := webflowdata.AccessGroupAdmin
			if j%2 == 0 {
				typ = webflowdata.AccessGroupEcommerce
			}
			if g, ok := held[sl]; !ok || g.Type != typ {
				t.Errorf("%s: the out-of-band group %s (%s) was lost: Webflow holds %v", step.name, sl, typ, got.AccessGroups)
			}
		}
		for _, sl := range []string{"members", "premium"} {
			_, has := held[sl]
			want := false
			for _, m := range step.managed {
				want = want || m == sl
			}
			if has != want {
				t.Errorf("%s: linked group %s held=%v, want %v: %v", step.name, sl, has, want, got.AccessGroups)
			}
		}
		gets, patches := h.sim.CountRequests("GET", "/v2/sites/*/users/*"), h.sim.CountRequests("PATCH", "/v2/sites/*/users/*")
		if gets != step.gets || patches != step.patches || h.calls() != gets+patches {
			t.Errorf("%s: %d GET + %d PATCH (%d Webflow calls in all), want %d + %d: %v", step.name, gets, patches, h.calls(), step.gets, step.patches, h.sim.Requests())
		}
	}
	// The bridge's own copy ends up as Webflow's.
	r := h.must(200, h.do("GET", "/Users/"+id, nil))
	var missing []string
	for _, sl := range kept {
		if !contains(ext(r.Body)["accessGroups"], sl) {
			missing = append(missing, sl)
		}
	}
	if len(missing) > 0 {
		t.Errorf("GET /Users/{id} does not show %v: %v", missing, ext(r.Body)["accessGroups"])
	}
}

// contains reports whether a decoded JSON list holds s.
func contains(list any, s string) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// emailChange: reinvite deletes the Webflow user and invites the new
// address with the groups to keep: the invite's list is a full-list write
// too, so it starts from a read of the old user, and an admin group a site
// admin set in the dashboard (linked to no IdP group) moves with the user.
// An ecommerce group cannot be assigned through the API and stays behind.
func TestReinviteKeepsOutOfBandAdminGroups(t *testing.T) {
	h := newBridge(t, withSite(func(s *config.SiteConfig) { s.EmailChange = "reinvite" }))
	id := h.newUser("before@example.com")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": id}}}))
	h.drain()
	old, _ := h.webflowUser("before@example.com")
	if _, err := h.sim.SetUserAccessGroups(testSite, old.ID, []webflowdata.AccessGroupRef{
		{Slug: "members", Type: webflowdata.AccessGroupAdmin},
		{Slug: "staff", Type: webflowdata.AccessGroupAdmin},
		{Slug: "customers", Type: webflowdata.AccessGroupEcommerce},
	}); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetRequests()
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "userName", "after@example.com"))))
	nu, ok := h.webflowUser("after@example.com")
	if !ok || slugsOf(nu) != "members,staff" {
		t.Errorf("the re-invited user holds %v, want members (linked) and staff (set in the dashboard)", nu.AccessGroups)
	}
	if _, still := h.webflowUser("before@example.com"); still {
		t.Error("the old Webflow user must be gone")
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/v2/sites/*/users/*", 1}, {"DELETE", "/v2/sites/*/users/*", 1}, {"POST", "/v2/sites/*/users/invite", 1}} {
		if n := h.sim.CountRequests(c.method, c.path); n != c.want {
			t.Errorf("%s %s: %d calls, want %d", c.method, c.path, n, c.want)
		}
	}
	if h.calls() != 3 {
		t.Errorf("the re-invite cost %d Webflow calls, want 3: %v", h.calls(), h.sim.Requests())
	}
}

// afterScript is a go-redis hook that runs fn once, right after the next
// script with keys keys (rtName) has answered.
type afterScript struct {
	mu   sync.Mutex
	name string
	fn   func()
}

func (a *afterScript) arm(name string, fn func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.name, a.fn = name, fn
}

// fired reports whether the armed fn ran (and disarms it).
func (a *afterScript) fired() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ran := a.fn == nil
	a.fn = nil
	return ran
}

func (a *afterScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (a *afterScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		a.mu.Lock()
		fn := a.fn
		if fn != nil && rtName(cmd) != a.name {
			fn = nil
		}
		if fn != nil {
			a.fn = nil
		}
		a.mu.Unlock()
		if fn != nil {
			fn()
		}
		return err
	}
}

func (a *afterScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A deactivate or reactivate reads the user's record (with the bridge's
// copy of its access groups) and takes its lock in one round trip, then
// writes the full accessGroups list. Webflow changes the list behind the
// bridge's back right after that read (a purchase adds an ecommerce
// group, a site admin an unlinked admin group): the list written is built
// from a read of Webflow made under the lock, never from the record's
// older copy, so both groups survive, whichever form the write takes
// (Okta's path-less PATCH, Entra's path "active", a PUT).
func TestPatchRacingOutOfBandChange(t *testing.T) {
	h := newBridge(t)
	h.sim.SetPatchDropsEcommerce(true)
	race := &afterScript{}
	h.app.rdb.AddHook(race)
	const email = "race@example.com"
	id := h.newUser(email)
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": id}}}))
	h.drain()
	wu, _ := h.webflowUser(email)
	put := func(active bool) map[string]any {
		return map[string]any{"schemas": []string{userSchema}, "userName": email, "active": active,
			"emails": []map[string]any{{"value": email, "type": "work", "primary": true}}}
	}
	var kept []string
	for i, step := range []struct {
		name   string
		method string
		body   any
		active bool
	}{
		{"Okta deactivate", "PATCH", patch(op("replace", "", map[string]any{"active": false})), false},
		{"Entra reactivate", "PATCH", patch(op("Replace", "active", true)), true},
		{"PUT deactivate", "PUT", put(false), false},
		{"PUT reactivate", "PUT", put(true), true},
	} {
		course, vip := fmt.Sprintf("race-course-%d", i), fmt.Sprintf("race-vip-%d", i)
		for _, g := range []webflowsim.SeedAccessGroup{{Name: "Course " + fmt.Sprint(i), Slug: course}, {Name: "VIP " + fmt.Sprint(i), Slug: vip}} {
			if _, err := h.sim.AddAccessGroup(testSite, g); err != nil {
				t.Fatal(err)
			}
		}
		// The locked read of the write (8 keys: the view and the lock).
		race.arm("evalsha[users/8]", func() {
			cur, _ := h.sim.User(testSite, wu.ID)
			groups := append(cur.AccessGroups, webflowdata.AccessGroupRef{Slug: course, Type: webflowdata.AccessGroupEcommerce}, webflowdata.AccessGroupRef{Slug: vip, Type: webflowdata.AccessGroupAdmin})
			if _, err := h.sim.SetUserAccessGroups(testSite, wu.ID, groups); err != nil {
				t.Error(err)
			}
		})
		h.sim.ResetRequests()
		r := h.must(200, h.do(step.method, "/Users/"+id, step.body))
		if !race.fired() {
			t.Fatalf("%s: the out-of-band change did not run after the write's read", step.name)
		}
		kept = append(kept, course, vip)
		got, _ := h.sim.User(testSite, wu.ID)
		held := map[string]bool{}
		for _, g := range got.AccessGroups {
			held[g.Slug] = true
		}
		for _, sl := range kept {
			if !held[sl] {
				t.Errorf("%s: the out-of-band group %s was lost: Webflow holds %v", step.name, sl, got.AccessGroups)
			}
		}
		if held["members"] != step.active {
			t.Errorf("%s: linked group members held=%v, want %v: %v", step.name, held["members"], step.active, got.AccessGroups)
		}
		if r.Body["active"] != step.active {
			t.Errorf("%s: answered active=%v", step.name, r.Body["active"])
		}
		gets, patches := h.sim.CountRequests("GET", "/v2/sites/*/users/*"), h.sim.CountRequests("PATCH", "/v2/sites/*/users/*")
		if gets != 1 || patches != 1 || h.calls() != 2 {
			t.Errorf("%s: %d GET + %d PATCH (%d Webflow calls in all), want 1 + 1: %v", step.name, gets, patches, h.calls(), h.sim.Requests())
		}
	}
	// The bridge's own copy ends up as Webflow's.
	r := h.must(200, h.do("GET", "/Users/"+id, nil))
	for _, sl := range kept {
		if !contains(ext(r.Body)["accessGroups"], sl) {
			t.Errorf("GET /Users/{id} does not show %s: %v", sl, ext(r.Body)["accessGroups"])
		}
	}
}

// A deactivate whose user's lock is gone by the time it stores the record
// (expired: another writer may hold the user now) stores nothing and
// answers 503 with Retry-After; the IdP's retry then completes it.
func TestLostLockStoresNothing(t *testing.T) {
	h := newBridge(t)
	race := &afterScript{}
	h.app.rdb.AddHook(race)
	id := h.newUser("lost.lock@example.com")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": id}}}))
	h.drain()
	ctx := context.Background()
	race.arm("evalsha[users/8]", func() {
		keys, err := h.keys(ctx, "*lock:u:*")
		if err != nil || len(keys) != 1 {
			t.Errorf("lock keys %v %v", keys, err)
			return
		}
		h.app.rdb.Del(ctx, keys...)
	})
	deactivate := patch(op("replace", "", map[string]any{"active": false}))
	r := h.do("PATCH", "/Users/"+id, deactivate)
	if !race.fired() {
		t.Fatal("the lock was not taken by the write's read")
	}
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("lost lock: %d %s (Retry-After %q)", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	if g := h.must(200, h.do("GET", "/Users/"+id, nil)); g.Body["active"] != true {
		t.Fatalf("a write whose lock was lost was stored: %s", g.Raw)
	}
	h.must(200, h.do("PATCH", "/Users/"+id, deactivate))
	if g := h.must(200, h.do("GET", "/Users/"+id, nil)); g.Body["active"] != false {
		t.Fatalf("the retry did not deactivate: %s", g.Raw)
	}
	if got := h.slugs("lost.lock@example.com"); got != "" {
		t.Errorf("Webflow still holds %q after the deactivate", got)
	}
}
