package main

import (
	"context"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Issue 17 §4: once a live request has seen the sunset answer or a 401
// from Webflow, /readyz says so at once, not at the next probe (up to 5
// minutes later); a 401 reads "token invalid", not "could not be checked".
func TestReadyzTakesLiveEvidence(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault func(h *bridgeHarness)
		key   string // in sites.<site>
		want  string
	}{
		{"a live 401", func(h *bridgeHarness) {
			h.sim.InjectFault(webflowsim.Fault{Path: "/v2/sites/*/users/invite", Status: 401, Count: 10})
		}, "token", "token invalid"},
		{"the sunset answer on a live request", func(h *bridgeHarness) {
			h.sim.SetUsersMode(webflowsim.ModeRemoved)
		}, "userAccounts", "Webflow disabled User Accounts on 2026-01-29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newBridge(t)
			h.app.health.probeWebflow(ctx)
			if _, m := h.readyz(); m["status"] != "ready" {
				t.Fatalf("before: %v", m)
			}
			tc.fault(h)
			r := h.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "live.evidence@example.com", "active": true})
			if r.Status < 400 {
				t.Fatalf("the live request succeeded: %d %s", r.Status, r.Raw)
			}
			// No probe runs here: only the live answer can have changed it.
			code, m := h.readyz()
			if code != 200 || m["status"] != "degraded" || !strings.Contains(str(m, "sites."+testSite+"."+tc.key), tc.want) {
				t.Errorf("readyz after the live answer: %d %v", code, m)
			}
		})
	}
	t.Run("a probe's 401 reads token invalid", func(t *testing.T) {
		h := newBridge(t, withSite(func(s *config.SiteConfig) { s.WebflowToken = "a-token-webflow-does-not-know" }))
		h.app.health.probeWebflow(ctx)
		if _, m := h.readyz(); str(m, "sites."+testSite+".token") != tokenInvalid {
			t.Errorf("token: %q, want %q", str(m, "sites."+testSite+".token"), tokenInvalid)
		}
	})
}
