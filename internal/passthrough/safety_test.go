package passthrough

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// TestHeaderHygiene: what reaches upstream is the allowlist plus the
// workspace SCIM token; the IdP's token, cookies, spoofed forwarding
// headers and hop-by-hop headers never do, and upstream's hop-by-hop and
// cookie headers never reach the IdP.
func TestHeaderHygiene(t *testing.T) {
	e := newEnv(t, nil)
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		h := w.Header()
		h.Set("Connection", "X-Up-Hop")
		h.Set("X-Up-Hop", "1")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", "Basic")
		h.Set("Proxy-Foo", "1")
		h.Set("Set-Cookie", "session=upstream")
		h.Set("X-RateLimit-Remaining", "59")
		return false
	})
	res, b := e.do("GET", "/workspace/scim/v2/Users?count=1", nil,
		"Cookie", "sid=idp-cookie",
		"Proxy-Authorization", "Basic "+idpToken,
		"X-Forwarded-For", "203.0.113.9",
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "http",
		"X-Forwarded-Prefix", "/admin",
		"Forwarded", "for=203.0.113.9;host=evil.example",
		"X-Real-IP", "203.0.113.9",
		"Connection", "keep-alive, X-Hop-Custom",
		"X-Hop-Custom", idpToken,
		"Keep-Alive", "timeout=5",
		"Te", "trailers",
		"Trailer", "X-Foo",
		"Proxy-Connection", "keep-alive",
		"Accept", "application/scim+json",
		"Accept-Encoding", "br",
		"User-Agent", "Okta SCIM Client 1.0.0",
		"X-Custom-Idp", "x",
		"Host", "evil.example",
	)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	got := e.upstream()
	if len(got) != 1 {
		t.Fatalf("%d upstream requests", len(got))
	}
	up := got[0]
	if a := up.Header.Get("Authorization"); a != "Bearer "+webflowsim.DemoSCIMToken {
		t.Errorf("upstream Authorization %q", a)
	}
	if len(up.Header.Values("Authorization")) != 1 {
		t.Errorf("several Authorization headers: %v", up.Header.Values("Authorization"))
	}
	if ua := up.Header.Get("User-Agent"); ua != UserAgent {
		t.Errorf("User-Agent %q", ua)
	}
	if up.Host != strings.TrimPrefix(e.up.URL, "http://") {
		t.Errorf("upstream Host %q: the client's Host leaked", up.Host)
	}
	if up.Header.Get("Accept") != "application/scim+json" {
		t.Errorf("Accept not forwarded: %v", up.Header)
	}
	for _, k := range []string{"Cookie", "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"X-Forwarded-Prefix", "Forwarded", "X-Real-Ip", "X-Hop-Custom", "Keep-Alive", "Te", "Trailer", "Proxy-Connection",
		"Upgrade", "X-Custom-Idp"} {
		if v, ok := up.Header[http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("upstream got %s: %v", k, v)
		}
	}
	if ae := up.Header.Get("Accept-Encoding"); ae == "br" {
		t.Errorf("IdP Accept-Encoding forwarded")
	}
	for k, vs := range up.Header {
		for _, v := range vs {
			if strings.Contains(v, idpToken) {
				t.Errorf("IdP token reached upstream in %s", k)
			}
		}
	}
	for _, k := range []string{"X-Up-Hop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Foo", "Set-Cookie"} {
		if v, ok := res.Header[k]; ok {
			t.Errorf("IdP got %s: %v", k, v)
		}
	}
	if res.Header.Get("X-RateLimit-Remaining") != "59" {
		t.Errorf("end-to-end header dropped")
	}
}

