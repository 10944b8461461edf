package workspacemembers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/scimhttp"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// Store is the state the surface needs: the user records of its keyspace
// with their create reservations, and the workspace half (collaborator
// links, group memberships, the roles queue and its per-user lock).
type Store interface {
	state.Store
	ReserveCreate(ctx context.Context, siteID string, names []string, checks []state.CreateCheck, ttl, staleAfter time.Duration) (*state.CreateReservation, error)
	CreateReservedUser(ctx context.Context, rec *state.UserRecord, res *state.CreateReservation) error
	state.WorkspaceGroupStore
}

// Options configure a Handler.
type Options struct {
	Store       Store
	Client      *webflowdata.Client // the workspace token's (workspace.membersToken)
	WorkspaceID string
	Mapping     *workspaceroles.Mapping
	// Tokens are the IdP's bearer tokens (workspace.scimTokens); Guard is
	// the shared failed-authentication budget.
	Tokens    mapping.TokenSet
	Guard     *authguard.Guard
	PublicURL string // the surface's base, e.g. https://bridge/workspace/scim/v2
	Prefix    string // the path it is mounted at, e.g. /workspace/scim/v2
	// CreateStaleAfter is when a create's reservation whose holder died
	// is taken over (default 90s).
	CreateStaleAfter time.Duration
	// LockWait bounds the wait for another writer of the same user (or
	// another create of the same person) before a 503 (default 5s).
	LockWait time.Duration
	// AcceptanceCheckAge: a GET of a pending user lists its email when the
	// last look is older than this (default 30s); PATCH and PUT always do.
	AcceptanceCheckAge time.Duration
	// MaxPatchOperations and MaxMembersPerRequest are the limits.* bounds.
	MaxPatchOperations   int
	MaxMembersPerRequest int
	Now                  func() time.Time
	Logger               *slog.Logger
}

// Handler serves /Users (and discovery) of the workspace surface.
type Handler struct {
	opts     Options
	keyspace string
}

// maxBodyBytes bounds a request body, as on every other surface.
const maxBodyBytes = 1 << 20

// createReservationTTL bounds how long a create reservation lives at all.
const createReservationTTL = 10 * time.Minute

// userLockTTL bounds how long a request holds a user it is writing.
const userLockTTL = time.Minute

// NewHandler builds a Handler.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Client == nil || opts.Mapping == nil {
		return nil, errors.New("workspacemembers: a store, a Webflow client and a role mapping are required")
	}
	if !workspaceroles.IsObjectID(opts.WorkspaceID) {
		return nil, fmt.Errorf("workspacemembers: %q is not a workspace id", opts.WorkspaceID)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CreateStaleAfter <= 0 {
		opts.CreateStaleAfter = 90 * time.Second
	}
	if opts.LockWait <= 0 {
		opts.LockWait = 5 * time.Second
	}
	if opts.AcceptanceCheckAge <= 0 {
		opts.AcceptanceCheckAge = 30 * time.Second
	}
	return &Handler{opts: opts, keyspace: state.WorkspaceKeyspace(opts.WorkspaceID)}, nil
}

// Owns reports whether a request path is this surface's: everything under
// the prefix (the groups handler is asked first for …/Groups).
func (h *Handler) Owns(path string) bool {
	return path == h.opts.Prefix || strings.HasPrefix(path, h.opts.Prefix+"/")
}

// httpError is an answer the handler chose.
type httpError struct {
	status     int
	scimType   string
	detail     string
	retryAfter time.Duration
}

func (e *httpError) Error() string { return e.detail }

func errf(status int, scimType, format string, a ...any) *httpError {
	return &httpError{status: status, scimType: scimType, detail: fmt.Sprintf(format, a...)}
}

// ServeHTTP authenticates, then serves the route; every failure is a SCIM
// error with a detail, never a 500.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !scimhttp.Authenticate(w, r, h.opts.Guard, h.opts.Tokens, "workspace-scim", "workspace SCIM surface") {
		return
	}
	err := h.serve(w, r)
	if err == nil {
		return
	}
	he := h.answer(r.Context(), r.Method, err)
	if he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((he.retryAfter+time.Second-1)/time.Second)))
	}
	scimhttp.WriteError(w, he.status, he.scimType, he.detail)
}

// errBusy: another writer held the user's lock until the wait ran out.
var errBusy = errors.New("another change of this user is in progress")

// errCreateInFlight: another create of the same person was still at work.
var errCreateInFlight = errors.New("another create of this user is in progress")

