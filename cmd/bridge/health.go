package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// health probes every component in the background and serves the cached
// result at /readyz: probes never run per request, and the Webflow ones go
// through each token's budget at reconcile priority like every other call.
// One bad site degrades its own entry only; Redis down takes the process
// out of rotation (503), since nothing works without it.
type health struct {
	store      state.Store
	sites      map[string]*webflowdata.Client
	workspace  func(ctx context.Context) error // nil when not configured
	rebuilding func(site string) bool          // after a Redis loss
	// wsRoles reads the workspace roles queue and lock count for the
	// details of /readyz; nil unless workspace.groups is set.
	wsRoles func(ctx context.Context) (any, error)
	// topology reads the Redis deployment (state.TopologyProbe.Probe);
	// nil: a plain ping of the store.
	topology func(ctx context.Context) (state.TopologyStatus, error)
	log      *slog.Logger

	mu      sync.RWMutex
	redis   component
	site    map[string]siteHealth
	ws      *component
	checked time.Time
}

type component struct {
	Status    string    `json:"status"` // ok, degraded (Redis only), down, unknown
	Detail    string    `json:"detail,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	// Redis only: the topology (standalone, cluster, sentinel, embedded),
	// the current master(s) and what is degraded (a master down, a
	// failover in progress, a master without a replica).
	Topology string   `json:"topology,omitempty"`
	Masters  []string `json:"masters,omitempty"`
	Degraded []string `json:"degraded,omitempty"`
}

type siteHealth struct {
	Status       string    `json:"status"` // ok, degraded, unknown
	Token        string    `json:"token"`  // ok, or why not
	UserAccounts string    `json:"userAccounts"`
	Rebuilding   string    `json:"rebuilding,omitempty"`
	CheckedAt    time.Time `json:"checkedAt,omitzero"`
}

// neededScopes are what the bridge calls on a site.
var neededScopes = []string{"users:read", "users:write"}

func newHealth(store state.Store, sites map[string]*webflowdata.Client, workspace func(context.Context) error, log *slog.Logger) *health {
	h := &health{store: store, sites: sites, workspace: workspace, log: log,
		redis: component{Status: "unknown"}, site: map[string]siteHealth{}}
	for id := range sites {
		h.site[id] = siteHealth{Status: "unknown", Token: "not checked yet", UserAccounts: "not checked yet"}
	}
	if workspace != nil {
		h.ws = &component{Status: "unknown"}
	}
	return h
}

// run probes Redis often (it is cheap) and Webflow rarely (it costs budget).
func (h *health) run(ctx context.Context, redisEvery, webflowEvery time.Duration) {
	h.probeRedis(ctx)
	h.probeWebflow(ctx)
	rt, wt := time.NewTicker(redisEvery), time.NewTicker(webflowEvery)
	defer rt.Stop()
	defer wt.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rt.C:
			h.probeRedis(ctx)
		case <-wt.C:
			h.probeWebflow(ctx)
		}
	}
}

func (h *health) probeRedis(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	comp := component{Status: "ok", CheckedAt: time.Now().UTC()}
	if h.topology != nil {
		// A cluster with one master down still serves the other masters'
		// sites, and a failover is seconds: degraded, not out of rotation.
		st, err := h.topology(c)
		comp.Topology, comp.Masters, comp.Degraded = st.Topology, st.Masters, st.Degraded
		switch {
		case err != nil || st.Down:
			comp.Status, comp.Detail = "down", "Redis is unreachable"
		case len(st.Degraded) > 0:
			comp.Status = "degraded"
		}
	} else if err := h.store.Ping(c); err != nil {
		comp = component{Status: "down", Detail: "Redis is unreachable", CheckedAt: comp.CheckedAt}
	}
	h.mu.Lock()
	if h.redis.Status != comp.Status && comp.Status == "down" {
		h.log.Error("readiness: Redis is unreachable; the bridge is out of rotation")
	}
	if comp.Status == "degraded" && !slices.Equal(h.redis.Degraded, comp.Degraded) {
		h.log.Warn("readiness: Redis degraded", "topology", comp.Topology, "degraded", strings.Join(comp.Degraded, "; "))
	}
	h.redis = comp
	h.mu.Unlock()
}

func (h *health) probeWebflow(ctx context.Context) {
	ctx = webflowdata.WithPriority(ctx, webflowdata.PriorityReconcile)
	for id, c := range h.sites {
		sh := h.probeSite(ctx, id, c)
		h.mu.Lock()
		prev := h.site[id]
		h.site[id] = sh
		h.mu.Unlock()
		if sh.Status != "ok" && (prev.Status != sh.Status || prev.UserAccounts != sh.UserAccounts || prev.Token != sh.Token) {
			h.log.Error("readiness: site degraded", "site", id, "token", sh.Token, "user_accounts", sh.UserAccounts)
		}
	}
	if h.workspace != nil {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		comp := component{Status: "ok", CheckedAt: time.Now().UTC()}
		if err := h.workspace(c); err != nil {
			comp.Status, comp.Detail = "down", err.Error()
		}
		cancel()
		h.mu.Lock()
		h.ws = &comp
		h.mu.Unlock()
	}
}

func (h *health) probeSite(ctx context.Context, id string, c *webflowdata.Client) siteHealth {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sh := siteHealth{Status: "ok", Token: "ok", UserAccounts: "available", CheckedAt: time.Now().UTC()}
	in, err := c.Introspect(ctx)
	switch {
	case err != nil && probeError(err) == tokenInvalid:
		sh.Token = tokenInvalid
	case err != nil:
		sh.Token = "could not be checked: " + probeError(err)
	default:
		var missing []string
		for _, s := range neededScopes {
			if !slices.Contains(in.Authorization.Scopes(), s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			sh.Token = "missing scopes: " + joinComma(missing)
		} else if sites := in.Authorization.AuthorizedTo.SiteIDs; len(sites) > 0 && !slices.Contains(sites, id) {
			sh.Token = "the token is not authorized for this site"
		}
	}
	if _, err := c.ListUsers(ctx, id, webflowdata.ListOptions{Limit: 1}); err != nil {
		if webflowdata.IsUserAccountsUnavailable(err) {
			sh.UserAccounts = "unavailable: " + webflowdata.ErrUserAccountsUnavailable.Error()
		} else {
			sh.UserAccounts = "could not be checked: " + probeError(err)
		}
	}
	if sh.Token != "ok" || sh.UserAccounts != "available" {
		sh.Status = "degraded"
	}
	return sh
}

// tokenInvalid is what /readyz says of a site whose token Webflow refused
// with 401: the token is wrong or revoked, not merely unchecked.
const tokenInvalid = "token invalid: Webflow answered 401"

// observeLive takes a live call's answer as evidence for the site's
// readiness at once, instead of at the next probe (up to 5 minutes later):
// a 401 means the token is invalid, the sunset answer that User Accounts
// are gone. Only these two change it; the next probe may clear them.
func (h *health) observeLive(site string, ci webflowdata.CallInfo) {
	var token, accounts string
	switch {
	case ci.Status == http.StatusUnauthorized:
		token = tokenInvalid
	case webflowdata.IsUserAccountsUnavailable(ci.Err) && sunsetAnswer(ci):
		accounts = "unavailable: " + webflowdata.ErrUserAccountsUnavailable.Error()
	default:
		return
	}
	h.mu.Lock()
	sh, known := h.site[site]
	if !known {
		h.mu.Unlock()
		return
	}
	prev := sh
	if token != "" {
		sh.Token = token
	}
	if accounts != "" {
		sh.UserAccounts = accounts
	}
	sh.Status, sh.CheckedAt = "degraded", time.Now().UTC()
	h.site[site] = sh
	h.mu.Unlock()
	if prev.Token != sh.Token || prev.UserAccounts != sh.UserAccounts {
		h.log.Error("readiness: site degraded (seen on a live Webflow call)", "site", site, "endpoint", ci.Endpoint, "token", sh.Token, "user_accounts", sh.UserAccounts)
	}
}

// sunsetAnswer tells the sunset from a user that is simply not there: on
// a route naming one user, a 404 resource_not_found is the latter, so only
// users_not_enabled counts there.
func sunsetAnswer(ci webflowdata.CallInfo) bool {
	if !strings.Contains(ci.Endpoint, "{user_id}") {
		return true
	}
	e, ok := webflowdata.AsAPIError(ci.Err)
	return ok && e.Code == webflowdata.CodeUsersNotEnabled
}

func probeError(err error) string {
	if e, ok := webflowdata.AsAPIError(err); ok && e.Status == http.StatusUnauthorized {
		return tokenInvalid
	}
	if e, ok := webflowdata.AsAPIError(err); ok {
		return e.Error()
	}
	var te *webflowdata.TransportError
	if errors.As(err, &te) {
		return "Webflow did not answer"
	}
	return "error"
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

// readiness is the cached state as /readyz reports it: the JSON of
// /readyz, the bridge_ready gauges and the status page all read it here.
type readiness struct {
	Status         string                `json:"status"` // ready, degraded, rebuilding, not ready
	Code           int                   `json:"-"`      // 200 unless Redis is down
	Redis          component             `json:"redis"`
	Sites          map[string]siteHealth `json:"sites"`
	Workspace      *component            `json:"workspace,omitempty"`
	WorkspaceRoles any                   `json:"workspaceRoles,omitempty"`
}

// report reads the cached state; with roles it also reads the workspace
// roles queue (two Redis reads) for the details.
func (h *health) report(ctx context.Context, roles bool) readiness {
	var wsRoles any
	if roles && h.wsRoles != nil {
		// Read before the lock: two Redis reads, not under h.mu.
		if v, err := h.wsRoles(ctx); err == nil {
			wsRoles = v
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	rep := readiness{Status: "ready", Code: http.StatusOK, Redis: h.redis, Sites: make(map[string]siteHealth, len(h.site)), WorkspaceRoles: wsRoles}
	for id, s := range h.site {
		if h.rebuilding != nil && h.rebuilding(id) {
			s.Status = "rebuilding"
			s.Rebuilding = "Redis lost the bridge's data; records are being rebuilt from Webflow"
		}
		rep.Sites[id] = s
		if s.Status != "ok" && s.Status != "unknown" && rep.Status == "ready" {
			rep.Status = "degraded"
		}
		if s.Status == "rebuilding" {
			rep.Status = "rebuilding"
		}
	}
	if h.redis.Status == "degraded" && rep.Status == "ready" {
		rep.Status = "degraded"
	}
	if h.redis.Status == "down" {
		rep.Status, rep.Code = "not ready", http.StatusServiceUnavailable
	}
	if h.ws != nil {
		ws := *h.ws
		rep.Workspace = &ws
	}
	return rep
}

// serveReady writes the cached state: 200 unless Redis is down. Without
// details it writes the overall status alone, which names no site and no
// token (opsEndpoints decides who gets the details).
func (h *health) serveReady(w http.ResponseWriter, r *http.Request, details bool) {
	rep := h.report(r.Context(), details)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.Code)
	if !details {
		_ = json.NewEncoder(w).Encode(map[string]any{"status": rep.Status})
		return
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// workspaceProbe checks that the native SCIM upstream answers.
func workspaceProbe(base string, token webflowdata.Token, hc *http.Client) func(context.Context) error {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ServiceProviderConfig", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
		res, err := hc.Do(req)
		if err != nil {
			return errors.New("Webflow's native SCIM endpoint is unreachable")
		}
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			return errors.New("Webflow's native SCIM endpoint refused workspace.webflowSCIMToken")
		}
		if res.StatusCode >= 500 {
			return errors.New("Webflow's native SCIM endpoint answered " + res.Status)
		}
		return nil
	}
}

// siteObserver passes a site's Webflow calls to next (metrics) and to the
// site's readiness as live evidence. a.health is set before any call is
// made (newApp, before the workers and the listener start).
func (a *app) siteObserver(site string, next webflowdata.Observer) webflowdata.Observer {
	return webflowdata.ObserverFunc(func(ci webflowdata.CallInfo) {
		next.ObserveCall(ci)
		if a.health != nil {
			a.health.observeLive(site, ci)
		}
	})
}
