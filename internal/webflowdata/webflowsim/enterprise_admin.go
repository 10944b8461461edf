package webflowsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Out-of-band controls of the Enterprise side: what the dashboard, the
// invitee or Webflow itself would do, and reads of the state for tests.
// Each is a Go method and a route under the admin prefix.

// WorkspaceSettings changes the workspace; empty fields keep their value.
type WorkspaceSettings struct {
	Plan      string `json:"plan,omitempty"`
	SeatModel string `json:"seatModel,omitempty"`
	Seats     *Seats `json:"seats,omitempty"`
}

// ConfigureWorkspace sets the plan (enterprise, or any other plan name to
// make the Enterprise APIs refuse), the seat model and the seat limits.
func (s *Simulator) ConfigureWorkspace(ws WorkspaceSettings) error {
	if ws.Plan != "" && !validPlan(ws.Plan) {
		return fmt.Errorf("workspace: bad plan %q", ws.Plan)
	}
	if ws.SeatModel != "" && ws.SeatModel != SeatModelWorkspace && ws.SeatModel != SeatModelLegacy {
		return fmt.Errorf("workspace: seatModel must be workspace or legacy, not %q", ws.SeatModel)
	}
	if ws.Seats != nil && (ws.Seats.Full < 0 || ws.Seats.Limited < 0) {
		return errors.New("workspace: seats must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ws.Plan != "" {
		s.ent.plan = ws.Plan
	}
	if ws.SeatModel != "" {
		s.ent.seatModel = ws.SeatModel
	}
	if ws.Seats != nil {
		s.ent.seats = *ws.Seats
	}
	return nil
}

func (s *Simulator) checkNow() *seedCheck {
	c := &seedCheck{roles: s.ent.roles, siteOK: func(id string) bool { return s.sites[id] != nil }, emails: map[string]bool{}, ids: map[string]bool{}}
	for e := range s.ent.byEmail {
		c.emails[e] = true
	}
	for id := range s.ent.members {
		c.ids[id] = true
	}
	for id := range s.ent.invites {
		c.ids[id] = true
	}
	return c
}

// AddMember adds a member of any role (owners, guests and clients
// included) with its site grants, as the dashboard or history would. A
// native-SCIM user with the same address does not make it SCIM-managed;
// create the member through native SCIM for that.
func (s *Simulator) AddMember(sm SeedMember) (webflowdata.WorkspaceMember, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.buildMember(sm, now, s.checkNow())
	if err != nil {
		return webflowdata.WorkspaceMember{}, fmt.Errorf("add %w", err)
	}
	s.ent.addMember(m)
	for _, g := range sm.Sites {
		s.ent.setGrant(g.SiteID, m.id, grantOf(g.SiteRole, g.SiteRoleID))
	}
	return s.memberJSON(m), nil
}

// AcceptInvite turns a pending invite (by id, or by address) into a
// member with a new member id, as the invitee accepting it would. A
// site-list invite becomes grants on its sites; the invite leaves the
// list.
func (s *Simulator) AcceptInvite(idOrEmail, firstName, lastName string) (webflowdata.WorkspaceMember, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ent
	iv := e.invites[idOrEmail]
	if iv == nil && strings.Contains(idOrEmail, "@") {
		iv = e.pendingInvite(idOrEmail)
	}
	if iv == nil {
		return webflowdata.WorkspaceMember{}, fmt.Errorf("accept invite: no invite %q", idOrEmail)
	}
	if iv.status != webflowdata.InviteStatusPending {
		return webflowdata.WorkspaceMember{}, fmt.Errorf("accept invite %s: it is %s; only a pending invite can be accepted", iv.id, iv.status)
	}
	if e.byEmail[strings.ToLower(iv.email)] != nil {
		return webflowdata.WorkspaceMember{}, fmt.Errorf("accept invite %s: %s is already a member", iv.id, iv.email)
	}
	m := &wsMember{id: s.ids.objectID(now), email: iv.email, first: firstName, last: lastName,
		role: iv.role, siteRole: iv.siteRole, siteRoleID: iv.siteRoleID, addedOn: now}
	e.addMember(m)
	if !iv.allSites {
		for _, site := range iv.sites {
			e.setGrant(site, m.id, grantOf(iv.siteRole, iv.siteRoleID))
		}
	}
	delete(e.invites, iv.id)
	return s.memberJSON(m), nil
}

// SetInviteStatus declines or expires an invite (or makes it pending
// again).
func (s *Simulator) SetInviteStatus(inviteID, status string) error {
	switch status {
	case webflowdata.InviteStatusPending, webflowdata.InviteStatusDeclined, webflowdata.InviteStatusExpired:
	default:
		return fmt.Errorf("invite status must be pending, declined or expired, not %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	iv := s.ent.invites[inviteID]
	if iv == nil {
		return fmt.Errorf("set invite status: no invite %s", inviteID)
	}
	iv.status = status
	return nil
}

// SetMemberRole changes a member's roles out of band, as the dashboard
// would: any value of the read enums (owner, guest, a read-only site role),
// no pairing rule, no SCIM lock, no seat check.
func (s *Simulator) SetMemberRole(memberID, role, siteRole, siteRoleID string) error {
	if !webflowdata.IsKnownWorkspaceRole(role) || (siteRole != "" && !webflowdata.IsKnownSiteRole(siteRole)) {
		return fmt.Errorf("set member role: unknown role %q/%q", role, siteRole)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.ent.members[memberID]
	if m == nil {
		return fmt.Errorf("set member role: no member %s", memberID)
	}
	if siteRole == webflowdata.SiteRoleCustom && s.ent.roles[siteRoleID] == nil {
		return fmt.Errorf("set member role: unknown custom site role %q", siteRoleID)
	}
	applyRole(m, role, siteRole, siteRoleID)
	return nil
}

// RemoveWorkspaceMember removes a member out of band (no lock applies).
func (s *Simulator) RemoveWorkspaceMember(memberID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.ent.members[memberID]
	if m == nil {
		return fmt.Errorf("remove member: no member %s", memberID)
	}
	s.ent.removeMember(m)
	return nil
}

// SetSiteMemberRole grants or changes a member's explicit role on a site
// out of band (any site role of the read enum).
func (s *Simulator) SetSiteMemberRole(siteID, memberID, siteRole, siteRoleID string) error {
	if !webflowdata.IsKnownSiteRole(siteRole) {
		return fmt.Errorf("set site role: unknown site role %q", siteRole)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sites[siteID] == nil || s.ent.members[memberID] == nil {
		return fmt.Errorf("set site role: no site %s or member %s", siteID, memberID)
	}
	if siteRole == webflowdata.SiteRoleCustom && s.ent.roles[siteRoleID] == nil {
		return fmt.Errorf("set site role: unknown custom site role %q", siteRoleID)
	}
	s.ent.setGrant(siteID, memberID, grantOf(siteRole, siteRoleID))
	return nil
}

// RevokeSiteMember drops a member's explicit grant on a site out of band.
func (s *Simulator) RevokeSiteMember(siteID, memberID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sites[siteID] == nil || s.ent.members[memberID] == nil {
		return fmt.Errorf("revoke site role: no site %s or member %s", siteID, memberID)
	}
	delete(s.ent.grants[siteID], memberID)
	return nil
}

// SetSiteAccessDefault makes a site restricted or open to the workspace.
func (s *Simulator) SetSiteAccessDefault(siteID, access string) error {
	if access != SiteAccessRestricted && access != SiteAccessOpen {
		return fmt.Errorf("site access must be restricted or open, not %q", access)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sites[siteID] == nil {
		return fmt.Errorf("site access: no site %s", siteID)
	}
	if access == SiteAccessOpen {
		s.ent.open[siteID] = true
	} else {
		delete(s.ent.open, siteID)
		delete(s.ent.excluded, siteID)
	}
	return nil
}

// InjectBulkItemFault makes the next count bulk items naming id (member
// or invite) fail with internal_error, the one per-item code to retry.
func (s *Simulator) InjectBulkItemFault(id string, count int) {
	if count <= 0 {
		count = 1
	}
	s.mu.Lock()
	s.ent.itemFaults[id] += count
	s.mu.Unlock()
}

// WorkspaceInvitesTo counts the invitation emails workspace invites sent
// to the address (any case): a test's proof that a client invited once.
func (s *Simulator) WorkspaceInvitesTo(email string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ent.sentTo[strings.ToLower(email)]
}

// WorkspaceInviteEmails returns every invitation email sent, oldest first.
func (s *Simulator) WorkspaceInviteEmails() []WorkspaceInviteEmail {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]WorkspaceInviteEmail{}, s.ent.sent...)
}

// SnapshotMember is a member with what the API does not show.
type SnapshotMember struct {
	webflowdata.WorkspaceMember
	SiteRoleID  string `json:"siteRoleId,omitempty"` // the default custom role's id
	SCIMManaged bool   `json:"scimManaged"`
	SCIMID      string `json:"scimId,omitempty"`
}

// SnapshotSiteMember is one person's access to a site; Implicit marks
// access that comes from the workspace role or an open site, not a grant.
type SnapshotSiteMember struct {
	webflowdata.SiteMember
	Implicit bool `json:"implicit"`
}

// SnapshotSite is a site's Site Access.
type SnapshotSite struct {
	ID      string               `json:"id"`
	Access  string               `json:"access"`
	Members []SnapshotSiteMember `json:"members"`
}

// SnapshotCustomRole is a custom Site Role.
type SnapshotCustomRole struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	ClientEligible bool   `json:"clientEligible"`
}

// WorkspaceSnapshot is the Enterprise side of the simulator.
type WorkspaceSnapshot struct {
	ID          string                        `json:"id"`
	Plan        string                        `json:"plan"`
	SeatModel   string                        `json:"seatModel"`
	Seats       Seats                         `json:"seats"`
	CustomRoles []SnapshotCustomRole          `json:"customRoles"`
	Members     []SnapshotMember              `json:"members"`
	Invites     []webflowdata.WorkspaceInvite `json:"invites"`
	Sites       []SnapshotSite                `json:"sites"`
	InvitesSent int                           `json:"invitesSent"`
}

// Workspace returns the members (in list order), invites, custom roles
// and every site's effective access (explicit and implicit, whatever the
// SiteListImplicit reading).
func (s *Simulator) Workspace() WorkspaceSnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.ent
	out := WorkspaceSnapshot{ID: s.workspace.ID, Plan: e.plan, SeatModel: e.seatModel, Seats: e.seats,
		CustomRoles: []SnapshotCustomRole{}, Members: []SnapshotMember{}, Invites: []webflowdata.WorkspaceInvite{},
		Sites: []SnapshotSite{}, InvitesSent: len(e.sent)}
	for _, id := range e.roleOrder {
		r := e.roles[id]
		out.CustomRoles = append(out.CustomRoles, SnapshotCustomRole{ID: r.id, Name: r.name, ClientEligible: r.clientEligible})
	}
	members := e.orderedMembers()
	for _, m := range members {
		out.Members = append(out.Members, SnapshotMember{WorkspaceMember: s.memberJSON(m), SiteRoleID: m.siteRoleID, SCIMManaged: m.locked(), SCIMID: m.scimID})
	}
	for _, iv := range e.orderedInvites() {
		out.Invites = append(out.Invites, inviteJSON(iv))
	}
	for _, id := range s.siteOrder {
		ss := SnapshotSite{ID: id, Access: SiteAccessRestricted, Members: []SnapshotSiteMember{}}
		if e.open[id] {
			ss.Access = SiteAccessOpen
		}
		for _, m := range members {
			if g, implicit, ok := e.siteAccessOf(id, m); ok {
				ss.Members = append(ss.Members, SnapshotSiteMember{SiteMember: siteMemberJSON(m, g), Implicit: implicit})
			}
		}
		out.Sites = append(out.Sites, ss)
	}
	return out
}

// SetSCIMLock sets (locked) or lifts the SCIM lock on a member, by id or
// address: whether Webflow answers workspace_member_managed_by_scim to its
// role writes (and, under the scimLocksSiteAccess reading, its Site
// Access writes), whatever native SCIM provisioned. Tests use it to show
// a lock recorded and a later unlock applied.
func (s *Simulator) SetSCIMLock(idOrEmail string, locked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.ent.members[idOrEmail]
	if m == nil {
		m = s.ent.byEmail[strings.ToLower(idOrEmail)]
	}
	if m == nil {
		return fmt.Errorf("scim lock: no member %q", idOrEmail)
	}
	m.lock = -1
	if locked {
		m.lock = 1
	}
	return nil
}

// MemberByEmail returns the member with the address (any case).
func (s *Simulator) MemberByEmail(email string) (SnapshotMember, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.ent.byEmail[strings.ToLower(email)]
	if m == nil {
		return SnapshotMember{}, false
	}
	return SnapshotMember{WorkspaceMember: s.memberJSON(m), SiteRoleID: m.siteRoleID, SCIMManaged: m.locked(), SCIMID: m.scimID}, true
}

// SiteAccess returns a member's access to a site: the role (and custom
// id), whether it is implicit, and whether there is any.
func (s *Simulator) SiteAccess(siteID, memberID string) (role, roleID string, implicit, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.ent.members[memberID]
	if m == nil {
		return "", "", false, false
	}
	g, implicit, ok := s.ent.siteAccessOf(siteID, m)
	return g.role, g.roleID, implicit, ok
}

// Invite returns an invite by id.
func (s *Simulator) Invite(id string) (webflowdata.WorkspaceInvite, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	iv := s.ent.invites[id]
	if iv == nil {
		return webflowdata.WorkspaceInvite{}, false
	}
	return inviteJSON(iv), true
}

// serveEnterpriseAdmin handles the Enterprise admin routes; false means
// the route is not one of them.
func (s *Simulator) serveEnterpriseAdmin(w http.ResponseWriter, r *http.Request, seg []string) bool {
	m := r.Method
	ok := func(status int, v any, err error) {
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		if v == nil {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, v)
	}
	is := func(parts ...string) bool {
		if len(parts) != len(seg) {
			return false
		}
		for i, p := range parts {
			if p != "*" && p != seg[i] {
				return false
			}
		}
		return true
	}
	switch {
	case is("readings") && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Readings())
	case is("readings") && m == http.MethodPut:
		rd := s.Readings() // a partial object changes only what it names
		if !adminDecode(w, r, &rd) {
			return true
		}
		ok(http.StatusNoContent, nil, s.SetReadings(rd))
	case is("workspace") && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Workspace())
	case is("workspace") && m == http.MethodPut:
		var ws WorkspaceSettings
		if adminDecode(w, r, &ws) {
			ok(http.StatusNoContent, nil, s.ConfigureWorkspace(ws))
		}
	case is("workspace", "members") && m == http.MethodPost:
		var sm SeedMember
		if adminDecode(w, r, &sm) {
			mem, err := s.AddMember(sm)
			ok(http.StatusCreated, mem, err)
		}
	case is("workspace", "members", "*", "role") && m == http.MethodPut:
		var b struct {
			Role       string `json:"role"`
			SiteRole   string `json:"siteRole"`
			SiteRoleID string `json:"siteRoleId"`
		}
		if adminDecode(w, r, &b) {
			ok(http.StatusNoContent, nil, s.SetMemberRole(seg[2], b.Role, b.SiteRole, b.SiteRoleID))
		}
	case is("workspace", "members", "*", "scim-lock") && m == http.MethodPut:
		var b struct {
			Locked bool `json:"locked"`
		}
		if adminDecode(w, r, &b) {
			ok(http.StatusNoContent, nil, s.SetSCIMLock(seg[2], b.Locked))
		}
	case is("workspace", "members", "*") && m == http.MethodDelete:
		if err := s.RemoveWorkspaceMember(seg[2]); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	case is("workspace", "invites", "*", "accept") && m == http.MethodPost:
		var b struct {
			FirstName string `json:"firstName"`
			LastName  string `json:"lastName"`
		}
		if !adminDecodeOptional(w, r, &b) {
			return true
		}
		mem, err := s.AcceptInvite(seg[2], b.FirstName, b.LastName)
		if err != nil {
			adminError(w, http.StatusConflict, err.Error())
			return true
		}
		writeJSON(w, http.StatusOK, mem)
	case is("workspace", "invites", "*") && m == http.MethodPut:
		var b struct {
			Status string `json:"status"`
		}
		if adminDecode(w, r, &b) {
			ok(http.StatusNoContent, nil, s.SetInviteStatus(seg[2], b.Status))
		}
	case is("workspace", "invite-emails") && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"emails": s.WorkspaceInviteEmails()})
	case is("workspace", "item-faults") && m == http.MethodPost:
		var b struct {
			ID    string `json:"id"`
			Count int    `json:"count"`
		}
		if !adminDecode(w, r, &b) {
			return true
		}
		if b.ID == "" {
			adminError(w, http.StatusBadRequest, "id is required")
			return true
		}
		s.InjectBulkItemFault(b.ID, b.Count)
		w.WriteHeader(http.StatusNoContent)
	case is("sites", "*", "members", "*") && m == http.MethodPut:
		var b struct {
			SiteRole   string `json:"siteRole"`
			SiteRoleID string `json:"siteRoleId"`
		}
		if adminDecode(w, r, &b) {
			ok(http.StatusNoContent, nil, s.SetSiteMemberRole(seg[1], seg[3], b.SiteRole, b.SiteRoleID))
		}
	case is("sites", "*", "members", "*") && m == http.MethodDelete:
		ok(http.StatusNoContent, nil, s.RevokeSiteMember(seg[1], seg[3]))
	case is("sites", "*", "access") && m == http.MethodPut:
		var b struct {
			Access string `json:"access"`
		}
		if adminDecode(w, r, &b) {
			ok(http.StatusNoContent, nil, s.SetSiteAccessDefault(seg[1], b.Access))
		}
	default:
		return false
	}
	return true
}

// adminDecodeOptional is adminDecode for a body that may be empty.
func adminDecodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		adminError(w, http.StatusBadRequest, "read body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}
