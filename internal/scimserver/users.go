package scimserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/misscache"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// usersHandler is the SCIM Users resource of one site. Every SCIM write
// becomes the fewest Webflow calls that reach the desired state:
// create = invite (+ one PATCH for a name or data), a name or data change
// = one PATCH only when something Webflow stores changes, a change of
// active = one GET of what Webflow holds (accessGroups is a full-list
// write) + one PATCH when the list changes, delete = DELETE.
type usersHandler struct {
	site  SiteConfig
	store state.Backend
	wf    *webflowdata.Client
	log   *slog.Logger
	now   func() time.Time
	base  string // absolute SCIM base URL of the site
	wake  func() // wakes this replica's membership worker
	// createStaleAfter is when an unfinished create's reservation is
	// presumed abandoned (its replica died).
	createStaleAfter time.Duration
	// failpoint, when set, is called at named points (crash tests).
	failpoint func(name string)
	// rebuild says whether the site is rebuilding after a Redis loss.
	rebuild rebuildState
	// misses remembers ids found nowhere (see load), per process.
	misses *misscache.Cache
	// waiters are this replica's requests waiting for a user's lock;
	// creates those waiting for another create of the same person.
	waiters lockWaiters
	creates lockWaiters
	// lockWait bounds both waits (0: DefaultLockWait).
	lockWait time.Duration
	// lockPoll, when set, replaces the polling for another replica's lock
	// (tests set it very long to show the hand-over needs no polling).
	lockPoll time.Duration
	// parseSlots is shared by every site's Users and Groups (bounds.go).
	parseSlots parseSlots
}

// createReservationTTL bounds how long a reservation lives at all.
const createReservationTTL = 10 * time.Minute

var objectIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// ---- record helpers ----

func decodeUser(rec *state.UserRecord) mapping.User {
	u := decodeSCIM(rec)
	if u.UserName == "" {
		u.UserName = rec.UserName
	}
	u.Active = rec.Active
	return u
}

// decodeWebflow returns the record's Webflow snapshot (see snapshot.go), or
// nil when it has none or it cannot be read.
func decodeWebflow(rec *state.UserRecord) *webflowdata.User { return WebflowSnapshot(rec) }

// WebflowSnapshot returns the last Webflow user stored with rec (see
// snapshot.go), or nil when it has none or it cannot be read. Read the
// snapshot only through it: it is stored in a form only FillRecord writes.
func WebflowSnapshot(rec *state.UserRecord) *webflowdata.User {
	if len(rec.Webflow) == 0 {
		return nil
	}
	w, err := decodeSnapshot(rec.Webflow, rec)
	if err != nil {
		return nil
	}
	return w
}

// fill writes u and wu into rec, keeping the indexed fields in step.
func (h *usersHandler) fill(rec *state.UserRecord, u mapping.User, email string, wu *webflowdata.User) {
	FillRecord(rec, u, email, wu, h.now())
}

// groupRefs returns each user's groups attribute (the linked groups the IdP
// put them in, as recorded: reads show the desired state at once).
func (h *usersHandler) groupRefs(ctx context.Context, ids []string) map[string][]any {
	v, err := h.store.GroupsOf(ctx, h.site.ID, ids, false)
	if err != nil {
		return nil
	}
	return h.refs(v)
}

// refs renders the groups attribute of every user in v.
func (h *usersHandler) refs(v *state.UserView) map[string][]any {
	out := make(map[string][]any, len(v.Slugs))
	for id, slugs := range v.Slugs {
		var gs []any // sized once for all the user's groups, not grown by append
		for _, sl := range slugs {
			if l, ok := v.Groups[sl]; ok {
				if gs == nil {
					gs = make([]any, 0, len(slugs))
				}
				gs = append(gs, map[string]any{"value": l.ID, "display": l.DisplayName, "$ref": h.base + "/Groups/" + url.PathEscape(l.ID), "type": "direct"})
			}
		}
		if gs != nil {
			out[id] = gs
		}
	}
	return out
}

func (h *usersHandler) resource(rec *state.UserRecord, r *http.Request, groups []any) scim.Resource {
	u := decodeUser(rec)
	view := mapping.WebflowView{UserID: rec.WebflowUserID}
	if wu := decodeWebflow(rec); wu != nil && rec.WebflowUserID != "" {
		view.Status = wu.Status
		view.AccessGroups = wu.Slugs()
		view.InvitedOn = wu.InvitedOn.Time
		view.LastLogin = wu.LastLogin.Time
	}
	attrs := mapping.ToAttributes(u, view)
	if len(groups) > 0 {
		attrs["groups"] = groups
	}
	if r != nil {
		if inc, exc, ok := projectionOf(r); ok {
			attrs = mapping.Project(attrs, inc, exc)
		}
	}
	created, modified := rec.Created, rec.Modified
	res := scim.Resource{ID: rec.ID, Attributes: attrs, Meta: scim.Meta{Created: &created, LastModified: &modified}}
	if u.ExternalID != "" {
		res.ExternalID = optional.NewString(u.ExternalID)
	}
	return res
}

// userSchemas is what every User resource lists in schemas, as the
// library does: the core schema and every extension.
var userSchemas = []string{
	"urn:ietf:params:scim:schemas:core:2.0:User",
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
	mapping.ExtensionSchemaURN,
}

// render builds a User resource as the library would for GET /Users/{id}.
func (h *usersHandler) render(rec *state.UserRecord, r *http.Request, base string, groups []any) map[string]any {
	res := h.resource(rec, r, groups)
	out := make(map[string]any, len(res.Attributes)+4)
	for k, v := range res.Attributes {
		out[k] = v
	}
	out["id"] = res.ID
	if res.ExternalID.Present() {
		out["externalId"] = res.ExternalID.Value()
	}
	out["schemas"] = userSchemas
	out["meta"] = map[string]any{
		"resourceType": "User",
		"created":      rec.Created.UTC().Format(time.RFC3339),
		"lastModified": rec.Modified.UTC().Format(time.RFC3339),
		"location":     base + "/Users/" + url.PathEscape(rec.ID),
	}
	if r != nil {
		return projectCommon(out, r)
	}
	return out
}

