package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
	"github.com/webflowscim/bridge/internal/workspacegroups"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// withWorkspaceGroups configures workspace.groups on the simulator's
// demo workspace: three overlapping groups, one with per-site access.
func withWorkspaceGroups(c *config.Config) {
	c.Workspace.ID = webflowsim.DemoWorkspaceID
	c.Workspace.MembersToken = webflowsim.DemoWorkspaceToken
	c.Workspace.Groups = map[string]config.WorkspaceRoleConfig{
		"Engineering": {Workspace: "member", Site: "designer", Sites: map[string]string{webflowsim.DemoSiteID: "site_manager"}},
		"Marketing":   {Workspace: "member", Site: "marketer"},
		"Reviewers":   {Sites: map[string]string{webflowsim.DemoOtherSiteID: "reviewer"}},
	}
}

// wsUser creates a collaborator through the passthrough and returns its
// native SCIM id; unlocked lifts Webflow's SCIM lock on its member.
func wsUser(t *testing.T, h *bridgeHarness, email string, unlocked bool) string {
	t.Helper()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"A","familyName":"B"},"emails":[{"primary":true,"value":%q,"type":"work"}],"active":true}`, email, email)
	c := h.wsDo("POST", "/Users", body)
	if c.Status != 201 {
		t.Fatalf("create %s: %d %s", email, c.Status, c.Raw)
	}
	if unlocked {
		if err := h.sim.SetSCIMLock(email, false); err != nil {
			t.Fatal(err)
		}
	}
	return str(c.Body, "id")
}

func wsDrain(t *testing.T, h *bridgeHarness) {
	t.Helper()
	if err := h.app.wsRoles.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := h.app.store.(interface {
		WorkspaceQueueStats(context.Context) (state.QueueStats, error)
	}).WorkspaceQueueStats(context.Background())
	if err != nil || st.Pending != 0 || len(st.Failures) != 0 {
		t.Fatalf("workspace queue after the drain: %+v, %v", st, err)
	}
}

// checkRoles compares each member's roles at the simulator with what
// Mapping.Effective gives the IdP's view of their groups.
func checkRoles(t *testing.T, h *bridgeHarness, m *workspaceroles.Mapping, view map[string][]string) {
	t.Helper()
	for email, groups := range view {
		eff := m.Effective(groups)
		mem, ok := h.sim.MemberByEmail(email)
		if !ok {
			t.Errorf("%s is no member", email)
			continue
		}
		if mem.Roles.Workspace != string(eff.Pair.Workspace) || mem.Roles.Site != string(eff.Pair.Site.Role) {
			t.Errorf("%s in %v: Webflow holds %s/%s, want %s", email, groups, mem.Roles.Workspace, mem.Roles.Site, eff.Pair)
		}
		snap := h.sim.Workspace()
		for _, site := range m.ManagedSites() {
			var got string
			for _, s := range snap.Sites {
				if s.ID != site {
					continue
				}
				for _, sm := range s.Members {
					if strings.EqualFold(sm.Email, email) && !sm.Implicit {
						got = sm.Roles.Site
					}
				}
			}
			want := ""
			if a, ok := eff.Sites[site]; ok {
				want = string(a.Role)
			}
			if got != want {
				t.Errorf("%s in %v: site %s role %q, want %q", email, groups, site, got, want)
			}
		}
	}
}

// newWorkspacePair is two bridge replicas on one simulator sharing one
// store (sharedRedis: the Redis at REDIS_URL under a key prefix of their
// own, else a miniredis). The workspace suites send the IdP's requests to
// both and drain on either, as a load balancer and two workers would.
func newWorkspacePair(t *testing.T, opts ...harnessOpt) (*bridgeHarness, *bridgeHarness) {
	t.Helper()
	ss := newSharedSim(t)
	opts = append([]harnessOpt{sharedRedis(t)}, opts...)
	return newReplica(t, ss, opts...), newReplica(t, ss, opts...)
}

func testMapping(t *testing.T, h *bridgeHarness) *workspaceroles.Mapping {
	cfg := &config.Config{}
	withWorkspaceGroups(cfg)
	m, err := workspaceroles.NewMapping(cfg.Workspace.RoleSpec())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Okta Group Push: POST groups with members, PATCH add and remove
// (members[value eq] path), rename, DELETE; after each drain Webflow's
// roles are Mapping.Effective of the IdP's view.
func TestWorkspaceGroupsOktaPush(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	m := testMapping(t, h)
	ann := wsUser(t, h, "ann@example.com", true)
	bob := wsUser(t, h, "bob@example.com", true)
	cat := wsUser(t, h, "cat@example.com", true)

	eng := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":%q},{"value":%q}]}`, ann, bob))
	if eng.Status != 201 {
		t.Fatalf("POST Engineering: %d %s", eng.Status, eng.Raw)
	}
	mkt := h2.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Marketing","members":[{"value":%q},{"value":%q}]}`, bob, cat))
	if mkt.Status != 201 {
		t.Fatalf("POST Marketing: %d %s", mkt.Status, mkt.Raw)
	}
	engID, mktID := str(eng.Body, "id"), str(mkt.Body, "id")
	drainCounted(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Engineering", "Marketing"}, "cat@example.com": {"Marketing"}})

	// Okta removes with a filter path and adds with a value.
	if r := h2.wsDo("PATCH", "/Groups/"+engID, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"},{"op":"add","path":"members","value":[{"value":%q}]}]}`, bob, cat)); r.Status != 204 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Raw)
	}
	drainCounted(t, h2)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Marketing"}, "cat@example.com": {"Engineering", "Marketing"}})

	// A rename to another configured group moves its members' roles.
	if r := h.wsDo("PATCH", "/Groups/"+mktID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Reviewers"}}]}`); r.Status != 204 {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}
	drainCounted(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Reviewers"}, "cat@example.com": {"Engineering", "Reviewers"}})

	if r := h2.wsDo("GET", "/Groups?filter="+urlq(`displayName eq "reviewers"`), ""); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Fatalf("filter: %d %s", r.Status, r.Raw)
	}
	if r := h2.wsDo("DELETE", "/Groups/"+engID, ""); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
	}
	drainCounted(t, h2)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": nil, "bob@example.com": {"Reviewers"}, "cat@example.com": {"Reviewers"}})
	if r := h.wsDo("GET", "/Groups/"+engID, ""); r.Status != 404 {
		t.Fatalf("GET deleted: %d %s", r.Status, r.Raw)
	}
}

