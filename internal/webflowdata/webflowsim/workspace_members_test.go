package webflowsim

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

const (
	wsTok    = DemoWorkspaceToken
	wsPath   = "/v2/workspaces/" + DemoWorkspaceID + "/members"
	sitePath = "/v2/sites/" + DemoSiteID + "/members"
	otherMem = "/v2/sites/" + DemoOtherSiteID + "/members"
	missing  = "0123456789abcdef01234567"
	entRead  = "wf-test-ent-read"
	entSite  = "wf-test-ent-site"
)

// newEnt is the demo simulator plus two test tokens: a workspace token
// with only the read scopes, and a site token with every Enterprise scope.
func newEnt(t testing.TB, opts Options) (*Simulator, *httptest.Server) {
	t.Helper()
	sim, srv := newDemo(t, opts)
	all := []string{"workspace_members:read", "workspace_members:write", "site_access:read", "site_access:write"}
	err := sim.LoadSeed(Seed{Tokens: []SeedToken{
		{Label: "ent-read", Token: entRead, Scopes: []string{"workspace_members:read", "site_access:read"}, Sites: []string{DemoSiteID}, Workspace: true},
		{Label: "ent-site", Token: entSite, Scopes: all, Sites: []string{DemoSiteID}, GrantType: "site_token"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return sim, srv
}

type entCase struct {
	name   string
	method string
	path   string
	tok    string
	body   any
	status int
	code   string // error code, "" for success
}

func runEntCases(t *testing.T, opts Options, cases []entCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newEnt(t, opts)
			resp, body := call(t, srv, tc.method, tc.path, tc.tok, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.Header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("missing rate-limit headers")
			}
			if tc.code != "" {
				assertEnvelope(t, body, tc.code)
			}
			if tc.status == 204 && len(body) != 0 {
				t.Errorf("204 with body %q", body)
			}
		})
	}
}

func TestWorkspaceMemberRoutes(t *testing.T) {
	bulk := wsPath + "/bulk"
	invite := func(email, role, site string) map[string]any {
		return map[string]any{"email": email, "workspaceRole": role, "defaultSiteRole": site}
	}
	access := func(email, role string, entries ...map[string]any) map[string]any {
		return map[string]any{"email": email, "workspaceRole": role, "siteAccess": entries}
	}
	entry := func(site, role string) map[string]any { return map[string]any{"siteId": site, "siteRole": role} }
	runEntCases(t, Options{}, []entCase{
		{"list", "GET", wsPath, wsTok, nil, 200, ""},
		{"list read-only token", "GET", wsPath, entRead, nil, 200, ""},
		{"list site token", "GET", wsPath, entSite, nil, 403, webflowdata.CodeForbidden},
		{"list without scope", "GET", wsPath, siteTok, nil, 403, webflowdata.CodeMissingScopes},
		{"list no token", "GET", wsPath, "", nil, 401, webflowdata.CodeNotAuthorized},
		{"list unknown workspace", "GET", "/v2/workspaces/" + missing + "/members", wsTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"list bad workspace id", "GET", "/v2/workspaces/nope/members", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list limit 0", "GET", wsPath + "?limit=0", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list limit 101", "GET", wsPath + "?limit=101", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list limit 100", "GET", wsPath + "?limit=100", wsTok, nil, 200, ""},
		{"list bad cursor", "GET", wsPath + "?cursor=bm9wZQ", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list bad role", "GET", wsPath + "?roles=admin,boss", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list repeated roles", "GET", wsPath + "?roles=admin&roles=member", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list empty email", "GET", wsPath + "?email=", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"wrong method", "PUT", wsPath, wsTok, nil, 404, webflowdata.CodeResourceNotFound},

		{"invite", "POST", wsPath, wsTok, invite("new@example.com", "member", "designer"), 201, ""},
		{"invite without write scope", "POST", wsPath, entRead, invite("new@example.com", "member", "designer"), 403, webflowdata.CodeMissingScopes},
		{"invite repeat of the pending invite", "POST", wsPath, wsTok, invite("sam.okafor@example.com", "member", "designer"), 200, ""},
		{"invite pending with other roles", "POST", wsPath, wsTok, invite("sam.okafor@example.com", "member", "marketer"), 409, webflowdata.CodeConflict},
		{"invite active member, same roles", "POST", wsPath, wsTok, invite("WAYLON.dalton@example.com", "member", "designer"), 200, ""},
		{"invite active member, other roles", "POST", wsPath, wsTok, invite("waylon.dalton@example.com", "admin", "site_manager"), 409, webflowdata.CodeConflict},
		{"invite owner", "POST", wsPath, wsTok, invite("o@example.com", "owner", "site_manager"), 400, webflowdata.CodeInvalidWorkspaceRole},
		{"invite guest", "POST", wsPath, wsTok, invite("g@example.com", "guest", "designer"), 400, webflowdata.CodeInvalidWorkspaceRole},
		{"invite bad pair", "POST", wsPath, wsTok, invite("p@example.com", "admin", "designer"), 400, webflowdata.CodeInvalidSiteRole},
		{"invite reviewer pairing", "POST", wsPath, wsTok, invite("p@example.com", "reviewer", "designer"), 400, webflowdata.CodeInvalidSiteRole},
		{"invite read-only site role", "POST", wsPath, wsTok, invite("p@example.com", "member", "viewer"), 400, webflowdata.CodeInvalidSiteRole},
		{"invite unknown site role", "POST", wsPath, wsTok, invite("p@example.com", "member", "boss"), 400, webflowdata.CodeValidationError},
		{"invite unknown workspace role", "POST", wsPath, wsTok, invite("p@example.com", "boss", "designer"), 400, webflowdata.CodeValidationError},
		{"invite custom without id", "POST", wsPath, wsTok, invite("p@example.com", "member", "custom"), 400, webflowdata.CodeInvalidSiteRole},
		{"invite custom", "POST", wsPath, wsTok, map[string]any{"email": "c@example.com", "workspaceRole": "member", "defaultSiteRole": "custom", "defaultSiteRoleId": DemoCustomRoleID}, 201, ""},
		{"invite custom unknown id", "POST", wsPath, wsTok, map[string]any{"email": "c@example.com", "workspaceRole": "member", "defaultSiteRole": "custom", "defaultSiteRoleId": missing}, 400, webflowdata.CodeInvalidSiteRole},
		{"invite id with non-custom", "POST", wsPath, wsTok, map[string]any{"email": "c@example.com", "workspaceRole": "member", "defaultSiteRole": "designer", "defaultSiteRoleId": DemoCustomRoleID}, 400, webflowdata.CodeInvalidSiteRole},
		{"invite no email", "POST", wsPath, wsTok, map[string]any{"workspaceRole": "member", "defaultSiteRole": "designer"}, 400, webflowdata.CodeValidationError},
		{"invite bad email", "POST", wsPath, wsTok, invite("not-an-email", "member", "designer"), 400, webflowdata.CodeValidationError},
		{"invite both shapes", "POST", wsPath, wsTok, map[string]any{"email": "b@example.com", "workspaceRole": "member", "defaultSiteRole": "designer", "siteAccess": []any{entry(DemoSiteID, "designer")}}, 400, webflowdata.CodeValidationError},
		{"invite neither shape", "POST", wsPath, wsTok, map[string]any{"email": "b@example.com", "workspaceRole": "member"}, 400, webflowdata.CodeValidationError},
		{"invite sitePlan", "POST", wsPath, wsTok, map[string]any{"email": "b@example.com", "workspaceRole": "member", "defaultSiteRole": "designer", "sitePlan": "cms"}, 400, webflowdata.CodeValidationError},
		{"invite bad json", "POST", wsPath, wsTok, "{nope", 400, webflowdata.CodeBadRequest},
		{"invite site list", "POST", wsPath, wsTok, access("s@example.com", "member", entry(DemoSiteID, "content_editor"), entry(DemoOtherSiteID, "content_editor")), 201, ""},
		{"invite site list, mixed roles", "POST", wsPath, wsTok, access("s@example.com", "member", entry(DemoSiteID, "content_editor"), entry(DemoOtherSiteID, "designer")), 400, webflowdata.CodeValidationError},
		{"invite site list, unknown site", "POST", wsPath, wsTok, access("s@example.com", "member", entry(missing, "designer")), 400, webflowdata.CodeValidationError},
		{"invite admin with sites", "POST", wsPath, wsTok, access("s@example.com", "admin", entry(DemoSiteID, "site_manager")), 400, webflowdata.CodeInvalidWorkspaceRole},
		{"invite client", "POST", wsPath, wsTok, access("k@example.com", "client", entry(DemoSiteID, "content_editor")), 201, ""},
		{"invite client two sites", "POST", wsPath, wsTok, access("k@example.com", "client", entry(DemoSiteID, "marketer"), entry(DemoOtherSiteID, "marketer")), 400, webflowdata.CodeValidationError},
		{"invite client designer", "POST", wsPath, wsTok, access("k@example.com", "client", entry(DemoSiteID, "designer")), 400, webflowdata.CodeInvalidSiteRole},
		{"invite client default role", "POST", wsPath, wsTok, invite("k@example.com", "client", "marketer"), 400, webflowdata.CodeValidationError},

		{"patch", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "marketer"}, 200, ""},
		{"patch to admin", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "admin", "defaultSiteRole": "site_manager"}, 200, ""},
		{"patch custom", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "custom", "defaultSiteRoleId": DemoCustomRoleID}, 200, ""},
		{"patch without defaultSiteRole", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "member"}, 400, webflowdata.CodeValidationError},
		{"patch bad pair", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "reviewer", "defaultSiteRole": "designer"}, 400, webflowdata.CodeInvalidSiteRole},
		{"patch to guest", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "guest", "defaultSiteRole": "designer"}, 400, webflowdata.CodeInvalidWorkspaceRole},
		{"patch unknown member", "PATCH", wsPath + "/" + missing, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"patch an invite id", "PATCH", wsPath + "/" + DemoInviteID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"patch bad id", "PATCH", wsPath + "/xyz", wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 400, webflowdata.CodeValidationError},
		{"patch a guest", "PATCH", wsPath + "/" + DemoGuestMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeCannotUpdateUserRole},
		{"patch a client", "PATCH", wsPath + "/" + DemoClientMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeCannotUpdateUserRole},
		{"patch the SCIM-managed owner", "PATCH", wsPath + "/" + DemoOwnerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeMemberManagedBySCIM},
		{"patch unknown key", "PATCH", wsPath + "/" + DemoDesignerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer", "email": "x@example.com"}, 400, webflowdata.CodeValidationError},

		{"remove", "DELETE", wsPath + "/" + DemoReviewerMemberID, wsTok, nil, 204, ""},
		{"remove unknown", "DELETE", wsPath + "/" + missing, wsTok, nil, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"remove an invite id", "DELETE", wsPath + "/" + DemoInviteID, wsTok, nil, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"remove the SCIM-managed owner", "DELETE", wsPath + "/" + DemoOwnerMemberID, wsTok, nil, 409, webflowdata.CodeMemberManagedBySCIM},

		{"bulk update", "POST", bulk, wsTok, map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"}, 200, ""},
		{"bulk update no ids", "POST", bulk, wsTok, map[string]any{"role": "member", "defaultSiteRole": "marketer"}, 400, webflowdata.CodeValidationError},
		{"bulk update no role", "POST", bulk, wsTok, map[string]any{"memberIds": []string{DemoDesignerMemberID}, "defaultSiteRole": "marketer"}, 400, webflowdata.CodeValidationError},
		{"bulk update bad pair is per item", "POST", bulk, wsTok, map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "admin", "defaultSiteRole": "marketer"}, 200, ""},
		{"bulk update bad ids type", "POST", bulk, wsTok, map[string]any{"memberIds": "x", "role": "member", "defaultSiteRole": "marketer"}, 400, webflowdata.CodeValidationError},
		{"bulk update bad json", "POST", bulk, wsTok, "[", 400, webflowdata.CodeBadRequest},
		{"bulk update without write scope", "POST", bulk, entRead, map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"}, 403, webflowdata.CodeMissingScopes},
		{"bulk remove", "DELETE", bulk, wsTok, map[string]any{"inviteIds": []string{DemoInviteID}}, 200, ""},
		{"bulk remove nothing", "DELETE", bulk, wsTok, map[string]any{}, 400, webflowdata.CodeValidationError},
		{"bulk patch is a member id", "PATCH", bulk, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 400, webflowdata.CodeValidationError},
	})
}