// TestHeaderHygieneRaw: the same, for headers a Go client would not send
// as given (Upgrade, Te, Proxy-Connection), straight into ServeHTTP.
func TestHeaderHygieneRaw(t *testing.T) {
	e := newEnv(t, nil)
	req := httptest.NewRequest("GET", "/workspace/scim/v2/Users?count=1", nil)
	for k, v := range map[string]string{
		"Authorization":    "Bearer " + idpToken,
		"Connection":       "Upgrade, X-Hop-Custom",
		"Upgrade":          "websocket",
		"X-Hop-Custom":     "1",
		"Te":               "trailers",
		"Trailer":          "X-Foo",
		"Proxy-Connection": "keep-alive",
		"Keep-Alive":       "timeout=5",
		"X-Forwarded-For":  "203.0.113.9",
		"Forwarded":        "for=203.0.113.9",
		"X-Real-Ip":        "203.0.113.9",
		"Cookie":           "a=b",
	} {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	up := e.upstream()[0]
	for _, k := range []string{"Upgrade", "X-Hop-Custom", "Te", "Trailer", "Proxy-Connection", "Keep-Alive", "X-Forwarded-For", "Forwarded", "X-Real-Ip", "Cookie"} {
		if v, ok := up.Header[k]; ok {
			t.Errorf("upstream got %s: %v", k, v)
		}
	}
	if c := up.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "upgrade") || strings.Contains(c, "X-Hop") {
		t.Errorf("Connection %q", c)
	}
	if up.Header.Get("Authorization") != "Bearer "+webflowsim.DemoSCIMToken {
		t.Errorf("Authorization %q", up.Header.Get("Authorization"))
	}
}

// TestURLRewriting: Location and meta.location (single, list) move from the
// upstream base onto PublicURL; other attributes keep their values.
func TestURLRewriting(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Upstream += "/" }) // trailing slash in config
	res, b := e.do("POST", "/workspace/scim/v2/Users", `{"userName":"rw@example.com","displayName":"R & W <x>","emails":[{"value":"rw@example.com","primary":true}]}`)
	if res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	u := decode(t, b)
	id := u["id"].(string)
	want := publicURL + "/Users/" + id
	if res.Header.Get("Location") != want {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	if u["meta"].(map[string]any)["location"] != want || u["displayName"] != "R & W <x>" || u["meta"].(map[string]any)["resourceType"] != "User" {
		t.Errorf("single: %s", b)
	}
	if strings.Contains(string(b), e.up.URL) {
		t.Errorf("upstream URL left in body: %s", b)
	}

	res, b = e.do("GET", "/workspace/scim/v2/Users/"+id, nil)
	if decode(t, b)["meta"].(map[string]any)["location"] != want {
		t.Errorf("get: %s", b)
	}
	if res.Header.Get("Content-Length") != "" && res.ContentLength != int64(len(b)) {
		t.Errorf("content length %d vs %d", res.ContentLength, len(b))
	}

	_, b = e.do("GET", "/workspace/scim/v2/Users", nil)
	var l struct {
		TotalResults int
		Resources    []struct {
			ID   string
			Meta struct{ Location string }
		}
	}
	if err := json.Unmarshal(b, &l); err != nil || l.TotalResults != 2 || len(l.Resources) != 2 {
		t.Fatalf("list: %v %s", err, b)
	}
	for _, r := range l.Resources {
		if r.Meta.Location != publicURL+"/Users/"+r.ID {
			t.Errorf("list location %q", r.Meta.Location)
		}
	}
}

