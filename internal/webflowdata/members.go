package webflowdata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The Enterprise Workspace Members and Site Access APIs
// (webflow-enterprise-api.md §3-4). They need a workspace token with
// workspace_members:read/write and site_access:read/write on an Enterprise
// workspace.

// Endpoint templates of the Enterprise APIs.
const (
	EPListWorkspaceMembers       = "GET /workspaces/{workspace_id}/members"
	EPInviteWorkspaceMember      = "POST /workspaces/{workspace_id}/members"
	EPUpdateWorkspaceMember      = "PATCH /workspaces/{workspace_id}/members/{member_id}"
	EPRemoveWorkspaceMember      = "DELETE /workspaces/{workspace_id}/members/{member_id}"
	EPBulkUpdateWorkspaceMembers = "POST /workspaces/{workspace_id}/members/bulk"
	EPBulkRemoveWorkspaceMembers = "DELETE /workspaces/{workspace_id}/members/bulk"
	EPListSiteMembers            = "GET /sites/{site_id}/members"
	EPGrantSiteAccess            = "POST /sites/{site_id}/members"
	EPUpdateSiteMember           = "PATCH /sites/{site_id}/members/{member_id}"
	EPUpdateSiteMemberByEmail    = "PATCH /sites/{site_id}/members?email"
	EPRevokeSiteAccess           = "DELETE /sites/{site_id}/members/{member_id}"
	EPRevokeSiteAccessByEmail    = "DELETE /sites/{site_id}/members?email"
)

// maxMemberPages bounds a cursor walk (100 per page: 100,000 members and
// as many invites), so a server that never ends a cursor cannot loop us.
const maxMemberPages = 1000

// MemberListOptions selects one page of a cursor list. Limit 0 means
// MemberPageLimit (100), never Webflow's default of 50. Email is sent as
// given (whether Webflow matches it case-insensitively is unknown, so pass
// the address as Webflow holds it when you know it). Roles filters the
// workspace list (sent comma-separated, the documented form).
type MemberListOptions struct {
	Limit  int
	Cursor string
	Email  string
	Roles  []string
}

func (o MemberListOptions) values() url.Values {
	q := url.Values{}
	limit := o.Limit
	if limit <= 0 || limit > MemberPageLimit {
		limit = MemberPageLimit
	}
	q.Set("limit", strconv.Itoa(limit))
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	if o.Email != "" {
		q.Set("email", o.Email) // Encode sends a literal + as %2B, as Webflow needs
	}
	if len(o.Roles) > 0 {
		q.Set("roles", strings.Join(o.Roles, ","))
	}
	return q
}

func wsPath(workspaceID string) string { return "/workspaces/" + seg(workspaceID) + "/members" }

func sitePath(siteID string) string { return "/sites/" + seg(siteID) + "/members" }