// answer turns an error into what the IdP sees: 4xx for what it can fix,
// 429 or 503 with Retry-After for what passes.
func (h *Handler) answer(ctx context.Context, method string, err error) *httpError {
	var he *httpError
	var me *mapping.Error
	var ce *state.ConflictError
	var wte *state.WaitTimeoutError
	log := h.opts.Logger
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &me):
		status := me.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		return &httpError{status: status, scimType: me.ScimType, detail: me.Detail}
	case errors.As(err, &ce):
		return errf(http.StatusConflict, scimTypeUniqueness, "User already exists: another user has this %s", ce.Index)
	case errors.Is(err, state.ErrNotFound):
		return errf(http.StatusNotFound, "", "no such workspace user")
	case errors.Is(err, state.ErrInvalid):
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "%s", strings.TrimPrefix(err.Error(), "state: "))
	case errors.Is(err, errCreateInFlight):
		e := errf(http.StatusServiceUnavailable, "", "another attempt at creating this user (same userName or email) is still in progress; retry after the time in Retry-After")
		e.retryAfter = h.opts.LockWait
		return e
	case errors.Is(err, errBusy):
		e := errf(http.StatusServiceUnavailable, "", "another change to this user is still in progress; retry after the time in Retry-After")
		e.retryAfter = h.opts.LockWait
		return e
	case errors.As(err, &wte):
		log.WarnContext(ctx, "workspace members: the Webflow budget of workspace.membersToken is used up; asking the IdP to retry", "retry_after", wte.RetryAfter.String())
		e := errf(http.StatusTooManyRequests, "", "the Webflow rate budget of the workspace token is used up; retry after the time in Retry-After")
		e.retryAfter = max(wte.RetryAfter, time.Second)
		return e
	case webflowdata.IsRateLimited(err):
		ae, _ := webflowdata.AsAPIError(err)
		e := errf(http.StatusTooManyRequests, "", "Webflow rate limit reached for the workspace token; retry later")
		e.retryAfter = max(ae.RetryAfter, time.Second)
		return e
	case errors.Is(err, webflowdata.ErrNotEnterpriseWorkspace):
		log.ErrorContext(ctx, "workspace members: Webflow answers that the workspace is not on an Enterprise plan", "err", err)
		return &httpError{status: http.StatusServiceUnavailable, detail: "Webflow answers that the workspace is not on an Enterprise plan (not_enterprise_plan_workspace): the Workspace Members API needs one", retryAfter: time.Minute}
	case webflowdata.IsUnauthorized(err):
		ae, _ := webflowdata.AsAPIError(err)
		log.ErrorContext(ctx, "workspace members: Webflow refused workspace.membersToken", "status", ae.Status, "code", ae.Code)
		return &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("Webflow refused the bridge's workspace token (%d %s); fix workspace.membersToken (workspace_members:read/write, site_access:read/write)", ae.Status, ae.Code), retryAfter: time.Minute}
	case webflowdata.IsManagedBySCIM(err):
		return errf(http.StatusConflict, "", "Webflow refuses: this member is managed by Webflow's native SCIM (workspace_member_managed_by_scim); change it there")
	case isConflict(err):
		ae, _ := webflowdata.AsAPIError(err)
		log.WarnContext(ctx, "workspace members: Webflow answered 409 and lists nothing that explains it", "method", method, "code", ae.Code)
		return errf(http.StatusConflict, "", "Webflow refused with 409 %s: %s", ae.Code, ae.Message)
	case webflowdata.IsValidation(err):
		ae, _ := webflowdata.AsAPIError(err)
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidValue, "Webflow rejected the request: %s", ae.Message)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		log.WarnContext(ctx, "workspace members: request ran out of time", "method", method, "err", err)
		return &httpError{status: http.StatusServiceUnavailable, detail: "the bridge ran out of time waiting for Webflow; retry later", retryAfter: 30 * time.Second}
	}
	var ae *webflowdata.APIError
	var te *webflowdata.TransportError
	if errors.As(err, &ae) || errors.As(err, &te) {
		log.ErrorContext(ctx, "workspace members: Webflow call failed", "method", method, "err", err)
		return &httpError{status: http.StatusServiceUnavailable, detail: "Webflow is not answering correctly right now; retry later", retryAfter: 30 * time.Second}
	}
	log.ErrorContext(ctx, "workspace members: state store or internal failure", "method", method, "err", err)
	return &httpError{status: http.StatusServiceUnavailable, detail: "the bridge's state store is unavailable; retry later", retryAfter: 10 * time.Second}
}

