package workspaceroles

import (
	"fmt"
	"regexp"
	"strings"
)

// WorkspaceRole is a Workspace role as Webflow spells it on the wire
// (roles.workspace of a member, role of an invite).
type WorkspaceRole string

// The Workspace roles Webflow reads back (reference §2.1). Only admin,
// member and reviewer can be written; see Writable.
const (
	WorkspaceOwner    WorkspaceRole = "owner"
	WorkspaceAdmin    WorkspaceRole = "admin"
	WorkspaceMember   WorkspaceRole = "member"
	WorkspaceGuest    WorkspaceRole = "guest"
	WorkspaceReviewer WorkspaceRole = "reviewer"
	WorkspaceClient   WorkspaceRole = "client"
)

// Known reports whether Webflow documents r.
func (r WorkspaceRole) Known() bool {
	switch r {
	case WorkspaceOwner, WorkspaceAdmin, WorkspaceMember, WorkspaceGuest, WorkspaceReviewer, WorkspaceClient:
		return true
	}
	return false
}

// Writable reports whether the bridge may set r. Webflow accepts admin,
// member and reviewer on PATCH, bulk update and invite. owner and guest
// cannot be written at all; client only on a one-site collaborator invite,
// which the bridge never sends. Members holding owner, guest or client are
// reported and left as they are.
func (r WorkspaceRole) Writable() bool { return r.rank() > 0 }

// rank orders the writable Workspace roles: admin > member > reviewer.
// The order follows the seats (reference §2.3: Full, then Limited or
// Full, then Free) and the reference's own precedence example (§7.2).
func (r WorkspaceRole) rank() int {
	switch r {
	case WorkspaceAdmin:
		return 3
	case WorkspaceMember:
		return 2
	case WorkspaceReviewer:
		return 1
	}
	return 0
}

// SiteRole is a Site role as Webflow spells it on the wire (roles.site,
// siteRole, defaultSiteRole).
type SiteRole string

// The Site roles Webflow reads back (reference §2.1). branch_designer,
// limited_designer and viewer are read-only; see Writable.
const (
	SiteManager         SiteRole = "site_manager"
	SiteDesigner        SiteRole = "designer"
	SiteBranchDesigner  SiteRole = "branch_designer"
	SiteLimitedDesigner SiteRole = "limited_designer"
	SiteMarketer        SiteRole = "marketer"
	SiteContentEditor   SiteRole = "content_editor"
	SiteReviewer        SiteRole = "reviewer"
	SiteViewer          SiteRole = "viewer"
	SiteCustom          SiteRole = "custom"
)

// Known reports whether Webflow documents r.
func (r SiteRole) Known() bool {
	switch r {
	case SiteManager, SiteDesigner, SiteBranchDesigner, SiteLimitedDesigner, SiteMarketer,
		SiteContentEditor, SiteReviewer, SiteViewer, SiteCustom:
		return true
	}
	return false
}

// Writable reports whether Webflow accepts r on a write (grant, site
// PATCH, member PATCH, bulk update, invite).
func (r SiteRole) Writable() bool {
	switch r {
	case SiteManager, SiteDesigner, SiteMarketer, SiteContentEditor, SiteReviewer, SiteCustom:
		return true
	}
	return false
}

// SiteAccess is a Site role held or wanted: a built-in role, or custom
// with the id of a custom Site Role of the workspace (siteRoleId,
// defaultSiteRoleId). CustomID is empty for every built-in role. It may
// also be empty on a custom role read from Webflow, which does not always
// say which custom role (a Workspace Member has no roles.siteRoleId).
type SiteAccess struct {
	Role     SiteRole
	CustomID string
}

// Custom returns the custom Site Role with the given id.
func Custom(id string) SiteAccess { return SiteAccess{Role: SiteCustom, CustomID: id} }

// Builtin returns the built-in Site role r.
func Builtin(r SiteRole) SiteAccess { return SiteAccess{Role: r} }

// String is the role as config writes it: "marketer", or "custom:<id>".
func (s SiteAccess) String() string {
	if s.Role == SiteCustom && s.CustomID != "" {
		return string(SiteCustom) + ":" + s.CustomID
	}
	return string(s.Role)
}

// Same reports whether s and o name the same role. A custom role whose id
// is unknown on either side is taken to be the same custom role: Webflow
// does not return the id of a member's default custom role, and rewriting
// a role the bridge cannot see would cost a write on every reconcile, for
// ever. A caller that recorded the id it wrote passes it in.
func (s SiteAccess) Same(o SiteAccess) bool {
	if s.Role != o.Role {
		return false
	}
	return s.Role != SiteCustom || s.CustomID == "" || o.CustomID == "" || s.CustomID == o.CustomID
}

var objectID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// IsObjectID reports whether s is a Webflow id: 24 lower-case hex digits
// (site, member, invite, workspace and custom Site Role ids alike).
func IsObjectID(s string) bool { return objectID.MatchString(s) }

