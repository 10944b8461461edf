package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Redis is flushed in the middle of an Okta and an Entra sequence. Every
// later operation succeeds, nobody is invited twice, and the indexes come
// back. With REDIS_URL set this runs on a real Redis.
func TestRedisLossMidSequence(t *testing.T) {
	h := newBridge(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.app.scim.WatchStore(ctx, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the marker is written

	okta := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"okta.user@example.com","name":{"givenName":"Okta","familyName":"User"},"emails":[{"primary":true,"value":"okta.user@example.com","type":"work"}],"externalId":"00u1","active":true}`)).Body, "id")
	entra := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"entra_user@contoso.onmicrosoft.com","emails":[{"primary":true,"type":"work","value":"entra.user@example.com"}],"externalId":"0a21","active":true}`)).Body, "id")

	h.wipeStore() // Redis loses everything
	waitFor(t, "the loss to be detected and the rebuild to finish", func() bool {
		return strings.Contains(h.logs.String(), "rebuild after Redis loss finished")
	})
	if !strings.Contains(h.logs.String(), "Redis lost the bridge's data") {
		t.Error("the loss must be logged plainly")
	}

	// Okta goes on: lookup, profile PUT, deactivate; its ids still work.
	if r := h.must(200, h.do("GET", filterQ(`userName eq "okta.user@example.com"`), nil)); r.Body["totalResults"] != 1.0 || str(r.Body, "Resources.0.id") != okta {
		t.Errorf("Okta lookup after the loss: %s", r.Raw)
	}
	h.must(200, h.do("PUT", "/Users/"+okta, `{"schemas":["`+userSchema+`"],"userName":"okta.user@example.com","name":{"givenName":"Renamed","familyName":"User"},"emails":[{"primary":true,"value":"okta.user@example.com","type":"work"}],"active":true}`))
	h.must(200, h.do("PATCH", "/Users/"+okta, patch(op("replace", "", map[string]any{"active": false}))))
	// Entra goes on with its cached id (its userName is not the email).
	h.must(200, h.do("GET", "/Users/"+entra, nil))
	h.must(200, h.do("PATCH", "/Users/"+entra, patch(op("Replace", "displayName", "Entra After"))))
	// Entra's matching query by userName finds nothing (the UPN was lost):
	// it then POSTs the user again, which links instead of inviting.
	r := h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"entra_user@contoso.onmicrosoft.com","emails":[{"primary":true,"type":"work","value":"entra.user@example.com"}],"externalId":"0a21","active":true}`))
	if str(r.Body, "id") != entra {
		t.Errorf("the re-sent user must keep its SCIM id: %s", r.Raw)
	}
	if r := h.must(200, h.do("GET", filterQ(`externalId eq "0a21"`), nil)); r.Body["totalResults"] != 1.0 {
		t.Errorf("the indexes are back: %s", r.Raw)
	}
	h.must(204, h.do("DELETE", "/Users/"+entra, nil))
	for _, e := range []string{"okta.user@example.com", "entra.user@example.com"} {
		if n := h.sim.InvitesTo(e); n != 1 {
			t.Errorf("%s invited %d times", e, n)
		}
	}
	if wu, _ := h.webflowUser("okta.user@example.com"); wu.Data.Name() != "Renamed User" {
		t.Errorf("Webflow after the PUT: %+v", wu.Data)
	}
}

// Drift planted directly in Webflow is found; --apply fixes what is safe.
func TestReconcileFindsAndFixesDrift(t *testing.T) {
	h := newBridge(t)
	a, b := h.newUser("keep@example.com"), h.newUser("gone@example.com")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": a}}}))
	h.drain()
	wf := h.wfClient(t)
	ctx := t.Context()
	// Behind the bridge's back: an unknown user, a deleted one, a managed
	// group removed, a status change.
	h.sim.AddUser(testSite, webflowsim.SeedUser{Email: "stranger@example.com"})
	gone, _ := h.webflowUser("gone@example.com")
	wf.DeleteUser(ctx, testSite, gone.ID)
	wa, _ := h.webflowUser("keep@example.com")
	wf.UpdateUser(ctx, testSite, wa.ID, webflowdata.UpdateUserRequest{AccessGroups: []string{"premium"}})
	h.sim.VerifyUser(testSite, wa.ID)

	rep, err := h.app.scim.Reconcile(ctx, testSite, false, false)
	if err != nil {
		t.Fatal(err)
	}
	has := func(us []scimserver.DriftUser, email string) bool {
		for _, u := range us {
			if u.Email == email {
				return true
			}
		}
		return false
	}
	if !has(rep.Unknown, "stranger@example.com") || !has(rep.Unknown, "mike@example.com") || !has(rep.Gone, "gone@example.com") ||
		!has(rep.GroupDrift, "keep@example.com") || !has(rep.StatusChanged, "keep@example.com") || rep.Fixed != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if h.slugs("keep@example.com") != "premium" {
		t.Error("a dry run must change nothing in Webflow")
	}
	if r := h.must(200, h.do("GET", "/Users/"+a, nil)); str(ext(r.Body), "status") != "verified" {
		t.Errorf("the status change is stored: %s", r.Raw)
	}

	// Two replicas never reconcile at once.
	unlock, ok, _ := h.app.store.LockUser(ctx, testSite, "\x00reconcile", time.Minute)
	if !ok {
		t.Fatal("lease")
	}
	if _, err := h.app.scim.Reconcile(ctx, testSite, true, false); !errors.Is(err, scimserver.ErrReconcileRunning) {
		t.Errorf("second reconcile: %v", err)
	}
	unlock()

	rep, err = h.app.scim.Reconcile(ctx, testSite, true, false)
	if err != nil {
		t.Fatal(err)
	}
	h.drain()
	if h.slugs("keep@example.com") != "premium,staff" {
		t.Errorf("--apply restores the managed group and keeps the unmanaged one: %s", h.slugs("keep@example.com"))
	}
	if r := h.must(200, h.do("GET", "/Users/"+b, nil)); r.Body["active"] != false || str(ext(r.Body), "webflowUserId") != "" {
		t.Errorf("a record whose user is gone is kept, unlinked and inactive: %s", r.Raw)
	}
	if _, ok := h.webflowUser("stranger@example.com"); !ok {
		t.Error("reconcile must never delete a user the bridge did not create")
	}
	if h.sim.InvitesTo("gone@example.com") != 1 {
		t.Error("reconcile must not invite")
	}
}

// The CLI prints the report, as JSON with --json.
func TestReconcileCommand(t *testing.T) {
	mr := miniredis.RunT(t)
	h := newBridge(t, func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr(); c.Redis.KeyPrefix = "" })
	h.newUser("cli@example.com")
	cfg := fmt.Sprintf("redis: {url: \"redis://%s\"}\nwebflow: {apiBaseURL: \"%s/v2\", rateLimitPerMinute: 100000}\nsites:\n  - id: %s\n    webflowToken: %s\n    scimTokens: [%s]\n",
		mr.Addr(), h.simTS.URL, testSite, webflowsim.DemoSiteToken, testToken)
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	var out, errb bytes.Buffer
	if err := runReconcile(t.Context(), []string{"--config", path, "--site", testSite, "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var rep scimserver.DriftReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Records != 1 || rep.WebflowUsers != 4 || len(rep.Unknown) != 3 {
		t.Errorf("%v %+v", err, rep)
	}
	out.Reset()
	if err := runReconcile(t.Context(), []string{"--config", path, "--site", testSite}, &out, &errb); err != nil || !strings.Contains(out.String(), "Webflow users the bridge does not know: 3") {
		t.Errorf("%v %s", err, out.String())
	}
	// Redis lost everything while no bridge ran: the serving bridge cannot
	// tell (it sees an empty store, as on the first start), so the ids the
	// IdP holds are 404 until an operator runs --rebuild.
	cli := str(h.must(200, h.do("GET", filterQ(`userName eq "cli@example.com"`), nil)).Body, "Resources.0.id")
	mr.FlushAll()
	h.must(404, h.do("GET", "/Users/"+cli, nil))
	out.Reset()
	if err := runReconcile(t.Context(), []string{"--config", path, "--site", testSite, "--rebuild", "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.Rebuild || rep.Adopted != 4 {
		t.Errorf("--rebuild adopts every Webflow user: %v %+v", err, rep)
	}
	// The serving bridge remembered the miss for a minute; a new
	// process (or the minute) sees the adopted record.
	h2 := newBridge(t, func(c *config.Config) { c.Redis.URL = "redis://" + mr.Addr(); c.Redis.KeyPrefix = "" })
	if r := h2.must(200, h2.do("GET", "/Users/"+cli, nil)); str(r.Body, "userName") != "cli@example.com" {
		t.Errorf("after --rebuild: %s", r.Raw)
	}
}
