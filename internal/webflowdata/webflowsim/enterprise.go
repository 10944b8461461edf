package webflowsim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// The workspace's Enterprise side: members, invites, custom site roles
// and per-site access. It lives under Simulator.mu with the sites, since
// Site Access writes touch both.

// Workspace plans and seat models.
const (
	PlanEnterprise     = "enterprise"
	SeatModelWorkspace = "workspace"
	// SeatModelLegacy is a workspace not on Workspace seats: Webflow then
	// leaves roles.site out of a WorkspaceMember.
	SeatModelLegacy = "legacy"
)

// Seats bounds the paid seats; 0 means unlimited. A role write that needs
// a seat of a kind that is full is refused with cannot_update_user_role.
type Seats struct {
	Full    int `json:"full,omitempty"`
	Limited int `json:"limited,omitempty"`
}

type customRole struct {
	id, name       string
	clientEligible bool
}

// wsMember is a workspace member. siteRole is the default site role.
type wsMember struct {
	id, email, first, last     string
	role, siteRole, siteRoleID string
	addedOn                    time.Time // zero: unknown (null)
	scimID                     string    // set: provisioned by native SCIM, role writes are locked
	seq                        int64     // list order and cursor position
	// lock overrides the SCIM lock (SetSCIMLock): 0 follows scimID, 1
	// locks, -1 lifts it, as an admin moving the member off native SCIM
	// management would.
	lock int8
}

// locked reports whether Webflow refuses role writes for m
// (workspace_member_managed_by_scim).
func (m *wsMember) locked() bool {
	switch m.lock {
	case 1:
		return true
	case -1:
		return false
	}
	return m.scimID != ""
}

type wsInvite struct {
	id, email, role      string
	created              time.Time
	status               string
	sites                []string
	allSites             bool
	siteRole, siteRoleID string // defaultSiteRole, or the one role of siteAccess
	seq                  int64
}

type siteGrant struct{ role, roleID string }

type entState struct {
	plan      string
	seatModel string
	seats     Seats
	roles     map[string]*customRole
	roleOrder []string

	members map[string]*wsMember
	byEmail map[string]*wsMember // lower-cased address
	bySCIM  map[string]*wsMember
	invites map[string]*wsInvite
	seq     int64

	grants   map[string]map[string]siteGrant // site -> member -> explicit grant
	open     map[string]bool                 // site open to the whole workspace
	excluded map[string]map[string]bool      // site -> member: removed from an open site

	itemFaults map[string]int // bulk item id -> failures left (internal_error)
	sent       []WorkspaceInviteEmail
	sentTo     map[string]int
}

func newEntState() *entState {
	return &entState{
		plan: PlanEnterprise, seatModel: SeatModelWorkspace,
		roles: map[string]*customRole{}, members: map[string]*wsMember{}, byEmail: map[string]*wsMember{},
		bySCIM: map[string]*wsMember{}, invites: map[string]*wsInvite{},
		grants: map[string]map[string]siteGrant{}, open: map[string]bool{}, excluded: map[string]map[string]bool{},
		itemFaults: map[string]int{}, sentTo: map[string]int{},
	}
}

// WorkspaceInviteEmail is one invitation email a workspace invite sent.
type WorkspaceInviteEmail struct {
	InviteID string    `json:"inviteId"`
	Email    string    `json:"email"`
	Role     string    `json:"role"`
	At       time.Time `json:"at"`
}

func (e *entState) next() int64 { e.seq++; return e.seq }

func (e *entState) orderedMembers() []*wsMember {
	out := make([]*wsMember, 0, len(e.members))
	for _, m := range e.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *wsMember) int { return cmpInt64(a.seq, b.seq) })
	return out
}

