package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/auditring"
	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/passthrough"
	"github.com/webflowscim/bridge/internal/redact"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/statuspage"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspacegroups"
	"github.com/webflowscim/bridge/internal/workspacemembers"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// app is an assembled bridge: its HTTP handler and what must be closed.
type app struct {
	log            *slog.Logger
	siteIDs        []string
	reconcileEvery time.Duration
	reconcileApply bool
	handler        http.Handler
	adminHandler   http.Handler // for admin.listen: /healthz, /readyz and /metrics in full
	scim           *scimserver.Server
	health         *health
	metrics        *metrics
	store          state.Backend
	rdb            redis.UniversalClient
	wsRoles        *workspacegroups.Worker // nil unless workspace.groups is set
	audit          *auditring.Ring         // the last audit events, for the status page
	closers        []func()
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
	// LimiterNow and LimiterSleep replace the rate limiter's clock (Redis
	// TIME) and timer: pacing tests run it on a virtual clock (vclock).
	LimiterNow   func() time.Time
	LimiterSleep func(ctx context.Context, d time.Duration) error
	Observer     webflowdata.Observer
	Failpoint    func(name string)
	// LockWait replaces scimserver.DefaultLockWait (tests shorten it).
	LockWait  time.Duration
	AuthGuard authguard.Options // failed-authentication budget per client address; zero: the defaults
}

