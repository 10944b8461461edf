package scimserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An unknown site id answers exactly what a configured site answers to a
// missing or wrong token (status, WWW-Authenticate and body), so that site
// ids cannot be enumerated; a valid token on an unknown route of a known
// site still gets its 404.
func TestUnknownSiteAnswersLikeABadToken(t *testing.T) {
	f := newHookFixture(t) // sites hookSite and hookSecretless, both with token "t"
	type answer struct {
		status int
		auth   string
		body   string
	}
	get := func(path, authz string) answer {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, req)
		b, _ := io.ReadAll(w.Result().Body)
		return answer{w.Code, w.Header().Get("WWW-Authenticate"), string(b)}
	}
	for _, tc := range []struct {
		name, authz string
	}{
		{"no Authorization", ""},
		{"not a bearer", "Basic dDp0"},
		{"wrong token", "Bearer not-the-token"},
		{"a token another site accepts", "Bearer t"},
	} {
		for _, path := range []string{"/scim/v2/Users", "/scim/v2/Users/abc", "/scim/v2/ServiceProviderConfig", "/scim/v2/Bogus"} {
			knownAuthz := tc.authz
			if tc.authz == "Bearer t" {
				knownAuthz = "Bearer t-but-not-quite" // a known site with a token it does not accept
			}
			known := get("/sites/"+hookSite+path, knownAuthz)
			for _, unknown := range []string{"000000000000000000000000", "nosuchsite", hookSite + "x"} {
				got := get("/sites/"+unknown+path, tc.authz)
				if got.status != http.StatusUnauthorized {
					t.Errorf("%s, site %s%s: %d %s, want 401", tc.name, unknown, path, got.status, got.body)
				}
				if got != known {
					t.Errorf("%s, site %s%s: %+v\nbut a known site with a bad token answers %+v", tc.name, unknown, path, got, known)
				}
			}
		}
	}
	if got := get("/sites/"+hookSite+"/scim/v2/Bogus", "Bearer t"); got.status != http.StatusNotFound {
		t.Errorf("unknown route, known site, valid token: %d %s, want 404", got.status, got.body)
	}

	// Webhooks: an unknown site's delivery is refused like a bad
	// signature, with the same body; so is a delivery to a site that has
	// no secret yet (the log says which).
	body := []byte(`{"triggerType":"user_account_updated","payload":{"id":"x"}}`)
	ts, sig := f.signed(hookSecret, f.now, body)
	badSig := strings.Repeat("0", len(sig))
	knownCode, knownBody := f.post(hookSite, ts, badSig, body)
	if knownCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", knownCode, knownBody)
	}
	for _, site := range []string{"000000000000000000000000", "nosuchsite", hookSecretless} {
		for _, s := range []string{sig, badSig} {
			code, got := f.post(site, ts, s, body)
			if code != knownCode || got != knownBody {
				t.Errorf("webhook to %s: %d %s, want %d %s", site, code, got, knownCode, knownBody)
			}
		}
	}
	// The header checks come first, for every site alike.
	for _, site := range []string{hookSite, "nosuchsite"} {
		if code, got := f.post(site, "", "", body); code != http.StatusUnauthorized || !strings.Contains(got, "x-webflow-timestamp") {
			t.Errorf("webhook to %s without headers: %d %s", site, code, got)
		}
	}
}

// BenchmarkAuthFailure compares the cost of a 401 for a configured site
// (wrong token) with that of a site that is not configured: the same
// SHA-256 and constant-time compare, so that the answer's time does not
// tell which site ids exist.
func BenchmarkAuthFailure(b *testing.B) {
	f := newHookFixture(b)
	for _, site := range []string{hookSite, "000000000000000000000000"} {
		b.Run(map[bool]string{true: "known-site", false: "unknown-site"}[site == hookSite], func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/sites/"+site+"/scim/v2/Users", nil)
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 64))
			for b.Loop() {
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, req)
				if w.Code != http.StatusUnauthorized {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
