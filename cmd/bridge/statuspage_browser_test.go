package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestStatusPageInABrowser drives the status page in headless Chromium:
// it logs in through the form, reads every figure off the page and checks
// it against /readyz, /metrics and the admin endpoints, and saves
// screenshots (desktop and phone width) under a temp dir. With
// UPDATE_DOCS_SCREENSHOT=1 it writes docs/img/status-page.png, which
// docs/operations.md shows, and docs/img/status-page-phone.png. Without Chromium it skips, unless
// BRIDGE_BROWSER_TESTS=required (.ci/run), where that is a failure.
func TestStatusPageInABrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (apt-get install chromium); the status page's browser test needs it", chromiumPath)
		if os.Getenv("BRIDGE_BROWSER_TESTS") == "required" {
			t.Fatal(msg + "; BRIDGE_BROWSER_TESTS=required makes that a failure")
		}
		t.Skip(msg)
	}
	// A real budget (the harness's is unlimited), so the page shows one.
	h := newBridge(t, withWorkspaceGroups, func(c *config.Config) { c.Webflow.RateLimitPerMinute = 120 })
	ctx := context.Background()

	// Work for every figure: users and a group (audit events), a membership
	// write that fails for good (the sunset hits while it is queued), a
	// role-locked workspace member, a reconciliation, the probes.
	id := h.newUser("ada.lovelace@example.com")
	grace := h.newUser("grace.hopper@example.com")
	staff := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": id}}})).Body, "id")
	h.drain()
	if _, err := h.app.scim.Reconcile(ctx, testSite, false, false); err != nil {
		t.Fatal(err)
	}
	dan := wsUser(t, h, "dan.locked@example.com", false)
	g := h.wsDo("POST", "/Groups", `{"displayName":"Marketing"}`)
	if g.Status != 201 {
		t.Fatalf("workspace group: %d %s", g.Status, g.Raw)
	}
	if r := h.wsDo("PATCH", "/Groups/"+str(g.Body, "id"), fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, dan)); r.Status != 204 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Raw)
	}
	if err := h.app.wsRoles.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	h.app.health.probeRedis(ctx)
	h.app.health.probeWebflow(ctx)
	h.sim.SetUsersMode(webflowsim.ModeRemoved)
	if r := h.do("PATCH", "/Groups/"+staff, patch(op("add", "members", []map[string]any{{"value": grace}}))); r.Status >= 300 {
		t.Fatalf("PATCH Staff: %d %s", r.Status, r.Raw)
	}
	_ = h.app.scim.Drain(ctx)      // the write fails for good: recorded
	h.app.health.probeWebflow(ctx) // the probe sees the sunset

	dir := t.TempDir()
	actx, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1100, 900),
	)...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first run starts the browser, on a context without a deadline
	// (a deadline there would stop the browser); the steps then get one.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	// A wrong token: the form again, with the reason.
	if err := chromedp.Do(tctx,
		chromedp.Navigate(h.ts.URL+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("token")),
	); err != nil {
		t.Fatalf("the login form: %v", err)
	}
	loginPNG, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "login.png"), loginPNG)
	if err := chromedp.Do(tctx,
		chromedp.SendKeys(chromedp.ID("token"), "not-the-admin-token-0123456789abcdef"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	); err != nil {
		t.Fatalf("a wrong token: %v", err)
	}
	if wrong, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID("login-error"))); err != nil || !strings.Contains(wrong, "not an admin token") {
		t.Errorf("a wrong token shows %q (%v)", wrong, err)
	}

	// The right one: the page.
	fig := func(name string) chromedp.CSS { return chromedp.CSS(`[data-figure="` + name + `"]`) }
	if err := chromedp.Do(tctx,
		chromedp.SendKeys(chromedp.ID("token"), testAdminToken),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(fig("readiness")),
	); err != nil {
		t.Fatalf("logging in: %v", err)
	}
	names := []string{"readiness", "redis", testSite + "-status", testSite + "-token", testSite + "-userAccounts",
		testSite + "-pending", testSite + "-oldest", testSite + "-failures", testSite + "-drift-unknown",
		"site:" + testSite + "-budget-used", "site:" + testSite + "-budget-limit",
		"workspace-passthrough", "workspace-pending", "workspace-failures", "workspace-roleLocks"}
	page := map[string]string{}
	for _, n := range names {
		v, err := chromedp.Run(tctx, chromedp.Text(fig(n)))
		if err != nil {
			t.Fatalf("reading %s: %v", n, err)
		}
		page[n] = strings.TrimSpace(v)
	}
	auditRows, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit tr").length - 1`))
	if err != nil {
		t.Fatal(err)
	}
	pagePNG, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Reload(),
		chromedp.WaitVisible(fig("readiness")),
	); err != nil {
		t.Fatalf("phone width: %v", err)
	}
	phonePNG, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Still logged in after the reload (the cookie), and no wider than the
	// phone: nothing scrolls sideways.
	if w, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Errorf("at phone width the page is %d px wide (%v); want at most 390", w, err)
	}
	writeFile(t, filepath.Join(dir, "status-page.png"), pagePNG)
	writeFile(t, filepath.Join(dir, "status-page-phone.png"), phonePNG)
	t.Logf("screenshots in %s", dir)
	if os.Getenv("UPDATE_DOCS_SCREENSHOT") == "1" {
		writeFile(t, filepath.Join("..", "..", "docs", "img", "status-page.png"), pagePNG)
		writeFile(t, filepath.Join("..", "..", "docs", "img", "status-page-phone.png"), phonePNG)
	}

	// The same figures from the JSON APIs, read now.
	_, ready, _ := h.opsGet(h.ts.URL+"/readyz", "Bearer "+testAdminToken)
	_, _, metrics := h.opsGet(h.ts.URL+"/metrics", "Bearer "+testAdminToken)
	_, queue, _ := h.opsGet(h.ts.URL+"/sites/"+testSite+"/admin/memberships", "Bearer "+testToken)
	_, wsQueue, _ := h.opsGet(h.ts.URL+"/workspace/admin/memberships", "Bearer "+testWorkspaceToken)
	want := map[string]string{
		"readiness":                          str(ready, "status"),
		"redis":                              str(ready, "redis.status"),
		testSite + "-status":                 str(ready, "sites."+testSite+".status"),
		testSite + "-token":                  str(ready, "sites."+testSite+".token"),
		testSite + "-userAccounts":           str(ready, "sites."+testSite+".userAccounts"),
		testSite + "-pending":                fmt.Sprint(walk(queue, "pending")),
		testSite + "-failures":               fmt.Sprint(len(walk(queue, "failures").([]any))),
		testSite + "-drift-unknown":          metricValue(t, metrics, `bridge_reconcile_drift{kind="unknown",site="`+testSite+`"}`),
		"site:" + testSite + "-budget-used":  metricValue(t, metrics, `bridge_rate_budget_used{token="site:`+testSite+`"}`),
		"site:" + testSite + "-budget-limit": metricValue(t, metrics, `bridge_rate_budget_limit{token="site:`+testSite+`"}`),
		"workspace-passthrough":              str(ready, "workspace.status"),
		"workspace-pending":                  fmt.Sprint(walk(wsQueue, "pending")),
		"workspace-failures":                 fmt.Sprint(len(walk(wsQueue, "failures").([]any))),
		"workspace-roleLocks":                fmt.Sprint(len(walk(wsQueue, "roleLocks").([]any))),
	}
	for n, w := range want {
		if pf, err := strconv.ParseFloat(page[n], 64); err == nil {
			// Numbers as numbers: /metrics writes 1e+06 for 1000000.
			if wf, err := strconv.ParseFloat(w, 64); err == nil && wf == pf {
				continue
			}
		}
		if page[n] != w {
			t.Errorf("the page shows %s = %q; the API says %q", n, page[n], w)
		}
	}
	// The age moves with the clock: within a few seconds of the API's.
	age, err1 := strconv.ParseFloat(page[testSite+"-oldest"], 64)
	apiAge, _ := walk(queue, "oldestPendingAgeSeconds").(float64)
	if err1 != nil || age-apiAge > 5 || apiAge-age > 5 {
		t.Errorf("the page shows the oldest item at %q s; the API says %.1f", page[testSite+"-oldest"], apiAge)
	}
	// What the work above must have produced, so the comparison means
	// something: a recorded failure, a role lock, the sunset, audit events.
	for n, w := range map[string]string{testSite + "-failures": "1", "workspace-roleLocks": "1", testSite + "-status": "degraded", "readiness": "degraded"} {
		if page[n] != w {
			t.Errorf("%s = %q, want %q after the work", n, page[n], w)
		}
	}
	if !strings.HasPrefix(page[testSite+"-userAccounts"], "unavailable") {
		t.Errorf("User Accounts shows %q after the sunset", page[testSite+"-userAccounts"])
	}
	if auditRows < 3 {
		t.Errorf("the page lists %d audit events; the work above made at least 3", auditRows)
	}
}

func metricValue(t *testing.T, metrics, series string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		t.Errorf("/metrics has no %s", series)
		return "<missing>"
	}
	return m[1]
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if len(b) == 0 {
		t.Errorf("empty screenshot for %s", path)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