// serve routes a request below the prefix.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), h.opts.Prefix)
	rest = strings.TrimSuffix(rest, "/")
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		return errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "the query string is malformed (bad percent-encoding or a ';' separator)")
	}
	switch {
	case strings.EqualFold(rest, "/ServiceProviderConfig"), strings.EqualFold(rest, "/ResourceTypes"), strings.EqualFold(rest, "/Schemas"):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			return errf(http.StatusMethodNotAllowed, "", "method %s is not allowed on a discovery endpoint; use GET", r.Method)
		}
		h.serveDiscovery(w, strings.ToLower(rest[1:]))
		return nil
	case len(rest) < len("/Users") || !strings.EqualFold(rest[:len("/Users")], "/Users") || (len(rest) > len("/Users") && rest[len("/Users")] != '/'):
		return errf(http.StatusNotFound, "", "no SCIM endpoint at %s; the workspace surface (workspace.mode: members) serves /Users and /Groups", r.URL.Path)
	}
	id := strings.TrimPrefix(rest[len("/Users"):], "/")
	if strings.Contains(id, "/") {
		return errf(http.StatusNotFound, "", "no such workspace user")
	}
	if id != "" {
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch {
	case id == "" && r.Method == http.MethodGet:
		return h.list(ctx, w, r)
	case id == "" && r.Method == http.MethodPost:
		return h.create(ctx, w, r, body)
	case id != "" && r.Method == http.MethodGet:
		return h.get(ctx, w, r, id)
	case id != "" && r.Method == http.MethodPut:
		return h.replace(ctx, w, r, id, body)
	case id != "" && r.Method == http.MethodPatch:
		return h.patch(ctx, w, r, id, body)
	case id != "" && r.Method == http.MethodDelete:
		if err := h.delete(ctx, id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if id == "" {
		w.Header().Set("Allow", "GET, POST")
	} else {
		w.Header().Set("Allow", "GET, PUT, PATCH, DELETE")
	}
	return errf(http.StatusMethodNotAllowed, "", "method %s is not allowed here", r.Method)
}

// readBody reads and checks a write's body: SCIM or JSON media type,
// within the size bound, UTF-8 and one JSON value.
func readBody(r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return nil, nil
	}
	if !mapping.AcceptedMediaType(r.Header.Get("Content-Type")) {
		return nil, errf(http.StatusUnsupportedMediaType, mapping.ScimTypeInvalidSyntax, "Content-Type must be application/scim+json or application/json")
	}
	if r.Body == nil {
		return nil, errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "the request needs a body")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "could not read the request body")
	}
	if len(b) > maxBodyBytes {
		return nil, errf(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", maxBodyBytes)
	}
	if !utf8.Valid(b) {
		return nil, errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "request body is not valid UTF-8; SCIM bodies are UTF-8 JSON (RFC 8259)")
	}
	if !json.Valid(b) {
		return nil, errf(http.StatusBadRequest, mapping.ScimTypeInvalidSyntax, "request body is not one well-formed JSON value")
	}
	return b, nil
}

// serveDiscovery answers the discovery endpoints Entra's gallery checks
// ask for: what this surface supports.
func (h *Handler) serveDiscovery(w http.ResponseWriter, which string) {
	switch which {
	case "serviceproviderconfig":
		scimhttp.WriteJSON(w, http.StatusOK, map[string]any{
			"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
			"documentationUri": "https://github.com/webflowscim/bridge#readme",
			"patch":            map[string]any{"supported": true},
			"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
			"filter":           map[string]any{"supported": true, "maxResults": maxResults},
			"changePassword":   map[string]any{"supported": false},
			"sort":             map[string]any{"supported": false},
			"etag":             map[string]any{"supported": false},
			"authenticationSchemes": []any{map[string]any{
				"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
				"description": "A bearer token from the bridge configuration (workspace.scimTokens).",
			}},
		})
	case "resourcetypes":
		types := []any{
			map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}, "id": "User", "name": "User", "endpoint": "/Users",
				"description": "Webflow Workspace Member (invited through the Workspace Members API)", "schema": mapping.CoreUserSchemaURN},
			map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}, "id": "Group", "name": "Group", "endpoint": "/Groups",
				"description": "An IdP group that gives Workspace roles and site access (workspace.groups)", "schema": "urn:ietf:params:scim:schemas:core:2.0:Group"},
		}
		scimhttp.WriteJSON(w, http.StatusOK, map[string]any{"schemas": []string{listResponseSchema}, "totalResults": len(types), "startIndex": 1, "itemsPerPage": len(types), "Resources": types})
	default:
		scimhttp.WriteJSON(w, http.StatusOK, map[string]any{"schemas": []string{listResponseSchema}, "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []any{}})
	}
}

// Probe checks, for /readyz, that workspace.membersToken reaches the
// Workspace Members API: one List Workspace Members call of one entry.
// Its error names what is wrong, never the token.
func (h *Handler) Probe(ctx context.Context) error {
	_, err := h.opts.Client.ListWorkspaceMembers(ctx, h.opts.WorkspaceID, webflowdata.MemberListOptions{Limit: 1})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webflowdata.ErrNotEnterpriseWorkspace):
		return errors.New("Webflow answers that the workspace is not on an Enterprise plan (not_enterprise_plan_workspace)")
	case webflowdata.IsUnauthorized(err):
		ae, _ := webflowdata.AsAPIError(err)
		return fmt.Errorf("Webflow refused workspace.membersToken (%d %s)", ae.Status, ae.Code)
	case webflowdata.IsNotFound(err):
		return fmt.Errorf("Webflow has no workspace %s (workspace.id)", h.opts.WorkspaceID)
	}
	var ae *webflowdata.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("the Workspace Members API answered %d %s", ae.Status, ae.Code)
	}
	return errors.New("the Workspace Members API could not be reached")
}
