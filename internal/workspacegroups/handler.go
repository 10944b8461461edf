// Package workspacegroups serves the IdP's workspace groups
// (/workspace/scim/v2/Groups, issue 15, passthrough mode with
// workspace.groups) and writes the Workspace roles and site access they
// give through the Workspace Members and Site Access APIs.
//
// The Handler stores groups and their members (native SCIM user ids, as
// the IdP holds them from the passthrough) in state and queues the users
// whose groups changed; the Worker drains that queue: it reads the users'
// group names, computes their roles with workspaceroles.Mapping, reads
// what Webflow holds and executes workspaceroles.NewPlan. Webflow's native
// SCIM stays the source of who is a collaborator; this package only sets
// roles, and never invites or removes anyone.
package workspacegroups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/misscache"
	"github.com/webflowscim/bridge/internal/passthrough"
	"github.com/webflowscim/bridge/internal/redact"
	"github.com/webflowscim/bridge/internal/scimhttp"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// GroupSchema is the SCIM core Group schema.
const (
	GroupSchema        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// maxBodyBytes bounds a request body, as the passthrough does.
const maxBodyBytes = 1 << 20

// Fetcher reads one native SCIM user and records its collaborator link
// (passthrough.(*Proxy).FetchUser); passthrough.ErrUserNotFound when
// Webflow has no such user.
type Fetcher interface {
	FetchUser(ctx context.Context, id string) (*state.Collaborator, error)
}

// Options configure a Handler.
type Options struct {
	Store   state.WorkspaceGroupStore
	Mapping *workspaceroles.Mapping
	Fetcher Fetcher
	// OwnUsers is set in workspace.mode: members, where group members are
	// the users the bridge itself serves at /Users (Fetcher is nil then).
	OwnUsers bool
	// Tokens are the IdP's bearer tokens for the workspace surface
	// (workspace.scimTokens); Guard is the shared failed-auth budget.
	Tokens    mapping.TokenSet
	Guard     *authguard.Guard
	PublicURL string // the surface's base, e.g. https://bridge/workspace/scim/v2
	Prefix    string // the path the surface is mounted at
	// AdminPath serves the queue view (GET: pending, failures, role
	// locks) to the same tokens; "" for none.
	AdminPath string
	// RedactEmails (logging.redactEmails) masks the local part of every
	// email the queue view shows, as the logs do.
	RedactEmails bool
	// MaxPatchOperations and MaxMembersPerRequest are the limits.* bounds.
	MaxPatchOperations   int
	MaxMembersPerRequest int
	Logger               *slog.Logger
}

// Handler serves /Groups of the workspace surface.
type Handler struct {
	opts   Options
	misses *misscache.Cache // ids native SCIM answered 404 for, not fetched again for a while
	names  map[string]string
}

// NewHandler builds a Handler.
func NewHandler(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	names := map[string]string{}
	for _, n := range opts.Mapping.Groups() {
		names[strings.ToLower(n)] = n
	}
	return &Handler{opts: opts, misses: misscache.New(10*time.Minute, 10_000, nil), names: names}
}

// Owns reports whether a request path is this handler's (…/Groups and
// …/Groups/<id>).
func (h *Handler) Owns(path string) bool {
	if h.opts.AdminPath != "" && path == h.opts.AdminPath {
		return true
	}
	_, ok := h.groupsRest(path)
	return ok
}

// groupsRest splits a …/Groups path: the rest after the collection ("",
// or "/<id>"), and whether the path is this handler's at all. The
// collection segment matches in any case and a trailing slash is
// ignored, as on the passthrough, so /groups cannot slip past to native
// SCIM.
func (h *Handler) groupsRest(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, h.opts.Prefix+"/")
	if !ok || len(rest) < len("Groups") || !strings.EqualFold(rest[:len("Groups")], "Groups") {
		return "", false
	}
	rest = strings.TrimSuffix(rest[len("Groups"):], "/")
	if rest != "" && rest[0] != '/' {
		return "", false // e.g. /GroupsX: not ours
	}
	return rest, true
}

type httpError struct {
	status   int
	scimType string
	detail   string
}

func (e *httpError) Error() string { return e.detail }

func errf(status int, scimType, format string, a ...any) *httpError {
	return &httpError{status: status, scimType: scimType, detail: fmt.Sprintf(format, a...)}
}

