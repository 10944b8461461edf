package webflowsim

import (
	"encoding/json"
	"testing"
	"time"
)

// The reference examples (webflow-api.md) live in testdata; the simulator's
// answers must have the same keys and JSON types at every level.
func TestGoldenShapes(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	mike := sim.Users(siteID)[0].ID // has admin and ecommerce groups and custom data
	site := "/v2/sites/" + siteID

	get := func(path, tok string) []byte {
		t.Helper()
		resp, body := call(t, srv, "GET", path, tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	t.Run("user", func(t *testing.T) { assertShape(t, "user.json", get(site+"/users/"+mike, siteTok)) })
	// The reference's list item has no data key; real list items do (§2.2).
	t.Run("list users", func(t *testing.T) { assertShape(t, "list_users.json", get(site+"/users", siteTok), "users.data") })
	t.Run("list users items", func(t *testing.T) {
		var l struct{ Users []json.RawMessage }
		_ = json.Unmarshal(get(site+"/users?limit=1", siteTok), &l)
		assertShape(t, "user.json", l.Users[0])
	})
	t.Run("access groups", func(t *testing.T) { assertShape(t, "access_groups.json", get(site+"/accessgroups", siteTok)) })
	t.Run("site", func(t *testing.T) { assertShape(t, "site.json", get(site, siteTok)) })
	t.Run("sites", func(t *testing.T) {
		var l struct{ Sites []json.RawMessage }
		if err := json.Unmarshal(get("/v2/sites", siteTok), &l); err != nil || len(l.Sites) != 1 {
			t.Fatalf("sites: %v %d", err, len(l.Sites))
		}
		assertShape(t, "site.json", l.Sites[0])
	})
	t.Run("authorized_by", func(t *testing.T) { assertShape(t, "authorized_by.json", get("/v2/token/authorized_by", siteTok)) })
	t.Run("introspect", func(t *testing.T) { assertShape(t, "introspect.json", get("/v2/token/introspect", oauthTok)) })
	t.Run("webhook create", func(t *testing.T) {
		resp, body := call(t, srv, "POST", site+"/webhooks", siteTok, map[string]any{"triggerType": "form_submission", "url": "https://example.com/hook", "filter": map[string]any{"name": "Email Form"}})
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		assertShape(t, "webhook_create.json", body)
		// filter is shown as given; the reference shows null for it.
	})
	t.Run("error envelopes", func(t *testing.T) {
		_, body := call(t, srv, "GET", site+"/users", "wf-demo-oauth-token-missing", nil)
		assertShape(t, "error_too_many.json", body)
		_, body = call(t, srv, "GET", "/v2/token/authorized_by", readTok, nil)
		assertShape(t, "error_missing_scopes.json", body)
		sim.SetTokenRateLimit("read-token", 1)
		call(t, srv, "GET", "/v2/sites", readTok, nil)
		_, body = call(t, srv, "GET", "/v2/sites", readTok, nil)
		if string(body) != `{"code":"too_many_requests","message":"Too Many Requests","externalReference":null,"details":[]}` {
			t.Errorf("429 body = %s", body)
		}
		assertShape(t, "error_too_many.json", body)
	})
}

func TestGoldenWebhookDelivery(t *testing.T) {
	sim, srv := newDemo(t, Options{WebhookRetryInterval: time.Millisecond})
	rcv := newReceiver(t, nil)
	call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "user_account_added", "url": rcv.srv.URL})
	call(t, srv, "POST", "/v2/sites/"+siteID+"/users/invite", siteTok, map[string]any{"email": "arthur.dent@heartofgold.ship", "accessGroups": []string{"members"}})
	waitFor(t, "delivery", func() bool { return len(rcv.got()) == 1 })
	// The reference payload is abbreviated; the simulator sends the full
	// User, so invitedOn and lastLogin are extra. An invitee has no name.
	d := rcv.got()[0]
	var body map[string]any
	_ = json.Unmarshal(d.body, &body)
	body["payload"].(map[string]any)["data"].(map[string]any)["name"] = "Arthur Dent"
	b, _ := json.Marshal(body)
	assertShape(t, "webhook_delivery.json", b, "payload.invitedOn", "payload.lastLogin")
	_ = sim
}