// ---- error translation ----

// fail turns any error into what the client must see: a ScimError for
// statuses the library accepts, or an override for 429/503. Internal
// details go to the log, never into detail.
func (h *usersHandler) fail(ctx context.Context, op string, err error) error {
	var me *mapping.Error
	var se scimerrors.ScimError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &me):
		status := me.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		return scimerrors.ScimError{Status: status, ScimType: scimerrors.ScimType(me.ScimType), Detail: me.Detail}
	case webflowdata.IsUserAccountsUnavailable(err):
		h.log.Error("Webflow answered that User Accounts are unavailable on this site: Webflow disabled User Accounts on "+webflowdata.SunsetDate, "op", op, "error", err)
		return failWith(ctx, http.StatusServiceUnavailable, "", "User Accounts unavailable on this site (Webflow disabled User Accounts on "+webflowdata.SunsetDate+"); the site Membership API no longer exists", 0)
	case errors.As(err, new(*state.WaitTimeoutError)):
		var wte *state.WaitTimeoutError
		errors.As(err, &wte)
		h.log.Warn("Webflow budget for this token is exhausted; asking the IdP to retry", "op", op, "retry_after", wte.RetryAfter.String())
		return failWith(ctx, http.StatusTooManyRequests, "", "the Webflow rate budget for this site's token is used up; retry after the time in Retry-After", max(wte.RetryAfter, time.Second))
	case webflowdata.IsRateLimited(err):
		e, _ := webflowdata.AsAPIError(err)
		h.log.Warn("Webflow rate limit reached", "op", op)
		return failWith(ctx, http.StatusTooManyRequests, "", "Webflow rate limit reached for this site's token; retry later", e.RetryAfter)
	case webflowdata.IsUnauthorized(err):
		e, _ := webflowdata.AsAPIError(err)
		h.log.Error("Webflow refused the bridge's token for this site", "op", op, "status", e.Status, "code", e.Code, "message", e.Message)
		return failWith(ctx, http.StatusServiceUnavailable, "", fmt.Sprintf("Webflow refused the bridge's API token for this site (%d %s: %s); fix sites[].webflowToken", e.Status, e.Code, e.Message), 0)
	case webflowdata.IsValidation(err):
		e, _ := webflowdata.AsAPIError(err)
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: "Webflow rejected the request: " + e.Message}
	case webflowdata.IsUserLimit(err):
		return failWith(ctx, http.StatusConflict, "", "the Webflow site has reached its limit of 20,000 users", 0)
	case errors.Is(err, state.ErrConflict):
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: conflictDetail(err)}
	case errors.Is(err, errCreateInFlight):
		h.log.Warn("another attempt at creating this user was still at work when the wait ran out; asking the IdP to retry", "op", op)
		return failWith(ctx, http.StatusServiceUnavailable, "", "another attempt at creating this user (same userName or email) is still in progress; retry after the time in Retry-After", h.lockWaitBound())
	case errors.Is(err, errBusy):
		h.log.Warn("another writer held the user's lock when the wait ran out; asking the IdP to retry", "op", op)
		return failWith(ctx, http.StatusServiceUnavailable, "", "another change to this user is still in progress; retry after the time in Retry-After", h.lockWaitBound())
	case errors.Is(err, state.ErrLockLost):
		h.log.Warn("the user's lock expired before the write was stored; nothing stored, asking the IdP to retry", "op", op)
		return failWith(ctx, http.StatusServiceUnavailable, "", "the change to this user took longer than its lock allows and was not stored; retry after the time in Retry-After", h.lockWaitBound())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		h.log.Warn("request ran out of time", "op", op, "error", err)
		return failWith(ctx, http.StatusServiceUnavailable, "", "the bridge ran out of time waiting for Webflow; retry later", 30*time.Second)
	default:
		var apiErr *webflowdata.APIError
		if errors.As(err, &apiErr) || isTransport(err) {
			h.log.Error("Webflow call failed", "op", op, "error", err)
			return failWith(ctx, http.StatusServiceUnavailable, "", "Webflow is not answering correctly right now; retry later", 30*time.Second)
		}
		h.log.Error("state store or internal failure", "op", op, "error", err)
		return failWith(ctx, http.StatusServiceUnavailable, "", "the bridge's state store is unavailable; retry later", 10*time.Second)
	}
}

func isTransport(err error) bool {
	var te *webflowdata.TransportError
	return errors.As(err, &te)
}

func conflictDetail(err error) string {
	var ce *state.ConflictError
	if errors.As(err, &ce) {
		return fmt.Sprintf("a user with this %s already exists", ce.Index)
	}
	return "a user with this userName or email already exists"
}

func notFound(id string) error { return scimerrors.ScimErrorResourceNotFound(id) }

// ---- load ----

// An id found nowhere is remembered for missTTL, per process, so asking
// again costs nothing: outside a rebuild it saves the store round trips
// (a miss never costs a Webflow call there), during one the Webflow read.
// Per process rather than in Redis: a shared entry would cost the very
// round trip it saves, and would let one site's token write a key into
// the Redis every site depends on for each random id it sends; here the
// cost is bounded by missMax entries per site (about 100 bytes each).
// A cached miss can only be wrong for an id that appears within missTTL:
// ids are Webflow's fresh ObjectIDs (or random), which no client can ask
// for before the create that returns them; adoption forgets the id; and
// entering a rebuild clears every miss (enterRebuild).
const (
	missTTL = time.Minute
	missMax = 4096
)