// ListWorkspaceMembers returns one page: up to Limit members and up to
// Limit invites, with one cursor for both.
func (c *Client) ListWorkspaceMembers(ctx context.Context, workspaceID string, opt MemberListOptions) (*WorkspaceMemberList, error) {
	if err := needID("workspace id", workspaceID); err != nil {
		return nil, err
	}
	var out WorkspaceMemberList
	if err := c.do(ctx, request{call: get(EPListWorkspaceMembers), path: wsPath(workspaceID), query: opt.values(), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// WorkspaceRoster is every member and invite of a workspace (or those a
// filter selected).
type WorkspaceRoster struct {
	Members []WorkspaceMember
	Invites []WorkspaceInvite
}

// ListAllWorkspaceMembers walks the cursor until Webflow reports no next
// page (nextCursor absent or null, even when one list is already empty),
// 100 members and 100 invites per call. opt.Cursor is ignored. Ids seen
// twice are kept once; a cursor that repeats ends the walk with an error.
func (c *Client) ListAllWorkspaceMembers(ctx context.Context, workspaceID string, opt MemberListOptions) (*WorkspaceRoster, error) {
	out := &WorkspaceRoster{}
	seenM, seenI := map[string]bool{}, map[string]bool{}
	err := walkCursor(func(cursor string) (string, error) {
		opt.Cursor = cursor
		page, err := c.ListWorkspaceMembers(ctx, workspaceID, opt)
		if err != nil {
			return "", err
		}
		for _, m := range page.Members {
			if !seenM[m.ID] {
				seenM[m.ID] = true
				out.Members = append(out.Members, m)
			}
		}
		for _, iv := range page.Invites {
			if !seenI[iv.ID] {
				seenI[iv.ID] = true
				out.Invites = append(out.Invites, iv)
			}
		}
		return page.Pagination.Next(), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkCursor calls page with "" and then each next cursor until one is
// empty, at most maxMemberPages times.
func walkCursor(page func(cursor string) (string, error)) error {
	seen := map[string]bool{}
	cursor := ""
	for range maxMemberPages {
		next, err := page(cursor)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("webflowdata: the cursor %q came back twice; stopping the listing", next)
		}
		seen[next] = true
		cursor = next
	}
	return fmt.Errorf("webflowdata: listing did not end after %d pages", maxMemberPages)
}

// FindWorkspaceMember looks an address up with the email filter: the
// member (nil if none) and the invites for it (any status). Results are
// also compared case-insensitively here, so a server that ignored the
// filter cannot hand back someone else.
func (c *Client) FindWorkspaceMember(ctx context.Context, workspaceID, email string) (*WorkspaceMember, []WorkspaceInvite, error) {
	if err := needID("email", email); err != nil {
		return nil, nil, err
	}
	r, err := c.ListAllWorkspaceMembers(ctx, workspaceID, MemberListOptions{Email: email})
	if err != nil {
		return nil, nil, err
	}
	var m *WorkspaceMember
	for i := range r.Members {
		if strings.EqualFold(r.Members[i].Email, email) {
			m = &r.Members[i]
			break
		}
	}
	var invites []WorkspaceInvite
	for _, iv := range r.Invites {
		if strings.EqualFold(iv.Email, email) {
			invites = append(invites, iv)
		}
	}
	return m, invites, nil
}

// checkPair refuses, without a call, a pair Webflow always refuses
// (§2.2): each such call would be a wasted upstream call.
func checkPair(role, siteRole, siteRoleID string) error {
	switch {
	case !IsWritableWorkspaceRole(role):
		return fmt.Errorf("webflowdata: %w: %q cannot be written (admin, member or reviewer)", ErrInvalidWorkspaceRole, role)
	case !IsWritableSiteRole(siteRole):
		return fmt.Errorf("webflowdata: %w: %q cannot be written", ErrInvalidSiteRole, siteRole)
	case !AllowedRolePair(role, siteRole):
		return fmt.Errorf("webflowdata: %w: %s cannot be paired with default site role %s", ErrInvalidSiteRole, role, siteRole)
	case (siteRole == SiteRoleCustom) != (siteRoleID != ""):
		return fmt.Errorf("webflowdata: %w: a custom Site Role id goes with site role custom, and only with it", ErrInvalidSiteRole)
	}
	return nil
}

// InviteWorkspaceMember invites an address (and makes Webflow send an
// invitation email), or answers the matching pending invite or active
// membership (Status tells which). Like InviteUser it is never retried
// blindly: after an ambiguous failure (IsAmbiguous), look the address up
// (FindWorkspaceMember) before inviting again; a repeat that matches is
// harmless, one with other roles is 409.
func (c *Client) InviteWorkspaceMember(ctx context.Context, workspaceID string, req InviteMemberRequest) (*InviteMemberResult, error) {
	if err := errors.Join(needID("workspace id", workspaceID), needID("email", req.Email), needID("workspace role", req.WorkspaceRole)); err != nil {
		return nil, err
	}
	if (req.DefaultSiteRole == "") == (len(req.SiteAccess) == 0) {
		return nil, errors.New("webflowdata: an invite takes either a default site role or a site list, not both")
	}
	role := req.WorkspaceRole + "/" + req.DefaultSiteRole
	if req.DefaultSiteRole != "" {
		if err := checkPair(req.WorkspaceRole, req.DefaultSiteRole, req.DefaultSiteRoleID); err != nil {
			return nil, err
		}
	} else {
		role = req.WorkspaceRole + "/" + req.SiteAccess[0].SiteRole
	}
	var out InviteMemberResult
	call := Call{Method: http.MethodPost, Endpoint: EPInviteWorkspaceMember, Idempotent: false}
	if err := c.do(ctx, request{call: call, path: wsPath(workspaceID), body: req, out: &out}); err != nil {
		return nil, err
	}
	id := ""
	switch {
	case out.Invite != nil:
		id = out.Invite.ID
	case out.Member != nil:
		id = out.Member.ID
	}
	c.auditEvent(ctx, AuditEvent{Action: "member_invite", Endpoint: EPInviteWorkspaceMember, WorkspaceID: workspaceID, UserID: id, Email: req.Email, Role: role})
	return &out, nil
}

// UpdateWorkspaceMemberRole sets a member's workspace role and default
// site role (both required; an invite's role changes only through bulk
// update). Setting a role is idempotent, so it is retried on 5xx.
func (c *Client) UpdateWorkspaceMemberRole(ctx context.Context, workspaceID, memberID string, req UpdateMemberRoleRequest) (*WorkspaceMember, error) {
	if err := errors.Join(needID("workspace id", workspaceID), needID("member id", memberID)); err != nil {
		return nil, err
	}
	if err := checkPair(req.Role, req.DefaultSiteRole, req.DefaultSiteRoleID); err != nil {
		return nil, err
	}
	var out WorkspaceMember
	call := Call{Method: http.MethodPatch, Endpoint: EPUpdateWorkspaceMember, Idempotent: true}
	if err := c.do(ctx, request{call: call, path: wsPath(workspaceID) + "/" + seg(memberID), body: req, out: &out}); err != nil {
		return nil, err
	}
	c.auditEvent(ctx, AuditEvent{Action: "member_role", Endpoint: EPUpdateWorkspaceMember, WorkspaceID: workspaceID, UserID: memberID, Role: req.Role + "/" + req.DefaultSiteRole})
	return &out, nil
}

// RemoveWorkspaceMember removes an active member (it cannot cancel an
// invite: use BulkRemoveWorkspaceMembers). A 404 (ErrWorkspaceMemberNotFound
// or IsNotFound) after a retry means already gone.
func (c *Client) RemoveWorkspaceMember(ctx context.Context, workspaceID, memberID string) error {
	if err := errors.Join(needID("workspace id", workspaceID), needID("member id", memberID)); err != nil {
		return err
	}
	if err := c.do(ctx, request{call: del(EPRemoveWorkspaceMember), path: wsPath(workspaceID) + "/" + seg(memberID)}); err != nil {
		return err
	}
	c.auditEvent(ctx, AuditEvent{Action: "member_remove", Endpoint: EPRemoveWorkspaceMember, WorkspaceID: workspaceID, UserID: memberID})
	return nil
}

// dedupIDs drops empty and repeated ids, keeping the first occurrence.
func dedupIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func checkBulkIDs(members, invites []string) error {
	n := len(members) + len(invites)
	if n == 0 {
		return errors.New("webflowdata: a bulk call needs at least one member or invite id")
	}
	if n > BulkMaxIDs {
		return fmt.Errorf("webflowdata: a bulk call takes at most %d ids, got %d: split the batch", BulkMaxIDs, n)
	}
	return nil
}

func succeededIDs(b *BulkResult) []string {
	var ids []string
	for _, r := range b.Results {
		if !r.Failed() {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// BulkUpdateWorkspaceMemberRoles sets one role pair on up to 100 members
// and invites (distinct ids, both lists together). Webflow answers 200 even
// when every item failed: read each id's result with Member or Invite and
// its Err. It is idempotent (the same roles again), so retried on 5xx.
func (c *Client) BulkUpdateWorkspaceMemberRoles(ctx context.Context, workspaceID string, req BulkUpdateMembersRequest) (*BulkResult, error) {
	if err := needID("workspace id", workspaceID); err != nil {
		return nil, err
	}
	req.MemberIDs, req.InviteIDs = dedupIDs(req.MemberIDs), dedupIDs(req.InviteIDs)
	if err := errors.Join(checkBulkIDs(req.MemberIDs, req.InviteIDs), checkPair(req.Role, req.DefaultSiteRole, req.DefaultSiteRoleID)); err != nil {
		return nil, err
	}
	var out BulkResult
	call := Call{Method: http.MethodPost, Endpoint: EPBulkUpdateWorkspaceMembers, Idempotent: true}
	if err := c.do(ctx, request{call: call, path: wsPath(workspaceID) + "/bulk", body: req, out: &out}); err != nil {
		return nil, err
	}
	if ids := succeededIDs(&out); len(ids) > 0 {
		c.auditEvent(ctx, AuditEvent{Action: "members_bulk_role", Endpoint: EPBulkUpdateWorkspaceMembers, WorkspaceID: workspaceID, Role: req.Role + "/" + req.DefaultSiteRole, IDs: ids})
	}
	return &out, nil
}

// BulkRemoveWorkspaceMembers removes up to 100 members and cancels
// invites (the only way to cancel one), both lists together. A 4xx means
// nothing was removed; a 200 reports each id (an outcome other than
// "failed" is done, whatever word Webflow uses). Retried on 5xx: a repeat
// reports the already-removed ids as not found, which means gone.
func (c *Client) BulkRemoveWorkspaceMembers(ctx context.Context, workspaceID string, req BulkRemoveMembersRequest) (*BulkResult, error) {
	if err := needID("workspace id", workspaceID); err != nil {
		return nil, err
	}
	req.MemberIDs, req.InviteIDs = dedupIDs(req.MemberIDs), dedupIDs(req.InviteIDs)
	if err := checkBulkIDs(req.MemberIDs, req.InviteIDs); err != nil {
		return nil, err
	}
	var out BulkResult
	if err := c.do(ctx, request{call: del(EPBulkRemoveWorkspaceMembers), path: wsPath(workspaceID) + "/bulk", body: req, out: &out}); err != nil {
		return nil, err
	}
	if ids := succeededIDs(&out); len(ids) > 0 {
		c.auditEvent(ctx, AuditEvent{Action: "members_bulk_remove", Endpoint: EPBulkRemoveWorkspaceMembers, WorkspaceID: workspaceID, IDs: ids})
	}
	return &out, nil
}

// ListSiteMembers returns one page of the people with access to a site.
// Roles is ignored (the site list has no roles filter).
func (c *Client) ListSiteMembers(ctx context.Context, siteID string, opt MemberListOptions) (*SiteMemberList, error) {
	if err := needID("site id", siteID); err != nil {
		return nil, err
	}
	opt.Roles = nil
	var out SiteMemberList
	if err := c.do(ctx, request{call: get(EPListSiteMembers), path: sitePath(siteID), query: opt.values(), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAllSiteMembers walks a site's list, 100 per call. Whether owners,
// admins and members of an open site appear is not documented: callers
// must not infer explicit grants from it for them.
func (c *Client) ListAllSiteMembers(ctx context.Context, siteID string, opt MemberListOptions) ([]SiteMember, error) {
	var out []SiteMember
	seen := map[string]bool{}
	err := walkCursor(func(cursor string) (string, error) {
		opt.Cursor = cursor
		page, err := c.ListSiteMembers(ctx, siteID, opt)
		if err != nil {
			return "", err
		}
		for _, m := range page.Members {
			if !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
			}
		}
		return page.Pagination.Next(), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GrantSiteAccess gives a member (by MemberID or Email) access to a site.
// It never changes existing access: that is ErrMemberAlreadyHasAccess, and
// the caller PATCHes instead (SetSiteRole does both). Not retried: after
// an ambiguous failure a repeat would answer member_already_has_access for
// a grant that worked; use SetSiteRole, whose PATCH settles it either way.
func (c *Client) GrantSiteAccess(ctx context.Context, siteID string, req GrantSiteAccessRequest) (*SiteMember, error) {
	if err := errors.Join(needID("site id", siteID), needID("site role", req.SiteRole)); err != nil {
		return nil, err
	}
	if (req.Email == "") == (req.MemberID == "") {
		return nil, errors.New("webflowdata: a grant names the member by email or by id, exactly one of them")
	}
	var out SiteMember
	call := Call{Method: http.MethodPost, Endpoint: EPGrantSiteAccess, Idempotent: false}
	if err := c.do(ctx, request{call: call, path: sitePath(siteID), body: req, out: &out}); err != nil {
		return nil, err
	}
	c.auditEvent(ctx, AuditEvent{Action: "site_grant", Endpoint: EPGrantSiteAccess, SiteID: siteID, UserID: out.ID, Email: req.Email, Role: req.SiteRole})
	return &out, nil
}

// UpdateSiteMemberRole changes a member's role on a site. On a restricted
// site the member must already have access; on a site open to the
// workspace it sets a per-site role for the first time. Idempotent.
func (c *Client) UpdateSiteMemberRole(ctx context.Context, siteID, memberID string, req UpdateSiteRoleRequest) (*SiteMember, error) {
	if err := errors.Join(needID("site id", siteID), needID("member id", memberID), needID("site role", req.SiteRole)); err != nil {
		return nil, err
	}
	return c.updateSiteRole(ctx, siteID, EPUpdateSiteMember, sitePath(siteID)+"/"+seg(memberID), nil, memberID, req)
}

// UpdateSiteMemberRoleByEmail is UpdateSiteMemberRole naming the member by
// address.
func (c *Client) UpdateSiteMemberRoleByEmail(ctx context.Context, siteID, email string, req UpdateSiteRoleRequest) (*SiteMember, error) {
	if err := errors.Join(needID("site id", siteID), needID("email", email), needID("site role", req.SiteRole)); err != nil {
		return nil, err
	}
	return c.updateSiteRole(ctx, siteID, EPUpdateSiteMemberByEmail, sitePath(siteID), url.Values{"email": {email}}, "", req)
}

func (c *Client) updateSiteRole(ctx context.Context, siteID, ep, path string, q url.Values, memberID string, req UpdateSiteRoleRequest) (*SiteMember, error) {
	var out SiteMember
	call := Call{Method: http.MethodPatch, Endpoint: ep, Idempotent: true}
	if err := c.do(ctx, request{call: call, path: path, query: q, body: req, out: &out}); err != nil {
		return nil, err
	}
	c.auditEvent(ctx, AuditEvent{Action: "site_role", Endpoint: ep, SiteID: siteID, UserID: out.ID, Role: req.SiteRole})
	return &out, nil
}

// SetSiteRole makes a member hold role on a site, whatever they hold now:
// a grant, and on ErrMemberAlreadyHasAccess a PATCH (one call for new
// access, two for a change). A caller that knows the member already has
// access should call UpdateSiteMemberRole: one call.
func (c *Client) SetSiteRole(ctx context.Context, siteID, memberID, role, customRoleID string) (*SiteMember, error) {
	sm, err := c.GrantSiteAccess(ctx, siteID, GrantSiteAccessRequest{MemberID: memberID, SiteRole: role, SiteRoleID: customRoleID})
	if err == nil || !IsMemberAlreadyHasAccess(err) {
		return sm, err
	}
	return c.UpdateSiteMemberRole(ctx, siteID, memberID, UpdateSiteRoleRequest{SiteRole: role, SiteRoleID: customRoleID})
}

// RevokeSiteAccess removes a member's access to a site (the workspace
// membership stays). Idempotent for a member without access; a 404 means
// the id is no workspace member at all.
func (c *Client) RevokeSiteAccess(ctx context.Context, siteID, memberID string) error {
	if err := errors.Join(needID("site id", siteID), needID("member id", memberID)); err != nil {
		return err
	}
	if err := c.do(ctx, request{call: del(EPRevokeSiteAccess), path: sitePath(siteID) + "/" + seg(memberID)}); err != nil {
		return err
	}
	c.auditEvent(ctx, AuditEvent{Action: "site_revoke", Endpoint: EPRevokeSiteAccess, SiteID: siteID, UserID: memberID})
	return nil
}

// RevokeSiteAccessByEmail is RevokeSiteAccess naming the member by address.
func (c *Client) RevokeSiteAccessByEmail(ctx context.Context, siteID, email string) error {
	if err := errors.Join(needID("site id", siteID), needID("email", email)); err != nil {
		return err
	}
	if err := c.do(ctx, request{call: del(EPRevokeSiteAccessByEmail), path: sitePath(siteID), query: url.Values{"email": {email}}}); err != nil {
		return err
	}
	c.auditEvent(ctx, AuditEvent{Action: "site_revoke", Endpoint: EPRevokeSiteAccessByEmail, SiteID: siteID, Email: email})
	return nil
}
