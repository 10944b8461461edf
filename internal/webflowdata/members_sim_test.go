package webflowdata_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	wf "github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

const (
	ws        = webflowsim.DemoWorkspaceID
	otherSite = webflowsim.DemoOtherSiteID
	noSuchID  = "0123456789abcdef01234567"
)

// auditLog records the Auditor's events.
type auditLog struct {
	mu sync.Mutex
	ev []wf.AuditEvent
}

func (a *auditLog) audit(_ context.Context, e wf.AuditEvent) {
	a.mu.Lock()
	a.ev = append(a.ev, e)
	a.mu.Unlock()
}

func (a *auditLog) actions() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for _, e := range a.ev {
		s = append(s, e.Action)
	}
	return strings.Join(s, ",")
}

// The lifecycle works under both readings of the success codes and the
// bulk-remove words: the client accepts any 2xx and reads outcomes as
// "failed or not".
func TestSimWorkspaceMemberLifecycle(t *testing.T) {
	for _, rd := range []webflowsim.Readings{{}, {SuccessCodes: webflowsim.SuccessCodesOK, BulkRemoveOutcome: webflowsim.BulkRemoveCancelled, BulkSuccessError: webflowsim.BulkSuccessErrorSchema}} {
		t.Run(fmt.Sprintf("%+v", rd), func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, webflowsim.Options{Readings: rd})
			cc, al := &callCounter{}, &auditLog{}
			c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Observer: cc, Audit: al.audit})

			req := wf.InviteMemberRequest{Email: "Ann+wf@example.com", WorkspaceRole: wf.WorkspaceRoleMember, DefaultSiteRole: wf.SiteRoleDesigner}
			res, err := c.InviteWorkspaceMember(ctx, ws, req)
			if err != nil || res.Status != wf.InviteResultInvited || res.Invite == nil || res.Invite.Status != wf.InviteStatusPending {
				t.Fatalf("invite: %+v %v", res, err)
			}
			again, err := c.InviteWorkspaceMember(ctx, ws, req)
			if err != nil || again.Invite == nil || again.Invite.ID != res.Invite.ID {
				t.Fatalf("repeat invite must answer the same pending invite: %+v %v", again, err)
			}
			if n := h.sim.WorkspaceInvitesTo("ann+wf@example.com"); n != 1 {
				t.Errorf("%d invitation emails", n)
			}
			m, invites, err := c.FindWorkspaceMember(ctx, ws, "Ann+wf@example.com")
			if err != nil || m != nil || len(invites) != 1 || invites[0].ID != res.Invite.ID {
				t.Fatalf("find invitee (a + in the address): %v %+v %v", m, invites, err)
			}
			if _, err := h.sim.AcceptInvite(res.Invite.ID, "Ann", "Lee"); err != nil {
				t.Fatal(err)
			}
			m, invites, err = c.FindWorkspaceMember(ctx, ws, "Ann+wf@example.com")
			if err != nil || m == nil || m.ID == res.Invite.ID || len(invites) != 0 || m.Roles.Site != wf.SiteRoleDesigner {
				t.Fatalf("find member after acceptance: %+v %+v %v", m, invites, err)
			}
			up, err := c.UpdateWorkspaceMemberRole(ctx, ws, m.ID, wf.UpdateMemberRoleRequest{Role: wf.WorkspaceRoleMember, DefaultSiteRole: wf.SiteRoleMarketer})
			if err != nil || up.Roles.Site != wf.SiteRoleMarketer {
				t.Fatalf("update role: %+v %v", up, err)
			}
			sm, err := c.SetSiteRole(ctx, otherSite, m.ID, wf.SiteRoleContentEditor, "")
			if err != nil || sm.Roles.Site != wf.SiteRoleContentEditor {
				t.Fatalf("grant: %+v %v", sm, err)
			}
			if err := c.RevokeSiteAccess(ctx, otherSite, m.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.RevokeSiteAccess(ctx, otherSite, m.ID); err != nil {
				t.Errorf("revoke is idempotent: %v", err)
			}
			if err := c.RemoveWorkspaceMember(ctx, ws, m.ID); err != nil {
				t.Fatal(err)
			}
			err = c.RemoveWorkspaceMember(ctx, ws, m.ID)
			if !errors.Is(err, wf.ErrWorkspaceMemberNotFound) || !wf.IsNotFound(err) || !wf.IsPermanentRoleError(err) {
				t.Errorf("second remove: %v", err)
			}
			// Cancel the demo's pending invite: the only way is bulk remove.
			br, err := c.BulkRemoveWorkspaceMembers(ctx, ws, wf.BulkRemoveMembersRequest{InviteIDs: []string{webflowsim.DemoInviteID}})
			if err != nil {
				t.Fatal(err)
			}
			if it, ok := br.Invite(webflowsim.DemoInviteID); !ok || it.Failed() || it.Err() != nil {
				t.Errorf("cancel invite: %+v %v", it, ok)
			}
			if _, ok := h.sim.Invite(webflowsim.DemoInviteID); ok {
				t.Error("invite still there")
			}
			want := "member_invite,member_invite,member_role,site_grant,site_revoke,site_revoke,member_remove,members_bulk_remove"
			if got := al.actions(); got != want {
				t.Errorf("audit %s, want %s", got, want)
			}
			if n := cc.get(wf.EPListWorkspaceMembers + " 200"); n != 2 {
				t.Errorf("a lookup by email is one call: %d for two", n)
			}
		})
	}
}

