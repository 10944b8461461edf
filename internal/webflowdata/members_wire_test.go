package webflowdata

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// The reference's literal examples decode into the client's types, with
// their artifacts read the safe way.
func TestEnterpriseWireExamples(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile("webflowsim/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var wl WorkspaceMemberList
	if err := json.Unmarshal(read("workspace_members.json"), &wl); err != nil {
		t.Fatal(err)
	}
	if len(wl.Members) != 2 || wl.Members[0].AddedOn.IsZero() || !wl.Members[1].AddedOn.IsZero() || wl.Invites[0].DefaultSiteRole != SiteRoleSiteManager || wl.Pagination.Limit != 50 || wl.Pagination.Next() != "" {
		t.Errorf("workspace list %+v", wl)
	}
	var sl SiteMemberList
	if err := json.Unmarshal(read("site_members.json"), &sl); err != nil {
		t.Fatal(err)
	}
	if sl.Members[0].Roles.CustomSiteRoleID() != "" || sl.Members[1].Roles.Workspace != WorkspaceRoleAdmin {
		t.Errorf("siteRoleId on a non-custom role is an artifact: %+v", sl.Members)
	}
	var br BulkResult
	if err := json.Unmarshal(read("bulk_update.json"), &br); err != nil {
		t.Fatal(err)
	}
	ok, _ := br.Member("62fa5e47f6b8256f4641c5bd")
	inv, _ := br.Invite("63fa5e47f6b8256f4641c5bf")
	bad, _ := br.Member("62fa5e47f6b8256f4641c5be")
	if ok.Err() != nil || inv.Err() != nil {
		t.Errorf("an updated item carrying an error object is a success: %v %v", ok.Err(), inv.Err())
	}
	if !errors.Is(bad.Err(), ErrMemberManagedBySCIM) || br.Summary.Updated != 2 || br.Summary.Failed != 1 {
		t.Errorf("failed item %v, summary %+v", bad.Err(), br.Summary)
	}
	if _, found := br.Invite("62fa5e47f6b8256f4641c5bd"); found {
		t.Error("a member id is not an invite id")
	}
	for _, tc := range []struct{ body, want string }{
		{`{"limit":50}`, ""},
		{`{"limit":50,"nextCursor":null}`, ""},
		{`{"limit":50,"nextCursor":"abc"}`, "abc"},
	} {
		var p CursorPage
		if err := json.Unmarshal([]byte(tc.body), &p); err != nil || p.Next() != tc.want {
			t.Errorf("%s: %q %v", tc.body, p.Next(), err)
		}
	}
	var res InviteMemberResult
	if err := json.Unmarshal(read("invite_active.json"), &res); err != nil || res.Status != InviteResultActive || res.Member == nil || res.Invite != nil {
		t.Errorf("invite answer %+v %v", res, err)
	}
}

func TestAllowedRolePairs(t *testing.T) {
	roles := []string{WorkspaceRoleOwner, WorkspaceRoleAdmin, WorkspaceRoleMember, WorkspaceRoleGuest, WorkspaceRoleReviewer, WorkspaceRoleClient}
	sites := []string{SiteRoleSiteManager, SiteRoleDesigner, SiteRoleBranchDesigner, SiteRoleLimitedDesigner, SiteRoleMarketer, SiteRoleContentEditor, SiteRoleReviewer, SiteRoleViewer, SiteRoleCustom}
	allowed := map[string]bool{ // reference §2.2, verbatim
		"admin/site_manager": true, "member/site_manager": true, "member/designer": true, "member/marketer": true,
		"member/content_editor": true, "member/custom": true, "reviewer/reviewer": true,
	}
	for _, r := range roles {
		for _, s := range sites {
			if got := AllowedRolePair(r, s); got != allowed[r+"/"+s] {
				t.Errorf("AllowedRolePair(%s, %s) = %v", r, s, got)
			}
		}
	}
}
