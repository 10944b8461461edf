package webflowsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

type received struct {
	header http.Header
	body   []byte
}

type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []received
}

// newReceiver records deliveries; status picks each answer (nil = 200).
func newReceiver(t *testing.T, status func(n int) int) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{r.Header.Clone(), b})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if status != nil {
			w.WriteHeader(status(n))
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func TestSignatureVector(t *testing.T) {
	got := webflowdata.SignWebhook([]byte("test-client-secret"), "1722370035277",
		[]byte(`{"triggerType":"user_account_added","payload":{"id":"6287ec36a841b25637c663df"}}`))
	if got != "0aed1d0ab2577035ce5df351fd972afeca73fc7cc4b1525f939514d1d1d10bd8" {
		t.Fatalf("signature = %s", got)
	}
}

func TestWebhookDeliverySigned(t *testing.T) {
	sim, srv := newDemo(t, Options{WebhookRetryInterval: time.Millisecond})
	rcv := newReceiver(t, nil)
	site := "/v2/sites/" + siteID
	resp, body := call(t, srv, "POST", site+"/webhooks", siteTok, map[string]any{"triggerType": "user_account_added", "url": rcv.srv.URL})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var hook webflowdata.Webhook
	_ = json.Unmarshal(body, &hook)
	if hook.SecretKey == "" || !objectRe.MatchString(hook.ID) || hook.SiteID != siteID || hook.WorkspaceID != DemoWorkspaceID {
		t.Fatalf("hook = %+v", hook)
	}
	// OAuth app webhooks are signed with the client secret and carry no secretKey.
	_, body = call(t, srv, "POST", site+"/webhooks", oauthTok, map[string]any{"triggerType": "user_account_updated", "url": rcv.srv.URL})
	var appHook webflowdata.Webhook
	_ = json.Unmarshal(body, &appHook)
	if appHook.SecretKey != "" {
		t.Errorf("OAuth webhook has secretKey")
	}
	_, body = call(t, srv, "POST", site+"/users/invite", siteTok, map[string]any{"email": "hook@example.com"})
	u := decodeUser(t, body)
	call(t, srv, "PATCH", site+"/users/"+u.ID, siteTok, map[string]any{"data": map[string]any{"name": "Hook"}})
	waitFor(t, "two deliveries", func() bool { return len(rcv.got()) == 2 })

	keys := map[string][]byte{"user_account_added": []byte(hook.SecretKey), "user_account_updated": []byte(DemoClientSecret)}
	for _, d := range rcv.got() {
		var ev webflowdata.WebhookEvent
		if err := json.Unmarshal(d.body, &ev); err != nil {
			t.Fatal(err)
		}
		if d.header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", d.header.Get("Content-Type"))
		}
		ts, sig := d.header.Get("x-webflow-timestamp"), d.header.Get("x-webflow-signature")
		if err := webflowdata.VerifyWebhook(keys[ev.TriggerType], ts, sig, d.body, time.Now()); err != nil {
			t.Errorf("%s: verify: %v", ev.TriggerType, err)
		}
		var p webflowdata.User
		_ = json.Unmarshal(ev.Payload, &p)
		if p.ID != u.ID {
			t.Errorf("payload id %s", p.ID)
		}
	}
	// lastTriggered is set once a delivery was attempted.
	waitFor(t, "lastTriggered", func() bool {
		_, b := call(t, srv, "GET", "/v2/webhooks/"+hook.ID, siteTok, nil)
		return decode(t, b)["lastTriggered"] != nil
	})
	_, b := call(t, srv, "GET", "/v2/webhooks/"+hook.ID, siteTok, nil)
	if _, ok := decode(t, b)["secretKey"]; ok {
		t.Errorf("secretKey shown after create")
	}
	if len(sim.Deliveries()) != 2 {
		t.Errorf("Deliveries = %d", len(sim.Deliveries()))
	}
	// Delete fires user_account_deleted only for subscribed hooks: none here.
	if resp, _ := call(t, srv, "DELETE", "/v2/webhooks/"+hook.ID, siteTok, nil); resp.StatusCode != 204 {
		t.Fatalf("delete webhook: %d", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/v2/webhooks/"+hook.ID, siteTok, nil); resp.StatusCode != 404 {
		t.Fatalf("deleted webhook: %d", resp.StatusCode)
	}
}

func TestWebhookRetries(t *testing.T) {
	sim, srv := newDemo(t, Options{WebhookRetryInterval: 5 * time.Millisecond})
	rcv := newReceiver(t, func(n int) int {
		if n < 3 {
			return 500
		}
		return 200
	})
	failing := newReceiver(t, func(int) int { return 503 })
	call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "user_account_deleted", "url": rcv.srv.URL})
	call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "user_account_deleted", "url": failing.srv.URL})
	mike := sim.Users(siteID)[0].ID
	call(t, srv, "DELETE", "/v2/sites/"+siteID+"/users/"+mike, siteTok, nil)
	waitFor(t, "retries", func() bool { return len(rcv.got()) == 3 && len(failing.got()) == 4 })
	time.Sleep(30 * time.Millisecond)
	if n := len(failing.got()); n != 4 {
		t.Errorf("failing hook attempts = %d, want 1+3", n)
	}
	if n := len(rcv.got()); n != 3 {
		t.Errorf("recovering hook attempts = %d, want 3", n)
	}
	if n := len(sim.Deliveries()); n != 7 {
		t.Errorf("Deliveries = %d, want 7", n)
	}
}

func TestWebhookLimitPerTrigger(t *testing.T) {
	_, srv := newDemo(t, Options{})
	for i := 0; i < maxHooksPerTrigger; i++ {
		if resp, body := call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "site_publish", "url": "https://example.com/h"}); resp.StatusCode != 201 {
			t.Fatalf("hook %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "site_publish", "url": "https://example.com/h"})
	if resp.StatusCode != 400 {
		t.Fatalf("76th: %d", resp.StatusCode)
	}
	assertEnvelope(t, body, webflowdata.CodeValidationError)
	if resp, _ := call(t, srv, "POST", "/v2/sites/"+siteID+"/webhooks", siteTok, map[string]any{"triggerType": "page_created", "url": "https://example.com/h"}); resp.StatusCode != 201 {
		t.Fatalf("other trigger: %d", resp.StatusCode)
	}
	var l webflowdata.WebhookList
	_, body = call(t, srv, "GET", "/v2/sites/"+siteID+"/webhooks", siteTok, nil)
	_ = json.Unmarshal(body, &l)
	if l.Pagination.Total != 76 || l.Pagination.Limit != 100 || len(l.Webhooks) != 76 {
		t.Errorf("list pagination = %+v, %d hooks", l.Pagination, len(l.Webhooks))
	}
}