// load returns the record for id. Outside a rebuild an id the store does
// not hold is 404 at once: the bridge never reads, adopts or deletes a
// Webflow user it did not create, so a SCIM token cannot reach the site's
// other users (customers who signed up on the site) and random ids cost
// no Webflow call. During a rebuild after a Redis loss, the store has not
// caught up with the ids the bridge gave out (the SCIM id is the Webflow
// id at creation), so one read of Webflow decides: a user Webflow has is
// adopted, as the rebuild itself would adopt it moments later. Misses are
// remembered (misses) so a repeated unknown id costs nothing.
func (h *usersHandler) load(ctx context.Context, id string) (*state.UserRecord, error) {
	if strings.TrimSpace(id) == "" || h.misses.Has(id) {
		return nil, notFound(id)
	}
	rec, err := h.store.GetUser(ctx, h.site.ID, id)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, state.ErrNotFound) && !errors.Is(err, state.ErrInvalid) {
		return nil, err
	}
	if !objectIDPattern.MatchString(id) {
		h.misses.Add(id)
		return nil, notFound(id)
	}
	// The id may be the Webflow id of a record whose SCIM id differs (one
	// created inactive, then invited).
	if other, ferr := h.store.FindUser(ctx, h.site.ID, state.IndexWebflowID, id); ferr == nil {
		return other, nil
	}
	if !h.inRebuild() {
		h.misses.Add(id)
		return nil, notFound(id)
	}
	wu, err := h.wf.GetUser(ctx, h.site.ID, id)
	if err != nil {
		if webflowdata.IsNotFound(err) {
			h.misses.Add(id)
			return nil, notFound(id)
		}
		return nil, err
	}
	if rec, err = h.adopt(ctx, wu); err != nil {
		return nil, err
	}
	h.log.Info("rebuilding: adopted the Webflow user behind an id the IdP holds", "id", id)
	return rec, nil
}

// ---- Create ----

func (h *usersHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	u, err := mapping.FromAttributes(attrs)
	if err != nil {
		return scim.Resource{}, h.fail(r.Context(), "create", err)
	}
	rec, groups, err := h.create(r.Context(), u)
	if err != nil {
		return scim.Resource{}, err
	}
	return h.resource(rec, nil, groups), nil
}

// create provisions u: Create's work once the attributes are a User (the
// POST fast path, fastpost.go, calls it with the User it decoded). It
// returns the stored record and its groups attribute.
func (h *usersHandler) create(ctx context.Context, u mapping.User) (*state.UserRecord, []any, error) {
	email, err := u.WebflowEmail()
	if err != nil {
		return nil, nil, h.fail(ctx, "create", err)
	}
	// Reserve the create, across replicas, before anything reaches Webflow:
	// every invite sends an email. The same atomic step checks that no
	// record holds the userName or the email; another attempt at creating
	// the same person that is at work is waited for.
	res, err := h.reserveCreate(ctx, u, email)
	var taken *state.ConflictError
	switch {
	case errors.As(err, &taken) && taken.Index == state.IndexUserName:
		// A record holds the userName: the IdP's userName filter finds it.
		return nil, nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "User already exists: userName " + u.UserName + " is taken"}
	case errors.As(err, &taken):
		if taken.Holder != nil && taken.Holder.Adopted {
			// A record rebuilt from Webflow (Redis lost the bridge's data):
			// the IdP is sending the user again. Link it, don't invite.
			return h.relink(ctx, taken.Holder, u, email)
		}
		return nil, nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "User already exists: another user has the email " + email}
	case err != nil:
		return nil, nil, h.fail(ctx, "create", err)
	}
	// How the reservation ends. Released when nothing reached Webflow (or
	// by the stored record itself). Abandoned, marked unresolved, when an
	// invite may have reached Webflow without the record being stored:
	// nothing is in flight any more, so the next attempt, on any replica,
	// takes it over at once, looks the email up and links or invites;
	// Webflow refuses a second invite for the same email, so that cannot
	// send two. Either way this replica's waiters for the same person are
	// woken at once.
	unresolved := false
	defer func() {
		if unresolved {
			res.Abandon()
		} else {
			res.Release()
		}
		h.creates.release(createKey(email))
	}()

	rec := &state.UserRecord{SiteID: h.site.ID, Active: u.Active}
	var wu *webflowdata.User
	if u.Active || h.site.Deactivation != DeactivateDelete {
		if res.Takeover {
			// An earlier attempt gave up after an ambiguous invite, or died
			// after reserving: it may have invited. Until this attempt
			// stores the record, whatever happens, the question stays open
			// for the next one.
			found, ferr := h.wf.FindUserByEmail(ctx, h.site.ID, email)
			switch {
			case ferr == nil:
				h.log.Warn("recovered an interrupted create: the user was already invited; linked, not invited again", "webflow_user_id", found.ID, "unresolved", res.Unresolved)
				wu = found
			case !errors.Is(ferr, webflowdata.ErrUserNotFoundByEmail):
				unresolved = true
				return nil, nil, h.fail(ctx, "create", ferr)
			}
		}
		if wu == nil {
			wu, err = h.inviteWith(ctx, email, nil, res.Takeover)
			if err != nil {
				unresolved = res.Takeover || webflowdata.IsAmbiguous(err)
				return nil, nil, h.fail(ctx, "create", err)
			}
		}
		if h.failpoint != nil {
			h.failpoint("after-invite")
		}
		if patch, changed := mapping.DataDiff(wu.Data, u.WebflowData(), nil); changed {
			if nu, err := h.wf.UpdateUser(ctx, h.site.ID, wu.ID, webflowdata.UpdateUserRequest{Data: patch}); err != nil {
				// The invite went out; keep the user and say so, rather
				// than lose the link to a real Webflow user.
				h.log.Warn("invited, but setting the name/data failed; the next update will retry", "webflow_user_id", wu.ID, "error", err)
			} else {
				wu = nu
			}
		}
		rec.ID = wu.ID
	} else {
		rec.ID = newSCIMID()
	}
	h.fill(rec, u, email, wu)
	if err := h.store.CreateReservedUser(ctx, rec, res); err != nil {
		if errors.Is(err, state.ErrExists) || errors.Is(err, state.ErrConflict) {
			return nil, nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "User already exists: " + conflictDetail(err)}
		}
		// The Webflow user exists (invited or linked) without a record.
		unresolved = wu != nil
		return nil, nil, h.fail(ctx, "create", err)
	}
	h.log.Info("user provisioned", "id", rec.ID, "webflow_user_id", rec.WebflowUserID)
	// A record stored a moment ago is in no group yet: no read needed.
	return rec, nil, nil
}