// A member Webflow's native SCIM locks keeps its role; the lock is
// recorded with the desired role, and applied once lifted.
func TestWorkspaceGroupsSCIMLock(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	m := testMapping(t, h)
	dan := wsUser(t, h, "dan@example.com", false)
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, dan)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	locks, err := h.app.store.(interface {
		RoleLockCount(context.Context) (int, error)
	}).RoleLockCount(context.Background())
	if err != nil || locks != 1 {
		t.Fatalf("role locks %d, %v; want 1", locks, err)
	}
	if mem, _ := h.sim.MemberByEmail("dan@example.com"); mem.Roles.Site == "marketer" {
		t.Fatal("a locked member's role was written")
	}
	// Operators see the lock in /metrics and the details of /readyz, on
	// every replica.
	for _, rep := range []*bridgeHarness{h, h2} {
		if code, _, raw := rep.opsGet(rep.ts.URL+"/metrics", "Bearer "+testAdminToken); !strings.Contains(raw, "\nbridge_workspace_role_locks 1\n") {
			t.Errorf("/metrics lacks the lock count: %d", code)
		}
		if code, body, raw := rep.opsGet(rep.ts.URL+"/readyz", "Bearer "+testAdminToken); fmt.Sprint(walk(body, "workspaceRoles.roleLocks")) != "1" {
			t.Errorf("/readyz details lack the lock count: %d %.300s", code, raw)
		}
	}
	// The queue view names the lock and the role kept for it.
	req, _ := http.NewRequest("GET", h2.ts.URL+"/workspace/admin/memberships", nil)
	req.Header.Set("Authorization", "Bearer "+testWorkspaceToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Pending   int
		RoleLocks []state.RoleLock
	}
	_ = decodeJSON(res, &view)
	res.Body.Close()
	if res.StatusCode != 200 || len(view.RoleLocks) != 1 || view.RoleLocks[0].UserID != dan || view.RoleLocks[0].Desired != "member/marketer" {
		t.Errorf("queue view: %d %+v", res.StatusCode, view)
	}
	if err := h.sim.SetSCIMLock("dan@example.com", false); err != nil {
		t.Fatal(err)
	}
	if err := h2.app.wsRoles.RequeueLocked(context.Background()); err != nil {
		t.Fatal(err)
	}
	wsDrain(t, h2)
	checkRoles(t, h, m, map[string][]string{"dan@example.com": {"Marketing"}})
	if n, _ := h.app.store.(interface {
		RoleLockCount(context.Context) (int, error)
	}).RoleLockCount(context.Background()); n != 0 {
		t.Fatalf("role locks %d after the unlock was applied", n)
	}
}

