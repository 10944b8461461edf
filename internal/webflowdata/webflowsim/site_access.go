package webflowsim

import (
	"net/http"
	"strconv"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

const (
	msgAlreadyHasAccess = "This member already has access to this site. Use PATCH to change their Site Role instead."
	msgNoSiteAccess     = "The member has no access to this site; grant it first with POST"
	msgNotAMember       = "is not a member of this workspace"
)

// siteMembersRoute dispatches /sites/{id}/members[/{member_id}].
func (s *Simulator) siteMembersRoute(w http.ResponseWriter, r *http.Request, t *token, seg []string) {
	rd := s.Readings()
	var scope string
	var h func(siteID string)
	m := r.Method
	switch {
	case len(seg) == 3 && m == http.MethodGet:
		scope, h = scopeSiteAccessRead, func(site string) { s.listSiteMembers(w, r, rd, site) }
	case len(seg) == 3 && m == http.MethodPost:
		scope, h = scopeSiteAccessWrite, func(site string) { s.grantSiteAccess(w, r, rd, site) }
	case len(seg) == 3 && m == http.MethodPatch:
		scope, h = scopeSiteAccessWrite, func(site string) { s.updateSiteRole(w, r, rd, site, "") }
	case len(seg) == 3 && m == http.MethodDelete:
		scope, h = scopeSiteAccessWrite, func(site string) { s.revokeSiteAccess(w, r, rd, site, "") }
	case len(seg) == 4 && m == http.MethodPatch:
		scope, h = scopeSiteAccessWrite, func(site string) { s.updateSiteRole(w, r, rd, site, seg[3]) }
	case len(seg) == 4 && m == http.MethodDelete:
		scope, h = scopeSiteAccessWrite, func(site string) { s.revokeSiteAccess(w, r, rd, site, seg[3]) }
	default:
		notFoundRoute(w)
		return
	}
	if !requireScope(w, t, scope) || !s.enterpriseGate(w, t, rd) {
		return
	}
	// A workspace token reaches every site of its workspace; a site token
	// (under the "allowed" reading) only its own.
	if t.workspace {
		s.mu.RLock()
		st := s.sites[seg[1]]
		s.mu.RUnlock()
		if st == nil {
			if !isObjectID(seg[1]) {
				validation(w, "Provided ID is invalid")
				return
			}
			writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgSiteNotFound)
			return
		}
	} else if _, ok := s.siteAccess(w, t, seg[1]); !ok {
		return
	}
	h(seg[1])
}

