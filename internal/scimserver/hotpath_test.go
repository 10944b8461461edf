package scimserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// hotPathPaths are request paths as IdPs and probes send them, clean and
// not: cleanPath must agree with normalisePath on each.
var hotPathPaths = []string{
	"/", "/sites", "/sites/", "/sites/s/scim/v2", "/sites/s/scim/v2/", "/sites/s/scim/v2/Users", "/sites/s/scim/v2/Users/abc",
	"/sites/s/scim/v2/users", "/sites/s/scim/v2/USERS/abc", "/sites/s/scim/V2/Users", "/sites/s/scim/v2//Users",
	"//sites/s/scim/v2/Users", "/sites/s/scim/v2/./Users", "/sites/s/scim/v2/Users/../x", "/sites/s/scim/v2/Users/.",
	"sites/s/scim/v2/Users", "/sites/s/scim/v2/Groups/g1", "/sites/s/scim/v2/groups", "/sites/s/scim/v2/ServiceProviderConfigs",
	"/sites/s/scim/v2/serviceproviderconfig", "/sites/s/scim/v2/ResourceTypes/User", "/sites/s/scim/v2/Schemas",
	"/sites/s/scim/v2/Bogus", "/scim/v2/users", "/scim/v2", "/scim/V2/x", "/a/scim/v2/users/scim/v2/groups",
	"/a/scim/v2/Users/scim/v2/groups", "/scim/scim/v2/users", "/sites/s/scim/v2/Users/UsErS", "/webhooks/webflow/s1",
	"/sites/s/admin/memberships", "/healthz", "/sites/s/scim/v2/Users/abc/", "/sites/s/scim/v2/Users/a%2Fb",
	"/sites/s/scim/v2/Ｕsers", "/sites/s/scim/v2/\xff",
}

func TestCleanPathAgreesWithNormalisePath(t *testing.T) {
	for _, p := range hotPathPaths {
		got, ok := normalisePath(p)
		slow, slowOK := normaliseSegments(p)
		if got != slow || ok != slowOK {
			t.Errorf("%q: normalisePath %q %v, without the fast path %q %v", p, got, ok, slow, slowOK)
		}
		if cleanPath(p) && (!ok || got != p) {
			t.Errorf("%q: cleanPath says clean, normalisePath gives %q %v", p, got, ok)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, p := range hotPathPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, ok := normalisePath(p)
		slow, slowOK := normaliseSegments(p)
		if got != slow || ok != slowOK {
			t.Fatalf("%q: normalisePath %q %v, without the fast path %q %v", p, got, ok, slow, slowOK)
		}
	})
}

func TestPathParts(t *testing.T) {
	for _, p := range append(hotPathPaths, "", "a", "/a/b/c/d/e/f/g/h", "a//b") {
		want := strings.Split(strings.Trim(p, "/"), "/")
		var buf [3]string
		n := pathParts(p, buf[:])
		if n != len(want) || !slices.Equal(buf[:min(n, 3)], want[:min(n, 3)]) {
			t.Errorf("%q: %d %q, want %d %q", p, n, buf[:min(n, 3)], len(want), want)
		}
	}
}

// matchSimpleEq matches exactly what its specification, the simpleEq
// regexp, matches, with the same groups.
func TestMatchSimpleEq(t *testing.T) {
	for _, raw := range simpleEqCases {
		checkSimpleEq(t, raw)
	}
}

