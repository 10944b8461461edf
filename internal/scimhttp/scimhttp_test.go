package scimhttp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
)

func TestAuthenticate(t *testing.T) {
	tokens, err := mapping.ParseTokens([]string{"right-token"})
	if err != nil {
		t.Fatal(err)
	}
	guard := authguard.New(authguard.Options{Burst: 2, Every: time.Hour})
	for _, tc := range []struct {
		name, header string
		ok           bool
		status       int
		retryAfter   bool
	}{
		{"right token", "Bearer right-token", true, 0, false},
		{"no header", "", false, http.StatusUnauthorized, false},
		{"wrong token", "Bearer wrong", false, http.StatusUnauthorized, false},
		{"budget spent", "Bearer wrong", false, http.StatusTooManyRequests, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/workspace/scim/v2/Groups", nil)
			r.RemoteAddr = "192.0.2.7:5000"
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			if got := Authenticate(w, r, guard, tokens, "workspace-scim", "workspace SCIM surface"); got != tc.ok {
				t.Fatalf("Authenticate = %v, want %v", got, tc.ok)
			}
			if tc.ok {
				if w.Code != http.StatusOK || w.Body.Len() != 0 {
					t.Fatalf("answered %d %q on success; the caller answers", w.Code, w.Body)
				}
				return
			}
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After present = %v, want %v", got, tc.retryAfter)
			}
			if tc.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != `Bearer realm="workspace-scim"` {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
			var e struct {
				Schemas []string `json:"schemas"`
				Status  string   `json:"status"`
				Detail  string   `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Detail == "" || e.Status == "" ||
				len(e.Schemas) != 1 || !strings.HasSuffix(e.Schemas[0], ":Error") {
				t.Errorf("body %q is not a SCIM error with a detail (%v)", w.Body, err)
			}
			if strings.Contains(w.Body.String(), "wrong") {
				t.Errorf("the answer echoes the presented token: %q", w.Body)
			}
		})
	}
}