// ServeHTTP authenticates, then serves the Groups route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !scimhttp.Authenticate(w, r, h.opts.Guard, h.opts.Tokens, "workspace-scim", "workspace SCIM surface") {
		return
	}
	var err error
	if h.opts.AdminPath != "" && r.URL.Path == h.opts.AdminPath {
		err = h.serveQueue(w, r)
	} else {
		err = h.serve(w, r)
	}
	if err == nil {
		return
	}
	var he *httpError
	var me *mapping.Error
	var ce *state.ConflictError
	var mu *state.MissingUsersError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &me):
		he = &httpError{status: me.Status, scimType: me.ScimType, detail: me.Detail}
	case errors.As(err, &ce):
		he = errf(http.StatusConflict, "uniqueness", "another workspace group is named %q", ce.Value)
	case errors.As(err, &mu):
		he = errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "members not known as workspace users: %s", strings.Join(mu.IDs, ", "))
	case errors.Is(err, state.ErrNotFound):
		he = errf(http.StatusNotFound, "", "no such workspace group")
	case errors.Is(err, state.ErrExists):
		he = errf(http.StatusConflict, "uniqueness", "the group exists already")
	case errors.Is(err, state.ErrInvalid):
		he = errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "%s", strings.TrimPrefix(err.Error(), "state: "))
	case errors.Is(err, state.ErrGroupBusy):
		w.Header().Set("Retry-After", "5")
		he = errf(http.StatusServiceUnavailable, "", "another change of this group's members is in progress; retry")
	default:
		h.opts.Logger.ErrorContext(r.Context(), "workspace groups request failed", "method", r.Method, "err", err)
		w.Header().Set("Retry-After", "5")
		he = errf(http.StatusServiceUnavailable, "", "the bridge could not complete the request now; retry")
	}
	scimhttp.WriteError(w, he.status, he.scimType, he.detail)
}

// serveQueue is the operators' view of the roles queue: what waits, what
// failed for good, and the members Webflow keeps locked with the roles the
// bridge keeps for them.
func (h *Handler) serveQueue(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return errf(http.StatusMethodNotAllowed, "", "the workspace queue view answers GET only")
	}
	qs, err := h.opts.Store.WorkspaceQueueStats(r.Context())
	if err != nil {
		return err
	}
	locks, err := h.opts.Store.RoleLocks(r.Context())
	if err != nil {
		return err
	}
	age := 0.0
	if !qs.OldestPending.IsZero() {
		age = time.Since(qs.OldestPending).Seconds()
	}
	if h.opts.RedactEmails {
		for i := range locks {
			locks[i].Email = redact.Emails(locks[i].Email)
		}
		for i := range qs.Failures {
			qs.Failures[i].Error = redact.Emails(qs.Failures[i].Error)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"pending": qs.Pending, "oldestPendingAgeSeconds": age, "failures": qs.Failures, "roleLocks": locks,
	})
	return nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	rest, _ := h.groupsRest(r.URL.EscapedPath())
	id := ""
	if rest != "" {
		id = strings.TrimPrefix(rest, "/")
		if id == "" || strings.Contains(id, "/") || !validGroupID(id) {
			return errf(http.StatusNotFound, "", "no such workspace group")
		}
	}
	var body []byte
	if (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) && !mapping.AcceptedMediaType(r.Header.Get("Content-Type")) {
		return errf(http.StatusUnsupportedMediaType, mapping.ScimTypeInvalidSyntax, "Content-Type must be application/scim+json or application/json")
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err != nil {
			return errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "could not read the request body")
		}
		if len(b) > maxBodyBytes {
			return errf(http.StatusRequestEntityTooLarge, "", "request body exceeds %d bytes", maxBodyBytes)
		}
		body = b
	}
	ctx := r.Context()
	switch {
	case id == "" && r.Method == http.MethodGet:
		return h.list(ctx, w, r)
	case id == "" && r.Method == http.MethodPost:
		return h.create(ctx, w, body)
	case id != "" && r.Method == http.MethodGet:
		return h.get(ctx, w, r, id)
	case id != "" && r.Method == http.MethodPut:
		return h.replace(ctx, w, id, body)
	case id != "" && r.Method == http.MethodPatch:
		return h.patch(ctx, w, id, body)
	case id != "" && r.Method == http.MethodDelete:
		if err := h.opts.Store.UnlinkWorkspaceGroup(ctx, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("Allow", "GET, POST, PUT, PATCH, DELETE")
	return errf(http.StatusMethodNotAllowed, "", "method not allowed on workspace Groups")
}

// validGroupID is the id grammar of the groups this handler makes (32 hex
// digits); anything else cannot name one.
func validGroupID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func newGroupID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// configuredName returns the configured spelling of a displayName, or a
// 400 listing the configured names: a group no mapping names would store
// members that give no role, and the admin would think it does.
func (h *Handler) configuredName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "displayName is required")
	}
	if _, ok := h.names[strings.ToLower(name)]; ok {
		return nil
	}
	list := make([]string, 0, len(h.names))
	for _, n := range h.names {
		list = append(list, strconv.Quote(n))
	}
	sort.Strings(list)
	return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "displayName %q is not one of workspace.groups (%s): push only the groups the bridge maps to roles", name, strings.Join(list, ", "))
}

