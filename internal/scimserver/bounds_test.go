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
			_ = state.ForEachKey(ctx, rdb, sopts.Prefix+":*", func(k string) error { return rdb.Del(ctx, k).Err() })
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

// staffMember creates, on site A, a user as Okta sends one (oktaCreate)
// and a group "Staff" holding it, and returns the user's id: the user the
// write and render benchmarks replay requests on.
func (f *boundsFixture) staffMember(t testing.TB, userName string) string {
	t.Helper()
	a := f.do(t, boundsSiteA, http.MethodPost, "/Users", oktaCreate(userName))
	if a.status != http.StatusCreated {
		t.Fatalf("POST /Users: %d %s", a.status, a.raw)
	}
	id := a.body["id"].(string)
	if g := f.do(t, boundsSiteA, http.MethodPost, "/Groups", groupBody("Staff", []string{id})); g.status != http.StatusCreated {
		t.Fatalf("POST /Groups: %d %s", g.status, g.raw)
	}
	return id
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

// seedUsers stores n users of site A (no Webflow call) and returns their ids.
func (f *boundsFixture) seedUsers(t testing.TB, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
		rec := &state.UserRecord{ID: ids[i], SiteID: boundsSiteA, UserName: ids[i] + "@example.com", Email: ids[i] + "@example.com", Active: true}
		if err := f.store.CreateUser(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func groupBody(displayName string, ids []string) []byte {
	ms := make([]map[string]string, len(ids))
	for i, id := range ids {
		ms[i] = map[string]string{"value": id}
	}
	b, _ := json.Marshal(map[string]any{"schemas": []string{groupSchemaURN}, "displayName": displayName, "members": ms})
	return b
}

func patchBody(ops ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops})
	return b
}

func memberValues(ids []string) []map[string]string {
	ms := make([]map[string]string, len(ids))
	for i, id := range ids {
		ms[i] = map[string]string{"value": id}
	}
	return ms
}

// TestRequestSizeBounds: a PATCH of more than 1,000 operations, or a
// request naming more than 1,000 group members, is 400 invalidValue
// before anything reads or writes the store; 1,000 of each is served. On
// the old main all of these were applied.
func TestRequestSizeBounds(t *testing.T) {
	f := newBoundsFixture(t, nil)
	ctx := context.Background()
	ids := f.seedUsers(t, "size", 1001)
	staff := f.do(t, boundsSiteA, "POST", "/Groups", groupBody("Staff", nil))
	gid, _ := staff.body["id"].(string)
	if staff.status != 201 {
		t.Fatalf("linking Staff: %d %s", staff.status, staff.raw)
	}
	ops := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"op": "replace", "path": "title", "value": fmt.Sprintf("t%d", i)}
		}
		return out
	}
	// Okta's and Entra's PATCH of active, which is read without the
	// normaliser (rawActivePatch), is bounded all the same.
	activeOps := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"op": "replace", "value": map[string]any{"active": true}}
		}
		return out
	}
	eqPath := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`value eq "%s"`, ids[i])
		}
		return "members[" + strings.Join(parts, " or ") + "]"
	}
	refused := []struct {
		name, method, path string
		body               []byte
		mentions           string
	}{
		{"PATCH /Users with 1,001 operations", "PATCH", "/Users/" + ids[0], patchBody(ops(1001)...), "limits.maxPatchOperations"},
		{"PATCH /Users with 1,001 operations of active", "PATCH", "/Users/" + ids[0], patchBody(activeOps(1001)...), "limits.maxPatchOperations"},
		{"PATCH /Groups adding 1,001 members", "PATCH", "/Groups/" + gid, patchBody(map[string]any{"op": "add", "path": "members", "value": memberValues(ids)}), "limits.maxMembersPerRequest"},
		{"PATCH /Groups over two operations", "PATCH", "/Groups/" + gid, patchBody(map[string]any{"op": "add", "path": "members", "value": memberValues(ids[:600])},
			map[string]any{"op": "add", "path": "members", "value": memberValues(ids[600:])}), "limits.maxMembersPerRequest"},
		{"PATCH /Groups removing 1,001 by value path", "PATCH", "/Groups/" + gid, patchBody(map[string]any{"op": "remove", "path": eqPath(1001)}), "limits.maxMembersPerRequest"},
		{"PATCH /Groups path-less with 1,001 members", "PATCH", "/Groups/" + gid, patchBody(map[string]any{"op": "replace", "value": map[string]any{"members": memberValues(ids)}}), "limits.maxMembersPerRequest"},
		{"PUT /Groups with 1,001 members", "PUT", "/Groups/" + gid, groupBody("Staff", ids), "limits.maxMembersPerRequest"},
		{"POST /Groups with 1,001 members", "POST", "/Groups", groupBody("Premium", ids), "limits.maxMembersPerRequest"},
	}
	for _, c := range refused {
		a := f.do(t, boundsSiteA, c.method, c.path, c.body)
		a.scimError(t, c.name, http.StatusBadRequest, "invalidValue")
		if d, _ := a.body["detail"].(string); !strings.Contains(d, c.mentions) {
			t.Errorf("%s: the detail does not name %s: %q", c.name, c.mentions, d)
		}
	}
	if m, _ := f.store.GroupMembers(ctx, boundsSiteA, "staff"); len(m) != 0 {
		t.Errorf("Staff has %d members after refused requests", len(m))
	}
	if gs, _ := f.store.ListGroups(ctx, boundsSiteA); len(gs) != 1 {
		t.Errorf("%d linked groups after a refused POST, want only Staff", len(gs))
	}
	if u, _ := f.store.GetUser(ctx, boundsSiteA, ids[0]); u == nil || u.Version != 1 {
		t.Errorf("the user changed after a refused PATCH: %+v", u)
	}

	// At the bounds: served.
	if a := f.do(t, boundsSiteA, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": memberValues(ids[:1000])})); a.status != 204 {
		t.Fatalf("adding 1,000 members: %d %.300s", a.status, a.raw)
	}
	if m, _ := f.store.GroupMembers(ctx, boundsSiteA, "staff"); len(m) != 1000 {
		t.Errorf("Staff has %d members, want 1,000", len(m))
	}
	if a := f.do(t, boundsSiteA, "PUT", "/Groups/"+gid, groupBody("Staff", ids[1:1001])); a.status != 200 {
		t.Fatalf("replacing with 1,000 members: %d %.300s", a.status, a.raw)
	}
	if m, _ := f.store.GroupMembers(ctx, boundsSiteA, "staff"); len(m) != 1000 || m[0] != ids[1] {
		t.Errorf("Staff after PUT: %d members from %v", len(m), m[:1])
	}
	if a := f.do(t, boundsSiteA, "PATCH", "/Users/"+ids[0], patchBody(ops(1000)...)); a.status != 200 {
		t.Errorf("1,000 operations: %d %.300s", a.status, a.raw)
	}
	if a := f.do(t, boundsSiteA, "PATCH", "/Users/"+ids[0], patchBody(activeOps(1000)...)); a.status != 200 {
		t.Errorf("1,000 operations of active: %d %.300s", a.status, a.raw)
	}
}

// TestRequestSizeBoundsConfigured: the bounds are the options'.
func TestRequestSizeBoundsConfigured(t *testing.T) {
	f := newBoundsFixture(t, func(o *Options) { o.MaxPatchOperations, o.MaxMembersPerRequest = 2, 3 })
	ids := f.seedUsers(t, "cfg", 4)
	g := f.do(t, boundsSiteA, "POST", "/Groups", groupBody("Staff", ids[:3]))
	if g.status != 201 {
		t.Fatalf("3 members: %d %s", g.status, g.raw)
	}
	gid, _ := g.body["id"].(string)
	f.do(t, boundsSiteA, "PUT", "/Groups/"+gid, groupBody("Staff", ids)).scimError(t, "4 members", 400, "invalidValue")
	three := map[string]any{"op": "replace", "path": "displayName", "value": "x"}
	f.do(t, boundsSiteA, "PATCH", "/Groups/"+gid, patchBody(three, three, three)).scimError(t, "3 operations", 400, "invalidValue")
	if a := f.do(t, boundsSiteA, "PATCH", "/Groups/"+gid, patchBody(three, three)); a.status != 204 {
		t.Errorf("2 operations: %d %s", a.status, a.raw)
	}
}