func (s *Simulator) listSiteMembers(w http.ResponseWriter, r *http.Request, rd Readings, siteID string) {
	q := r.URL.Query()
	limit, pos, email, ok := parseCursorQuery(w, q, "s", 1)
	if !ok {
		return
	}
	out := webflowdata.SiteMemberList{Members: []webflowdata.SiteMember{}, Pagination: webflowdata.CursorPage{Limit: limit}}
	last := pos[0]
	more := false
	s.mu.RLock()
	for _, m := range s.ent.orderedMembers() {
		if m.seq <= pos[0] || !emailMatches(rd, m.email, email) {
			continue
		}
		g, implicit, ok := s.ent.siteAccessOf(siteID, m)
		if !ok || (implicit && rd.SiteListImplicit == SiteListOmitted) {
			continue
		}
		if len(out.Members) == limit {
			more = true
			break
		}
		out.Members = append(out.Members, siteMemberJSON(m, g))
		last = m.seq
	}
	s.mu.RUnlock()
	if more {
		c := encodeCursor("s", last)
		out.Pagination.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// siteRoleBody is the body of grant (with email or memberId) and PATCH.
type siteRoleBody struct {
	Email      *string `json:"email"`
	MemberID   *string `json:"memberId"`
	SiteRole   *string `json:"siteRole"`
	SiteRoleID string  `json:"siteRoleId"`
}

func checkSiteRole(w http.ResponseWriter, b *siteRoleBody) bool {
	if b.SiteRole == nil {
		validation(w, "siteRole is required")
		return false
	}
	if !webflowdata.IsKnownSiteRole(*b.SiteRole) {
		validation(w, "siteRole "+strconv.Quote(*b.SiteRole)+" is not a site role")
		return false
	}
	return true
}

// resolveMember finds the member a Site Access call names, by id or by
// address (EmailMatch reading). Caller holds s.mu.
func (s *Simulator) resolveMember(rd Readings, memberID, email string) *wsMember {
	if memberID != "" {
		return s.ent.members[memberID]
	}
	return s.ent.memberByEmail(email, rd.EmailMatch != EmailMatchInsensitive)
}

// lockSiteWriteMember takes s.mu and returns the member a grant or PATCH
// names. When there is none, or the SCIM lock covers Site Access, it
// answers, releases s.mu and returns nil.
func (s *Simulator) lockSiteWriteMember(w http.ResponseWriter, rd Readings, memberID, email string) *wsMember {
	s.mu.Lock()
	m := s.resolveMember(rd, memberID, email)
	if m == nil {
		s.mu.Unlock()
		notAMember(w, rd, firstNonEmpty(email, memberID))
		return nil
	}
	if siteLock(w, rd, m) {
		s.mu.Unlock()
		return nil
	}
	return m
}

// notAMember answers a grant or PATCH naming no member (a pending invitee
// included), under the NonMember reading.
func notAMember(w http.ResponseWriter, rd Readings, who string) {
	if rd.NonMember == NonMemberValidation {
		validation(w, who+" "+msgNotAMember)
		return
	}
	entErr(w, rd, http.StatusNotFound, webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound)
}

// siteLock answers the SCIM lock on Site Access writes, when the
// SCIMLocksSiteAccess reading extends it there.
func siteLock(w http.ResponseWriter, rd Readings, m *wsMember) bool {
	if rd.SCIMLocksSiteAccess && m.locked() {
		entErr(w, rd, http.StatusConflict, webflowdata.CodeMemberManagedBySCIM, webflowdata.MsgMemberManagedBySCIM)
		return true
	}
	return false
}

func isOwnerOrAdmin(m *wsMember) bool {
	return m.role == webflowdata.WorkspaceRoleOwner || m.role == webflowdata.WorkspaceRoleAdmin
}

// grantSiteAccess handles POST /sites/{id}/members. It creates access and
// never changes it: someone who has access is 409 member_already_has_access.
func (s *Simulator) grantSiteAccess(w http.ResponseWriter, r *http.Request, rd Readings, siteID string) {
	var b siteRoleBody
	if !readBody(w, r, &b) {
		return
	}
	if (b.Email == nil || *b.Email == "") == (b.MemberID == nil || *b.MemberID == "") {
		validation(w, "Provide either email or memberId, not both")
		return
	}
	if b.MemberID != nil && *b.MemberID != "" && !isObjectID(*b.MemberID) {
		validation(w, "memberId is not a valid id")
		return
	}
	if !checkSiteRole(w, &b) {
		return
	}
	var memberID, email string
	if b.MemberID != nil {
		memberID = *b.MemberID
	}
	if b.Email != nil {
		email = *b.Email
	}
	role := *b.SiteRole
	m := s.lockSiteWriteMember(w, rd, memberID, email)
	if m == nil {
		return
	}
	e := s.ent
	if isOwnerOrAdmin(m) {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeMemberAlreadyHasAccess, "Owners and admins have access to every site in the workspace")
		return
	}
	if code, msg := e.siteRoleProblem(m, role, b.SiteRoleID); code != "" {
		s.mu.Unlock()
		entErr(w, rd, statusFor(code), code, msg)
		return
	}
	if _, implicit, has := e.siteAccessOf(siteID, m); has && (!implicit || rd.OpenSiteGrant != OpenSiteGrantCreates) {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeMemberAlreadyHasAccess, msgAlreadyHasAccess)
		return
	}
	g := grantOf(role, b.SiteRoleID)
	e.setGrant(siteID, m.id, g)
	out := siteMemberJSON(m, g)
	s.mu.Unlock()
	writeJSON(w, createdStatus(rd), out)
}

