package workspacemembers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/scimhttp"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

const scimTypeUniqueness = "uniqueness"

// A record's reference to Webflow (UserRecord.WebflowUserID): a pending
// invite or a member, two id spaces kept apart by the prefix; "" when the
// user is inactive and Webflow holds nothing for them.
const (
	refInvite = "invite:"
	refMember = "member:"
)

// ref is a record's Webflow side.
type ref struct {
	invite, member string // at most one is set
}

func refOf(rec *state.UserRecord) ref {
	switch {
	case strings.HasPrefix(rec.WebflowUserID, refInvite):
		return ref{invite: strings.TrimPrefix(rec.WebflowUserID, refInvite)}
	case strings.HasPrefix(rec.WebflowUserID, refMember):
		return ref{member: strings.TrimPrefix(rec.WebflowUserID, refMember)}
	}
	return ref{}
}

func (r ref) String() string {
	switch {
	case r.member != "":
		return refMember + r.member
	case r.invite != "":
		return refInvite + r.invite
	}
	return ""
}

// upstream is what the record keeps of Webflow (UserRecord.Webflow).
type upstream struct {
	// Role is the member's Workspace role when it was last read or
	// linked: owners, guests and clients are never removed.
	Role string `json:"role,omitempty"`
	// Linked is true for a member or invite the bridge found rather than
	// sent (an existing member, or an invite it could not tell apart).
	Linked bool `json:"linked,omitempty"`
}

func upstreamOf(rec *state.UserRecord) upstream {
	var u upstream
	if len(rec.Webflow) > 0 {
		_ = json.Unmarshal(rec.Webflow, &u)
	}
	return u
}

// storedUser is the SCIM side of a record (UserRecord.SCIM).
func decodeUser(rec *state.UserRecord) mapping.User {
	var u mapping.User
	if len(rec.SCIM) > 0 {
		_ = json.Unmarshal(rec.SCIM, &u)
	}
	if u.UserName == "" {
		u.UserName = rec.UserName
	}
	u.Active = rec.Active
	return u
}

// fill writes u into rec, keeping the indexed fields in step.
func fill(rec *state.UserRecord, u mapping.User, email string) {
	rec.SCIM, _ = json.Marshal(u)
	rec.UserName = u.UserName
	rec.ExternalID = u.ExternalID
	rec.DisplayName = u.DisplayName
	rec.Email = email
	rec.Active = u.Active
}

func setUpstream(rec *state.UserRecord, r ref, up upstream) {
	rec.WebflowUserID = r.String()
	if r == (ref{}) {
		rec.Webflow = nil
		return
	}
	rec.Webflow, _ = json.Marshal(up)
}

func newUserID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// readUser decodes a POST or PUT body into the canonical User.
func readUser(body []byte) (mapping.User, string, error) {
	if err := mapping.CheckRequired(body, false); err != nil {
		return mapping.User{}, "", err
	}
	var attrs map[string]any
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	if err := d.Decode(&attrs); err != nil || attrs == nil {
		return mapping.User{}, "", errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "the body is not a JSON object")
	}
	for k, v := range attrs {
		if v == nil {
			delete(attrs, k) // null is absent (RFC 7644 §3.3), as elimity reads it
		}
	}
	u, err := mapping.FromAttributes(scim.ResourceAttributes(attrs))
	if err != nil {
		return mapping.User{}, "", err
	}
	if strings.TrimSpace(u.UserName) == "" {
		return mapping.User{}, "", errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "userName must not be empty")
	}
	email, err := u.WebflowEmail()
	if err != nil {
		return mapping.User{}, "", err
	}
	return u, email, nil
}

// ---- rendering ----

func (h *Handler) location(id string) string { return h.opts.PublicURL + "/Users/" + id }

