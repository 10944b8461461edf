package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// metrics holds the bridge's Prometheus collectors, on a registry of its
// own (no package-level state). Label values are bounded: site ids from
// config, resource and operation names, endpoint templates, statuses.
// Never a user id, an email or a token.
type metrics struct {
	reg *prometheus.Registry

	scimRequests  *prometheus.CounterVec
	scimDuration  *prometheus.HistogramVec
	webflowCalls  *prometheus.CounterVec
	webflowDur    *prometheus.HistogramVec
	budgetWait    *prometheus.HistogramVec
	upstream429   *prometheus.CounterVec
	redisCommands *prometheus.CounterVec
	// redisOK is redisCommands' "ok" series, looked up once: nearly every
	// Redis command counts in it. The others appear when first counted.
	redisOK     prometheus.Counter
	redisDur    prometheus.Histogram
	passthrough *prometheus.CounterVec
	// budgetUse counts this replica's admissions per token label over the
	// last budget period: bridge_rate_budget_used and the status page.
	budgetUse *useWindow
}

func newMetrics(budgetPeriod time.Duration) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), budgetUse: newUseWindow(budgetPeriod)}
	m.scimRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_scim_requests_total", Help: "SCIM requests served, by site, resource, operation and status.",
	}, []string{"site", "resource", "operation", "status"})
	m.scimDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bridge_scim_request_duration_seconds", Help: "SCIM request latency.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 60},
	}, []string{"site", "resource", "operation"})
	m.webflowCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_webflow_calls_total", Help: "HTTP calls to Webflow (every attempt), by endpoint template and status (0 = no answer).",
	}, []string{"surface", "endpoint", "status"})
	m.webflowDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bridge_webflow_call_duration_seconds", Help: "Webflow call latency.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
	}, []string{"surface", "endpoint"})
	m.budgetWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "bridge_rate_budget_wait_seconds", Help: "Time spent waiting for a Webflow token's budget, by token label and priority.",
		Buckets: []float64{.001, .01, .1, .5, 1, 2, 5, 10, 20, 60},
	}, []string{"token", "priority"})
	m.upstream429 = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_webflow_429_total", Help: "429 answers from Webflow, by token label.",
	}, []string{"token"})
	m.redisCommands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_redis_commands_total", Help: "Redis commands (pipelines count once), by result.",
	}, []string{"result"})
	m.redisOK = m.redisCommands.WithLabelValues("ok")
	m.redisDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "bridge_redis_command_duration_seconds", Help: "Redis command latency.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10),
	})
	m.passthrough = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bridge_workspace_requests_total", Help: "Calls the workspace passthrough made to Webflow's native SCIM, by endpoint and status.",
	}, []string{"endpoint", "status"})
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bridge_build_info", Help: "Build information: what `bridge version` prints."},
		[]string{"version", "commit", "build_date", "goversion"})
	b := readBuildInfo()
	bi.WithLabelValues(b.Version, b.Commit, b.Date, b.GoVersion).Set(1)
	m.reg.MustRegister(m.scimRequests, m.scimDuration, m.webflowCalls, m.webflowDur, m.budgetWait, m.upstream429,
		m.redisCommands, m.redisDur, m.passthrough, bi,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeRequest is scimserver's RequestInfo hook.
func (m *metrics) observeRequest(ri scimserver.RequestInfo) {
	m.scimRequests.WithLabelValues(ri.Site, ri.Resource, ri.Operation, strconv.Itoa(ri.Status)).Inc()
	m.scimDuration.WithLabelValues(ri.Site, ri.Resource, ri.Operation).Observe(ri.Duration.Seconds())
}

// webflowObserver counts one surface's Webflow calls.
func (m *metrics) webflowObserver(surface string, next webflowdata.Observer) webflowdata.Observer {
	return webflowdata.ObserverFunc(func(ci webflowdata.CallInfo) {
		m.webflowCalls.WithLabelValues(surface, ci.Endpoint, strconv.Itoa(ci.Status)).Inc()
		m.webflowDur.WithLabelValues(surface, ci.Endpoint).Observe(ci.Duration.Seconds())
		if surface == "workspace" {
			m.passthrough.WithLabelValues(ci.Endpoint, strconv.Itoa(ci.Status)).Inc()
		}
		if next != nil {
			next.ObserveCall(ci)
		}
	})
}

// meteredLimiter measures budget waits and 429s around the shared limiter,
// labelling tokens by what they serve (never the token).
type meteredLimiter struct {
	next   webflowdata.Limiter
	m      *metrics
	labels map[string]string // token fingerprint → label
}

func (l meteredLimiter) label(key string) string {
	if s, ok := l.labels[key]; ok {
		return s
	}
	return "other"
}

func (l meteredLimiter) Wait(ctx context.Context, key string) error {
	t0 := time.Now()
	err := l.next.Wait(ctx, key)
	if err == nil {
		l.m.budgetUse.add(l.label(key), time.Now())
	}
	prio := [...]string{"interactive", "background", "reconcile"}[min(max(int(webflowdata.PriorityFrom(ctx)), 0), 2)]
	l.m.budgetWait.WithLabelValues(l.label(key), prio).Observe(time.Since(t0).Seconds())
	return err
}

func (l meteredLimiter) Observe(ctx context.Context, key string, info webflowdata.RateInfo) {
	if info.Status == 429 {
		l.m.upstream429.WithLabelValues(l.label(key)).Inc()
	}
	l.next.Observe(ctx, key, info)
}

// stateCollector reads queue and budget gauges at scrape time.
type stateCollector struct {
	store   state.Backend
	sites   []string
	limiter *state.Limiter
	labels  map[string]string // token fingerprint → label
	use     *useWindow
	// lastReconcile reads a site's stored reconcile report.
	lastReconcile func(ctx context.Context, site string) (*scimserver.DriftReport, error)
	// workspace is set when workspace.groups is: the roles queue and the
	// role-locked members.
	workspace state.WorkspaceGroupStore

	pending, oldest, failures, remaining, used, limit, reconciled, drift *prometheus.Desc
	wsPending, wsOldest, wsFailures, wsLocks                             *prometheus.Desc
}

func newStateCollector(store state.Backend, sites []string, limiter *state.Limiter, labels map[string]string, use *useWindow,
	lastReconcile func(ctx context.Context, site string) (*scimserver.DriftReport, error)) *stateCollector {
	return &stateCollector{store: store, sites: sites, limiter: limiter, labels: labels, use: use, lastReconcile: lastReconcile,
		pending:    prometheus.NewDesc("bridge_membership_pending", "Users with membership writes waiting, by site.", []string{"site"}, nil),
		oldest:     prometheus.NewDesc("bridge_membership_oldest_pending_seconds", "Age of the oldest pending membership write, by site.", []string{"site"}, nil),
		failures:   prometheus.NewDesc("bridge_membership_failures", "Membership writes that failed for good and are recorded, by site.", []string{"site"}, nil),
		remaining:  prometheus.NewDesc("bridge_rate_budget_available", "Requests a Webflow token could make right now, by token label.", []string{"token"}, nil),
		used:       prometheus.NewDesc("bridge_rate_budget_used", "Webflow calls this replica took from a token's budget in the last budget period (one minute), by token label.", []string{"token"}, nil),
		limit:      prometheus.NewDesc("bridge_rate_budget_limit", "A token's effective budget per period (the configured limit, or Webflow's lower reported one), by token label.", []string{"token"}, nil),
		reconciled: prometheus.NewDesc("bridge_reconcile_last_success_timestamp_seconds", "When the last reconciliation of a site finished.", []string{"site"}, nil),
		drift:      prometheus.NewDesc("bridge_reconcile_drift", "Drift found by the last reconciliation, by site and kind.", []string{"site", "kind"}, nil),
		wsPending:  prometheus.NewDesc("bridge_workspace_roles_pending", "Workspace users whose roles wait to be written (workspace.groups).", nil, nil),
		wsOldest:   prometheus.NewDesc("bridge_workspace_roles_oldest_pending_seconds", "Age of the oldest pending workspace role write (workspace.groups).", nil, nil),
		wsFailures: prometheus.NewDesc("bridge_workspace_roles_failures", "Workspace role writes that failed for good and are recorded.", nil, nil),
		wsLocks:    prometheus.NewDesc("bridge_workspace_role_locks", "Members whose roles Webflow refuses to change (workspace_member_managed_by_scim); their desired roles are kept.", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.oldest
	ch <- c.failures
	ch <- c.remaining
	ch <- c.used
	ch <- c.limit
	ch <- c.reconciled
	ch <- c.drift
	ch <- c.wsPending
	ch <- c.wsOldest
	ch <- c.wsFailures
	ch <- c.wsLocks
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, id := range c.sites {
		qs, err := c.store.QueueStats(ctx, id)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(qs.Pending), id)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, queueAge(qs), id)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(len(qs.Failures)), id)
		if rep, err := c.lastReconcile(ctx, id); err == nil {
			ch <- prometheus.MustNewConstMetric(c.reconciled, prometheus.GaugeValue, float64(rep.FinishedAt.Unix()), id)
			for kind, n := range rep.DriftCounts() {
				ch <- prometheus.MustNewConstMetric(c.drift, prometheus.GaugeValue, float64(n), id, kind)
			}
		}
	}
	if c.workspace != nil {
		if qs, err := c.workspace.WorkspaceQueueStats(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.wsPending, prometheus.GaugeValue, float64(qs.Pending))
			ch <- prometheus.MustNewConstMetric(c.wsOldest, prometheus.GaugeValue, queueAge(qs))
			ch <- prometheus.MustNewConstMetric(c.wsFailures, prometheus.GaugeValue, float64(len(qs.Failures)))
		}
		if n, err := c.workspace.RoleLockCount(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.wsLocks, prometheus.GaugeValue, float64(n))
		}
	}
	for _, b := range budgetFigures(ctx, c.limiter, c.labels, c.use) {
		ch <- prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(b.Available), b.Label)
		ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(b.Used), b.Label)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(b.Limit), b.Label)
	}
}

