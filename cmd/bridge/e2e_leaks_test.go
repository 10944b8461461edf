package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Issue 14, point 7: /readyz and /metrics name the sites and the state of
// their tokens, so on the main listener a caller without an admin token
// gets the overall readiness only (what a Kubernetes probe needs) and no
// metrics; /healthz stays open.
func TestOpsEndpointsNeedAnAdminToken(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	h := newBridge(t, func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() })
	h.app.health.probeRedis(ctx)
	h.app.health.probeWebflow(ctx)
	h.newUser("ops@example.com")

	// The probe's view: 200 and the overall status, nothing else.
	code, m, raw := h.opsGet(h.ts.URL+"/readyz", "")
	if code != 200 || m["status"] != "ready" || len(m) != 1 {
		t.Errorf("/readyz without a token: %d %s, want 200 {\"status\":\"ready\"}", code, raw)
	}
	for _, leak := range []string{testSite, "token", "userAccounts", "redis", "workspace"} {
		if strings.Contains(raw, leak) {
			t.Errorf("/readyz without a token names %q: %s", leak, raw)
		}
	}
	// An operator's view.
	if code, m, raw := h.opsGet(h.ts.URL+"/readyz", "Bearer "+testAdminToken); code != 200 || str(m, "sites."+testSite+".token") != "ok" {
		t.Errorf("/readyz with the admin token: %d %s", code, raw)
	}
	for _, tc := range []struct{ name, auth string }{
		{"a site token", "Bearer " + testToken},
		{"a workspace token", "Bearer " + testWorkspaceToken},
		{"a wrong token", "Bearer nope"},
		{"basic auth", "Basic dXNlcjpwYXNz"},
	} {
		if code, _, raw := h.opsGet(h.ts.URL+"/readyz", tc.auth); code != 401 || strings.Contains(raw, testSite) {
			t.Errorf("/readyz with %s: %d %s, want 401", tc.name, code, raw)
		}
	}
	// Metrics: the admin token or nothing.
	for _, tc := range []struct{ name, auth string }{
		{"no token", ""},
		{"a site token", "Bearer " + testToken},
		{"a wrong token", "Bearer nope"},
	} {
		code, m, raw := h.opsGet(h.ts.URL+"/metrics", tc.auth)
		if code != 401 || strings.Contains(raw, testSite) || !strings.Contains(str(m, "detail"), "admin") {
			t.Errorf("/metrics with %s: %d %.300s, want a 401 SCIM error naming no site", tc.name, code, raw)
		}
	}
	if code, _, raw := h.opsGet(h.ts.URL+"/metrics", "Bearer "+testAdminToken); code != 200 || !strings.Contains(raw, `bridge_membership_pending{site="`+testSite+`"}`) {
		t.Errorf("/metrics with the admin token: %d %.300s", code, raw)
	}
	if code, _, raw := h.opsGet(h.ts.URL+"/healthz", ""); code != 200 || raw != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", code, raw)
	}

	// Redis down: the probe sees 503, still without details.
	mr.Close()
	h.app.health.probeRedis(ctx)
	if code, m, raw := h.opsGet(h.ts.URL+"/readyz", ""); code != 503 || m["status"] != "not ready" || len(m) != 1 {
		t.Errorf("/readyz, Redis down, no token: %d %s, want 503 {\"status\":\"not ready\"}", code, raw)
	}
	if code, m, _ := h.opsGet(h.ts.URL+"/readyz", "Bearer "+testAdminToken); code != 503 || str(m, "redis.status") != "down" {
		t.Errorf("/readyz, Redis down, admin token: %d %v", code, m)
	}
}