// newApp builds the bridge from cfg. The embedded store is used when no
// Redis URL is configured, with a warning: nothing survives a restart.
func newApp(ctx context.Context, cfg *config.Config, log *slog.Logger, opts appOptions) (*app, error) {
	a := &app{}
	members := cfg.Workspace.Mode == "members"
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
		a.rdb, err = openRedis(ctx, cfg.Redis.URL, redisStartupWait)
		if err != nil {
			return nil, fmt.Errorf("connecting to Redis: %w", err)
		}
		a.closers = append(a.closers, func() { _ = a.rdb.Close() })
	}
	probe, err := state.NewTopologyProbe(cfg.Redis.URL, a.rdb)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	// On Cluster and Sentinel the writes a failover must not lose wait
	// for a replica (state.Durability).
	sopts := state.Options{Prefix: cfg.Redis.KeyPrefix, Now: opts.Now, Durability: probe.Durability()}
	if err := sopts.Validate(); err != nil {
		a.Close()
		return nil, fmt.Errorf("redis.keyPrefix: %w", err)
	}
	rs := state.NewRedisStore(a.rdb, sopts)
	a.store = rs
	a.metrics = newMetrics(opts.RatePeriod)
	guard := authguard.New(opts.AuthGuard) // one budget per address across every surface
	a.rdb.AddHook(redisHook{a.metrics})

	// One budget per Webflow token, shared by every replica through Redis.
	perKey := map[string]int{}
	if cfg.Workspace.Enabled() && !members && cfg.Workspace.RateLimitPerMinute > 0 {
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
		Now: opts.LimiterNow, Sleep: opts.LimiterSleep,
		MaxPause: time.Duration(cfg.Webflow.MaxRetryAfter),
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	// Tokens are labelled by what they serve, never by the token.
	tokenLabels := map[string]string{}
	for _, s := range cfg.Sites {
		fp := webflowdata.Token(s.WebflowToken).Fingerprint()
		if tokenLabels[fp] == "" {
			tokenLabels[fp] = "site:" + s.ID
		}
	}
	if cfg.Workspace.Enabled() && !members {
		tokenLabels[webflowdata.Token(cfg.Workspace.WebflowSCIMToken).Fingerprint()] = "workspace"
	}
	if cfg.Workspace.Enabled() && cfg.Workspace.RolesUsed() && tokenLabels[webflowdata.Token(cfg.Workspace.MembersToken).Fingerprint()] == "" {
		tokenLabels[webflowdata.Token(cfg.Workspace.MembersToken).Fingerprint()] = "workspace-members"
	}
	paced := meteredLimiter{next: limiter, m: a.metrics, labels: tokenLabels}
	for _, label := range tokenLabels {
		// Every token's 429 series exists from the start, at 0, so that
		// increase() sees the first 429 and the alert's metric is present.
		a.metrics.upstream429.WithLabelValues(label)
	}
	// Every audit line is also kept, the last 50, for the status page.
	a.audit = auditring.New(50)
	audit := recordingAuditor(scimserver.AuditLogger(log), a.audit)
	siteClients := map[string]*webflowdata.Client{}
	var sites []scimserver.SiteConfig
	for _, s := range cfg.Sites {
		wf, err := webflowdata.NewClient(webflowdata.Config{
			BaseURL:    cfg.Webflow.APIBaseURL,
			Token:      webflowdata.Token(s.WebflowToken),
			HTTPClient: opts.HTTPClient,
			Limiter:    paced,
			Retry:      webflowdata.BackoffPolicy{Retry429: true},
			Observer:   a.siteObserver(s.ID, a.metrics.webflowObserver("site", opts.Observer)),
			Audit:      audit,
			// What a 429's Retry-After may make us wait (the limiter logs
			// the header as sent).
			MaxRetryAfter: time.Duration(cfg.Webflow.MaxRetryAfter),
		})
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("site %s: %w", s.ID, err)
		}
		siteClients[s.ID] = wf
		sites = append(sites, scimserver.SiteConfig{
			ID: s.ID, SCIMTokens: s.SCIMTokens, Webflow: wf,
			Deactivation: s.Deactivation, OnExistingUser: s.OnExistingUser, EmailChange: s.EmailChange,
			RefreshAge: time.Duration(s.RefreshAge), CustomFields: s.CustomFields,
			GroupMappings: s.GroupMappings, OnGroupDelete: s.OnGroupDelete, AccessGroupsRefresh: time.Duration(s.AccessGroupsRefresh),
			WebhookSecret: s.WebhookSecret,
		})
	}
	srv, err := scimserver.New(scimserver.Options{
		PublicURL: cfg.PublicURL, Sites: sites, Store: a.store, Logger: log, Now: opts.Now,
		CreateStaleAfter: time.Duration(cfg.Webflow.PendingCreateTimeout), Failpoint: opts.Failpoint, LockWait: opts.LockWait,
		ObserveRequest: a.metrics.observeRequest, MembershipSettle: time.Duration(cfg.Webflow.MembershipSettle),
		AuthGuard:                    guard,
		MaxConcurrentRequestsPerSite: cfg.Limits.MaxConcurrentRequestsPerSite,
		MaxPatchOperations:           cfg.Limits.MaxPatchOperations,
		MaxMembersPerRequest:         cfg.Limits.MaxMembersPerRequest,
	})
	if err != nil {
		a.Close()
		return nil, err
	}
	a.scim = srv

	var workspace http.Handler
	var wsMembers *workspacemembers.Handler // members mode only
	var wsGroups *workspacegroups.Handler
	if cfg.Workspace.Enabled() && members {
		// workspace.mode: members: /Users from the Workspace Members API,
		// /Groups from the bridge's state, no native SCIM.
		wsObserver := a.metrics.webflowObserver("workspace", opts.Observer)
		wsMembers, err = newWorkspaceMembers(cfg, rs, paced, wsObserver, audit, opts, guard, log)
		if err != nil {
			a.Close()
			return nil, err
		}
		workspace = wsMembers
		wsGroups, a.wsRoles, err = newWorkspaceRoles(cfg, rs, nil, paced, wsObserver, audit, opts.HTTPClient, guard, log)
		if err != nil {
			a.Close()
			return nil, err
		}
	} else if cfg.Workspace.Enabled() {
		proxy, err := newWorkspace(cfg, rs, srv, paced, a.metrics.webflowObserver("workspace", opts.Observer), guard, log)
		if err != nil {
			a.Close()
			return nil, err
		}
		workspace = proxy
		if len(cfg.Workspace.Groups) > 0 {
			wsGroups, a.wsRoles, err = newWorkspaceRoles(cfg, rs, proxy, paced, a.metrics.webflowObserver("workspace", opts.Observer), audit, opts.HTTPClient, guard, log)
			if err != nil {
				a.Close()
				return nil, err
			}
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
	identity := identityHandler(rs, siteIDs, adminTokens, guard, log)
	sc := newStateCollector(rs, siteIDs, limiter, tokenLabels, a.metrics.budgetUse, srv.LastReconcile)
	if a.wsRoles != nil {
		sc.workspace = rs
	}
	a.metrics.reg.MustRegister(sc)
	var wsProbe func(context.Context) error
	if wsMembers != nil {
		wsProbe = wsMembers.Probe
	}
	if cfg.Workspace.Enabled() && !members {
		wsProbe = workspaceProbe(cfg.Webflow.SCIMBaseURL, webflowdata.Token(cfg.Workspace.WebflowSCIMToken), opts.HTTPClient)
	}
	a.health = newHealth(rs, siteClients, wsProbe, log)
	a.health.topology = probe.Probe
	a.health.rebuilding = srv.Rebuilding
	a.metrics.reg.MustRegister(newHealthCollector(a.health))
	if a.wsRoles != nil {
		a.health.wsRoles = func(ctx context.Context) (any, error) {
			qs, err := rs.WorkspaceQueueStats(ctx)
			if err != nil {
				return nil, err
			}
			locks, err := rs.RoleLockCount(ctx)
			if err != nil {
				return nil, err
			}
			return map[string]int{"pending": qs.Pending, "failures": len(qs.Failures), "roleLocks": locks}, nil
		}
	}
	a.log, a.siteIDs = log, siteIDs
	a.reconcileEvery, a.reconcileApply = time.Duration(cfg.Reconcile.Interval), cfg.Reconcile.Apply
	src := &statusSource{health: a.health, queues: rs, scim: srv, limiter: limiter, labels: tokenLabels, use: a.metrics.budgetUse, audit: a.audit, sites: siteIDs}
	if a.wsRoles != nil {
		src.roles = rs
	}
	page, err := statuspage.New(statuspage.Options{Source: src, Tokens: adminTokens, Guard: guard, Key: statusPageKey(cfg),
		RedactEmails: cfg.Log.RedactEmails, Logger: log.With("surface", "status-page")})
	if err != nil {
		a.Close()
		return nil, err
	}
	ops := &opsEndpoints{health: a.health, metrics: promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}), tokens: adminTokens, guard: guard, page: page}
	a.adminHandler = ops.adminHandler()
	// Not http.ServeMux: it cleans paths with a redirect, and IdPs drop
	// the body of a POST or PATCH they are redirected with.
	a.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			serveLive(w, r)
		case r.URL.Path == "/readyz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			ops.serveReadyz(w, r)
		case r.URL.Path == "/metrics" && r.Method == http.MethodGet:
			ops.serveMetrics(w, r)
		case r.URL.Path == "/identity" && r.Method == http.MethodGet:
			identity(w, r)
		case statuspage.Owns(r.URL.Path):
			page.ServeHTTP(w, r)
		case wsGroups != nil && wsGroups.Owns(r.URL.Path):
			wsGroups.ServeHTTP(w, r)
		case workspace != nil && (r.URL.Path == workspacePrefix || strings.HasPrefix(r.URL.Path, workspacePrefix+"/")):
			workspace.ServeHTTP(w, r)
		default:
			srv.ServeHTTP(w, r)
		}
	})
	return a, nil
}

