package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

func TestHTTPHygiene(t *testing.T) {
	h := newBridge(t)
	id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"hy@example.com","active":true}`)).Body, "id")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		name, method, path, body, ctype string
		want                            int
	}{
		{"trailing slash", "GET", "/Users/", "", "", 200},
		{"lower-case users", "GET", "/users", "", "", 200},
		{"double slash", "GET", "//Users//" + id, "", "", 200},
		{"double slash PATCH keeps its body", "PATCH", "//Users/" + id, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"replace","path":"displayName","value":"Hy"}]}`, "application/scim+json", 200},
		{"dot segment", "GET", "/./Users/" + id, "", "", 200},
		{"application/json accepted", "PATCH", "/Users/" + id, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"replace","path":"displayName","value":"Hy2"}]}`, "application/json; charset=utf-8", 200},
		{"wrong content type", "POST", "/Users", `{}`, "application/x-www-form-urlencoded", 415},
		{"unknown route", "GET", "/Nope", "", "", 404},
		{"wrong method", "PUT", "/Users", `{}`, "application/scim+json", 404},
		{"broken JSON", "POST", "/Users", `{"schemas":[`, "application/scim+json", 400},
		{"unknown id", "GET", "/Users/ffffffffffffffffffffffff", "", "", 404},
		{"empty PATCH after normalising (manager only)", "PATCH", "/Users/" + id, `{"schemas":["` + patchSchema + `"],"Operations":[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"x"}]}]}`, "application/scim+json", 200},
		{"dot-dot", "GET", "/Users/../../other", "", "", 400},
		{"discovery: ServiceProviderConfig", "GET", "/serviceproviderconfig", "", "", 200},
		{"discovery: Schemas", "GET", "/Schemas", "", "", 200},
		{"discovery: ResourceTypes", "GET", "/ResourceTypes", "", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader = strings.NewReader(tc.body)
			req, _ := http.NewRequest(tc.method, h.base+tc.path, body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.want)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(r.Body, "displayName") != "Hy2" {
		t.Errorf("PATCH through // and application/json: %s", r.Raw)
	}
	big := `{"schemas":["` + userSchema + `"],"userName":"big@example.com","displayName":"` + strings.Repeat("x", 1<<20) + `"}`
	if r := h.do("POST", "/Users", big); r.Status != 413 {
		t.Errorf("body over 1 MiB: %d", r.Status)
	}
	if _, ok := h.webflowUser("big@example.com"); ok {
		t.Error("an oversized request must not reach Webflow")
	}
}

func TestAuth(t *testing.T) {
	other := "6f0000000000000000000001"
	digest := sha256.Sum256([]byte("hashed-token"))
	h := newBridge(t, func(c *config.Config) {
		c.Sites[0].SCIMTokens = []string{testToken, "sha256:" + hex.EncodeToString(digest[:])}
		c.Sites = append(c.Sites, config.SiteConfig{ID: other, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{"other-site-token-0123456789abcdef"}})
	})
	otherBase := h.ts.URL + "/sites/" + other + "/scim/v2"
	tests := []struct {
		name, url, auth string
		want            int
	}{
		{"plain token", h.base + "/Users", "Bearer " + testToken, 200},
		{"token configured as sha256", h.base + "/Users", "Bearer hashed-token", 200},
		{"scheme in lower case", h.base + "/Users", "bearer " + testToken, 200},
		{"missing", h.base + "/Users", "", 401},
		{"wrong", h.base + "/Users", "Bearer nope", 401},
		{"basic auth", h.base + "/Users", "Basic dXNlcjpwYXNz", 401},
		{"the digest itself is not a token", h.base + "/Users", "Bearer sha256:" + hex.EncodeToString(digest[:]), 401},
		{"another site's token", h.base + "/Users", "Bearer other-site-token-0123456789abcdef", 401},
		{"this site's token on another site", otherBase + "/Users", "Bearer " + testToken, 401},
		{"unconfigured site: as a wrong token, so site ids cannot be enumerated", h.ts.URL + "/sites/6f0000000000000000000009/scim/v2/Users", "Bearer " + testToken, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", tc.url, nil, "Authorization", tc.auth)
			if r.Status != tc.want {
				t.Errorf("%d, want %d: %s", r.Status, tc.want, r.Raw)
			}
			if strings.Contains(r.Raw, testToken) || strings.Contains(r.Raw, "hashed-token") {
				t.Error("a token was echoed")
			}
		})
	}
}

// When Webflow answers that User Accounts are gone, SCIM writes get 503
// with that detail, and nothing stored is lost.
func TestUserAccountsUnavailable(t *testing.T) {
	for _, mode := range []struct {
		status int
		code   string
	}{{404, "resource_not_found"}, {403, "users_not_enabled"}} {
		h := newBridge(t)
		id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"kept@example.com","active":true}`)).Body, "id")
		h.sim.SetUsersMode(webflowsim.ModeRemoved)
		h.sim.SetRemovedAnswer(mode.status, mode.code)
		for _, r := range []resp{
			h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"new@example.com","active":true}`),
			h.do("PATCH", "/Users/"+id, patch(op("replace", "displayName", "X"))),
			h.do("DELETE", "/Users/"+id, nil),
		} {
			if r.Status != 503 || !strings.Contains(str(r.Body, "detail"), "User Accounts unavailable on this site (Webflow disabled User Accounts on 2026-01-29)") {
				t.Errorf("%d %s", r.Status, r.Raw)
			}
		}
		if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(r.Body, "userName") != "kept@example.com" || str(r.Body, "displayName") != "" {
			t.Errorf("the stored user must survive unchanged: %s", r.Raw)
		}
	}
}

// A 429 from Webflow pauses the token for every replica. A SCIM request
// waits for the pause when it ends within webflow.maxWait, and otherwise
// answers 429 with a Retry-After the IdP honours: never a 500.
func TestWebflow429(t *testing.T) {
	h := newBridge(t, func(c *config.Config) { c.Webflow.MaxWait = config.Duration(300 * time.Millisecond) })
	h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/users/invite", Status: 429, RetryAfter: "2"})
	r := h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"slow@example.com","active":true}`)
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("%d Retry-After=%q %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	calls := h.calls()
	if r := h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"slow@example.com","active":true}`); r.Status != 429 {
		t.Errorf("while paused: %d", r.Status)
	}
	if h.calls() != calls {
		t.Error("while the token is paused, no request may reach Webflow")
	}
	time.Sleep(2100 * time.Millisecond)
	h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"slow@example.com","active":true}`))
	if h.sim.InvitesTo("slow@example.com") != 1 {
		t.Errorf("invites %d", h.sim.InvitesTo("slow@example.com"))
	}

	// A short pause is waited out inside the request.
	h2 := newBridge(t, func(c *config.Config) { c.Webflow.MaxWait = config.Duration(5 * time.Second) })
	h2.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/users/invite", Status: 429, RetryAfter: "1"})
	h2.must(201, h2.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"patient@example.com","active":true}`))
	if h2.sim.InvitesTo("patient@example.com") != 1 {
		t.Errorf("invites %d", h2.sim.InvitesTo("patient@example.com"))
	}
}

// A Retry-After longer than webflow.maxRetryAfter pauses the token (and
// the IdP) only for that long, and the header as sent is logged. On the
// old main a "Retry-After: 31536000" stopped the token for a year.
func TestWebflowRetryAfterClamped(t *testing.T) {
	h := newBridge(t, func(c *config.Config) {
		c.Webflow.MaxWait = config.Duration(300 * time.Millisecond)
		c.Webflow.MaxRetryAfter = config.Duration(2 * time.Second)
	})
	h.sim.InjectFault(webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/users/invite", Status: 429, RetryAfter: "31536000"})
	body := `{"schemas":["` + userSchema + `"],"userName":"year@example.com","active":true}`
	r := h.do("POST", "/Users", body)
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != 429 || ra < 1 || ra > 2 {
		t.Fatalf("%d Retry-After=%q, want 429 with at most 2 s: %s", r.Status, r.Header.Get("Retry-After"), r.Raw)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "retry_after=31536000") || !strings.Contains(logs, "longer than webflow.maxRetryAfter") {
		t.Errorf("the header as sent is not logged:\n%s", logs)
	}
	time.Sleep(2100 * time.Millisecond)
	h.must(201, h.do("POST", "/Users", body))
	if h.sim.InvitesTo("year@example.com") != 1 {
		t.Errorf("invites %d", h.sim.InvitesTo("year@example.com"))
	}
}

func TestOnExistingUser(t *testing.T) {
	// mike@example.com already exists in Webflow (demo seed), unknown to the bridge.
	h := newBridge(t)
	r := h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"Mike@Example.com","name":{"givenName":"Michael","familyName":"M"},"active":true}`))
	wu, _ := h.webflowUser("mike@example.com")
	if str(r.Body, "id") != wu.ID || h.sim.InvitesTo("mike@example.com") != 0 {
		t.Errorf("link: id %s vs %s, invites %d", str(r.Body, "id"), wu.ID, h.sim.InvitesTo("mike@example.com"))
	}
	if slugsOf(wu) != "customers,members" {
		t.Errorf("linking must not touch groups: %v", wu.Slugs())
	}
	h2 := newBridge(t, withSite(func(s *config.SiteConfig) { s.OnExistingUser = "conflict" }))
	if r := h2.must(409, h2.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"mike@example.com","active":true}`)); str(r.Body, "scimType") != "uniqueness" {
		t.Errorf("conflict policy: %s", r.Raw)
	}
}

func TestDeactivationDeletePolicy(t *testing.T) {
	h := newBridge(t, withSite(func(s *config.SiteConfig) { s.Deactivation = "delete" }))
	email := "temp@example.com"
	id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"temp@example.com","displayName":"Temp","active":true}`)).Body, "id")
	r := h.must(200, h.do("PATCH", "/Users/"+id, patch(op("Replace", "active", "False"))))
	if r.Body["active"] != false {
		t.Errorf("%s", r.Raw)
	}
	if _, ok := h.webflowUser(email); ok {
		t.Error("delete policy: the Webflow user must be deleted")
	}
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); r.Body["active"] != false || str(r.Body, "userName") != email {
		t.Errorf("the SCIM record stays: %s", r.Raw)
	}
	r = h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "active", true))))
	wu, ok := h.webflowUser(email)
	if !ok || h.sim.InvitesTo(email) != 2 || str(r.Body, "id") != id || str(ext(r.Body), "webflowUserId") != wu.ID || wu.Data.Name() != "Temp" {
		t.Errorf("reactivation re-invites and maps the same SCIM id: %+v invites=%d %s", wu, h.sim.InvitesTo(email), r.Raw)
	}
}

