package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/auditring"
	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
)

const adminToken = "test-admin-token-0123456789abcdef"

type fakeSource struct {
	st  Status
	err error
}

func (f fakeSource) Status(context.Context) (Status, error) { return f.st, f.err }

var t0 = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

func sampleStatus() Status {
	return Status{
		Readiness: "degraded",
		Redis:     Component{Status: "ok"},
		Sites: []Site{{
			ID: "site-a", Status: "degraded", Token: "ok", UserAccounts: "unavailable: User Accounts unavailable on this site",
			Budget: &Budget{Label: "site:site-a", Used: 17, Limit: 58, Available: 2},
			Queue: Queue{Pending: 3, OldestPendingAgeSeconds: 42.4, Failures: []state.MembershipFailure{
				{UserID: "u-1", Error: "slug vip unknown for jane.doe@example.com", At: t0},
			}},
			Reconcile: &Reconcile{FinishedAt: t0, WebflowUsers: 9, Records: 8, Drift: map[string]int{"unknown": 1, "gone": 0, "groups": 2, "status": 0}},
		}},
		Workspace: &Workspace{Passthrough: Component{Status: "ok"}, Roles: &WorkspaceRoles{
			Queue:     Queue{Pending: 1, Failures: []state.MembershipFailure{}},
			RoleLocks: []state.RoleLock{{UserID: "n1", Email: "locked.member@example.com", Current: "member/designer", Desired: "admin/site_manager", Scope: "role", At: t0}},
		}},
		Audit: []auditring.Event{{At: t0, Actor: "scim-token-1", Action: "invite", Site: "site-a", WebflowUserID: "wf-1", Email: "audited.person@example.com"}},
	}
}