// queueAge is the age of a queue's oldest pending write in seconds, 0 when
// nothing waits: /metrics and the status page read it here.
func queueAge(qs state.QueueStats) float64 {
	if qs.OldestPending.IsZero() {
		return 0
	}
	return time.Since(qs.OldestPending).Seconds()
}

// redisHook measures every Redis command and its errors.
type redisHook struct{ m *metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t0 := time.Now()
		err := next(ctx, cmd)
		h.observe(t0, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t0 := time.Now()
		err := next(ctx, cmds)
		h.observe(t0, err)
		return err
	}
}

func (h redisHook) observe(t0 time.Time, err error) {
	h.m.redisDur.Observe(time.Since(t0).Seconds())
	switch {
	case err == nil || err == redis.Nil:
		h.m.redisOK.Inc()
	case strings.HasPrefix(err.Error(), "NOSCRIPT"):
		// The first run of a Lua script on a server: go-redis then sends
		// it whole. Expected, not an error.
		h.m.redisCommands.WithLabelValues("noscript").Inc()
	default:
		h.m.redisCommands.WithLabelValues("error").Inc()
	}
}

var _ redis.Hook = redisHook{}

// useWindow counts admissions per token label over a sliding budget
// period, in 60 slots: what bridge_rate_budget_used and the status page
// report as the budget this replica used in the last minute. The budget
// itself is shared by every replica through Redis; this is one replica's
// share of it.
type useWindow struct {
	slot time.Duration
	mu   sync.Mutex
	by   map[string]*[useSlots]useSlot
}

