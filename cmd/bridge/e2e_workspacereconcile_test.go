package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
	"github.com/webflowscim/bridge/internal/workspacegroups"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// roleReads counts the List Workspace Members and List Site Members calls
// the simulator served.
func roleReads(h *bridgeHarness) int {
	return h.sim.CountRequests("GET", "/v2/workspaces/*/members") + h.sim.CountRequests("GET", "/v2/sites/*/members")
}

func wsReconcile(t *testing.T, h *bridgeHarness, apply bool) (rep *workspacegroups.DriftReport, reads, writes int) {
	t.Helper()
	r0, w0 := roleReads(h), roleWrites(h)
	rep, err := h.app.wsRoles.Reconcile(context.Background(), apply)
	if err != nil {
		t.Fatal(err)
	}
	reads, writes = roleReads(h)-r0, roleWrites(h)-w0
	if reads != rep.Reads || reads > rep.ReadBound {
		t.Errorf("reconcile read %d times at the simulator (it counted %d); the read bound is %d", reads, rep.Reads, rep.ReadBound)
	}
	if apply && writes != rep.Writes {
		t.Errorf("reconcile wrote %d times at the simulator; it counted %d", writes, rep.Writes)
	}
	if !apply && writes != 0 {
		t.Errorf("a dry run wrote %d times", writes)
	}
	return rep, reads, writes
}

func driftOf(rep *workspacegroups.DriftReport, email string) *workspacegroups.MemberDrift {
	for i := range rep.Drift {
		if rep.Drift[i].Email == email {
			return &rep.Drift[i]
		}
	}
	return nil
}

