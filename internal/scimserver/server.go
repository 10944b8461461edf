package scimserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/gorilla/mux"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/misscache"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Site policies.
const (
	DeactivateRemoveAccess = "remove-access"
	DeactivateDelete       = "delete"
	ExistingUserLink       = "link"
	ExistingUserConflict   = "conflict"
	EmailChangeReject      = "reject"
	EmailChangeReinvite    = "reinvite"
)

// DefaultMaxBodyBytes is the largest request body accepted (413 above).
const DefaultMaxBodyBytes = 1 << 20

// DefaultRefreshAge is how old a stored record may be before GET refreshes
// it from Webflow. Writes never rely on the stored copy: every full-list
// access-group write reads the user first (see readLocked).
const DefaultRefreshAge = 5 * time.Minute

// SiteConfig configures one Webflow site's SCIM endpoint.
type SiteConfig struct {
	ID             string
	SCIMTokens     []string // plain, or "sha256:<hex>"
	Webflow        *webflowdata.Client
	Deactivation   string // remove-access (default) | delete
	OnExistingUser string // link (default) | conflict
	EmailChange    string // reject (default) | reinvite
	RefreshAge     time.Duration
	CustomFields   []string // the site's custom user field slugs, exposed under our extension's data
	// GroupMappings maps an IdP group's displayName to an access-group slug.
	GroupMappings       map[string]string
	OnGroupDelete       string        // unlink (default) | remove-members
	AccessGroupsRefresh time.Duration // default 10m
	// WebhookSecret is the OAuth app's client secret, which signs the
	// webhooks an OAuth app registered (the per-webhook secretKeys are in
	// the state store). Optional.
	WebhookSecret string
}

// Validate reports every problem of the site's id and policies at once,
// each naming its config key; an empty policy means its default. The
// Webflow client is not checked (New does). config.Validate calls it, so
// that config check and serve refuse the same sites with the same words.
func (sc SiteConfig) Validate() error {
	var errs []error
	if !siteIDPattern.MatchString(sc.ID) {
		errs = append(errs, fmt.Errorf("id %q is not a Webflow site id (letters, digits, _ and -, at most 64)", sc.ID))
	}
	oneOf := func(key, v string, allowed ...string) {
		if v != "" && !slices.Contains(allowed, v) {
			errs = append(errs, fmt.Errorf("%s %q must be %s", key, v, strings.Join(allowed, " or ")))
		}
	}
	oneOf("deactivation", sc.Deactivation, DeactivateRemoveAccess, DeactivateDelete)
	oneOf("onExistingUser", sc.OnExistingUser, ExistingUserLink, ExistingUserConflict)
	oneOf("emailChange", sc.EmailChange, EmailChangeReject, EmailChangeReinvite)
	oneOf("onGroupDelete", sc.OnGroupDelete, GroupDeleteUnlink, GroupDeleteRemoveMembers)
	return errors.Join(errs...)
}

// Options configures a Server.
type Options struct {
	PublicURL    string // scheme://host[:port] the IdP uses; for meta.location
	Sites        []SiteConfig
	Store        state.Backend
	Logger       *slog.Logger
	MaxBodyBytes int64
	Now          func() time.Time
	// CreateStaleAfter is how old an unfinished create must be before
	// another attempt takes it over (default 90s: longer than any create).
	// It covers a replica that died mid-create; one that gave up after an
	// ambiguous invite marks its reservation unresolved, taken over at once.
	CreateStaleAfter time.Duration
	// LockWait is how long a request waits for another writer of the same
	// user (its lock, or another create of the same person) before it
	// answers 503 with Retry-After (default DefaultLockWait).
	LockWait time.Duration
	// Failpoint, when set, is called at named points; crash tests use it.
	Failpoint func(name string)
	// ObserveRequest, when set, sees every finished request (metrics).
	ObserveRequest func(RequestInfo)
	// MembershipSettle is how long the worker leaves a membership change
	// queued before writing it, so that the changes for one user that
	// follow close together (an IdP pushing several groups, a PATCH of the
	// user itself) are written in one Webflow PATCH, or none. 0 writes at
	// once. Drain ignores it.
	MembershipSettle time.Duration
	// AuthGuard, when set, slows down client addresses that keep
	// presenting wrong tokens (SCIM and the admin queue view).
	AuthGuard *authguard.Guard
	// MaxPatchOperations and MaxMembersPerRequest bound the operations of
	// a PATCH and the group members a request names; more is 400 before
	// anything acts on the request. Defaults mapping.DefaultMaxPatchOperations
	// and mapping.DefaultMaxMembersPerRequest.
	MaxPatchOperations   int
	MaxMembersPerRequest int
	// MaxConcurrentRequestsPerSite bounds the SCIM requests one site may
	// have in progress on this replica; more get 429 with Retry-After.
	// Default DefaultMaxConcurrentRequestsPerSite.
	MaxConcurrentRequestsPerSite int
}