// groupBody is a POST or PUT body, as far as this surface reads it.
type groupBody struct {
	DisplayName string
	ExternalID  string
	Members     []string
	HasMembers  bool
}

func (h *Handler) readGroup(body []byte) (groupBody, error) {
	if err := mapping.CheckRequestSize(mapping.MeasureRequest(body, false, true), h.opts.MaxPatchOperations, h.opts.MaxMembersPerRequest); err != nil {
		return groupBody{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return groupBody{}, errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "the body is not a JSON object")
	}
	var g groupBody
	for k, v := range m {
		switch strings.ToLower(k) {
		case "displayname":
			s, ok := v.(string)
			if !ok {
				return g, errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "displayName must be a string")
			}
			g.DisplayName = s
		case "externalid":
			if v != nil {
				s, ok := v.(string)
				if !ok {
					return g, errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "externalId must be a string")
				}
				g.ExternalID = s
			}
		case "members":
			ids, err := memberList(v)
			if err != nil {
				return g, err
			}
			g.Members, g.HasMembers = ids, true
		}
	}
	if err := h.configuredName(g.DisplayName); err != nil {
		return g, err
	}
	return g, nil
}

// memberList reads a POST or PUT members value: null, or a list of
// objects each with a non-empty string value (the native SCIM user id).
func memberList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	bad := errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, `members must be a list of {"value": "<user id>"}`)
	if !ok {
		return nil, bad
	}
	for _, m := range list {
		obj, ok := m.(map[string]any)
		if !ok {
			return nil, bad
		}
		n := 0
		for k, val := range obj {
			if strings.EqualFold(k, "value") {
				if s, ok := val.(string); !ok || s == "" {
					return nil, bad
				}
				n++
			}
		}
		if n != 1 {
			return nil, bad
		}
	}
	return mapping.GroupMemberIDs(list), nil
}

func (h *Handler) create(ctx context.Context, w http.ResponseWriter, body []byte) error {
	g, err := h.readGroup(body)
	if err != nil {
		return err
	}
	if err := h.ensureLinks(ctx, g.Members); err != nil {
		return err
	}
	rec := &state.GroupRecord{ID: newGroupID(), DisplayName: g.DisplayName, ExternalID: g.ExternalID}
	if err := h.opts.Store.LinkWorkspaceGroup(ctx, rec); err != nil {
		return err
	}
	if len(g.Members) > 0 {
		if _, err := h.opts.Store.ChangeWorkspaceMembers(ctx, rec.ID, []state.MemberOp{{Op: "replace", IDs: g.Members}}, state.ChangeOptions{Enqueue: true, RequireUsers: true}); err != nil {
			// Nothing half-made stays: the group goes with its refusal.
			_ = h.opts.Store.UnlinkWorkspaceGroup(context.WithoutCancel(ctx), rec.ID)
			return err
		}
	}
	doc, err := h.resource(ctx, rec, true)
	if err != nil {
		return err
	}
	w.Header().Set("Location", h.location(rec.ID))
	scimhttp.WriteJSON(w, http.StatusCreated, doc)
	return nil
}

func (h *Handler) replace(ctx context.Context, w http.ResponseWriter, id string, body []byte) error {
	g, err := h.readGroup(body)
	if err != nil {
		return err
	}
	rec, err := h.opts.Store.WorkspaceGroup(ctx, id)
	if err != nil {
		return err
	}
	if err := h.ensureLinks(ctx, g.Members); err != nil {
		return err
	}
	// The name first: a taken name (409) then changes nothing.
	if g.DisplayName != rec.DisplayName || g.ExternalID != rec.ExternalID {
		rec.DisplayName, rec.ExternalID = g.DisplayName, g.ExternalID
		if err := h.opts.Store.RenameWorkspaceGroup(ctx, rec); err != nil {
			return err
		}
	}
	if g.HasMembers {
		if _, err := h.opts.Store.ChangeWorkspaceMembers(ctx, id, []state.MemberOp{{Op: "replace", IDs: g.Members}}, state.ChangeOptions{Enqueue: true, RequireUsers: true}); err != nil {
			return err
		}
	}
	doc, err := h.resource(ctx, rec, true)
	if err != nil {
		return err
	}
	scimhttp.WriteJSON(w, http.StatusOK, doc)
	return nil
}