func TestEnterpriseNeedsEnterprisePlan(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	if err := sim.ConfigureWorkspace(WorkspaceSettings{Plan: "core"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ method, path string }{{"GET", wsPath}, {"POST", wsPath + "/bulk"}, {"GET", sitePath}, {"DELETE", sitePath + "/" + DemoDesignerMemberID}} {
		resp, body := call(t, srv, p.method, p.path, wsTok, map[string]any{})
		if resp.StatusCode != 403 {
			t.Fatalf("%s %s on a core workspace: %d %s", p.method, p.path, resp.StatusCode, body)
		}
		assertEnvelope(t, body, webflowdata.CodeNotEnterpriseWorkspace)
	}
	if _, ok := siteRole(sim, DemoSiteID, DemoDesignerMemberID); !ok {
		t.Error("a refused revoke must change nothing")
	}
}

// siteRole is a member's role on a site, and whether they have access.
func siteRole(sim *Simulator, siteID, memberID string) (string, bool) {
	r, _, _, ok := sim.SiteAccess(siteID, memberID)
	return r, ok
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertShapeWithout compares against a golden example after dropping
// keys (normalized paths) that the reference marks as example artifacts.
func assertShapeWithout(t *testing.T, goldenName string, got []byte, drop []string, extra ...string) {
	t.Helper()
	ref := golden(t, goldenName)
	for _, d := range drop {
		dropPath(ref, strings.Split(d, "."))
	}
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", goldenName, err)
	}
	ex := map[string]bool{}
	for _, e := range extra {
		ex[e] = true
	}
	for _, e := range sameShape(ref, g, "", ex) {
		t.Errorf("%s: %s", goldenName, e)
	}
}

func dropPath(v any, path []string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			dropPath(e, path)
		}
	case map[string]any:
		if len(path) == 1 {
			delete(x, path[0])
			return
		}
		dropPath(x[path[0]], path[1:])
	}
}

