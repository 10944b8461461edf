package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
	"github.com/webflowscim/bridge/internal/workspacegroups"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// leftFor reports whether the drift of email leaves it for reason.
func leftFor(rep *workspacegroups.DriftReport, email, reason string) bool {
	d := driftOf(rep, email)
	if d == nil {
		return false
	}
	for _, l := range d.Left {
		if l.Reason == reason {
			return true
		}
	}
	return false
}

// invitesSent counts the Invite Workspace Member calls the simulator served.
func invitesSent(h *bridgeHarness) int {
	return h.sim.CountRequests("POST", "/v2/workspaces/*/members")
}

// siteAccessWrites counts the Site Access calls (grant, PATCH, revoke).
func siteAccessWrites(h *bridgeHarness) int {
	s := h.sim
	return s.CountRequests("POST", "/v2/sites/*/members") + s.CountRequests("PATCH", "/v2/sites/*/members/*") + s.CountRequests("DELETE", "/v2/sites/*/members/*")
}

// bridge reconcile --workspace in workspace.mode: members, on two replicas
// sharing Redis (the real one of REDIS_URL when set): a role changed in
// the dashboard is reported and --apply restores it with exactly
// workspaceroles.LowerBound writes, a second run reports and writes
// nothing; a user deactivated through SCIM but still in an IdP group is
// reported as left alone ("deactivated") and never invited or written,
// even when the dashboard adds the address back (nor by the worker when
// the IdP changes the user's groups); a pending invite is given no Site
// Access, and once accepted reconcile grants it. The command (bridge
// reconcile --workspace --apply, from a members-mode config file) is a
// third process on the same Redis.
func TestWorkspaceMembersReconcile(t *testing.T) {
	h, h2, redisURL, prefix := membersPair(t)
	m := testMapping(t, h)
	const ann, bob, cat, dan = "ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"
	ids := map[string]string{}
	for _, email := range []string{ann, bob, cat, dan} {
		ids[email] = wsMember(t, h, email)
	}
	// ann, bob and dan accept (noticed by Okta's next PUT, on the other
	// replica); cat's invite stays pending.
	for _, email := range []string{ann, bob, dan} {
		if _, err := h.sim.AcceptInvite(email, "A", "B"); err != nil {
			t.Fatal(err)
		}
		if r := h2.wsDo("PUT", "/Users/"+ids[email], oktaUserBody(email, "A", true)); r.Status != 200 {
			t.Fatalf("PUT %s: %d %s", email, r.Status, r.Raw)
		}
	}
	for _, g := range []struct{ name, members string }{
		{"Engineering", fmt.Sprintf(`[{"value":%q},{"value":%q},{"value":%q}]`, ids[ann], ids[cat], ids[dan])},
		{"Marketing", fmt.Sprintf(`[{"value":%q}]`, ids[bob])},
	} {
		if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":%q,"members":%s}`, g.name, g.members)); r.Status != 201 {
			t.Fatalf("POST %s: %d %s", g.name, r.Status, r.Raw)
		}
	}
	wsDrain(t, h)
	wsDrain(t, h2)
	checkRoles(t, h, m, map[string][]string{ann: {"Engineering"}, bob: {"Marketing"}, dan: {"Engineering"}})

	// dan is deactivated through SCIM: removed from Webflow, still in the
	// IdP's Engineering group.
	if r := h2.wsDo("PATCH", "/Users/"+ids[dan], `{"schemas":["`+patchOp+`"],"Operations":[{"op":"replace","value":{"active":false}}]}`); r.Status != 200 || r.Body["active"] != false {
		t.Fatalf("PATCH dan active false: %d %s", r.Status, r.Raw)
	}
	if _, ok := h.sim.MemberByEmail(dan); ok {
		t.Fatal("the deactivated dan is still a member")
	}
	wsDrain(t, h)

	invites0, site0 := invitesSent(h), siteAccessWrites(h)
	rep, _, _ := wsReconcile(t, h, false)
	if !rep.Clean() || rep.LowerBound != 0 || rep.Users != 4 {
		t.Errorf("before any drift: clean %v, lower bound %d, users %d: %+v", rep.Clean(), rep.LowerBound, rep.Users, rep.Drift)
	}
	if !leftFor(rep, dan, workspacegroups.ReasonDeactivated) {
		t.Errorf("the deactivated dan is not reported as left alone: %+v", driftOf(rep, dan))
	}
	if d := driftOf(rep, cat); d == nil || d.Role != nil || len(d.Sites) != 0 || !leftFor(rep, cat, string(workspaceroles.ReasonAwaitingAcceptance)) {
		t.Errorf("the pending cat: %+v, want no drift to fix, left awaiting acceptance", d)
	}

	// Behind the bridge's back: ann made reviewer and bob content_editor
	// in the dashboard.
	memberID := func(email string) string {
		mem, ok := h.sim.MemberByEmail(email)
		if !ok {
			t.Fatalf("%s is no member", email)
		}
		return mem.ID
	}
	if err := h.sim.SetMemberRole(memberID(ann), "reviewer", "reviewer", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetMemberRole(memberID(bob), "member", "content_editor", ""); err != nil {
		t.Fatal(err)
	}
	before := h.sim.Workspace()
	rep, _, _ = wsReconcile(t, h, false)
	if d := driftOf(rep, ann); d == nil || d.Role == nil || d.Role.Current != "reviewer/reviewer" || d.Role.Desired != "member/designer" || d.UserID != ids[ann] {
		t.Errorf("ann's dashboard role change: %+v", d)
	}
	if d := driftOf(rep, bob); d == nil || d.Role == nil || d.Role.Current != "member/content_editor" || d.Role.Desired != "member/marketer" {
		t.Errorf("bob's dashboard role change: %+v", d)
	}
	if d := driftOf(rep, dan); d == nil || d.Role != nil || len(d.Sites) != 0 || !leftFor(rep, dan, workspacegroups.ReasonDeactivated) {
		t.Errorf("the deactivated dan: %+v", d)
	}
	if rep.Clean() || rep.LowerBound != 2 {
		t.Errorf("the dry run: clean %v, lower bound %d; want 2 (one bulk update per target pair)", rep.Clean(), rep.LowerBound)
	}

	// The other replica applies.
	rep, reads, writes := wsReconcile(t, h2, true)
	lb := lowerBoundOf(before, h.sim.Workspace())
	t.Logf("members mode reconcile --apply: %d writes (lower bound %d, counted independently %d), %d reads (bound %d)", writes, rep.LowerBound, lb, reads, rep.ReadBound)
	if writes != rep.LowerBound || writes != lb || writes != 2 {
		t.Errorf("apply made %d writes; LowerBound %d, of what changed %d, want 2", writes, rep.LowerBound, lb)
	}
	if rep.Fixed != 2 {
		t.Errorf("fixed %d members, want 2: %+v", rep.Fixed, rep.Drift)
	}
	checkRoles(t, h, m, map[string][]string{ann: {"Engineering"}, bob: {"Marketing"}})
	if n := invitesSent(h) - invites0; n != 0 {
		t.Errorf("reconcile sent %d invites (the deactivated dan must not be invited again)", n)
	}
	if n := siteAccessWrites(h) - site0; n != 0 {
		t.Errorf("reconcile made %d Site Access calls (none drifted; the pending cat gets none)", n)
	}
	if iv := h.sim.WorkspaceInvitesTo(dan); iv != 1 {
		t.Errorf("dan got %d invitation emails, want the first only", iv)
	}
	if _, ok := h.sim.MemberByEmail(dan); ok {
		t.Error("dan is a member again")
	}

	// A second run, on either replica, reports and writes nothing.
	for _, r := range []*bridgeHarness{h, h2} {
		rep, _, writes = wsReconcile(t, r, true)
		if !rep.Clean() || writes != 0 || rep.LowerBound != 0 {
			t.Errorf("second run: clean %v, %d writes, lower bound %d: %+v", rep.Clean(), writes, rep.LowerBound, rep.Drift)
		}
	}
	// And so does the command, "bridge reconcile --workspace --apply", a
	// third process on the same Redis with a members-mode config file.
	cfg := fmt.Sprintf(`redis: {url: %q, keyPrefix: %q}
webflow: {apiBaseURL: "%s/v2", rateLimitPerMinute: 100000}
workspace:
  mode: members
  scimTokens: [%s]
  id: %s
  membersToken: %s
  groups:
    "Engineering": {workspace: member, site: designer, sites: {%s: site_manager}}
    "Marketing": {workspace: member, site: marketer}
    "Reviewers": {sites: {%s: reviewer}}
`, redisURL, prefix, h.simTS.URL, testWorkspaceToken, webflowsim.DemoWorkspaceID, webflowsim.DemoWorkspaceToken, webflowsim.DemoSiteID, webflowsim.DemoOtherSiteID)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	w0, i0 := roleWrites(h), invitesSent(h)
	if err := runReconcile(t.Context(), []string{"--config", path, "--workspace", "--apply"}, &out, &errb); err != nil {
		t.Fatalf("bridge reconcile --workspace --apply: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"applied: 0 writes (lower bound 0), 0 members fixed", "dan@example.com", "left as it is: deactivated"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the command's report lacks %q:\n%s", want, out.String())
		}
	}
	if n, i := roleWrites(h)-w0, invitesSent(h)-i0; n != 0 || i != 0 {
		t.Errorf("the command wrote %d times and invited %d times", n, i)
	}

	// The dashboard adds dan back: the IdP still says deactivated, so the
	// bridge leaves that member as it is (reported, never written).
	if _, err := h.sim.AddMember(webflowsim.SeedMember{Email: dan, Role: "reviewer", SiteRole: "reviewer"}); err != nil {
		t.Fatal(err)
	}
	rep, _, writes = wsReconcile(t, h, true)
	if writes != 0 || !rep.Clean() || !leftFor(rep, dan, workspacegroups.ReasonDeactivated) {
		t.Errorf("a deactivated user added back in the dashboard: %d writes, %+v", writes, driftOf(rep, dan))
	}
	if mem, _ := h.sim.MemberByEmail(dan); mem.Roles.Workspace != "reviewer" {
		t.Errorf("the deactivated dan's member was rewritten: %+v", mem.Roles)
	}

	// The worker skips dan as well: the IdP adds the deactivated dan to
	// Marketing (a group change queues him), and the member the dashboard
	// added keeps what it has.
	if err := h.sim.SetMemberRole(memberID(dan), "reviewer", "reviewer", ""); err != nil {
		t.Fatal(err)
	}
	if r := h2.wsDo("PATCH", "/Groups/"+groupID(t, h, "Marketing"), fmt.Sprintf(`{"schemas":[%q],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, patchOp, ids[dan])); r.Status != 204 && r.Status != 200 {
		t.Fatalf("PATCH Marketing add dan: %d %s", r.Status, r.Raw)
	}
	w0 = roleWrites(h)
	wsDrain(t, h2)
	wsDrain(t, h)
	if mem, _ := h.sim.MemberByEmail(dan); mem.Roles.Workspace != "reviewer" || roleWrites(h) != w0 {
		t.Errorf("the worker wrote the deactivated dan: %+v, %d writes", mem.Roles, roleWrites(h)-w0)
	}

	// cat accepts behind the bridge's back: reconcile finds the member
	// and grants the per-site access only a member can get (1 write).
	if _, err := h.sim.AcceptInvite(cat, "C", "D"); err != nil {
		t.Fatal(err)
	}
	rep, _, _ = wsReconcile(t, h2, false)
	if d := driftOf(rep, cat); d == nil || d.Role != nil || len(d.Sites) != 1 || d.Sites[0].SiteID != webflowsim.DemoSiteID || d.Sites[0].Change != "grant" || d.Sites[0].Desired != "site_manager" {
		t.Errorf("cat, accepted: %+v", d)
	}
	rep, _, writes = wsReconcile(t, h, true)
	if writes != 1 || rep.LowerBound != 1 {
		t.Errorf("cat's grant: %d writes, lower bound %d", writes, rep.LowerBound)
	}
	checkRoles(t, h, m, map[string][]string{ann: {"Engineering"}, bob: {"Marketing"}, cat: {"Engineering"}})
}

// membersPair is twoReplicas in workspace.mode: members, also returning
// the Redis URL and key prefix they share, for a third process (the
// reconcile command): REDIS_URL's Redis under a prefix of its own when
// set, else a miniredis.
func membersPair(t *testing.T) (h, h2 *bridgeHarness, redisURL, prefix string) {
	t.Helper()
	ss := newSharedSim(t)
	if u := os.Getenv("REDIS_URL"); u != "" {
		redisURL, prefix = u, fmt.Sprintf("wfbe2e-%d-%d", os.Getpid(), e2eSeq.Add(1))
	} else {
		redisURL, prefix = "redis://"+miniredis.RunT(t).Addr(), "wfb"
	}
	opt := func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = redisURL, prefix }
	h, h2 = newReplica(t, ss, opt, withWorkspaceMembers), newReplica(t, ss, opt, withWorkspaceMembers)
	if os.Getenv("REDIS_URL") != "" {
		h.prefix = prefix
		t.Cleanup(h.wipeStore)
	}
	return h, h2, redisURL, prefix
}

// groupID is the bridge's id of a workspace group, by its displayName.
func groupID(t *testing.T, h *bridgeHarness, name string) string {
	t.Helper()
	r := h.wsDo("GET", "/Groups?filter="+urlq(`displayName eq "`+name+`"`), "")
	id, _ := walk(r.Body, "Resources.0.id").(string)
	if r.Status != 200 || id == "" {
		t.Fatalf("group %s: %d %s", name, r.Status, r.Raw)
	}
	return id
}
