package passthrough

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

const (
	idpToken  = "idp-workspace-token-s3cret"
	siteToken = "site-token-for-demo-site"
	publicURL = "https://scim.example.com/workspace/scim/v2"
)

// seen is one request as it arrived upstream.
type seen struct {
	Method   string
	URI      string
	RawQuery string
	Host     string
	Header   http.Header
	Body     []byte
}

type deprovCall struct {
	C      state.Collaborator
	Action string
}

type env struct {
	t       *testing.T
	sim     *webflowsim.Simulator
	up      *httptest.Server
	proxy   *Proxy
	srv     *httptest.Server
	links   *state.RedisStore
	logs    *syncBuffer
	mu      sync.Mutex
	got     []seen
	deprov  []deprovCall
	limiter *fakeLimiter
	// hook, if set, runs before the simulator; returning true means it
	// answered the request itself.
	hook func(w http.ResponseWriter, r *http.Request) bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeLimiter records Wait/Observe and can fail Wait.
type fakeLimiter struct {
	mu       sync.Mutex
	waits    []string
	observed []webflowdata.RateInfo
	keys     []string
	waitErr  error
}

func (f *fakeLimiter) Wait(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, key)
	return f.waitErr
}

func (f *fakeLimiter) Observe(_ context.Context, key string, info webflowdata.RateInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	f.observed = append(f.observed, info)
}

func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}, limiter: &fakeLimiter{}}
	e.sim = webflowsim.New(webflowsim.Options{})
	t.Cleanup(e.sim.Close)
	if err := e.sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		t.Fatal(err)
	}
	e.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		e.mu.Lock()
		e.got = append(e.got, seen{Method: r.Method, URI: r.RequestURI, RawQuery: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: b})
		hook := e.hook
		e.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.up.Close)

	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	e.links = state.NewRedisStore(rdb, state.Options{Prefix: "pt"})

	opts := Options{
		Upstream:   e.up.URL + "/scim/v2",
		Token:      webflowdata.Token(webflowsim.DemoSCIMToken),
		SCIMTokens: []string{idpToken},
		PublicURL:  publicURL,
		Limiter:    e.limiter,
		Links:      e.links,
		OnDeprovision: func(_ context.Context, c state.Collaborator, action string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			c.SeenAt = time.Time{}
			e.deprov = append(e.deprov, deprovCall{c, action})
		},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&opts)
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.proxy = p
	e.srv = httptest.NewServer(p)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		// No token may ever reach the logs.
		logs := e.logs.String()
		if testing.Verbose() && os.Getenv("PT_SHOW_LOGS") != "" {
			t.Log(logs)
		}
		for _, secret := range []string{idpToken, webflowsim.DemoSCIMToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("a token leaked into the logs:\n%s", logs)
			}
		}
	})
	return e
}

func (e *env) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hook = h
}

func (e *env) upstream() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.got...)
}

func (e *env) deprovisions() []deprovCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]deprovCall(nil), e.deprov...)
}

// do sends a request to the proxy with the IdP token; path is relative to
// the server root (it includes the prefix).
func (e *env) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+idpToken)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}

// assertSCIMError checks a SCIM Error JSON answer with the given status.
func assertSCIMError(t *testing.T, res *http.Response, b []byte, status int) map[string]any {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Errorf("content type %q", ct)
	}
	m := decode(t, b)
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != mapping.ErrorSchema {
		t.Errorf("schemas %v", m["schemas"])
	}
	if m["status"] != itoa(status) {
		t.Errorf("status field %#v, want %q", m["status"], itoa(status))
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("empty detail: %s", b)
	}
	return m
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (e *env) simUser(userName string) map[string]any {
	for _, u := range e.sim.SCIMUsers() {
		if strings.EqualFold(u["userName"].(string), userName) {
			return u
		}
	}
	return nil
}