// Server serves /sites/{siteID}/scim/v2/ for every configured site.
type Server struct {
	sites   map[string]*site
	wake    chan struct{}
	settle  time.Duration
	log     *slog.Logger
	maxBody int64
	handler http.Handler
	hooks   state.WebhookStore // webhook secrets and dedupe; nil if the store has none
	now     func() time.Time
	// unknownSite is compared against on a request for a site that is not
	// configured, so that it costs what a configured site's compare costs.
	unknownSite mapping.TokenSet
	guard       *authguard.Guard
	// maxOps and maxMembers bound a request's size (bounds.go).
	maxOps, maxMembers int
}

var siteIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// site is one configured site: its tokens, policies and SCIM server.
type site struct {
	cfg    SiteConfig
	base   string // absolute SCIM base URL, for meta.location
	tokens mapping.TokenSet
	scim   scim.Server
	users  *usersHandler
	groups *groupsHandler
	// discovery serves GET /ResourceTypes and GET /Schemas (discovery.go).
	discovery *discoveryLists
	gate      siteGate // requests in progress (middleware.go)
	// slowPaths sends every POST /Users and GET /Users/{id} through the
	// library (tests compare the fast paths' answers with the library's).
	slowPaths bool
	// actors names each of the site's tokens, for the audit log, as
	// "site <id> scimTokens[<i>]" (built once; boxed for siteContext).
	actors []any
	// userBufs holds the buffers users are rendered into (writeUser).
	userBufs sync.Pool
}

// New validates opts and builds the server.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("scimserver: a state store is required")
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
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxConcurrentRequestsPerSite <= 0 {
		opts.MaxConcurrentRequestsPerSite = DefaultMaxConcurrentRequestsPerSite
	}
	pub := strings.TrimRight(opts.PublicURL, "/")
	// Accept "true"/"False" for booleans, as Entra sends them. This is a
	// package global of the library: set once, here, never toggled.
	schema.SetAllowStringValues(true)

	s := &Server{sites: map[string]*site{}, log: opts.Logger, maxBody: opts.MaxBodyBytes, wake: make(chan struct{}, 1), settle: max(opts.MembershipSettle, 0),
		now: opts.Now, unknownSite: make(mapping.TokenSet, 1), guard: opts.AuthGuard,
		maxOps: opts.MaxPatchOperations, maxMembers: opts.MaxMembersPerRequest}
	s.hooks, _ = opts.Store.(state.WebhookStore)
	wake := func() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	slots := newParseSlots()
	for _, sc := range opts.Sites {
		// A backstop: config.Validate has reported these already.
		if err := sc.Validate(); err != nil {
			return nil, fmt.Errorf("scimserver: site %s: %w", sc.ID, err)
		}
		if _, dup := s.sites[sc.ID]; dup {
			return nil, fmt.Errorf("scimserver: site %s configured twice", sc.ID)
		}
		if sc.Webflow == nil {
			return nil, fmt.Errorf("scimserver: site %s has no Webflow client", sc.ID)
		}
		toks, err := mapping.ParseTokens(sc.SCIMTokens)
		if err != nil {
			return nil, fmt.Errorf("scimserver: site %s: %w", sc.ID, err)
		}
		if sc.Deactivation == "" {
			sc.Deactivation = DeactivateRemoveAccess
		}
		if sc.OnExistingUser == "" {
			sc.OnExistingUser = ExistingUserLink
		}
		if sc.EmailChange == "" {
			sc.EmailChange = EmailChangeReject
		}
		if sc.RefreshAge <= 0 {
			sc.RefreshAge = DefaultRefreshAge
		}
		if sc.AccessGroupsRefresh <= 0 {
			sc.AccessGroupsRefresh = DefaultAccessGroupsRefresh
		}
		if sc.OnGroupDelete == "" {
			sc.OnGroupDelete = GroupDeleteUnlink
		}
		st := &site{cfg: sc, tokens: toks, base: pub + "/sites/" + sc.ID + "/scim/v2", gate: newSiteGate(opts.MaxConcurrentRequestsPerSite)}
		for i := range toks {
			st.actors = append(st.actors, fmt.Sprintf("site %s scimTokens[%d]", sc.ID, i))
		}
		st.users = &usersHandler{site: sc, store: opts.Store, wf: sc.Webflow, log: opts.Logger.With("site", sc.ID), now: opts.Now, base: st.base, wake: wake,
			createStaleAfter: opts.CreateStaleAfter, failpoint: opts.Failpoint, parseSlots: slots, lockWait: opts.LockWait,
			misses: misscache.New(missTTL, missMax, opts.Now)}
		st.groups = &groupsHandler{users: st.users, site: sc, store: opts.Store, wf: sc.Webflow, log: st.users.log, wake: wake}
		types := resourceTypes(st, sc.CustomFields)
		st.discovery = &discoveryLists{types: types, log: st.users.log}
		srv, err := scim.NewServer(&scim.ServerArgs{
			ServiceProviderConfig: serviceProviderConfig(),
			ResourceTypes:         types,
		}, scim.WithLogger(scimLogger{opts.Logger}), scim.WithBaseURL(st.base))
		if err != nil {
			return nil, fmt.Errorf("scimserver: site %s: %w", sc.ID, err)
		}
		st.scim = srv
		s.sites[sc.ID] = st
	}

	s.handler = pathNormaliser(accessLog(opts.Logger, s.sites, opts.ObserveRequest, http.HandlerFunc(s.route)))
	return s, nil
}