// The admin listener serves /healthz, and /readyz and /metrics in full,
// without a token; nothing else (no SCIM, no identity lookup).
func TestAdminListener(t *testing.T) {
	h := newBridge(t)
	h.app.health.probeWebflow(context.Background())
	admin := httptest.NewServer(h.app.adminHandler)
	t.Cleanup(admin.Close)
	if code, m, raw := h.opsGet(admin.URL+"/readyz", ""); code != 200 || str(m, "sites."+testSite+".token") != "ok" {
		t.Errorf("admin /readyz: %d %s", code, raw)
	}
	if code, _, raw := h.opsGet(admin.URL+"/metrics", ""); code != 200 || !strings.Contains(raw, "bridge_build_info") {
		t.Errorf("admin /metrics: %d %.300s", code, raw)
	}
	if code, _, _ := h.opsGet(admin.URL+"/healthz", ""); code != 200 {
		t.Errorf("admin /healthz: %d", code)
	}
	for _, p := range []string{"/identity?email=ops@example.com", "/sites/" + testSite + "/scim/v2/Users", "/workspace/scim/v2/Users", "/"} {
		if code, _, raw := h.opsGet(admin.URL+p, "Bearer "+testAdminToken); code != 404 {
			t.Errorf("admin %s: %d %.200s, want 404", p, code, raw)
		}
	}
}

// bridge serve with admin.listen serves both listeners, and stops (with
// its workers) when told to.
func TestServeAdminListen(t *testing.T) {
	mr := miniredis.RunT(t)
	sim := newSharedSim(t)
	main, adm := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`listen: %s
admin: {listen: "%s"}
redis: {url: "redis://%s"}
webflow: {apiBaseURL: "%s/v2", scimBaseURL: "%s/scim/v2"}
sites:
  - id: %s
    webflowToken: %s
    scimTokens: ["%s"]
adminTokens: ["%s"]
`, main, adm, mr.Addr(), sim.ts.URL, sim.ts.URL, testSite, webflowsim.DemoSiteToken, testToken, testAdminToken)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, []string{"--config", path}, &stdout, &stderr) }()
	waitFor := func(url string, auth string, want int) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				var b bytes.Buffer
				_, _ = b.ReadFrom(res.Body)
				res.Body.Close()
				if res.StatusCode == want {
					return b.String()
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never answered %d: %v\n%s", url, want, err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("http://"+main+"/healthz", "", 200)
	if body := waitFor("http://"+adm+"/metrics", "", 200); !strings.Contains(body, "bridge_build_info") {
		t.Errorf("admin /metrics: %.200s", body)
	}
	waitFor("http://"+main+"/metrics", "", 401)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stdout.String(), "admin listening on "+adm) {
		t.Errorf("stdout: %s", stdout.String())
	}

	// A port that is taken stops the bridge, workers included.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := strings.Replace(string(must(os.ReadFile(path))), `admin: {listen: "`+adm+`"}`, `admin: {listen: "`+ln.Addr().String()+`"}`, 1)
	if err := os.WriteFile(path, []byte(busy), 0o600); err != nil {
		t.Fatal(err)
	}
	go func() { done <- runServe(context.Background(), []string{"--config", path}, &stdout, &stderr) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin listener") {
			t.Errorf("serve with a busy admin port: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve with a busy admin port did not stop")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Repeated wrong tokens from one address are slowed on every surface that
// takes a bearer token: within the budget they are 401s, past it 429s with
// Retry-After, held for the penalty; the surfaces share one budget; a
// valid token from the same address is still served; another address is
// not affected.
func TestAuthFailuresSlowed(t *testing.T) {
	const penalty = 50 * time.Millisecond
	h := newReplicaWith(t, newSharedSim(t), appOptions{AuthGuard: authguard.Options{Burst: 4, Every: time.Hour, Penalty: penalty}})
	type call struct{ name, url, auth string }
	wrong := []call{
		{"site", h.base + "/Users", "Bearer nope"},
		{"unknown site", h.ts.URL + "/sites/000000000000000000000000/scim/v2/Users", "Bearer " + testToken},
		{"workspace", h.ts.URL + "/workspace/scim/v2/Users", "Bearer nope"},
		{"identity", h.ts.URL + "/identity?email=a@example.com", "Bearer nope"},
		{"metrics", h.ts.URL + "/metrics", "Bearer nope"},
		{"readyz", h.ts.URL + "/readyz", "Bearer nope"},
		{"queue", h.ts.URL + "/sites/" + testSite + "/admin/memberships", ""},
	}
	get := func(c call) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, res.Header, b.String()
	}
	for i, c := range wrong {
		t0 := time.Now()
		code, hdr, body := get(c)
		switch {
		case i < 4 && code != 401:
			t.Errorf("%s, failure %d (within the budget): %d %s, want 401", c.name, i+1, code, body)
		case i >= 4 && (code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "too many failed authentications")):
			t.Errorf("%s, failure %d (past the budget): %d %v %s, want 429 with Retry-After", c.name, i+1, code, hdr, body)
		case i >= 4 && time.Since(t0) < penalty:
			t.Errorf("%s: a throttled failure answered after %v, before the penalty", c.name, time.Since(t0))
		}
		if code >= 400 && !strings.Contains(body, scimErrorURN) {
			t.Errorf("%s: %d is not a SCIM error: %s", c.name, code, body)
		}
	}
	// A valid token from the same address is served.
	if r := h.do("GET", "/Users", nil); r.Status != 200 {
		t.Errorf("a valid token from the throttled address: %d %s", r.Status, r.Raw)
	}
	if code, _, body := get(call{"", h.ts.URL + "/metrics", "Bearer " + testAdminToken}); code != 200 {
		t.Errorf("the admin token from the throttled address: %d %.200s", code, body)
	}

	// Many concurrent guesses: the held slots bound how many tokens are
	// even compared; the rest are refused at once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, _ := get(call{"", h.base + "/Users", "Bearer guess"})
			mu.Lock()
			statuses[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[429] != 40 {
		t.Errorf("40 concurrent guesses past the budget: %v, want 40 × 429", statuses)
	}

	// Another address has its own budget: the same handler, another peer.
	req := httptest.NewRequest(http.MethodGet, "/sites/"+testSite+"/scim/v2/Users", nil)
	req.RemoteAddr = "198.51.100.7:4444"
	req.Header.Set("Authorization", "Bearer nope")
	rec := httptest.NewRecorder()
	h.app.handler.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("another address: %d %s, want 401", rec.Code, rec.Body)
	}
	if n, _ := strconv.Atoi(rec.Header().Get("Retry-After")); n != 0 {
		t.Errorf("another address got Retry-After %d", n)
	}
}

