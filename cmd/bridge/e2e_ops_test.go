package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// readyz reads /readyz in full, with the admin token.
func (h *bridgeHarness) readyz() (int, map[string]any) {
	h.t.Helper()
	code, m, _ := h.opsGet(h.ts.URL+"/readyz", "Bearer "+testAdminToken)
	return code, m
}

// opsGet GETs an operations endpoint with the given Authorization ("" for
// none) and returns the status, the JSON body (if it is JSON) and the raw
// body.
func (h *bridgeHarness) opsGet(url, authorization string) (int, map[string]any, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return res.StatusCode, m, string(raw)
}

func TestReadyz(t *testing.T) {
	ctx := context.Background()
	t.Run("healthy", func(t *testing.T) {
		h := newBridge(t)
		h.app.health.probeRedis(ctx)
		h.app.health.probeWebflow(ctx)
		code, m := h.readyz()
		if code != 200 || m["status"] != "ready" || str(m, "redis.status") != "ok" || str(m, "sites."+testSite+".userAccounts") != "available" ||
			str(m, "sites."+testSite+".token") != "ok" || str(m, "workspace.status") != "ok" {
			t.Errorf("%d %v", code, m)
		}
	})
	t.Run("removed mode degrades the site, not the process", func(t *testing.T) {
		h := newBridge(t)
		h.sim.SetUsersMode(webflowsim.ModeRemoved)
		h.app.health.probeRedis(ctx)
		h.app.health.probeWebflow(ctx)
		code, m := h.readyz()
		if code != 200 || m["status"] != "degraded" || !strings.Contains(str(m, "sites."+testSite+".userAccounts"), "Webflow disabled User Accounts on 2026-01-29") {
			t.Errorf("%d %v", code, m)
		}
		if !strings.Contains(h.logs.String(), "site degraded") {
			t.Error("a degraded site must be logged")
		}
	})
	t.Run("a token without the users scopes", func(t *testing.T) {
		h := newBridge(t, withSite(func(s *config.SiteConfig) { s.WebflowToken = webflowsim.DemoReadToken }))
		h.app.health.probeWebflow(ctx)
		if _, m := h.readyz(); !strings.Contains(str(m, "sites."+testSite+".token"), "users:write") {
			t.Errorf("%v", m)
		}
	})
	t.Run("Redis down takes the process out of rotation", func(t *testing.T) {
		mr := miniredis.RunT(t)
		h := newBridge(t, func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr() })
		h.app.health.probeRedis(ctx)
		if code, _ := h.readyz(); code != 200 {
			t.Fatalf("before: %d", code)
		}
		mr.Close()
		h.app.health.probeRedis(ctx)
		if code, m := h.readyz(); code != 503 || str(m, "redis.status") != "down" {
			t.Errorf("%d %v", code, m)
		}
	})
}

func TestMetricsAfterAnEndToEndRun(t *testing.T) {
	h := newBridge(t)
	id := h.newUser("metrics@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": id}}})).Body, "id")
	h.drain()
	h.must(200, h.do("GET", filterQ(`userName eq "metrics@example.com"`), nil))
	h.do("GET", "/Users/ffffffffffffffffffffffff", nil)
	if r := h.wsDo("GET", "/Users?filter=userName%20eq%20%22x%22", ""); r.Status != 200 {
		t.Fatalf("workspace: %d", r.Status)
	}
	code, _, out := h.opsGet(h.ts.URL+"/metrics", "Bearer "+testAdminToken)
	if code != 200 {
		t.Fatalf("/metrics with the admin token: %d %s", code, out)
	}
	for _, want := range []string{
		`bridge_scim_requests_total{operation="create",resource="Users",site="` + testSite + `",status="201"} 1`,
		`bridge_scim_requests_total{operation="list",resource="Users",site="` + testSite + `",status="200"} 1`,
		`bridge_scim_requests_total{operation="get",resource="Users",site="` + testSite + `",status="404"} 1`,
		`bridge_scim_request_duration_seconds_bucket{operation="create",resource="Users",site="` + testSite + `",le=`,
		`bridge_webflow_calls_total{endpoint="POST /sites/{site_id}/users/invite",status="200",surface="site"} 1`,
		`bridge_webflow_calls_total{endpoint="PATCH /sites/{site_id}/users/{user_id}",status="200",surface="site"} 1`,
		`bridge_webflow_call_duration_seconds_bucket{endpoint="GET /sites/{site_id}/accessgroups",surface="site",le=`,
		`bridge_rate_budget_wait_seconds_bucket{priority="interactive",token="site:` + testSite + `",le=`,
		`bridge_rate_budget_wait_seconds_bucket{priority="background",token="site:` + testSite + `",le=`,
		`bridge_rate_budget_available{token="site:` + testSite + `"}`,
		`bridge_membership_pending{site="` + testSite + `"} 0`,
		`bridge_membership_oldest_pending_seconds{site="` + testSite + `"} 0`,
		`bridge_membership_failures{site="` + testSite + `"} 0`,
		`bridge_redis_commands_total{result="ok"}`,
		`bridge_redis_command_duration_seconds_bucket{le=`,
		`bridge_workspace_requests_total{`,
		`bridge_build_info{build_date="`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Bounded labels: no ids, no emails, no tokens.
	for _, bad := range []string{id, gid, "metrics@example.com", "@", testToken, webflowsim.DemoSiteToken} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "bridge_") && strings.Contains(line, bad) {
				t.Errorf("a label carries %q: %s", bad, line)
			}
		}
	}
}

// Every change the bridge makes in Webflow writes one audit line.
func TestAuditLinePerUpstreamChange(t *testing.T) {
	h := newBridge(t)
	h.sim.ResetRequests()
	id := h.newUser("audit@example.com") // invite + PATCH (name)
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "displayName", "Audited"))))
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": id}}}))
	h.drain()
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": false}))))
	h.must(204, h.do("DELETE", "/Users/"+id, nil))
	writes := 0
	for _, rq := range h.sim.Requests() {
		if rq.Method != "GET" && rq.Status < 300 {
			writes++
		}
	}
	var audits []string
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, "audit: Webflow changed") {
			audits = append(audits, line)
		}
	}
	if writes == 0 || len(audits) != writes {
		t.Fatalf("%d upstream changes, %d audit lines:\n%s", writes, len(audits), strings.Join(audits, "\n"))
	}
	for _, want := range []string{"action=invite", "action=update", "action=delete", "actor=\"site " + testSite + " scimTokens[0]\"", "actor=membership-worker", "before=", "after="} {
		if !strings.Contains(strings.Join(audits, "\n"), want) {
			t.Errorf("audit lines lack %s", want)
		}
	}
}

// With logging.redactEmails, no email's local part reaches the logs.
func TestLogRedaction(t *testing.T) {
	h := newBridge(t, func(c *config.Config) { c.Log.RedactEmails = true })
	id := h.newUser("secret.person@example.com")
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "displayName", "x@example.com"))))
	h.wsDo("POST", "/Users", collabBody)
	h.identity("jane@example.com", testAdminToken)
	out := h.logs.String()
	if m := regexp.MustCompile(`[A-Za-z0-9._%+-]+@example\.com`).FindAllString(out, -1); len(m) > 0 {
		for _, e := range m {
			if !strings.HasPrefix(e, "***") {
				t.Errorf("an email reached the logs: %s", e)
			}
		}
	}
	if !strings.Contains(out, "***@example.com") {
		t.Error("expected a redacted email in the audit lines")
	}
}
