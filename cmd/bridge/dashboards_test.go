package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/webflowscim/bridge/internal/promexpr"
)

// TestDashboardAndAlertsUseRealMetrics reads every PromQL expression of
// the Grafana dashboard (deploy/grafana/bridge.json, its template
// variables too) and of the alerting rules (deploy/prometheus/alerts.yaml),
// and checks that each metric name in them is served by a bridge's
// /metrics, scraped after the bridge has done every kind of work that
// brings a metric family to life. A renamed metric fails here, not in an
// operator's empty panel.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	exprs := dashboardExprs(t, filepath.Join("..", "..", "deploy", "grafana", "bridge.json"))
	exprs = append(exprs, alertExprs(t, filepath.Join("..", "..", "deploy", "prometheus", "alerts.yaml"))...)
	if len(exprs) < 20 {
		t.Fatalf("only %d expressions read from the dashboard and the rules", len(exprs))
	}
	served := servedSeries(t)
	used := map[string]bool{}
	for _, e := range exprs {
		names, err := promexpr.MetricNames(e.expr)
		if err != nil {
			t.Errorf("%s: %q: %v", e.where, e.expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", e.where, e.expr)
		}
		for _, n := range names {
			used[n] = true
			if !served[n] {
				t.Errorf("%s: %q uses %s, which the bridge's /metrics does not serve", e.where, e.expr, n)
			}
		}
	}
	// The list: each of these is on the dashboard or in an alert.
	for _, n := range []string{
		"bridge_scim_requests_total", "bridge_scim_request_duration_seconds_bucket", "bridge_webflow_calls_total",
		"bridge_webflow_429_total", "bridge_rate_budget_used", "bridge_rate_budget_limit", "bridge_membership_pending",
		"bridge_membership_oldest_pending_seconds", "bridge_membership_failures", "bridge_reconcile_drift",
		"bridge_redis_up", "bridge_ready", "bridge_site_user_accounts_unavailable",
	} {
		if !used[n] {
			t.Errorf("%s is in neither the dashboard nor the alerts", n)
		}
	}
}

type promExpr struct{ where, expr string }

func dashboardExprs(t *testing.T, path string) []promExpr {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []promExpr
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, promExpr{"dashboard panel " + p.Title, tg.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		// Grafana's label_values(metric, label): the metric part is PromQL.
		if inner, ok := strings.CutPrefix(q, "label_values("); ok {
			if k := strings.LastIndexByte(inner, ','); k > 0 {
				q = inner[:k]
			}
		}
		out = append(out, promExpr{"dashboard variable " + v.Name, q})
	}
	return out
}

func alertExprs(t *testing.T, path string) []promExpr {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []promExpr
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" {
				t.Errorf("rule %s%s has no expr", r.Alert, r.Record)
			}
			out = append(out, promExpr{"alert " + r.Alert + r.Record, r.Expr})
		}
	}
	return out
}

// servedSeries runs a bridge through the paths that bring every metric
// family to life (SCIM requests, Webflow calls, a 429, the passthrough,
// workspace roles, a reconciliation, the probes) and returns every series
// name its /metrics serves, histograms by their _bucket/_sum/_count.
func servedSeries(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	h := newBridge(t, withWorkspaceGroups)
	h.must(201, h.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"metrics@example.com","active":true}`))
	wsUser(t, h, "collab@example.com", true)
	wsDrain(t, h)
	if _, err := h.app.scim.Reconcile(ctx, testSite, false, false); err != nil {
		t.Fatal(err)
	}
	h.app.health.probeRedis(ctx)
	h.app.health.probeWebflow(ctx)
	code, _, body := h.opsGet(h.ts.URL+"/metrics", "Bearer "+testAdminToken)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	served := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			for _, n := range promexpr.SeriesNames(f[2], f[3]) {
				served[n] = true
			}
		}
	}
	for _, want := range []string{"bridge_scim_request_duration_seconds_bucket", "bridge_webflow_429_total", "bridge_workspace_requests_total"} {
		if !served[want] {
			names := make([]string, 0, len(served))
			for n := range served {
				names = append(names, n)
			}
			slices.Sort(names)
			t.Fatalf("the scrape lacks %s; it serves %s", want, fmt.Sprint(names))
		}
	}
	return served
}