// route dispatches a request by its path, as the gorilla/mux router with
// these routes did (SkipClean, UseEncodedPath; {siteID} is [^/]+ of the
// escaped path), without a regexp match, a vars map and a request copy
// on every request (TestRouteAsMux):
//
//	/sites/{siteID}/scim/v2…            any method   serveSite (a prefix)
//	/sites/{siteID}/admin/memberships   GET          serveQueue
//	/webhooks/webflow/{siteID}          POST         serveWebhook (signed, no bearer token)
//
// A path of the last two with another method is 405, any other path 404.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	kind, id := routeOf(r.Method, r.URL.EscapedPath())
	switch kind {
	case routeSite:
		s.serveSite(w, r, id)
	case routeQueue, routeWebhook:
		// Rare paths: their handlers read the site id as mux.Vars.
		r = mux.SetURLVars(r, map[string]string{"siteID": id})
		if kind == routeQueue {
			s.serveQueue(w, r)
		} else {
			s.serveWebhook(w, r)
		}
	case routeMethodNotAllowed:
		writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" is not allowed here")
	default:
		writeError(w, http.StatusNotFound, "", "no SCIM endpoint at "+r.URL.Path+"; site endpoints live at /sites/{siteID}/scim/v2/")
	}
}

type routeKind int

const (
	routeNotFound routeKind = iota
	routeMethodNotAllowed
	routeSite
	routeQueue
	routeWebhook
)