// Changes made at Webflow behind the bridge's back (a role changed in the
// dashboard, a site grant revoked, another added) are reported per
// member; --apply restores the IdP's view with exactly LowerBound writes
// and the stated reads; a second run finds and writes nothing.
func TestWorkspaceReconcileDashboardDrift(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	m := testMapping(t, h)
	ann := wsUser(t, h, "ann@example.com", true)
	bob := wsUser(t, h, "bob@example.com", true)
	cat := wsUser(t, h, "cat@example.com", true)
	for _, g := range []struct{ name, members string }{
		{"Engineering", fmt.Sprintf(`[{"value":%q},{"value":%q}]`, ann, bob)},
		{"Marketing", fmt.Sprintf(`[{"value":%q}]`, cat)},
	} {
		if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":%q,"members":%s}`, g.name, g.members)); r.Status != 201 {
			t.Fatalf("POST %s: %d %s", g.name, r.Status, r.Raw)
		}
	}
	wsDrain(t, h)
	view := map[string][]string{"ann@example.com": {"Engineering"}, "bob@example.com": {"Engineering"}, "cat@example.com": {"Marketing"}}
	checkRoles(t, h, m, view)

	// Nothing differs yet.
	if rep, _, _ := wsReconcile(t, h, false); !rep.Clean() || rep.Users != 3 {
		t.Fatalf("before any drift: %+v", rep)
	}

	// Behind the bridge's back: ann made reviewer in the dashboard, bob's
	// site grant revoked, cat granted a site the groups do not give.
	memberID := func(email string) string {
		mem, ok := h.sim.MemberByEmail(email)
		if !ok {
			t.Fatalf("%s is no member", email)
		}
		return mem.ID
	}
	if err := h.sim.SetMemberRole(memberID("ann@example.com"), "reviewer", "reviewer", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.RevokeSiteMember(webflowsim.DemoSiteID, memberID("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetSiteMemberRole(webflowsim.DemoOtherSiteID, memberID("cat@example.com"), "designer", ""); err != nil {
		t.Fatal(err)
	}
	before := h.sim.Workspace()

	rep, _, _ := wsReconcile(t, h, false)
	if d := driftOf(rep, "ann@example.com"); d == nil || d.Role == nil || d.Role.Current != "reviewer/reviewer" || d.Role.Desired != "member/designer" || d.UserID != ann {
		t.Errorf("ann's dashboard role change: %+v", d)
	}
	if d := driftOf(rep, "bob@example.com"); d == nil || d.Role != nil || len(d.Sites) != 1 || d.Sites[0].SiteID != webflowsim.DemoSiteID || d.Sites[0].Change != "grant" || d.Sites[0].Desired != "site_manager" {
		t.Errorf("bob's missing grant: %+v", d)
	}
	if d := driftOf(rep, "cat@example.com"); d == nil || len(d.Sites) != 1 || d.Sites[0].SiteID != webflowsim.DemoOtherSiteID || d.Sites[0].Change != "revoke" || d.Sites[0].Current != "designer" {
		t.Errorf("cat's extra grant: %+v", d)
	}
	if rep.Clean() || rep.LowerBound != 3 {
		t.Errorf("the dry run: clean %v, lower bound %d; want 3 (1 bulk update, 1 grant, 1 revoke)", rep.Clean(), rep.LowerBound)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{"ann@example.com", "role: Webflow holds reviewer/reviewer", "access missing; grant site_manager", "revoke", "dry run: 3 writes"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}

	// The other replica applies: the state is shared.
	rep, reads, writes := wsReconcile(t, h2, true)
	lb := lowerBoundOf(before, h.sim.Workspace())
	t.Logf("reconcile --apply: %d writes (lower bound %d, counted independently %d), %d reads (bound %d)", writes, rep.LowerBound, lb, reads, rep.ReadBound)
	if writes != rep.LowerBound || writes != lb {
		t.Errorf("apply made %d writes; LowerBound %d, of what changed %d", writes, rep.LowerBound, lb)
	}
	if rep.Fixed != 3 {
		t.Errorf("fixed %d members, want 3: %+v", rep.Fixed, rep.Drift)
	}
	checkRoles(t, h, m, view)

	// A second run reports nothing and writes nothing.
	rep, _, writes = wsReconcile(t, h, true)
	if !rep.Clean() || writes != 0 || rep.LowerBound != 0 {
		t.Errorf("second run: clean %v, %d writes: %+v", rep.Clean(), writes, rep.Drift)
	}

	// Owners, guests and clients are reported and never written.
	if err := h.sim.SetMemberRole(memberID("cat@example.com"), "guest", "designer", ""); err != nil {
		t.Fatal(err)
	}
	rep, _, writes = wsReconcile(t, h, true)
	if d := driftOf(rep, "cat@example.com"); d == nil || len(d.Left) == 0 || d.Left[0].Reason != string(workspaceroles.ReasonProtected) || writes != 0 {
		t.Errorf("a guest: %+v, %d writes", d, writes)
	}

	// The JSON report keeps its keys.
	b, _ := json.Marshal(rep)
	for _, k := range []string{`"drift"`, `"reads"`, `"readBound"`, `"writes"`, `"lowerBound"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("the JSON report lacks %s: %s", k, b)
		}
	}
}

// A member Webflow's SCIM locks is reported as role-locked; apply tries
// the kept role and records the refusal again; once the lock is lifted
// the next reconcile writes the kept role and clears the lock.
func TestWorkspaceReconcileLockLifted(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	m := testMapping(t, h)
	dan := wsUser(t, h, "dan@example.com", false)
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, dan)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	locks := func() int {
		n, err := h.app.store.(interface {
			RoleLockCount(context.Context) (int, error)
		}).RoleLockCount(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if locks() != 1 {
		t.Fatalf("role locks %d, want 1", locks())
	}
	rep, _, _ := wsReconcile(t, h, false)
	if d := driftOf(rep, "dan@example.com"); d == nil || !d.RoleLocked || d.Role == nil || d.Role.Desired != "member/marketer" {
		t.Fatalf("a locked member: %+v", d)
	}
	rep, _, writes := wsReconcile(t, h, true)
	if d := driftOf(rep, "dan@example.com"); d == nil || d.Outcome != "role_locked" || writes != 1 || locks() != 1 {
		t.Fatalf("apply while locked: %+v, %d writes, %d locks", d, writes, locks())
	}
	if err := h.sim.SetSCIMLock("dan@example.com", false); err != nil {
		t.Fatal(err)
	}
	rep, _, writes = wsReconcile(t, h2, true)
	if d := driftOf(rep, "dan@example.com"); d == nil || d.Outcome != "written" || writes != rep.LowerBound || locks() != 0 {
		t.Fatalf("apply once unlocked: %+v, %d writes (lower bound %d), %d locks", d, writes, rep.LowerBound, locks())
	}
	checkRoles(t, h, m, map[string][]string{"dan@example.com": {"Marketing"}})
	if rep, _, writes := wsReconcile(t, h, true); !rep.Clean() || writes != 0 {
		t.Errorf("after the unlock: %+v, %d writes", rep.Drift, writes)
	}
}

// Two replicas never reconcile the workspace at once: while one holds the
// lease, the other's run is ErrReconcileRunning.
func TestWorkspaceReconcileLease(t *testing.T) {
	h, h2 := newWorkspacePair(t, withWorkspaceGroups)
	unlock, ok, err := h.app.store.(interface {
		LockWorkspaceUser(context.Context, string, time.Duration) (func(), bool, error)
	}).LockWorkspaceUser(context.Background(), "\x00reconcile", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := h2.app.wsRoles.Reconcile(context.Background(), true); err != workspacegroups.ErrReconcileRunning {
		t.Errorf("with the lease held elsewhere: %v", err)
	}
	unlock()
	if _, err := h2.app.wsRoles.Reconcile(context.Background(), false); err != nil {
		t.Errorf("with the lease free: %v", err)
	}
}

// An open site (workspace.openSites) is never granted or revoked: a role
// the groups give there is PATCHed, and PATCHed back to the default Site
// role when they stop giving it; the member keeps access, under every
// reading of what Webflow lists and does on an open site.
func TestWorkspaceGroupsOpenSite(t *testing.T) {
	for _, tc := range []struct {
		name string
		rd   webflowsim.Readings
	}{
		{"defaults", webflowsim.Readings{}},
		{"implicit access not listed", webflowsim.Readings{SiteListImplicit: webflowsim.SiteListOmitted}},
		{"revoke removes access", webflowsim.Readings{OpenSiteRevoke: webflowsim.OpenSiteRevokeRemoves}},
		{"not listed, revoke refused, grant creates", webflowsim.Readings{SiteListImplicit: webflowsim.SiteListOmitted, OpenSiteRevoke: webflowsim.OpenSiteRevokeRefused, OpenSiteGrant: webflowsim.OpenSiteGrantCreates}},
	} {
		rd := tc.rd
		t.Run(tc.name, func(t *testing.T) {
			h := newBridge(t, withWorkspaceGroups, func(c *config.Config) {
				c.Workspace.Groups["Marketing"] = config.WorkspaceRoleConfig{Workspace: "member", Site: "marketer", Sites: map[string]string{webflowsim.DemoOtherSiteID: "content_editor"}}
				c.Workspace.OpenSites = []string{webflowsim.DemoOtherSiteID}
			})
			if err := h.sim.SetReadings(rd); err != nil {
				t.Fatal(err)
			}
			if err := h.sim.SetSiteAccessDefault(webflowsim.DemoOtherSiteID, webflowsim.SiteAccessOpen); err != nil {
				t.Fatal(err)
			}
			ann := wsUser(t, h, "ann@example.com", true)
			eng := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Engineering","members":[{"value":%q}]}`, ann))
			mkt := h.wsDo("POST", "/Groups", `{"displayName":"Marketing"}`)
			if eng.Status != 201 || mkt.Status != 201 {
				t.Fatalf("POST: %d %d", eng.Status, mkt.Status)
			}
			open := func(step, want string) {
				t.Helper()
				mem, _ := h.sim.MemberByEmail("ann@example.com")
				role, _, _, ok := h.sim.SiteAccess(webflowsim.DemoOtherSiteID, mem.ID)
				if !ok || role != want {
					t.Errorf("%s: ann on the open site: %q (access %v), want %q", step, role, ok, want)
				}
			}
			onOpen := func() int {
				return h.sim.CountRequests("POST", "/v2/sites/"+webflowsim.DemoOtherSiteID+"/members") +
					h.sim.CountRequests("DELETE", "/v2/sites/"+webflowsim.DemoOtherSiteID+"/members/*")
			}
			drainCounted(t, h)
			open("Engineering: implicit access at the default role", "designer")
			patch := func(op string) {
				t.Helper()
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":%q,"path":"members","value":[{"value":%q}]}]}`, op, ann)
				if r := h.wsDo("PATCH", "/Groups/"+str(mkt.Body, "id"), body); r.Status != 204 {
					t.Fatalf("PATCH %s: %d %s", op, r.Status, r.Raw)
				}
			}
			patch("add")
			drainCounted(t, h)
			open("Marketing gives content_editor there", "content_editor")
			patch("remove")
			drainCounted(t, h)
			open("Marketing left: back to the default role", "designer")
			if n := onOpen(); n != 0 {
				t.Errorf("%d grants or revokes on the open site", n)
			}
			if rep, _, writes := wsReconcile(t, h, true); !rep.Clean() || writes != 0 {
				t.Errorf("reconcile after: %+v, %d writes", rep.Drift, writes)
			}
		})
	}
}

