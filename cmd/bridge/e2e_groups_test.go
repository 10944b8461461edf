package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

const groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"

func (h *bridgeHarness) newUser(email string) string {
	h.t.Helper()
	return str(h.must(201, h.do("POST", "/Users", fmt.Sprintf(`{"schemas":[%q],"userName":%q,"active":true}`, userSchema, email))).Body, "id")
}

func (h *bridgeHarness) slugs(email string) string {
	wu, ok := h.webflowUser(email)
	if !ok {
		return "<missing>"
	}
	return slugsOf(wu)
}

func memberValues(r resp) string {
	ms, _ := r.Body["members"].([]any)
	var out []string
	for _, m := range ms {
		out = append(out, str(m.(map[string]any), "value"))
	}
	return strings.Join(out, ",")
}

// Okta Group Push (idp-clients.md §1.3), OIN (PATCH) and AIW (PUT).
func TestOktaGroupPush(t *testing.T) {
	h := newBridge(t, withSite(func(s *config.SiteConfig) { s.GroupMappings = map[string]string{"Test SCIMv2": "premium"} }))
	a, b := h.newUser("a@okta.local"), h.newUser("b@okta.local")
	// An unmanaged group assigned in Webflow must survive everything.
	wa, _ := h.webflowUser("a@okta.local")
	// The bridge hears nothing of it; its writes read the user first.
	h.wfClient(t).UpdateUser(t.Context(), testSite, wa.ID, webflowdata.UpdateUserRequest{AccessGroups: []string{"staff"}})

	if r := h.must(200, h.do("GET", "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100", nil)); r.Body["totalResults"] != 0.0 {
		t.Errorf("before linking, no group has the IdP's name: %s", r.Raw)
	}
	r := h.must(201, h.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`))
	gid := str(r.Body, "id")
	if str(r.Body, "displayName") != "Test SCIMv2" || r.Body["members"] == nil || str(r.Body[GroupExt].(map[string]any), "slug") != "premium" {
		t.Fatalf("POST /Groups: %s", r.Raw)
	}
	h.must(409, h.do("POST", "/Groups", `{"schemas":["`+groupSchema+`"],"displayName":"Test SCIMv2"}`))
	if r := h.must(200, h.do("GET", filterGroups(`displayName eq "test scimv2"`), nil)); r.Body["totalResults"] != 1.0 {
		t.Errorf("displayName filter is case-insensitive: %s", r.Raw)
	}

	// Rename before every push: stored on our side, no Webflow call.
	h.sim.ResetRequests()
	h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("replace", "", map[string]any{"id": gid, "displayName": "Test SCIMv2"}))))
	h.drain()
	if h.calls() != 0 {
		t.Errorf("an idempotent rename cost %d Webflow calls", h.calls())
	}
	// Membership: add a and b.
	h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": a, "display": "a@okta.local"}, {"value": b, "display": "b@okta.local"}}))))
	if r := h.must(200, h.do("GET", "/Users/"+a, nil)); !strings.Contains(r.Raw, `"display":"Test SCIMv2"`) {
		t.Errorf("the user shows its groups at once: %s", r.Raw)
	}
	h.drain()
	if h.slugs("a@okta.local") != "premium,staff" || h.slugs("b@okta.local") != "premium" {
		t.Fatalf("after add: a=%s b=%s", h.slugs("a@okta.local"), h.slugs("b@okta.local"))
	}
	// remove members[value eq] + add in one PATCH; re-adding a present member is fine.
	h.must(204, h.do("PATCH", "/Groups/"+gid, `{"schemas":["`+patchSchema+`"],"Operations":[{"op":"remove","path":"members[value eq \"`+b+`\"]"},{"op":"add","path":"members","value":[{"value":"`+a+`","display":"a"}]}]}`))
	h.drain()
	if h.slugs("a@okta.local") != "premium,staff" || h.slugs("b@okta.local") != "" {
		t.Fatalf("after remove: a=%s b=%s", h.slugs("a@okta.local"), h.slugs("b@okta.local"))
	}
	// Full membership push.
	h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("replace", "members", []map[string]any{{"value": b, "display": "b"}}))))
	// AIW: PUT with the full list, and a rename.
	r = h.must(200, h.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Test SCIMv2 renamed", "members": []map[string]any{{"value": a}, {"value": b}}}))
	if memberValues(r) == "" || str(r.Body, "displayName") != "Test SCIMv2 renamed" {
		t.Errorf("PUT: %s", r.Raw)
	}
	h.drain()
	if h.slugs("a@okta.local") != "premium,staff" || h.slugs("b@okta.local") != "premium" {
		t.Fatalf("after PUT: a=%s b=%s", h.slugs("a@okta.local"), h.slugs("b@okta.local"))
	}
	if ag := h.sim.AccessGroups(testSite); !containsName(ag, "Premium") {
		t.Error("Webflow's group name must not change")
	}
	// Unlink (default onGroupDelete: unlink leaves memberships as they are).
	h.must(204, h.do("DELETE", "/Groups/"+gid, nil))
	h.drain()
	if h.slugs("a@okta.local") != "premium,staff" || h.slugs("b@okta.local") != "premium" {
		t.Errorf("unlink must leave memberships: a=%s b=%s", h.slugs("a@okta.local"), h.slugs("b@okta.local"))
	}
	// RFC 7644: a deleted resource is gone. It is 404, absent from the
	// list, and PUT or PATCH do not bring it back (a late push must not
	// re-link what the admin unlinked).
	h.must(404, h.do("GET", "/Groups/"+gid, nil))
	h.must(404, h.do("PATCH", "/Groups/"+gid, patch(op("replace", "", map[string]any{"id": gid, "displayName": "Test SCIMv2"}))))
	h.must(404, h.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{groupSchema}, "displayName": "Test SCIMv2", "members": []map[string]any{{"value": a}}}))
	if r := h.must(200, h.do("GET", "/Groups", nil)); strings.Contains(r.Raw, gid) || r.Body["totalResults"] != 0.0 {
		t.Errorf("after unlink the group is not listed: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", filterGroups(`displayName eq "Test SCIMv2"`), nil)); r.Body["totalResults"] != 0.0 {
		t.Errorf("after unlink Okta's lookup finds nothing: %s", r.Raw)
	}
	// A later deactivation no longer touches the unlinked slug.
	h.must(200, h.do("PATCH", "/Users/"+b, patch(op("replace", "", map[string]any{"active": false}))))
	if h.slugs("b@okta.local") != "premium" {
		t.Errorf("unmanaged after unlink: %s", h.slugs("b@okta.local"))
	}
	// Pushed again, it is a resource again, with the same id.
	if r := h.must(201, h.do("POST", "/Groups", `{"schemas":["`+groupSchema+`"],"displayName":"Test SCIMv2"}`)); str(r.Body, "id") != gid {
		t.Errorf("re-linked under another id: %s", r.Raw)
	}
	h.must(200, h.do("GET", "/Groups/"+gid, nil))
}

// TestGroupMemberPatchAfterUnlinkElsewhere: a replica that knows a
// group's slug changes its members in one round trip, and the change
// checks that the group is still linked: once another replica unlinked
// it, Okta's membership push is 404 with nothing changed, as it was when
// every PATCH read the group first; linked again, it is 204 again. The
// same holds for GET, which reads the member set with the group.
func TestGroupMemberPatchAfterUnlinkElsewhere(t *testing.T) {
	ss := newSharedSim(t)
	shared := sharedRedis(t)
	r1, r2 := newReplica(t, ss, shared), newReplica(t, ss, shared)
	a, b := r1.newUser("ul.a@example.com"), r1.newUser("ul.b@example.com")
	add := func(id string) any {
		return patch(op("add", "members", []map[string]any{{"value": id, "display": "x"}}))
	}
	gid := str(r1.must(201, r1.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff"})).Body, "id")
	r1.must(204, r1.do("PATCH", "/Groups/"+gid, add(a)))
	r1.must(400, r1.do("PATCH", "/Groups/"+gid, add("ffffffffffffffffffffff00")))
	if r := r1.must(200, r1.do("GET", "/Groups/"+gid, nil)); memberValues(r) != a {
		t.Errorf("members %q, want %s", memberValues(r), a)
	}
	r2.must(204, r2.do("DELETE", "/Groups/"+gid, nil))
	r1.must(404, r1.do("GET", "/Groups/"+gid, nil))
	r1.must(404, r1.do("PATCH", "/Groups/"+gid, add(b)))
	r1.must(404, r1.do("PATCH", "/Groups/"+gid, patch(map[string]any{"op": "remove", "path": `members[value eq "` + a + `"]`})))
	if ms, err := r1.app.store.GroupMembers(context.Background(), testSite, "staff"); err != nil || len(ms) != 0 {
		t.Errorf("members after the unlink: %v %v", ms, err)
	}
	if str(r2.must(201, r2.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff"})).Body, "id") != gid {
		t.Fatal("linked again under another id")
	}
	r1.must(204, r1.do("PATCH", "/Groups/"+gid, add(b)))
	for _, h := range []*bridgeHarness{r1, r2} {
		if r := h.must(200, h.do("GET", "/Groups/"+gid, nil)); memberValues(r) != b {
			t.Errorf("linked again: members %q, want %s", memberValues(r), b)
		}
	}
}

func TestGroupDeleteRemoveMembers(t *testing.T) {
	h := newBridge(t, withSite(func(s *config.SiteConfig) { s.OnGroupDelete = "remove-members" }))
	a := h.newUser("rm@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff", "members": []map[string]any{{"value": a}}})).Body, "id")
	h.drain()
	if h.slugs("rm@example.com") != "staff" {
		t.Fatal(h.slugs("rm@example.com"))
	}
	h.must(204, h.do("DELETE", "/Groups/"+gid, nil))
	h.drain()
	if h.slugs("rm@example.com") != "" {
		t.Errorf("remove-members: %s", h.slugs("rm@example.com"))
	}
}

// Entra's group rows of the tutorial table, with and without aadOptscim062020.
func TestEntraGroupRows(t *testing.T) {
	for _, flag := range []bool{false, true} {
		t.Run(fmt.Sprintf("aadOptscim062020=%v", flag), func(t *testing.T) {
			h := newBridge(t)
			a, b := h.newUser("ea@example.com"), h.newUser("eb@example.com")
			r := h.must(201, h.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Members","meta":{"resourceType":"Group"}}`))
			gid := str(r.Body, "id")
			if ms, ok := r.Body["members"].([]any); !ok || len(ms) != 0 || str(r.Body, "externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
				t.Errorf("create: %s", r.Raw)
			}
			if r := h.must(200, h.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil)); r.Body["members"] != nil || str(r.Body, "displayName") != "Members" {
				t.Errorf("excludedAttributes=members: %s", r.Raw)
			}
			r = h.must(200, h.do("GET", "/Groups?excludedAttributes=members&filter="+urlq(`displayName eq "Members"`), nil))
			if r.Body["totalResults"] != 1.0 || strings.Contains(r.Raw, `"members":`) {
				t.Errorf("by name: %s", r.Raw)
			}
			cap := func(s string) string {
				if flag {
					return strings.ToLower(s)
				}
				return s
			}
			h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op(cap("Replace"), "displayName", "Members updatedDisplayName"))))
			h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op(cap("Add"), "members", []map[string]any{{"$ref": nil, "value": a}, {"$ref": nil, "value": b}}))))
			if r := h.must(200, h.do("GET", "/Groups?filter="+urlq(`id eq "`+gid+`" and members[value eq "`+a+`"]`), nil)); r.Body["totalResults"] != 1.0 {
				t.Errorf("Entra membership check: %s", r.Raw)
			}
			h.drain()
			if h.slugs("ea@example.com") != "members" || h.slugs("eb@example.com") != "members" {
				t.Fatalf("after add: %s %s", h.slugs("ea@example.com"), h.slugs("eb@example.com"))
			}
			if flag {
				h.must(204, h.do("PATCH", "/Groups/"+gid, `{"schemas":["`+patchSchema+`"],"Operations":[{"op":"remove","path":"members[value eq \"`+a+`\"]"}]}`))
			} else {
				// Only the listed member goes: the classic bug is removing everyone.
				h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("Remove", "members", []map[string]any{{"$ref": nil, "value": a}}))))
			}
			h.drain()
			if h.slugs("ea@example.com") != "" || h.slugs("eb@example.com") != "members" {
				t.Fatalf("after remove: %s %s", h.slugs("ea@example.com"), h.slugs("eb@example.com"))
			}
			if r := h.must(200, h.do("GET", "/Groups/"+gid, nil)); str(r.Body, "displayName") != "Members updatedDisplayName" || memberValues(r) != b {
				t.Errorf("group after rename and remove: %s", r.Raw)
			}
			// Remove with no value removes everyone.
			h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("remove", "members", nil))))
			h.drain()
			if h.slugs("eb@example.com") != "" {
				t.Errorf("remove all: %s", h.slugs("eb@example.com"))
			}
			h.must(204, h.do("DELETE", "/Groups/"+gid, nil))
			h.must(404, h.do("DELETE", "/Groups/"+gid, nil))
		})
	}
}