func (h *Handler) patch(ctx context.Context, w http.ResponseWriter, id string, body []byte) error {
	if err := mapping.CheckRequestSize(mapping.MeasureRequest(body, true, true), h.opts.MaxPatchOperations, h.opts.MaxMembersPerRequest); err != nil {
		return err
	}
	rec, err := h.opts.Store.WorkspaceGroup(ctx, id)
	if err != nil {
		return err
	}
	norm, empty, err := mapping.NormalizeGroupPatchBody(body)
	if err != nil {
		return err
	}
	if empty {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	ops, err := mapping.ParseGroupPatch(norm)
	if err != nil {
		return err
	}
	ch, err := mapping.ApplyGroupPatch(ops, rec.DisplayName, rec.ExternalID)
	if err != nil {
		return err
	}
	renamed := ch.DisplayName != rec.DisplayName || ch.ExternalID != rec.ExternalID
	if renamed {
		if err := h.configuredName(ch.DisplayName); err != nil {
			return err
		}
	}
	var memOps []state.MemberOp
	var added []string
	for _, s := range ch.Members {
		memOps = append(memOps, state.MemberOp{Op: s.Op, IDs: s.IDs})
		if s.Op == "add" || s.Op == "replace" {
			added = append(added, s.IDs...)
		}
	}
	if err := h.ensureLinks(ctx, added); err != nil {
		return err
	}
	// The name first: a taken name (409) then changes nothing.
	if renamed {
		rec.DisplayName, rec.ExternalID = ch.DisplayName, ch.ExternalID
		if err := h.opts.Store.RenameWorkspaceGroup(ctx, rec); err != nil {
			return err
		}
	}
	if len(memOps) > 0 {
		if _, err := h.opts.Store.ChangeWorkspaceMembers(ctx, id, memOps, state.ChangeOptions{Enqueue: true, RequireUsers: true}); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ensureLinks makes sure every member id has a collaborator link: ids the
// bridge has not seen (users the IdP pushed before it stood in front of
// native SCIM) are read once from native SCIM, and ids native SCIM does
// not know are remembered for a while and refused with a 400.
func (h *Handler) ensureLinks(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var unknown []string
	for _, id := range ids {
		if !passthrough.ValidID(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "members are not workspace user ids: %s", quoteList(unknown))
	}
	missing, err := h.opts.Store.MissingCollaborators(ctx, dedup(ids))
	if err != nil {
		return err
	}
	for _, id := range missing {
		if h.misses.Has(id) {
			unknown = append(unknown, id)
			continue
		}
		if h.opts.Fetcher == nil {
			unknown = append(unknown, id)
			continue
		}
		if _, err := h.opts.Fetcher.FetchUser(ctx, id); err != nil {
			if errors.Is(err, passthrough.ErrUserNotFound) {
				h.misses.Add(id)
				unknown = append(unknown, id)
				continue
			}
			return fmt.Errorf("reading native SCIM user %s: %w", id, err)
		}
	}
	if len(unknown) > 0 && h.opts.OwnUsers {
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "members are not users of this workspace surface (create them through /Users first): %s", quoteList(unknown))
	}
	if len(unknown) > 0 {
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "members are not users of Webflow's native SCIM (create them through /Users first): %s", quoteList(unknown))
	}
	return nil
}

func quoteList(ids []string) string {
	const most = 10
	out := make([]string, 0, min(len(ids), most))
	for i, id := range ids {
		if i == most {
			return strings.Join(out, ", ") + fmt.Sprintf(" and %d more", len(ids)-most)
		}
		if len(id) > 64 {
			id = id[:64] + "…"
		}
		out = append(out, strconv.Quote(id))
	}
	return strings.Join(out, ", ")
}

func dedup(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func (h *Handler) location(id string) string { return h.opts.PublicURL + "/Groups/" + id }

func (h *Handler) resource(ctx context.Context, g *state.GroupRecord, withMembers bool) (map[string]any, error) {
	doc := map[string]any{
		"schemas":     []string{GroupSchema},
		"id":          g.ID,
		"displayName": g.DisplayName,
		"meta": map[string]any{
			"resourceType": "Group",
			"created":      g.Created.UTC().Format(time.RFC3339),
			"lastModified": g.Modified.UTC().Format(time.RFC3339),
			"location":     h.location(g.ID),
		},
	}
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if withMembers {
		ids, err := h.opts.Store.WorkspaceGroupMembers(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		sort.Strings(ids)
		members := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			members = append(members, map[string]any{"value": id, "$ref": h.opts.PublicURL + "/Users/" + id})
		}
		doc["members"] = members
	}
	return doc, nil
}

func membersExcluded(r *http.Request) bool {
	for _, a := range mapping.ParseAttrList(r.URL.Query().Get("excludedAttributes")) {
		if strings.EqualFold(a, "members") {
			return true
		}
	}
	return false
}

func (h *Handler) get(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) error {
	g, err := h.opts.Store.WorkspaceGroup(ctx, id)
	if err != nil {
		return err
	}
	doc, err := h.resource(ctx, g, !membersExcluded(r))
	if err != nil {
		return err
	}
	scimhttp.WriteJSON(w, http.StatusOK, doc)
	return nil
}

// list serves GET /Groups, with an optional filter: displayName,
// externalId or id eq a string (what Okta and Entra send before they
// create or link a group), optionally and members[value eq "<id>"]
// (Entra's membership check).
func (h *Handler) list(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var match func(g *state.GroupRecord) (bool, error)
	if raw := q.Get("filter"); raw != "" {
		if err := mapping.CheckFilterBounds(raw); err != nil {
			return err
		}
		e, err := filter.ParseFilter([]byte(raw))
		if err != nil {
			return errf(http.StatusBadRequest, mapping.ScimTypeInvalidFilter, "the filter does not parse: %s", err)
		}
		match, err = h.matcher(ctx, e)
		if err != nil {
			return err
		}
	}
	all, err := h.opts.Store.WorkspaceGroups(ctx)
	if err != nil {
		return err
	}
	var hits []*state.GroupRecord
	for _, g := range all {
		if match != nil {
			ok, err := match(g)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		hits = append(hits, g)
	}
	start, count := 1, len(hits)
	if s := q.Get("startIndex"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 1 {
			start = n
		}
	}
	if s := q.Get("count"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			count = n
		}
	}
	page := []map[string]any{}
	withMembers := !membersExcluded(r)
	for i := start - 1; i < len(hits) && len(page) < count; i++ {
		doc, err := h.resource(ctx, hits[i], withMembers)
		if err != nil {
			return err
		}
		page = append(page, doc)
	}
	scimhttp.WriteJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{listResponseSchema}, "totalResults": len(hits),
		"startIndex": start, "itemsPerPage": len(page), "Resources": page,
	})
	return nil
}