// A record lost from the store (Redis flushed) is rebuilt from Webflow
// while the site is rebuilding, and only then: before the loss is known,
// an id the store does not hold is 404 without a Webflow call (issue 14:
// outside a rebuild the bridge never adopts a user by id).
func TestMissingRecordFallsBackToWebflow(t *testing.T) {
	h := newBridge(t)
	id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"lost@example.com","active":true}`)).Body, "id")
	h.wipeStore() // as if Redis had lost everything
	calls := h.calls()
	h.must(404, h.do("GET", "/Users/"+id, nil))
	if c := h.calls() - calls; c != 0 {
		t.Errorf("an unknown id outside a rebuild made %d Webflow calls", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.app.scim.WatchStore(ctx, 20*time.Millisecond)
	peerRebuild(t, h)
	waitFor(t, "the site to be rebuilding", func() bool { return h.app.scim.Rebuilding(testSite) })
	r := h.must(200, h.do("GET", "/Users/"+id, nil))
	if str(r.Body, "userName") != "lost@example.com" || str(r.Body, "id") != id {
		t.Errorf("rebuilt: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", filterQ(`userName eq "lost@example.com"`), nil)); r.Body["totalResults"] != 1.0 {
		t.Errorf("the rebuilt record is indexed again: %s", r.Raw)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	slow := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-slow; w.Write([]byte("done")) })
	srv := newHTTPServer("127.0.0.1:0", mux)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- serveHTTP(ctx, srv, discardLogger(), 5*time.Second, func(a string) { addrc <- a }) }()
	addr := <-addrc
	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer res.Body.Close()
		b := make([]byte, 4)
		n, _ := res.Body.Read(b)
		got <- string(b[:n])
	}()
	time.Sleep(100 * time.Millisecond) // the request is in flight
	cancel()
	time.Sleep(100 * time.Millisecond)
	if _, err := http.Get("http://" + addr + "/slow"); err == nil {
		t.Error("new connections must be refused after SIGTERM")
	}
	close(slow)
	if s := <-got; s != "done" {
		t.Errorf("in-flight request: %q", s)
	}
	if err := <-errc; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// GET /Users/{id} is served from the store, and re-reads Webflow once the
// record is older than refreshAge.
func TestGetRefreshesStaleRecords(t *testing.T) {
	h := newBridge(t)
	id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"fresh@example.com","active":true}`)).Body, "id")
	if err := h.sim.VerifyUser(testSite, id); err != nil {
		t.Fatal(err)
	}
	h.sim.ResetRequests()
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(ext(r.Body), "status") != "invited" || h.calls() != 0 {
		t.Errorf("fresh record: %d calls, %s", h.calls(), r.Raw)
	}
	h.refreshSnapshot(id)
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(ext(r.Body), "status") != "verified" || h.calls() != 1 {
		t.Errorf("stale record: %d calls, %s", h.calls(), r.Raw)
	}
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(ext(r.Body), "status") != "verified" || h.calls() != 1 {
		t.Errorf("refreshed record is stored: %d calls, %s", h.calls(), r.Raw)
	}
}
