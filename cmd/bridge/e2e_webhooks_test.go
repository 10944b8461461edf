package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

func (h *bridgeHarness) hookStore(t *testing.T) state.WebhookStore {
	t.Helper()
	ws, ok := h.app.store.(state.WebhookStore)
	if !ok {
		t.Fatal("the bridge's store keeps no webhook state")
	}
	return ws
}

func (h *bridgeHarness) hookURL() string { return h.ts.URL + "/webhooks/webflow/" + testSite }

// waitDelivery waits until the simulator has delivered (first attempt or
// a retry) a trigger about webflowID, at or after index since, and the
// bridge answered it; it fails on any answer but 200.
func (h *bridgeHarness) waitDelivery(t *testing.T, since int, trigger, webflowID string) webflowsim.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ds := h.sim.Deliveries()
		for _, d := range ds[min(since, len(ds)):] {
			if d.TriggerType == trigger && strings.Contains(string(d.Body), webflowID) {
				if d.Status != http.StatusOK {
					t.Fatalf("delivery of %s answered %d %s", trigger, d.Status, d.Error)
				}
				return d
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s delivery for %s within 10s", trigger, webflowID)
	return webflowsim.Delivery{}
}

// TestWebhooksEndToEnd registers the webhooks with the command's function
// and lets the simulator's signed deliveries drive the bridge's records:
// a status change is visible without a Webflow GET, a managed group
// removed in Webflow is restored by the next drain, and a user deleted in
// Webflow shows as no longer provisioned.
func TestWebhooksEndToEnd(t *testing.T) {
	h := newBridge(t)
	ctx := context.Background()
	wf := h.wfClient(t)

	var out bytes.Buffer
	if err := registerWebhooks(ctx, wf, h.hookStore(t), testSite, h.hookURL(), false, &out); err != nil {
		t.Fatal(err)
	}
	secrets, err := h.hookStore(t).WebhookSecrets(ctx, testSite)
	if err != nil || len(secrets) != 3 {
		t.Fatalf("stored secrets: %d %v", len(secrets), err)
	}
	for _, s := range secrets {
		if s.Secret == "" || s.URL != h.hookURL() {
			t.Errorf("stored %s: url %q, secret empty %v", s.TriggerType, s.URL, s.Secret == "")
		}
		if strings.Contains(out.String(), s.Secret) {
			t.Error("the summary shows a secret")
		}
	}
	if strings.Count(out.String(), "registered") != 3 {
		t.Errorf("summary:\n%s", out.String())
	}
	// Again: nothing new is registered.
	out.Reset()
	if err := registerWebhooks(ctx, wf, h.hookStore(t), testSite, h.hookURL(), false, &out); err != nil {
		t.Fatal(err)
	}
	if hooks, _ := wf.ListWebhooks(ctx, testSite); len(hooks) != 3 || strings.Count(out.String(), "already registered") != 3 {
		t.Fatalf("%d webhooks after a second register:\n%s", len(hooks), out.String())
	}

	// A user the IdP creates, in a linked group, and a second user.
	n := len(h.sim.Deliveries())
	a := h.newUser("hook.a@example.com")
	wa, _ := h.webflowUser("hook.a@example.com")
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountAdded, wa.ID)
	n = len(h.sim.Deliveries())
	b := h.newUser("hook.b@example.com")
	wb, _ := h.webflowUser("hook.b@example.com")
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountAdded, wb.ID)
	n = len(h.sim.Deliveries())
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff", "members": []map[string]any{{"value": a}}}))
	h.drain()
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountUpdated, wa.ID)
	if h.slugs("hook.a@example.com") != "staff" {
		t.Fatalf("linked group not written: %s", h.slugs("hook.a@example.com"))
	}

	// 1. The user accepts the invitation in Webflow.
	n = len(h.sim.Deliveries())
	if err := h.sim.VerifyUser(testSite, wa.ID); err != nil {
		t.Fatal(err)
	}
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountUpdated, wa.ID)
	calls := h.calls()
	r := h.must(200, h.do("GET", "/Users/"+a, nil))
	if got := ext(r.Body)["status"]; got != webflowdata.StatusVerified {
		t.Errorf("status after the webhook: %v (%s)", got, r.Raw)
	}
	if c := h.calls(); c != calls {
		t.Errorf("GET /Users/{id} called Webflow %d times; the webhook had refreshed the record", c-calls)
	}

	// 2. An admin drops the managed group in Webflow's dashboard.
	n = len(h.sim.Deliveries())
	if _, err := wf.UpdateUser(ctx, testSite, wa.ID, webflowdata.UpdateUserRequest{AccessGroups: []string{}}); err != nil {
		t.Fatal(err)
	}
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountUpdated, wa.ID)
	if qs, err := h.app.scim.QueueStats(ctx, testSite); err != nil || qs.Pending != 1 {
		t.Fatalf("drift not queued: %+v %v", qs, err)
	}
	n = len(h.sim.Deliveries())
	h.drain()
	if h.slugs("hook.a@example.com") != "staff" {
		t.Errorf("managed group not restored by the drain: %q", h.slugs("hook.a@example.com"))
	}
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountUpdated, wa.ID) // the restore's own event
	if qs, _ := h.app.scim.QueueStats(ctx, testSite); qs.Pending != 0 {
		t.Errorf("the restore's own event queued the user again: %+v", qs)
	}
	r = h.must(200, h.do("GET", "/Users/"+a, nil))
	if got := str(ext(r.Body), "accessGroups"); !strings.Contains(got, "staff") {
		t.Errorf("accessGroups after the restore: %s", got)
	}

	// 3. An admin deletes the other user in Webflow.
	n = len(h.sim.Deliveries())
	if err := wf.DeleteUser(ctx, testSite, wb.ID); err != nil {
		t.Fatal(err)
	}
	del := h.waitDelivery(t, n, webflowdata.TriggerUserAccountDeleted, wb.ID)
	calls = h.calls()
	r = h.must(200, h.do("GET", "/Users/"+b, nil))
	if r.Body["active"] != false || str(ext(r.Body), "webflowUserId") != "" {
		t.Errorf("deleted in Webflow, but the bridge shows: %s", r.Raw)
	}
	if c := h.calls(); c != calls {
		t.Errorf("GET of an unlinked user called Webflow %d times", c-calls)
	}

	// 4. A replay of a captured delivery (same headers, same body) is
	// acknowledged and not applied again.
	before, _ := h.app.store.GetUser(ctx, testSite, b)
	req, _ := http.NewRequest(http.MethodPost, h.hookURL(), bytes.NewReader(del.Body))
	req.Header.Set(webflowdata.HeaderWebhookTimestamp, del.Timestamp)
	req.Header.Set(webflowdata.HeaderWebhookSignature, del.Signature)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	after, _ := h.app.store.GetUser(ctx, testSite, b)
	if res.StatusCode != 200 || after.Version != before.Version {
		t.Errorf("replay: %d, version %d → %d", res.StatusCode, before.Version, after.Version)
	}
	// Tampered: 401, and Webflow would retry.
	req, _ = http.NewRequest(http.MethodPost, h.hookURL(), bytes.NewReader(bytes.Replace(del.Body, []byte(wb.ID), []byte(wa.ID), 1)))
	req.Header.Set(webflowdata.HeaderWebhookTimestamp, del.Timestamp)
	req.Header.Set(webflowdata.HeaderWebhookSignature, del.Signature)
	if res, err = http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("tampered delivery: %v %v", res.StatusCode, err)
	}
	res.Body.Close()

	for _, d := range h.sim.Deliveries() {
		if d.Status != http.StatusOK {
			t.Errorf("delivery %s attempt %d answered %d", d.TriggerType, d.Attempt, d.Status)
		}
	}
	logs := h.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s.Secret) {
			t.Error("a webhook secret appears in the logs")
		}
	}
}

