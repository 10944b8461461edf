package scimserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

const (
	hookSite       = "site-hooks"
	hookSecret     = "per-webhook-secret-key"
	hookClientSec  = "test-client-secret"
	hookWebflowID  = "6287ec36a841b25637c663df"
	hookSCIMID     = "scim-user-1"
	hookOtherWFID  = "6287ec36a841b25637c66300"
	hookManaged    = "gold"
	hookUnmanaged  = "newsletter"
	hookSecretless = "site-nosecret"
)

type hookFixture struct {
	srv      *Server
	store    *state.RedisStore
	now      time.Time
	upstream *atomic.Int64 // Webflow calls: the receiver must make none
}

func newHookFixture(t testing.TB) *hookFixture {
	t.Helper()
	rdb, stop, err := state.NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	f := &hookFixture{store: state.NewRedisStore(rdb, state.Options{}), now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), upstream: &atomic.Int64{}}
	wfTS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.upstream.Add(1)
		http.Error(w, "the webhook receiver must not call Webflow", http.StatusTeapot)
	}))
	t.Cleanup(wfTS.Close)
	wf, err := webflowdata.NewClient(webflowdata.Config{BaseURL: wfTS.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = New(Options{
		Store: f.store, Now: func() time.Time { return f.now },
		Sites: []SiteConfig{
			{ID: hookSite, SCIMTokens: []string{"t"}, Webflow: wf, WebhookSecret: hookClientSec},
			{ID: hookSecretless, SCIMTokens: []string{"t"}, Webflow: wf},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.store.StoreWebhookSecret(ctx, hookSite, state.WebhookSecret{ID: "h1", TriggerType: webflowdata.TriggerUserAccountUpdated, Secret: hookSecret}); err != nil {
		t.Fatal(err)
	}
	snap, _ := json.Marshal(webflowdata.User{
		ID: hookWebflowID, Status: webflowdata.StatusInvited, LastUpdated: webflowdata.NewTime(f.now.Add(-time.Hour)),
		InvitedOn:    webflowdata.NewTime(f.now.Add(-time.Hour)),
		AccessGroups: []webflowdata.AccessGroupRef{{Slug: hookManaged, Type: webflowdata.AccessGroupAdmin}},
		Data:         webflowdata.UserData{webflowdata.DataEmail: "ada@example.com"},
	})
	rec := &state.UserRecord{ID: hookSCIMID, SiteID: hookSite, WebflowUserID: hookWebflowID, UserName: "ada@example.com", Email: "ada@example.com",
		Active: true, Webflow: snap, SyncedAt: f.now.Add(-time.Hour)}
	if err := f.store.CreateUser(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := f.store.LinkGroup(ctx, &state.GroupRecord{ID: "g1", SiteID: hookSite, Slug: hookManaged, DisplayName: "Gold"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.ChangeMembers(ctx, hookSite, hookManaged, []state.MemberOp{{Op: "add", IDs: []string{hookSCIMID}}}, state.ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

// event is a delivery body as Webflow sends it.
func hookEvent(trigger string, u webflowdata.User) []byte {
	p, _ := json.Marshal(u)
	b, _ := json.Marshal(webflowdata.WebhookEvent{TriggerType: trigger, Payload: p})
	return b
}

func (f *hookFixture) updatedUser(status string, lastUpdated time.Time, slugs ...string) webflowdata.User {
	u := webflowdata.User{ID: hookWebflowID, Status: status, IsEmailVerified: status == webflowdata.StatusVerified,
		LastUpdated: webflowdata.NewTime(lastUpdated), CreatedOn: webflowdata.NewTime(f.now.Add(-time.Hour)),
		Data: webflowdata.UserData{webflowdata.DataEmail: "ada@example.com", "name": "Ada"}, AccessGroups: []webflowdata.AccessGroupRef{}}
	for _, s := range slugs {
		u.AccessGroups = append(u.AccessGroups, webflowdata.AccessGroupRef{Slug: s, Type: webflowdata.AccessGroupAdmin})
	}
	return u
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// post delivers body with the given headers ("" = header absent).
func (f *hookFixture) post(site, ts, sig string, body []byte) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/webflow/"+site, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if ts != "" {
		req.Header.Set(webflowdata.HeaderWebhookTimestamp, ts)
	}
	if sig != "" {
		req.Header.Set(webflowdata.HeaderWebhookSignature, sig)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	raw, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(raw)
}

func (f *hookFixture) signed(key string, at time.Time, body []byte) (string, string) {
	ts := ms(at)
	return ts, webflowdata.SignWebhook([]byte(key), ts, body)
}

func (f *hookFixture) record(t *testing.T) *state.UserRecord {
	t.Helper()
	rec, err := f.store.GetUser(context.Background(), hookSite, hookSCIMID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestWebhookSignatureTable covers the signature contract of the receiver.
func TestWebhookSignatureTable(t *testing.T) {
	f := newHookFixture(t)
	body := hookEvent(webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now.Add(-time.Minute), hookManaged))
	goodTS, goodSig := f.signed(hookSecret, f.now, body)
	tampered := []byte(strings.Replace(string(body), `"verified"`, `"invited"`, 1))

	cases := []struct {
		name      string
		site      string
		ts, sig   string
		body      []byte
		want      int
		wantInRsp string
	}{
		{"missing both headers", hookSite, "", "", body, 401, "x-webflow-timestamp"},
		{"missing signature", hookSite, goodTS, "", body, 401, "x-webflow-signature"},
		{"missing timestamp", hookSite, "", goodSig, body, 401, "x-webflow-timestamp"},
		{"malformed timestamp", hookSite, "yesterday", goodSig, body, 401, "milliseconds"},
		{"timestamp in seconds, not ms", hookSite, strconv.FormatInt(f.now.Unix(), 10), goodSig, body, 401, "5 minutes"},
		{"wrong secret", hookSite, goodTS, webflowdata.SignWebhook([]byte("not-the-secret"), goodTS, body), body, 401, webhookSignatureFailure},
		{"signature over another timestamp", hookSite, ms(f.now.Add(time.Second)), goodSig, body, 401, webhookSignatureFailure},
		{"uppercase hex is not Webflow's", hookSite, goodTS, strings.ToUpper(goodSig), body, 401, webhookSignatureFailure},
		{"tampered body", hookSite, goodTS, goodSig, tampered, 401, webhookSignatureFailure},
		{"stale: 5m01s old", hookSite, ms(f.now.Add(-5*time.Minute - time.Second)), webflowdata.SignWebhook([]byte(hookSecret), ms(f.now.Add(-5*time.Minute-time.Second)), body), body, 401, "5 minutes"},
		{"stale: 6m in the future", hookSite, ms(f.now.Add(6 * time.Minute)), webflowdata.SignWebhook([]byte(hookSecret), ms(f.now.Add(6*time.Minute)), body), body, 401, "5 minutes"},
		{"no secret known for the site", hookSecretless, goodTS, goodSig, body, 401, webhookSignatureFailure},
		{"unknown site: as a bad signature", "nosuchsite", goodTS, goodSig, body, 401, webhookSignatureFailure},
		{"valid: per-webhook secretKey, 4m old", hookSite, ms(f.now.Add(-4 * time.Minute)), webflowdata.SignWebhook([]byte(hookSecret), ms(f.now.Add(-4*time.Minute)), body), body, 200, "applied"},
		{"replay: identical request", hookSite, ms(f.now.Add(-4 * time.Minute)), webflowdata.SignWebhook([]byte(hookSecret), ms(f.now.Add(-4*time.Minute)), body), body, 200, "duplicate"},
		{"replay: re-signed retry", hookSite, goodTS, goodSig, body, 200, "duplicate"},
		{"replay: signed with the OAuth client secret", hookSite, goodTS, webflowdata.SignWebhook([]byte(hookClientSec), goodTS, body), body, 200, "duplicate"},
	}
	for _, c := range cases {
		before := f.record(t).Version
		code, raw := f.post(c.site, c.ts, c.sig, c.body)
		if code != c.want || !strings.Contains(raw, c.wantInRsp) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, code, raw, c.want, c.wantInRsp)
		}
		if code != 200 && !strings.Contains(raw, "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Errorf("%s: error is not a SCIM Error: %s", c.name, raw)
		}
		after := f.record(t).Version
		if applied := after != before; applied != (c.wantInRsp == "applied") {
			t.Errorf("%s: record version %d → %d", c.name, before, after)
		}
	}
	rec := f.record(t)
	if wu := decodeWebflow(rec); wu == nil || wu.Status != webflowdata.StatusVerified || !rec.SyncedAt.Equal(f.now) || wu.InvitedOn.IsZero() {
		t.Errorf("snapshot not updated (or invitedOn lost): %+v synced %v", wu, rec.SyncedAt)
	}
	// The OAuth client secret verifies too (a new event).
	body2 := hookEvent(webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now, hookManaged))
	ts, sig := f.signed(hookClientSec, f.now, body2)
	if code, raw := f.post(hookSite, ts, sig, body2); code != 200 || !strings.Contains(raw, "applied") {
		t.Errorf("client secret: %d %s", code, raw)
	}
	// Oversized bodies and other methods.
	big := make([]byte, webhookMaxBody+1)
	ts, sig = f.signed(hookSecret, f.now, big)
	if code, _ := f.post(hookSite, ts, sig, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d", code)
	}
	req := httptest.NewRequest(http.MethodGet, "/webhooks/webflow/"+hookSite, nil)
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
	if n := f.upstream.Load(); n != 0 {
		t.Errorf("the receiver called Webflow %d times", n)
	}
}

func TestWebhookApply(t *testing.T) {
	ctx := context.Background()
	deliver := func(t *testing.T, f *hookFixture, trigger string, u webflowdata.User) string {
		t.Helper()
		body := hookEvent(trigger, u)
		ts, sig := f.signed(hookSecret, f.now, body)
		code, raw := f.post(hookSite, ts, sig, body)
		if code != 200 {
			t.Fatalf("%s: %d %s", trigger, code, raw)
		}
		var out struct{ Status string }
		_ = json.Unmarshal([]byte(raw), &out)
		return out.Status
	}
	pending := func(t *testing.T, f *hookFixture) int {
		qs, err := f.store.QueueStats(ctx, hookSite)
		if err != nil {
			t.Fatal(err)
		}
		return qs.Pending
	}

	t.Run("status change, groups as desired: stored, not queued", func(t *testing.T) {
		f := newHookFixture(t)
		if got := deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now, hookManaged, hookUnmanaged)); got != webhookApplied {
			t.Fatal(got)
		}
		wu := decodeWebflow(f.record(t))
		if wu.Status != webflowdata.StatusVerified || strings.Join(wu.Slugs(), ",") != hookManaged+","+hookUnmanaged || wu.Data["name"] != "Ada" {
			t.Errorf("%+v", wu)
		}
		if n := pending(t, f); n != 0 {
			t.Errorf("queued %d", n)
		}
	})
	t.Run("managed group removed in Webflow: queued", func(t *testing.T) {
		f := newHookFixture(t)
		deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now, hookUnmanaged))
		if n := pending(t, f); n != 1 {
			t.Errorf("pending %d, want 1", n)
		}
	})
	t.Run("managed group added in Webflow to an inactive user: queued", func(t *testing.T) {
		f := newHookFixture(t)
		rec := f.record(t)
		rec.Active = false
		if err := f.store.ReplaceUser(ctx, rec); err != nil {
			t.Fatal(err)
		}
		deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now, hookManaged))
		if n := pending(t, f); n != 1 {
			t.Errorf("pending %d, want 1", n)
		}
	})
	t.Run("older than the stored snapshot: ignored", func(t *testing.T) {
		f := newHookFixture(t)
		deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now, hookManaged))
		if got := deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusInvited, f.now.Add(-time.Minute))); got != webhookStale {
			t.Errorf("outcome %q", got)
		}
		if wu := decodeWebflow(f.record(t)); wu.Status != webflowdata.StatusVerified {
			t.Errorf("older event applied: %+v", wu)
		}
	})
	t.Run("deleted in Webflow: kept, unlinked, inactive", func(t *testing.T) {
		f := newHookFixture(t)
		deliver(t, f, webflowdata.TriggerUserAccountDeleted, f.updatedUser(webflowdata.StatusInvited, f.now.Add(-time.Hour), hookManaged))
		rec := f.record(t)
		if rec.WebflowUserID != "" || rec.Webflow != nil || rec.Active {
			t.Errorf("%+v", rec)
		}
		if _, err := f.store.FindUser(ctx, hookSite, state.IndexWebflowID, hookWebflowID); err == nil {
			t.Error("webflow id still indexed")
		}
		// The IdP's group wishes stay recorded for a reactivation.
		if ug, _ := f.store.UserGroups(ctx, hookSite, []string{hookSCIMID}); len(ug[hookSCIMID]) != 1 {
			t.Errorf("memberships: %v", ug)
		}
		// A later event for the gone user changes nothing.
		if got := deliver(t, f, webflowdata.TriggerUserAccountUpdated, f.updatedUser(webflowdata.StatusVerified, f.now)); got != webhookUnknown {
			t.Errorf("outcome %q", got)
		}
	})
	t.Run("added outside the bridge: not recorded", func(t *testing.T) {
		f := newHookFixture(t)
		u := f.updatedUser(webflowdata.StatusInvited, f.now)
		u.ID = hookOtherWFID
		if got := deliver(t, f, webflowdata.TriggerUserAccountAdded, u); got != webhookUnknown {
			t.Errorf("outcome %q", got)
		}
		if n, _ := f.store.CountUsers(ctx, hookSite); n != 1 {
			t.Errorf("%d users", n)
		}
	})
	t.Run("other trigger types: ignored", func(t *testing.T) {
		f := newHookFixture(t)
		body := []byte(`{"triggerType":"site_publish","payload":{"domains":["x.webflow.io"]}}`)
		ts, sig := f.signed(hookSecret, f.now, body)
		if code, raw := f.post(hookSite, ts, sig, body); code != 200 || !strings.Contains(raw, "ignored") {
			t.Errorf("%d %s", code, raw)
		}
	})
	t.Run("signed garbage: 400", func(t *testing.T) {
		f := newHookFixture(t)
		body := []byte(`{"triggerType":"user_account_updated","payload":"nope"}`)
		ts, sig := f.signed(hookSecret, f.now, body)
		if code, _ := f.post(hookSite, ts, sig, body); code != 400 {
			t.Errorf("%d", code)
		}
	})
}

func TestWebhookDedupeKey(t *testing.T) {
	a := webflowdata.WebhookEvent{TriggerType: "user_account_updated", Payload: json.RawMessage(`{"id":"x","lastUpdated":"2025-01-01T00:00:00.000Z","status":"verified"}`)}
	b := webflowdata.WebhookEvent{TriggerType: "user_account_updated", Payload: json.RawMessage(`{ "status":"verified", "lastUpdated":"2025-01-01T00:00:00.000Z","id":"x"}`)}
	c := webflowdata.WebhookEvent{TriggerType: "user_account_deleted", Payload: a.Payload}
	d := webflowdata.WebhookEvent{TriggerType: "user_account_updated", Payload: json.RawMessage(`{"id":"x","lastUpdated":"2025-01-01T00:00:00.000Z","status":"invited"}`)}
	if webhookDedupeKey(a) != webhookDedupeKey(b) {
		t.Error("key order changes the key")
	}
	if webhookDedupeKey(a) == webhookDedupeKey(c) || webhookDedupeKey(a) == webhookDedupeKey(d) {
		t.Error("different events share a key")
	}
}