func (h *Handler) matcher(ctx context.Context, e filter.Expression) (func(*state.GroupRecord) (bool, error), error) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil {
			break
		}
		want, ok := x.CompareValue.(string)
		if !ok {
			break
		}
		switch strings.ToLower(x.AttributePath.AttributeName) {
		case "displayname":
			return func(g *state.GroupRecord) (bool, error) { return strings.EqualFold(g.DisplayName, want), nil }, nil
		case "externalid":
			return func(g *state.GroupRecord) (bool, error) { return g.ExternalID == want, nil }, nil
		case "id":
			return func(g *state.GroupRecord) (bool, error) { return g.ID == want, nil }, nil
		}
	case *filter.ValuePath:
		if !strings.EqualFold(x.AttributePath.AttributeName, "members") || x.ValueFilter == nil {
			break
		}
		ids, err := mapping.MembersFilterIDs(x.ValueFilter)
		if err != nil {
			return nil, err
		}
		return func(g *state.GroupRecord) (bool, error) {
			groups, err := h.opts.Store.WorkspaceUserGroups(ctx, ids)
			if err != nil {
				return false, err
			}
			for _, id := range ids {
				for _, gid := range groups[id] {
					if gid == g.ID {
						return true, nil
					}
				}
			}
			return false, nil
		}, nil
	case *filter.LogicalExpression:
		if x.Operator != filter.AND {
			break
		}
		a, err := h.matcher(ctx, x.Left)
		if err != nil {
			return nil, err
		}
		b, err := h.matcher(ctx, x.Right)
		if err != nil {
			return nil, err
		}
		return func(g *state.GroupRecord) (bool, error) {
			if ok, err := a(g); !ok || err != nil {
				return ok, err
			}
			return b(g)
		}, nil
	}
	return nil, errf(http.StatusBadRequest, mapping.ScimTypeInvalidFilter, `workspace Groups filter on displayName, externalId or id eq "<value>", optionally and members[value eq "<id>"]`)
}