// render is the User resource: the stored SCIM attributes, and under the
// bridge's extension the Webflow id (the member's, or the invite's while
// pending) and the status, invited or active, as Webflow's invite answer
// names them.
func (h *Handler) render(rec *state.UserRecord, r *http.Request) map[string]any {
	u := decodeUser(rec)
	rf := refOf(rec)
	view := mapping.WebflowView{}
	switch {
	case rf.member != "":
		view.UserID, view.Status = rf.member, webflowdata.InviteResultActive
	case rf.invite != "":
		view.UserID, view.Status = rf.invite, webflowdata.InviteResultInvited
	}
	attrs := mapping.ToAttributes(u, view)
	if ext, ok := attrs[mapping.ExtensionSchemaURN].(map[string]any); ok {
		delete(ext, mapping.ExtAttrAccessGroups) // a site's access groups; none here
		if len(ext) == 0 {
			delete(attrs, mapping.ExtensionSchemaURN)
		}
	}
	if r != nil {
		q := r.URL.Query()
		inc, exc := mapping.ParseAttrList(q.Get("attributes")), mapping.ParseAttrList(q.Get("excludedAttributes"))
		if len(inc) > 0 || len(exc) > 0 {
			attrs = mapping.Project(attrs, inc, exc)
		}
	}
	out := make(map[string]any, len(attrs)+3)
	for k, v := range attrs {
		out[k] = v
	}
	schemas := []string{mapping.CoreUserSchemaURN}
	if _, ok := out[mapping.ExtensionSchemaURN]; ok {
		schemas = append(schemas, mapping.ExtensionSchemaURN)
	}
	out["schemas"] = schemas
	out["id"] = rec.ID
	out["meta"] = map[string]any{
		"resourceType": "User",
		"created":      rec.Created.UTC().Format(time.RFC3339),
		"lastModified": rec.Modified.UTC().Format(time.RFC3339),
		"location":     h.location(rec.ID),
	}
	return out
}

// ---- the Webflow side ----

// effective is the roles the user's workspace groups give (no groups for
// a user not stored yet: workspace.defaultRole).
func (h *Handler) effective(ctx context.Context, userID string) (workspaceroles.Effective, error) {
	if userID == "" {
		return h.opts.Mapping.Effective(nil), nil
	}
	ug, err := h.opts.Store.WorkspaceUserGroups(ctx, []string{userID})
	if err != nil {
		return workspaceroles.Effective{}, err
	}
	if len(ug[userID]) == 0 {
		return h.opts.Mapping.Effective(nil), nil
	}
	groups, err := h.opts.Store.WorkspaceGroups(ctx)
	if err != nil {
		return workspaceroles.Effective{}, err
	}
	in := map[string]bool{}
	for _, gid := range ug[userID] {
		in[gid] = true
	}
	var names []string
	for _, g := range groups {
		if in[g.ID] {
			names = append(names, g.DisplayName)
		}
	}
	return h.opts.Mapping.Effective(names), nil
}

// find lists the email: the member, else a pending invite, as a ref.
func (h *Handler) find(ctx context.Context, email string) (ref, upstream, error) {
	r, up, _, err := h.lookup(ctx, email)
	return r, up, err
}

// lookup is find, with the ids of the address's declined and expired
// invites when it has neither a member nor a pending invite.
func (h *Handler) lookup(ctx context.Context, email string) (ref, upstream, []string, error) {
	m, invites, err := h.opts.Client.FindWorkspaceMember(ctx, h.opts.WorkspaceID, email)
	if err != nil {
		return ref{}, upstream{}, nil, err
	}
	if m != nil {
		return ref{member: m.ID}, upstream{Role: m.Roles.Workspace}, nil, nil
	}
	var closed []string
	for _, iv := range invites {
		if iv.Status == webflowdata.InviteStatusPending {
			return ref{invite: iv.ID}, upstream{Role: iv.Role}, nil, nil
		}
		closed = append(closed, iv.ID)
	}
	return ref{}, upstream{}, closed, nil
}