const useSlots = 60

type useSlot struct {
	at int64 // slot number (time / slot)
	n  int
}

func newUseWindow(period time.Duration) *useWindow {
	if period <= 0 {
		period = time.Minute
	}
	return &useWindow{slot: max(period/useSlots, time.Millisecond), by: map[string]*[useSlots]useSlot{}}
}

func (w *useWindow) add(label string, now time.Time) {
	n := now.UnixNano() / int64(w.slot)
	w.mu.Lock()
	defer w.mu.Unlock()
	slots := w.by[label]
	if slots == nil {
		slots = new([useSlots]useSlot)
		w.by[label] = slots
	}
	s := &slots[n%useSlots]
	if s.at != n {
		s.at, s.n = n, 0
	}
	s.n++
}

// used is the admissions of label in the period ending at now.
func (w *useWindow) used(label string, now time.Time) int {
	n := now.UnixNano() / int64(w.slot)
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	if slots := w.by[label]; slots != nil {
		for _, s := range slots {
			if s.at <= n && n-s.at < useSlots {
				total += s.n
			}
		}
	}
	return total
}

// budgetFigure is one Webflow token's budget as /metrics and the status
// page show it.
type budgetFigure struct {
	Label     string // site:<id> or workspace, never the token
	Used      int    // admissions this replica took in the last period
	Limit     int    // effective budget per period (min of configured and Webflow's reported limit)
	Available int    // interactive admissions that would pass right now
	Period    time.Duration
}