// The cursor helpers walk until nextCursor is absent, 100 per call, and a
// lookup by email costs one call.
func TestSimMemberCursorHelpers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	for i := range 250 {
		if _, err := h.sim.AddMember(webflowsim.SeedMember{Email: fmt.Sprintf("m%03d@example.com", i), Role: "member", SiteRole: "content_editor",
			Sites: []webflowsim.SeedSiteGrant{{SiteID: site, SiteRole: "content_editor"}}}); err != nil {
			t.Fatal(err)
		}
	}
	cc := &callCounter{}
	c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Observer: cc})
	for i := range 130 {
		if _, err := c.InviteWorkspaceMember(ctx, ws, wf.InviteMemberRequest{Email: fmt.Sprintf("i%03d@example.com", i), WorkspaceRole: "reviewer", DefaultSiteRole: "reviewer"}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.ListAllWorkspaceMembers(ctx, ws, wf.MemberListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap := h.sim.Workspace()
	if len(r.Members) != len(snap.Members) || len(r.Invites) != len(snap.Invites) || len(r.Members) != 256 || len(r.Invites) != 131 {
		t.Fatalf("%d members, %d invites; simulator has %d, %d", len(r.Members), len(r.Invites), len(snap.Members), len(snap.Invites))
	}
	if n := cc.get(wf.EPListWorkspaceMembers + " 200"); n != 3 {
		t.Errorf("256 members and 131 invites at 100 per list per page: 3 calls, took %d", n)
	}
	reviewers, err := c.ListAllWorkspaceMembers(ctx, ws, wf.MemberListOptions{Roles: []string{"reviewer", "admin"}})
	if err != nil || len(reviewers.Members) != 2 || len(reviewers.Invites) != 130 {
		t.Errorf("roles filter: %d members, %d invites, %v", len(reviewers.Members), len(reviewers.Invites), err)
	}
	members, err := c.ListAllSiteMembers(ctx, site, wf.MemberListOptions{})
	if err != nil || len(members) != len(snap.Sites[0].Members) {
		t.Errorf("site members: %d, want %d: %v", len(members), len(snap.Sites[0].Members), err)
	}
	before := cc.get(wf.EPListWorkspaceMembers + " 200")
	m, _, err := c.FindWorkspaceMember(ctx, ws, "m201@example.com")
	if err != nil || m == nil || m.Email != "m201@example.com" || cc.get(wf.EPListWorkspaceMembers+" 200") != before+1 {
		t.Errorf("find by email: %+v %v", m, err)
	}
	page, err := c.ListWorkspaceMembers(ctx, ws, wf.MemberListOptions{Limit: 7})
	if err != nil || len(page.Members) != 7 || len(page.Invites) != 7 || page.Pagination.Limit != 7 || page.Pagination.Next() == "" {
		t.Errorf("one page: %+v %v", page.Pagination, err)
	}
}

// Bulk results are read by type and id: Webflow de-duplicates, and one id
// can be both a member and an invite id.
func TestSimBulkResultsByID(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	cc := &countingObserver{}
	c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Observer: cc})
	res, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{
		MemberIDs: []string{webflowsim.DemoDesignerMemberID, webflowsim.DemoOwnerMemberID, webflowsim.DemoGuestMemberID, webflowsim.DemoDesignerMemberID, noSuchID},
		InviteIDs: []string{webflowsim.DemoInviteID, webflowsim.DemoDesignerMemberID},
		Role:      wf.WorkspaceRoleMember, DefaultSiteRole: wf.SiteRoleMarketer,
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(get func(string) (wf.BulkItemResult, bool), id string, want error) {
		t.Helper()
		it, ok := get(id)
		if !ok {
			t.Fatalf("no result for %s", id)
		}
		if err := it.Err(); (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s %s: %v, want %v", it.Type, id, err, want)
		}
	}
	check(res.Member, webflowsim.DemoDesignerMemberID, nil)
	check(res.Member, webflowsim.DemoOwnerMemberID, wf.ErrMemberManagedBySCIM)
	check(res.Member, webflowsim.DemoGuestMemberID, wf.ErrCannotUpdateUserRole)
	check(res.Member, noSuchID, wf.ErrWorkspaceMemberNotFound)
	check(res.Invite, webflowsim.DemoInviteID, nil)
	check(res.Invite, webflowsim.DemoDesignerMemberID, wf.ErrWorkspaceInviteNotFound)
	if len(res.Failures()) != 4 || res.Summary.Updated != 2 || res.Summary.Failed != 4 {
		t.Errorf("failures %v, summary %+v", res.Failures(), res.Summary)
	}
	if !wf.IsManagedBySCIM(func() error { it, _ := res.Member(webflowsim.DemoOwnerMemberID); return it.Err() }()) {
		t.Error("IsManagedBySCIM on a bulk item")
	}
	if cc.count() != 1 {
		t.Errorf("%d calls", cc.count())
	}

	// What Webflow always refuses costs no call.
	var ids []string
	for i := range 101 {
		ids = append(ids, fmt.Sprintf("%024x", i+1))
	}
	cc.reset()
	if _, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{MemberIDs: ids, Role: "member", DefaultSiteRole: "designer"}); err == nil {
		t.Error("101 ids must be refused")
	}
	if _, err := c.BulkRemoveWorkspaceMembers(ctx, ws, wf.BulkRemoveMembersRequest{MemberIDs: ids[:60], InviteIDs: ids[:41]}); err == nil {
		t.Error("101 ids (both lists) must be refused")
	}
	if _, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{MemberIDs: ids[:1], Role: "admin", DefaultSiteRole: "designer"}); !errors.Is(err, wf.ErrInvalidSiteRole) {
		t.Errorf("bad pair: %v", err)
	}
	if _, err := c.UpdateWorkspaceMemberRole(ctx, ws, ids[0], wf.UpdateMemberRoleRequest{Role: "owner", DefaultSiteRole: "site_manager"}); !errors.Is(err, wf.ErrInvalidWorkspaceRole) {
		t.Errorf("owner: %v", err)
	}
	if _, err := c.UpdateWorkspaceMemberRole(ctx, ws, ids[0], wf.UpdateMemberRoleRequest{Role: "member", DefaultSiteRole: "custom"}); !errors.Is(err, wf.ErrInvalidSiteRole) {
		t.Errorf("custom without id: %v", err)
	}
	dup := append(append([]string{}, ids[:100]...), ids[:100]...)
	if _, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{MemberIDs: dup, Role: "member", DefaultSiteRole: "designer"}); err != nil {
		t.Errorf("200 ids, 100 distinct, are one call: %v", err)
	}
	if cc.count() != 1 {
		t.Errorf("locally refused calls reached Webflow: %d calls", cc.count())
	}
}