var simpleEqCases = []string{
	`userName eq "a@b.c"`, `userName EQ "x"`, `userName Eq ""`, `userName eQ "x y"`, `externalId eq "00u1"`, `id eq "5d48"`,
	`displayName eq "Test SCIMv2"`, `emails.value eq "a@b.c"`, `emails.Value eq "a@b.c"`, `username eq "x"`, `userName  eq "x"`,
	`userName eq  "x"`, `userName eq "x" `, ` userName eq "x"`, `userName eq x`, `userName eq "x`, `userName eq "`, `userName eq ""x"`,
	`userName eq "a\"b"`, `userName eq "a\\b"`, `userName eq "é€😀"`, "userName eq \"\x00\"", "userName eq \"\x1f\"", "userName eq \"\x7f\"",
	"userName eq \"\x80\xff\"", "userName eq \"\t\"", "userName\teq \"x\"", `userName ne "x"`, `userName eq "x" and active eq true`,
	`userName eqq "x"`, `userName e "x"`, `userName`, ``, `userName eq "x"` + "\n", `emails[type eq "work"].value eq "x"`, `meta.created eq "x"`,
	"userName \u0065q \"x\"", "userName \u212aq \"x\"",
}

func checkSimpleEq(t *testing.T, raw string) {
	t.Helper()
	attr, value, ok := matchSimpleEq(raw)
	m := simpleEq.FindStringSubmatch(raw)
	if ok != (m != nil) || (ok && (attr != m[1] || value != m[2])) {
		t.Errorf("%q: matchSimpleEq %q %q %v, simpleEq %q", raw, attr, value, ok, m)
	}
}

func FuzzMatchSimpleEq(f *testing.F) {
	for _, raw := range simpleEqCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkSimpleEq(t, raw) })
}

// The handlers read the query serveSite parsed (queryOf), unless the
// query string changed since; values are those of r.URL.Query().
func TestQueryOf(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v2/Users?filter=userName+eq+%22a%22&count=5", nil)
	if got := queryOf(r); got.Get("count") != "5" || got.Get("filter") != `userName eq "a"` {
		t.Errorf("without serveSite: %v", got)
	}
	parsed, _ := url.ParseQuery(r.URL.RawQuery)
	sc := &siteContext{Context: context.Background(), query: parsed, rawQuery: r.URL.RawQuery}
	r = r.WithContext(sc)
	if got := queryOf(r); got.Get("count") != "5" {
		t.Errorf("with serveSite's: %v", got)
	}
	r.URL.RawQuery = "count=7"
	if got := queryOf(r); got.Get("count") != "7" || got.Get("filter") != "" {
		t.Errorf("after a change of the query string: %v", got)
	}
}

// siteContext answers for the site, the actor, the override and the
// query, and passes every other key, cancellation and deadline through.
func TestSiteContext(t *testing.T) {
	parent, cancel := context.WithCancel(webflowdata.WithRequestID(context.Background(), "req-1"))
	st := &site{}
	sc := &siteContext{Context: parent, site: st, actor: "site s scimTokens[1]"}
	if siteFrom(sc) != st || actorFrom(sc) != "site s scimTokens[1]" || webflowdata.RequestIDFrom(sc) != "req-1" {
		t.Errorf("values: %p %q %q", siteFrom(sc), actorFrom(sc), webflowdata.RequestIDFrom(sc))
	}
	ctx, ov := overrideOf(sc)
	if ctx != sc || ov != &sc.ov {
		t.Error("overrideOf does not find serveSite's override")
	}
	_ = failWith(sc, http.StatusServiceUnavailable, "", "busy", 0)
	if sc.ov.status != http.StatusServiceUnavailable {
		t.Errorf("failWith did not record in serveSite's override: %+v", sc.ov)
	}
	child, stop := context.WithCancel(sc)
	defer stop()
	cancel()
	<-child.Done()
	if sc.Err() == nil {
		t.Error("cancellation did not pass through")
	}
}