// provision makes Webflow hold the user: one invite with the role the
// user's groups give, or, when an earlier attempt may have invited
// (resolving), a list by email first. linked reports a member or invite
// the bridge did not send now, whose role the worker must check.
func (h *Handler) provision(ctx context.Context, userID, email string, resolving bool) (r ref, up upstream, linked bool, err error) {
	if resolving {
		r, up, err = h.find(ctx, email)
		if err != nil || r != (ref{}) {
			up.Linked = r != (ref{})
			return r, up, up.Linked, err
		}
	}
	return h.invite(ctx, userID, email, false)
}

// invite sends the invite; retried is true for the one attempt made after
// cancelling the address's closed invites.
func (h *Handler) invite(ctx context.Context, userID, email string, retried bool) (r ref, up upstream, linked bool, err error) {
	eff, err := h.effective(ctx, userID)
	if err != nil {
		return ref{}, upstream{}, false, err
	}
	req := webflowdata.InviteMemberRequest{
		Email: email, WorkspaceRole: string(eff.Pair.Workspace),
		DefaultSiteRole: string(eff.Pair.Site.Role), DefaultSiteRoleID: eff.Pair.Site.CustomID,
	}
	out, err := h.opts.Client.InviteWorkspaceMember(ctx, h.opts.WorkspaceID, req)
	switch {
	case err == nil && out.Invite != nil && out.Status != webflowdata.InviteResultActive:
		h.opts.Logger.InfoContext(ctx, "workspace members: Webflow sent an invitation email", "id", userID, "inviteId", out.Invite.ID, "role", eff.Pair.String())
		return ref{invite: out.Invite.ID}, upstream{Role: out.Invite.Role}, false, nil
	case err == nil && out.Member != nil:
		h.opts.Logger.InfoContext(ctx, "workspace members: the address is a member already; linked, not invited", "id", userID, "memberId", out.Member.ID)
		return ref{member: out.Member.ID}, upstream{Role: out.Member.Roles.Workspace, Linked: true}, true, nil
	case err == nil:
		return ref{}, upstream{}, false, fmt.Errorf("webflow answered the invite with status %q and neither an invite nor a member", out.Status)
	case webflowdata.IsAmbiguous(err), isConflict(err):
		// A lost answer may hide an invite that went out; a 409 is an
		// invite or a membership with other roles, or (a reading of
		// what the reference leaves open) a declined or expired invite
		// in the way. The list by email says which.
		r, up, closed, ferr := h.lookup(ctx, email)
		switch {
		case ferr == nil && r != (ref{}):
			up.Linked = true
			h.opts.Logger.WarnContext(ctx, "workspace members: linked what Webflow holds for the address instead of inviting", "id", userID, "ref", r.String(), "cause", err.Error())
			return r, up, true, nil
		case ferr == nil && len(closed) > 0 && isConflict(err) && !retried:
			// Cancel the closed invites (bulk remove), then invite once more.
			if _, rerr := h.opts.Client.BulkRemoveWorkspaceMembers(ctx, h.opts.WorkspaceID, webflowdata.BulkRemoveMembersRequest{InviteIDs: closed}); rerr != nil {
				return ref{}, upstream{}, false, rerr
			}
			h.opts.Logger.InfoContext(ctx, "workspace members: cancelled the address's declined or expired invites to invite it again", "id", userID, "invites", closed)
			return h.invite(ctx, userID, email, true)
		}
		return ref{}, upstream{}, false, err
	}
	return ref{}, upstream{}, false, err
}

func isConflict(err error) bool {
	ae, ok := webflowdata.AsAPIError(err)
	return ok && ae.Status == http.StatusConflict && !webflowdata.IsManagedBySCIM(err)
}

// neverRemoved are Workspace roles the bridge leaves in place: Webflow
// refuses to remove an owner, and guests and clients are never written.
func neverRemoved(role string) bool {
	return role == webflowdata.WorkspaceRoleOwner || role == webflowdata.WorkspaceRoleGuest || role == webflowdata.WorkspaceRoleClient
}