// Every Enterprise error code has its typed error, on single calls and
// bulk items; the SCIM lock is recognised under both readings of the
// single-item codes.
func TestSimEnterpriseTypedErrors(t *testing.T) {
	ctx := context.Background()
	for _, codes := range []string{"", webflowsim.ErrorCodesGeneric} {
		t.Run("errorCodes "+codes, func(t *testing.T) {
			h := newHarness(t, webflowsim.Options{Readings: webflowsim.Readings{ErrorCodes: codes}})
			c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Retry: wf.NoRetry})
			specific := codes == ""
			tests := []struct {
				name     string
				call     func() error
				want     error // typed error, nil: none
				generic  bool  // the typed error holds under the generic reading too
				predTrue func(error) bool
			}{
				{"SCIM lock on PATCH", func() error {
					_, err := c.UpdateWorkspaceMemberRole(ctx, ws, webflowsim.DemoOwnerMemberID, wf.UpdateMemberRoleRequest{Role: "member", DefaultSiteRole: "designer"})
					return err
				}, wf.ErrMemberManagedBySCIM, true, wf.IsManagedBySCIM},
				{"SCIM lock on remove", func() error { return c.RemoveWorkspaceMember(ctx, ws, webflowsim.DemoOwnerMemberID) }, wf.ErrMemberManagedBySCIM, true, wf.IsManagedBySCIM},
				{"already has access", func() error {
					_, err := c.GrantSiteAccess(ctx, site, wf.GrantSiteAccessRequest{MemberID: webflowsim.DemoDesignerMemberID, SiteRole: "designer"})
					return err
				}, wf.ErrMemberAlreadyHasAccess, true, wf.IsMemberAlreadyHasAccess},
				{"cannot update a guest", func() error {
					_, err := c.UpdateWorkspaceMemberRole(ctx, ws, webflowsim.DemoGuestMemberID, wf.UpdateMemberRoleRequest{Role: "member", DefaultSiteRole: "designer"})
					return err
				}, wf.ErrCannotUpdateUserRole, false, wf.IsPermanentRoleError},
				{"invalid site role", func() error {
					_, err := c.GrantSiteAccess(ctx, site, wf.GrantSiteAccessRequest{MemberID: webflowsim.DemoReviewerMemberID, SiteRole: "designer"})
					return err
				}, wf.ErrInvalidSiteRole, false, wf.IsPermanentRoleError},
				{"invalid workspace role", func() error {
					_, err := c.InviteWorkspaceMember(ctx, ws, wf.InviteMemberRequest{Email: "a@example.com", WorkspaceRole: "admin", SiteAccess: []wf.SiteAccessEntry{{SiteID: site, SiteRole: "site_manager"}}})
					return err
				}, wf.ErrInvalidWorkspaceRole, false, wf.IsPermanentRoleError},
				{"member not found", func() error {
					_, err := c.UpdateWorkspaceMemberRole(ctx, ws, noSuchID, wf.UpdateMemberRoleRequest{Role: "member", DefaultSiteRole: "designer"})
					return err
				}, wf.ErrWorkspaceMemberNotFound, false, wf.IsNotFound},
				{"not a workspace token", func() error {
					c2 := h.client(t, webflowsim.DemoSiteToken, wf.Config{})
					_, err := c2.ListSiteMembers(ctx, site, wf.MemberListOptions{})
					return err
				}, nil, false, wf.IsUnauthorized},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					err := tc.call()
					if err == nil {
						t.Fatal("no error")
					}
					if _, ok := wf.AsAPIError(err); !ok {
						t.Fatalf("not an APIError: %v", err)
					}
					if tc.want != nil && (specific || tc.generic) && !errors.Is(err, tc.want) {
						t.Errorf("errors.Is(%v, %v) = false", err, tc.want)
					}
					if !tc.predTrue(err) && (specific || tc.generic || tc.want == nil) {
						t.Errorf("predicate false for %v", err)
					}
					if wf.Retryable(err) {
						t.Errorf("a 4xx is not retryable: %v", err)
					}
				})
			}
			// not_enterprise_plan_workspace is documented: the same under both.
			if err := h.sim.ConfigureWorkspace(webflowsim.WorkspaceSettings{Plan: "core"}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListWorkspaceMembers(ctx, ws, wf.MemberListOptions{}); !errors.Is(err, wf.ErrNotEnterpriseWorkspace) {
				t.Errorf("core plan: %v", err)
			}
		})
	}
}

