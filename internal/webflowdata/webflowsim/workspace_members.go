package webflowsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Scopes of the Enterprise APIs.
const (
	scopeMembersRead     = "workspace_members:read"
	scopeMembersWrite    = "workspace_members:write"
	scopeSiteAccessRead  = "site_access:read"
	scopeSiteAccessWrite = "site_access:write"
)

const (
	msgWorkspaceNotFound = "Requested resource not found: The workspace cannot be found"
	msgMemberNotFound    = "Requested resource not found: The workspace member cannot be found"
	msgInviteNotFound    = "Requested resource not found: The workspace invite cannot be found"
	msgNotEnterprise     = "This endpoint requires an Enterprise workspace"
	msgWorkspaceToken    = "This endpoint requires a workspace API token"
	msgItemInternal      = "The update failed for a reason unrelated to the request; retry it."
	msgCannotUpdateRole  = "This member's role cannot be changed through the API"
)

// memberListDefault is the documented default page size of both cursor
// lists; the maximum is webflowdata.MemberPageLimit.
const memberListDefault = 50

// genericCode is what a specific code becomes under ErrorCodes "generic".
func genericCode(code string) string {
	switch code {
	case webflowdata.CodeWorkspaceMemberNotFound, webflowdata.CodeWorkspaceInviteNotFound:
		return webflowdata.CodeResourceNotFound
	case webflowdata.CodeMemberManagedBySCIM, webflowdata.CodeCannotUpdateUserRole:
		return webflowdata.CodeConflict
	case webflowdata.CodeInvalidWorkspaceRole, webflowdata.CodeInvalidSiteRole:
		return webflowdata.CodeValidationError
	}
	return code
}

// entErr writes an error of a single-item Enterprise endpoint, under the
// ErrorCodes reading.
func entErr(w http.ResponseWriter, rd Readings, status int, code, msg string) {
	if rd.ErrorCodes == ErrorCodesGeneric {
		code = genericCode(code)
	}
	writeError(w, status, code, msg)
}

// statusFor maps a per-item code to the status a single-item endpoint
// answers it with.
func statusFor(code string) int {
	switch code {
	case webflowdata.CodeWorkspaceMemberNotFound, webflowdata.CodeWorkspaceInviteNotFound:
		return http.StatusNotFound
	case webflowdata.CodeInvalidWorkspaceRole, webflowdata.CodeInvalidSiteRole, webflowdata.CodeValidationError:
		return http.StatusBadRequest
	}
	return http.StatusConflict
}

func createdStatus(rd Readings) int {
	if rd.SuccessCodes == SuccessCodesOK {
		return http.StatusOK
	}
	return http.StatusCreated
}

// writeDeleted answers a successful remove or revoke: 204, or 200 with an
// empty body under SuccessCodes "ok".
func writeDeleted(w http.ResponseWriter, rd Readings) {
	if rd.SuccessCodes == SuccessCodesOK {
		writeRaw(w, http.StatusOK, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// enterpriseGate checks what every Enterprise endpoint needs after the
// scope: a workspace token (unless site tokens are allowed), then an
// Enterprise workspace.
func (s *Simulator) enterpriseGate(w http.ResponseWriter, t *token, rd Readings) bool {
	if !t.workspace && rd.SiteTokens != SiteTokensAllowed {
		writeError(w, http.StatusForbidden, webflowdata.CodeForbidden, msgWorkspaceToken)
		return false
	}
	s.mu.RLock()
	plan := s.ent.plan
	s.mu.RUnlock()
	if plan != PlanEnterprise {
		writeError(w, http.StatusForbidden, webflowdata.CodeNotEnterpriseWorkspace, msgNotEnterprise)
		return false
	}
	return true
}

func (s *Simulator) workspaceOK(w http.ResponseWriter, id string) bool {
	if !isObjectID(id) {
		validation(w, "Provided ID is invalid")
		return false
	}
	s.mu.RLock()
	ws := s.workspace.ID
	s.mu.RUnlock()
	if id != ws {
		writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgWorkspaceNotFound)
		return false
	}
	return true
}

// workspaceMembersRoute dispatches /workspaces/{id}/members[/...].
func (s *Simulator) workspaceMembersRoute(w http.ResponseWriter, r *http.Request, t *token, seg []string) {
	rd := s.Readings()
	var scope string
	var h func()
	m := r.Method
	switch {
	case len(seg) == 3 && m == http.MethodGet:
		scope, h = scopeMembersRead, func() { s.listWorkspaceMembers(w, r, rd) }
	case len(seg) == 3 && m == http.MethodPost:
		scope, h = scopeMembersWrite, func() { s.inviteMember(w, r, rd) }
	case len(seg) == 4 && seg[3] == "bulk" && m == http.MethodPost:
		scope, h = scopeMembersWrite, func() { s.bulkUpdateMembers(w, r, rd) }
	case len(seg) == 4 && seg[3] == "bulk" && m == http.MethodDelete:
		scope, h = scopeMembersWrite, func() { s.bulkRemoveMembers(w, r, rd) }
	case len(seg) == 4 && m == http.MethodPatch:
		scope, h = scopeMembersWrite, func() { s.updateMemberRole(w, r, rd, seg[3]) }
	case len(seg) == 4 && m == http.MethodDelete:
		scope, h = scopeMembersWrite, func() { s.removeMember(w, rd, seg[3]) }
	default:
		notFoundRoute(w)
		return
	}
	if !requireScope(w, t, scope) || !s.enterpriseGate(w, t, rd) || !s.workspaceOK(w, seg[1]) {
		return
	}
	h()
}

// readBody decodes a JSON object into v: malformed JSON is 400
// bad_request, an unknown key or a wrong type 400 validation_error.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	b = bytes.TrimSpace(b)
	if err != nil || len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		writeError(w, http.StatusBadRequest, webflowdata.CodeBadRequest, msgBadRequest)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			msg = te.Field + " has the wrong type"
		}
		validation(w, msg)
		return false
	}
	return true
}