func TestGroupInputErrors(t *testing.T) {
	h := newBridge(t)
	a := h.newUser("x@example.com")
	r := h.must(400, h.do("POST", "/Groups", `{"schemas":["`+groupSchema+`"],"displayName":"No Such Group"}`))
	if !strings.Contains(str(r.Body, "detail"), "create it in Webflow") || !strings.Contains(str(r.Body, "detail"), "groupMappings") {
		t.Errorf("no match: %s", r.Raw)
	}
	gid := str(h.must(201, h.do("POST", "/Groups", `{"schemas":["`+groupSchema+`"],"displayName":"STAFF"}`)).Body, "id")
	r = h.must(400, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": a}, {"value": "not-a-user"}}))))
	if str(r.Body, "scimType") != "invalidValue" || !strings.Contains(str(r.Body, "detail"), "not-a-user") {
		t.Errorf("unknown member: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", "/Groups/"+gid, nil)); memberValues(r) != "" {
		t.Errorf("a refused PATCH must change nothing: %s", r.Raw)
	}
	h.must(404, h.do("GET", "/Groups/ffffffffffffffffffffffff", nil))
	h.must(400, h.do("GET", "/Groups?filter="+urlq(`displayName co "x"`), nil))
	// Paging, over the linked groups only (3 of the site's 4).
	for _, name := range []string{"Members", "Premium"} {
		h.must(201, h.do("POST", "/Groups", `{"schemas":["`+groupSchema+`"],"displayName":"`+name+`"}`))
	}
	r = h.must(200, h.do("GET", "/Groups?count=2", nil))
	if r.Body["totalResults"] != 3.0 || r.Body["itemsPerPage"] != 2.0 {
		t.Errorf("paging: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", "/Groups?startIndex=3", nil)); r.Body["itemsPerPage"] != 1.0 {
		t.Errorf("the last page: %s", r.Raw)
	}
}

// ecommerce groups, and admin groups no SCIM group manages, survive every
// operation; pending state is visible through the admin endpoint.
func TestOwnershipAndQueueVisibility(t *testing.T) {
	h := newBridge(t)
	mike := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"mike@example.com","active":true}`)).Body, "id")
	if h.slugs("mike@example.com") != "customers,members" {
		t.Fatalf("seed: %s", h.slugs("mike@example.com"))
	}
	gStaff := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": mike}}})).Body, "id")
	gCust := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "customers"})).Body, "id")

	q := h.do("GET", h.ts.URL+"/sites/"+testSite+"/admin/memberships", nil)
	if q.Status != 200 || q.Body["pending"] != 1.0 {
		t.Errorf("queue before drain: %s", q.Raw)
	}
	if r := h.do("GET", h.ts.URL+"/sites/"+testSite+"/admin/memberships", nil, "Authorization", "Bearer nope"); r.Status != 401 {
		t.Errorf("the admin endpoint needs the site token: %d", r.Status)
	}
	h.drain()
	if h.slugs("mike@example.com") != "customers,members,staff" {
		t.Fatalf("after add: %s", h.slugs("mike@example.com"))
	}
	// Linking "customers" and leaving mike out must not remove his bought group.
	h.must(204, h.do("PATCH", "/Groups/"+gCust, patch(op("replace", "members", []any{}))))
	h.must(204, h.do("PATCH", "/Groups/"+gStaff, patch(op("remove", "members", []map[string]any{{"value": mike}}))))
	h.drain()
	if h.slugs("mike@example.com") != "customers,members" {
		t.Errorf("ownership: %s", h.slugs("mike@example.com"))
	}
	for _, p := range []map[string]any{patch(op("replace", "", map[string]any{"active": false})), patch(op("replace", "", map[string]any{"active": true}))} {
		h.must(200, h.do("PATCH", "/Users/"+mike, p))
		if h.slugs("mike@example.com") != "customers,members" {
			t.Errorf("deactivate/reactivate: %s", h.slugs("mike@example.com"))
		}
	}
	// A user deleted in Webflow behind our back: a permanent failure, shown, not retried.
	h.must(204, h.do("PATCH", "/Groups/"+gStaff, patch(op("add", "members", []map[string]any{{"value": mike}}))))
	wm, _ := h.webflowUser("mike@example.com")
	h.wfClient(t).DeleteUser(t.Context(), testSite, wm.ID)
	h.drain()
	q = h.do("GET", h.ts.URL+"/sites/"+testSite+"/admin/memberships", nil)
	if q.Body["pending"] != 0.0 || !strings.Contains(q.Raw, "no longer exists") {
		t.Errorf("queue after a permanent failure: %s", q.Raw)
	}
}

// With the upstream budget exhausted, five separate group PATCHes for one
// user become at most two upstream PATCHes once budget returns.
func TestCoalescing(t *testing.T) {
	h := newBridge(t)
	id := h.newUser("co@example.com")
	for i := range 4 {
		h.sim.AddAccessGroup(testSite, webflowsim.SeedAccessGroup{Name: fmt.Sprintf("Extra %d", i), Slug: fmt.Sprintf("extra-%d", i)})
	}
	var gids []string
	for _, name := range []string{"Members", "Premium", "Staff", "extra-0", "extra-1"} {
		gids = append(gids, str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": name})).Body, "id"))
	}
	h.sim.InjectFault(webflowsim.Fault{Method: "PATCH", Path: "/v2/sites/*/users/*", Status: 429, RetryAfter: "1", Count: 1000})
	h.sim.ResetRequests()
	for i, gid := range gids {
		h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": id}}))))
		if i == 0 {
			h.drain() // one attempt hits the exhausted budget
		}
	}
	h.sim.ClearFaults()
	time.Sleep(1100 * time.Millisecond) // Retry-After
	h.sim.ResetRequests()
	h.drain()
	patches := h.sim.CountRequests("PATCH", "/v2/sites/*/users/*")
	if patches > 2 || h.slugs("co@example.com") != "extra-0,extra-1,members,premium,staff" {
		t.Errorf("%d upstream PATCHes, groups %s", patches, h.slugs("co@example.com"))
	}
}

// Adding 500 members in one PATCH answers at once and is applied later.
func TestBigGroup(t *testing.T) {
	h := newBridge(t)
	var members []map[string]any
	for i := range 500 {
		members = append(members, map[string]any{"value": h.newUser(fmt.Sprintf("big%03d@example.com", i))})
	}
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Premium"})).Body, "id")
	h.sim.ResetRequests()
	start := time.Now()
	h.must(204, h.do("PATCH", "/Groups/"+gid+"?excludedAttributes=members", patch(op("add", "members", members))))
	// The answer must not wait for 500 upstream calls: it makes none. The
	// 2 s goal is asserted with BRIDGE_TIMING_TESTS=1 (timed assertions are
	// flaky on shared machines); here only a generous bound.
	limit := 15 * time.Second
	if os.Getenv("BRIDGE_TIMING_TESTS") != "" {
		limit = 2 * time.Second
	}
	if d := time.Since(start); d > limit || h.calls() != 0 {
		t.Errorf("500-member PATCH took %v and %d Webflow calls before answering", d, h.calls())
	}
	h.drain()
	for i := range 500 {
		if s := h.slugs(fmt.Sprintf("big%03d@example.com", i)); s != "premium" {
			t.Fatalf("user %d: %s", i, s)
		}
	}
	if n := h.sim.CountRequests("PATCH", "/v2/sites/*/users/*"); n != 500 {
		t.Errorf("%d PATCHes for 500 users", n)
	}
}

// 20 concurrent clients send group PATCHes to two bridge processes sharing
// one Redis, over overlapping users. After draining, Webflow matches.
func TestConcurrentGroupPatchesAcrossReplicas(t *testing.T) {
	ss := newSharedSim(t)
	shared := sharedRedis(t)
	r1, r2 := newReplica(t, ss, shared), newReplica(t, ss, shared)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r1.app.scim.Worker(ctx, 20*time.Millisecond)
	go r2.app.scim.Worker(ctx, 20*time.Millisecond)

	const nUsers = 12
	ids := make([]string, nUsers)
	for i := range nUsers {
		ids[i] = r1.newUser(fmt.Sprintf("cc%02d@example.com", i))
	}
	slugs := []string{"members", "premium", "staff"}
	gids := map[string]string{}
	for _, s := range slugs {
		gids[s] = str(r2.must(201, r2.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": s})).Body, "id")
	}
	// Client c adds users c, c+1, c+2 (mod 12) to group c%3: every user is
	// touched by several clients at once, through both replicas.
	want := map[string]map[string]bool{}
	for i := range nUsers {
		want[ids[i]] = map[string]bool{}
	}
	type job struct {
		slug string
		add  []string
	}
	var jobs []job
	for c := range 20 {
		s := slugs[c%3]
		j := job{slug: s}
		for k := range 3 {
			j.add = append(j.add, ids[(c+k)%nUsers])
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		for _, u := range j.add {
			want[u][j.slug] = true
		}
	}
	var wg sync.WaitGroup
	for c, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := r1
			if c%2 == 1 {
				h = r2
			}
			var ms []map[string]any
			for _, u := range j.add {
				ms = append(ms, map[string]any{"value": u})
			}
			h.must(204, h.do("PATCH", "/Groups/"+gids[j.slug]+"?excludedAttributes=members", patch(op("add", "members", ms))))
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		qs, err := r1.app.scim.QueueStats(ctx, testSite)
		if err != nil {
			t.Fatal(err)
		}
		if qs.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain: %+v", qs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	r1.drain()
	for i := range nUsers {
		var exp []string
		for _, s := range slugs {
			if want[ids[i]][s] {
				exp = append(exp, s)
			}
		}
		if got := r1.slugs(fmt.Sprintf("cc%02d@example.com", i)); got != strings.Join(exp, ",") {
			t.Errorf("user %d: Webflow holds %q, want %q", i, got, strings.Join(exp, ","))
		}
	}
}

const GroupExt = "urn:ietf:params:scim:schemas:extension:webflow:2.0:Group"

func filterGroups(f string) string { return "/Groups?filter=" + urlq(f) }

func containsName(ags []webflowdata.AccessGroup, name string) bool {
	for _, g := range ags {
		if g.Name == name {
			return true
		}
	}
	return false
}

// The membership worker leaves a change queued for webflow.membershipSettle
// so that what follows for the same user is written with it. Here the IdP
// adds a user to a group, then deactivates and reactivates the user (as
// the bench's Okta-like sequence does): the reactivation writes the group
// with it and completes the queued change, so the worker has nothing left.
// Without the settle time the worker would have written the group first:
// three PATCHes.
func TestMembershipSettleCoalesces(t *testing.T) {
	h := newBridge(t, func(c *config.Config) { c.Webflow.MembershipSettle = config.Duration(time.Minute) })
	id := h.newUser("settle@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff"})).Body, "id")
	stop := h.startWorker()
	h.sim.ResetRequests()
	h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": id}}))))
	// The worker is woken by the change and must leave it alone: nothing
	// reaches Webflow while the change settles. (Waiting longer could only
	// hide a failure, never cause one.)
	time.Sleep(200 * time.Millisecond)
	if n := h.sim.CountRequests("PATCH", "/v2/sites/*/users/*"); n != 0 {
		t.Fatalf("%d upstream PATCHes while the change settles", n)
	}
	stop()
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": false}))))
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": true}))))
	// The reactivation wrote the full list the IdP wants, so the queued
	// change is done: the worker has nothing left to look at.
	if st, err := h.app.scim.QueueStats(context.Background(), testSite); err != nil || st.Pending != 0 {
		t.Errorf("queue after the user's own write: %+v %v", st, err)
	}
	h.drain()
	if n := h.sim.CountRequests("PATCH", "/v2/sites/*/users/*"); n != 1 {
		t.Errorf("%d upstream PATCHes for group add + deactivate + reactivate, want 1", n)
	}
	if got := h.slugs("settle@example.com"); got != "staff" {
		t.Errorf("groups in Webflow: %q", got)
	}
	if st, err := h.app.scim.QueueStats(context.Background(), testSite); err != nil || st.Pending != 0 {
		t.Errorf("queue after drain: %+v %v", st, err)
	}
}

// RFC 7644 (issue 14, point 4): an access group no IdP linked is not a
// SCIM Group. It is not listed, GET, PUT, PATCH and DELETE of its id are
// 404 (and link nothing), and listing before any link costs no Webflow
// call. POST links one by groupMappings, by name or by slug; a DELETE
// makes the group gone again until the next POST.
func TestUnlinkedAccessGroupsAreNotResources(t *testing.T) {
	h := newBridge(t, withSite(func(s *config.SiteConfig) { s.GroupMappings = map[string]string{"Okta Customers": "customers"} }))
	vip, err := h.sim.AddAccessGroup(testSite, webflowsim.SeedAccessGroup{Name: "VIP Lounge", Slug: "vip"})
	if err != nil {
		t.Fatal(err)
	}
	agID := map[string]string{}
	for _, ag := range h.sim.AccessGroups(testSite) {
		agID[ag.Slug] = ag.ID
	}
	u := h.newUser("member@example.com")

	h.sim.ResetRequests()
	for _, path := range []string{"/Groups", "/Groups?count=0", filterGroups(`displayName eq "Members"`), filterGroups(`id eq "` + agID["members"] + `"`)} {
		if r := h.must(200, h.do("GET", path, nil)); r.Body["totalResults"] != 0.0 || r.Body["itemsPerPage"] != 0.0 {
			t.Errorf("GET %s lists unlinked access groups: %s", path, r.Raw)
		}
	}
	if h.calls() != 0 {
		t.Errorf("listing with no linked group made %d Webflow calls", h.calls())
	}
	for _, slug := range []string{"members", "premium", "vip"} {
		id := agID[slug]
		h.must(404, h.do("GET", "/Groups/"+id, nil))
		h.must(404, h.do("PUT", "/Groups/"+id, map[string]any{"schemas": []string{groupSchema}, "displayName": slug, "members": []map[string]any{{"value": u}}}))
		h.must(404, h.do("PATCH", "/Groups/"+id, patch(op("add", "members", []map[string]any{{"value": u}}))))
		h.must(404, h.do("DELETE", "/Groups/"+id, nil))
	}
	if r := h.must(200, h.do("GET", "/Groups", nil)); r.Body["totalResults"] != 0.0 {
		t.Errorf("PUT or PATCH linked a group: %s", r.Raw)
	}
	h.drain()
	if s := h.slugs("member@example.com"); s != "" {
		t.Errorf("a refused group write reached Webflow: %s", s)
	}

	// POST links: by name (any case), by slug, through groupMappings.
	linked := map[string]string{}
	for _, tc := range []struct{ displayName, slug string }{{"MEMBERS", "members"}, {"vip", "vip"}, {"Okta Customers", "customers"}} {
		r := h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": tc.displayName, "members": []map[string]any{{"value": u}}}))
		if str(r.Body, "id") != agID[tc.slug] || str(r.Body[GroupExt].(map[string]any), "slug") != tc.slug || r.Body[GroupExt].(map[string]any)["linked"] != true {
			t.Errorf("POST %q: %s", tc.displayName, r.Raw)
		}
		linked[tc.slug] = str(r.Body, "id")
	}
	if got := h.must(200, h.do("GET", "/Groups/"+vip.ID, nil)); str(got.Body, "displayName") != "vip" || str(got.Body[GroupExt].(map[string]any), "accessGroupName") != "VIP Lounge" || memberValues(got) != u {
		t.Errorf("a linked group: %s", got.Raw)
	}
	r := h.must(200, h.do("GET", "/Groups", nil))
	if r.Body["totalResults"] != 3.0 || strings.Contains(r.Raw, agID["premium"]) || strings.Contains(r.Raw, agID["staff"]) {
		t.Errorf("the list holds the three linked groups only: %s", r.Raw)
	}
	h.drain()
	if s := h.slugs("member@example.com"); s != "customers,members,vip" {
		t.Errorf("memberships written: %s", s)
	}

	// DELETE: gone from GET and the list, until pushed again.
	h.must(204, h.do("DELETE", "/Groups/"+linked["vip"], nil))
	h.must(404, h.do("GET", "/Groups/"+linked["vip"], nil))
	h.must(404, h.do("DELETE", "/Groups/"+linked["vip"], nil))
	if r := h.must(200, h.do("GET", "/Groups", nil)); r.Body["totalResults"] != 2.0 || strings.Contains(r.Raw, linked["vip"]) {
		t.Errorf("a deleted group is listed: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", "/Users/"+u, nil)); strings.Contains(r.Raw, linked["vip"]) {
		t.Errorf("a deleted group is among the user's groups: %s", r.Raw)
	}
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "VIP Lounge"}))
	if r := h.must(200, h.do("GET", "/Groups", nil)); r.Body["totalResults"] != 3.0 {
		t.Errorf("pushed again, the group is back: %s", r.Raw)
	}
}

// TestGroupListPagesWithMembers: GET /Groups with members, one group a
// page, answers each group with its own members and their current
// userNames (a rename and a delete show at once), as GET /Groups/{id}
// does; excludedAttributes=members leaves them out on every page.
func TestGroupListPagesWithMembers(t *testing.T) {
	h := newBridge(t)
	a, b, c := h.newUser("a@list.example"), h.newUser("b@list.example"), h.newUser("c@list.example")
	group := func(name string, ids ...string) string {
		ms := make([]map[string]any, len(ids))
		for i, id := range ids {
			ms[i] = map[string]any{"value": id}
		}
		return str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": name, "members": ms})).Body, "id")
	}
	gids := map[string]string{group("Members", a, c): "", group("Premium", b, c, a): "", group("Staff"): ""}
	h.must(200, h.do("PUT", "/Users/"+c, fmt.Sprintf(`{"schemas":[%q],"userName":"c.renamed@list.example","emails":[{"value":"c@list.example","type":"work","primary":true}],"active":true}`, userSchema)))
	h.must(204, h.do("DELETE", "/Users/"+b, nil))
	displays := func(r map[string]any) string {
		ms, _ := r["members"].([]any)
		var out []string
		for _, m := range ms {
			mm := m.(map[string]any)
			out = append(out, str(mm, "value")+"="+str(mm, "display"))
		}
		return strings.Join(out, ",")
	}
	sorted := func(kv ...string) string { slices.Sort(kv); return strings.Join(kv, ",") }
	want := map[string]string{
		"Members": sorted(a+"=a@list.example", c+"=c.renamed@list.example"),
		"Premium": sorted(a+"=a@list.example", c+"=c.renamed@list.example"),
		"Staff":   "",
	}
	for page := 1; page <= 3; page++ {
		r := h.must(200, h.do("GET", fmt.Sprintf("/Groups?startIndex=%d&count=1", page), nil))
		res, _ := r.Body["Resources"].([]any)
		if r.Body["totalResults"] != 3.0 || r.Body["itemsPerPage"] != 1.0 || r.Body["startIndex"] != float64(page) || len(res) != 1 {
			t.Fatalf("page %d: %s", page, r.Raw)
		}
		g := res[0].(map[string]any)
		name, id := str(g, "displayName"), str(g, "id")
		if _, ok := gids[id]; !ok || gids[id] != "" {
			t.Fatalf("page %d: group %s unknown or listed twice: %s", page, id, r.Raw)
		}
		gids[id] = name
		if got := displays(g); got != want[name] {
			t.Errorf("page %d, %s: members %s, want %s", page, name, got, want[name])
		}
		if one := h.must(200, h.do("GET", "/Groups/"+id, nil)); displays(one.Body) != want[name] || str(one.Body, "displayName") != name {
			t.Errorf("GET /Groups/%s: %s", id, one.Raw)
		}
		if r := h.must(200, h.do("GET", fmt.Sprintf("/Groups?startIndex=%d&count=1&excludedAttributes=members", page), nil)); strings.Contains(string(r.Raw), `"members":`) {
			t.Errorf("page %d without members: %s", page, r.Raw)
		}
	}
	// Data written before the names hash existed (no hash at all): the
	// same answers, every group of a page read together, two to a page.
	keys, err := h.keys(context.Background(), "*:names")
	if err != nil || len(keys) != 1 {
		t.Fatalf("names hash: %v %v", keys, err)
	}
	if err := h.app.rdb.Del(context.Background(), keys[0]).Err(); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for start := 1; start <= 3; start += 2 {
		r := h.must(200, h.do("GET", fmt.Sprintf("/Groups?startIndex=%d&count=2", start), nil))
		res, _ := r.Body["Resources"].([]any)
		if r.Body["totalResults"] != 3.0 || r.Body["startIndex"] != float64(start) || len(res) != min(2, 4-start) {
			t.Fatalf("old data, from %d: %s", start, r.Raw)
		}
		for _, x := range res {
			g := x.(map[string]any)
			seen++
			if name := gids[str(g, "id")]; name != str(g, "displayName") || displays(g) != want[name] {
				t.Errorf("old data, from %d, %s: members %s, want %s", start, name, displays(g), want[name])
			}
		}
	}
	if seen != 3 {
		t.Errorf("old data: %d groups over the pages, want 3", seen)
	}
}