// SetSiteRole grants, and falls through to PATCH on
// member_already_has_access: one call for new access, two for a change,
// also on a site open to the workspace (where the grant is refused).
func TestSimSetSiteRole(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	if err := h.sim.SetSiteAccessDefault(otherSite, webflowsim.SiteAccessOpen); err != nil {
		t.Fatal(err)
	}
	cc := &countingObserver{}
	c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Observer: cc})
	tests := []struct {
		name    string
		site    string
		member  string
		role    string
		roleID  string
		calls   int
		wantErr error
	}{
		{"new access", otherSite, webflowsim.DemoGuestMemberID, "designer", "", 1, nil},
		{"change", site, webflowsim.DemoDesignerMemberID, "marketer", "", 2, nil},
		{"custom", site, webflowsim.DemoDesignerMemberID, "custom", webflowsim.DemoCustomRoleID, 2, nil},
		{"implicit access on an open site", otherSite, webflowsim.DemoReviewerMemberID, "reviewer", "", 2, nil},
		{"admin", site, webflowsim.DemoAdminMemberID, "designer", "", 2, wf.ErrCannotUpdateUserRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc.reset()
			sm, err := c.SetSiteRole(ctx, tc.site, tc.member, tc.role, tc.roleID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || sm.Roles.Site != tc.role || sm.Roles.CustomSiteRoleID() != tc.roleID {
				t.Fatalf("%+v %v", sm, err)
			}
			if cc.count() != tc.calls {
				t.Errorf("%d calls, want %d", cc.count(), tc.calls)
			}
			if tc.wantErr == nil {
				if r, id, implicit, ok := h.sim.SiteAccess(tc.site, tc.member); !ok || implicit || r != tc.role || id != tc.roleID {
					t.Errorf("simulator: %q %q implicit=%v ok=%v", r, id, implicit, ok)
				}
			}
		})
	}
	cc.reset()
	sm, err := c.UpdateSiteMemberRoleByEmail(ctx, site, "waylon.dalton@example.com", wf.UpdateSiteRoleRequest{SiteRole: "content_editor"})
	if err != nil || sm.ID != webflowsim.DemoDesignerMemberID || sm.Roles.Site != "content_editor" {
		t.Errorf("by email: %+v %v", sm, err)
	}
	if err := c.RevokeSiteAccessByEmail(ctx, site, "waylon.dalton@example.com"); err != nil {
		t.Errorf("revoke by email: %v", err)
	}
	if _, _, _, ok := h.sim.SiteAccess(site, webflowsim.DemoDesignerMemberID); ok {
		t.Error("revoke by email left access")
	}
}