// Names not in workspace.groups and ids native SCIM does not know are 400.
func TestWorkspaceGroupsRefusals(t *testing.T) {
	h := newBridge(t, withWorkspaceGroups)
	r := h.wsDo("POST", "/Groups", `{"displayName":"Sales"}`)
	if r.Status != 400 || !strings.Contains(str(r.Body, "detail"), `"Engineering"`) {
		t.Fatalf("unconfigured name: %d %s", r.Status, r.Raw)
	}
	r = h.wsDo("POST", "/Groups", `{"displayName":"Marketing","members":[{"value":"no-such-user"}]}`)
	if r.Status != 400 || !strings.Contains(r.Raw, "no-such-user") {
		t.Fatalf("unknown member: %d %s", r.Status, r.Raw)
	}
	if r := h.wsDo("GET", "/Groups", ""); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "0" {
		t.Fatalf("a refused POST left a group: %d %s", r.Status, r.Raw)
	}
}

// roleWrites counts the Workspace Members and Site Access writes the
// simulator served.
func roleWrites(h *bridgeHarness) int {
	s := h.sim
	return s.CountRequests("POST", "/v2/workspaces/*/members/bulk") +
		s.CountRequests("PATCH", "/v2/workspaces/*/members/*") +
		s.CountRequests("POST", "/v2/sites/*/members") +
		s.CountRequests("PATCH", "/v2/sites/*/members/*") +
		s.CountRequests("DELETE", "/v2/sites/*/members/*")
}

// lowerBoundOf is workspaceroles.LowerBound of what changed between two
// snapshots: the members whose pair changed, by new pair, and the
// explicit site entries granted, changed or revoked.
func lowerBoundOf(before, after webflowsim.WorkspaceSnapshot) int {
	pairOf := func(m webflowsim.SnapshotMember) string { return m.Roles.Workspace + "/" + m.Roles.Site }
	old := map[string]string{}
	for _, m := range before.Members {
		old[m.ID] = pairOf(m)
	}
	targets := map[workspaceroles.Pair]int{}
	for _, m := range after.Members {
		if old[m.ID] != pairOf(m) {
			targets[workspaceroles.Pair{Workspace: workspaceroles.WorkspaceRole(m.Roles.Workspace), Site: workspaceroles.Builtin(workspaceroles.SiteRole(m.Roles.Site))}]++
		}
	}
	entries := func(s webflowsim.WorkspaceSnapshot) map[string]string {
		out := map[string]string{}
		for _, site := range s.Sites {
			for _, sm := range site.Members {
				if !sm.Implicit {
					out[site.ID+"/"+sm.ID] = sm.Roles.Site
				}
			}
		}
		return out
	}
	a, b := entries(before), entries(after)
	changes := 0
	for k, v := range b {
		if a[k] != v {
			changes++
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			changes++
		}
	}
	return workspaceroles.LowerBound(targets, changes)
}

// drainCounted drains and checks the writes against the lower bound of
// what changed.
// The reads are held to workspaceroles.ReadBound of the queued users (one
// pass: a drain here takes fewer than 100) and what Webflow held.
func drainCounted(t *testing.T, h *bridgeHarness) {
	t.Helper()
	before, n, r := h.sim.Workspace(), roleWrites(h), roleReads(h)
	queued := wsQueue(t, h).Pending
	var siteEntries []int
	for _, site := range testMapping(t, h).ManagedSites() {
		for _, s := range before.Sites {
			if s.ID == site {
				siteEntries = append(siteEntries, len(s.Members))
			}
		}
	}
	readBound := workspaceroles.ReadBound(queued, workspacegroups.DefaultFindLimit, len(before.Members), len(before.Invites), siteEntries)
	wsDrain(t, h)
	writes, lb, reads := roleWrites(h)-n, lowerBoundOf(before, h.sim.Workspace()), roleReads(h)-r
	t.Logf("drain of %d users: %d role and site writes, lower bound %d; %d reads, bound %d", queued, writes, lb, reads, readBound)
	if writes > lb {
		t.Errorf("the drain made %d role and site writes; the change needs %d", writes, lb)
	}
	if reads > readBound {
		t.Errorf("the drain of %d users made %d reads; the read bound is %d", queued, reads, readBound)
	}
}