func TestRewriteURLUnit(t *testing.T) {
	p, err := New(Options{Upstream: "https://API.webflow.com/scim/v2/", Token: "t", SCIMTokens: []string{"i"}, PublicURL: "https://b.example/workspace/scim/v2/"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"https://api.webflow.com/scim/v2/Users/1":     "https://b.example/workspace/scim/v2/Users/1",
		"https://api.webflow.com/scim/v2":             "https://b.example/workspace/scim/v2",
		"/scim/v2/Users/1":                            "https://b.example/workspace/scim/v2/Users/1",
		"https://api.webflow.com/scim/v2x/Users/1":    "https://api.webflow.com/scim/v2x/Users/1",
		"https://other.example/scim/v2/Users/1":       "https://other.example/scim/v2/Users/1",
		"https://api.webflow.com.evil/scim/v2/Users/": "https://api.webflow.com.evil/scim/v2/Users/",
	} {
		if got, _ := p.rewriteURL(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

// TestPathEscapesRefused: hostile paths are answered by the proxy with a
// SCIM 400/404 and never reach upstream.
func TestPathEscapesRefused(t *testing.T) {
	e := newEnv(t, nil)
	hostile := []string{
		"/workspace/scim/v2/../v2/Users",
		"/workspace/scim/v2/Users/../../admin",
		"/workspace/scim/v2/./Users",
		"/workspace/scim/v2/Users/.",
		"/workspace/scim/v2/Users/..",
		"/workspace/scim/v2/%2e%2e/v2/Users",
		"/workspace/scim/v2/Users/%2e%2e",
		"/workspace/scim/v2/Users/%2E%2E%2F%2E%2E%2Fadmin",
		"/workspace/scim/v2/Users%2F..%2F..%2Fadmin",
		"/workspace/scim/v2/Users/..%2f..%2fadmin",
		"/workspace/scim/v2/Users/abc%2Fdef",
		"/workspace/scim/v2//evil.example/Users",
		"//evil.example/workspace/scim/v2/Users",
		"/workspace/scim/v2/Users/abc%5c..%5cadmin",
		`/workspace/scim/v2/Users/abc\..\admin`,
		`/workspace/scim/v2/\evil.example/Users`,
		"/workspace/scim/v2/Users/user@evil.example",
		"/workspace/scim/v2/@evil.example/Users",
		"/workspace/scim/v2/Users/%40evil.example",
		"/workspace/scim/v2/Users/" + strings.Repeat("a", 129),
		"/workspace/scim/v2/Users/%252e%252e",
		"/workspace/scim/v2/Users/%252f",
		"/workspace/scim/v2/Users/a/b",
		"/workspace/scim/v2/Users/..;/admin",
		"/workspace/scim/v2/Users/%00",
		"/workspace/scim/v2/Users/a%20b",
		"/workspace/scim/v2/Users/%c0%ae%c0%ae",
		"/workspace/scim/v2/Users/https:%2F%2Fevil.example",
		"/workspace/scim/v2/Admin",
		"/workspace/scim/v2/ServiceProviderConfig/x",
		"/workspace/scim/v2/",
		"/workspace/scim/v2",
		"/WORKSPACE/scim/v2/Users",
		"/workspace/scim/v2x/Users",
		"/v2/sites",
		"/scim/v2/Users",
	}
	for _, target := range hostile {
		t.Run(target, func(t *testing.T) {
			req := httptest.NewRequest("GET", target, nil)
			req.Header.Set("Authorization", "Bearer "+idpToken)
			rec := httptest.NewRecorder()
			e.proxy.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != 400 && res.StatusCode != 404 {
				t.Errorf("status %d for %q", res.StatusCode, target)
			}
			assertSCIMError(t, res, rec.Body.Bytes(), res.StatusCode)
		})
	}
	// Over a real connection too, for request targets a client library
	// would normalise away.
	for _, target := range []string{"/workspace/scim/v2/../v2/Users", "/workspace/scim/v2/%2e%2e/%2e%2e/v2/sites", "//evil.example/Users", "/workspace/scim/v2/Users/..%2F..%2F..%2Fv2%2Fsites"} {
		if status := rawGet(t, e.srv.URL, target); status != 400 && status != 404 {
			t.Errorf("raw %q: %d", target, status)
		}
	}
	if got := e.upstream(); len(got) != 0 {
		t.Errorf("hostile paths reached upstream: %+v", got)
	}
	if got := e.sim.Requests(); len(got) != 0 {
		t.Errorf("simulator saw %+v", got)
	}
}

func rawGet(t *testing.T, base, target string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer " + idpToken + "\r\nConnection: close\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}

// TestNoOpenProxy: an absolute-form request target naming another host
// still goes to the configured upstream, and the path is canonicalised.
func TestNoOpenProxy(t *testing.T) {
	e := newEnv(t, nil)
	req := httptest.NewRequest("GET", "http://evil.example/workspace/scim/v2/users?count=1", nil)
	req.Header.Set("Authorization", "Bearer "+idpToken)
	rec := httptest.NewRecorder()
	e.proxy.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	got := e.upstream()
	if len(got) != 1 || got[0].URI != "/scim/v2/Users?count=1" || got[0].Host != strings.TrimPrefix(e.up.URL, "http://") {
		t.Errorf("%+v", got)
	}
}

func TestParseRouteAccepts(t *testing.T) {
	for in, want := range map[string]route{
		"/p/Users":                 {"Users", ""},
		"/p/users":                 {"Users", ""},
		"/p/USERS/abc-123_x.y~z":   {"Users", "abc-123_x.y~z"},
		"/p/Users/ab%63":           {"Users", "abc"},
		"/p/groups/g1":             {"Groups", "g1"},
		"/p/serviceproviderconfig": {"ServiceProviderConfig", ""},
		"/p/Schemas":               {"Schemas", ""},
		"/p/Schemas/urn:ietf:params:scim:schemas:core:2.0:User": {"Schemas", "urn:ietf:params:scim:schemas:core:2.0:User"},
		"/p/ResourceTypes/User":                                 {"ResourceTypes", "User"},
		"/p/Users/.search":                                      {"Users", ".search"},
	} {
		got, err := parseRoute(in, "/p")
		if err != nil || got != want {
			t.Errorf("%s: %+v %+v", in, got, err)
		}
	}
	if _, err := parseRoute("/p/Users/a:b", "/p"); err == nil {
		t.Errorf("':' accepted in a user id")
	}
}

// TestAuth: missing, malformed, wrong and site tokens (and the upstream
// token itself) get a 401 SCIM error without an upstream request.
func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	for name, auth := range map[string]string{
		"missing":        "",
		"wrong":          "Bearer nope",
		"site token":     "Bearer " + siteToken,
		"upstream token": "Bearer " + webflowsim.DemoSCIMToken,
		"basic":          "Basic " + idpToken,
		"empty bearer":   "Bearer ",
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/workspace/scim/v2/Users", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var buf strings.Builder
			_, _ = bufio.NewReader(res.Body).WriteTo(&buf)
			assertSCIMError(t, res, []byte(buf.String()), http.StatusUnauthorized)
		})
	}
	if got := e.upstream(); len(got) != 0 {
		t.Errorf("unauthenticated requests reached upstream: %d", len(got))
	}
	// A sha256: token works.
	e2 := newEnv(t, func(o *Options) {
		o.SCIMTokens = []string{"sha256:" + sha256hex(idpToken)}
	})
	if res, b := e2.do("GET", "/workspace/scim/v2/ServiceProviderConfig", nil); res.StatusCode != 200 {
		t.Errorf("hashed token: %d %s", res.StatusCode, b)
	}
}

func TestMethodRefused(t *testing.T) {
	e := newEnv(t, nil)
	for _, m := range []string{"TRACE", "OPTIONS", "CONNECT", "HEAD"} {
		req := httptest.NewRequest(m, "/workspace/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+idpToken)
		rec := httptest.NewRecorder()
		e.proxy.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, rec.Code)
		}
	}
	if len(e.upstream()) != 0 {
		t.Error("reached upstream")
	}
}