// Retries follow the Users API's rules: idempotent calls are retried on
// 5xx and dropped connections; an invite and a grant are not (a blind
// retry could invite twice, or report a grant that worked as a conflict).
func TestSimEnterpriseFaults(t *testing.T) {
	ctx := context.Background()
	role := wf.UpdateMemberRoleRequest{Role: "member", DefaultSiteRole: "marketer"}
	tests := []struct {
		name      string
		fault     webflowsim.Fault
		call      func(c *wf.Client) error
		wantErr   func(error) bool
		wantCalls int
	}{
		{"503 on list is retried", webflowsim.Fault{Method: "GET", Path: "/v2/workspaces/*/members", Status: 503},
			func(c *wf.Client) error {
				_, err := c.ListWorkspaceMembers(ctx, ws, wf.MemberListOptions{})
				return err
			}, nil, 2},
		{"502 on PATCH role is retried", webflowsim.Fault{Method: "PATCH", Path: "/v2/workspaces/*/members/*", Status: 502},
			func(c *wf.Client) error {
				_, err := c.UpdateWorkspaceMemberRole(ctx, ws, webflowsim.DemoDesignerMemberID, role)
				return err
			}, nil, 2},
		{"500 on bulk update is retried", webflowsim.Fault{Method: "POST", Path: "/v2/workspaces/*/members/bulk", Status: 500},
			func(c *wf.Client) error {
				_, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{MemberIDs: []string{webflowsim.DemoDesignerMemberID}, Role: "member", DefaultSiteRole: "marketer"})
				return err
			}, nil, 2},
		{"500 on bulk remove is retried", webflowsim.Fault{Method: "DELETE", Path: "/v2/workspaces/*/members/bulk", Status: 500},
			func(c *wf.Client) error {
				_, err := c.BulkRemoveWorkspaceMembers(ctx, ws, wf.BulkRemoveMembersRequest{InviteIDs: []string{webflowsim.DemoInviteID}})
				return err
			}, nil, 2},
		{"503 on revoke is retried", webflowsim.Fault{Method: "DELETE", Path: "/v2/sites/*/members/*", Status: 503},
			func(c *wf.Client) error { return c.RevokeSiteAccess(ctx, site, webflowsim.DemoDesignerMemberID) }, nil, 2},
		{"500 on invite is not retried", webflowsim.Fault{Method: "POST", Path: "/v2/workspaces/*/members", Status: 500},
			func(c *wf.Client) error {
				_, err := c.InviteWorkspaceMember(ctx, ws, wf.InviteMemberRequest{Email: "f@example.com", WorkspaceRole: "member", DefaultSiteRole: "designer"})
				return err
			}, wf.IsAmbiguous, 1},
		{"dropped invite is ambiguous", webflowsim.Fault{Method: "POST", Path: "/v2/workspaces/*/members", Drop: true},
			func(c *wf.Client) error {
				_, err := c.InviteWorkspaceMember(ctx, ws, wf.InviteMemberRequest{Email: "g@example.com", WorkspaceRole: "member", DefaultSiteRole: "designer"})
				return err
			}, wf.IsAmbiguous, 1},
		{"500 on grant is not retried", webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/members", Status: 500},
			func(c *wf.Client) error {
				_, err := c.GrantSiteAccess(ctx, otherSite, wf.GrantSiteAccessRequest{MemberID: webflowsim.DemoDesignerMemberID, SiteRole: "designer"})
				return err
			}, wf.IsAmbiguous, 1},
		{"429 surfaces as rate limited", webflowsim.Fault{Path: "/v2/sites/*/members", Status: 429, RetryAfter: "3"},
			func(c *wf.Client) error { _, err := c.ListSiteMembers(ctx, site, wf.MemberListOptions{}); return err },
			func(err error) bool {
				e, _ := wf.AsAPIError(err)
				return wf.IsRateLimited(err) && e.RetryAfter == 3*time.Second
			}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, webflowsim.Options{})
			cc := &countingObserver{}
			c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{Observer: cc})
			if _, err := c.ListSiteMembers(ctx, site, wf.MemberListOptions{Limit: 1}); err != nil { // warm-up connection
				t.Fatal(err)
			}
			cc.reset()
			h.sim.InjectFault(tc.fault)
			err := tc.call(c)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("want success after retry, got %v", err)
			}
			if tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if cc.count() != tc.wantCalls {
				t.Errorf("%d HTTP attempts, want %d", cc.count(), tc.wantCalls)
			}
		})
	}

	// An invite whose answer was lost: the lookup finds it, so the caller
	// does not invite twice.
	t.Run("lost invite answer, then lookup", func(t *testing.T) {
		h := newHarness(t, webflowsim.Options{})
		c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{})
		h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: "/v2/workspaces/*/members", Status: 502, After: true})
		_, err := c.InviteWorkspaceMember(ctx, ws, wf.InviteMemberRequest{Email: "lost@example.com", WorkspaceRole: "member", DefaultSiteRole: "designer"})
		if !wf.IsAmbiguous(err) {
			t.Fatalf("want ambiguous, got %v", err)
		}
		m, invites, err := c.FindWorkspaceMember(ctx, ws, "lost@example.com")
		if err != nil || m != nil || len(invites) != 1 || h.sim.WorkspaceInvitesTo("lost@example.com") != 1 {
			t.Errorf("lookup after a lost answer: %+v %+v %v; %d emails", m, invites, err, h.sim.WorkspaceInvitesTo("lost@example.com"))
		}
	})

	// A per-item internal_error is the one retryable item failure.
	t.Run("per-item internal_error", func(t *testing.T) {
		h := newHarness(t, webflowsim.Options{})
		c := h.client(t, webflowsim.DemoWorkspaceToken, wf.Config{})
		h.sim.InjectBulkItemFault(webflowsim.DemoDesignerMemberID, 1)
		req := wf.BulkUpdateMembersRequest{MemberIDs: []string{webflowsim.DemoDesignerMemberID, webflowsim.DemoReviewerMemberID}, Role: "reviewer", DefaultSiteRole: "reviewer"}
		res, err := c.BulkUpdateWorkspaceMemberRoles(ctx, ws, req)
		if err != nil {
			t.Fatal(err)
		}
		it, _ := res.Member(webflowsim.DemoDesignerMemberID)
		var ie *wf.ItemError
		if !errors.As(it.Err(), &ie) || !ie.Retryable() || wf.IsPermanentRoleError(ie) {
			t.Fatalf("item: %+v", it)
		}
		res, err = c.BulkUpdateWorkspaceMemberRoles(ctx, ws, wf.BulkUpdateMembersRequest{MemberIDs: []string{ie.ID}, Role: req.Role, DefaultSiteRole: req.DefaultSiteRole})
		if it, _ := res.Member(webflowsim.DemoDesignerMemberID); err != nil || it.Failed() {
			t.Errorf("retry of the item: %+v %v", it, err)
		}
	})
}

// A token of another workspace-level kind, a site token, reaches these
// endpoints only under the siteTokens "allowed" reading, and only for its
// own sites.
func TestSimSiteTokenReadings(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	if err := h.sim.LoadSeed(webflowsim.Seed{Tokens: []webflowsim.SeedToken{{Label: "st", Token: "st", Scopes: []string{"site_access:read"}, Sites: []string{site}, GrantType: "site_token"}}}); err != nil {
		t.Fatal(err)
	}
	c := h.client(t, "st", wf.Config{})
	if _, err := c.ListAllSiteMembers(ctx, site, wf.MemberListOptions{}); !wf.IsUnauthorized(err) {
		t.Errorf("site token, default reading: %v", err)
	}
	if err := h.sim.SetReadings(webflowsim.Readings{SiteTokens: webflowsim.SiteTokensAllowed}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListAllSiteMembers(ctx, site, wf.MemberListOptions{}); err != nil {
		t.Errorf("site token, allowed: %v", err)
	}
	if _, err := c.ListAllSiteMembers(ctx, otherSite, wf.MemberListOptions{}); !wf.IsUnauthorized(err) {
		t.Errorf("site token on another site: %v", err)
	}
}
