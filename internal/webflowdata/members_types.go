package webflowdata

import (
	"strings"

	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// Wire types of the Enterprise Workspace Members and Site Access APIs
// (reference: webflow-enterprise-api.md §2-4). The simulator encodes with
// them and the client decodes with them, so the two cannot drift apart.

// Workspace roles (roles.workspace, the invite's workspaceRole, the list's
// roles filter). Only admin, member and reviewer can be written by PATCH and
// bulk; an invite also accepts client; owner and guest are read-only.
const (
	WorkspaceRoleOwner    = "owner"
	WorkspaceRoleAdmin    = "admin"
	WorkspaceRoleMember   = "member"
	WorkspaceRoleGuest    = "guest"
	WorkspaceRoleReviewer = "reviewer"
	WorkspaceRoleClient   = "client"
)

// Site roles (roles.site, defaultSiteRole, siteRole). branch_designer,
// limited_designer and viewer are read back but cannot be written.
const (
	SiteRoleSiteManager     = "site_manager"
	SiteRoleDesigner        = "designer"
	SiteRoleBranchDesigner  = "branch_designer"
	SiteRoleLimitedDesigner = "limited_designer"
	SiteRoleMarketer        = "marketer"
	SiteRoleContentEditor   = "content_editor"
	SiteRoleReviewer        = "reviewer"
	SiteRoleViewer          = "viewer"
	SiteRoleCustom          = "custom"
)

// Invite statuses. Only a pending invite can still be accepted.
const (
	InviteStatusPending  = "pending"
	InviteStatusDeclined = "declined"
	InviteStatusExpired  = "expired"
)

// Statuses of the invite answer: a new or matching pending invite, or the
// address already is an active member.
const (
	InviteResultInvited = "invited"
	InviteResultActive  = "active"
)

// Bulk item types and outcomes. A removal's outcome word is not documented
// (reference §4.6); read every outcome other than "failed" as done.
const (
	BulkTypeMember   = "member"
	BulkTypeInvite   = "invite"
	OutcomeUpdated   = "updated"
	OutcomeRemoved   = "removed"
	OutcomeCancelled = "cancelled"
	OutcomeFailed    = "failed"
)

// BulkMaxIDs is the most member and invite ids one bulk call takes
// (both lists together, after de-duplication).
const BulkMaxIDs = 100

// MemberPageLimit is the most a cursor list returns per page (per list:
// a workspace page can carry that many members and as many invites).
const MemberPageLimit = 100

// WritableWorkspaceRoles are the roles PATCH and bulk update accept.
var writableWorkspaceRoles = []string{WorkspaceRoleAdmin, WorkspaceRoleMember, WorkspaceRoleReviewer}

// writableSiteRoles are the site roles any write accepts.
var writableSiteRoles = []string{SiteRoleSiteManager, SiteRoleDesigner, SiteRoleMarketer, SiteRoleContentEditor, SiteRoleReviewer, SiteRoleCustom}

// IsWritableWorkspaceRole reports a workspace role PATCH and bulk update
// accept (admin, member, reviewer).
func IsWritableWorkspaceRole(r string) bool { return contains(writableWorkspaceRoles, r) }

// IsWritableSiteRole reports a site role a write accepts; the read-only
// branch_designer, limited_designer and viewer are not.
func IsWritableSiteRole(r string) bool { return contains(writableSiteRoles, r) }

// IsKnownWorkspaceRole reports a value of the workspace-role enum.
func IsKnownWorkspaceRole(r string) bool {
	return contains(writableWorkspaceRoles, r) || r == WorkspaceRoleOwner || r == WorkspaceRoleGuest || r == WorkspaceRoleClient
}

// IsKnownSiteRole reports a value of the site-role enum, read-only ones
// included.
func IsKnownSiteRole(r string) bool {
	return contains(writableSiteRoles, r) || r == SiteRoleBranchDesigner || r == SiteRoleLimitedDesigner || r == SiteRoleViewer
}

// AllowedRolePair reports whether Webflow accepts the (workspace role,
// default site role) pair on invite, PATCH and bulk update: the reference's
// §2.2 table, kept once, in workspaceroles (AllowedPairs).
func AllowedRolePair(workspaceRole, defaultSiteRole string) bool {
	return workspaceroles.Pairs(workspaceroles.WorkspaceRole(workspaceRole), workspaceroles.SiteRole(defaultSiteRole))
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// MemberRoles is the roles object of a WorkspaceMember or SiteMember.
// On a WorkspaceMember, Site is the default site role and is absent on
// workspaces not on Workspace seats; SiteRoleID is only meaningful when
// Site is custom (Webflow's examples carry it on other roles too).
type MemberRoles struct {
	Workspace  string `json:"workspace"`
	Site       string `json:"site,omitempty"`
	SiteRoleID string `json:"siteRoleId,omitempty"`
}

// CustomSiteRoleID returns SiteRoleID when Site is custom, else "".
func (r MemberRoles) CustomSiteRoleID() string {
	if r.Site != SiteRoleCustom {
		return ""
	}
	return r.SiteRoleID
}

// WorkspaceMember is an active member of a workspace. AddedOn is when they
// last joined (accepted, for an invitee), null when unknown.
type WorkspaceMember struct {
	ID        string      `json:"id"`
	Email     string      `json:"email,omitempty"`
	FirstName string      `json:"firstName,omitempty"`
	LastName  string      `json:"lastName,omitempty"`
	Roles     MemberRoles `json:"roles"`
	AddedOn   Time        `json:"addedOn"`
}

// WorkspaceInvite is an invite. Its id is not a member id: an accepted
// invite becomes a member with a new id. Legacy invites may lack
// defaultSiteRole.
type WorkspaceInvite struct {
	ID                string   `json:"id"`
	Email             string   `json:"email"`
	Role              string   `json:"role"`
	CreatedOn         Time     `json:"createdOn"`
	Status            string   `json:"status"`
	Sites             []string `json:"sites"`
	AllSites          bool     `json:"allSites"`
	DefaultSiteRole   string   `json:"defaultSiteRole,omitempty"`
	DefaultSiteRoleID string   `json:"defaultSiteRoleId,omitempty"`
}

// SiteMember is someone with access to a site and the role they hold
// there. ID is the workspace member id.
type SiteMember struct {
	ID        string      `json:"id"`
	Email     string      `json:"email,omitempty"`
	FirstName string      `json:"firstName,omitempty"`
	LastName  string      `json:"lastName,omitempty"`
	Roles     MemberRoles `json:"roles"`
}

// CursorPage is the pagination object of the cursor lists. NextCursor is
// absent or null on the last page.
type CursorPage struct {
	Limit      int     `json:"limit"`
	NextCursor *string `json:"nextCursor,omitempty"`
}

// Next returns the cursor of the next page, or "" when this is the last.
func (p CursorPage) Next() string {
	if p.NextCursor == nil {
		return ""
	}
	return *p.NextCursor
}

// WorkspaceMemberList is one page of GET /workspaces/{id}/members: up to
// limit members and up to limit invites, one cursor for both.
type WorkspaceMemberList struct {
	Members    []WorkspaceMember `json:"members"`
	Invites    []WorkspaceInvite `json:"invites"`
	Pagination CursorPage        `json:"pagination"`
}

// SiteMemberList is one page of GET /sites/{id}/members.
type SiteMemberList struct {
	Members    []SiteMember `json:"members"`
	Pagination CursorPage   `json:"pagination"`
}

// SiteAccessEntry is one site of an invite's siteAccess. Every entry of
// one invite carries the same role.
type SiteAccessEntry struct {
	SiteID     string `json:"siteId"`
	SiteRole   string `json:"siteRole"`
	SiteRoleID string `json:"siteRoleId,omitempty"`
}

// InviteMemberRequest is the invite body: Email and WorkspaceRole, then
// either DefaultSiteRole (with DefaultSiteRoleID for custom) or SiteAccess,
// never both. A client invite names exactly one site.
type InviteMemberRequest struct {
	Email             string            `json:"email"`
	WorkspaceRole     string            `json:"workspaceRole"`
	DefaultSiteRole   string            `json:"defaultSiteRole,omitempty"`
	DefaultSiteRoleID string            `json:"defaultSiteRoleId,omitempty"`
	SiteAccess        []SiteAccessEntry `json:"siteAccess,omitempty"`
}

// InviteMemberResult is the invite answer: status invited with the
// invite, or active with the existing membership that matched.
type InviteMemberResult struct {
	Status string           `json:"status"`
	Invite *WorkspaceInvite `json:"invite,omitempty"`
	Member *WorkspaceMember `json:"member,omitempty"`
}

// UpdateMemberRoleRequest is the body of PATCH /workspaces/{id}/members/
// {member_id}. DefaultSiteRole is required on every request.
type UpdateMemberRoleRequest struct {
	Role              string `json:"role"`
	DefaultSiteRole   string `json:"defaultSiteRole"`
	DefaultSiteRoleID string `json:"defaultSiteRoleId,omitempty"`
}

// BulkUpdateMembersRequest sets one role pair on up to 100 members and
// invites.
type BulkUpdateMembersRequest struct {
	MemberIDs         []string `json:"memberIds,omitempty"`
	InviteIDs         []string `json:"inviteIds,omitempty"`
	Role              string   `json:"role"`
	DefaultSiteRole   string   `json:"defaultSiteRole"`
	DefaultSiteRoleID string   `json:"defaultSiteRoleId,omitempty"`
}

// BulkRemoveMembersRequest removes up to 100 members and cancels invites
// (both lists together). The field names are inferred from bulk update
// (reference §4.6).
type BulkRemoveMembersRequest struct {
	MemberIDs []string `json:"memberIds,omitempty"`
	InviteIDs []string `json:"inviteIds,omitempty"`
}

// BulkItemError is a per-item failure of a bulk call.
type BulkItemError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// BulkItemResult is one id's outcome in a bulk call. Error is meaningful
// only when Outcome is failed (Webflow's example also carries it on
// successes).
type BulkItemResult struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Outcome string         `json:"outcome"`
	Error   *BulkItemError `json:"error,omitempty"`
}

// Failed reports a failed item. Every other outcome (updated, removed,
// cancelled, or a word Webflow adds later) is a success.
func (r BulkItemResult) Failed() bool { return strings.EqualFold(r.Outcome, OutcomeFailed) }

// BulkSummary counts the outcomes of a bulk call. Removed and Cancelled
// are for bulk remove, whose key names are not documented.
type BulkSummary struct {
	Updated   int `json:"updated"`
	Removed   int `json:"removed"`
	Cancelled int `json:"cancelled"`
	Failed    int `json:"failed"`
}

// BulkResult is the 200 answer of a bulk call. Webflow de-duplicates ids
// first, so Results can be shorter than the request, and the member and
// invite id spaces are apart (one id can name both): read a result by
// type and id (Member, Invite), never by position.
type BulkResult struct {
	Summary BulkSummary      `json:"summary"`
	Results []BulkItemResult `json:"results"`
}

func (b *BulkResult) item(typ, id string) (BulkItemResult, bool) {
	for _, r := range b.Results {
		if r.ID == id && r.Type == typ {
			return r, true
		}
	}
	return BulkItemResult{}, false
}

// Member returns the result for a member id; false if Webflow reported
// nothing for it (treat that as not done).
func (b *BulkResult) Member(id string) (BulkItemResult, bool) { return b.item(BulkTypeMember, id) }

// Invite returns the result for an invite id.
func (b *BulkResult) Invite(id string) (BulkItemResult, bool) { return b.item(BulkTypeInvite, id) }

// Err is nil for a successful item and an *ItemError (errors.Is matches
// the typed errors, e.g. ErrMemberManagedBySCIM) for a failed one.
func (r BulkItemResult) Err() error {
	if !r.Failed() {
		return nil
	}
	e := &ItemError{ID: r.ID, Type: r.Type}
	if r.Error != nil {
		e.Code, e.Message = r.Error.Code, r.Error.Message
	}
	return e
}

// Failures returns the failed items' errors, in answer order.
func (b *BulkResult) Failures() []*ItemError {
	var out []*ItemError
	for _, r := range b.Results {
		if err := r.Err(); err != nil {
			out = append(out, err.(*ItemError))
		}
	}
	return out
}

// GrantSiteAccessRequest is the body of POST /sites/{id}/members: exactly
// one of Email and MemberID, and SiteRoleID only with custom.
type GrantSiteAccessRequest struct {
	Email      string `json:"email,omitempty"`
	MemberID   string `json:"memberId,omitempty"`
	SiteRole   string `json:"siteRole"`
	SiteRoleID string `json:"siteRoleId,omitempty"`
}

// UpdateSiteRoleRequest is the body of PATCH /sites/{id}/members[/{id}].
type UpdateSiteRoleRequest struct {
	SiteRole   string `json:"siteRole"`
	SiteRoleID string `json:"siteRoleId,omitempty"`
}
