package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

const (
	testSite           = webflowsim.DemoSiteID
	testToken          = "test-scim-token-0123456789abcdef" // tokens of 32+ characters, as config demands
	testWorkspaceToken = "test-workspace-token-0123456789ab"
	testAdminToken     = "test-admin-token-0123456789abcdef"
)

// bridgeHarness is a bridge assembled as `bridge demo` assembles it: the
// embedded store in front of the simulator in legacy mode.
type bridgeHarness struct {
	t      testing.TB
	sim    *webflowsim.Simulator
	simTS  *httptest.Server
	ts     *httptest.Server
	app    *app
	base   string
	prefix string // key prefix on a shared real Redis; "" on the embedded store
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wipeStore deletes everything this bridge keeps in Redis, and nothing else.
func (h *bridgeHarness) wipeStore() {
	ctx := context.Background()
	if h.prefix == "" {
		h.app.rdb.FlushAll(ctx)
		return
	}
	// On a cluster, every master's keys (SCAN alone reads one node).
	_ = state.ForEachKey(ctx, h.app.rdb, h.prefix+":*", func(k string) error { return h.app.rdb.Del(ctx, k).Err() })
}

type harnessOpt func(*config.Config)

// sharedSim makes several bridges (replicas) talk to one simulator.
type sharedSim struct {
	sim *webflowsim.Simulator
	ts  *httptest.Server
}

func newSharedSim(t testing.TB) *sharedSim {
	sim := webflowsim.New(webflowsim.Options{UsersMode: webflowsim.ModeLegacy})
	if err := sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		t.Fatal(err)
	}
	sim.SetRateLimit(0)
	ts := httptest.NewServer(sim)
	t.Cleanup(func() { ts.Close(); sim.Close() })
	return &sharedSim{sim: sim, ts: ts}
}

func withSite(f func(*config.SiteConfig)) harnessOpt {
	return func(c *config.Config) { f(&c.Sites[0]) }
}

func newBridge(t *testing.T, opts ...harnessOpt) *bridgeHarness { return newBridgeTB(t, opts...) }

// newBridgeTB uses the embedded store, or the Redis at REDIS_URL (with a
// key prefix of its own) when set, so the whole suite also runs against a
// real Redis.
func newBridgeTB(t testing.TB, opts ...harnessOpt) *bridgeHarness {
	if u := os.Getenv("REDIS_URL"); u != "" {
		prefix := fmt.Sprintf("wfbe2e-%d-%d", os.Getpid(), e2eSeq.Add(1))
		opts = append([]harnessOpt{func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = u, prefix }}, opts...)
		h := newReplica(t, newSharedSim(t), opts...)
		h.prefix = prefix
		t.Cleanup(h.wipeStore)
		return h
	}
	return newReplica(t, newSharedSim(t), opts...)
}

var e2eSeq atomic.Int64

// sharedRedis is the Redis that several replicas of one test share: the
// one at REDIS_URL under a key prefix of this test's (wiped afterwards), so
// the multi-replica suites run on a real Redis, Cluster or Sentinel setup
// when it is set; else a miniredis of the test's own.
func sharedRedis(t testing.TB) harnessOpt {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		prefix := fmt.Sprintf("wfbe2e-%d-%d", os.Getpid(), e2eSeq.Add(1))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rdb, err := state.Open(ctx, u)
			if err != nil {
				t.Errorf("cleaning %s: %v", prefix, err)
				return
			}
			defer rdb.Close()
			_ = state.ForEachKey(ctx, rdb, prefix+":*", func(k string) error { return rdb.Del(ctx, k).Err() })
		})
		return func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = u, prefix }
	}
	mr := miniredis.RunT(t)
	return func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() }
}

// newReplica is one bridge process on a (possibly shared) simulator.
func newReplica(t testing.TB, ss *sharedSim, opts ...harnessOpt) *bridgeHarness {
	t.Helper()
	return newReplicaWith(t, ss, appOptions{}, opts...)
}