// routeOf names the route of an escaped path, and its site id.
func routeOf(method, p string) (routeKind, string) {
	if rest, ok := strings.CutPrefix(p, "/sites/"); ok {
		id, tail, ok := strings.Cut(rest, "/")
		switch {
		case !ok || id == "":
		case strings.HasPrefix(tail, "scim/v2"):
			return routeSite, id
		case tail == "admin/memberships" && method == http.MethodGet:
			return routeQueue, id
		case tail == "admin/memberships":
			return routeMethodNotAllowed, ""
		}
		return routeNotFound, ""
	}
	if id, ok := strings.CutPrefix(p, "/webhooks/webflow/"); ok && id != "" && !strings.Contains(id, "/") {
		if method != http.MethodPost {
			return routeMethodNotAllowed, ""
		}
		return routeWebhook, id
	}
	return routeNotFound, ""
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func serviceProviderConfig() *scim.ServiceProviderConfig {
	return &scim.ServiceProviderConfig{
		DocumentationURI: optional.NewString("https://github.com/webflowscim/bridge#readme"),
		AuthenticationSchemes: []scim.AuthenticationScheme{{
			Type:        scim.AuthenticationTypeOauthBearerToken,
			Name:        "Bearer token",
			Description: "A per-site bearer token from the bridge configuration (sites[].scimTokens).",
			Primary:     true,
		}},
		MaxResults:       100,
		SupportFiltering: true,
		SupportPatch:     true,
	}
}

// resourceTypes lists User before Group: Microsoft's SCIM validator reads
// the first entry of /ResourceTypes as the User type.
func resourceTypes(st *site, customFields []string) []scim.ResourceType {
	return []scim.ResourceType{{
		ID:          optional.NewString("User"),
		Name:        "User",
		Endpoint:    "/Users",
		Description: optional.NewString("Webflow site Membership user"),
		Schema:      schema.CoreUserSchema(),
		SchemaExtensions: []scim.SchemaExtension{
			{Schema: schema.ExtensionEnterpriseUser()},
			{Schema: mapping.UserExtensionSchema(customFields...)},
		},
		Handler: st.users,
	}, {
		ID:               optional.NewString("Group"),
		Name:             "Group",
		Endpoint:         "/Groups",
		Description:      optional.NewString("A Webflow access group, linked to an IdP group"),
		Schema:           schema.CoreGroupSchema(),
		SchemaExtensions: []scim.SchemaExtension{{Schema: groupExtensionSchema()}},
		Handler:          st.groups,
	}}
}

type siteKey struct{}

func siteFrom(ctx context.Context) *site {
	s, _ := ctx.Value(siteKey{}).(*site)
	return s
}

// serveSite authenticates, bounds and normalises the request, then hands
// it to the site's SCIM server.
func (s *Server) serveSite(w http.ResponseWriter, r *http.Request, id string) {
	st, known := s.sites[id]
	tok, has := mapping.Bearer(r.Header.Get("Authorization"))
	idx := -1
	auth := s.guard.Check(r, func() bool {
		if known {
			if has {
				idx = st.tokens.MatchIndex(tok)
			}
		} else if has {
			// An unknown site answers exactly as a known one with a wrong
			// token, so that site ids cannot be enumerated; the compare
			// costs what a site's compare costs, so neither can they be
			// timed.
			s.unknownSite.MatchIndex(tok)
		}
		return idx >= 0
	})
	if !auth.OK {
		writeAuthFailure(w, auth, "scim", bearerFailure(r.Header.Get("Authorization"), has))
		return
	}
	if !admitSite(w, st) {
		return
	}
	defer st.gate.leave()
	// The request the site's handlers see: a copy, which the body checks
	// below change (its body, a PATCH with nothing left turned into a GET),
	// while the access log keeps the original.
	sc := &siteContext{Context: r.Context(), site: st, actor: st.actors[idx]}
	r = r.WithContext(sc)

	var patchBody []byte // a PATCH's body after the normaliser
	var postBody []byte  // a POST's or PUT's body (fastpost.go, fastpatch.go)
	// activeOps: a user PATCH of active only, read as sent (fastpatch.go)
	var activeOps []scim.PatchOperation
	if r.Body != nil && r.Body != http.NoBody {
		if !mapping.AcceptedMediaType(r.Header.Get("Content-Type")) {
			writeError(w, http.StatusUnsupportedMediaType, "invalidSyntax", "Content-Type must be application/scim+json or application/json")
			return
		}
		body, err := readBody(http.MaxBytesReader(w, r.Body, s.maxBody), r.ContentLength, s.maxBody)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body larger than %d bytes", s.maxBody))
				return
			}
			writeError(w, http.StatusBadRequest, "invalidSyntax", "could not read the request body")
			return
		}
		// Go's decoder would turn invalid UTF-8 into U+FFFD and stop at the
		// first value, silently storing mangled names or ignoring trailing
		// garbage: refuse both.
		if len(body) > 0 && !utf8.Valid(body) {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "request body is not valid UTF-8; SCIM bodies are UTF-8 JSON (RFC 8259)")
			return
		}
		if len(body) > 0 && !json.Valid(body) {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "request body is not one well-formed JSON value")
			return
		}
		// Okta's and Entra's PATCH of active, already bounded and in the
		// normaliser's form, is read once (fastpatch.go).
		if activeOps = s.rawActivePatch(r, id, body); activeOps == nil {
			if err := s.checkRequestSize(r, body); err != nil {
				writeMappingError(w, err)
				return
			}
		}
		if creates, replaces := resourceWrite(r.Method, r.URL.Path); creates || replaces {
			if err := mapping.CheckRequired(body, isGroupsPath(r.URL.Path)); err != nil {
				writeMappingError(w, err)
				return
			}
		}
		if activeOps != nil {
			patchBody = body
		} else if r.Method == http.MethodPatch {
			normalise := func(b []byte) ([]byte, bool, error) { return mapping.NormalizePatchBody(b, st.cfg.CustomFields...) }
			if isGroupsPath(r.URL.Path) {
				normalise = mapping.NormalizeGroupPatchBody
			}
			norm, empty, err := normalise(body)
			if err != nil {
				// The normaliser checks the values as POST and PUT are
				// checked: nothing of this PATCH reaches Webflow or the store.
				scimType, detail := mapping.ScimTypeInvalidSyntax, err.Error()
				var me *mapping.Error
				if errors.As(err, &me) {
					scimType, detail = me.ScimType, me.Detail
				}
				writeError(w, http.StatusBadRequest, scimType, detail)
				return
			}
			if empty {
				// Nothing left to apply (e.g. only manager changes): answer
				// 200 with the current resource, as a GET would.
				r.Method = http.MethodGet
				norm = nil
			}
			body = norm
			patchBody = norm
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			postBody = body
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// r.URL.Query() would drop the bad pair: a broken filter= would
		// list everything instead of failing.
		writeError(w, http.StatusBadRequest, "invalidSyntax", "the query string is malformed (bad percent-encoding or a ';' separator)")
		return
	}
	if f := query.Get("filter"); f != "" {
		// Bounded before anything parses it: the parser's memory grows
		// with nesting times length.
		if err := mapping.CheckFilterBounds(f); err != nil {
			writeMappingError(w, err)
			return
		}
		if nf := mapping.RewriteFilter(f); nf != f {
			query.Set("filter", nf)
			r.URL.RawQuery = query.Encode()
		}
	}

	sc.query, sc.rawQuery = query, r.URL.RawQuery
	ov := &sc.ov
	// A URL of its own, as http.StripPrefix makes: the access log keeps
	// the original one.
	u := *r.URL
	u.Path, u.RawPath = trimSitePrefix(u.Path, id), ""
	r.URL = &u
	if r.Method != http.MethodGet && isDiscoveryPath(r.URL.Path) {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" is not allowed on a discovery endpoint; use GET")
		return
	}
	switch p := r.URL.Path; {
	case p == "/v2" || p == "/v2/":
		writeError(w, http.StatusNotFound, "", "this is the SCIM base URL of site "+id+"; the resources are at /Users and /Groups (discovery: /ServiceProviderConfig, /Schemas, /ResourceTypes)")
		return
	case p == "/v2/Me":
		writeError(w, http.StatusNotImplemented, "", "/Me is not supported: the bridge authenticates IdPs, not users")
		return
	case strings.HasSuffix(p, "/.search"):
		writeError(w, http.StatusNotImplemented, "", "POST .search is not supported; use GET with a filter")
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/v2/Users" {
		st.users.serveList(w, r, st.base)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/v2/Groups" {
		st.groups.serveList(w, r, st.base)
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/v2/Groups/"); ok && r.Method == http.MethodGet && id != "" && !strings.Contains(id, "/") {
		st.groups.serveGet(w, r, id)
		return
	}
	if r.Method == http.MethodGet && (r.URL.Path == "/v2/ResourceTypes" || r.URL.Path == "/v2/Schemas") {
		st.discovery.serve(w, r)
		return
	}
	if !st.slowPaths && st.fastGetUser(w, r, ov) { // userrender.go
		return
	}
	if st.fastPatch(w, r, ov, patchBody, activeOps) { // fastpatch.go
		return
	}
	if !st.slowPaths && st.fastPost(w, r, ov, postBody) { // fastpost.go
		return
	}
	if !st.slowPaths && st.fastPut(w, r, ov, postBody) { // fastpatch.go
		return
	}
	if _, _, ok := projectionOf(r); ok {
		pw := &projectingWriter{ResponseWriter: w}
		st.scim.ServeHTTP(&overrideWriter{ResponseWriter: pw, ov: ov}, r)
		pw.finish(r)
		return
	}
	st.scim.ServeHTTP(&overrideWriter{ResponseWriter: w, ov: ov}, r)
}