// relink gives an adopted record the IdP's attributes and answers the
// POST with 201: the user was created before the bridge lost its records.
func (h *usersHandler) relink(ctx context.Context, rec *state.UserRecord, u mapping.User, email string) (*state.UserRecord, []any, error) {
	out := *rec
	out.Adopted = false
	out.Active = u.Active
	wu := decodeWebflow(rec)
	if wu != nil {
		if patch, changed := mapping.DataDiff(wu.Data, u.WebflowData(), nil); changed {
			if nu, err := h.wf.UpdateUser(ctx, h.site.ID, rec.WebflowUserID, webflowdata.UpdateUserRequest{Data: patch}); err == nil {
				wu = nu
			}
		}
	}
	h.fill(&out, u, email, wu)
	if err := h.save(ctx, &out); err != nil {
		return nil, nil, h.fail(ctx, "create", err)
	}
	h.log.Info("linked the IdP's user to a record rebuilt from Webflow; no invite", "id", out.ID)
	return &out, h.groupRefs(ctx, []string{out.ID})[out.ID], nil
}

// inviteWith sends one invite with initial access groups (slugs), or links
// the Webflow user that already has the email. After an ambiguous failure
// it looks the email up before giving up, because the invite may have gone
// through. resolving says an earlier attempt's invite may have gone
// through (a taken-over create): a Webflow user with this email may be
// that invite's, so it is linked whatever onExistingUser says.
func (h *usersHandler) inviteWith(ctx context.Context, email string, groups []string, resolving bool) (*webflowdata.User, error) {
	wu, err := h.wf.InviteUser(ctx, h.site.ID, webflowdata.InviteUserRequest{Email: email, AccessGroups: groups})
	switch {
	case err == nil:
		h.log.Info("Webflow sent an invitation email", "webflow_user_id", wu.ID)
		return wu, nil
	case webflowdata.IsDuplicateEmail(err):
		if h.site.OnExistingUser == ExistingUserConflict && !h.inRebuild() && !resolving {
			return nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "a Webflow user with this email already exists on the site (onExistingUser: conflict)"}
		}
		found, ferr := h.wf.FindUserByEmail(ctx, h.site.ID, email)
		if ferr != nil {
			return nil, fmt.Errorf("linking existing Webflow user: %w", ferr)
		}
		if _, err := h.store.FindUser(ctx, h.site.ID, state.IndexWebflowID, found.ID); err == nil {
			return nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "the Webflow user with this email is already linked to another SCIM user"}
		}
		h.log.Info("linked an existing Webflow user instead of inviting", "webflow_user_id", found.ID)
		return found, nil
	case webflowdata.IsAmbiguous(err):
		found, ferr := h.wf.FindUserByEmail(ctx, h.site.ID, email)
		if ferr == nil {
			h.log.Warn("invite answer was lost but the user exists; linked it", "webflow_user_id", found.ID)
			return found, nil
		}
		return nil, err
	default:
		return nil, err
	}
}

// ---- Get / GetAll ----

func (h *usersHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	rec, groups, err := h.loadView(ctx, id)
	if err != nil {
		return scim.Resource{}, h.fail(ctx, "get", err)
	}
	return h.resource(h.refresh(ctx, rec), r, groups), nil
}

// loadView is load with the user's groups attribute, in one round trip
// in the usual case. A write to /Users never changes the user's groups
// (they are written through /Groups), so these also serve the answer to
// a PUT or PATCH.
func (h *usersHandler) loadView(ctx context.Context, id string) (*state.UserRecord, []any, error) {
	if strings.TrimSpace(id) != "" && !h.misses.Has(id) {
		v, err := h.store.ViewUsers(ctx, h.site.ID, []string{id}, false)
		if err == nil && len(v.Users) == 1 {
			return v.Users[0], h.refs(v)[id], nil
		}
	}
	rec, err := h.load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return rec, h.groupRefs(ctx, []string{rec.ID})[rec.ID], nil
}

// refresh re-reads a stale record from Webflow. Failures are logged and
// the stored record is served: a GET must not fail because Webflow is busy.
func (h *usersHandler) refresh(ctx context.Context, rec *state.UserRecord) *state.UserRecord {
	if rec.WebflowUserID == "" || h.now().Sub(rec.SyncedAt) < h.site.RefreshAge {
		return rec
	}
	wu, err := h.wf.GetUser(ctx, h.site.ID, rec.WebflowUserID)
	if err != nil {
		h.log.Warn("could not refresh user from Webflow; serving the stored record", "id", rec.ID, "error", err)
		return rec
	}
	next := *rec
	h.fill(&next, decodeUser(rec), rec.Email, wu)
	if err := h.store.ReplaceUser(ctx, &next); err != nil {
		h.log.Debug("refresh not stored", "id", rec.ID, "error", err)
		return &next
	}
	return &next
}

// GetAll implements scim.ResourceHandler. The server answers GET /Users
// itself (serveList); this serves any caller that still goes through the
// library, with the same semantics.
func (h *usersHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	ctx := r.Context()
	recs, total, _, err := h.find(ctx, filterOf(params), max(params.StartIndex, 1), params.Count)
	if err != nil {
		return scim.Page{}, h.fail(ctx, "list", err)
	}
	out := make([]scim.Resource, 0, len(recs))
	for _, rec := range recs {
		out = append(out, h.resource(rec, r, nil))
	}
	return scim.Page{TotalResults: total, Resources: out}, nil
}