func grantOf(role, id string) siteGrant {
	if role != webflowdata.SiteRoleCustom {
		id = ""
	}
	return siteGrant{role: role, roleID: id}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// memberTarget reads the member a PATCH or DELETE names: the path id, or
// the required ?email= of the by-email form.
func memberTarget(w http.ResponseWriter, r *http.Request, memberID string) (string, string, bool) {
	if memberID != "" {
		if !isObjectID(memberID) {
			validation(w, "Provided ID is invalid")
			return "", "", false
		}
		return memberID, "", true
	}
	email := r.URL.Query().Get("email")
	if email == "" {
		validation(w, "email is required (or name the member by id in the path)")
		return "", "", false
	}
	return "", email, true
}

// updateSiteRole handles PATCH /sites/{id}/members/{member_id} and
// PATCH /sites/{id}/members?email=. On a restricted site the member must
// already hold access; on a site open to the workspace it sets a per-site
// role for the first time.
func (s *Simulator) updateSiteRole(w http.ResponseWriter, r *http.Request, rd Readings, siteID, memberID string) {
	memberID, email, ok := memberTarget(w, r, memberID)
	if !ok {
		return
	}
	var b siteRoleBody
	if !readBody(w, r, &b) {
		return
	}
	if b.Email != nil || b.MemberID != nil {
		validation(w, "name the member in the path or the email query, not the body")
		return
	}
	if !checkSiteRole(w, &b) {
		return
	}
	role := *b.SiteRole
	m := s.lockSiteWriteMember(w, rd, memberID, email)
	if m == nil {
		return
	}
	e := s.ent
	if isOwnerOrAdmin(m) {
		s.mu.Unlock()
		entErr(w, rd, http.StatusConflict, webflowdata.CodeCannotUpdateUserRole, "Owners and admins hold site_manager on every site")
		return
	}
	if code, msg := e.siteRoleProblem(m, role, b.SiteRoleID); code != "" {
		s.mu.Unlock()
		entErr(w, rd, statusFor(code), code, msg)
		return
	}
	if _, _, has := e.siteAccessOf(siteID, m); !has {
		s.mu.Unlock()
		if rd.NoAccessPatch == NoAccessPatchConflict {
			writeError(w, http.StatusConflict, webflowdata.CodeConflict, msgNoSiteAccess)
		} else {
			writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgNoSiteAccess)
		}
		return
	}
	g := grantOf(role, b.SiteRoleID)
	e.setGrant(siteID, m.id, g)
	out := siteMemberJSON(m, g)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// revokeSiteAccess handles DELETE /sites/{id}/members/{member_id} and
// DELETE /sites/{id}/members?email=. Idempotent for a member without
// access; 404 for someone who is no member at all. Workspace membership
// stays.
func (s *Simulator) revokeSiteAccess(w http.ResponseWriter, r *http.Request, rd Readings, siteID, memberID string) {
	memberID, email, ok := memberTarget(w, r, memberID)
	if !ok {
		return
	}
	s.mu.Lock()
	e := s.ent
	m := s.resolveMember(rd, memberID, email)
	if m == nil {
		s.mu.Unlock()
		entErr(w, rd, http.StatusNotFound, webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound)
		return
	}
	if siteLock(w, rd, m) {
		s.mu.Unlock()
		return
	}
	if isOwnerOrAdmin(m) {
		s.mu.Unlock()
		entErr(w, rd, http.StatusConflict, webflowdata.CodeCannotUpdateUserRole, "Owners and admins have access to every site; change their workspace role instead")
		return
	}
	implicitHere := e.open[siteID] && (m.role == webflowdata.WorkspaceRoleMember || m.role == webflowdata.WorkspaceRoleReviewer)
	_, _, has := e.siteAccessOf(siteID, m)
	switch {
	case implicitHere && has && rd.OpenSiteRevoke == OpenSiteRevokeRefused:
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeConflict, "This site is open to the whole workspace; its members cannot be revoked one by one")
		return
	case implicitHere && has && rd.OpenSiteRevoke == OpenSiteRevokeRemoves:
		delete(e.grants[siteID], m.id)
		if e.excluded[siteID] == nil {
			e.excluded[siteID] = map[string]bool{}
		}
		e.excluded[siteID][m.id] = true
	default:
		delete(e.grants[siteID], m.id)
	}
	s.mu.Unlock()
	writeDeleted(w, rd)
}