// Entra group sync: a group created empty, then PATCH Add and Remove of
// members with values (no aadOptscim062020 flag) and with a filter path;
// Entra's membership check filter. Every drain costs at most LowerBound.
func TestWorkspaceGroupsEntraSync(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	m := testMapping(t, h)
	ids := map[string]string{}
	for _, e := range []string{"eve@example.com", "fay@example.com", "gil@example.com"} {
		ids[e] = wsUser(t, h, e, true)
	}
	eve, fay, gil := ids["eve@example.com"], ids["fay@example.com"], ids["gil@example.com"]
	mk := func(name string) string {
		r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"ext-%s","displayName":%q,"members":[]}`, name, name))
		if r.Status != 201 {
			t.Fatalf("POST %s: %d %s", name, r.Status, r.Raw)
		}
		return str(r.Body, "id")
	}
	eng, rev := mk("Engineering"), mk("Reviewers")
	// PATCHes alternate between the replicas.
	patches := 0
	patch := func(gid, ops string) {
		t.Helper()
		patches++
		rep := h
		if patches%2 == 0 {
			rep = h2
		}
		if r := rep.wsDo("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`); r.Status != 204 {
			t.Fatalf("PATCH %s: %d %s", ops, r.Status, r.Raw)
		}
	}
	patch(eng, fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":%q},{"value":%q}]}`, eve, fay))
	patch(rev, fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":%q},{"value":%q}]}`, fay, gil))
	drainCounted(t, h)
	checkRoles(t, h, m, map[string][]string{"eve@example.com": {"Engineering"}, "fay@example.com": {"Engineering", "Reviewers"}, "gil@example.com": {"Reviewers"}})

	// Entra's membership check before a remove.
	r := h.wsDo("GET", "/Groups?excludedAttributes=members&filter="+urlq(fmt.Sprintf(`id eq "%s" and members[value eq "%s"]`, eng, fay)), "")
	if r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Fatalf("membership check: %d %s", r.Status, r.Raw)
	}
	patch(eng, fmt.Sprintf(`{"op":"Remove","path":"members","value":[{"value":%q}]}`, fay))
	patch(rev, fmt.Sprintf(`{"op":"Remove","path":"members[value eq \"%s\"]"}`, gil))
	patch(rev, fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":%q}]}`, eve))
	drainCounted(t, h2)
	checkRoles(t, h, m, map[string][]string{"eve@example.com": {"Engineering", "Reviewers"}, "fay@example.com": {"Reviewers"}, "gil@example.com": nil})
	r = h2.wsDo("GET", "/Groups?excludedAttributes=members&filter="+urlq(fmt.Sprintf(`id eq "%s" and members[value eq "%s"]`, eng, fay)), "")
	if r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "0" {
		t.Fatalf("membership check after the remove: %d %s", r.Status, r.Raw)
	}
	// Nothing changed: a drain of requeued users writes nothing.
	if err := h.app.store.(interface {
		EnqueueWorkspaceUsers(context.Context, ...string) error
	}).EnqueueWorkspaceUsers(context.Background(), eve, fay, gil); err != nil {
		t.Fatal(err)
	}
	n := roleWrites(h)
	wsDrain(t, h)
	if w := roleWrites(h) - n; w != 0 {
		t.Errorf("a drain with nothing to change made %d writes", w)
	}
}

// Two replicas on one Redis, both running their workers, take concurrent
// pushes for the same users: every update lands (the final roles are
// Mapping.Effective of the final memberships).
func TestWorkspaceGroupsReplicas(t *testing.T) {
	h1, h2 := newWorkspacePair(t, withWorkspaceGroups)
	reps := []*bridgeHarness{h1, h2}
	h := reps[0]
	m := testMapping(t, h)
	const users = 8
	ids := make([]string, users)
	for i := range ids {
		ids[i] = wsUser(t, h, fmt.Sprintf("rep%d@example.com", i), true)
	}
	gid := map[string]string{}
	for _, name := range []string{"Engineering", "Marketing", "Reviewers"} {
		r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":%q}`, name))
		if r.Status != 201 {
			t.Fatalf("POST %s: %d %s", name, r.Status, r.Raw)
		}
		gid[name] = str(r.Body, "id")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, rep := range reps {
		wg.Add(1)
		go func() { defer wg.Done(); rep.app.wsRoles.Run(ctx, 5*time.Millisecond, time.Hour) }()
	}
	// Each user gets its own sequence of adds and removes over both
	// replicas, the users concurrently; the last step of each decides.
	names := []string{"Engineering", "Marketing", "Reviewers"}
	final := make([]map[string]bool, users)
	var pw sync.WaitGroup
	for i := range users {
		final[i] = map[string]bool{}
		pw.Add(1)
		go func() {
			defer pw.Done()
			for step := range 9 {
				name := names[(i+step)%3]
				op := "add"
				if (i+step)%4 == 3 {
					op = "remove"
				}
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"%s","path":"members","value":[{"value":%q}]}]}`, op, ids[i])
				if r := reps[(i+step)%2].wsDo("PATCH", "/Groups/"+gid[name], body); r.Status != 204 {
					t.Errorf("PATCH: %d %s", r.Status, r.Raw)
					return
				}
				final[i][name] = op == "add"
			}
		}()
	}
	pw.Wait()
	waitFor(t, "the workspace queue to drain", func() bool {
		st, err := h.app.store.(interface {
			WorkspaceQueueStats(context.Context) (state.QueueStats, error)
		}).WorkspaceQueueStats(context.Background())
		return err == nil && st.Pending == 0
	})
	cancel()
	wg.Wait()
	wsDrain(t, h)
	view := map[string][]string{}
	for i := range users {
		var gs []string
		for name, in := range final[i] {
			if in {
				gs = append(gs, name)
			}
		}
		view[fmt.Sprintf("rep%d@example.com", i)] = gs
	}
	checkRoles(t, h, m, view)
}

// A member id the IdP holds from before the bridge stood in front of
// native SCIM (no collaborator link) is read once from native SCIM
// (FetchUser records its link, so the worker knows its email); an id
// native SCIM does not know is refused, and asked about only once.
func TestWorkspaceGroupsFetchUnseenMember(t *testing.T) {
	h := newBridge(t, withWorkspaceGroups)
	m := testMapping(t, h)
	// Created at Webflow's native SCIM directly, not through the bridge.
	req, _ := http.NewRequest("POST", h.simTS.URL+"/scim/v2/Users", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"old@example.com","emails":[{"primary":true,"value":"old@example.com"}],"active":true}`))
	req.Header.Set("Authorization", "Bearer "+webflowsim.DemoSCIMToken)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u map[string]any
	_ = decodeJSON(res, &u)
	res.Body.Close()
	old := str(u, "id")
	if res.StatusCode != 201 || old == "" {
		t.Fatalf("native SCIM create: %d %v", res.StatusCode, u)
	}
	if err := h.sim.SetSCIMLock("old@example.com", false); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetRequests()
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, old)); r.Status != 201 {
		t.Fatalf("POST with an unseen member: %d %s", r.Status, r.Raw)
	}
	if n := h.sim.CountRequests("GET", "/scim/v2/Users/*"); n != 1 {
		t.Errorf("%d native SCIM reads for one unseen member, want 1", n)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{"old@example.com": {"Marketing"}})

	for range 3 {
		if r := h.wsDo("POST", "/Groups", `{"displayName":"Engineering","members":[{"value":"gone-user-42"}]}`); r.Status != 400 || !strings.Contains(r.Raw, "gone-user-42") {
			t.Fatalf("unknown member: %d %s", r.Status, r.Raw)
		}
	}
	if n := h.sim.CountRequests("GET", "/scim/v2/Users/gone-user-42"); n != 1 {
		t.Errorf("native SCIM asked %d times about one unknown id, want 1", n)
	}
}