// filterOf returns the parsed filter the library validated, or nil.
func filterOf(params scim.ListRequestParams) filter.Expression {
	if params.FilterValidator == nil {
		return nil
	}
	return params.FilterValidator.GetFilter()
}

// scanBatch is how many records a residual filter reads per round trip.
const scanBatch = 500

// query answers a translated filter: index lookups for the eq conditions,
// then every condition (and the residual) checked on the records, in
// creation order so paging is stable.
func (h *usersHandler) query(ctx context.Context, q mapping.Query) ([]*state.UserRecord, *state.UserView, error) {
	var candidates []*state.UserRecord
	var view *state.UserView
	if len(q.Eq) > 0 {
		// One round trip for the usual IdP lookup (userName, email,
		// externalId or id eq): the record and its groups together.
		c := q.Eq[0]
		var err error
		switch idx := indexFor(c.Attr); {
		case strings.EqualFold(c.Attr, "id"):
			view, err = h.store.ViewUsers(ctx, h.site.ID, []string{c.Value}, false)
		case idx.Unique():
			view, err = h.store.ViewUserBy(ctx, h.site.ID, idx, c.Value, false)
		default:
			var ids []string
			if ids, err = h.store.LookupUserIDs(ctx, h.site.ID, idx, c.Value); err == nil {
				view, err = h.store.ViewUsers(ctx, h.site.ID, ids, false)
			}
		}
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return nil, nil, err
		}
		if view != nil {
			candidates = view.Users
		}
	} else {
		all, err := h.allRecords(ctx)
		if err != nil {
			return nil, nil, err
		}
		candidates = all
	}
	out := candidates[:0]
	for _, rec := range candidates {
		ok, err := h.matches(q, rec)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	slices.SortStableFunc(out, func(a, b *state.UserRecord) int { return a.Created.Compare(b.Created) })
	return out, view, nil
}

func (h *usersHandler) matches(q mapping.Query, rec *state.UserRecord) (bool, error) {
	if q.IndexedOnly() {
		// The usual IdP lookup (userName eq): the indexed values decide,
		// and the SCIM document is decoded once, when it is rendered.
		return q.Holds(indexed(rec), mapping.User{})
	}
	return q.Holds(indexed(rec), decodeUser(rec))
}

// indexed are the values rec is indexed by.
func indexed(rec *state.UserRecord) mapping.Indexed {
	return mapping.Indexed{ID: rec.ID, UserName: rec.UserName, ExternalID: rec.ExternalID, DisplayName: rec.DisplayName, Email: rec.Email}
}

func indexFor(attr string) state.Index {
	switch strings.ToLower(attr) {
	case "username":
		return state.IndexUserName
	case "externalid":
		return state.IndexExternalID
	case "email":
		return state.IndexEmail
	case "displayname":
		return state.IndexDisplayName
	}
	return state.Index(attr)
}

// ---- Replace / Patch ----

func (h *usersHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	next, perr := mapping.FromAttributes(attrs)
	out, groups, err := h.replace(r.Context(), id, next, perr)
	if err != nil {
		return scim.Resource{}, err
	}
	return h.resource(out, r, groups), nil
}

// replace replaces the user id with next (perr: the body did not map to a
// User) and returns the stored record and its groups attribute, or the
// error as the client must see it (fail).
func (h *usersHandler) replace(ctx context.Context, id string, next mapping.User, perr error) (*state.UserRecord, []any, error) {
	// Parsed first, for the lock the write needs, but a missing user is
	// still 404 before a bad body is 400.
	mode := state.LockNever
	if perr == nil {
		mode = state.LockToSetActive(next.Active)
	}
	w, err := h.loadForWrite(ctx, id, mode)
	if err != nil {
		return nil, nil, h.fail(ctx, "replace", err)
	}
	defer w.release()
	if perr != nil {
		return nil, nil, h.fail(ctx, "replace", perr)
	}
	// Our extension's data is read-write but optional on PUT: an IdP that
	// never sends it must not wipe it.
	prev := decodeUser(w.rec)
	keepData := next.Data == nil
	if keepData {
		next.Data = prev.Data
	}
	if w.lock == nil && h.needsLock(w.rec, next) {
		if err := h.relock(ctx, w); err != nil {
			return nil, nil, h.fail(ctx, "replace", err)
		}
		if prev = decodeUser(w.rec); keepData {
			next.Data = prev.Data
		}
	}
	out, err := h.apply(ctx, w, prev, next)
	if err != nil {
		return nil, nil, h.fail(ctx, "replace", err)
	}
	return out, w.groups, nil
}

func (h *usersHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	out, groups, err := h.patch(r.Context(), id, ops)
	if err != nil {
		return scim.Resource{}, err
	}
	return h.resource(out, r, groups), nil
}

// patch applies ops to the user id and returns the stored record and its
// groups attribute, or the error as the client must see it (fail).
func (h *usersHandler) patch(ctx context.Context, id string, ops []scim.PatchOperation) (*state.UserRecord, []any, error) {
	mode := state.LockNever
	if active, ok := setsActive(ops); ok {
		mode = state.LockToSetActive(active)
	}
	w, err := h.loadForWrite(ctx, id, mode)
	if err != nil {
		return nil, nil, h.fail(ctx, "patch", err)
	}
	defer w.release()
	prev := decodeUser(w.rec)
	next, err := mapping.ApplyPatch(prev, ops)
	if err != nil {
		return nil, nil, h.fail(ctx, "patch", err)
	}
	if w.lock == nil && h.needsLock(w.rec, next) {
		if err := h.relock(ctx, w); err != nil {
			return nil, nil, h.fail(ctx, "patch", err)
		}
		prev = decodeUser(w.rec)
		if next, err = mapping.ApplyPatch(prev, ops); err != nil {
			return nil, nil, h.fail(ctx, "patch", err)
		}
	}
	out, err := h.apply(ctx, w, prev, next)
	if err != nil {
		return nil, nil, h.fail(ctx, "patch", err)
	}
	return out, w.groups, nil
}