// ParseSiteAccess reads a Site role as config writes it: a built-in role,
// or "custom:<siteRoleId>". A bare "custom" is refused; the config gives
// the id beside it.
func ParseSiteAccess(s string) (SiteAccess, error) {
	if id, ok := strings.CutPrefix(s, string(SiteCustom)+":"); ok {
		if !IsObjectID(id) {
			return SiteAccess{}, fmt.Errorf("%q: a custom Site Role id is 24 lower-case hex digits", s)
		}
		return Custom(id), nil
	}
	a := Builtin(SiteRole(s))
	return a, checkSiteAccess(a)
}

// checkSiteAccess refuses a Site role the bridge must not write.
func checkSiteAccess(a SiteAccess) error {
	switch {
	case !a.Role.Known():
		return fmt.Errorf("%q is not a Site role (site_manager, designer, marketer, content_editor, reviewer, custom)", string(a.Role))
	case !a.Role.Writable():
		return fmt.Errorf("%q is read-only: Webflow shows it but accepts no write of it (writable: site_manager, designer, marketer, content_editor, reviewer, custom)", string(a.Role))
	case a.Role == SiteCustom && a.CustomID == "":
		return fmt.Errorf("custom needs the custom Site Role's id (siteRoleId)")
	case a.Role == SiteCustom && !IsObjectID(a.CustomID):
		return fmt.Errorf("custom Site Role id %q is not 24 lower-case hex digits", a.CustomID)
	case a.Role != SiteCustom && a.CustomID != "":
		return fmt.Errorf("a siteRoleId goes only with custom (Webflow rejects it with %s)", string(a.Role))
	}
	return nil
}

// Pair is what Webflow stores for every member: a Workspace role and a
// default Site role (roles.workspace and roles.site; role and
// defaultSiteRole on writes).
type Pair struct {
	Workspace WorkspaceRole
	Site      SiteAccess
}

func (p Pair) String() string { return string(p.Workspace) + "/" + p.Site.String() }

// AllowedPairs is reference §2.2, verbatim from Webflow's Invite, Update
// and Bulk Update pages: the only (Workspace role, default Site role)
// pairs Webflow accepts. The custom row stands for every custom Site Role
// (CustomID empty). It returns a new slice on every call.
func AllowedPairs() []Pair {
	return []Pair{
		{WorkspaceAdmin, Builtin(SiteManager)},        // Admin
		{WorkspaceMember, Builtin(SiteManager)},       // Site manager
		{WorkspaceMember, Builtin(SiteDesigner)},      // Designer
		{WorkspaceMember, Builtin(SiteMarketer)},      // Marketer
		{WorkspaceMember, Builtin(SiteContentEditor)}, // Content editor
		{WorkspaceMember, Builtin(SiteCustom)},        // the custom role's own name
		{WorkspaceReviewer, Builtin(SiteReviewer)},    // Reviewer
	}
}

// sitesFor lists the Site roles that pair with w, in table order.
func sitesFor(w WorkspaceRole) []SiteRole {
	var out []SiteRole
	for _, p := range AllowedPairs() {
		if p.Workspace == w {
			out = append(out, p.Site.Role)
		}
	}
	return out
}

// Pairs reports whether (w, s) is a row of AllowedPairs: the one table of
// reference §2.2, which webflowdata's client and simulator read too.
func Pairs(w WorkspaceRole, s SiteRole) bool { return pairs(w, s) }

func pairs(w WorkspaceRole, s SiteRole) bool {
	for _, r := range sitesFor(w) {
		if r == s {
			return true
		}
	}
	return false
}

func joinRoles(rs []SiteRole) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// CheckWorkspaceRole says why the bridge must not write w, or nil.
func CheckWorkspaceRole(w WorkspaceRole) error {
	switch {
	case !w.Known():
		return fmt.Errorf("%q is not a Workspace role (admin, member, reviewer)", string(w))
	case !w.Writable():
		return fmt.Errorf("%q cannot be written: Webflow accepts admin, member and reviewer; owners, guests and clients are left as they are", string(w))
	}
	return nil
}

// CheckPair says why Webflow would refuse p as a (Workspace role, default
// Site role) pair, or why the bridge must not write it, or nil.
func CheckPair(p Pair) error {
	if err := CheckWorkspaceRole(p.Workspace); err != nil {
		return err
	}
	if err := checkSiteAccess(p.Site); err != nil {
		return err
	}
	if !pairs(p.Workspace, p.Site.Role) {
		return fmt.Errorf("Webflow refuses %s with %s: %s pairs only with %s (reference §2.2)",
			p.Workspace, p.Site.Role, p.Workspace, joinRoles(sitesFor(p.Workspace)))
	}
	return nil
}

// CheckSiteAccess says why a member whose Workspace role is w cannot be
// given a on one site, or nil. Per-site roles follow the same table as the
// default Site role: Webflow's invite docs say "For Member and Reviewer
// invites, you can either give the same role on all sites, or list
// specific sites. In both cases, use the pairings in the table above"
// (reference §2.2). An admin has every site already.
func CheckSiteAccess(w WorkspaceRole, a SiteAccess) error {
	if w == WorkspaceAdmin {
		return fmt.Errorf("admin implies every site; an admin gets no per-site access")
	}
	return CheckPair(Pair{Workspace: w, Site: a})
}