func wsQueue(t *testing.T, h *bridgeHarness) state.QueueStats {
	t.Helper()
	st, err := h.app.store.(interface {
		WorkspaceQueueStats(context.Context) (state.QueueStats, error)
	}).WorkspaceQueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A bulk item Webflow fails with internal_error is retried after a
// backoff and lands; a Site Access write Webflow refuses for good is
// recorded as the user's failure, not retried.
func TestWorkspaceGroupsRetriesAndFailures(t *testing.T) {
	h := newBridge(t, withWorkspaceGroups)
	m := testMapping(t, h)
	hal := wsUser(t, h, "hal@example.com", true)
	ivy := wsUser(t, h, "ivy@example.com", true)
	mem, _ := h.sim.MemberByEmail("hal@example.com")
	h.sim.InjectBulkItemFault(mem.ID, 1)
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, hal)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	if err := h.app.wsRoles.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := wsQueue(t, h); st.Pending != 1 || len(st.Failures) != 0 {
		t.Fatalf("after a failed item: %+v, want it pending for a retry", st)
	}
	waitFor(t, "the retry", func() bool {
		if err := h.app.wsRoles.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		return wsQueue(t, h).Pending == 0
	})
	checkRoles(t, h, m, map[string][]string{"hal@example.com": {"Marketing"}})

	h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/members", Status: 400})
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Engineering","members":[{"value":%q}]}`, ivy)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	if err := h.app.wsRoles.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := wsQueue(t, h)
	if st.Pending != 0 || len(st.Failures) != 1 || st.Failures[0].UserID != ivy || !strings.Contains(st.Failures[0].Error, "grant") {
		t.Fatalf("after a refused grant: %+v, want one recorded failure for %s", st, ivy)
	}
}
