package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
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
	h := newBridge(t, withWorkspaceGroups)
	m := testMapping(t, h)
	ann := wsUser(t, h, "ann@example.com", true)
	bob := wsUser(t, h, "bob@example.com", true)
	cat := wsUser(t, h, "cat@example.com", true)

	eng := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":%q},{"value":%q}]}`, ann, bob))
	if eng.Status != 201 {
		t.Fatalf("POST Engineering: %d %s", eng.Status, eng.Raw)
	}
	mkt := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Marketing","members":[{"value":%q},{"value":%q}]}`, bob, cat))
	if mkt.Status != 201 {
		t.Fatalf("POST Marketing: %d %s", mkt.Status, mkt.Raw)
	}
	engID, mktID := str(eng.Body, "id"), str(mkt.Body, "id")
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Engineering", "Marketing"}, "cat@example.com": {"Marketing"}})

	// Okta removes with a filter path and adds with a value.
	if r := h.wsDo("PATCH", "/Groups/"+engID, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"},{"op":"add","path":"members","value":[{"value":%q}]}]}`, bob, cat)); r.Status != 204 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Marketing"}, "cat@example.com": {"Engineering", "Marketing"}})

	// A rename to another configured group moves its members' roles.
	if r := h.wsDo("PATCH", "/Groups/"+mktID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Reviewers"}}]}`); r.Status != 204 {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Reviewers"}, "cat@example.com": {"Engineering", "Reviewers"}})

	if r := h.wsDo("GET", "/Groups?filter="+urlq(`displayName eq "reviewers"`), ""); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Fatalf("filter: %d %s", r.Status, r.Raw)
	}
	if r := h.wsDo("DELETE", "/Groups/"+engID, ""); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{"ann@example.com": nil, "bob@example.com": {"Reviewers"}, "cat@example.com": {"Reviewers"}})
	if r := h.wsDo("GET", "/Groups/"+engID, ""); r.Status != 404 {
		t.Fatalf("GET deleted: %d %s", r.Status, r.Raw)
	}
}

// A member Webflow's native SCIM locks keeps its role; the lock is
// recorded with the desired role, and applied once lifted.
func TestWorkspaceGroupsSCIMLock(t *testing.T) {
	h := newBridge(t, withWorkspaceGroups)
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
	if err := h.sim.SetSCIMLock("dan@example.com", false); err != nil {
		t.Fatal(err)
	}
	if err := h.app.wsRoles.RequeueLocked(context.Background()); err != nil {
		t.Fatal(err)
	}
	wsDrain(t, h)
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