func (e *entState) orderedInvites() []*wsInvite {
	out := make([]*wsInvite, 0, len(e.invites))
	for _, iv := range e.invites {
		out = append(out, iv)
	}
	slices.SortFunc(out, func(a, b *wsInvite) int { return cmpInt64(a.seq, b.seq) })
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// memberByEmail finds the member with this address; exact also requires
// the stored case.
func (e *entState) memberByEmail(email string, exact bool) *wsMember {
	m := e.byEmail[strings.ToLower(email)]
	if m == nil || (exact && m.email != email) {
		return nil
	}
	return m
}

// pendingInvite returns the pending invite for the address (any case).
func (e *entState) pendingInvite(email string) *wsInvite {
	for _, iv := range e.orderedInvites() {
		if iv.status == webflowdata.InviteStatusPending && strings.EqualFold(iv.email, email) {
			return iv
		}
	}
	return nil
}

// closedInvite is a declined or expired invite of the address, if any.
func (e *entState) closedInvite(email string) *wsInvite {
	for _, iv := range e.orderedInvites() {
		if iv.status != webflowdata.InviteStatusPending && strings.EqualFold(iv.email, email) {
			return iv
		}
	}
	return nil
}

func (e *entState) addMember(m *wsMember) {
	m.seq = e.next()
	e.members[m.id] = m
	e.byEmail[strings.ToLower(m.email)] = m
	if m.scimID != "" {
		e.bySCIM[m.scimID] = m
	}
}

// removeMember drops the member and everything it held on sites.
func (e *entState) removeMember(m *wsMember) {
	delete(e.members, m.id)
	if e.byEmail[strings.ToLower(m.email)] == m {
		delete(e.byEmail, strings.ToLower(m.email))
	}
	if m.scimID != "" {
		delete(e.bySCIM, m.scimID)
	}
	for _, g := range e.grants {
		delete(g, m.id)
	}
	for _, x := range e.excluded {
		delete(x, m.id)
	}
}

func (e *entState) setGrant(siteID, memberID string, g siteGrant) {
	if e.grants[siteID] == nil {
		e.grants[siteID] = map[string]siteGrant{}
	}
	e.grants[siteID][memberID] = g
	delete(e.excluded[siteID], memberID)
}

// siteAccessOf is a member's access to a site: the role, whether it is
// implicit (owner/admin everywhere; members and reviewers on an open site)
// and whether there is any.
func (e *entState) siteAccessOf(siteID string, m *wsMember) (g siteGrant, implicit, ok bool) {
	switch m.role {
	case webflowdata.WorkspaceRoleOwner, webflowdata.WorkspaceRoleAdmin:
		return siteGrant{role: webflowdata.SiteRoleSiteManager}, true, true
	}
	if g, ok := e.grants[siteID][m.id]; ok {
		return g, false, true
	}
	if e.open[siteID] && !e.excluded[siteID][m.id] && (m.role == webflowdata.WorkspaceRoleMember || m.role == webflowdata.WorkspaceRoleReviewer) {
		return siteGrant{role: m.siteRole, roleID: m.siteRoleID}, true, true
	}
	return siteGrant{}, false, false
}

// seatOf is the seat a (workspace role, default site role) pair takes.
func seatOf(role, siteRole string) string {
	switch role {
	case webflowdata.WorkspaceRoleOwner, webflowdata.WorkspaceRoleAdmin:
		return "full"
	case webflowdata.WorkspaceRoleMember:
		if siteRole == webflowdata.SiteRoleMarketer || siteRole == webflowdata.SiteRoleContentEditor {
			return "limited"
		}
		return "full" // site manager, designer and custom roles
	case webflowdata.WorkspaceRoleReviewer:
		return "free"
	}
	return ""
}

// seatFree reports whether m may move to the pair without exceeding the
// seats (m's own seat counts as free).
func (e *entState) seatFree(m *wsMember, role, siteRole string) bool {
	want := seatOf(role, siteRole)
	limit := 0
	switch want {
	case "full":
		limit = e.seats.Full
	case "limited":
		limit = e.seats.Limited
	}
	if limit <= 0 {
		return true
	}
	n := 0
	for _, x := range e.members {
		if x != m && seatOf(x.role, x.siteRole) == want {
			n++
		}
	}
	return n < limit
}

// pairProblem checks a (workspace role, default site role, custom id)
// write against §2.1-2.2. It returns the per-item code and a message, or
// "" when the pair is allowed. Values outside the enums are the caller's
// validation_error.
func (e *entState) pairProblem(role, siteRole, siteRoleID string) (string, string) {
	if !webflowdata.IsWritableWorkspaceRole(role) {
		return webflowdata.CodeInvalidWorkspaceRole, "Workspace role '" + role + "' cannot be written; use admin, member or reviewer"
	}
	if !webflowdata.IsWritableSiteRole(siteRole) {
		return webflowdata.CodeInvalidSiteRole, "Site role '" + siteRole + "' is read-only"
	}
	if !webflowdata.AllowedRolePair(role, siteRole) {
		return webflowdata.CodeInvalidSiteRole, "'" + role + "' cannot be paired with default site role '" + siteRole + "'"
	}
	return e.customIDProblem(siteRole, siteRoleID, false)
}

// customIDProblem checks the custom role id rule: required with custom,
// rejected otherwise, and it must name this workspace's custom role
// (client-eligible when forClient).
func (e *entState) customIDProblem(siteRole, siteRoleID string, forClient bool) (string, string) {
	if siteRole != webflowdata.SiteRoleCustom {
		if siteRoleID != "" {
			return webflowdata.CodeInvalidSiteRole, "A site role id is only accepted with siteRole custom"
		}
		return "", ""
	}
	r := e.roles[siteRoleID]
	if siteRoleID == "" || r == nil {
		return webflowdata.CodeInvalidSiteRole, "siteRole custom needs the id of a custom Site Role of this workspace"
	}
	if forClient && !r.clientEligible {
		return webflowdata.CodeInvalidSiteRole, "The custom Site Role '" + r.name + "' is not client-eligible"
	}
	return "", ""
}

// siteRoleProblem checks a per-site role for a member's workspace role.
func (e *entState) siteRoleProblem(m *wsMember, siteRole, siteRoleID string) (string, string) {
	if !webflowdata.IsWritableSiteRole(siteRole) {
		return webflowdata.CodeInvalidSiteRole, "Site role '" + siteRole + "' is read-only"
	}
	ok := true
	switch m.role {
	case webflowdata.WorkspaceRoleReviewer:
		ok = siteRole == webflowdata.SiteRoleReviewer
	case webflowdata.WorkspaceRoleGuest:
		ok = siteRole == webflowdata.SiteRoleSiteManager || siteRole == webflowdata.SiteRoleDesigner
	case webflowdata.WorkspaceRoleClient:
		ok = siteRole == webflowdata.SiteRoleMarketer || siteRole == webflowdata.SiteRoleContentEditor ||
			siteRole == webflowdata.SiteRoleReviewer || siteRole == webflowdata.SiteRoleCustom
	}
	if !ok {
		return webflowdata.CodeInvalidSiteRole, "A workspace " + m.role + " cannot hold site role '" + siteRole + "'"
	}
	return e.customIDProblem(siteRole, siteRoleID, m.role == webflowdata.WorkspaceRoleClient)
}

// render helpers. Owners and admins show site_manager on every site.

func (s *Simulator) memberJSON(m *wsMember) webflowdata.WorkspaceMember {
	out := webflowdata.WorkspaceMember{
		ID: m.id, Email: m.email, FirstName: m.first, LastName: m.last,
		Roles: webflowdata.MemberRoles{Workspace: m.role, Site: m.siteRole},
	}
	if s.ent.seatModel == SeatModelLegacy {
		out.Roles.Site = ""
	}
	if !m.addedOn.IsZero() {
		out.AddedOn = webflowdata.NewTime(m.addedOn)
	}
	return out
}

func inviteJSON(iv *wsInvite) webflowdata.WorkspaceInvite {
	return webflowdata.WorkspaceInvite{
		ID: iv.id, Email: iv.email, Role: iv.role, CreatedOn: webflowdata.NewTime(iv.created), Status: iv.status,
		Sites: append([]string{}, iv.sites...), AllSites: iv.allSites,
		DefaultSiteRole: iv.siteRole, DefaultSiteRoleID: iv.siteRoleID,
	}
}

func siteMemberJSON(m *wsMember, g siteGrant) webflowdata.SiteMember {
	return webflowdata.SiteMember{
		ID: m.id, Email: m.email, FirstName: m.first, LastName: m.last,
		Roles: webflowdata.MemberRoles{Workspace: m.role, Site: g.role, SiteRoleID: g.roleID},
	}
}

// --- seeding ---

// SeedCustomRole is a custom Site Role. No endpoint lists them: the bridge
// takes their ids from configuration.
type SeedCustomRole struct {
	ID             string `json:"id,omitempty"`
	Name           string `json:"name"`
	ClientEligible bool   `json:"clientEligible,omitempty"`
}

// SeedSiteGrant is an explicit per-site role.
type SeedSiteGrant struct {
	SiteID     string `json:"siteId"`
	SiteRole   string `json:"siteRole"`
	SiteRoleID string `json:"siteRoleId,omitempty"`
}

// SeedMember is a workspace member, of any role (owners, guests and
// clients only come from seeding or the admin API). A native-SCIM seed
// user with the same address makes the member SCIM-managed.
type SeedMember struct {
	ID         string           `json:"id,omitempty"`
	Email      string           `json:"email"`
	FirstName  string           `json:"firstName,omitempty"`
	LastName   string           `json:"lastName,omitempty"`
	Role       string           `json:"role"`
	SiteRole   string           `json:"siteRole,omitempty"`
	SiteRoleID string           `json:"siteRoleId,omitempty"`
	AddedOn    webflowdata.Time `json:"addedOn,omitempty"`
	Sites      []SeedSiteGrant  `json:"sites,omitempty"`
}

// SeedInvite is a workspace invite (status default pending). Sites empty
// means a workspace-wide invite with DefaultSiteRole.
type SeedInvite struct {
	ID                string           `json:"id,omitempty"`
	Email             string           `json:"email"`
	Role              string           `json:"role"`
	Status            string           `json:"status,omitempty"`
	Sites             []string         `json:"sites,omitempty"`
	DefaultSiteRole   string           `json:"defaultSiteRole,omitempty"`
	DefaultSiteRoleID string           `json:"defaultSiteRoleId,omitempty"`
	CreatedOn         webflowdata.Time `json:"createdOn,omitempty"`
}

// entSeed is a validated enterprise seed, ready to commit.
type entSeed struct {
	ws      SeedWorkspace
	roles   []*customRole
	members []*wsMember
	grants  [][]SeedSiteGrant
	invites []*wsInvite
	open    []string
}

// seedCheck carries what a seed may refer to while it is validated:
// custom roles and sites that exist or come with the same seed, and the
// addresses and ids already taken.
type seedCheck struct {
	roles  map[string]*customRole
	siteOK func(string) bool
	emails map[string]bool
	ids    map[string]bool
}

func (c *seedCheck) role(id string) *customRole { return c.roles[id] }

// buildMember validates a seed or admin member against the read enums
// (not the write rules: the dashboard and history can hold any of them).
func (s *Simulator) buildMember(sm SeedMember, now time.Time, c *seedCheck) (*wsMember, error) {
	if !validEmail(sm.Email) {
		return nil, fmt.Errorf("member %q: invalid email", sm.Email)
	}
	if c.emails[strings.ToLower(sm.Email)] {
		return nil, fmt.Errorf("member %q: duplicate email", sm.Email)
	}
	if !webflowdata.IsKnownWorkspaceRole(sm.Role) {
		return nil, fmt.Errorf("member %q: unknown workspace role %q", sm.Email, sm.Role)
	}
	if sm.SiteRole != "" && !webflowdata.IsKnownSiteRole(sm.SiteRole) {
		return nil, fmt.Errorf("member %q: unknown site role %q", sm.Email, sm.SiteRole)
	}
	if sm.SiteRole == webflowdata.SiteRoleCustom && c.role(sm.SiteRoleID) == nil {
		return nil, fmt.Errorf("member %q: unknown custom site role %q", sm.Email, sm.SiteRoleID)
	}
	id := sm.ID
	if id == "" {
		id = s.ids.objectID(now)
	}
	if !isObjectID(id) || c.ids[id] {
		return nil, fmt.Errorf("member %q: bad or duplicate id %q", sm.Email, id)
	}
	for _, g := range sm.Sites {
		if !c.siteOK(g.SiteID) {
			return nil, fmt.Errorf("member %q: unknown site %s", sm.Email, g.SiteID)
		}
		if !webflowdata.IsKnownSiteRole(g.SiteRole) || (g.SiteRole == webflowdata.SiteRoleCustom && c.role(g.SiteRoleID) == nil) {
			return nil, fmt.Errorf("member %q: bad site role %q on %s", sm.Email, g.SiteRole, g.SiteID)
		}
	}
	c.emails[strings.ToLower(sm.Email)] = true
	c.ids[id] = true
	m := &wsMember{id: id, email: sm.Email, first: sm.FirstName, last: sm.LastName, role: sm.Role, siteRole: sm.SiteRole, addedOn: sm.AddedOn.Time}
	if sm.SiteRole == webflowdata.SiteRoleCustom {
		m.siteRoleID = sm.SiteRoleID
	}
	return m, nil
}

func (s *Simulator) buildInvite(si SeedInvite, now time.Time, c *seedCheck) (*wsInvite, error) {
	if !validEmail(si.Email) {
		return nil, fmt.Errorf("invite %q: invalid email", si.Email)
	}
	if !webflowdata.IsKnownWorkspaceRole(si.Role) {
		return nil, fmt.Errorf("invite %q: unknown role %q", si.Email, si.Role)
	}
	st := si.Status
	if st == "" {
		st = webflowdata.InviteStatusPending
	}
	if st != webflowdata.InviteStatusPending && st != webflowdata.InviteStatusDeclined && st != webflowdata.InviteStatusExpired {
		return nil, fmt.Errorf("invite %q: unknown status %q", si.Email, st)
	}
	if si.DefaultSiteRole != "" && !webflowdata.IsKnownSiteRole(si.DefaultSiteRole) {
		return nil, fmt.Errorf("invite %q: unknown site role %q", si.Email, si.DefaultSiteRole)
	}
	if si.DefaultSiteRole == webflowdata.SiteRoleCustom && c.role(si.DefaultSiteRoleID) == nil {
		return nil, fmt.Errorf("invite %q: unknown custom site role %q", si.Email, si.DefaultSiteRoleID)
	}
	for _, id := range si.Sites {
		if !c.siteOK(id) {
			return nil, fmt.Errorf("invite %q: unknown site %s", si.Email, id)
		}
	}
	id := si.ID
	if id == "" {
		id = s.ids.objectID(now)
	}
	if !isObjectID(id) || c.ids[id] {
		return nil, fmt.Errorf("invite %q: bad or duplicate id %q", si.Email, id)
	}
	c.ids[id] = true
	created := si.CreatedOn.Time
	if created.IsZero() {
		created = now
	}
	iv := &wsInvite{id: id, email: si.Email, role: si.Role, created: created, status: st,
		sites: append([]string{}, si.Sites...), allSites: len(si.Sites) == 0,
		siteRole: si.DefaultSiteRole}
	if si.DefaultSiteRole == webflowdata.SiteRoleCustom {
		iv.siteRoleID = si.DefaultSiteRoleID
	}
	return iv, nil
}

// planEnterpriseSeed validates the seed's workspace settings, custom
// roles, members, invites and open sites without changing anything.
// Caller holds s.mu; siteOK also accepts the seed's own new sites.
func (s *Simulator) planEnterpriseSeed(ws SeedWorkspace, access map[string]string, siteOK func(string) bool, now time.Time) (*entSeed, error) {
	if ws.Plan != "" && !validPlan(ws.Plan) {
		return nil, fmt.Errorf("seed workspace: plan %q (want enterprise or another plan name without spaces)", ws.Plan)
	}
	if ws.SeatModel != "" && ws.SeatModel != SeatModelWorkspace && ws.SeatModel != SeatModelLegacy {
		return nil, fmt.Errorf("seed workspace: seatModel must be workspace or legacy, not %q", ws.SeatModel)
	}
	c := &seedCheck{roles: maps2(s.ent.roles), siteOK: siteOK, emails: map[string]bool{}, ids: map[string]bool{}}
	for e := range s.ent.byEmail {
		c.emails[e] = true
	}
	for id := range s.ent.members {
		c.ids[id] = true
	}
	for id := range s.ent.invites {
		c.ids[id] = true
	}
	p := &entSeed{ws: ws}
	for i, r := range ws.CustomRoles {
		id := r.ID
		if id == "" {
			id = s.ids.objectID(now)
		}
		if !isObjectID(id) || r.Name == "" || c.roles[id] != nil {
			return nil, fmt.Errorf("seed custom role %d: needs a name and a new 24-hex id", i)
		}
		cr := &customRole{id: id, name: r.Name, clientEligible: r.ClientEligible}
		c.roles[id] = cr
		p.roles = append(p.roles, cr)
	}
	for _, sm := range ws.Members {
		m, err := s.buildMember(sm, now, c)
		if err != nil {
			return nil, fmt.Errorf("seed %w", err)
		}
		p.members = append(p.members, m)
		p.grants = append(p.grants, sm.Sites)
	}
	for _, si := range ws.Invites {
		iv, err := s.buildInvite(si, now, c)
		if err != nil {
			return nil, fmt.Errorf("seed %w", err)
		}
		p.invites = append(p.invites, iv)
	}
	for id, a := range access {
		switch a {
		case "", SiteAccessRestricted:
		case SiteAccessOpen:
			p.open = append(p.open, id)
		default:
			return nil, fmt.Errorf("seed site %s: access must be restricted or open, not %q", id, a)
		}
	}
	return p, nil
}

func validPlan(p string) bool { return p != "" && !strings.ContainsAny(p, " \t\n") }

// commitEnterpriseSeed applies a planned seed. Caller holds s.mu.
func (s *Simulator) commitEnterpriseSeed(p *entSeed) {
	if p.ws.Plan != "" {
		s.ent.plan = p.ws.Plan
	}
	if p.ws.SeatModel != "" {
		s.ent.seatModel = p.ws.SeatModel
	}
	if p.ws.Seats != nil {
		s.ent.seats = *p.ws.Seats
	}
	for _, r := range p.roles {
		s.ent.roles[r.id] = r
		s.ent.roleOrder = append(s.ent.roleOrder, r.id)
	}
	for i, m := range p.members {
		s.ent.addMember(m)
		for _, g := range p.grants[i] {
			gr := siteGrant{role: g.SiteRole}
			if g.SiteRole == webflowdata.SiteRoleCustom {
				gr.roleID = g.SiteRoleID
			}
			s.ent.setGrant(g.SiteID, m.id, gr)
		}
	}
	for _, iv := range p.invites {
		iv.seq = s.ent.next()
		s.ent.invites[iv.id] = iv
	}
	for _, id := range p.open {
		s.ent.open[id] = true
	}
}

func maps2[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Site access defaults (SeedSite.Access).
const (
	SiteAccessRestricted = "restricted"
	SiteAccessOpen       = "open"
)

// SCIMDefaultRole and SCIMDefaultSiteRole are what a collaborator
// provisioned by native SCIM gets: Webflow's SCIM cannot assign roles, and
// which role it gives is not documented; a content-editor member is the
// least-privileged paid role of a collaborator.
const (
	SCIMDefaultRole     = webflowdata.WorkspaceRoleMember
	SCIMDefaultSiteRole = webflowdata.SiteRoleContentEditor
)

// syncSCIMMember makes the workspace member of a native-SCIM user follow
// it: an active user is a member (linked by address to an existing one,
// else a new content-editor member), SCIM-managed and so locked against
// role writes; a deactivated or deleted user is no member any more, and
// reactivation adds them again with a new member id, as Webflow reports
// a re-add. It reads the user's current state, so concurrent SCIM writes
// converge whatever order their syncs run in.
func (s *Simulator) syncSCIMMember(scimID string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncSCIMMemberLocked(scimID, now)
}

// syncSCIMMemberLocked needs s.mu held; it takes scim.mu inside it (the
// same order as LoadSeed).
func (s *Simulator) syncSCIMMemberLocked(scimID string, now time.Time) {
	s.scim.mu.RLock()
	u := s.scim.byID[scimID]
	var email, first, last string
	active := false
	if u != nil {
		active, first, last = u.active, u.givenName, u.familyName
		email = u.userName
		for i, e := range u.emails {
			if i == 0 || e.Primary {
				email = e.Value
			}
			if e.Primary {
				break
			}
		}
	}
	s.scim.mu.RUnlock()
	e := s.ent
	m := e.bySCIM[scimID]
	if u == nil || !active || !validEmail(email) {
		if m != nil {
			e.removeMember(m)
		}
		return
	}
	if m == nil {
		x := e.byEmail[strings.ToLower(email)]
		switch {
		case x == nil:
			e.addMember(&wsMember{id: s.ids.objectID(now), email: email, first: first, last: last,
				role: SCIMDefaultRole, siteRole: SCIMDefaultSiteRole, addedOn: now, scimID: scimID})
			return
		case x.scimID != "":
			return // the address belongs to another SCIM user's member
		}
		x.scimID = scimID
		e.bySCIM[scimID] = x
		m = x
	}
	if key := strings.ToLower(email); key != strings.ToLower(m.email) {
		if e.byEmail[key] != nil {
			return // the new address is another member's
		}
		delete(e.byEmail, strings.ToLower(m.email))
		e.byEmail[key] = m
	}
	m.email = email
	if first != "" || last != "" {
		m.first, m.last = first, last
	}
}
