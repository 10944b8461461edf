package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/passthrough"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// app is an assembled bridge: its HTTP handler and what must be closed.
type app struct {
	handler http.Handler
	scim    *scimserver.Server
	store   state.Backend
	rdb     redis.UniversalClient
	closers []func()
}

func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// appOptions lets tests and the demo swap pieces.
type appOptions struct {
	HTTPClient *http.Client // for Webflow calls
	Now        func() time.Time
	RatePeriod time.Duration // the rate budget's window; tests compress time
	Observer   webflowdata.Observer
	Failpoint  func(name string)
}

// newApp builds the bridge from cfg. The embedded store is used when no
// Redis URL is configured, with a warning: nothing survives a restart.
func newApp(ctx context.Context, cfg *Config, log *slog.Logger, opts appOptions) (*app, error) {
	a := &app{}
	var err error
	if cfg.Redis.URL == "" {
		var stop func()
		a.rdb, stop, err = state.NewEmbedded()
		if err != nil {
			return nil, fmt.Errorf("starting the embedded store: %w", err)
		}
		a.closers = append(a.closers, stop)
		log.Warn("no redis.url configured: using the embedded in-process store; ID mappings do NOT survive a restart and replicas cannot share state")
	} else {
		a.rdb, err = state.Open(ctx, cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("connecting to Redis: %w", err)
		}
		a.closers = append(a.closers, func() { _ = a.rdb.Close() })
	}
	sopts := state.Options{Prefix: cfg.Redis.KeyPrefix, Now: opts.Now}
	if err := sopts.Validate(); err != nil {
		a.Close()
		return nil, fmt.Errorf("redis.keyPrefix: %w", err)
	}
	rs := state.NewRedisStore(a.rdb, sopts)
	a.store = rs

	// One budget per Webflow token, shared by every replica through Redis.
	perKey := map[string]int{}
	if cfg.Workspace.Enabled() && cfg.Workspace.RateLimitPerMinute > 0 {
		perKey[webflowdata.Token(cfg.Workspace.WebflowSCIMToken).Fingerprint()] = cfg.Workspace.RateLimitPerMinute
	}
	for _, s := range cfg.Sites {
		if s.RateLimitPerMinute > 0 {
			perKey[webflowdata.Token(s.WebflowToken).Fingerprint()] = s.RateLimitPerMinute
		}
	}
	limiter, err := state.NewLimiter(a.rdb, state.LimiterOptions{
		Prefix: cfg.Redis.KeyPrefix, DefaultPerMinute: cfg.Webflow.RateLimitPerMinute, PerKey: perKey,
		MaxWait: time.Duration(cfg.Webflow.MaxWait), Period: opts.RatePeriod, Logger: log,
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	var sites []scimserver.SiteConfig
	for _, s := range cfg.Sites {
		wf, err := webflowdata.NewClient(webflowdata.Config{
			BaseURL:    cfg.Webflow.APIBaseURL,
			Token:      webflowdata.Token(s.WebflowToken),
			HTTPClient: opts.HTTPClient,
			Limiter:    limiter,
			Retry:      webflowdata.BackoffPolicy{Retry429: true},
			Observer:   opts.Observer,
		})
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("site %s: %w", s.ID, err)
		}
		sites = append(sites, scimserver.SiteConfig{
			ID: s.ID, SCIMTokens: s.SCIMTokens, Webflow: wf,
			Deactivation: s.Deactivation, OnExistingUser: s.OnExistingUser, EmailChange: s.EmailChange,
			RefreshAge: time.Duration(s.RefreshAge), CustomFields: s.CustomFields,
			GroupMappings: s.GroupMappings, OnGroupDelete: s.OnGroupDelete, AccessGroupsRefresh: time.Duration(s.AccessGroupsRefresh),
		})
	}
	srv, err := scimserver.New(scimserver.Options{
		PublicURL: cfg.PublicURL, Sites: sites, Store: a.store, Logger: log, Now: opts.Now,
		CreateStaleAfter: time.Duration(cfg.Webflow.PendingCreateTimeout), Failpoint: opts.Failpoint,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.scim = srv

	var workspace http.Handler
	if cfg.Workspace.Enabled() {
		workspace, err = newWorkspace(cfg, rs, srv, limiter, log, opts)
		if err != nil {
			a.Close()
			return nil, err
		}
	}
	adminTokens, err := mapping.ParseTokens(cfg.AdminTokens)
	if err != nil && len(cfg.AdminTokens) > 0 {
		a.Close()
		return nil, fmt.Errorf("adminTokens: %w", err)
	}
	siteIDs := make([]string, 0, len(cfg.Sites))
	for _, s := range cfg.Sites {
		siteIDs = append(siteIDs, s.ID)
	}
	identity := identityHandler(rs, siteIDs, adminTokens, log)
	health := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}
	ready := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, code := "ready", http.StatusOK
		checks := map[string]string{"store": "ok"}
		if err := a.store.Ping(ctx); err != nil {
			status, code = "not ready", http.StatusServiceUnavailable
			checks["store"] = "unreachable"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "checks": checks})
	}
	// Not http.ServeMux: it cleans paths with a redirect, and IdPs drop
	// the body of a POST or PATCH they are redirected with.
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			health(w, r)
		case r.URL.Path == "/readyz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			ready(w, r)
		case r.URL.Path == "/identity" && r.Method == http.MethodGet:
			identity(w, r)
		case workspace != nil && (r.URL.Path == workspacePrefix || strings.HasPrefix(r.URL.Path, workspacePrefix+"/")):
			workspace.ServeHTTP(w, r)
		default:
			srv.ServeHTTP(w, r)
		}
	})
	return a, nil
}