// startWorkers runs this replica's membership worker and health probes
// until ctx ends. The returned wait blocks until the worker has finished
// the write in hand, so SIGTERM never cuts a write in half.
func (a *app) startWorkers(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	wsDone := make(chan struct{})
	go func() { a.scim.Worker(ctx, 0); close(done) }()
	if a.wsRoles != nil {
		go func() { a.wsRoles.Run(ctx, 0, 0); close(wsDone) }()
	} else {
		close(wsDone)
	}
	go a.health.run(ctx, 5*time.Second, 5*time.Minute) // Webflow probes cost 2 calls per site: keep them rare
	go a.scim.WatchStore(ctx, 2*time.Second)
	if a.reconcileEvery > 0 {
		go reconcileLoop(ctx, a.scim, a.siteIDs, a.wsRoles, a.reconcileEvery, a.reconcileApply, a.log)
	}
	return func() { <-done; <-wsDone }
}

// loadConfigLogged loads the config file and builds the logger it asks
// for, logging the loader's warnings through it: the start of every
// command that runs the bridge's machinery (serve, reconcile, webhooks).
func loadConfigLogged(path string, w io.Writer) (*config.Config, *slog.Logger, error) {
	cfg, warnings, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(cfg, w)
	for _, warning := range warnings {
		log.Warn(warning)
	}
	return cfg, log, nil
}