func TestNewValidates(t *testing.T) {
	ok := Options{Upstream: "https://api.webflow.com/scim/v2", Token: "wf", SCIMTokens: []string{"idp"}, PublicURL: "https://b.example/workspace/scim/v2"}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Options){
		"no upstream":       func(o *Options) { o.Upstream = "" },
		"relative upstream": func(o *Options) { o.Upstream = "/scim/v2" },
		"ftp upstream":      func(o *Options) { o.Upstream = "ftp://x/scim" },
		"userinfo":          func(o *Options) { o.Upstream = "https://u:p@api.webflow.com/scim/v2" },
		"query":             func(o *Options) { o.Upstream = "https://api.webflow.com/scim/v2?x=1" },
		"no token":          func(o *Options) { o.Token = "" },
		"no scim tokens":    func(o *Options) { o.SCIMTokens = nil },
		"same token":        func(o *Options) { o.SCIMTokens = []string{"wf"} },
		"no public":         func(o *Options) { o.PublicURL = "" },
	} {
		o := ok
		mut(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "wf") && name == "same token" && strings.Contains(err.Error(), `"wf"`) {
			t.Errorf("token in error: %v", err)
		}
	}
}

// TestResponseHeaderAllowlist: the IdP gets only the allowlisted upstream
// headers (content type and framing, Location rewritten, ETag,
// Retry-After, X-RateLimit-*, request ids); server banners, cookies, CORS,
// caching, CDN and gateway internals and upstream's auth challenge stay
// behind, and so do trailers.
func TestResponseHeaderAllowlist(t *testing.T) {
	e := newEnv(t, nil)
	allowed := map[string]string{
		"Etag":                  `W/"3"`,
		"Retry-After":           "7",
		"X-Ratelimit-Limit":     "60",
		"X-Ratelimit-Remaining": "59",
		"X-Request-Id":          "req-123",
		"Cf-Ray":                "8a1b2c3d4e5f-AMS",
	}
	dropped := map[string]string{
		"Server":                        "envoy",
		"X-Powered-By":                  "Express",
		"Via":                           "1.1 gateway",
		"Set-Cookie":                    "session=upstream",
		"Www-Authenticate":              `Bearer realm="webflow", error="invalid_token"`,
		"Access-Control-Allow-Origin":   "*",
		"Strict-Transport-Security":     "max-age=1",
		"Cache-Control":                 "public, max-age=31536000",
		"Link":                          `<https://api.webflow.com/internal>; rel="next"`,
		"X-Webflow-Internal-Node":       "10.0.3.7",
		"X-Envoy-Upstream-Service-Time": "12",
		"Alt-Svc":                       `h3=":443"`,
		"Refresh":                       "0; url=https://evil.example/",
		"Content-Disposition":           "attachment; filename=users.html",
	}
	for _, streamed := range []bool{false, true} {
		e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			h := w.Header()
			for k, v := range allowed {
				h.Set(k, v)
			}
			for k, v := range dropped {
				h.Set(k, v)
			}
			h.Set("Trailer", "X-Upstream-Trailer")
			if streamed {
				h.Set("Content-Type", "text/plain") // a 2xx that is not JSON streams through
			} else {
				h.Set("Content-Type", "application/scim+json")
			}
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`))
			h.Set("X-Upstream-Trailer", "10.0.3.7")
			return true
		})
		res, b := e.do("GET", "/workspace/scim/v2/Users", nil)
		if res.StatusCode != 200 {
			t.Fatalf("streamed=%v: %d %s", streamed, res.StatusCode, b)
		}
		for k, v := range allowed {
			if got := res.Header.Get(k); got != v {
				t.Errorf("streamed=%v: %s = %q, want %q", streamed, k, got, v)
			}
		}
		for k := range dropped {
			if v, ok := res.Header[k]; ok {
				t.Errorf("streamed=%v: the IdP got %s: %v", streamed, k, v)
			}
		}
		// Nothing but the allowlist and what Go's server adds itself.
		for k := range res.Header {
			switch k {
			case "Content-Type", "Content-Length", "Date", "Etag", "Retry-After", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Request-Id", "Cf-Ray":
			default:
				t.Errorf("streamed=%v: unexpected header %s: %v", streamed, k, res.Header[k])
			}
		}
		if len(res.Trailer) != 0 {
			t.Errorf("streamed=%v: trailers reached the IdP: %v", streamed, res.Trailer)
		}
	}
}

// TestUpstreamLocation: a Location under the upstream base is rewritten
// onto PublicURL; one anywhere else (another host, another path of
// Webflow's host, a climb out of the base, a relative reference) is
// dropped, never passed to the IdP.
func TestUpstreamLocation(t *testing.T) {
	e := newEnv(t, nil)
	base := e.up.URL + "/scim/v2"
	for _, tc := range []struct {
		loc, want string
	}{
		{base + "/Users/abc", publicURL + "/Users/abc"},
		{strings.ToUpper(base[:7]) + base[7:] + "/Users/abc?x=1", publicURL + "/Users/abc?x=1"},
		{"/scim/v2/Users/abc", publicURL + "/Users/abc"},
		{"https://evil.example/scim/v2/Users/abc", ""},
		{"//evil.example/scim/v2/Users/abc", ""},
		{e.up.URL + "/v2/sites/abc/users", ""},
		{e.up.URL + "/scim/v2x/Users/abc", ""},
		{base + "/../../v2/sites/abc", ""},
		{base + "/Users/%2e%2e/%2E%2E/admin", ""},
		{base + "/Users/..%2fadmin", ""},
		{base + "/Users\\..\\..\\admin", ""},
		{"/scim/v2/../v2/tokens", ""},
		{"Users/abc", ""},
		{"javascript:alert(1)", ""},
	} {
		e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Location", tc.loc)
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"abc","userName":"loc@example.com"}`))
			return true
		})
		res, b := e.do("POST", "/workspace/scim/v2/Users", `{"userName":"loc@example.com"}`)
		if res.StatusCode != 201 {
			t.Fatalf("%s: %d %s", tc.loc, res.StatusCode, b)
		}
		if got, has := res.Header["Location"]; tc.want == "" && has {
			t.Errorf("Location %q passed as %q; it points outside the upstream base", tc.loc, got)
		} else if tc.want != "" && res.Header.Get("Location") != tc.want {
			t.Errorf("Location %q → %q, want %q", tc.loc, res.Header.Get("Location"), tc.want)
		}
	}
}
