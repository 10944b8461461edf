package webflowsim

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

func TestSiteAccessRoutes(t *testing.T) {
	waylon := sitePath + "/" + DemoDesignerMemberID
	grant := func(who, role string) map[string]any {
		if strings.Contains(who, "@") {
			return map[string]any{"email": who, "siteRole": role}
		}
		return map[string]any{"memberId": who, "siteRole": role}
	}
	runEntCases(t, Options{}, []entCase{
		{"list", "GET", sitePath, wsTok, nil, 200, ""},
		{"list read-only token", "GET", sitePath, entRead, nil, 200, ""},
		{"list site token", "GET", sitePath, entSite, nil, 403, webflowdata.CodeForbidden},
		{"list without scope", "GET", sitePath, siteTok, nil, 403, webflowdata.CodeMissingScopes},
		{"list unknown site", "GET", "/v2/sites/" + missing + "/members", wsTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"list bad site id", "GET", "/v2/sites/xyz/members", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list limit 101", "GET", sitePath + "?limit=101", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"list bad cursor", "GET", sitePath + "?cursor=" + encodeCursor("w", 1, 1), wsTok, nil, 400, webflowdata.CodeValidationError},

		{"grant by id", "POST", otherMem, wsTok, grant(DemoDesignerMemberID, "marketer"), 201, ""},
		{"grant by email", "POST", otherMem, wsTok, grant("waylon.dalton@example.com", "marketer"), 201, ""},
		{"grant without write scope", "POST", otherMem, entRead, grant(DemoDesignerMemberID, "marketer"), 403, webflowdata.CodeMissingScopes},
		{"grant email of another case", "POST", otherMem, wsTok, grant("Waylon.Dalton@example.com", "marketer"), 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"grant existing access", "POST", sitePath, wsTok, grant(DemoDesignerMemberID, "designer"), 409, webflowdata.CodeMemberAlreadyHasAccess},
		{"grant existing access, other role", "POST", sitePath, wsTok, grant(DemoDesignerMemberID, "marketer"), 409, webflowdata.CodeMemberAlreadyHasAccess},
		{"grant an admin", "POST", otherMem, wsTok, grant(DemoAdminMemberID, "designer"), 409, webflowdata.CodeMemberAlreadyHasAccess},
		{"grant a pending invitee", "POST", otherMem, wsTok, grant("sam.okafor@example.com", "designer"), 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"grant an invite id", "POST", otherMem, wsTok, grant(DemoInviteID, "designer"), 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"grant both email and id", "POST", otherMem, wsTok, map[string]any{"email": "waylon.dalton@example.com", "memberId": DemoDesignerMemberID, "siteRole": "designer"}, 400, webflowdata.CodeValidationError},
		{"grant neither", "POST", otherMem, wsTok, map[string]any{"siteRole": "designer"}, 400, webflowdata.CodeValidationError},
		{"grant no role", "POST", otherMem, wsTok, map[string]any{"memberId": DemoDesignerMemberID}, 400, webflowdata.CodeValidationError},
		{"grant read-only role", "POST", otherMem, wsTok, grant(DemoDesignerMemberID, "viewer"), 400, webflowdata.CodeInvalidSiteRole},
		{"grant unknown role", "POST", otherMem, wsTok, grant(DemoDesignerMemberID, "boss"), 400, webflowdata.CodeValidationError},
		{"grant reviewer a designer role", "POST", otherMem, wsTok, grant(DemoReviewerMemberID, "designer"), 400, webflowdata.CodeInvalidSiteRole},
		{"grant reviewer", "POST", otherMem, wsTok, grant(DemoReviewerMemberID, "reviewer"), 201, ""},
		{"grant client designer", "POST", otherMem, wsTok, grant(DemoClientMemberID, "designer"), 400, webflowdata.CodeInvalidSiteRole},
		{"grant client custom", "POST", otherMem, wsTok, map[string]any{"memberId": DemoClientMemberID, "siteRole": "custom", "siteRoleId": DemoCustomRoleID}, 201, ""},
		{"grant custom without id", "POST", otherMem, wsTok, grant(DemoDesignerMemberID, "custom"), 400, webflowdata.CodeInvalidSiteRole},
		{"grant id with non-custom", "POST", otherMem, wsTok, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "designer", "siteRoleId": DemoCustomRoleID}, 400, webflowdata.CodeInvalidSiteRole},
		{"grant guest marketer", "POST", otherMem, wsTok, grant(DemoGuestMemberID, "marketer"), 400, webflowdata.CodeInvalidSiteRole},
		{"grant bad member id", "POST", otherMem, wsTok, grant("xyz", "designer"), 400, webflowdata.CodeValidationError},
		{"grant bad json", "POST", otherMem, wsTok, "nope", 400, webflowdata.CodeBadRequest},

		{"patch by id", "PATCH", waylon, wsTok, map[string]any{"siteRole": "content_editor"}, 200, ""},
		{"patch by email", "PATCH", sitePath + "?email=waylon.dalton%40example.com", wsTok, map[string]any{"siteRole": "content_editor"}, 200, ""},
		{"patch without email", "PATCH", sitePath, wsTok, map[string]any{"siteRole": "content_editor"}, 400, webflowdata.CodeValidationError},
		{"patch without access (restricted site)", "PATCH", otherMem + "/" + DemoDesignerMemberID, wsTok, map[string]any{"siteRole": "content_editor"}, 404, webflowdata.CodeResourceNotFound},
		{"patch a non-member", "PATCH", sitePath + "/" + missing, wsTok, map[string]any{"siteRole": "content_editor"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"patch an admin", "PATCH", sitePath + "/" + DemoAdminMemberID, wsTok, map[string]any{"siteRole": "designer"}, 409, webflowdata.CodeCannotUpdateUserRole},
		{"patch read-only role", "PATCH", waylon, wsTok, map[string]any{"siteRole": "branch_designer"}, 400, webflowdata.CodeInvalidSiteRole},
		{"patch member in body", "PATCH", waylon, wsTok, map[string]any{"siteRole": "designer", "memberId": DemoDesignerMemberID}, 400, webflowdata.CodeValidationError},
		{"patch without write scope", "PATCH", waylon, entRead, map[string]any{"siteRole": "designer"}, 403, webflowdata.CodeMissingScopes},

		{"revoke by id", "DELETE", waylon, wsTok, nil, 204, ""},
		{"revoke by email", "DELETE", sitePath + "?email=waylon.dalton%40example.com", wsTok, nil, 204, ""},
		{"revoke without access is idempotent", "DELETE", otherMem + "/" + DemoDesignerMemberID, wsTok, nil, 204, ""},
		{"revoke a non-member", "DELETE", sitePath + "/" + missing, wsTok, nil, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"revoke a pending invitee by email", "DELETE", sitePath + "?email=sam.okafor%40example.com", wsTok, nil, 404, webflowdata.CodeWorkspaceMemberNotFound},
		{"revoke an admin", "DELETE", sitePath + "/" + DemoAdminMemberID, wsTok, nil, 409, webflowdata.CodeCannotUpdateUserRole},
		{"revoke without email", "DELETE", sitePath, wsTok, nil, 400, webflowdata.CodeValidationError},
		{"revoke bad id", "DELETE", sitePath + "/xyz", wsTok, nil, 400, webflowdata.CodeValidationError},
		{"revoke deep path", "DELETE", waylon + "/x", wsTok, nil, 404, webflowdata.CodeResourceNotFound},
	})
}

// Grant creates, PATCH changes, revoke removes; revoking site access
// leaves the workspace membership.
func TestSiteAccessLifecycle(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	resp, b := call(t, srv, "POST", otherMem, wsTok, map[string]any{"email": "waylon.dalton@example.com", "siteRole": "marketer"})
	var sm webflowdata.SiteMember
	_ = json.Unmarshal(b, &sm)
	if resp.StatusCode != 201 || sm.ID != DemoDesignerMemberID || sm.Roles.Site != "marketer" || sm.Roles.Workspace != "member" || sm.Email != "waylon.dalton@example.com" {
		t.Fatalf("grant: %d %s", resp.StatusCode, b)
	}
	resp, b = call(t, srv, "PATCH", otherMem+"/"+DemoDesignerMemberID, wsTok, map[string]any{"siteRole": "custom", "siteRoleId": DemoCustomRoleID})
	_ = json.Unmarshal(b, &sm)
	if resp.StatusCode != 200 || sm.Roles.Site != "custom" || sm.Roles.SiteRoleID != DemoCustomRoleID {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	l := listSite(t, srv, otherMem, "")
	found := false
	for _, m := range l.Members {
		found = found || (m.ID == DemoDesignerMemberID && m.Roles.Site == "custom")
	}
	if !found {
		t.Errorf("list after patch: %+v", l.Members)
	}
	if resp, _ = call(t, srv, "DELETE", otherMem+"/"+DemoDesignerMemberID, wsTok, nil); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, ok := siteRole(sim, DemoOtherSiteID, DemoDesignerMemberID); ok {
		t.Error("revoked access remains")
	}
	if _, ok := sim.MemberByEmail("waylon.dalton@example.com"); !ok {
		t.Error("revoking site access must leave the workspace membership")
	}
	if role, ok := siteRole(sim, DemoSiteID, DemoDesignerMemberID); !ok || role != "designer" {
		t.Errorf("other sites keep their access: %q %v", role, ok)
	}
}

type siteList struct {
	Members    []webflowdata.SiteMember `json:"members"`
	Pagination struct {
		Limit      int     `json:"limit"`
		NextCursor *string `json:"nextCursor"`
	} `json:"pagination"`
}

func listSite(t *testing.T, srv *httptest.Server, path, query string) siteList {
	t.Helper()
	resp, body := call(t, srv, "GET", path+query, wsTok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list %s%s: %d %s", path, query, resp.StatusCode, body)
	}
	var l siteList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestSiteMemberPaging(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	for i := range 130 {
		if _, err := sim.AddMember(SeedMember{Email: fmt.Sprintf("s%03d@example.com", i), Role: "member", SiteRole: "designer",
			Sites: []SeedSiteGrant{{SiteID: DemoSiteID, SiteRole: "marketer"}}}); err != nil {
			t.Fatal(err)
		}
	}
	want := len(sim.Workspace().Sites[0].Members)
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		l := listSite(t, srv, sitePath, "?limit=100&cursor="+cursor)
		pages++
		for _, m := range l.Members {
			if seen[m.ID] {
				t.Fatalf("%s twice", m.ID)
			}
			seen[m.ID] = true
		}
		if l.Pagination.NextCursor == nil {
			break
		}
		cursor = *l.Pagination.NextCursor
	}
	if pages != 2 || len(seen) != want || want != 135 {
		t.Errorf("%d pages, %d of %d members", pages, len(seen), want)
	}
	if l := listSite(t, srv, sitePath, "?email=s007%40example.com"); len(l.Members) != 1 || l.Members[0].Roles.Site != "marketer" {
		t.Errorf("email filter: %+v", l.Members)
	}
}

// Every reading the simulator offers for an unknown, exercised both ways.
func TestReadings(t *testing.T) {
	type step struct {
		method, path string
		body         any
		status       int
		code         string
	}
	openSite := func(sim *Simulator) {
		if err := sim.SetSiteAccessDefault(DemoOtherSiteID, SiteAccessOpen); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		readings Readings
		setup    func(*Simulator)
		steps    []step
		check    func(*testing.T, *Simulator, *httptest.Server)
	}{
		{"errorCodes specific", Readings{}, nil, []step{
			{"PATCH", wsPath + "/" + missing, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
			{"PATCH", wsPath + "/" + DemoOwnerMemberID, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeMemberManagedBySCIM},
			{"PATCH", wsPath + "/" + DemoDesignerMemberID, map[string]any{"role": "admin", "defaultSiteRole": "designer"}, 400, webflowdata.CodeInvalidSiteRole},
			{"PATCH", wsPath + "/" + DemoGuestMemberID, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeCannotUpdateUserRole},
		}, nil},
		{"errorCodes generic", Readings{ErrorCodes: ErrorCodesGeneric}, nil, []step{
			{"PATCH", wsPath + "/" + missing, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 404, webflowdata.CodeResourceNotFound},
			{"PATCH", wsPath + "/" + DemoOwnerMemberID, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeConflict},
			{"PATCH", wsPath + "/" + DemoDesignerMemberID, map[string]any{"role": "admin", "defaultSiteRole": "designer"}, 400, webflowdata.CodeValidationError},
			{"PATCH", wsPath + "/" + DemoGuestMemberID, map[string]any{"role": "member", "defaultSiteRole": "designer"}, 409, webflowdata.CodeConflict},
			{"POST", sitePath, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "designer"}, 409, webflowdata.CodeMemberAlreadyHasAccess},
		}, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			_, b := call(t, srv, "PATCH", wsPath+"/"+DemoOwnerMemberID, wsTok, map[string]any{"role": "member", "defaultSiteRole": "designer"})
			if decode(t, b)["message"] != webflowdata.MsgMemberManagedBySCIM {
				t.Errorf("the generic lock answer keeps Webflow's message: %s", b)
			}
			// Per-item bulk codes are documented: the same under both.
			_, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoOwnerMemberID}, "role": "member", "defaultSiteRole": "designer"})
			if outcome(a.Results[0]) != "failed:"+webflowdata.CodeMemberManagedBySCIM {
				t.Errorf("bulk: %+v", a.Results)
			}
		}},
		{"successCodes distinct", Readings{}, nil, []step{
			{"POST", wsPath, map[string]any{"email": "n@example.com", "workspaceRole": "reviewer", "defaultSiteRole": "reviewer"}, 201, ""},
			{"POST", wsPath, map[string]any{"email": "n@example.com", "workspaceRole": "reviewer", "defaultSiteRole": "reviewer"}, 200, ""},
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "designer"}, 201, ""},
			{"DELETE", otherMem + "/" + DemoDesignerMemberID, nil, 204, ""},
			{"DELETE", wsPath + "/" + DemoReviewerMemberID, nil, 204, ""},
		}, nil},
		{"successCodes ok", Readings{SuccessCodes: SuccessCodesOK}, nil, []step{
			{"POST", wsPath, map[string]any{"email": "n@example.com", "workspaceRole": "reviewer", "defaultSiteRole": "reviewer"}, 200, ""},
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "designer"}, 200, ""},
			{"DELETE", otherMem + "/" + DemoDesignerMemberID, nil, 200, ""},
			{"DELETE", wsPath + "/" + DemoReviewerMemberID, nil, 200, ""},
		}, nil},
		{"nonMember not_found", Readings{}, nil, []step{
			{"POST", otherMem, map[string]any{"email": "sam.okafor@example.com", "siteRole": "designer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
			{"PATCH", otherMem + "?email=nobody%40example.com", map[string]any{"siteRole": "designer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
		}, nil},
		{"nonMember validation", Readings{NonMember: NonMemberValidation}, nil, []step{
			{"POST", otherMem, map[string]any{"email": "sam.okafor@example.com", "siteRole": "designer"}, 400, webflowdata.CodeValidationError},
			{"PATCH", otherMem + "?email=nobody%40example.com", map[string]any{"siteRole": "designer"}, 400, webflowdata.CodeValidationError},
			{"DELETE", otherMem + "?email=nobody%40example.com", nil, 404, webflowdata.CodeWorkspaceMemberNotFound}, // documented
		}, nil},
		{"noAccessPatch not_found", Readings{}, nil, []step{
			{"PATCH", otherMem + "/" + DemoDesignerMemberID, map[string]any{"siteRole": "designer"}, 404, webflowdata.CodeResourceNotFound},
		}, nil},
		{"noAccessPatch conflict", Readings{NoAccessPatch: NoAccessPatchConflict}, nil, []step{
			{"PATCH", otherMem + "/" + DemoDesignerMemberID, map[string]any{"siteRole": "designer"}, 409, webflowdata.CodeConflict},
		}, nil},
		{"siteTokens refused", Readings{}, nil, []step{
			{"GET", sitePath, nil, 403, webflowdata.CodeForbidden},
		}, nil},
		{"siteTokens allowed", Readings{SiteTokens: SiteTokensAllowed}, nil, []step{
			{"GET", sitePath, nil, 200, ""},
			{"GET", otherMem, nil, 403, webflowdata.CodeForbidden},
			{"GET", wsPath, nil, 200, ""},
		}, nil},
		{"emailMatch exact", Readings{}, nil, []step{
			{"PATCH", sitePath + "?email=WAYLON.DALTON%40example.com", map[string]any{"siteRole": "marketer"}, 404, webflowdata.CodeWorkspaceMemberNotFound},
			{"DELETE", sitePath + "?email=WAYLON.DALTON%40example.com", nil, 404, webflowdata.CodeWorkspaceMemberNotFound},
		}, nil},
		{"emailMatch insensitive", Readings{EmailMatch: EmailMatchInsensitive}, nil, []step{
			{"PATCH", sitePath + "?email=WAYLON.DALTON%40example.com", map[string]any{"siteRole": "marketer"}, 200, ""},
			{"GET", wsPath + "?email=WAYLON.DALTON%40EXAMPLE.COM", nil, 200, ""},
		}, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			if l := listWS(t, srv, "?email=SAM.OKAFOR%40example.com"); len(l.Invites) != 1 {
				t.Errorf("insensitive email filter: %+v", l)
			}
		}},
		{"rolesQuery repeated", Readings{RolesQuery: RolesQueryRepeated}, nil, []step{
			{"GET", wsPath + "?roles=admin&roles=owner", nil, 200, ""},
		}, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			if l := listWS(t, srv, "?roles=admin&roles=guest,client"); len(l.Members) != 3 {
				t.Errorf("repeated roles: %+v", l.Members)
			}
		}},
		{"bulkPairErrors request", Readings{BulkPairErrors: BulkPairErrorsRequest}, nil, []step{
			{"POST", wsPath + "/bulk", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "admin", "defaultSiteRole": "designer"}, 400, webflowdata.CodeInvalidSiteRole},
		}, nil},
		{"bulkSuccessError schema", Readings{BulkSuccessError: BulkSuccessErrorSchema}, nil, nil, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			_, _, raw := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"})
			if strings.Contains(string(raw), "error") {
				t.Errorf("schema reading: no error on a success: %s", raw)
			}
			if err := sim.SetReadings(Readings{}); err != nil {
				t.Fatal(err)
			}
			_, _, raw = bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"})
			if !strings.Contains(string(raw), `"outcome":"updated","error":{"message":`) {
				t.Errorf("example reading: a success carries an error message: %s", raw)
			}
		}},

		// Sites open to the whole workspace.
		{"openSiteGrant already_has_access", Readings{}, openSite, []step{
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "marketer"}, 409, webflowdata.CodeMemberAlreadyHasAccess},
			{"PATCH", otherMem + "/" + DemoDesignerMemberID, map[string]any{"siteRole": "marketer"}, 200, ""},  // sets a per-site role for the first time
			{"POST", otherMem, map[string]any{"memberId": DemoGuestMemberID, "siteRole": "designer"}, 201, ""}, // guests have no implicit access
		}, func(t *testing.T, sim *Simulator, _ *httptest.Server) {
			if r, _, implicit, _ := sim.SiteAccess(DemoOtherSiteID, DemoDesignerMemberID); r != "marketer" || implicit {
				t.Errorf("after PATCH on an open site: %q implicit=%v", r, implicit)
			}
		}},
		{"openSiteGrant creates", Readings{OpenSiteGrant: OpenSiteGrantCreates}, openSite, []step{
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "marketer"}, 201, ""},
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "marketer"}, 409, webflowdata.CodeMemberAlreadyHasAccess},
		}, nil},
		{"openSiteRevoke resets", Readings{}, openSite, []step{
			{"PATCH", otherMem + "/" + DemoDesignerMemberID, map[string]any{"siteRole": "marketer"}, 200, ""},
			{"DELETE", otherMem + "/" + DemoDesignerMemberID, nil, 204, ""},
		}, func(t *testing.T, sim *Simulator, _ *httptest.Server) {
			if r, _, implicit, ok := sim.SiteAccess(DemoOtherSiteID, DemoDesignerMemberID); !ok || !implicit || r != "designer" {
				t.Errorf("after revoke on an open site: %q implicit=%v ok=%v (want the default role, implicitly)", r, implicit, ok)
			}
		}},
		{"openSiteRevoke refused", Readings{OpenSiteRevoke: OpenSiteRevokeRefused}, openSite, []step{
			{"DELETE", otherMem + "/" + DemoDesignerMemberID, nil, 409, webflowdata.CodeConflict},
			{"DELETE", otherMem + "/" + DemoGuestMemberID, nil, 204, ""},
		}, nil},
		{"openSiteRevoke removes", Readings{OpenSiteRevoke: OpenSiteRevokeRemoves}, openSite, []step{
			{"DELETE", otherMem + "/" + DemoDesignerMemberID, nil, 204, ""},
			{"PATCH", otherMem + "/" + DemoDesignerMemberID, map[string]any{"siteRole": "marketer"}, 404, webflowdata.CodeResourceNotFound},
			{"POST", otherMem, map[string]any{"memberId": DemoDesignerMemberID, "siteRole": "marketer"}, 201, ""},
		}, nil},
		{"siteListImplicit listed", Readings{}, openSite, nil, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			got := map[string]string{}
			for _, m := range listSite(t, srv, otherMem, "").Members {
				got[m.ID] = m.Roles.Site
			}
			want := map[string]string{DemoOwnerMemberID: "site_manager", DemoAdminMemberID: "site_manager", DemoDesignerMemberID: "designer", DemoReviewerMemberID: "reviewer"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("open site list %v, want %v", got, want)
			}
		}},
		{"siteListImplicit omitted", Readings{SiteListImplicit: SiteListOmitted}, openSite, nil, func(t *testing.T, sim *Simulator, srv *httptest.Server) {
			if l := listSite(t, srv, otherMem, ""); len(l.Members) != 0 {
				t.Errorf("implicit members listed: %+v", l.Members)
			}
			got := []string{}
			for _, m := range listSite(t, srv, sitePath, "").Members {
				got = append(got, m.ID)
			}
			if strings.Join(got, ",") != strings.Join([]string{DemoDesignerMemberID, DemoGuestMemberID, DemoClientMemberID}, ",") {
				t.Errorf("restricted site lists only grants: %v", got)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newEnt(t, Options{Readings: tc.readings})
			if tc.setup != nil {
				tc.setup(sim)
			}
			tok := wsTok
			if strings.HasPrefix(tc.name, "siteTokens") {
				tok = entSite
			}
			for i, st := range tc.steps {
				resp, b := call(t, srv, st.method, st.path, tok, st.body)
				if resp.StatusCode != st.status {
					t.Fatalf("step %d %s %s: %d, want %d: %s", i, st.method, st.path, resp.StatusCode, st.status, b)
				}
				if st.code != "" {
					assertEnvelope(t, b, st.code)
				} else if st.method == "DELETE" && len(b) != 0 {
					t.Errorf("step %d: a DELETE answers without a body: %q", i, b)
				}
			}
			if tc.check != nil {
				tc.check(t, sim, srv)
			}
		})
	}
}