// writeHookConfig writes a config file for the harness's simulator and
// state store, so the command runs as an operator would run it.
func (h *bridgeHarness) writeHookConfig(t *testing.T) string {
	t.Helper()
	redisURL, prefix := os.Getenv("REDIS_URL"), h.prefix
	if h.prefix == "" {
		c, ok := h.app.rdb.(*redis.Client)
		if !ok {
			t.Skip("embedded store is not a plain client")
		}
		redisURL = "redis://" + c.Options().Addr
	}
	cfg := "redis:\n  url: " + redisURL + "\n  keyPrefix: \"" + prefix + "\"\n" +
		"webflow:\n  apiBaseURL: " + h.simTS.URL + "/v2\n  rateLimitPerMinute: 100000\n" +
		"publicURL: " + h.ts.URL + "\n" +
		"sites:\n  - id: " + testSite + "\n    webflowToken: " + webflowsim.DemoSiteToken + "\n    scimTokens: [" + testToken + "]\n"
	if prefix == "" {
		cfg = strings.Replace(cfg, "  keyPrefix: \"\"\n", "", 1)
	}
	p := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWebhooksRegisterCommand runs "bridge webhooks register" itself: the
// secrets land where the serving bridge reads them.
func TestWebhooksRegisterCommand(t *testing.T) {
	h := newBridge(t)
	path := h.writeHookConfig(t)
	var stdout, stderr bytes.Buffer
	// --url defaults to publicURL + /webhooks/webflow/{site}.
	if code := run([]string{"webhooks", "register", "--config", path, "--site", testSite}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	secrets, _ := h.hookStore(t).WebhookSecrets(context.Background(), testSite)
	if len(secrets) != 3 || secrets[0].URL != h.hookURL() {
		t.Fatalf("stored: %+v", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(stdout.String()+stderr.String(), s.Secret) {
			t.Error("the command printed a secret")
		}
	}
	// A delivery now verifies on the serving bridge.
	n := len(h.sim.Deliveries())
	id := h.newUser("cli.hook@example.com")
	wu, _ := h.webflowUser("cli.hook@example.com")
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountAdded, wu.ID)
	n = len(h.sim.Deliveries())
	if err := h.sim.VerifyUser(testSite, wu.ID); err != nil {
		t.Fatal(err)
	}
	h.waitDelivery(t, n, webflowdata.TriggerUserAccountUpdated, wu.ID)
	if got := ext(h.must(200, h.do("GET", "/Users/"+id, nil)).Body)["status"]; got != webflowdata.StatusVerified {
		t.Errorf("status %v", got)
	}

	// Secrets lost (Redis flushed without persistence): registering again
	// replaces the webhooks, since Webflow shows a secretKey only once.
	for _, s := range secrets {
		_ = h.hookStore(t).ForgetWebhookSecret(context.Background(), testSite, s.ID)
	}
	stdout.Reset()
	if code := run([]string{"webhooks", "register", "--config", path, "--site", testSite, "--url", h.hookURL()}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Count(stdout.String(), "re-registered") != 3 {
		t.Errorf("summary:\n%s", stdout.String())
	}
	hooks, _ := h.wfClient(t).ListWebhooks(context.Background(), testSite)
	now, _ := h.hookStore(t).WebhookSecrets(context.Background(), testSite)
	if len(hooks) != 3 || len(now) != 3 {
		t.Errorf("%d webhooks, %d secrets", len(hooks), len(now))
	}
	if code := run([]string{"webhooks", "register", "--config", path, "--site", "nosuchsite"}, &stdout, &stderr); code == 0 {
		t.Error("an unknown site must fail")
	}
}

// TestWebhooksRegisterSunset: against a Webflow where User Accounts are
// gone, registration says so and exits non-zero.
func TestWebhooksRegisterSunset(t *testing.T) {
	h := newBridge(t)
	h.sim.SetUsersMode(webflowsim.ModeRemoved)
	var out bytes.Buffer
	err := registerWebhooks(context.Background(), h.wfClient(t), h.hookStore(t), testSite, h.hookURL(), false, &out)
	if err == nil || !strings.Contains(err.Error(), "Webflow no longer offers the user_account_* webhooks (User Accounts were disabled on 2026-01-29)") {
		t.Fatalf("err = %v", err)
	}
	if s, _ := h.hookStore(t).WebhookSecrets(context.Background(), testSite); len(s) != 0 {
		t.Errorf("stored %d secrets", len(s))
	}

	path := h.writeHookConfig(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"webhooks", "register", "--config", path, "--site", testSite, "--url", h.hookURL()}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "User Accounts were disabled on 2026-01-29") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
}