// remove takes the user out of the workspace: DELETE of an active member,
// bulk remove (the only cancel) of a pending invite. Already gone counts
// as done; an invite that is gone may have been accepted, so the email is
// listed once and a member found then is removed.
func (h *Handler) remove(ctx context.Context, rec *state.UserRecord) error {
	r, up := refOf(rec), upstreamOf(rec)
	if neverRemoved(up.Role) {
		h.opts.Logger.WarnContext(ctx, "workspace members: left in Webflow: an owner, guest or client is never removed by the bridge", "id", rec.ID, "ref", r.String(), "role", up.Role)
		return nil
	}
	if r.invite != "" {
		res, err := h.opts.Client.BulkRemoveWorkspaceMembers(ctx, h.opts.WorkspaceID, webflowdata.BulkRemoveMembersRequest{InviteIDs: []string{r.invite}})
		if err != nil {
			return err
		}
		item, ok := res.Invite(r.invite)
		if ok && !item.Failed() {
			h.opts.Logger.InfoContext(ctx, "workspace members: invite cancelled", "id", rec.ID, "inviteId", r.invite)
			return nil
		}
		if ok && !errors.Is(item.Err(), webflowdata.ErrWorkspaceInviteNotFound) {
			return item.Err()
		}
		// Gone: accepted since, perhaps.
		found, fup, err := h.find(ctx, rec.Email)
		if err != nil {
			return err
		}
		if found.member == "" {
			return nil
		}
		if neverRemoved(fup.Role) {
			return nil
		}
		r = found
	}
	if r.member == "" {
		return nil
	}
	err := h.opts.Client.RemoveWorkspaceMember(ctx, h.opts.WorkspaceID, r.member)
	if err != nil && !webflowdata.IsNotFound(err) && !errors.Is(err, webflowdata.ErrWorkspaceMemberNotFound) {
		return err
	}
	h.opts.Logger.InfoContext(ctx, "workspace members: member removed", "id", rec.ID, "memberId", r.member)
	return nil
}

// link records the user as a workspace collaborator, which the workspace
// groups handler and worker read (ids of group members, their email).
func (h *Handler) link(ctx context.Context, rec *state.UserRecord) error {
	return h.opts.Store.RecordCollaborator(ctx, state.Collaborator{ID: rec.ID, Email: rec.Email, UserName: rec.UserName, Active: rec.Active})
}

// ---- create ----

func (h *Handler) create(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte) error {
	u, email, err := readUser(body)
	if err != nil {
		return err
	}
	res, err := h.reserve(ctx, u, email)
	var taken *state.ConflictError
	switch {
	case errors.As(err, &taken) && taken.Index == state.IndexUserName:
		return errf(http.StatusConflict, scimTypeUniqueness, "User already exists: userName %s is taken", u.UserName)
	case errors.As(err, &taken):
		return errf(http.StatusConflict, scimTypeUniqueness, "User already exists: another user has the email %s", email)
	case err != nil:
		return err
	}
	// Released once the record holds the names (or nothing reached
	// Webflow); abandoned, marked unresolved, when an invite may have gone
	// out without the record: the next attempt, on any replica, takes it
	// over at once and lists the email before inviting.
	unresolved := false
	defer func() {
		if unresolved {
			res.Abandon()
		} else {
			res.Release()
		}
	}()
	rec := &state.UserRecord{ID: newUserID(), SiteID: h.keyspace}
	fill(rec, u, email)
	linked := false
	if u.Active {
		rf, up, l, err := h.provision(ctx, "", email, res.Takeover)
		if err != nil {
			unresolved = res.Takeover || webflowdata.IsAmbiguous(err)
			return err
		}
		setUpstream(rec, rf, up)
		rec.SyncedAt = h.opts.Now()
		linked = l
	}
	if err := h.opts.Store.CreateReservedUser(ctx, rec, res); err != nil {
		if errors.Is(err, state.ErrExists) || errors.Is(err, state.ErrConflict) {
			return errf(http.StatusConflict, scimTypeUniqueness, "User already exists: %s", err.Error())
		}
		unresolved = rec.WebflowUserID != ""
		return err
	}
	if err := h.link(ctx, rec); err != nil {
		h.opts.Logger.WarnContext(ctx, "workspace members: user stored, but its collaborator link was not", "id", rec.ID, "err", err)
	}
	// A member or invite linked rather than sent keeps the role Webflow
	// holds until the user's groups change (a new user is in none): the
	// bridge never demotes someone to workspace.defaultRole for a link.
	h.opts.Logger.InfoContext(ctx, "workspace members: user provisioned", "id", rec.ID, "ref", rec.WebflowUserID, "linked", linked)
	w.Header().Set("Location", h.location(rec.ID))
	scimhttp.WriteJSON(w, http.StatusCreated, h.render(rec, nil))
	return nil
}