// With logging.redactEmails, GET /workspace/admin/memberships masks the
// emails of role locks as the logs do; without it, it shows them.
func TestWorkspaceQueueViewRedactsEmails(t *testing.T) {
	for _, redacted := range []bool{false, true} {
		h := newBridge(t, withWorkspaceGroups, func(c *config.Config) { c.Log.RedactEmails = redacted })
		dan := wsUser(t, h, "dan@example.com", false)
		if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, dan)); r.Status != 201 {
			t.Fatalf("POST: %d %s", r.Status, r.Raw)
		}
		wsDrain(t, h)
		req, _ := http.NewRequest("GET", h.ts.URL+"/workspace/admin/memberships", nil)
		req.Header.Set("Authorization", "Bearer "+testWorkspaceToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		shows, masked := strings.Contains(string(raw), "dan@example.com"), strings.Contains(string(raw), `"***@example.com"`)
		if res.StatusCode != 200 || shows == redacted || masked != redacted || !strings.Contains(string(raw), `"desired":"member/marketer"`) {
			t.Errorf("redactEmails %v: %d %s", redacted, res.StatusCode, raw)
		}
	}
}

// reconcile.interval runs the workspace reconcile with the sites': a role
// changed in the dashboard is restored without anyone asking.
func TestWorkspaceReconcilePeriodic(t *testing.T) {
	h := newBridge(t, withWorkspaceGroups)
	m := testMapping(t, h)
	ann := wsUser(t, h, "ann@example.com", true)
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, ann)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	mem, _ := h.sim.MemberByEmail("ann@example.com")
	if err := h.sim.SetMemberRole(mem.ID, "reviewer", "reviewer", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		reconcileLoop(ctx, h.app.scim, nil, h.app.wsRoles, 20*time.Millisecond, true, h.app.log)
		close(done)
	}()
	waitFor(t, "the periodic reconcile to restore ann's role", func() bool {
		mem, _ := h.sim.MemberByEmail("ann@example.com")
		return mem.Roles.Workspace == "member"
	})
	cancel()
	<-done
	checkRoles(t, h, m, map[string][]string{"ann@example.com": {"Marketing"}})
}