func newReplicaWith(t testing.TB, ss *sharedSim, aopts appOptions, opts ...harnessOpt) *bridgeHarness {
	t.Helper()
	sim, simTS := ss.sim, ss.ts
	ts := httptest.NewUnstartedServer(nil)
	cfg := &config.Config{Listen: "127.0.0.1:0", PublicURL: "http://" + ts.Listener.Addr().String()}
	cfg.Webflow.APIBaseURL = simTS.URL + "/v2"
	cfg.Sites = []config.SiteConfig{{ID: testSite, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{testToken}}}
	// The simulator's limit is off; so is ours, unless a test sets one.
	cfg.Webflow.RateLimitPerMinute = 1_000_000
	// The workspace surface, on the simulator's native SCIM.
	cfg.Webflow.SCIMBaseURL = simTS.URL + "/scim/v2"
	cfg.Workspace.WebflowSCIMToken = webflowsim.DemoSCIMToken
	cfg.Workspace.SCIMTokens = []string{testWorkspaceToken}
	cfg.AdminTokens = []string{testAdminToken}
	// Tests that run the worker want writes at once (the default settle
	// time is 1s); TestMembershipSettleCoalesces sets its own.
	cfg.Webflow.MembershipSettle = config.Duration(time.Millisecond)
	for _, o := range opts {
		o(cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Every log line of every end-to-end test is kept and checked: no
	// configured token may ever appear in it.
	logs := &syncBuffer{}
	var logw io.Writer = logs
	if os.Getenv("BRIDGE_TEST_LOG") != "" {
		logw = io.MultiWriter(logs, os.Stderr)
	}
	if aopts.AuthGuard.Burst == 0 {
		// Suites send wrong tokens on purpose, many from one address; the
		// failure budget has tests of its own (TestAuthFailuresSlowed).
		aopts.AuthGuard.Burst = 1 << 20
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, logw), aopts)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = a.handler
	ts.Start()
	h := &bridgeHarness{t: t, sim: sim, simTS: simTS, ts: ts, app: a, base: ts.URL + "/sites/" + testSite + "/scim/v2", logs: logs}
	t.Cleanup(func() {
		ts.Close()
		a.Close()
		secrets := []string{testToken, testWorkspaceToken, testAdminToken, webflowsim.DemoSiteToken, webflowsim.DemoSCIMToken}
		for _, s := range cfg.Sites {
			secrets = append(secrets, s.WebflowToken)
			secrets = append(secrets, s.SCIMTokens...)
		}
		out := logs.String()
		for _, sec := range secrets {
			if sec != "" && strings.Contains(out, sec) {
				t.Errorf("a configured token appears in the logs")
			}
		}
	})
	return h
}

// resp is a decoded SCIM answer.
type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a SCIM request with the site token; body may be a string or a value to encode.
func (h *bridgeHarness) do(method, path string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = h.base + path
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON (%d): %s", method, path, res.StatusCode, raw)
		}
	}
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			h.t.Errorf("%s %s: error Content-Type %q", method, path, ct)
		}
		if !hasSchema(r.Body, "urn:ietf:params:scim:api:messages:2.0:Error") || str(r.Body, "detail") == "" || str(r.Body, "status") == "" {
			h.t.Errorf("%s %s: %d without a SCIM Error body: %s", method, path, res.StatusCode, raw)
		}
	}
	return r
}

func (h *bridgeHarness) must(want int, r resp) resp {
	h.t.Helper()
	if r.Status != want {
		h.t.Fatalf("status %d, want %d: %s", r.Status, want, r.Raw)
	}
	return r
}

// webflowUser returns the simulator's user with this email.
func (h *bridgeHarness) webflowUser(email string) (webflowdata.User, bool) {
	for _, u := range h.sim.Users(testSite) {
		if strings.EqualFold(u.Email(), email) {
			return u, true
		}
	}
	return webflowdata.User{}, false
}

// calls counts Webflow requests (excluding the simulator's admin API).
func (h *bridgeHarness) calls() int { return len(h.sim.Requests()) }

func hasSchema(m map[string]any, urn string) bool {
	s, _ := m["schemas"].([]any)
	for _, v := range s {
		if v == urn {
			return true
		}
	}
	return false
}

// str walks a dotted path through maps and lists ("emails.0.value").
func str(m map[string]any, path string) string {
	v := walk(m, path)
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func walk(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			if v, ok := c[p]; ok {
				cur = v
				continue
			}
			// extension URNs contain dots: try the longest key prefix
			return nil
		case []any:
			i := 0
			for _, ch := range p {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

const extURN = "urn:ietf:params:scim:schemas:extension:webflow:2.0:User"

func ext(m map[string]any) map[string]any {
	e, _ := m[extURN].(map[string]any)
	return e
}

// wfClient is a Webflow client on the simulator, for arranging state as a
// Webflow admin would.
func (h *bridgeHarness) wfClient(t *testing.T) *webflowdata.Client {
	c, err := webflowdata.NewClient(webflowdata.Config{BaseURL: h.simTS.URL + "/v2", Token: webflowsim.DemoSiteToken})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refreshSnapshot makes the bridge forget how fresh its copy of a user is,
// so the next GET /Users/{id} reads Webflow (as after refreshAge). Writes
// read Webflow anyway.
func (h *bridgeHarness) refreshSnapshot(id string) {
	h.t.Helper()
	rec, err := h.app.store.GetUser(context.Background(), testSite, id)
	if err != nil {
		h.t.Fatal(err)
	}
	rec.SyncedAt = rec.SyncedAt.AddDate(-1, 0, 0)
	if err := h.app.store.ReplaceUser(context.Background(), rec); err != nil {
		h.t.Fatal(err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// drain applies every pending membership write now.
func (h *bridgeHarness) drain() {
	h.t.Helper()
	if err := h.app.scim.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func decodeJSON(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }

func newTestServer(t testing.TB, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startWorker runs this replica's membership worker until stopped.
func (h *bridgeHarness) startWorker() func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.app.scim.Worker(ctx, 10*time.Millisecond); close(done) }()
	return func() { cancel(); <-done }
}

// keys lists this bridge's keys matching pattern (after its key prefix),
// on every master of a cluster, whatever other tests left on a shared one.
func (h *bridgeHarness) keys(ctx context.Context, pattern string) ([]string, error) {
	var keys []string
	err := state.ForEachKey(ctx, h.app.rdb, h.prefix+pattern, func(k string) error {
		keys = append(keys, k)
		return nil
	})
	return keys, err
}