// setsActive returns the active flag ops set, when they set it to a
// boolean (path "active", or a path-less value holding "active") and
// nothing else touches it: the write then needs the user's lock only if
// the stored flag differs (state.LockToSetActive).
func setsActive(ops []scim.PatchOperation) (active, ok bool) {
	for _, op := range ops {
		o := strings.ToLower(op.Op)
		switch {
		case op.Path == nil:
			m, _ := op.Value.(map[string]any)
			v, has := m["active"]
			if !has {
				continue
			}
			b, isBool := v.(bool)
			if o == "remove" || !isBool {
				return false, false
			}
			active, ok = b, true
		case strings.EqualFold(op.Path.AttributePath.AttributeName, "active"):
			b, isBool := op.Value.(bool)
			if o == "remove" || !isBool || op.Path.AttributePath.SubAttribute != nil || op.Path.ValueExpression != nil {
				return false, false
			}
			active, ok = b, true
		}
	}
	return active, ok
}

// needsLock reports whether moving rec to next writes the user's full
// access-group list to Webflow (a change of active, or an email change
// that reinvites), which only the holder of the user's lock may do.
func (h *usersHandler) needsLock(rec *state.UserRecord, next mapping.User) bool {
	if next.Active != rec.Active {
		return true
	}
	email, err := next.WebflowEmail()
	return err == nil && next.Active && rec.WebflowUserID != "" && h.site.EmailChange != EmailChangeReject &&
		!strings.EqualFold(email, rec.Email)
}

// userWrite is what a PUT or PATCH of a user works from, read in one round
// trip in the usual case: the record, the groups attribute of the answer
// and, when the write changes the active flag, the user's lock with the
// view read under it. The record is then read under the lock too, and the
// write stores it and releases the lock in one more round trip (saveWrite).
type userWrite struct {
	rec    *state.UserRecord
	groups []any           // the answer's groups attribute
	view   *state.UserView // with lock: the desired and managed slugs
	lock   *heldLock       // nil when not held
	// satisfied: Webflow holds the full list the IdP wants, so releasing
	// the lock completes the user's queued membership write.
	satisfied bool
	// mustStore: the write created a Webflow user (an invite), which the
	// record must hold even if the lock was lost meanwhile.
	mustStore bool
}

// release lets go of the lock if the write still holds it.
func (w *userWrite) release() {
	if w.lock == nil {
		return
	}
	if w.satisfied {
		w.lock.unlockSatisfied()
	} else {
		w.lock.unlock()
	}
	w.lock = nil
}

// loadForWrite is loadView for a writer: with mode (state.WriteView) the
// same round trip also takes the user's lock when the write will need it,
// waiting for it (waitTurn) while another writer holds it.
func (h *usersHandler) loadForWrite(ctx context.Context, id string, mode state.LockMode) (*userWrite, error) {
	if strings.TrimSpace(id) != "" && !h.misses.Has(id) {
		var w *userWrite
		err := h.waitTurn(ctx, &h.waiters, id, func() (bool, error) {
			var busy bool
			var err error
			w, busy, err = h.tryWriteView(ctx, id, mode)
			return !busy, err
		})
		if err != nil {
			return nil, err
		}
		if w != nil {
			return w, nil
		}
	}
	rec, err := h.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return &userWrite{rec: rec, groups: h.groupRefs(ctx, []string{rec.ID})[rec.ID]}, nil
}

// tryWriteView reads id's write view once; busy when mode wanted the lock
// and another writer holds it; nil when the store has no record under id.
func (h *usersHandler) tryWriteView(ctx context.Context, id string, mode state.LockMode) (w *userWrite, busy bool, err error) {
	// Taken before the lock, so the lock expires no earlier than this.
	expires := time.Now().Add(lockTTL)
	v, lk, busy, err := h.store.WriteView(ctx, h.site.ID, id, lockTTL, mode)
	if err != nil || busy {
		return nil, busy, err
	}
	var held *heldLock
	if lk != nil {
		held = &heldLock{lk: lk, id: id, waiters: &h.waiters, expires: expires}
	}
	if len(v.Users) != 1 {
		if held != nil {
			held.unlock()
		}
		return nil, false, nil
	}
	return &userWrite{rec: v.Users[0], groups: h.refs(v)[id], view: v, lock: held}, false, nil
}

// relock takes w's user's lock and reads the record and view again under
// it, for a write found to need the lock after a read without it.
func (h *usersHandler) relock(ctx context.Context, w *userWrite) error {
	id := w.rec.ID
	var nw *userWrite
	err := h.waitTurn(ctx, &h.waiters, id, func() (bool, error) {
		var busy bool
		var err error
		nw, busy, err = h.tryWriteView(ctx, id, state.LockAlways)
		return !busy, err
	})
	if err != nil {
		return err
	}
	if nw == nil {
		return notFound(id) // deleted meanwhile
	}
	*w = *nw
	return nil
}

// saveWrite stores out, the new state of w's user: with the lock, in the
// same round trip as its release (state.UserLock.SaveUnlock), and not at
// all if the lock was lost (another writer may have the user now and the
// IdP retries), unless out holds a Webflow user just invited; without it,
// as save.
func (h *usersHandler) saveWrite(ctx context.Context, w *userWrite, out *state.UserRecord) error {
	lk := w.lock
	if lk == nil {
		return h.save(ctx, out)
	}
	w.lock = nil
	err := lk.lk.SaveUnlock(ctx, out, w.satisfied)
	lk.waiters.release(lk.id)
	if errors.Is(err, state.ErrLockLost) && w.mustStore {
		h.log.Warn("the user's lock expired during an invite; storing the invited user all the same", "id", out.ID)
		return h.save(ctx, out)
	}
	return err
}