func TestEnterpriseAdminAPI(t *testing.T) {
	sim, srv := newEnt(t, Options{})
	status := func(method, path string, body any, want int) []byte {
		t.Helper()
		resp, b := call(t, srv, method, "/_sim"+path, "", body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}
	// Readings: a partial PUT changes only what it names; a bad value is 400.
	status("PUT", "/readings", map[string]any{"emailMatch": "insensitive"}, 204)
	status("PUT", "/readings", map[string]any{"scimLocksSiteAccess": true}, 204)
	if rd := sim.Readings(); rd.EmailMatch != EmailMatchInsensitive || !rd.SCIMLocksSiteAccess {
		t.Errorf("readings %+v", rd)
	}
	status("PUT", "/readings", map[string]any{"emailMatch": "fuzzy"}, 400)
	status("PUT", "/readings", map[string]any{"emailMatsch": "exact"}, 400)
	status("PUT", "/readings", map[string]any{"emailMatch": "exact"}, 204) // the default by name
	if b := status("GET", "/readings", nil, 200); strings.Contains(string(b), "emailMatch") || !strings.Contains(string(b), "scimLocksSiteAccess") {
		t.Errorf("GET readings %s", b)
	}

	b := status("GET", "/workspace", nil, 200)
	var ws WorkspaceSnapshot
	_ = json.Unmarshal(b, &ws)
	if ws.Plan != PlanEnterprise || len(ws.Members) != 6 || len(ws.Invites) != 1 || len(ws.CustomRoles) != 1 || len(ws.Sites) != 2 || !ws.Members[0].SCIMManaged {
		t.Fatalf("workspace %s", b)
	}
	if strings.Contains(string(b), DemoWorkspaceToken) {
		t.Fatal("the workspace snapshot leaks a token")
	}
	b = status("POST", "/workspace/members", map[string]any{"email": "new.owner@example.com", "role": "owner", "siteRole": "site_manager"}, 201)
	var m webflowdata.WorkspaceMember
	_ = json.Unmarshal(b, &m)
	status("POST", "/workspace/members", map[string]any{"email": "new.owner@example.com", "role": "owner"}, 400)
	status("POST", "/workspace/members", map[string]any{"email": "x@example.com", "role": "boss"}, 400)
	status("PUT", "/workspace/members/"+DemoDesignerMemberID+"/role", map[string]any{"role": "member", "siteRole": "limited_designer"}, 204)
	if mm, _ := sim.MemberByEmail("waylon.dalton@example.com"); mm.Roles.Site != "limited_designer" {
		t.Errorf("out-of-band role: %+v", mm.Roles)
	}
	status("PUT", "/workspace/members/"+missing+"/role", map[string]any{"role": "member", "siteRole": "designer"}, 400)
	status("DELETE", "/workspace/members/"+m.ID, nil, 204)
	status("DELETE", "/workspace/members/"+m.ID, nil, 404)
	status("PUT", "/workspace/invites/"+DemoInviteID, map[string]any{"status": "expired"}, 204)
	status("PUT", "/workspace/invites/"+DemoInviteID, map[string]any{"status": "gone"}, 400)
	status("POST", "/workspace/invites/"+DemoInviteID+"/accept", nil, 409)
	status("PUT", "/workspace/invites/"+DemoInviteID, map[string]any{"status": "pending"}, 204)
	b = status("POST", "/workspace/invites/sam.okafor@example.com/accept", nil, 200)
	if !strings.Contains(string(b), "sam.okafor@example.com") {
		t.Errorf("accept by address: %s", b)
	}
	status("PUT", "/sites/"+DemoOtherSiteID+"/members/"+DemoDesignerMemberID, map[string]any{"siteRole": "viewer"}, 204)
	if r, ok := siteRole(sim, DemoOtherSiteID, DemoDesignerMemberID); r != "viewer" || !ok {
		t.Errorf("out-of-band site role %q", r)
	}
	status("DELETE", "/sites/"+DemoOtherSiteID+"/members/"+DemoDesignerMemberID, nil, 204)
	status("PUT", "/sites/"+DemoOtherSiteID+"/access", map[string]any{"access": "open"}, 204)
	status("PUT", "/sites/"+DemoOtherSiteID+"/access", map[string]any{"access": "ajar"}, 400)
	if r, ok := siteRole(sim, DemoOtherSiteID, DemoReviewerMemberID); r != "reviewer" || !ok {
		t.Errorf("open site: %q %v", r, ok)
	}
	status("PUT", "/workspace", map[string]any{"plan": "core", "seats": map[string]any{"full": 2}, "seatModel": "legacy"}, 204)
	if resp, _ := call(t, srv, "GET", wsPath, wsTok, nil); resp.StatusCode != 403 {
		t.Errorf("core plan: %d", resp.StatusCode)
	}
	status("PUT", "/workspace", map[string]any{"plan": "enterprise"}, 204)
	if l := listWS(t, srv, "?limit=1"); l.Members[0].Roles.Site != "" {
		t.Errorf("legacy seats show no roles.site: %+v", l.Members[0])
	}
	status("PUT", "/workspace", map[string]any{"seatModel": "floating"}, 400)
	status("POST", "/workspace/item-faults", map[string]any{"id": DemoDesignerMemberID, "count": 2}, 204)
	status("POST", "/workspace/item-faults", map[string]any{"count": 2}, 400)
	for range 2 {
		if _, a, _ := bulkCall(t, srv, "POST", map[string]any{"memberIds": []string{DemoDesignerMemberID}, "role": "member", "defaultSiteRole": "marketer"}); outcome(a.Results[0]) != "failed:internal_error" {
			t.Errorf("item fault: %+v", a.Results)
		}
	}
	call(t, srv, "POST", wsPath, wsTok, map[string]any{"email": "e@example.com", "workspaceRole": "reviewer", "defaultSiteRole": "reviewer"})
	if b := status("GET", "/workspace/invite-emails", nil, 200); !strings.Contains(string(b), "e@example.com") {
		t.Errorf("invite emails %s", b)
	}
}

func TestEnterpriseSeed(t *testing.T) {
	good := func() Seed {
		return Seed{
			Workspace: SeedWorkspace{
				CustomRoles: []SeedCustomRole{{Name: "Editor+"}},
				Members:     []SeedMember{{Email: "a@example.com", Role: "member", SiteRole: "designer", Sites: []SeedSiteGrant{{SiteID: "5f0000000000000000000001", SiteRole: "marketer"}}}},
				Invites:     []SeedInvite{{Email: "b@example.com", Role: "reviewer", DefaultSiteRole: "reviewer"}},
			},
			Sites: []SeedSite{{ID: "5f0000000000000000000001", DisplayName: "New", Access: "open"}},
		}
	}
	tests := []struct {
		name   string
		change func(*Seed)
		err    string
	}{
		{"valid", func(*Seed) {}, ""},
		{"bad role", func(s *Seed) { s.Workspace.Members[0].Role = "boss" }, "unknown workspace role"},
		{"duplicate email", func(s *Seed) {
			s.Workspace.Members = append(s.Workspace.Members, SeedMember{Email: "A@example.com", Role: "member"})
		}, "duplicate email"},
		{"email of an existing member", func(s *Seed) { s.Workspace.Members[0].Email = "Waylon.Dalton@example.com" }, "duplicate email"},
		{"unknown site", func(s *Seed) { s.Workspace.Members[0].Sites[0].SiteID = missing }, "unknown site"},
		{"bad access", func(s *Seed) { s.Sites[0].Access = "ajar" }, "access must be"},
		{"unknown custom role", func(s *Seed) { s.Workspace.Members[0].SiteRole = "custom" }, "custom site role"},
		{"bad invite status", func(s *Seed) { s.Workspace.Invites[0].Status = "accepted" }, "unknown status"},
		{"invite id clashes with a member id", func(s *Seed) { s.Workspace.Invites[0].ID = DemoDesignerMemberID }, "duplicate id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, _ := newEnt(t, Options{})
			before := sim.Workspace()
			seed := good()
			tc.change(&seed)
			err := sim.LoadSeed(seed)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				m, ok := sim.MemberByEmail("a@example.com")
				if r, _ := siteRole(sim, "5f0000000000000000000001", DemoReviewerMemberID); !ok || r != "reviewer" || m.Roles.Site != "designer" {
					t.Errorf("seeded: %+v; open site role %q", m, r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			after := sim.Workspace()
			if len(after.Members) != len(before.Members) || len(after.Invites) != len(before.Invites) || len(after.Sites) != len(before.Sites) || len(after.CustomRoles) != len(before.CustomRoles) {
				t.Error("a bad seed must change nothing")
			}
		})
	}
	// The YAML form.
	seed, err := ParseSeed([]byte(`
workspace:
  plan: enterprise
  seats: {full: 5}
  customRoles: [{id: 72fa5e47f6b8256f4641c5ff, name: Copywriter, clientEligible: true}]
  members:
    - {email: y@example.com, role: member, siteRole: custom, siteRoleId: 72fa5e47f6b8256f4641c5ff}
  invites:
    - {email: z@example.com, role: client, defaultSiteRole: content_editor, sites: [580e63e98c9a982ac9b8b741]}
tokens:
  - {label: ws, token: t, workspace: true, scopes: [workspace_members:read]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim := New(Options{})
	defer sim.Close()
	if err := sim.LoadSeed(DemoSeed()); err != nil {
		t.Fatal(err)
	}
	if err := sim.LoadSeed(seed); err != nil {
		t.Fatal(err)
	}
	if m, ok := sim.MemberByEmail("y@example.com"); !ok || m.SiteRoleID != "72fa5e47f6b8256f4641c5ff" {
		t.Errorf("yaml member %+v", m)
	}
}