// reserve reserves the create of u before anything reaches Webflow (an
// invite sends an email), checking in the same atomic step that no record
// holds the userName or the email. Another attempt at creating the same
// person that is at work is waited for, within the lock wait: when it
// stores the user, this one gets the *state.ConflictError (409, which a
// userName filter then resolves); when it fails, this one carries on.
func (h *Handler) reserve(ctx context.Context, u mapping.User, email string) (*state.CreateReservation, error) {
	var res *state.CreateReservation
	err := h.poll(ctx, func() (bool, error) {
		r, err := h.opts.Store.ReserveCreate(ctx, h.keyspace, []string{email, u.UserName},
			[]state.CreateCheck{{Index: state.IndexUserName, Value: u.UserName}, {Index: state.IndexEmail, Value: email}},
			createReservationTTL, h.opts.CreateStaleAfter)
		if errors.Is(err, state.ErrCreateInProgress) {
			return false, nil
		}
		res = r
		return true, err
	})
	if errors.Is(err, errBusy) {
		return nil, errCreateInFlight
	}
	return res, err
}

// poll calls try until it is done, fails, or the lock wait runs out
// (errBusy), at 2 ms doubling to 50 ms.
func (h *Handler) poll(ctx context.Context, try func() (bool, error)) error {
	deadline := time.Now().Add(h.opts.LockWait)
	wait := 2 * time.Millisecond
	for {
		done, err := try()
		if done || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errBusy
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// locked runs fn holding the user's lock, the one the workspace groups
// worker takes too, so a request and a role write never interleave.
func (h *Handler) locked(ctx context.Context, id string, fn func() error) error {
	var unlock func()
	err := h.poll(ctx, func() (bool, error) {
		u, ok, err := h.opts.Store.LockWorkspaceUser(ctx, id, userLockTTL)
		if ok {
			unlock = u
		}
		return ok, err
	})
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// ---- read ----

// load returns the record of id; an id the bridge did not provision is
// ErrNotFound, with no Webflow call.
func (h *Handler) load(ctx context.Context, id string) (*state.UserRecord, error) {
	if id == "" || len(id) > 64 {
		return nil, state.ErrNotFound
	}
	rec, err := h.opts.Store.GetUser(ctx, h.keyspace, id)
	if errors.Is(err, state.ErrInvalid) {
		return nil, state.ErrNotFound
	}
	return rec, err
}

func (h *Handler) get(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	rec, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	if refOf(rec).invite != "" && h.opts.Now().Sub(rec.SyncedAt) >= h.opts.AcceptanceCheckAge {
		rec = h.noticeAcceptance(ctx, rec)
	}
	scimhttp.WriteJSON(w, http.StatusOK, h.render(rec, r))
	return nil
}

// noticeAcceptance lists the email of a pending user: a member found is
// recorded (the invite was accepted) and the user queued for the worker,
// which applies per-site access. A failure is logged and the stored
// record served.
func (h *Handler) noticeAcceptance(ctx context.Context, rec *state.UserRecord) *state.UserRecord {
	out, err := h.accepted(ctx, rec)
	if err != nil {
		h.opts.Logger.WarnContext(ctx, "workspace members: could not look for an accepted invite; serving the stored record", "id", rec.ID, "err", err)
		return rec
	}
	return out
}

// accepted is noticeAcceptance's look, with its error.
func (h *Handler) accepted(ctx context.Context, rec *state.UserRecord) (*state.UserRecord, error) {
	found, up, err := h.find(ctx, rec.Email)
	if err != nil {
		return rec, err
	}
	next := *rec
	next.SyncedAt = h.opts.Now()
	if found.member == "" {
		_ = h.save(ctx, &next) // the time of the look only
		return &next, nil
	}
	up.Linked = upstreamOf(rec).Linked
	setUpstream(&next, found, up)
	if err := h.save(ctx, &next); err != nil {
		return rec, err
	}
	h.opts.Logger.InfoContext(ctx, "workspace members: the invite was accepted; queued for the access only a member can get", "id", rec.ID, "memberId", found.member)
	if err := h.opts.Store.EnqueueWorkspaceUsers(ctx, rec.ID); err != nil {
		return &next, err
	}
	return &next, nil
}

// save stores out over a concurrent change of the same record (the
// Webflow side already holds what out describes).
func (h *Handler) save(ctx context.Context, out *state.UserRecord) error {
	for range 3 {
		err := h.opts.Store.ReplaceUser(ctx, out)
		if !errors.Is(err, state.ErrVersionMismatch) {
			return err
		}
		cur, gerr := h.opts.Store.GetUser(ctx, out.SiteID, out.ID)
		if gerr != nil {
			return gerr
		}
		out.Version = cur.Version
	}
	return state.ErrVersionMismatch
}

// ---- write ----

func (h *Handler) replace(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, body []byte) error {
	rec, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	next, email, err := readUser(body)
	if err != nil {
		return err
	}
	if next.Data == nil {
		next.Data = decodeUser(rec).Data // optional on PUT: never wiped by an IdP that does not send it
	}
	var out *state.UserRecord
	err = h.locked(ctx, id, func() error {
		cur, err := h.load(ctx, rec.ID) // read again under the lock
		if err != nil {
			return err
		}
		out, err = h.apply(ctx, cur, next, email)
		return err
	})
	if err != nil {
		return err
	}
	scimhttp.WriteJSON(w, http.StatusOK, h.render(out, r))
	return nil
}

func (h *Handler) patch(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, body []byte) error {
	if err := mapping.CheckRequestSize(mapping.MeasureRequest(body, true, false), h.opts.MaxPatchOperations, h.opts.MaxMembersPerRequest); err != nil {
		return err
	}
	rec, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	norm, empty, err := mapping.NormalizePatchBody(body)
	if err != nil {
		return err
	}
	var out *state.UserRecord
	err = h.locked(ctx, id, func() error {
		cur, err := h.load(ctx, rec.ID) // read again under the lock
		if err != nil {
			return err
		}
		if empty {
			out = cur
			return nil
		}
		ops, err := mapping.ParseUserPatch(norm)
		if err != nil {
			return err
		}
		next, err := mapping.ApplyPatch(decodeUser(cur), ops)
		if err != nil {
			return err
		}
		email, err := next.WebflowEmail()
		if err != nil {
			return err
		}
		out, err = h.apply(ctx, cur, next, email)
		return err
	})
	if err != nil {
		return err
	}
	scimhttp.WriteJSON(w, http.StatusOK, h.render(out, r))
	return nil
}

// apply moves the user to next with the fewest Webflow calls, under the
// user's lock: deactivation removes, reactivation invites, a pending
// user's invite is looked at once (acceptance), anything else is stored
// only (the API cannot change a member's name).
func (h *Handler) apply(ctx context.Context, rec *state.UserRecord, next mapping.User, email string) (*state.UserRecord, error) {
	id := rec.ID
	out := *rec
	emailChanged := !strings.EqualFold(email, rec.Email)
	switch {
	case rec.Active && !next.Active:
		if err := h.remove(ctx, rec); err != nil {
			return nil, err
		}
		setUpstream(&out, ref{}, upstream{})
	case !rec.Active && next.Active:
		rf, up, linked, err := h.provision(ctx, rec.ID, email, false)
		if err != nil {
			return nil, err
		}
		setUpstream(&out, rf, up)
		out.SyncedAt = h.opts.Now()
		if linked {
			defer func() { _ = h.opts.Store.EnqueueWorkspaceUsers(context.WithoutCancel(ctx), id) }()
		}
		h.opts.Logger.InfoContext(ctx, "workspace members: reactivated: invited again", "id", id, "ref", out.WebflowUserID)
	case emailChanged && refOf(rec) != (ref{}):
		return nil, errf(http.StatusBadRequest, mapping.ScimTypeMutability,
			"Webflow cannot change a workspace member's email (stored %q); deactivate the user, change the email, and activate it again to invite the new address", rec.Email)
	case refOf(rec).invite != "":
		acc, err := h.accepted(ctx, rec)
		if err != nil {
			return nil, err
		}
		out = *acc
	}
	fill(&out, next, email)
	if err := h.save(ctx, &out); err != nil {
		return nil, err
	}
	if err := h.link(ctx, &out); err != nil {
		h.opts.Logger.WarnContext(ctx, "workspace members: user stored, but its collaborator link was not", "id", id, "err", err)
	}
	return &out, nil
}

func (h *Handler) delete(ctx context.Context, id string) error {
	rec, err := h.load(ctx, id)
	if err != nil {
		return err
	}
	return h.locked(ctx, id, func() error {
		rec, err := h.load(ctx, rec.ID)
		if err != nil {
			return err
		}
		if rec.Active || refOf(rec) != (ref{}) {
			if err := h.remove(ctx, rec); err != nil {
				return err
			}
		}
		if err := h.opts.Store.DeleteUser(ctx, h.keyspace, id); err != nil && !errors.Is(err, state.ErrNotFound) {
			return err
		}
		h.forget(ctx, id)
		h.opts.Logger.InfoContext(ctx, "workspace members: user deprovisioned", "id", id, "ref", rec.WebflowUserID)
		return nil
	})
}

// forget drops a deleted user's collaborator link and group memberships.
// Failures are logged: the user is gone either way.
func (h *Handler) forget(ctx context.Context, id string) {
	st := h.opts.Store
	if err := st.ForgetCollaborator(ctx, id); err != nil && !errors.Is(err, state.ErrNotFound) {
		h.opts.Logger.WarnContext(ctx, "workspace members: deleted user's collaborator link not cleared", "id", id, "err", err)
	}
	ug, err := st.WorkspaceUserGroups(ctx, []string{id})
	if err != nil {
		h.opts.Logger.WarnContext(ctx, "workspace members: deleted user's groups not read", "id", id, "err", err)
		return
	}
	for _, gid := range ug[id] {
		if _, err := st.ChangeWorkspaceMembers(ctx, gid, []state.MemberOp{{Op: "remove", IDs: []string{id}}}, state.ChangeOptions{}); err != nil {
			h.opts.Logger.WarnContext(ctx, "workspace members: deleted user left in a group", "id", id, "group", gid, "err", err)
		}
	}
	_ = st.SetRoleLock(ctx, id, nil)
}

// ---- list ----

const (
	listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	maxResults         = 100
	scanBatch          = 500
)

// list answers GET /Users from the records and their indexes: no Webflow
// call, whatever the filter.
func (h *Handler) list(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	start, err := queryInt(q.Get("startIndex"), "startIndex", 1)
	if err != nil {
		return err
	}
	count, err := queryInt(q.Get("count"), "count", maxResults)
	if err != nil {
		return err
	}
	start, count = max(start, 1), min(max(count, 0), maxResults)
	var recs []*state.UserRecord
	total := 0
	if raw := strings.TrimSpace(q.Get("filter")); raw != "" {
		if err := mapping.CheckFilterBounds(raw); err != nil {
			return err
		}
		expr, err := parseFilter(mapping.RewriteFilter(raw))
		if err != nil {
			return errf(http.StatusBadRequest, mapping.ScimTypeInvalidFilter, "the filter could not be parsed: check quotes, operators and attribute names")
		}
		qy, err := mapping.TranslateUserFilter(expr)
		if err != nil {
			return err
		}
		matched, err := h.query(ctx, qy)
		if err != nil {
			return err
		}
		total = len(matched)
		lo := min(start-1, len(matched))
		recs = matched[lo:min(lo+count, len(matched))]
	} else if count == 0 {
		if total, err = h.opts.Store.CountUsers(ctx, h.keyspace); err != nil {
			return err
		}
	} else {
		var ids []string
		if ids, total, err = h.opts.Store.ListUserIDs(ctx, h.keyspace, start-1, count); err != nil {
			return err
		}
		if recs, err = h.opts.Store.GetUsers(ctx, h.keyspace, ids); err != nil {
			return err
		}
	}
	page := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		page = append(page, h.render(rec, r))
	}
	scimhttp.WriteJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{listResponseSchema}, "totalResults": total,
		"startIndex": start, "itemsPerPage": len(page), "Resources": page,
	})
	return nil
}

