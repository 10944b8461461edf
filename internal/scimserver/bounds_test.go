package scimserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Two sites behind one bridge, in front of the simulator: site A is the
// demo site, site B the demo's other site, each with its own tokens.
const (
	boundsSiteA  = webflowsim.DemoSiteID
	boundsSiteB  = webflowsim.DemoOtherSiteID
	boundsTokenA = "bounds-scim-token-site-a"
	boundsTokenB = "bounds-scim-token-site-b"
	boundsWFB    = "bounds-webflow-token-site-b"
)

var boundsSeq atomic.Int64

type boundsFixture struct {
	srv   *Server
	ts    *httptest.Server
	sim   *webflowsim.Simulator
	store *state.RedisStore
}

// newBoundsFixture uses the embedded store, or the Redis at REDIS_URL
// under a key prefix of its own (deleted afterwards) when set: the flood
// benchmark means most on a real Redis.
func newBoundsFixture(t testing.TB, opt func(*Options)) *boundsFixture {
	t.Helper()
	var rdb redis.UniversalClient
	sopts := state.Options{}
	if u := os.Getenv("REDIS_URL"); u != "" {
		var err error
		if rdb, err = state.Open(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		sopts.Prefix = fmt.Sprintf("wfbbounds-%d-%d", os.Getpid(), boundsSeq.Add(1))
		t.Cleanup(func() {
			ctx := context.Background()
			iter := rdb.Scan(ctx, 0, sopts.Prefix+":*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			_ = rdb.Close()
		})
	} else {
		var stop func()
		var err error
		if rdb, stop, err = state.NewEmbedded(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	f := &boundsFixture{store: state.NewRedisStore(rdb, sopts), sim: webflowsim.New(webflowsim.Options{})}
	t.Cleanup(f.sim.Close)
	seed := webflowsim.DemoSeed()
	seed.Tokens = append(seed.Tokens, webflowsim.SeedToken{Label: "site-b", Token: boundsWFB,
		Scopes: []string{"sites:read", "users:read", "users:write"}, Sites: []string{boundsSiteB}, GrantType: "site_token"})
	seed.Sites[1].AccessGroups = seed.Sites[0].AccessGroups
	if err := f.sim.LoadSeed(seed); err != nil {
		t.Fatal(err)
	}
	simTS := httptest.NewServer(f.sim)
	t.Cleanup(simTS.Close)
	client := func(tok string) *webflowdata.Client {
		c, err := webflowdata.NewClient(webflowdata.Config{BaseURL: simTS.URL + "/v2", Token: webflowdata.Token(tok), Retry: webflowdata.NoRetry})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	opts := Options{
		Store: f.store,
		Sites: []SiteConfig{
			{ID: boundsSiteA, SCIMTokens: []string{boundsTokenA}, Webflow: client(webflowsim.DemoSiteToken)},
			{ID: boundsSiteB, SCIMTokens: []string{boundsTokenB}, Webflow: client(boundsWFB)},
		},
	}
	if opt != nil {
		opt(&opts)
	}
	var err error
	if f.srv, err = New(opts); err != nil {
		t.Fatal(err)
	}
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(f.ts.Close)
	return f
}

type boundsAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends one SCIM request to a site (A or B) with its token.
func (f *boundsFixture) do(t testing.TB, site, method, path string, body []byte) boundsAnswer {
	t.Helper()
	tok := boundsTokenA
	if site == boundsSiteB {
		tok = boundsTokenB
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.ts.URL+"/sites/"+site+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := boundsAnswer{status: res.StatusCode, header: res.Header}
	a.raw, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(a.raw, &a.body)
	return a
}

// scimError checks that a is a SCIM Error with the status and scimType.
func (a boundsAnswer) scimError(t testing.TB, label string, status int, scimType string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d, want %d: %.300s", label, a.status, status, a.raw)
		return
	}
	if got, _ := a.body["scimType"].(string); got != scimType {
		t.Errorf("%s: scimType %q, want %q: %.300s", label, got, scimType, a.raw)
	}
	if d, _ := a.body["detail"].(string); len(d) < 20 {
		t.Errorf("%s: detail %q is not useful", label, d)
	}
}

// TestFilterBounds: a filter over 2 KiB, or nested deeper than 10 levels,
// is refused with 400 invalidFilter on /Users and /Groups before it is
// parsed (on the old main the deep one answered 200 after the parser spent
// tens of MB on it); filters within the bounds, brackets inside string
// literals included, are answered as before.
func TestFilterBounds(t *testing.T) {
	f := newBoundsFixture(t, nil)
	deep := func(n int, inner string) string { return strings.Repeat("(", n) + inner + strings.Repeat(")", n) }
	// sized is attr eq "aaa…" exactly n bytes long.
	sized := func(n int) func(string) string {
		return func(attr string) string {
			head := attr + ` eq "`
			return head + strings.Repeat("a", n-len(head)-1) + `"`
		}
	}
	nested := func(n int, inner string) func(string) string {
		return func(attr string) string { return deep(n, attr+inner) }
	}
	cases := []struct {
		name   string
		filter func(attr string) string // attr: userName or displayName
		ok     bool                     // within the bounds: answered 200
	}{
		{"2048 bytes", sized(2048), true},
		{"2049 bytes", sized(2049), false},
		{"64 KiB", sized(64 << 10), false},
		{"depth 10", nested(10, ` eq "x"`), true},
		{"depth 11", nested(11, ` eq "x"`), false},
		{"5000 parentheses", nested(5000, ` eq "x"`), false},
		{"brackets in a literal do not nest", func(a string) string { return a + ` eq "` + strings.Repeat("((([[[", 30) + `"` }, true},
		{"an escaped quote keeps the literal open", func(a string) string { return a + ` eq "\"` + strings.Repeat("(", 20) + `"` }, true},
	}
	for _, c := range cases {
		for coll, attr := range map[string]string{"/Users": "userName", "/Groups": "displayName"} {
			a := f.do(t, boundsSiteA, "GET", coll+"?filter="+url.QueryEscape(c.filter(attr)), nil)
			label := c.name + " on " + coll
			if c.ok {
				if a.status != http.StatusOK {
					t.Errorf("%s: %d, want 200: %.300s", label, a.status, a.raw)
				}
				continue
			}
			a.scimError(t, label, http.StatusBadRequest, "invalidFilter")
			if d, _ := a.body["detail"].(string); !strings.Contains(d, "at most") {
				t.Errorf("%s: detail %q does not say the bound", label, d)
			}
		}
	}
	// Value paths and not( ) nest like parentheses.
	for name, fl := range map[string]string{
		"depth 11 with a value path": deep(10, `emails[value eq "x"]`),
		"depth 11 of not":            strings.Repeat("not (", 11) + `userName eq "x"` + strings.Repeat(")", 11),
	} {
		f.do(t, boundsSiteA, "GET", "/Users?filter="+url.QueryEscape(fl), nil).scimError(t, name, http.StatusBadRequest, "invalidFilter")
	}
	if a := f.do(t, boundsSiteA, "GET", "/Users?filter="+url.QueryEscape(deep(9, `emails[value eq "x"]`)), nil); a.status != http.StatusOK {
		t.Errorf("depth 10 with a value path: %d: %.300s", a.status, a.raw)
	}
}

// TestParseSlots: while every parse slot is taken, a filter for the full
// parser waits (here until its context ends), and a one-condition lookup,
// which takes the fast path, does not.
func TestParseSlots(t *testing.T) {
	p := make(parseSlots, 1)
	p <- struct{}{} // the only slot is busy
	if e, err := p.user(context.Background(), `userName eq "a@example.com"`); err != nil || e == nil {
		t.Fatalf("fast path: %v, %v", e, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.user(ctx, `title pr or userName eq "a"`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full parser with no free slot: %v, want to wait until the deadline", err)
	}
	<-p
	if e, err := p.user(context.Background(), `title pr or userName eq "a"`); err != nil || e == nil {
		t.Fatalf("full parser with a free slot: %v, %v", e, err)
	}
	if len(p) != 0 {
		t.Fatalf("the slot was not given back")
	}
	var unbounded parseSlots
	if _, err := unbounded.parse(context.Background(), `title pr`); err != nil {
		t.Fatalf("nil parseSlots: %v", err)
	}
}

// TestSiteConcurrencyLimit: while site A has its limit of requests in
// progress (here two PATCHes whose bodies are still arriving), its next
// request gets 429 with Retry-After and a SCIM Error, and site B is
// served as usual; when A's requests end, A is served again. On the old
// main nothing bounded a site's requests.
func TestSiteConcurrencyLimit(t *testing.T) {
	f := newBoundsFixture(t, func(o *Options) { o.MaxConcurrentRequestsPerSite = 2 })
	type held struct {
		w    *io.PipeWriter
		done chan int
	}
	hold := func() held {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("PATCH", f.ts.URL+"/sites/"+boundsSiteA+"/scim/v2/Users/nobody", pr)
		req.Header.Set("Authorization", "Bearer "+boundsTokenA)
		req.Header.Set("Content-Type", "application/scim+json")
		h := held{w: pw, done: make(chan int, 1)}
		// A failing test must not leave the server waiting for the body.
		t.Cleanup(func() { _ = pw.CloseWithError(io.ErrUnexpectedEOF) })
		go func() {
			res, err := f.ts.Client().Do(req)
			if err != nil {
				h.done <- 0
				return
			}
			res.Body.Close()
			h.done <- res.StatusCode
		}()
		_, _ = pw.Write([]byte(`{"schemas":`)) // the handler now waits for the rest
		return h
	}
	a1, a2 := hold(), hold()
	gate := f.srv.sites[boundsSiteA].gate
	waitFor(t, "site A's two requests in progress", func() bool { return len(gate.slots) == 2 })
	lookup := "/Users?filter=" + url.QueryEscape(`userName eq "x@example.com"`)
	busy := f.do(t, boundsSiteA, "GET", lookup, nil)
	busy.scimError(t, "site A over its limit", http.StatusTooManyRequests, "")
	if ra := busy.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	if d, _ := busy.body["detail"].(string); !strings.Contains(d, "maxConcurrentRequestsPerSite") {
		t.Errorf("the detail does not name the setting: %q", d)
	}
	for i := 0; i < 5; i++ {
		if b := f.do(t, boundsSiteB, "GET", lookup, nil); b.status != http.StatusOK {
			t.Fatalf("site B while site A is at its limit: %d %s", b.status, b.raw)
		}
	}
	for _, h := range []held{a1, a2} {
		_, _ = h.w.Write([]byte(`["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`))
		h.w.Close()
		if st := <-h.done; st != http.StatusNotFound {
			t.Errorf("a held request ended with %d, want 404 (no such user)", st)
		}
	}
	if a := f.do(t, boundsSiteA, "GET", lookup, nil); a.status != http.StatusOK {
		t.Errorf("site A after its requests ended: %d %s", a.status, a.raw)
	}
}
