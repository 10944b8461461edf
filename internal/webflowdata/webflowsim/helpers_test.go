package webflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	siteTok  = DemoSiteToken
	readTok  = DemoReadToken
	oauthTok = DemoOAuthToken
	scimTok  = DemoSCIMToken
	siteID   = DemoSiteID
)

// newDemo starts a simulator with the demo seed behind a real server.
func newDemo(t testing.TB, opts Options) (*Simulator, *httptest.Server) {
	t.Helper()
	sim := New(opts)
	if err := sim.LoadSeed(DemoSeed()); err != nil {
		t.Fatalf("LoadSeed: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		sim.Close()
	})
	return sim, srv
}

// call does one request; body may be nil, a string (sent raw) or a value
// (JSON-encoded).
func call(t testing.TB, srv *httptest.Server, method, path, tok string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func golden(t testing.TB, name string) any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

var (
	tsRe     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
	msRe     = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	objectRe = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// sameShape reports differences between a reference example and a
// simulator answer: same keys at every level, same JSON types. A null in
// the reference accepts anything; a timestamp in the reference accepts a
// timestamp or null. extra lists paths (like "payload.invitedOn") the
// simulator may add.
func sameShape(ref, got any, path string, extra map[string]bool) []string {
	var errs []string
	rt, gt := jsonType(ref), jsonType(got)
	if rt == "null" {
		return nil
	}
	if rs, ok := ref.(string); ok && tsRe.MatchString(rs) {
		if gt == "null" {
			return nil
		}
		if gs, ok := got.(string); !ok || !msRe.MatchString(gs) {
			return []string{fmt.Sprintf("%s: want millisecond timestamp, got %v", path, got)}
		}
		return nil
	}
	if rt != gt {
		return []string{fmt.Sprintf("%s: type %s, want %s", path, gt, rt)}
	}
	switch r := ref.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, rv := range r {
			gv, ok := g[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			errs = append(errs, sameShape(rv, gv, path+"."+k, extra)...)
		}
		for k := range g {
			if _, ok := r[k]; !ok && !extra[normPath(path+"."+k)] {
				errs = append(errs, fmt.Sprintf("%s.%s: unexpected key", path, k))
			}
		}
	case []any:
		g := got.([]any)
		// An empty answer array is allowed (e.g. no secondary locales);
		// tests pick fixtures whose arrays are non-empty where it matters.
		if len(r) > 0 {
			for i, gv := range g {
				errs = append(errs, sameShape(r[0], gv, fmt.Sprintf("%s[%d]", path, i), extra)...)
			}
		}
	}
	sort.Strings(errs)
	return errs
}

var indexRe = regexp.MustCompile(`\[\d+\]`)

// normPath turns ".users[3].data" into "users.data" for the extra list.
func normPath(p string) string {
	return strings.TrimPrefix(indexRe.ReplaceAllString(p, ""), ".")
}

func assertShape(t *testing.T, goldenName string, got []byte, extra ...string) {
	t.Helper()
	ex := map[string]bool{}
	for _, e := range extra {
		ex[e] = true
	}
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: answer is not JSON: %v: %s", goldenName, err, got)
	}
	for _, e := range sameShape(golden(t, goldenName), g, "", ex) {
		t.Errorf("%s: %s", goldenName, e)
	}
}

// waitFor polls cond until it holds or a second passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fakeClock is a settable clock, safe for the server's goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