// apply moves the user from w.rec, whose SCIM user is prev
// (decodeUser), to next with the fewest Webflow calls, then stores the
// result.
func (h *usersHandler) apply(ctx context.Context, w *userWrite, prev, next mapping.User) (*state.UserRecord, error) {
	rec := w.rec
	email, err := next.WebflowEmail()
	if err != nil {
		return nil, err
	}
	userNameChanged := !strings.EqualFold(next.UserName, prev.UserName)
	emailChanged := !strings.EqualFold(email, rec.Email)
	if userNameChanged {
		if other, err := h.store.FindUser(ctx, h.site.ID, state.IndexUserName, next.UserName); err == nil && other.ID != rec.ID {
			return nil, scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: "userName " + next.UserName + " is taken by another user"}
		}
	}
	// Only a change of the Webflow email is refused: a userName that
	// changes while the email stays (an Entra UPN rename) changes nothing
	// in Webflow and is simply stored.
	if emailChanged && h.site.EmailChange == EmailChangeReject {
		return nil, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeMutability,
			Detail: fmt.Sprintf("Webflow cannot change a user's email (stored %q); this change would change it. Set emailChange: reinvite to delete the Webflow user and invite the new address instead", rec.Email)}
	}

	wu := decodeWebflow(rec)
	out := *rec
	out.Active = next.Active

	switch {
	case emailChanged && rec.WebflowUserID != "" && next.Active:
		// emailChange: reinvite. Delete the old Webflow user, invite the
		// new address, keep the SCIM id and the access groups.
		nu, err := h.reinvite(ctx, w, &out, email, next)
		if err != nil {
			return nil, err
		}
		wu = nu
		out.WebflowUserID = wu.ID
	case !next.Active && prev.Active:
		patch, _ := mapping.DataDiff(snapshotData(wu), next.WebflowData(), managedKeys(prev))
		nu, err := h.deactivate(ctx, w, &out, patch)
		if err != nil {
			return nil, err
		}
		wu = nu
		if nu == nil {
			out.WebflowUserID = ""
			out.Webflow = nil
		}
	case next.Active && !prev.Active:
		nu, err := h.reactivate(ctx, w, &out, prev, next, wu, email)
		if err != nil {
			return nil, err
		}
		wu = nu
		out.WebflowUserID = nu.ID
	default:
		if rec.WebflowUserID != "" && wu != nil {
			if patch, changed := mapping.DataDiff(wu.Data, next.WebflowData(), managedKeys(prev)); changed {
				nu, err := h.wf.UpdateUser(ctx, h.site.ID, rec.WebflowUserID, webflowdata.UpdateUserRequest{Data: patch})
				if err != nil {
					return nil, err
				}
				wu = nu
			}
		}
	}
	h.fill(&out, next, email, wu)
	if sameContent(rec, &out) {
		return rec, nil // nothing to store: a PUT or PATCH that changes nothing costs no write
	}
	if err := h.saveWrite(ctx, w, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// reinvite moves rec's Webflow user to a new email (emailChange:
// reinvite). Under the user's lock it reads what the old Webflow user
// holds (readLocked: the invite's group list is a full-list write too),
// deletes it, and invites the new address with the old user's admin
// groups that no IdP group manages plus the linked groups the IdP wants.
// Ecommerce groups cannot be assigned through the API and stay behind.
func (h *usersHandler) reinvite(ctx context.Context, w *userWrite, rec *state.UserRecord, email string, next mapping.User) (*webflowdata.User, error) {
	var nu *webflowdata.User
	err := h.lockedWrite(ctx, w, rec, true, func(wctx context.Context, v *state.UserView, old *webflowdata.User) (bool, error) {
		managed, desired := desiredFrom(v, rec)
		var groups []string
		for _, s := range adminSlugs(old) {
			if !managed[s] {
				groups = append(groups, s) // unmanaged groups move with the user
			}
		}
		groups = union(groups, desired)
		if err := h.deleteUpstream(wctx, rec.WebflowUserID); err != nil {
			return false, err
		}
		// The invite is not bounded by the lock: it creates a user no other
		// writer knows yet, and cutting it short would make it ambiguous.
		var err error
		if nu, err = h.wf.InviteUser(ctx, h.site.ID, webflowdata.InviteUserRequest{Email: email, AccessGroups: groups}); err != nil {
			return false, err
		}
		w.mustStore = true
		h.log.Warn("email changed: deleted the Webflow user and invited the new address; Webflow sent an invitation email", "id", rec.ID, "webflow_user_id", nu.ID)
		if patch, changed := mapping.DataDiff(nu.Data, next.WebflowData(), nil); changed {
			if u2, err := h.wf.UpdateUser(ctx, h.site.ID, nu.ID, webflowdata.UpdateUserRequest{Data: patch}); err == nil {
				nu = u2
			}
		}
		// The invite carried the full list the IdP wants, which also
		// satisfies the user's queued membership write.
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return nu, nil
}

// sameContent reports whether two versions of a record hold the same
// data: every field but the bookkeeping (version, times).
func sameContent(a, b *state.UserRecord) bool {
	return a.ID == b.ID && a.SiteID == b.SiteID && a.WebflowUserID == b.WebflowUserID &&
		a.UserName == b.UserName && a.ExternalID == b.ExternalID && a.Email == b.Email &&
		a.DisplayName == b.DisplayName && a.Active == b.Active && a.Tombstone == b.Tombstone &&
		a.Adopted == b.Adopted && bytes.Equal(a.SCIM, b.SCIM) && bytes.Equal(a.Webflow, b.Webflow)
}

// save stores out, re-reading and overwriting on a concurrent change: the
// Webflow side already holds what out describes, so out wins.
func (h *usersHandler) save(ctx context.Context, out *state.UserRecord) error {
	for range 3 {
		err := h.store.ReplaceUser(ctx, out)
		if !errors.Is(err, state.ErrVersionMismatch) {
			return err
		}
		cur, gerr := h.store.GetUser(ctx, out.SiteID, out.ID)
		if gerr != nil {
			return gerr
		}
		out.Version = cur.Version
	}
	return state.ErrVersionMismatch
}

func managedKeys(u mapping.User) []string {
	d := u.WebflowData()
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	return keys
}

// adminSlugs are the groups the API can assign (and so restore).
func adminSlugs(wu *webflowdata.User) []string {
	if wu == nil {
		return nil
	}
	var out []string
	for _, g := range wu.AccessGroups {
		if g.Type != webflowdata.AccessGroupEcommerce {
			out = append(out, g.Slug)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// deactivate applies the site's deactivation policy to rec (already
// marked inactive). remove-access takes the managed groups away (the IdP's
// wishes stay recorded, so reactivation restores them); ecommerce and
// unmanaged groups stay. delete removes the Webflow user and keeps the
// SCIM record.
func (h *usersHandler) deactivate(ctx context.Context, w *userWrite, rec *state.UserRecord, dataPatch webflowdata.UserData) (*webflowdata.User, error) {
	if rec.WebflowUserID == "" {
		return nil, nil
	}
	if h.site.Deactivation == DeactivateDelete {
		if err := h.deleteUpstream(ctx, rec.WebflowUserID); err != nil {
			return nil, err
		}
		h.log.Info("deactivated: deleted the Webflow user, kept the SCIM record", "id", rec.ID)
		return nil, nil
	}
	nu, removed, err := h.writeUserRemoved(ctx, w, rec, dataPatch)
	if err != nil {
		return nil, err
	}
	if len(removed) == 0 {
		h.log.Info("deactivated: the user held no managed access groups; nothing removed", "id", rec.ID)
	} else {
		h.log.Info("deactivated: removed the managed access groups", "id", rec.ID, "groups", removed)
	}
	return nu, nil
}

// reactivate undoes deactivate: restore the managed groups the IdP wants,
// or (delete policy) invite again and map the same SCIM id to the new
// Webflow user.
func (h *usersHandler) reactivate(ctx context.Context, w *userWrite, rec *state.UserRecord, prev, next mapping.User, wu *webflowdata.User, email string) (*webflowdata.User, error) {
	if rec.WebflowUserID != "" {
		patch, _ := mapping.DataDiff(snapshotData(wu), next.WebflowData(), managedKeys(prev))
		nu, _, err := h.writeUserRemoved(ctx, w, rec, patch)
		if err != nil {
			return nil, err
		}
		h.log.Info("reactivated: restored the managed access groups", "id", rec.ID)
		return nu, nil
	}
	var desired []string
	if w.lock != nil && w.view != nil && w.view.Managed != nil {
		_, desired = desiredFrom(w.view, rec) // read under the lock
	} else {
		var err error
		if _, desired, err = h.desiredSlugs(ctx, rec); err != nil {
			return nil, err
		}
	}
	nu, err := h.inviteWith(ctx, email, desired, false)
	if err != nil {
		return nil, err
	}
	w.mustStore = true
	if patch, changed := mapping.DataDiff(nu.Data, next.WebflowData(), nil); changed {
		if u2, err := h.wf.UpdateUser(ctx, h.site.ID, nu.ID, webflowdata.UpdateUserRequest{Data: patch}); err == nil {
			nu = u2
		} else {
			h.log.Warn("re-invited, but setting the name/data failed; the next update will retry", "id", rec.ID, "error", err)
		}
	}
	h.log.Info("reactivated: invited again", "id", rec.ID, "webflow_user_id", nu.ID)
	return nu, nil
}

// snapshotData is the data of a record's Webflow snapshot wu (nil: none).
func snapshotData(wu *webflowdata.User) webflowdata.UserData {
	if wu != nil {
		return wu.Data
	}
	return nil
}

// deleteUpstream deletes a Webflow user; a 404 means it is already gone.
func (h *usersHandler) deleteUpstream(ctx context.Context, webflowID string) error {
	if rec, err := h.store.FindUser(ctx, h.site.ID, state.IndexWebflowID, webflowID); err == nil {
		ctx = webflowdata.WithAuditBefore(ctx, decodeWebflow(rec))
	}
	err := h.wf.DeleteUser(ctx, h.site.ID, webflowID)
	if err != nil && !webflowdata.IsNotFound(err) {
		return err
	}
	return nil
}

// ---- Delete ----

func (h *usersHandler) Delete(r *http.Request, id string) error {
	ctx := r.Context()
	// Only a user the bridge created or adopted is deleted. An unknown id
	// is 404 without a Webflow call, except during a rebuild, where load
	// adopts the user Webflow has under that id and it is deleted: the
	// IdP holds the id because the bridge gave it out (SCIM ids are the
	// Webflow ids at creation), and the IdP's DELETE is a deprovisioning
	// (Entra's hard delete) that would otherwise be lost, since IdPs take
	// a 404 on DELETE as done, and leave the person their access.
	rec, err := h.load(ctx, id)
	if err != nil {
		return h.fail(ctx, "delete", err)
	}
	if rec.ID != id {
		// Found through its Webflow id: the IdP holds another SCIM id
		// for that user, and deletes it by that one.
		return notFound(id)
	}
	if rec.WebflowUserID != "" {
		if err := h.deleteUpstream(ctx, rec.WebflowUserID); err != nil {
			return h.fail(ctx, "delete", err)
		}
	}
	if err := h.store.DeleteUser(ctx, h.site.ID, id); err != nil && !errors.Is(err, state.ErrNotFound) {
		return h.fail(ctx, "delete", err)
	}
	if err := h.store.ForgetUser(ctx, h.site.ID, id); err != nil {
		h.log.Warn("user deleted, but its group memberships could not be cleared", "id", id, "error", err)
	}
	h.misses.Add(id)
	h.log.Info("user deprovisioned", "id", id, "webflow_user_id", rec.WebflowUserID)
	return nil
}

// newSCIMID makes an id for a record with no Webflow user (created
// inactive under the delete policy): 24 hex digits, like Webflow's own.
func newSCIMID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