func queryInt(v, key string, def int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "%s must be an integer", key)
	}
	return n, nil
}

// parseFilter parses a filter CheckFilterBounds has bounded.
func parseFilter(raw string) (filter.Expression, error) { return filter.ParseFilter([]byte(raw)) }

// query answers a translated filter: an index lookup for the first eq
// condition (or every record when there is none), then the whole query
// checked on each candidate, in creation order so paging is stable.
func (h *Handler) query(ctx context.Context, q mapping.Query) ([]*state.UserRecord, error) {
	st := h.opts.Store
	var cands []*state.UserRecord
	if len(q.Eq) > 0 {
		c := q.Eq[0]
		var err error
		switch idx := indexFor(c.Attr); {
		case c.Value == "":
		case c.Attr == mapping.CondID:
			cands, err = st.GetUsers(ctx, h.keyspace, []string{c.Value})
		case idx.Unique():
			var rec *state.UserRecord
			if rec, err = st.FindUser(ctx, h.keyspace, idx, c.Value); err == nil {
				cands = []*state.UserRecord{rec}
			}
		default:
			var ids []string
			if ids, err = st.LookupUserIDs(ctx, h.keyspace, idx, c.Value); err == nil {
				cands, err = st.GetUsers(ctx, h.keyspace, ids)
			}
		}
		if err != nil && !errors.Is(err, state.ErrNotFound) && !errors.Is(err, state.ErrInvalid) {
			return nil, err
		}
	} else {
		for off := 0; ; off += scanBatch {
			ids, total, err := st.ListUserIDs(ctx, h.keyspace, off, scanBatch)
			if err != nil {
				return nil, err
			}
			recs, err := st.GetUsers(ctx, h.keyspace, ids)
			if err != nil {
				return nil, err
			}
			cands = append(cands, recs...)
			if off+scanBatch >= total || len(ids) == 0 {
				break
			}
		}
	}
	out := cands[:0]
	for _, rec := range cands {
		ok, err := q.Holds(mapping.Indexed{ID: rec.ID, UserName: rec.UserName, ExternalID: rec.ExternalID, DisplayName: rec.DisplayName, Email: rec.Email}, decodeUser(rec))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func indexFor(attr string) state.Index {
	switch attr {
	case mapping.CondUserName:
		return state.IndexUserName
	case mapping.CondExternalID:
		return state.IndexExternalID
	case mapping.CondEmail:
		return state.IndexEmail
	case mapping.CondDisplayName:
		return state.IndexDisplayName
	}
	return ""
}