// newLogger builds the slog logger from config.
func newLogger(cfg *config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
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
	if cfg.Log.RedactEmails {
		ho.ReplaceAttr = redactEmails
	}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// redactEmails masks the local part of any email in a log attribute
// ("***@example.com"): the domain stays, for debugging per tenant.
func redactEmails(_ []string, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); strings.Contains(s, "@") {
			a.Value = slog.StringValue(redact.Emails(s))
		}
	case slog.KindAny:
		if s := fmt.Sprint(v.Any()); strings.Contains(s, "@") {
			a.Value = slog.StringValue(redact.Emails(s))
		}
	}
	return a
}

// serveHTTP binds srv.Addr and serves srv on it (serveOn).
func serveHTTP(ctx context.Context, srv *http.Server, log *slog.Logger, shutdown time.Duration, ready func(addr string)) error {
	ln, err := listen(srv.Addr)
	if err != nil {
		return err
	}
	return serveOn(ctx, srv, ln, log, shutdown, ready)
}

// workspacePrefix is where the collaborator passthrough is mounted.
const workspacePrefix = "/workspace/scim/v2"

// newWorkspace builds the passthrough to Webflow's native SCIM, with its
// own budget, collaborator links, and cascade deprovisioning when enabled.
func newWorkspace(cfg *config.Config, rs *state.RedisStore, srv *scimserver.Server, limiter webflowdata.Limiter, observer webflowdata.Observer, guard *authguard.Guard, log *slog.Logger) (*passthrough.Proxy, error) {
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
		Observer:      observer,
		AuthGuard:     guard,
		Logger:        log.With("surface", "workspace"),
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return p, nil
}

// newWorkspaceRoles builds the workspace groups surface (/Groups, ahead
// of the passthrough) and its worker, which writes the roles the groups
// give through the Workspace Members and Site Access APIs with the
// workspace token (workspace.membersToken).
func newWorkspaceRoles(cfg *config.Config, rs *state.RedisStore, proxy *passthrough.Proxy, limiter webflowdata.Limiter, observer webflowdata.Observer, audit webflowdata.Auditor, httpClient *http.Client, guard *authguard.Guard, log *slog.Logger) (*workspacegroups.Handler, *workspacegroups.Worker, error) {
	ws := cfg.Workspace
	m, err := workspaceroles.NewMapping(ws.RoleSpec())
	if err != nil {
		return nil, nil, fmt.Errorf("workspace.groups: %w", err)
	}
	tokens, err := mapping.ParseTokens(ws.SCIMTokens)
	if err != nil {
		return nil, nil, fmt.Errorf("workspace.scimTokens: %w", err)
	}
	client, err := webflowdata.NewClient(webflowdata.Config{
		BaseURL: cfg.Webflow.APIBaseURL, Token: webflowdata.Token(ws.MembersToken),
		HTTPClient: httpClient, Limiter: limiter, Retry: webflowdata.BackoffPolicy{Retry429: true},
		Observer: observer, Audit: audit, MaxRetryAfter: time.Duration(cfg.Webflow.MaxRetryAfter),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("workspace.membersToken: %w", err)
	}
	logger := log.With("surface", "workspace-roles")
	var fetcher workspacegroups.Fetcher // none in members mode: group members are the bridge's own users
	if proxy != nil {
		fetcher = proxy
	}
	h := workspacegroups.NewHandler(workspacegroups.Options{
		Store: rs, Mapping: m, Fetcher: fetcher, OwnUsers: proxy == nil, Tokens: tokens, Guard: guard,
		PublicURL: cfg.PublicURL + workspacePrefix, Prefix: workspacePrefix, AdminPath: "/workspace/admin/memberships",
		MaxPatchOperations: cfg.Limits.MaxPatchOperations, MaxMembersPerRequest: cfg.Limits.MaxMembersPerRequest,
		Logger: logger, RedactEmails: cfg.Log.RedactEmails,
	})
	w := workspacegroups.NewWorker(workspacegroups.WorkerOptions{
		Store: rs, Mapping: m, Client: client, WorkspaceID: ws.ID,
		Settle: time.Duration(cfg.Webflow.MembershipSettle), Logger: logger,
	})
	return h, w, nil
}
