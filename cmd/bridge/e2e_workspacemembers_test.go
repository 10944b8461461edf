package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// withWorkspaceMembers is withWorkspaceGroups in workspace.mode: members:
// no native SCIM; /Users is the bridge's, on the Workspace Members API.
func withWorkspaceMembers(c *config.Config) {
	withWorkspaceGroups(c)
	c.Workspace.Mode = "members"
	c.Workspace.WebflowSCIMToken = ""
}

const (
	coreUser = "urn:ietf:params:scim:schemas:core:2.0:User"
	patchOp  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func oktaUserBody(email, given string, active bool) string {
	return fmt.Sprintf(`{"schemas":[%q],"userName":%q,"name":{"givenName":%q,"familyName":"Doe"},"emails":[{"primary":true,"value":%q,"type":"work"}],"displayName":"%s Doe","active":%t,"groups":[],"password":"xY9!secret"}`,
		coreUser, email, given, email, given, active)
}

// wsMember creates a user on the members surface and returns its id.
func wsMember(t *testing.T, h *bridgeHarness, email string) string {
	t.Helper()
	r := h.wsDo("POST", "/Users", oktaUserBody(email, "Ann", true))
	if r.Status != 201 {
		t.Fatalf("POST %s: %d %s", email, r.Status, r.Raw)
	}
	return str(r.Body, "id")
}

// ext reads the bridge's extension of a workspace user.
func wsStatus(r resp) (status, webflowID string) {
	e := ext(r.Body)
	s, _ := e["status"].(string)
	id, _ := e["webflowUserId"].(string)
	return s, id
}

// upstreamCalls counts the simulator's requests while f runs.
func upstreamCalls(h *bridgeHarness, f func()) int {
	before := h.calls()
	f()
	return h.calls() - before
}

// Okta: lookup, create, Group Push, acceptance, PUT of a name, PATCH
// active false and true, DELETE. Filters cost no Webflow call; Webflow's
// roles are Mapping.Effective of the IdP's view after each drain.
//
// It runs under the simulator's default readings of what the reference
// leaves unknown, and under the other readings of those the surface meets
// (generic error codes, "cancelled" bulk outcomes, 200 everywhere,
// case-insensitive email match).
func TestWorkspaceMembersOktaFlow(t *testing.T) {
	for name, rd := range map[string]webflowsim.Readings{
		"default readings": {},
		"other readings": {ErrorCodes: webflowsim.ErrorCodesGeneric, BulkRemoveOutcome: webflowsim.BulkRemoveCancelled,
			SuccessCodes: webflowsim.SuccessCodesOK, EmailMatch: webflowsim.EmailMatchInsensitive},
	} {
		t.Run(name, func(t *testing.T) {
			h := newBridge(t, withWorkspaceMembers)
			if err := h.sim.SetReadings(rd); err != nil {
				t.Fatal(err)
			}
			oktaFlow(t, h)
		})
	}
}

func oktaFlow(t *testing.T, h *bridgeHarness) {
	m := testMapping(t, h)
	const email = "olga@example.com"

	var r resp
	if n := upstreamCalls(h, func() {
		r = h.wsDo("GET", "/Users?filter="+urlq(`userName eq "`+email+`"`)+"&startIndex=1&count=100", "")
	}); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "0" || n != 0 {
		t.Fatalf("lookup before create: %d %s, %d Webflow calls", r.Status, r.Raw, n)
	}
	var created resp
	n := upstreamCalls(h, func() { created = h.wsDo("POST", "/Users", oktaUserBody(email, "Olga", true)) })
	if created.Status != 201 || n != 1 {
		t.Fatalf("POST: %d %s, %d Webflow calls (want 1: the invite)", created.Status, created.Raw, n)
	}
	id := str(created.Body, "id")
	status, inviteID := wsStatus(created)
	if status != "invited" || h.sim.WorkspaceInvitesTo(email) != 1 {
		t.Fatalf("after POST: status %q, %d invitation emails", status, h.sim.WorkspaceInvitesTo(email))
	}
	iv, ok := h.sim.Invite(inviteID)
	def := m.Effective(nil).Pair
	if !ok || iv.Role != string(def.Workspace) || iv.DefaultSiteRole != string(def.Site.Role) {
		t.Fatalf("invite %+v, want the default role %s", iv, def)
	}
	for _, f := range []string{`userName eq "` + strings.ToUpper(email) + `"`, `emails.value eq "` + email + `"`, `id eq "` + id + `"`, `userName eq "` + email + `" and active eq true`} {
		if n := upstreamCalls(h, func() { r = h.wsDo("GET", "/Users?filter="+urlq(f), "") }); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "1" || n != 0 {
			t.Errorf("filter %s: %d %s, %d Webflow calls", f, r.Status, r.Raw, n)
		}
	}
	if r := h.wsDo("GET", "/Users?filter="+urlq(`userName eq "`+email+`"`)+"&attributes=userName", ""); r.Status != 200 || walk(r.Body, "Resources.0.name") != nil || str(r.Body, "Resources.0.userName") != email {
		t.Errorf("attributes=userName: %s", r.Raw)
	}

	// Group Push while the invite is pending: the invite's role follows.
	if g := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":%q}]}`, id)); g.Status != 201 {
		t.Fatalf("POST group: %d %s", g.Status, g.Raw)
	}
	wsDrain(t, h)
	want := m.Effective([]string{"Engineering"})
	if iv, _ := h.sim.Invite(inviteID); iv.Role != string(want.Pair.Workspace) || iv.DefaultSiteRole != string(want.Pair.Site.Role) {
		t.Errorf("pending invite after the push: %s/%s, want %s", iv.Role, iv.DefaultSiteRole, want.Pair)
	}

	// The person accepts; Okta's next PUT (a name change) notices it: the
	// member id is recorded and the per-site access applied.
	if _, err := h.sim.AcceptInvite(inviteID, "Olga", "Doe"); err != nil {
		t.Fatal(err)
	}
	put := h.wsDo("PUT", "/Users/"+id, oktaUserBody(email, "Olga-Renamed", true))
	if put.Status != 200 || str(put.Body, "name.givenName") != "Olga-Renamed" {
		t.Fatalf("PUT: %d %s", put.Status, put.Raw)
	}
	mem, _ := h.sim.MemberByEmail(email)
	if s, wid := wsStatus(put); s != "active" || wid != mem.ID {
		t.Errorf("after acceptance: status %q id %q, want active %s", s, wid, mem.ID)
	}
	if mem.FirstName != "Olga" {
		t.Errorf("Webflow's name changed to %q: the API cannot change it, the bridge must not try", mem.FirstName)
	}
	if g := h.wsDo("GET", "/Users/"+id, ""); str(g.Body, "name.givenName") != "Olga-Renamed" {
		t.Errorf("the name is not stored and echoed: %s", g.Raw)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{email: {"Engineering"}})

	// Deactivate: the member is removed (one DELETE).
	var p resp
	n = upstreamCalls(h, func() {
		p = h.wsDo("PATCH", "/Users/"+id, `{"schemas":["`+patchOp+`"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	})
	if p.Status != 200 || p.Body["active"] != false || n != 1 {
		t.Fatalf("PATCH active false: %d %s, %d Webflow calls (want 1)", p.Status, p.Raw, n)
	}
	if _, ok := h.sim.MemberByEmail(email); ok {
		t.Fatal("the deactivated member is still in the workspace")
	}
	if g := h.wsDo("GET", "/Users/"+id, ""); g.Status != 200 || g.Body["active"] != false {
		t.Errorf("GET deactivated: %d %s", g.Status, g.Raw)
	}
	// Reactivate: invited again, with the role the groups give.
	p = h.wsDo("PATCH", "/Users/"+id, `{"schemas":["`+patchOp+`"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
	s, newInvite := wsStatus(p)
	if p.Status != 200 || s != "invited" || h.sim.WorkspaceInvitesTo(email) != 2 {
		t.Fatalf("PATCH active true: %d %s, %d invitation emails", p.Status, p.Raw, h.sim.WorkspaceInvitesTo(email))
	}
	if iv, _ := h.sim.Invite(newInvite); iv.Role != string(want.Pair.Workspace) || iv.DefaultSiteRole != string(want.Pair.Site.Role) {
		t.Errorf("re-invite %s/%s, want %s", iv.Role, iv.DefaultSiteRole, want.Pair)
	}
	// DELETE of a pending invite cancels it (bulk remove).
	n = upstreamCalls(h, func() { r = h.wsDo("DELETE", "/Users/"+id, "") })
	if r.Status != 204 || n != 1 {
		t.Fatalf("DELETE: %d %s, %d Webflow calls (want 1)", r.Status, r.Raw, n)
	}
	if _, ok := h.sim.Invite(newInvite); ok {
		t.Error("the invite was not cancelled")
	}
	if r := h.wsDo("GET", "/Users/"+id, ""); r.Status != 404 {
		t.Errorf("GET after DELETE: %d", r.Status)
	}
	if r := h.wsDo("GET", "/Users?filter="+urlq(`userName eq "`+email+`"`), ""); fmt.Sprint(r.Body["totalResults"]) != "0" {
		t.Errorf("filter after DELETE: %s", r.Raw)
	}
}

// Entra: Test Connection's random lookup, create, PATCH with Replace and
// string booleans, the manager ignored, soft delete (active "False"),
// hard delete of a member (one DELETE).
func TestWorkspaceMembersEntraFlow(t *testing.T) {
	h := newBridge(t, withWorkspaceMembers)
	if r := h.wsDo("GET", "/Users?filter="+urlq(`userName eq "7d0c2f0e-5c4e-4e1e-9a53-0f2c1c3f1e11"`), ""); r.Status != 200 || fmt.Sprint(r.Body["totalResults"]) != "0" {
		t.Fatalf("Test Connection: %d %s", r.Status, r.Raw)
	}
	const email = "ella@contoso.com"
	c := h.wsDo("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"ella","userName":"`+email+`","active":"True","displayName":"Ella","emails":[{"primary":true,"type":"work","value":"`+email+`"}],"name":{"formatted":"Ella E","familyName":"E","givenName":"Ella"},"addresses":null,"roles":[]}`)
	if c.Status != 201 {
		t.Fatalf("POST: %d %s", c.Status, c.Raw)
	}
	id := str(c.Body, "id")
	if r := h.wsDo("GET", "/Users?filter="+urlq(`externalId eq "ella"`), ""); fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Errorf("externalId filter: %s", r.Raw)
	}
	if _, err := h.sim.AcceptInvite(email, "Ella", "E"); err != nil {
		t.Fatal(err)
	}
	p := h.wsDo("PATCH", "/Users/"+id, `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Replace","path":"displayName","value":"Ella Entra"},{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"boss"}]}`)
	if s, _ := wsStatus(p); p.Status != 200 || str(p.Body, "displayName") != "Ella Entra" || s != "active" {
		t.Fatalf("PATCH: %d %s", p.Status, p.Raw)
	}
	p = h.wsDo("PATCH", "/Users/"+id, `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if p.Status != 200 || p.Body["active"] != false {
		t.Fatalf("soft delete: %d %s", p.Status, p.Raw)
	}
	if _, ok := h.sim.MemberByEmail(email); ok {
		t.Fatal("soft-deleted member still in the workspace")
	}
	p = h.wsDo("PATCH", "/Users/"+id, `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
	if s, _ := wsStatus(p); p.Status != 200 || s != "invited" {
		t.Fatalf("restore: %d %s", p.Status, p.Raw)
	}
	if _, err := h.sim.AcceptInvite(email, "Ella", "E"); err != nil {
		t.Fatal(err)
	}
	// Hard delete of an accepted invite: the invite is gone, the member
	// found by email is removed.
	if r := h.wsDo("DELETE", "/Users/"+id, ""); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Raw)
	}
	if _, ok := h.sim.MemberByEmail(email); ok {
		t.Fatal("hard-deleted member still in the workspace")
	}
}

// Ids the bridge never provisioned are 404 with no Webflow call, for
// every method; a real member's id included: the bridge never removes a
// member it did not provision.
func TestWorkspaceMembersHostileIDs(t *testing.T) {
	h := newBridge(t, withWorkspaceMembers)
	real, err := h.sim.AddMember(webflowsim.SeedMember{Email: "outsider@example.com", Role: "member", SiteRole: "designer"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{real.ID, "000000000000000000000000", "nope", "..%2F..%2Fetc", strings.Repeat("a", 300), "%00", "x%22y"}
	for _, id := range ids {
		for _, c := range []struct{ method, body string }{
			{"GET", ""}, {"DELETE", ""},
			{"PATCH", `{"schemas":["` + patchOp + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`},
			{"PUT", oktaUserBody("outsider@example.com", "X", false)},
		} {
			var r resp
			n := upstreamCalls(h, func() { r = h.wsDo(c.method, "/Users/"+id, c.body) })
			if r.Status != 404 || n != 0 {
				t.Errorf("%s /Users/%.40s: %d %s, %d Webflow calls; want 404 and none", c.method, id, r.Status, r.Raw, n)
			}
		}
	}
	if _, ok := h.sim.MemberByEmail("outsider@example.com"); !ok {
		t.Fatal("a member the bridge did not provision was removed")
	}
}

// An invite whose answer is lost is resolved by one list by email, never
// a second invite; a retried POST is 409 for a user the lookup finds; a
// create that could not be resolved is 503, and its retry (a takeover)
// lists before inviting.
func TestWorkspaceMembersInviteExactlyOnce(t *testing.T) {
	h := newBridge(t, withWorkspaceMembers)
	invitePath := "/v2/workspaces/" + webflowsim.DemoWorkspaceID + "/members"
	h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: invitePath, Status: 502, After: true})
	body := oktaUserBody("lost@example.com", "Lost", true)
	r := h.wsDo("POST", "/Users", body)
	if r.Status != 201 {
		t.Fatalf("POST with the answer lost: %d %s", r.Status, r.Raw)
	}
	if r := h.wsDo("POST", "/Users", body); r.Status != 409 || str(r.Body, "scimType") != "uniqueness" {
		t.Errorf("retried POST: %d %s", r.Status, r.Raw)
	}
	if r := h.wsDo("GET", "/Users?filter="+urlq(`userName eq "lost@example.com"`), ""); fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Errorf("the 409's user is not found by the IdP's lookup: %s", r.Raw)
	}
	if n := h.sim.WorkspaceInvitesTo("lost@example.com"); n != 1 {
		t.Errorf("%d invitation emails, want 1", n)
	}

	// The answer lost and the list failing too: 503, and the retry lists
	// (a takeover of the unresolved reservation) instead of inviting.
	h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: invitePath, Status: 502, After: true})
	h.sim.InjectFault(webflowsim.Fault{Method: "GET", Path: invitePath, Status: 503, Count: 20})
	body = oktaUserBody("twice@example.com", "Twice", true)
	r = h.wsDo("POST", "/Users", body)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("POST unresolved: %d %s", r.Status, r.Raw)
	}
	h.sim.ClearFaults()
	if r := h.wsDo("POST", "/Users", body); r.Status != 201 {
		t.Fatalf("retry: %d %s", r.Status, r.Raw)
	}
	if n := h.sim.WorkspaceInvitesTo("twice@example.com"); n != 1 {
		t.Errorf("%d invitation emails after the retry, want 1", n)
	}
}

// twoReplicas are two bridges on one simulator sharing a Redis: the real
// one of REDIS_URL (its own key prefix), else a miniredis.
func twoReplicas(t *testing.T, opts ...harnessOpt) []*bridgeHarness {
	ss := newSharedSim(t)
	var redisOpt harnessOpt
	prefix := ""
	if u := os.Getenv("REDIS_URL"); u != "" {
		prefix = fmt.Sprintf("wfbe2e-%d-%d", os.Getpid(), e2eSeq.Add(1))
		redisOpt = func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = u, prefix }
	} else {
		mr := miniredis.RunT(t)
		redisOpt = func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() }
	}
	opts = append([]harnessOpt{redisOpt}, opts...)
	a, b := newReplica(t, ss, opts...), newReplica(t, ss, opts...)
	if prefix != "" {
		a.prefix = prefix
		t.Cleanup(a.wipeStore)
	}
	return []*bridgeHarness{a, b}
}

// Two replicas sharing Redis, every user POSTed to both at once (an IdP
// retrying on the other replica): one invite per person, one 201, the
// other a 409 the lookup resolves (or a 503 while the first is at work).
func TestWorkspaceMembersReplicasCreateOnce(t *testing.T) {
	reps := twoReplicas(t, withWorkspaceMembers)
	const users = 12
	var wg sync.WaitGroup
	statuses := make([][2]int, users)
	for i := range users {
		for k, rep := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i][k] = rep.wsDo("POST", "/Users", oktaUserBody(fmt.Sprintf("rep%d@example.com", i), "R", true)).Status
			}()
		}
	}
	wg.Wait()
	for i := range users {
		email := fmt.Sprintf("rep%d@example.com", i)
		created := 0
		for _, s := range statuses[i] {
			switch s {
			case 201:
				created++
			case 409, 503:
			default:
				t.Errorf("%s: status %d", email, s)
			}
		}
		if created != 1 {
			t.Errorf("%s: %d creates answered 201 (%v), want 1", email, created, statuses[i])
		}
		if n := reps[0].sim.WorkspaceInvitesTo(email); n != 1 {
			t.Errorf("%s: %d invitation emails, want 1", email, n)
		}
		r := reps[1].wsDo("GET", "/Users?filter="+urlq(`userName eq "`+email+`"`), "")
		if fmt.Sprint(r.Body["totalResults"]) != "1" {
			t.Errorf("%s: the other replica's lookup: %s", email, r.Raw)
		}
	}
}

// Webflow failing or throttling: the IdP gets 503 or 429 with
// Retry-After, never a 500, and nothing is half-made (the user whose
// removal failed is still active, its record in place).
func TestWorkspaceMembersUpstreamFaults(t *testing.T) {
	h := newBridge(t, withWorkspaceMembers, func(c *config.Config) { c.Webflow.MaxWait = config.Duration(200 * time.Millisecond) })
	invitePath := "/v2/workspaces/" + webflowsim.DemoWorkspaceID + "/members"
	id := wsMember(t, h, "steady@example.com")
	for _, tc := range []struct {
		name   string
		fault  webflowsim.Fault
		method string
		path   string
		body   string
		want   int
	}{
		{"invite refused by a 500 before acting", webflowsim.Fault{Path: invitePath, Status: 500, Count: 100}, "POST", "/Users", oktaUserBody("down@example.com", "D", true), 503},
		{"bulk remove failing", webflowsim.Fault{Method: "DELETE", Path: invitePath + "/bulk", Status: 503, Count: 100}, "PATCH", "/Users/" + id, `{"schemas":["` + patchOp + `"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 503},
		{"connection dropped", webflowsim.Fault{Path: invitePath + "/bulk", Drop: true, Count: 100}, "DELETE", "/Users/" + id, "", 503},
		// Last: a 429 pauses the token, on every replica, for Retry-After.
		{"invite throttled", webflowsim.Fault{Method: "POST", Path: invitePath, Status: 429, RetryAfter: "7", Count: 100}, "POST", "/Users", oktaUserBody("slow@example.com", "S", true), 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.sim.ClearFaults()
			h.sim.InjectFault(tc.fault)
			r := h.wsDo(tc.method, tc.path, tc.body)
			ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
			if r.Status != tc.want || ra < 1 || r.Status == http.StatusInternalServerError {
				t.Errorf("%d Retry-After %q %s; want %d with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Raw, tc.want)
			}
		})
	}
	h.sim.ClearFaults()
	if g := h.wsDo("GET", "/Users/"+id, ""); g.Status != 200 || g.Body["active"] != true {
		t.Errorf("the user after failed removals: %d %s", g.Status, g.Raw)
	}
	if _, err := h.app.store.GetUser(context.Background(), "ws-"+webflowsim.DemoWorkspaceID, id); err != nil {
		t.Errorf("record: %v", err)
	}
}

// A POST of someone Webflow already holds links them instead of
// inviting: an active member (409 for other roles), a pending invite
// (409 for other roles). What is linked keeps its role until the groups
// change; the owner is never removed.
func TestWorkspaceMembersLinksExisting(t *testing.T) {
	h := newBridge(t, withWorkspaceMembers)
	m := testMapping(t, h)
	const member, invitee, owner = "waylon.dalton@example.com", "sam.okafor@example.com", "owner@example.com"
	ids := map[string]string{}
	for _, email := range []string{member, invitee, owner} {
		var r resp
		n := upstreamCalls(h, func() { r = h.wsDo("POST", "/Users", oktaUserBody(email, "L", true)) })
		if r.Status != 201 || n != 2 {
			t.Fatalf("POST %s: %d %s, %d Webflow calls (want 2: the invite, answered 409, and one list)", email, r.Status, r.Raw, n)
		}
		if h.sim.WorkspaceInvitesTo(email) != 0 {
			t.Errorf("%s was sent an invitation", email)
		}
		ids[email] = str(r.Body, "id")
	}
	// The calls are paced on the workspace token's budget, labelled by
	// what it serves.
	if _, _, raw := h.opsGet(h.ts.URL+"/metrics", "Bearer "+testAdminToken); !strings.Contains(raw, `bridge_rate_budget_used{token="workspace-members"} 6`) {
		t.Errorf("/metrics lacks the 6 calls on the workspace-members budget:\n%s", grepLines(raw, "bridge_rate_budget_used"))
	}
	wsDrain(t, h)
	if mem, _ := h.sim.MemberByEmail(member); mem.Roles.Workspace != "member" || mem.Roles.Site != "designer" {
		t.Errorf("the linked member was rewritten: %+v", mem.Roles)
	}
	if g := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"displayName":"Marketing","members":[{"value":%q}]}`, ids[member])); g.Status != 201 {
		t.Fatalf("POST group: %d %s", g.Status, g.Raw)
	}
	wsDrain(t, h)
	checkRoles(t, h, m, map[string][]string{member: {"Marketing"}})
	for _, email := range []string{member, owner} {
		if r := h.wsDo("DELETE", "/Users/"+ids[email], ""); r.Status != 204 {
			t.Fatalf("DELETE %s: %d %s", email, r.Status, r.Raw)
		}
	}
	if _, ok := h.sim.MemberByEmail(member); ok {
		t.Error("the linked member the IdP deprovisioned is still in the workspace")
	}
	if _, ok := h.sim.MemberByEmail(owner); !ok {
		t.Error("the owner was removed")
	}
	// The deleted user left its group.
	if g := h.wsDo("GET", "/Groups?filter="+urlq(`displayName eq "Marketing"`), ""); walk(g.Body, "Resources.0.members.0") != nil {
		t.Errorf("the deleted user is still a group member: %s", g.Raw)
	}
}

// Entra group sync in members mode, on two replicas sharing Redis whose
// workers run at once: users in overlapping groups, PATCH Add and Remove
// by value and by filter path; once every invite is accepted (noticed on
// the next PATCH of each user) and the queues drained, each member's
// roles and site access equal Mapping.Effective of the IdP's view.
func TestWorkspaceMembersEntraGroupSync(t *testing.T) {
	reps := twoReplicas(t, withWorkspaceMembers)
	h := reps[0]
	m := testMapping(t, h)
	emails := []string{"e0@contoso.com", "e1@contoso.com", "e2@contoso.com", "e3@contoso.com"}
	ids := map[string]string{}
	for i, e := range emails {
		r := reps[i%2].wsDo("POST", "/Users", `{"schemas":["`+coreUser+`"],"externalId":"x`+e+`","userName":"`+e+`","active":"True","emails":[{"primary":true,"type":"work","value":"`+e+`"}],"name":{"givenName":"E","familyName":"C"}}`)
		if r.Status != 201 {
			t.Fatalf("POST %s: %d %s", e, r.Status, r.Raw)
		}
		ids[e] = str(r.Body, "id")
	}
	gid := map[string]string{}
	for _, name := range []string{"Engineering", "Marketing", "Reviewers"} {
		r := h.wsDo("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"g-%s","displayName":%q,"members":[]}`, name, name))
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
	add := func(rep *bridgeHarness, group string, who ...string) {
		var vals []string
		for _, e := range who {
			vals = append(vals, fmt.Sprintf(`{"value":%q}`, ids[e]))
		}
		if r := rep.wsDo("PATCH", "/Groups/"+gid[group], `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Add","path":"members","value":[`+strings.Join(vals, ",")+`]}]}`); r.Status != 204 && r.Status != 200 {
			t.Errorf("PATCH add %s: %d %s", group, r.Status, r.Raw)
		}
	}
	add(reps[0], "Engineering", emails[0], emails[1])
	add(reps[1], "Marketing", emails[1], emails[2], emails[3])
	add(reps[0], "Reviewers", emails[2], emails[3])
	// Entra removes by value (no flag) and by filter path.
	if r := reps[1].wsDo("PATCH", "/Groups/"+gid["Marketing"], `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+ids[emails[3]]+`"}]}]}`); r.Status != 204 && r.Status != 200 {
		t.Errorf("PATCH remove: %d %s", r.Status, r.Raw)
	}
	if r := reps[0].wsDo("PATCH", "/Groups/"+gid["Engineering"], `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Remove","path":"members[value eq \"`+ids[emails[0]]+`\"]"}]}`); r.Status != 204 && r.Status != 200 {
		t.Errorf("PATCH remove by path: %d %s", r.Status, r.Raw)
	}
	view := map[string][]string{emails[0]: nil, emails[1]: {"Engineering", "Marketing"}, emails[2]: {"Marketing", "Reviewers"}, emails[3]: {"Reviewers"}}
	for i, e := range emails {
		if _, err := h.sim.AcceptInvite(e, "E", "C"); err != nil {
			t.Fatal(err)
		}
		// Entra's next touch of the user: a PATCH of an attribute.
		if r := reps[(i+1)%2].wsDo("PATCH", "/Users/"+ids[e], `{"schemas":["`+patchOp+`"],"Operations":[{"op":"Replace","path":"displayName","value":"E `+e+`"}]}`); r.Status != 200 {
			t.Fatalf("PATCH %s: %d %s", e, r.Status, r.Raw)
		}
	}
	cancel()
	wg.Wait()
	for _, rep := range reps {
		wsDrain(t, rep)
	}
	checkRoles(t, h, m, view)
	// Entra's membership check.
	if r := h.wsDo("GET", "/Groups?filter="+urlq(`id eq "`+gid["Reviewers"]+`" and members[value eq "`+ids[emails[3]]+`"]`)+"&excludedAttributes=members", ""); fmt.Sprint(r.Body["totalResults"]) != "1" {
		t.Errorf("membership check: %s", r.Raw)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// An address whose only invite was declined (or expired) is invited
// again under both readings of what Webflow does then: a 409 until the
// closed invite is cancelled (the default), or a new invite.
func TestWorkspaceMembersDeclinedInvite(t *testing.T) {
	for name, rd := range map[string]webflowsim.Readings{"conflict": {}, "new": {ClosedInvite: webflowsim.ClosedInviteNew}} {
		t.Run(name, func(t *testing.T) {
			h := newBridge(t, withWorkspaceMembers)
			if err := h.sim.SetReadings(rd); err != nil {
				t.Fatal(err)
			}
			if err := h.sim.SetInviteStatus(webflowsim.DemoInviteID, "declined"); err != nil {
				t.Fatal(err)
			}
			const email = "sam.okafor@example.com"
			r := h.wsDo("POST", "/Users", oktaUserBody(email, "Sam", true))
			status, inviteID := wsStatus(r)
			if r.Status != 201 || status != "invited" || inviteID == webflowsim.DemoInviteID || h.sim.WorkspaceInvitesTo(email) != 1 {
				t.Fatalf("POST: %d %s, %d invitation emails", r.Status, r.Raw, h.sim.WorkspaceInvitesTo(email))
			}
			if iv, ok := h.sim.Invite(inviteID); !ok || iv.Status != "pending" {
				t.Errorf("the new invite: %+v %v", iv, ok)
			}
		})
	}
}

// /readyz probes the workspace token on the Workspace Members API in
// members mode (there is no native SCIM to probe), and names a refused
// token without showing it.
func TestWorkspaceMembersReadyz(t *testing.T) {
	ctx := context.Background()
	h := newBridge(t, withWorkspaceMembers)
	h.app.health.probeRedis(ctx)
	h.app.health.probeWebflow(ctx)
	if code, m := h.readyz(); code != 200 || str(m, "workspace.status") != "ok" {
		t.Errorf("healthy: %d %v", code, m)
	}
	bad := newBridge(t, withWorkspaceMembers, func(c *config.Config) { c.Workspace.MembersToken = "not-a-webflow-token-0123456789abcdef" })
	bad.app.health.probeWebflow(ctx)
	if _, m := bad.readyz(); str(m, "workspace.status") != "down" || !strings.Contains(str(m, "workspace.detail"), "refused workspace.membersToken") {
		t.Errorf("refused token: %v", m)
	}
}