type wsList struct {
	Members    []webflowdata.WorkspaceMember `json:"members"`
	Invites    []webflowdata.WorkspaceInvite `json:"invites"`
	Pagination struct {
		Limit      int     `json:"limit"`
		NextCursor *string `json:"nextCursor"`
	} `json:"pagination"`
}

func listWS(t *testing.T, srv *httptest.Server, query string) wsList {
	t.Helper()
	resp, body := call(t, srv, "GET", wsPath+query, wsTok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list %s: %d %s", query, resp.StatusCode, body)
	}
	var l wsList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), `"nextCursor":null`) {
		t.Errorf("the last page leaves nextCursor out, as the reference's example does")
	}
	return l
}

// The cursor walks members and invites together: each page carries up to
// limit of each; the walk ends when nextCursor is absent, and a member
// added or removed while paging neither repeats nor hides the others.
func TestWorkspaceMemberCursorPaging(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	for i := range 120 {
		if _, err := sim.AddMember(SeedMember{Email: fmt.Sprintf("m%03d@example.com", i), Role: "member", SiteRole: "content_editor"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 60 {
		resp, body := call(t, srv, "POST", wsPath, wsTok, map[string]any{"email": fmt.Sprintf("i%03d@example.com", i), "workspaceRole": "reviewer", "defaultSiteRole": "reviewer"})
		if resp.StatusCode != 201 {
			t.Fatalf("invite %d: %d %s", i, resp.StatusCode, body)
		}
	}
	wantMembers, wantInvites := len(sim.Workspace().Members), len(sim.Workspace().Invites)
	members, invites := map[string]bool{}, map[string]bool{}
	cursor, pages := "", 0
	for {
		l := listWS(t, srv, "?cursor="+cursor)
		pages++
		if l.Pagination.Limit != 50 || len(l.Members) > 50 || len(l.Invites) > 50 {
			t.Fatalf("page %d: limit %d, %d members, %d invites", pages, l.Pagination.Limit, len(l.Members), len(l.Invites))
		}
		for _, m := range l.Members {
			if members[m.ID] {
				t.Fatalf("member %s twice", m.ID)
			}
			members[m.ID] = true
		}
		for _, iv := range l.Invites {
			if invites[iv.ID] {
				t.Fatalf("invite %s twice", iv.ID)
			}
			invites[iv.ID] = true
		}
		if pages == 1 {
			// Changes while paging: one new member (after the cursor), one
			// removed that was already read.
			if _, err := sim.AddMember(SeedMember{Email: "late@example.com", Role: "member", SiteRole: "designer"}); err != nil {
				t.Fatal(err)
			}
			wantMembers++
			if err := sim.RemoveWorkspaceMember(l.Members[len(l.Members)-1].ID); err != nil {
				t.Fatal(err)
			}
		}
		if l.Pagination.NextCursor == nil {
			break
		}
		cursor = *l.Pagination.NextCursor
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || len(members) != wantMembers || len(invites) != wantInvites {
		t.Errorf("%d pages, %d/%d members, %d/%d invites", pages, len(members), wantMembers, len(invites), wantInvites)
	}

	if l := listWS(t, srv, "?limit=100&roles=admin,owner"); len(l.Members) != 2 || len(l.Invites) != 0 {
		t.Errorf("roles=admin,owner: %+v", l)
	}
	if l := listWS(t, srv, "?roles=reviewer&limit=5"); len(l.Members) != 1 || len(l.Invites) != 5 || l.Pagination.NextCursor == nil {
		t.Errorf("roles=reviewer: %d members, %d invites", len(l.Members), len(l.Invites))
	}
	if l := listWS(t, srv, "?email=sam.okafor%40example.com"); len(l.Members) != 0 || len(l.Invites) != 1 || l.Invites[0].ID != DemoInviteID {
		t.Errorf("email filter on an invite: %+v", l)
	}
	// Exact matching (the default reading): another case finds nothing.
	if l := listWS(t, srv, "?email=Waylon.Dalton%40example.com"); len(l.Members) != 0 {
		t.Errorf("exact email match found %+v", l.Members)
	}
	if l := listWS(t, srv, "?email=waylon.dalton%40example.com"); len(l.Members) != 1 || l.Members[0].ID != DemoDesignerMemberID {
		t.Errorf("email filter: %+v", l.Members)
	}
}

// A workspace invite is pending until the invitee accepts; acceptance
// makes a member with a new id (invites and members are separate id
// spaces) and turns a site-list invite into grants. Only a new invite
// sends an email.
func TestInviteLifecycle(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	body := map[string]any{"email": "Ann.Lee@example.com", "workspaceRole": "member",
		"siteAccess": []any{map[string]any{"siteId": DemoSiteID, "siteRole": "marketer"}, map[string]any{"siteId": DemoOtherSiteID, "siteRole": "marketer"}}}
	resp, b := call(t, srv, "POST", wsPath, wsTok, body)
	if resp.StatusCode != 201 {
		t.Fatalf("invite: %d %s", resp.StatusCode, b)
	}
	var res webflowdata.InviteMemberResult
	_ = json.Unmarshal(b, &res)
	if res.Status != "invited" || res.Invite == nil || res.Member != nil || res.Invite.Status != "pending" || res.Invite.AllSites || len(res.Invite.Sites) != 2 || res.Invite.DefaultSiteRole != "marketer" {
		t.Fatalf("invite answer %s", b)
	}
	inviteID := res.Invite.ID
	for range 2 { // a repeat matches the pending invite: 200, no email
		resp, b = call(t, srv, "POST", wsPath, wsTok, body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), inviteID) {
			t.Fatalf("repeat invite: %d %s", resp.StatusCode, b)
		}
	}
	if n := sim.WorkspaceInvitesTo("ann.lee@example.com"); n != 1 {
		t.Errorf("%d invitation emails, want 1", n)
	}
	if _, ok := sim.MemberByEmail("ann.lee@example.com"); ok {
		t.Fatal("an invitee is no member before accepting")
	}
	resp, b = call(t, srv, "POST", sitePath, wsTok, map[string]any{"email": "Ann.Lee@example.com", "siteRole": "marketer"})
	if resp.StatusCode != 404 {
		t.Errorf("grant to a pending invitee: %d %s", resp.StatusCode, b)
	}
	resp, b = call(t, srv, "POST", "/_sim/workspace/invites/"+inviteID+"/accept", "", map[string]any{"firstName": "Ann", "lastName": "Lee"})
	if resp.StatusCode != 200 {
		t.Fatalf("accept: %d %s", resp.StatusCode, b)
	}
	var m webflowdata.WorkspaceMember
	_ = json.Unmarshal(b, &m)
	if m.ID == inviteID || !objectRe.MatchString(m.ID) || m.Roles.Workspace != "member" || m.Roles.Site != "marketer" || m.AddedOn.IsZero() || m.FirstName != "Ann" {
		t.Fatalf("accepted member %+v", m)
	}
	if _, ok := sim.Invite(inviteID); ok {
		t.Error("an accepted invite leaves the invite list")
	}
	for _, site := range []string{DemoSiteID, DemoOtherSiteID} {
		if role, ok := siteRole(sim, site, m.ID); !ok || role != "marketer" {
			t.Errorf("site %s: %q %v", site, role, ok)
		}
	}
	resp, _ = call(t, srv, "POST", "/_sim/workspace/invites/"+inviteID+"/accept", "", nil)
	if resp.StatusCode != 409 {
		t.Errorf("accepting twice: %d", resp.StatusCode)
	}
	// Now the same request matches the active membership.
	resp, b = call(t, srv, "POST", wsPath, wsTok, body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"status":"active"`) || !strings.Contains(string(b), m.ID) {
		t.Errorf("invite of an active member: %d %s", resp.StatusCode, b)
	}

	// A declined invite no longer matches. Under the default reading a new
	// request is 409 until the declined invite is cancelled; under "new"
	// it makes a new invite.
	if err := sim.SetInviteStatus(DemoInviteID, "declined"); err != nil {
		t.Fatal(err)
	}
	samInvite := map[string]any{"email": "sam.okafor@example.com", "workspaceRole": "member", "defaultSiteRole": "designer"}
	if resp, b = call(t, srv, "POST", wsPath, wsTok, samInvite); resp.StatusCode != 409 || !strings.Contains(string(b), "declined or expired") {
		t.Errorf("invite after a decline, default reading: %d %s", resp.StatusCode, b)
	}
	if err := sim.SetReadings(Readings{ClosedInvite: ClosedInviteNew}); err != nil {
		t.Fatal(err)
	}
	resp, b = call(t, srv, "POST", wsPath, wsTok, samInvite)
	if resp.StatusCode != 201 || strings.Contains(string(b), DemoInviteID) {
		t.Errorf("invite after a decline, reading new: %d %s", resp.StatusCode, b)
	}
	if err := sim.SetReadings(Readings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AcceptInvite(DemoInviteID, "", ""); err == nil {
		t.Error("a declined invite cannot be accepted")
	}

	// A client invite is extended by repeating it with another site.
	client := func(site string) map[string]any {
		return map[string]any{"email": "kim@client.example", "workspaceRole": "client", "siteAccess": []any{map[string]any{"siteId": site, "siteRole": "reviewer"}}}
	}
	if resp, b = call(t, srv, "POST", wsPath, wsTok, client(DemoSiteID)); resp.StatusCode != 201 {
		t.Fatalf("client invite: %d %s", resp.StatusCode, b)
	}
	if resp, b = call(t, srv, "POST", wsPath, wsTok, client(DemoOtherSiteID)); resp.StatusCode != 200 || !strings.Contains(string(b), DemoOtherSiteID) || !strings.Contains(string(b), DemoSiteID) {
		t.Errorf("extend client invite: %d %s", resp.StatusCode, b)
	}
	if n := sim.WorkspaceInvitesTo("kim@client.example"); n != 1 {
		t.Errorf("client invite emails: %d", n)
	}
}

type bulkAnswer struct {
	Summary map[string]int               `json:"summary"`
	Results []webflowdata.BulkItemResult `json:"results"`
}

func bulkCall(t *testing.T, srv *httptest.Server, method string, body any) (int, bulkAnswer, []byte) {
	t.Helper()
	resp, b := call(t, srv, method, wsPath+"/bulk", wsTok, body)
	var a bulkAnswer
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, a, b
}

func byID(rs []webflowdata.BulkItemResult) map[string]webflowdata.BulkItemResult {
	m := map[string]webflowdata.BulkItemResult{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

// outcome renders a result as "updated" or "failed:<code>".
func outcome(r webflowdata.BulkItemResult) string {
	if r.Failed() {
		return "failed:" + r.Error.Code
	}
	return r.Outcome
}

func TestBulkUpdate(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	// A SCIM-provisioned member (locked) next to dashboard-made ones.
	resp, b := call(t, srv, "POST", "/scim/v2/Users", scimTok, map[string]any{"userName": "sid@example.com", "emails": []any{map[string]any{"value": "sid@example.com", "primary": true}}})
	if resp.StatusCode != 201 {
		t.Fatalf("scim create: %d %s", resp.StatusCode, b)
	}
	sid, _ := sim.MemberByEmail("sid@example.com")
	if err := sim.LoadSeed(Seed{Workspace: SeedWorkspace{Invites: []SeedInvite{
		{ID: "63fa5e47f6b8256f4641c5c0", Email: "old@example.com", Role: "member", DefaultSiteRole: "designer", Status: "expired"},
		{ID: "63fa5e47f6b8256f4641c5c1", Email: "cl@example.com", Role: "client", DefaultSiteRole: "content_editor", Sites: []string{DemoSiteID}},
		{ID: "63fa5e47f6b8256f4641c5c2", Email: "sl@example.com", Role: "member", DefaultSiteRole: "designer", Sites: []string{DemoSiteID}},
	}}}); err != nil {
		t.Fatal(err)
	}
	sim.InjectBulkItemFault(DemoReviewerMemberID, 1)
	req := map[string]any{
		"memberIds": []string{DemoDesignerMemberID, sid.ID, missing, DemoGuestMemberID, DemoDesignerMemberID, DemoReviewerMemberID, DemoInviteID},
		"inviteIds": []string{DemoInviteID, "63fa5e47f6b8256f4641c5c0", "63fa5e47f6b8256f4641c5c1", missing, DemoDesignerMemberID},
		"role":      "member", "defaultSiteRole": "marketer",
	}
	status, a, raw := bulkCall(t, srv, "POST", req)
	if status != 200 {
		t.Fatalf("bulk: %d %s", status, raw)
	}
	got := map[string]webflowdata.BulkItemResult{}
	for _, r := range a.Results {
		if r.Type == "member" {
			got[r.ID] = r
		}
	}
	want := map[string]string{
		DemoDesignerMemberID: "updated",
		sid.ID:               "failed:" + webflowdata.CodeMemberManagedBySCIM,
		DemoGuestMemberID:    "failed:" + webflowdata.CodeCannotUpdateUserRole,
		DemoReviewerMemberID: "failed:" + webflowdata.CodeInternalError,
	}
	for id, w := range want {
		if r, ok := got[id]; !ok || outcome(r) != w || r.Type != "member" {
			t.Errorf("member %s: %+v, want %s", id, r, w)
		}
	}
	// The same id in both lists is two items: the invite-id space is apart.
	invWant := map[string]string{
		DemoInviteID:               "updated",
		"63fa5e47f6b8256f4641c5c0": "updated", // an expired invite can be updated
		"63fa5e47f6b8256f4641c5c1": "failed:" + webflowdata.CodeCannotUpdateUserRole,
		missing:                    "failed:" + webflowdata.CodeWorkspaceInviteNotFound,
		DemoDesignerMemberID:       "failed:" + webflowdata.CodeWorkspaceInviteNotFound,
	}
	n := 0
	for _, r := range a.Results {
		if r.Type == "invite" {
			n++
			if w := invWant[r.ID]; outcome(r) != w {
				t.Errorf("invite %s: %s, want %s", r.ID, outcome(r), w)
			}
		}
		if r.Type == "member" && r.ID == missing && outcome(r) != "failed:"+webflowdata.CodeWorkspaceMemberNotFound {
			t.Errorf("unknown member: %+v", r)
		}
		if r.Type == "member" && r.ID == DemoInviteID && outcome(r) != "failed:"+webflowdata.CodeWorkspaceMemberNotFound {
			t.Errorf("invite id as a member: %+v", r)
		}
	}
	if len(a.Results) != 11 || n != 5 {
		t.Errorf("ids are de-duplicated per list: %d results (%d invites), want 11 (5)", len(a.Results), n)
	}
	if a.Summary["updated"] != 3 || a.Summary["failed"] != 8 {
		t.Errorf("summary %v", a.Summary)
	}
	if m, _ := sim.MemberByEmail("waylon.dalton@example.com"); m.Roles.Site != "marketer" {
		t.Errorf("updated member: %+v", m)
	}
	if m, _ := sim.MemberByEmail("sid@example.com"); m.Roles.Site != SCIMDefaultSiteRole {
		t.Errorf("a locked member must not change: %+v", m)
	}
	if iv, _ := sim.Invite(DemoInviteID); iv.DefaultSiteRole != "marketer" {
		t.Errorf("updated invite: %+v", iv)
	}
	// The injected internal_error was one-shot: a retry of that id works.
	if _, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoReviewerMemberID}, "role": "reviewer", "defaultSiteRole": "reviewer"}); outcome(a.Results[0]) != "updated" {
		t.Errorf("retry after internal_error: %+v", a.Results)
	}

	t.Run("admin on a site-list invite", func(t *testing.T) {
		_, a, _ := bulkCall(t, srv, "POST", map[string]any{"inviteIds": []string{"63fa5e47f6b8256f4641c5c2"}, "role": "admin", "defaultSiteRole": "site_manager"})
		if outcome(a.Results[0]) != "failed:"+webflowdata.CodeInvalidWorkspaceRole {
			t.Errorf("%+v", a.Results)
		}
	})
	t.Run("more than 100 ids is 400 and applies nothing", func(t *testing.T) {
		ids := []string{DemoDesignerMemberID}
		for i := range 100 {
			ids = append(ids, fmt.Sprintf("%024x", i+1))
		}
		status, _, raw := bulkCall(t, srv, "POST", map[string]any{"memberIds": ids, "role": "member", "defaultSiteRole": "content_editor"})
		if status != 400 {
			t.Fatalf("%d %s", status, raw)
		}
		assertEnvelope(t, raw, webflowdata.CodeValidationError)
		if m, _ := sim.MemberByEmail("waylon.dalton@example.com"); m.Roles.Site != "marketer" {
			t.Errorf("a refused batch changed %+v", m)
		}
		// 100 distinct ids after de-duplication are fine.
		dup := append(append([]string{}, ids[:100]...), ids[:50]...)
		if status, a, raw := bulkCall(t, srv, "POST", map[string]any{"memberIds": dup, "role": "member", "defaultSiteRole": "content_editor"}); status != 200 || len(a.Results) != 100 {
			t.Errorf("150 ids, 100 distinct: %d %s", status, raw)
		}
	})
	t.Run("pair errors per item", func(t *testing.T) {
		_, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "inviteIds": []string{DemoInviteID}, "role": "reviewer", "defaultSiteRole": "designer"})
		for _, r := range a.Results {
			if outcome(r) != "failed:"+webflowdata.CodeInvalidSiteRole {
				t.Errorf("%+v", r)
			}
		}
		_, a, _ = bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "owner", "defaultSiteRole": "site_manager"})
		if outcome(a.Results[0]) != "failed:"+webflowdata.CodeInvalidWorkspaceRole {
			t.Errorf("owner: %+v", a.Results)
		}
	})
}

func TestBulkUpdateSeats(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	// Full seats: owner, admin, waylon (designer) = 3 in use.
	if err := sim.ConfigureWorkspace(WorkspaceSettings{Seats: &Seats{Full: 3}}); err != nil {
		t.Fatal(err)
	}
	_, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoReviewerMemberID, DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "site_manager"})
	got := byID(a.Results)
	if outcome(got[DemoReviewerMemberID]) != "failed:"+webflowdata.CodeCannotUpdateUserRole || outcome(got[DemoDesignerMemberID]) != "updated" {
		t.Errorf("seats: %+v", a.Results)
	}
	resp, b := call(t, srv, "PATCH", wsPath+"/"+DemoReviewerMemberID, wsTok, map[string]any{"role": "admin", "defaultSiteRole": "site_manager"})
	if resp.StatusCode != 409 {
		t.Fatalf("single PATCH without a seat: %d %s", resp.StatusCode, b)
	}
	assertEnvelope(t, b, webflowdata.CodeCannotUpdateUserRole)
}

func TestBulkRemove(t *testing.T) {
	for _, reading := range []string{"", BulkRemoveCancelled} {
		t.Run("reading "+reading, func(t *testing.T) {
			sim, srv := newEnt(t, Options{Readings: Readings{BulkRemoveOutcome: reading}})
			status, a, raw := bulkCall(t, srv, "DELETE", map[string]any{
				"memberIds": []string{DemoReviewerMemberID, DemoOwnerMemberID, missing, DemoReviewerMemberID},
				"inviteIds": []string{DemoInviteID, missing},
			})
			if status != 200 {
				t.Fatalf("%d %s", status, raw)
			}
			inviteOutcome := "removed"
			if reading != "" {
				inviteOutcome = "cancelled"
			}
			want := map[string]string{
				"member " + DemoReviewerMemberID: "removed",
				"member " + DemoOwnerMemberID:    "failed:" + webflowdata.CodeMemberManagedBySCIM,
				"member " + missing:              "failed:" + webflowdata.CodeWorkspaceMemberNotFound,
				"invite " + DemoInviteID:         inviteOutcome,
				"invite " + missing:              "failed:" + webflowdata.CodeWorkspaceInviteNotFound,
			}
			if len(a.Results) != len(want) {
				t.Errorf("%d results, want %d", len(a.Results), len(want))
			}
			for _, r := range a.Results {
				if w := want[r.Type+" "+r.ID]; outcome(r) != w {
					t.Errorf("%s %s: %s, want %s", r.Type, r.ID, outcome(r), w)
				}
			}
			wantSummary := map[string]int{"removed": 2, "failed": 3}
			if reading != "" {
				wantSummary = map[string]int{"removed": 1, "cancelled": 1, "failed": 3}
			}
			if fmt.Sprint(a.Summary) != fmt.Sprint(wantSummary) {
				t.Errorf("summary %v, want %v", a.Summary, wantSummary)
			}
			if _, ok := sim.MemberByEmail("rita.reviewer@example.com"); ok {
				t.Error("removed member still there")
			}
			if _, ok := sim.Invite(DemoInviteID); ok {
				t.Error("cancelled invite still listed")
			}
			if _, err := sim.AcceptInvite(DemoInviteID, "", ""); err == nil {
				t.Error("a cancelled invite cannot be accepted")
			}
		})
	}
}

// Native SCIM owns the members it provisions: their role writes (single
// and bulk) and removal are refused with workspace_member_managed_by_scim;
// Site Access writes only under the SCIMLocksSiteAccess reading.
func TestSCIMManagedLock(t *testing.T) {
	for _, lockSites := range []bool{false, true} {
		t.Run(fmt.Sprintf("site access locked %v", lockSites), func(t *testing.T) {
			sim, srv := newEnt(t, Options{Readings: Readings{SCIMLocksSiteAccess: lockSites}})
			resp, b := call(t, srv, "POST", "/scim/v2/Users", scimTok, map[string]any{
				"userName": "tess@example.com", "name": map[string]any{"givenName": "Tess", "familyName": "Ng"},
				"emails": []any{map[string]any{"value": "tess@example.com", "type": "work", "primary": true}}})
			if resp.StatusCode != 201 {
				t.Fatalf("scim create: %d %s", resp.StatusCode, b)
			}
			scimID := decode(t, b)["id"].(string)
			m, ok := sim.MemberByEmail("tess@example.com")
			if !ok || !m.SCIMManaged || m.Roles.Workspace != SCIMDefaultRole || m.FirstName != "Tess" {
				t.Fatalf("SCIM-provisioned member %+v %v", m, ok)
			}
			resp, b = call(t, srv, "PATCH", wsPath+"/"+m.ID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"})
			if resp.StatusCode != 409 {
				t.Fatalf("PATCH: %d %s", resp.StatusCode, b)
			}
			assertEnvelope(t, b, webflowdata.CodeMemberManagedBySCIM)
			if msg := decode(t, b)["message"]; msg != webflowdata.MsgMemberManagedBySCIM {
				t.Errorf("message %q", msg)
			}
			_, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{m.ID}, "role": "member", "defaultSiteRole": "designer"})
			if outcome(a.Results[0]) != "failed:"+webflowdata.CodeMemberManagedBySCIM {
				t.Errorf("bulk: %+v", a.Results)
			}
			resp, _ = call(t, srv, "DELETE", wsPath+"/"+m.ID, wsTok, nil)
			if resp.StatusCode != 409 {
				t.Errorf("remove: %d", resp.StatusCode)
			}
			site := []struct{ method, path string }{{"POST", sitePath}, {"PATCH", sitePath + "/" + m.ID}, {"DELETE", sitePath + "/" + m.ID}}
			for _, c := range site {
				resp, b := call(t, srv, c.method, c.path, wsTok, map[string]any{"memberId": m.ID, "siteRole": "marketer"})
				if c.method == "PATCH" {
					resp, b = call(t, srv, c.method, c.path, wsTok, map[string]any{"siteRole": "marketer"})
				}
				if lockSites {
					if resp.StatusCode != 409 {
						t.Errorf("%s: %d %s", c.method, resp.StatusCode, b)
					} else {
						assertEnvelope(t, b, webflowdata.CodeMemberManagedBySCIM)
					}
				} else if resp.StatusCode >= 300 {
					t.Errorf("%s without the site lock: %d %s", c.method, resp.StatusCode, b)
				}
			}
			if mm, _ := sim.MemberByEmail("tess@example.com"); mm.Roles != m.Roles {
				t.Errorf("roles changed: %+v", mm.Roles)
			}

			// SCIM changes flow to the member; deactivation removes it and
			// reactivation adds it again under a new member id.
			patch := func(ops ...map[string]any) {
				t.Helper()
				resp, b := call(t, srv, "PATCH", "/scim/v2/Users/"+scimID, scimTok, map[string]any{"schemas": []string{scimPatchSchema}, "Operations": ops})
				if resp.StatusCode != 200 {
					t.Fatalf("scim patch: %d %s", resp.StatusCode, b)
				}
			}
			patch(map[string]any{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "tess.ng@example.com"})
			if mm, ok := sim.MemberByEmail("tess.ng@example.com"); !ok || mm.ID != m.ID {
				t.Errorf("email change: %+v %v", mm, ok)
			}
			patch(map[string]any{"op": "replace", "path": "active", "value": false})
			if _, ok := sim.MemberByEmail("tess.ng@example.com"); ok {
				t.Error("a deactivated SCIM user is no member")
			}
			patch(map[string]any{"op": "replace", "path": "active", "value": true})
			mm, ok := sim.MemberByEmail("tess.ng@example.com")
			if !ok || mm.ID == m.ID || !mm.SCIMManaged {
				t.Errorf("reactivated: %+v %v (old id %s)", mm, ok, m.ID)
			}
			if resp, _ := call(t, srv, "DELETE", "/scim/v2/Users/"+scimID, scimTok, nil); resp.StatusCode != 204 {
				t.Fatal("scim delete")
			}
			if _, ok := sim.MemberByEmail("tess.ng@example.com"); ok {
				t.Error("a deleted SCIM user is no member")
			}
		})
	}
}

func TestEnterpriseRateLimitsAndFaults(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	sim.SetTokenRateLimit("workspace-token", 2)
	for i := range 3 {
		resp, b := call(t, srv, "GET", wsPath, wsTok, nil)
		want := 200
		if i == 2 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, b)
		}
		if i == 2 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	// Another token has its own budget.
	if resp, _ := call(t, srv, "GET", wsPath, entRead, nil); resp.StatusCode != 200 {
		t.Errorf("other token: %d", resp.StatusCode)
	}
	sim.SetTokenRateLimit("workspace-token", 0)
	// A fault after processing: the bulk update happened, the answer is lost.
	sim.InjectFault(Fault{Method: "POST", Path: "/v2/workspaces/*/members/bulk", Status: 502, After: true})
	resp, _ := call(t, srv, "POST", wsPath+"/bulk", wsTok, map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"})
	if resp.StatusCode != 502 {
		t.Fatalf("fault: %d", resp.StatusCode)
	}
	if m, _ := sim.MemberByEmail("waylon.dalton@example.com"); m.Roles.Site != "marketer" {
		t.Errorf("an After fault still applies the change: %+v", m.Roles)
	}
	reqs := sim.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 502 || last.Path != wsPath+"/bulk" {
		t.Errorf("request log: %+v", last)
	}
}

func TestGoldenEnterpriseShapes(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	get := func(path string) []byte {
		t.Helper()
		resp, body := call(t, srv, "GET", path, wsTok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	// The reference's examples carry siteRoleId and defaultSiteRoleId on
	// non-custom roles (documented example artifacts): a custom-role
	// member and invite make the simulator show those keys too.
	if _, err := sim.AddMember(SeedMember{Email: "seo@example.com", FirstName: "Sally", LastName: "Seo", Role: "member", SiteRole: "custom", SiteRoleID: DemoCustomRoleID,
		Sites: []SeedSiteGrant{{SiteID: DemoSiteID, SiteRole: "custom", SiteRoleID: DemoCustomRoleID}}}); err != nil {
		t.Fatal(err)
	}
	t.Run("list members", func(t *testing.T) {
		var l struct {
			Members []json.RawMessage `json:"members"`
			Invites []json.RawMessage `json:"invites"`
		}
		_ = json.Unmarshal(get(wsPath+"?email=seo%40example.com"), &l)
		b := get(wsPath + "?limit=2")
		assertShapeWithout(t, "workspace_members.json", b, []string{"invites.defaultSiteRoleId"}, "pagination.nextCursor", "invites.defaultSiteRoleId")
		assertShape(t, "workspace_member.json", l.Members[0])
	})
	t.Run("list site members", func(t *testing.T) {
		assertShapeWithout(t, "site_members.json", get(sitePath), []string{"members.roles.siteRoleId"}, "members.roles.siteRoleId")
		var l struct{ Members []json.RawMessage }
		_ = json.Unmarshal(get(sitePath), &l)
		for _, m := range l.Members {
			var mm map[string]any
			_ = json.Unmarshal(m, &mm)
			if mm["roles"].(map[string]any)["site"] != "custom" {
				if _, has := mm["roles"].(map[string]any)["siteRoleId"]; has {
					t.Errorf("siteRoleId on a non-custom role: %s", m)
				}
			}
		}
	})
	t.Run("grant", func(t *testing.T) {
		resp, b := call(t, srv, "POST", otherMem, wsTok, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "custom", "siteRoleId": DemoCustomRoleID})
		if resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		assertShape(t, "site_member.json", b)
	})
	t.Run("patch member", func(t *testing.T) {
		resp, b := call(t, srv, "PATCH", wsPath+"/"+DemoDesignerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "content_editor"})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		assertShape(t, "workspace_member.json", b)
	})
	t.Run("invite", func(t *testing.T) {
		resp, b := call(t, srv, "POST", wsPath, wsTok, map[string]any{"email": "cu@example.com", "workspaceRole": "member", "defaultSiteRole": "custom", "defaultSiteRoleId": DemoCustomRoleID})
		if resp.StatusCode != 201 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		assertShape(t, "invite_invited.json", b)
		resp, b = call(t, srv, "POST", wsPath, wsTok, map[string]any{"email": "waylon.dalton@example.com", "workspaceRole": "member", "defaultSiteRole": "content_editor"})
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		assertShape(t, "invite_active.json", b)
	})
	t.Run("bulk update", func(t *testing.T) {
		_, _, b := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID, DemoOwnerMemberID}, "inviteIds": []string{DemoInviteID}, "role": "member", "defaultSiteRole": "designer"})
		assertShape(t, "bulk_update.json", b, "results.error.code")
	})
}

// TestReadingsAreListedInDoc keeps doc.go's list of unknowns complete.
func TestReadingsAreListedInDoc(t *testing.T) {
	doc := readFile(t, "doc.go")
	var names []string
	for n := range readingChoices {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range append(names, "scimLocksSiteAccess") {
		if !strings.Contains(doc, n) {
			t.Errorf("doc.go does not describe the reading %s", n)
		}
	}
}