// startWorkers runs this replica's membership worker until ctx ends.
func (a *app) startWorkers(ctx context.Context) {
	go a.scim.Worker(ctx, 0)
}

// newLogger builds the slog logger from config.
func newLogger(cfg *Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(cfg.Log.Level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	}
	ho := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// serveHTTP runs h on addr until ctx ends, then stops accepting and lets
// requests in flight finish within the shutdown timeout.
func serveHTTP(ctx context.Context, srv *http.Server, log *slog.Logger, shutdown time.Duration, ready func(addr string)) error {
	ln, err := listen(srv.Addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new connections, finishing requests in flight", "timeout", shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// workspacePrefix is where the collaborator passthrough is mounted.
const workspacePrefix = "/workspace/scim/v2"

// newWorkspace builds the passthrough to Webflow's native SCIM, with its
// own budget, collaborator links, and cascade deprovisioning when enabled.
func newWorkspace(cfg *Config, rs *state.RedisStore, srv *scimserver.Server, limiter *state.Limiter, log *slog.Logger, opts appOptions) (http.Handler, error) {
	ws := cfg.Workspace
	on := map[string]bool{}
	for _, a := range ws.Cascade.On {
		on[a] = true
	}
	var onDeprovision func(ctx context.Context, c state.Collaborator, action string)
	if len(ws.Cascade.Sites) > 0 && len(on) > 0 {
		onDeprovision = func(ctx context.Context, c state.Collaborator, action string) {
			if !on[action] || c.Email == "" {
				return
			}
			// Detached from the IdP's request: a cascade never fails it.
			go srv.Cascade(context.WithoutCancel(ctx), c.Email, action, ws.Cascade.Sites, ws.Cascade.DryRun)
		}
	}
	p, err := passthrough.New(passthrough.Options{
		Upstream:      cfg.Webflow.SCIMBaseURL,
		Token:         webflowdata.Token(ws.WebflowSCIMToken),
		SCIMTokens:    ws.SCIMTokens,
		PublicURL:     cfg.PublicURL + workspacePrefix,
		Prefix:        workspacePrefix,
		Limiter:       limiter,
		Links:         rs,
		OnDeprovision: onDeprovision,
		Observer:      opts.Observer,
		Logger:        log.With("surface", "workspace"),
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return p, nil
}