// bridge reconcile takes --site or --workspace, not both, and --rebuild
// only with --site.
func TestReconcileCommandFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--site or --workspace is required"},
		{[]string{"--site", testSite, "--workspace"}, "--site and --workspace reconcile different things"},
		{[]string{"--workspace", "--rebuild"}, "--rebuild is for a site's records"},
	} {
		var out, errb bytes.Buffer
		err := runReconcile(context.Background(), tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// bridge reconcile --workspace prints the drift (as JSON with --json) and
// with --apply restores it, from a config file as an operator runs it.
func TestReconcileCommandWorkspace(t *testing.T) {
	mr := miniredis.RunT(t)
	h := newBridge(t, withWorkspaceGroups, func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr(); c.Redis.KeyPrefix = "" })
	ann := wsUser(t, h, "ann@example.com", true)
	if r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, ann)); r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	wsDrain(t, h)
	mem, _ := h.sim.MemberByEmail("ann@example.com")
	if err := h.sim.SetMemberRole(mem.ID, "reviewer", "reviewer", ""); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`redis: {url: "redis://%s"}
webflow: {apiBaseURL: "%s/v2", scimBaseURL: "%s/scim/v2", rateLimitPerMinute: 100000}
workspace:
  webflowSCIMToken: %s
  scimTokens: [%s]
  id: %s
  membersToken: %s
  groups:
    "Marketing": {workspace: member, site: marketer}
`, mr.Addr(), h.simTS.URL, h.simTS.URL, webflowsim.DemoSCIMToken, testWorkspaceToken, webflowsim.DemoWorkspaceID, webflowsim.DemoWorkspaceToken)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runReconcile(t.Context(), []string{"--config", path, "--workspace", "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep workspacegroups.DriftReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Apply {
		t.Fatalf("%v %s", err, out.String())
	}
	if d := driftOf(&rep, "ann@example.com"); d == nil || d.Role == nil || d.Role.Current != "reviewer/reviewer" || d.Role.Desired != "member/marketer" {
		t.Errorf("the dashboard change: %+v", d)
	}
	out.Reset()
	if err := runReconcile(t.Context(), []string{"--config", path, "--workspace", "--apply"}, &out, &errb); err != nil || !strings.Contains(out.String(), "applied: 1 writes (lower bound 1), 1 members fixed") {
		t.Errorf("--apply: %v\n%s", err, out.String())
	}
	if mem, _ := h.sim.MemberByEmail("ann@example.com"); mem.Roles.Workspace != "member" || mem.Roles.Site != "marketer" {
		t.Errorf("after --apply Webflow holds %s/%s", mem.Roles.Workspace, mem.Roles.Site)
	}
}
