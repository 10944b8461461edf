package main

import (
	"fmt"
	"strings"
	"testing"

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