// budgetFigures reads every labelled token's budget: the one source of
// bridge_rate_budget_used, _limit and _available, and of the page's figure.
func budgetFigures(ctx context.Context, limiter *state.Limiter, labels map[string]string, use *useWindow) []budgetFigure {
	out := make([]budgetFigure, 0, len(labels))
	now := time.Now()
	for key, label := range labels {
		st, err := limiter.Stats(ctx, key)
		if err != nil {
			continue
		}
		out = append(out, budgetFigure{Label: label, Used: use.used(label, now), Limit: st.Effective, Available: st.Available, Period: st.Period})
	}
	slices.SortFunc(out, func(a, b budgetFigure) int { return strings.Compare(a.Label, b.Label) })
	return out
}

// healthCollector turns the cached readiness (what /readyz answers) into
// gauges, so that alerts can say how long it has failed.
type healthCollector struct {
	h                                                                 *health
	ready, redisUp, redisDegraded, siteReady, siteToken, siteAccounts *prometheus.Desc
}

func newHealthCollector(h *health) *healthCollector {
	return &healthCollector{h: h,
		ready:         prometheus.NewDesc("bridge_ready", "1 when /readyz answers 200 (Redis reachable), 0 when it answers 503.", nil, nil),
		redisUp:       prometheus.NewDesc("bridge_redis_up", "1 when the last Redis probe (every 5 s) was answered.", nil, nil),
		redisDegraded: prometheus.NewDesc("bridge_redis_degraded", "1 when the last Redis probe found the deployment degraded (a master down, a failover in progress, a master without a replica; /readyz names it).", nil, nil),
		siteReady:     prometheus.NewDesc("bridge_site_ready", "1 when /readyz reports the site ok (token and User Accounts), by site.", []string{"site"}, nil),
		siteToken:     prometheus.NewDesc("bridge_site_token_ok", "1 when the site's Webflow token was accepted with the scopes the bridge needs, by site.", []string{"site"}, nil),
		siteAccounts:  prometheus.NewDesc("bridge_site_user_accounts_unavailable", "1 when Webflow answered that User Accounts are gone for the site (the sunset), by site.", []string{"site"}, nil),
	}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ready
	ch <- c.redisUp
	ch <- c.redisDegraded
	ch <- c.siteReady
	ch <- c.siteToken
	ch <- c.siteAccounts
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	rep := c.h.report(context.Background(), false)
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolGauge(rep.Code == 200))
	ch <- prometheus.MustNewConstMetric(c.redisUp, prometheus.GaugeValue, boolGauge(rep.Redis.Status == "ok" || rep.Redis.Status == "degraded"))
	ch <- prometheus.MustNewConstMetric(c.redisDegraded, prometheus.GaugeValue, boolGauge(rep.Redis.Status == "degraded"))
	for id, s := range rep.Sites {
		ch <- prometheus.MustNewConstMetric(c.siteReady, prometheus.GaugeValue, boolGauge(s.Status == "ok"), id)
		ch <- prometheus.MustNewConstMetric(c.siteToken, prometheus.GaugeValue, boolGauge(s.Token == "ok"), id)
		ch <- prometheus.MustNewConstMetric(c.siteAccounts, prometheus.GaugeValue, boolGauge(strings.HasPrefix(s.UserAccounts, "unavailable")), id)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