// bridge config check never prints a Redis password: a URL that does not
// parse is refused (as serve refuses it) without being quoted. Weak tokens
// are refused by name, never echoed.
func TestConfigCheckLeaksNothing(t *testing.T) {
	dir := t.TempDir()
	strong := strings.Repeat("s", 32)
	for _, tc := range []struct {
		name, redisURL, token, wantOut, wantErr string
	}{
		{"unparsable URL", "redis://:hunter2%zz@127.0.0.1:6379/0", strong, "", "redis.url: state: invalid redis URL"},
		{"unparsable URL, no scheme", "hunter2@@:/%zz", strong, "", "redis.url: state: invalid redis URL"},
		{"parsable URL", "redis://:hunter2@127.0.0.1:6379/0", strong, "url: redis://:xxxxx@127.0.0.1:6379/0", ""},
		{"weak token", "", "weak-hunter2", "", "sites[0].scimTokens[0] has 12 characters, fewer than 32"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
		body := fmt.Sprintf("redis: {url: %q}\nsites:\n  - id: %s\n    webflowToken: wf-token\n    scimTokens: [%q]\n", tc.redisURL, testSite, tc.token)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		err := runConfig(context.Background(), []string{"check", "--config", path}, &out, &errb)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantOut != "" && !strings.Contains(out.String(), tc.wantOut):
			t.Errorf("%s: the output lacks %q:\n%s", tc.name, tc.wantOut, out.String())
		}
		all := out.String() + errb.String()
		if err != nil {
			all += err.Error()
		}
		if strings.Contains(all, "hunter2") {
			t.Errorf("%s: config check printed a secret:\n%s", tc.name, all)
		}
	}
}