// --- cursors ---

// A cursor is opaque to clients: the list kind and the position (the
// sequence number of the last item returned) in each list, so pages stay
// right while members come and go.
func encodeCursor(kind string, pos ...int64) string {
	parts := []string{kind}
	for _, p := range pos {
		parts = append(parts, strconv.FormatInt(p, 10))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ":")))
}

func decodeCursor(v, kind string, n int) ([]int64, bool) {
	out := make([]int64, n)
	if v == "" {
		return out, true
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != n+1 || parts[0] != kind {
		return nil, false
	}
	for i := range n {
		x, err := strconv.ParseInt(parts[i+1], 10, 64)
		if err != nil || x < 0 {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// parseCursorQuery reads limit (1-100, default 50: out of range is 400,
// not clamped, so a client asking for more learns it at once), cursor and
// email.
func parseCursorQuery(w http.ResponseWriter, q url.Values, kind string, n int) (limit int, pos []int64, email string, ok bool) {
	limit = memberListDefault
	if v := q.Get("limit"); v != "" || q.Has("limit") {
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 || x > webflowdata.MemberPageLimit {
			validation(w, "limit must be an integer from 1 to 100")
			return 0, nil, "", false
		}
		limit = x
	}
	pos, ok = decodeCursor(q.Get("cursor"), kind, n)
	if !ok {
		validation(w, "cursor is invalid")
		return 0, nil, "", false
	}
	email = q.Get("email")
	if q.Has("email") && email == "" {
		validation(w, "email must not be empty")
		return 0, nil, "", false
	}
	return limit, pos, email, true
}

func emailMatches(rd Readings, stored, want string) bool {
	if want == "" {
		return true
	}
	if rd.EmailMatch == EmailMatchInsensitive {
		return strings.EqualFold(stored, want)
	}
	return stored == want
}

// parseRolesFilter reads roles=admin,member (and repeated keys under the
// "repeated" reading).
func parseRolesFilter(w http.ResponseWriter, q url.Values, rd Readings) (map[string]bool, bool) {
	vals, present := q["roles"]
	if !present {
		return nil, true
	}
	if len(vals) > 1 && rd.RolesQuery != RolesQueryRepeated {
		validation(w, "roles takes one comma-separated value, e.g. roles=admin,member")
		return nil, false
	}
	set := map[string]bool{}
	for _, v := range vals {
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if !webflowdata.IsKnownWorkspaceRole(r) {
				validation(w, "roles must list owner, admin, member, guest, reviewer or client, not "+strconv.Quote(r))
				return nil, false
			}
			set[r] = true
		}
	}
	return set, true
}

// listWorkspaceMembers pages members and invites together: up to limit of
// each, one cursor for both.
func (s *Simulator) listWorkspaceMembers(w http.ResponseWriter, r *http.Request, rd Readings) {
	q := r.URL.Query()
	limit, pos, email, ok := parseCursorQuery(w, q, "w", 2)
	if !ok {
		return
	}
	roles, ok := parseRolesFilter(w, q, rd)
	if !ok {
		return
	}
	out := webflowdata.WorkspaceMemberList{Members: []webflowdata.WorkspaceMember{}, Invites: []webflowdata.WorkspaceInvite{}, Pagination: webflowdata.CursorPage{Limit: limit}}
	mPos, iPos := pos[0], pos[1]
	more := false
	s.mu.RLock()
	for _, m := range s.ent.orderedMembers() {
		if m.seq <= pos[0] || !emailMatches(rd, m.email, email) || (roles != nil && !roles[m.role]) {
			continue
		}
		if len(out.Members) == limit {
			more = true
			break
		}
		out.Members = append(out.Members, s.memberJSON(m))
		mPos = m.seq
	}
	for _, iv := range s.ent.orderedInvites() {
		if iv.seq <= pos[1] || !emailMatches(rd, iv.email, email) || (roles != nil && !roles[iv.role]) {
			continue
		}
		if len(out.Invites) == limit {
			more = true
			break
		}
		out.Invites = append(out.Invites, inviteJSON(iv))
		iPos = iv.seq
	}
	s.mu.RUnlock()
	if more {
		c := encodeCursor("w", mPos, iPos)
		out.Pagination.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// --- invite ---

type inviteBody struct {
	Email             *string                       `json:"email"`
	WorkspaceRole     *string                       `json:"workspaceRole"`
	DefaultSiteRole   *string                       `json:"defaultSiteRole"`
	DefaultSiteRoleID string                        `json:"defaultSiteRoleId"`
	SiteAccess        []webflowdata.SiteAccessEntry `json:"siteAccess"`
}

// inviteMember handles POST /workspaces/{id}/members. A repeat that
// matches a pending invite or an active membership answers 200 with it;
// a repeat client invite naming another site extends the pending client
// invite; anything else for a known address is 409 conflict (use bulk
// update or PATCH). Only a new invite sends an email.
func (s *Simulator) inviteMember(w http.ResponseWriter, r *http.Request, rd Readings) {
	var b inviteBody
	if !readBody(w, r, &b) {
		return
	}
	if b.Email == nil || *b.Email == "" {
		validation(w, "email is required")
		return
	}
	email := *b.Email
	if !validEmail(email) {
		validation(w, strconv.Quote(email)+" is not a valid email address")
		return
	}
	if b.WorkspaceRole == nil || !webflowdata.IsKnownWorkspaceRole(*b.WorkspaceRole) {
		validation(w, "workspaceRole must be admin, member, reviewer or client")
		return
	}
	role := *b.WorkspaceRole
	if role == webflowdata.WorkspaceRoleOwner || role == webflowdata.WorkspaceRoleGuest {
		entErr(w, rd, http.StatusBadRequest, webflowdata.CodeInvalidWorkspaceRole, "Workspace role '"+role+"' cannot be invited")
		return
	}
	hasDefault := b.DefaultSiteRole != nil
	if hasDefault == (len(b.SiteAccess) > 0) {
		validation(w, "Supply either defaultSiteRole or siteAccess, not both")
		return
	}
	iv := &wsInvite{email: email, role: role, status: webflowdata.InviteStatusPending}
	s.mu.RLock()
	code, msg := s.checkInviteRoles(&b, iv)
	s.mu.RUnlock()
	if code != "" {
		if code == webflowdata.CodeValidationError {
			validation(w, msg)
		} else {
			entErr(w, rd, statusFor(code), code, msg)
		}
		return
	}

	now := s.now()
	s.mu.Lock()
	e := s.ent
	if m := e.byEmail[strings.ToLower(email)]; m != nil {
		match := m.role == iv.role
		if iv.allSites {
			match = match && m.siteRole == iv.siteRole && m.siteRoleID == iv.siteRoleID
		}
		for _, site := range iv.sites {
			g, _, ok := e.siteAccessOf(site, m)
			match = match && ok && g.role == iv.siteRole && g.roleID == iv.siteRoleID
		}
		res := webflowdata.InviteMemberResult{Status: webflowdata.InviteResultActive}
		if match {
			mj := s.memberJSON(m)
			res.Member = &mj
		}
		s.mu.Unlock()
		if !match {
			writeError(w, http.StatusConflict, webflowdata.CodeConflict, "This address is already a member of the workspace with other roles; change them with PATCH")
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	if p := e.pendingInvite(email); p != nil {
		same := p.role == iv.role && p.siteRole == iv.siteRole && p.siteRoleID == iv.siteRoleID && p.allSites == iv.allSites
		switch {
		case same && (iv.allSites || sameSet(p.sites, iv.sites)):
		case same && iv.role == webflowdata.WorkspaceRoleClient:
			// Extend a compatible pending client invite to one more site.
			for _, site := range iv.sites {
				if !slices.Contains(p.sites, site) {
					p.sites = append(p.sites, site)
				}
			}
		default:
			s.mu.Unlock()
			writeError(w, http.StatusConflict, webflowdata.CodeConflict, "A pending invite for this address asks for other roles; change it with bulk update or cancel it with bulk remove")
			return
		}
		res := webflowdata.InviteMemberResult{Status: webflowdata.InviteResultInvited}
		ij := inviteJSON(p)
		res.Invite = &ij
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, res)
		return
	}
	if rd.ClosedInvite != ClosedInviteNew && e.closedInvite(email) != nil {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeConflict, "This address has a declined or expired invite; cancel it with bulk remove to invite the address again")
		return
	}
	iv.id = s.ids.objectID(now)
	iv.created = now
	iv.seq = e.next()
	e.invites[iv.id] = iv
	e.sent = append(e.sent, WorkspaceInviteEmail{InviteID: iv.id, Email: email, Role: role, At: now})
	e.sentTo[strings.ToLower(email)]++
	ij := inviteJSON(iv)
	s.mu.Unlock()
	writeJSON(w, createdStatus(rd), webflowdata.InviteMemberResult{Status: webflowdata.InviteResultInvited, Invite: &ij})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// checkInviteRoles validates the invite's roles and sites (§2.2, §4.2)
// and fills iv. It returns a code ("" when fine); validation_error means a
// value outside the schema. Caller holds s.mu (read).
func (s *Simulator) checkInviteRoles(b *inviteBody, iv *wsInvite) (string, string) {
	e := s.ent
	if b.DefaultSiteRole != nil {
		sr := *b.DefaultSiteRole
		if !webflowdata.IsKnownSiteRole(sr) {
			return webflowdata.CodeValidationError, "defaultSiteRole " + strconv.Quote(sr) + " is not a site role"
		}
		if iv.role == webflowdata.WorkspaceRoleClient {
			return webflowdata.CodeValidationError, "Client invites require exactly one siteAccess entry"
		}
		if code, msg := e.pairProblem(iv.role, sr, b.DefaultSiteRoleID); code != "" {
			return code, msg
		}
		iv.allSites, iv.siteRole, iv.siteRoleID, iv.sites = true, sr, b.DefaultSiteRoleID, []string{}
		return "", ""
	}
	if b.DefaultSiteRoleID != "" {
		return webflowdata.CodeValidationError, "defaultSiteRoleId goes with defaultSiteRole custom"
	}
	switch iv.role {
	case webflowdata.WorkspaceRoleAdmin:
		return webflowdata.CodeInvalidWorkspaceRole, "Admins always have access to every site in the workspace, so an Admin invite can't include a list of specific sites"
	case webflowdata.WorkspaceRoleClient:
		if len(b.SiteAccess) != 1 {
			return webflowdata.CodeValidationError, "Client invites require exactly one siteAccess entry"
		}
	}
	first := b.SiteAccess[0]
	for _, a := range b.SiteAccess {
		if !isObjectID(a.SiteID) || s.sites[a.SiteID] == nil {
			return webflowdata.CodeValidationError, "siteAccess names a site that is not in this workspace: " + strconv.Quote(a.SiteID)
		}
		if !webflowdata.IsKnownSiteRole(a.SiteRole) {
			return webflowdata.CodeValidationError, "siteRole " + strconv.Quote(a.SiteRole) + " is not a site role"
		}
		if a.SiteRole != first.SiteRole || a.SiteRoleID != first.SiteRoleID {
			return webflowdata.CodeValidationError, "Every siteAccess entry must use the same siteRole (and siteRoleId): a pending invite stores one Site Role for all of its Sites"
		}
		if !slices.Contains(iv.sites, a.SiteID) {
			iv.sites = append(iv.sites, a.SiteID)
		}
	}
	if iv.role == webflowdata.WorkspaceRoleClient {
		switch first.SiteRole {
		case webflowdata.SiteRoleMarketer, webflowdata.SiteRoleContentEditor, webflowdata.SiteRoleReviewer, webflowdata.SiteRoleCustom:
		default:
			return webflowdata.CodeInvalidSiteRole, "A client invite takes marketer, content_editor, reviewer or a client-eligible custom role"
		}
		if code, msg := e.customIDProblem(first.SiteRole, first.SiteRoleID, true); code != "" {
			return code, msg
		}
	} else if code, msg := e.pairProblem(iv.role, first.SiteRole, first.SiteRoleID); code != "" {
		return code, msg
	}
	iv.siteRole, iv.siteRoleID = first.SiteRole, first.SiteRoleID
	return "", ""
}

// --- update and remove one member ---

type roleBody struct {
	Role              *string `json:"role"`
	DefaultSiteRole   *string `json:"defaultSiteRole"`
	DefaultSiteRoleID string  `json:"defaultSiteRoleId"`
}

// checkRoleBody is the schema check shared by PATCH and bulk update.
func checkRoleBody(role, site *string) string {
	switch {
	case role == nil:
		return "role is required"
	case site == nil:
		return "defaultSiteRole is required on every request"
	case !webflowdata.IsKnownWorkspaceRole(*role):
		return "role " + strconv.Quote(*role) + " is not a workspace role"
	case !webflowdata.IsKnownSiteRole(*site):
		return "defaultSiteRole " + strconv.Quote(*site) + " is not a site role"
	}
	return ""
}

// roleWriteProblem is the per-member check of a role write, in the order
// Webflow's per-item codes are listed: lock, pair, then what this member
// cannot take. Caller holds s.mu.
func (e *entState) roleWriteProblem(m *wsMember, role, site, siteID string) (string, string) {
	if m.locked() {
		return webflowdata.CodeMemberManagedBySCIM, webflowdata.MsgMemberManagedBySCIM
	}
	if code, msg := e.pairProblem(role, site, siteID); code != "" {
		return code, msg
	}
	switch m.role {
	case webflowdata.WorkspaceRoleOwner, webflowdata.WorkspaceRoleGuest, webflowdata.WorkspaceRoleClient:
		return webflowdata.CodeCannotUpdateUserRole, msgCannotUpdateRole + " (a workspace " + m.role + ")"
	}
	if !e.seatFree(m, role, site) {
		return webflowdata.CodeCannotUpdateUserRole, "No " + seatOf(role, site) + " seat is free for this role"
	}
	return "", ""
}

func applyRole(m *wsMember, role, site, siteID string) {
	m.role, m.siteRole, m.siteRoleID = role, site, ""
	if site == webflowdata.SiteRoleCustom {
		m.siteRoleID = siteID
	}
}

func (s *Simulator) updateMemberRole(w http.ResponseWriter, r *http.Request, rd Readings, id string) {
	if !isObjectID(id) {
		validation(w, "Provided ID is invalid")
		return
	}
	var b roleBody
	if !readBody(w, r, &b) {
		return
	}
	if msg := checkRoleBody(b.Role, b.DefaultSiteRole); msg != "" {
		validation(w, msg)
		return
	}
	s.mu.Lock()
	m := s.ent.members[id]
	if m == nil {
		s.mu.Unlock()
		entErr(w, rd, http.StatusNotFound, webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound)
		return
	}
	if code, msg := s.ent.roleWriteProblem(m, *b.Role, *b.DefaultSiteRole, b.DefaultSiteRoleID); code != "" {
		s.mu.Unlock()
		entErr(w, rd, statusFor(code), code, msg)
		return
	}
	applyRole(m, *b.Role, *b.DefaultSiteRole, b.DefaultSiteRoleID)
	out := s.memberJSON(m)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// removeProblem: removal is refused for an owner and, like role writes,
// for a member native SCIM manages (its deprovisioning belongs to the IdP).
func removeProblem(m *wsMember) (string, string) {
	if m.locked() {
		return webflowdata.CodeMemberManagedBySCIM, webflowdata.MsgMemberManagedBySCIM
	}
	if m.role == webflowdata.WorkspaceRoleOwner {
		return webflowdata.CodeCannotUpdateUserRole, "The workspace owner cannot be removed"
	}
	return "", ""
}

func (s *Simulator) removeMember(w http.ResponseWriter, rd Readings, id string) {
	if !isObjectID(id) {
		validation(w, "Provided ID is invalid")
		return
	}
	s.mu.Lock()
	m := s.ent.members[id]
	if m == nil {
		s.mu.Unlock()
		entErr(w, rd, http.StatusNotFound, webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound)
		return
	}
	if code, msg := removeProblem(m); code != "" {
		s.mu.Unlock()
		entErr(w, rd, statusFor(code), code, msg)
		return
	}
	s.ent.removeMember(m)
	s.mu.Unlock()
	writeDeleted(w, rd)
}

// --- bulk ---

type bulkBody struct {
	MemberIDs         []string `json:"memberIds"`
	InviteIDs         []string `json:"inviteIds"`
	Role              *string  `json:"role"`
	DefaultSiteRole   *string  `json:"defaultSiteRole"`
	DefaultSiteRoleID string   `json:"defaultSiteRoleId"`
}

// bulkIDs de-duplicates each list (first occurrence wins) and checks the
// combined count.
func bulkIDs(w http.ResponseWriter, members, invites []string) ([]string, []string, bool) {
	dedup := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out
	}
	members, invites = dedup(members), dedup(invites)
	n := len(members) + len(invites)
	if n == 0 {
		validation(w, "memberIds or inviteIds must name at least one id")
		return nil, nil, false
	}
	if n > webflowdata.BulkMaxIDs {
		validation(w, fmt.Sprintf("at most %d member and invite ids per request, got %d", webflowdata.BulkMaxIDs, n))
		return nil, nil, false
	}
	return members, invites, true
}

type bulkItem struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Outcome string          `json:"outcome"`
	Error   *bulkItemErrorW `json:"error,omitempty"`
}

type bulkItemErrorW struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// itemFault consumes an injected per-item failure. Caller holds s.mu.
func (e *entState) itemFault(id string) bool {
	if e.itemFaults[id] <= 0 {
		return false
	}
	e.itemFaults[id]--
	if e.itemFaults[id] == 0 {
		delete(e.itemFaults, id)
	}
	return true
}

func failed(id, typ, code, msg string) bulkItem {
	return bulkItem{ID: id, Type: typ, Outcome: webflowdata.OutcomeFailed, Error: &bulkItemErrorW{Code: code, Message: msg}}
}

// succeeded is a successful item; under the "example" reading it carries
// an error message as Webflow's literal example does, so a client that
// reads error instead of outcome is caught.
func succeeded(rd Readings, id, typ, outcome string) bulkItem {
	it := bulkItem{ID: id, Type: typ, Outcome: outcome}
	if rd.BulkSuccessError != BulkSuccessErrorSchema {
		it.Error = &bulkItemErrorW{Message: webflowdata.MsgMemberManagedBySCIM}
	}
	return it
}

// bulkUpdateMembers handles POST /workspaces/{id}/members/bulk: one role
// pair for up to 100 members and invites, 200 even when every item failed.
func (s *Simulator) bulkUpdateMembers(w http.ResponseWriter, r *http.Request, rd Readings) {
	var b bulkBody
	if !readBody(w, r, &b) {
		return
	}
	if msg := checkRoleBody(b.Role, b.DefaultSiteRole); msg != "" {
		validation(w, msg)
		return
	}
	memberIDs, inviteIDs, ok := bulkIDs(w, b.MemberIDs, b.InviteIDs)
	if !ok {
		return
	}
	role, site, siteID := *b.Role, *b.DefaultSiteRole, b.DefaultSiteRoleID
	s.mu.Lock()
	e := s.ent
	pairCode, pairMsg := e.pairProblem(role, site, siteID)
	if pairCode != "" && rd.BulkPairErrors == BulkPairErrorsRequest {
		s.mu.Unlock()
		entErr(w, rd, http.StatusBadRequest, pairCode, pairMsg)
		return
	}
	results := make([]bulkItem, 0, len(memberIDs)+len(inviteIDs))
	updated := 0
	for _, id := range memberIDs {
		m := e.members[id]
		var code, msg string
		switch {
		case e.itemFault(id):
			code, msg = webflowdata.CodeInternalError, msgItemInternal
		case m == nil:
			code, msg = webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound
		default:
			code, msg = e.roleWriteProblem(m, role, site, siteID)
		}
		if code != "" {
			results = append(results, failed(id, webflowdata.BulkTypeMember, code, msg))
			continue
		}
		applyRole(m, role, site, siteID)
		results = append(results, succeeded(rd, id, webflowdata.BulkTypeMember, webflowdata.OutcomeUpdated))
		updated++
	}
	for _, id := range inviteIDs {
		iv := e.invites[id]
		var code, msg string
		switch {
		case e.itemFault(id):
			code, msg = webflowdata.CodeInternalError, msgItemInternal
		case iv == nil:
			code, msg = webflowdata.CodeWorkspaceInviteNotFound, msgInviteNotFound
		case pairCode != "":
			code, msg = pairCode, pairMsg
		case iv.role == webflowdata.WorkspaceRoleClient:
			code, msg = webflowdata.CodeCannotUpdateUserRole, "A client invite's role cannot be changed"
		case role == webflowdata.WorkspaceRoleAdmin && !iv.allSites:
			code, msg = webflowdata.CodeInvalidWorkspaceRole, "Admins always have access to every site, so an invite for specific sites cannot become an Admin invite"
		}
		if code != "" {
			results = append(results, failed(id, webflowdata.BulkTypeInvite, code, msg))
			continue
		}
		iv.role, iv.siteRole, iv.siteRoleID = role, site, ""
		if site == webflowdata.SiteRoleCustom {
			iv.siteRoleID = siteID
		}
		results = append(results, succeeded(rd, id, webflowdata.BulkTypeInvite, webflowdata.OutcomeUpdated))
		updated++
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"summary": map[string]int{"updated": updated, "failed": len(results) - updated},
		"results": results,
	})
}

// bulkRemoveMembers handles DELETE /workspaces/{id}/members/bulk (a JSON
// body): remove members and cancel invites, 200 even when some fail.
func (s *Simulator) bulkRemoveMembers(w http.ResponseWriter, r *http.Request, rd Readings) {
	var b struct {
		MemberIDs []string `json:"memberIds"`
		InviteIDs []string `json:"inviteIds"`
	}
	if !readBody(w, r, &b) {
		return
	}
	memberIDs, inviteIDs, ok := bulkIDs(w, b.MemberIDs, b.InviteIDs)
	if !ok {
		return
	}
	inviteOutcome := webflowdata.OutcomeRemoved
	if rd.BulkRemoveOutcome == BulkRemoveCancelled {
		inviteOutcome = webflowdata.OutcomeCancelled
	}
	s.mu.Lock()
	e := s.ent
	results := make([]bulkItem, 0, len(memberIDs)+len(inviteIDs))
	removed, cancelled := 0, 0
	for _, id := range memberIDs {
		m := e.members[id]
		var code, msg string
		switch {
		case e.itemFault(id):
			code, msg = webflowdata.CodeInternalError, msgItemInternal
		case m == nil:
			code, msg = webflowdata.CodeWorkspaceMemberNotFound, msgMemberNotFound
		default:
			code, msg = removeProblem(m)
		}
		if code != "" {
			results = append(results, failed(id, webflowdata.BulkTypeMember, code, msg))
			continue
		}
		e.removeMember(m)
		results = append(results, succeeded(rd, id, webflowdata.BulkTypeMember, webflowdata.OutcomeRemoved))
		removed++
	}
	for _, id := range inviteIDs {
		var code, msg string
		switch {
		case e.itemFault(id):
			code, msg = webflowdata.CodeInternalError, msgItemInternal
		case e.invites[id] == nil:
			code, msg = webflowdata.CodeWorkspaceInviteNotFound, msgInviteNotFound
		}
		if code != "" {
			results = append(results, failed(id, webflowdata.BulkTypeInvite, code, msg))
			continue
		}
		delete(e.invites, id)
		results = append(results, succeeded(rd, id, webflowdata.BulkTypeInvite, inviteOutcome))
		cancelled++
	}
	s.mu.Unlock()
	summary := map[string]int{"removed": removed + cancelled, "failed": len(results) - removed - cancelled}
	if rd.BulkRemoveOutcome == BulkRemoveCancelled {
		summary["removed"], summary["cancelled"] = removed, cancelled
	}
	writeJSON(w, http.StatusOK, map[string]any{"summary": summary, "results": results})
}