// scimLogger adapts slog to the library's Logger.
type scimLogger struct{ l *slog.Logger }

func (s scimLogger) Error(args ...any) {
	if len(args) == 0 {
		return
	}
	if msg, ok := args[0].(string); ok {
		s.l.Error("scim library: "+msg, args[1:]...)
		return
	}
	s.l.Error("scim library", "args", fmt.Sprint(args...))
}

// isDiscoveryPath reports whether p (below /sites/{id}/scim) is one of the
// read-only discovery endpoints.
func isDiscoveryPath(p string) bool {
	for _, d := range [...]string{"/v2/ServiceProviderConfig", "/v2/Schemas", "/v2/ResourceTypes"} {
		if rest, ok := strings.CutPrefix(p, d); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// trimSitePrefix is strings.TrimPrefix(p, "/sites/"+id+"/scim") without
// building the prefix.
func trimSitePrefix(p, id string) string {
	if rest, ok := strings.CutPrefix(p, "/sites/"); ok {
		if rest, ok = strings.CutPrefix(rest, id); ok {
			if rest, ok = strings.CutPrefix(rest, "/scim"); ok {
				return rest
			}
		}
	}
	return p
}

// resourceWrite reports whether a request creates (POST /Users, POST
// /Groups) or replaces (PUT /Users/{id}, PUT /Groups/{id}) a resource:
// the requests whose body must carry the resource's required attribute.
func resourceWrite(method, p string) (creates, replaces bool) {
	_, rest, ok := strings.Cut(p, "/scim/v2/")
	if !ok {
		return false, false
	}
	kind, id, _ := strings.Cut(rest, "/")
	if kind != "Users" && kind != "Groups" || strings.Contains(id, "/") || strings.HasPrefix(id, ".") {
		return false, false
	}
	return method == http.MethodPost && id == "", method == http.MethodPut && id != ""
}

func isGroupsPath(p string) bool {
	return strings.Contains(p, "/scim/v2/Groups")
}

// writeAuthFailure answers a failed authentication: 401 with the realm's
// challenge, or 429 when the client's address has failed too often.
func writeAuthFailure(w http.ResponseWriter, auth authguard.Result, realm, detail string) {
	if auth.Limited() {
		secs := auth.RetryAfterSeconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs))
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeError(w, http.StatusUnauthorized, "", detail)
}

// bearerFailure is the detail of a 401: it depends on the Authorization
// header only, never on whether the site exists.
func bearerFailure(header string, has bool) string {
	switch {
	case has:
		return "invalid bearer token for this site"
	case header != "":
		return "the Authorization header must be \"Bearer <token>\""
	}
	return "missing bearer token"
}

// authenticate checks the site's bearer token and writes the 401 itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*site, bool) {
	id := mux.Vars(r)["siteID"]
	st, known := s.sites[id]
	tok, has := mapping.Bearer(r.Header.Get("Authorization"))
	auth := s.guard.Check(r, func() bool {
		if !known {
			s.unknownSite.Match(tok) // costs what a site's compare costs
			return false
		}
		return has && st.tokens.Match(tok)
	})
	if !auth.OK {
		writeAuthFailure(w, auth, "scim", "missing or invalid bearer token for this site")
		return nil, false
	}
	return st, true
}

// serveQueue is the authenticated admin view of a site's membership
// queue: pending writes, the oldest one's age, and permanent failures.
func (s *Server) serveQueue(w http.ResponseWriter, r *http.Request) {
	st, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	qs, err := st.users.store.QueueStats(r.Context(), st.cfg.ID)
	if err != nil {
		s.log.Error("queue stats", "site", st.cfg.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "", "the bridge's state store is unavailable")
		return
	}
	age := 0.0
	if !qs.OldestPending.IsZero() {
		age = time.Since(qs.OldestPending).Seconds()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"site": st.cfg.ID, "pending": qs.Pending, "oldestPendingAgeSeconds": age, "failures": qs.Failures,
	})
}

// readBody is io.ReadAll(r), with the buffer sized from the request's
// Content-Length when it is known and within the limit, so a body is read
// without growing it (and copying it) from io.ReadAll's 512 bytes. The
// length is only a hint: a body longer or shorter reads the same.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	size := int64(512)
	if contentLength > 0 && contentLength < limit {
		size = contentLength + 1 // the last read, which sees EOF, needs room
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as io.ReadAll does
		}
	}
}