// routeOf routes as the gorilla/mux router it replaced did, built here
// with the same routes and options: every path of hotPathPaths and more,
// escaped and not, with every method.
func TestRouteAsMux(t *testing.T) {
	var gotKind routeKind
	var gotID string
	handle := func(k routeKind) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { gotKind, gotID = k, mux.Vars(r)["siteID"] }
	}
	m := mux.NewRouter()
	m.SkipClean(true)
	m.UseEncodedPath()
	m.PathPrefix("/sites/{siteID}/scim/v2").HandlerFunc(handle(routeSite))
	m.Path("/sites/{siteID}/admin/memberships").Methods(http.MethodGet).HandlerFunc(handle(routeQueue))
	m.Path("/webhooks/webflow/{siteID}").Methods(http.MethodPost).HandlerFunc(handle(routeWebhook))
	m.NotFoundHandler = handle(routeNotFound)
	m.MethodNotAllowedHandler = handle(routeMethodNotAllowed)
	paths := append([]string{
		"/sites/s1/scim/v2x", "/sites/s1/scim/v", "/sites/s1/scim", "/sites/s1", "/sites/", "/sites//scim/v2", "/sites/a%2Fb/scim/v2/Users",
		"/sites/a%20b/scim/v2/Users", "/sites/a b/scim/v2", "/sites/é/scim/v2", "/sites/s1/admin/memberships", "/sites/s1/admin/memberships/",
		"/sites/s1/admin/memberships/x", "/sites/s1/admin", "/sites/s1/x/scim/v2", "/webhooks/webflow/s1", "/webhooks/webflow/", "/webhooks/webflow/s1/",
		"/webhooks/webflow/s1/x", "/webhooks/webflow/a%2Fb", "/webhooks/webflow", "/webhooks/webflow//x", "/Sites/s1/scim/v2", "/sites/s1/SCIM/v2",
		"/x/sites/s1/scim/v2", "*",
	}, hotPathPaths...)
	for _, p := range paths {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, "OPTIONS"} {
			r := &http.Request{Method: method, URL: &url.URL{Path: p}, Header: http.Header{}}
			if u, err := url.Parse(p); err == nil && u.Path != "" {
				r.URL = u
			}
			gotKind, gotID = -1, ""
			m.ServeHTTP(httptest.NewRecorder(), r)
			kind, id := routeOf(method, r.URL.EscapedPath())
			if kind != gotKind || id != gotID {
				t.Errorf("%s %q (escaped %q): routeOf %d %q, mux %d %q", method, p, r.URL.EscapedPath(), kind, id, gotKind, gotID)
			}
		}
	}
}

// checkRequestSize skips measuring a body no longer than both bounds:
// MeasureRequest never counts more operations or members than the body
// has bytes.
func TestSmallBodiesNeedNoMeasure(t *testing.T) {
	for _, b := range measureSeeds {
		checkMeasureBound(t, []byte(b))
	}
}

var measureSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]}`,
	`{"Operations":[1,2,3,{},[],"",null]}`, `{"Operations":[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]}`,
	`{"Operations":[{"path":"members[value\u0020eq\u0020\"a\"]","value":1}]}`, `{"Operations":[{"path":"members","value":[1,1,1,1,1,1]}]}`,
	`{"Operations":[{"value":{"members":[1,2],"urn:ietf:params:scim:schemas:core:2.0:Group:members":[3],"MEMBERS":4}}]}`,
	`{"members":[1,2,3],"Members":[4],"urn:ietf:params:scim:schemas:core:2.0:Group:members":[{}]}`, `{"members":[]}`, `{"members":null}`,
	`{"Operations":[{"path":"urn:ietf:params:scim:schemas:core:2.0:Group:members eq eq eq","value":[0]}]}`, `{"Operations":[],"operations":[1]}`,
	`{"Operations":[{"path":" eq  eq  eq "}]}`, `{"Operations":[{"path":"members eq  eq  eq ","value":{}}]}`, `[]`, `1`, `{}`,
}

func checkMeasureBound(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) || !utf8.Valid(b) { // what serveSite lets through
		return
	}
	for _, patch := range []bool{false, true} {
		for _, group := range []bool{false, true} {
			if size := mapping.MeasureRequest(b, patch, group); size.Operations > len(b) || size.Members > len(b) {
				t.Fatalf("%q (patch %v, group %v): %+v counted in %d bytes", b, patch, group, size, len(b))
			}
		}
	}
}

func FuzzSmallBodiesNeedNoMeasure(f *testing.F) {
	for _, b := range measureSeeds {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkMeasureBound(t, b) })
}