func newPage(t *testing.T, src Source, redact bool, now func() time.Time) *Page {
	t.Helper()
	tokens, err := mapping.ParseTokens([]string{adminToken})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Source: src, Tokens: tokens, RedactEmails: redact, Now: now, Key: []byte("k"),
		Guard: authguard.New(authguard.Options{Burst: 1000})})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func serve(p *Page, method, target string, body url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	r := httptest.NewRequest(method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func login(t *testing.T, p *Page) *http.Cookie {
	t.Helper()
	w := serve(p, "POST", LoginPath, url.Values{"token": {adminToken}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != Path {
		t.Fatalf("login: %d %v", w.Code, w.Header())
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

func TestAuth(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	p := newPage(t, fakeSource{st: sampleStatus()}, false, clock)

	t.Run("no cookie: the login form, no figures", func(t *testing.T) {
		w := serve(p, "GET", Path, nil)
		body := w.Body.String()
		if w.Code != 200 || !strings.Contains(body, `action="/admin/login"`) || strings.Contains(body, "site-a") {
			t.Errorf("%d %s", w.Code, body)
		}
		if strings.Contains(body, `http-equiv="refresh"`) {
			t.Error("the login form must not refresh itself")
		}
	})
	t.Run("wrong token: 401 with the form", func(t *testing.T) {
		w := serve(p, "POST", LoginPath, url.Values{"token": {"not-the-token-0123456789abcdef0123"}})
		if w.Code != 401 || !strings.Contains(w.Body.String(), `id="login-error"`) || !strings.Contains(w.Body.String(), `action="/admin/login"`) {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
		if len(w.Result().Cookies()) != 0 {
			t.Error("a wrong token must set no cookie")
		}
	})
	t.Run("empty token: 401", func(t *testing.T) {
		if w := serve(p, "POST", LoginPath, url.Values{"token": {""}}); w.Code != 401 {
			t.Errorf("%d", w.Code)
		}
	})
	c := login(t, p)
	t.Run("the cookie: HttpOnly, SameSite=Strict, short-lived, not the token", func(t *testing.T) {
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/admin" {
			t.Errorf("cookie %+v", c)
		}
		if strings.Contains(c.Value, adminToken) || c.MaxAge <= 0 || c.MaxAge > int(DefaultSessionTTL.Seconds()) {
			t.Errorf("cookie value %q max-age %d", c.Value, c.MaxAge)
		}
	})
	t.Run("Secure over TLS", func(t *testing.T) {
		r := httptest.NewRequest("POST", "https://bridge.example.com"+LoginPath, strings.NewReader(url.Values{"token": {adminToken}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("cookies over TLS %+v", cs)
		}
	})
	t.Run("the cookie opens the page", func(t *testing.T) {
		w := serve(p, "GET", Path, nil, c)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `data-figure="site-a-pending"`) {
			t.Errorf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("a forged or tampered cookie is the login form", func(t *testing.T) {
		exp, _, _ := strings.Cut(c.Value, ".")
		for _, v := range []string{"", "x", exp + ".AAAA", "9999999999." + strings.SplitN(c.Value, ".", 2)[1], adminToken} {
			w := serve(p, "GET", Path, nil, &http.Cookie{Name: CookieName, Value: v})
			if strings.Contains(w.Body.String(), "site-a") {
				t.Errorf("cookie %q opened the page", v)
			}
		}
	})
	t.Run("another process's key does not open it", func(t *testing.T) {
		other, err := New(Options{Source: fakeSource{st: sampleStatus()}, Tokens: p.opts.Tokens, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		if w := serve(other, "GET", Path, nil, c); strings.Contains(w.Body.String(), "site-a") {
			t.Error("a cookie signed with another key opened the page")
		}
	})
	t.Run("expired", func(t *testing.T) {
		now = t0.Add(DefaultSessionTTL + time.Second)
		defer func() { now = t0 }()
		if w := serve(p, "GET", Path, nil, c); strings.Contains(w.Body.String(), "site-a") {
			t.Error("an expired session opened the page")
		}
	})
	t.Run("removing the admin token ends its sessions", func(t *testing.T) {
		other, _ := mapping.ParseTokens([]string{"another-admin-token-0123456789abcdef"})
		q := newPage(t, fakeSource{st: sampleStatus()}, false, clock)
		q.opts.Tokens = other
		if w := serve(q, "GET", Path, nil, c); strings.Contains(w.Body.String(), "site-a") {
			t.Error("a session outlived its token")
		}
	})
	t.Run("logout needs the form's CSRF token", func(t *testing.T) {
		if w := serve(p, "POST", LogoutPath, url.Values{}, c); w.Code != 403 {
			t.Errorf("logout without csrf: %d", w.Code)
		}
		if w := serve(p, "POST", LogoutPath, url.Values{"csrf": {"forged"}}, c); w.Code != 403 {
			t.Errorf("logout with a forged csrf: %d", w.Code)
		}
		page := serve(p, "GET", Path, nil, c).Body.String()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no csrf field on the page")
		}
		w := serve(p, "POST", LogoutPath, url.Values{"csrf": {m[1]}}, c)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("logout: %d", w.Code)
		}
		cs := w.Result().Cookies()
		if len(cs) != 1 || cs[0].MaxAge >= 0 {
			t.Errorf("logout must clear the cookie: %+v", cs)
		}
	})
	t.Run("GET is the only way to the page; logout is POST only", func(t *testing.T) {
		if w := serve(p, "GET", LogoutPath, nil, c); w.Code != 405 {
			t.Errorf("GET logout: %d", w.Code)
		}
		if w := serve(p, "DELETE", Path, nil, c); w.Code != 405 {
			t.Errorf("DELETE page: %d", w.Code)
		}
		if w := serve(p, "GET", "/admin/other", nil, c); w.Code != 404 {
			t.Errorf("/admin/other: %d", w.Code)
		}
	})
	t.Run("status.json: session or bearer, else 401", func(t *testing.T) {
		if w := serve(p, "GET", JSONPath, nil); w.Code != 401 {
			t.Errorf("no auth: %d", w.Code)
		}
		r := httptest.NewRequest("GET", JSONPath, nil)
		r.Header.Set("Authorization", "Bearer "+adminToken)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		var st Status
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &st) != nil || st.Sites[0].Queue.Pending != 3 {
			t.Errorf("bearer: %d %s", w.Code, w.Body.String())
		}
		if w := serve(p, "GET", JSONPath, nil, c); w.Code != 200 {
			t.Errorf("session: %d", w.Code)
		}
	})
	t.Run("security headers", func(t *testing.T) {
		h := serve(p, "GET", Path, nil, c).Header()
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("headers %v", h)
		}
	})
}

func TestLoginsAreSlowedDown(t *testing.T) {
	tokens, _ := mapping.ParseTokens([]string{adminToken})
	p, err := New(Options{Source: fakeSource{st: sampleStatus()}, Tokens: tokens, Guard: authguard.New(authguard.Options{Burst: 2, Every: time.Hour, Penalty: time.Millisecond})})
	if err != nil {
		t.Fatal(err)
	}
	codes := []int{}
	for range 4 {
		codes = append(codes, serve(p, "POST", LoginPath, url.Values{"token": {"wrong-token-0123456789abcdef012345"}}).Code)
	}
	if codes[0] != 401 || codes[3] != 429 {
		t.Errorf("failed logins answered %v; want 401s, then 429", codes)
	}
}

func TestFiguresOnThePage(t *testing.T) {
	p := newPage(t, fakeSource{st: sampleStatus()}, false, func() time.Time { return t0 })
	body := serve(p, "GET", Path, nil, login(t, p)).Body.String()
	figures := map[string]string{
		"readiness":                "degraded",
		"redis":                    "ok",
		"site-a-status":            "degraded",
		"site-a-token":             "ok",
		"site-a-userAccounts":      "unavailable: User Accounts unavailable on this site",
		"site:site-a-budget-used":  "17",
		"site:site-a-budget-limit": "58",
		"site-a-pending":           "3",
		"site-a-oldest":            "42",
		"site-a-failures":          "1",
		"site-a-reconciled":        "2026-12-03 07:00:00Z",
		"site-a-drift-unknown":     "1",
		"workspace-passthrough":    "ok",
		"workspace-pending":        "1",
		"workspace-roleLocks":      "1",
	}
	for fig, want := range figures {
		if got := figure(body, fig); got != want {
			t.Errorf("figure %s = %q, want %q", fig, got, want)
		}
	}
	for _, want := range []string{"slug vip unknown for jane.doe@example.com", "locked.member@example.com", "admin/site_manager",
		"audited.person@example.com", "invite", "scim-token-1", `http-equiv="refresh" content="15"`, `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the page carries a script")
	}
}

func TestEmailsRedacted(t *testing.T) {
	p := newPage(t, fakeSource{st: sampleStatus()}, true, func() time.Time { return t0 })
	c := login(t, p)
	body := serve(p, "GET", Path, nil, c).Body.String()
	js := serve(p, "GET", JSONPath, nil, c).Body.String()
	for name, out := range map[string]string{"page": body, "status.json": js} {
		for _, leaked := range []string{"jane.doe@", "locked.member@", "audited.person@"} {
			if strings.Contains(out, leaked) {
				t.Errorf("%s shows %s…", name, leaked)
			}
		}
		if !strings.Contains(out, "***@example.com") {
			t.Errorf("%s shows no masked email", name)
		}
	}
	// The source's own data is not changed by the redaction.
	src := sampleStatus()
	_ = redacted(src)
	if src.Audit[0].Email != "audited.person@example.com" || src.Workspace.Roles.RoleLocks[0].Email != "locked.member@example.com" {
		t.Error("redacted changed its input")
	}
	// Without redactEmails the page shows them (TestFiguresOnThePage).
}

func TestSourceErrorIs503(t *testing.T) {
	p := newPage(t, fakeSource{err: errors.New("redis: connection refused")}, false, func() time.Time { return t0 })
	c := login(t, p)
	if w := serve(p, "GET", Path, nil, c); w.Code != 503 || !strings.Contains(w.Body.String(), "could not be read") {
		t.Errorf("%d %s", w.Code, w.Body.String())
	}
	if w := serve(p, "GET", JSONPath, nil, c); w.Code != 503 {
		t.Errorf("json: %d", w.Code)
	}
}

func TestCookieJarRoundTrip(t *testing.T) {
	// A real client: the login redirect lands on the page with the cookie.
	p := newPage(t, fakeSource{st: sampleStatus()}, false, nil)
	ts := httptest.NewServer(p)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	res, err := cl.PostForm(ts.URL+LoginPath, url.Values{"token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || figure(string(b), "site-a-pending") != "3" {
		t.Errorf("%d %s", res.StatusCode, b)
	}
}

// figure reads the text of the element carrying data-figure=name, tags
// stripped.
func figure(body, name string) string {
	re := regexp.MustCompile(`data-figure="` + regexp.QuoteMeta(name) + `">(.*?)</(dd|span|p)>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "<missing>"
	}
	return strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}
