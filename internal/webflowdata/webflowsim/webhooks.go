package webflowsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// maxHooksPerTrigger is Webflow's cap per triggerType per site.
const maxHooksPerTrigger = 75

// webhookRetries is how many more times Webflow retries a failed delivery.
const webhookRetries = 3

// triggerTypes is the v2 TriggerType list as last published.
var triggerTypes = map[string]bool{
	"form_submission": true, "site_publish": true, "page_created": true,
	"page_metadata_updated": true, "page_deleted": true, "ecomm_new_order": true,
	"ecomm_order_changed": true, "ecomm_inventory_changed": true,
	webflowdata.TriggerUserAccountAdded: true, webflowdata.TriggerUserAccountUpdated: true,
	webflowdata.TriggerUserAccountDeleted: true, "collection_item_created": true,
	"collection_item_changed": true, "collection_item_deleted": true,
	"collection_item_published": true, "collection_item_unpublished": true,
	"comment_created": true,
}

// webhookState is a registration plus the key its deliveries are signed
// with: its own secretKey (site token) or the app's client secret (OAuth).
type webhookState struct {
	hook    webflowdata.Webhook // SecretKey is only ever shown on create
	signKey []byte
}

func (h *webhookState) public() webflowdata.Webhook {
	out := h.hook
	out.SecretKey = ""
	return out
}

func (s *Simulator) createWebhook(w http.ResponseWriter, r *http.Request, t *token, st *siteState) {
	m, ok := readJSONObject(w, r)
	if !ok {
		return
	}
	var req webflowdata.CreateWebhookRequest
	if b, _ := json.Marshal(m); json.Unmarshal(b, &req) != nil {
		validation(w, "triggerType and url must be strings")
		return
	}
	s.mu.RLock()
	removed := s.usersMode == ModeRemoved
	s.mu.RUnlock()
	if !triggerTypes[req.TriggerType] || (removed && strings.HasPrefix(req.TriggerType, "user_account_")) {
		writeError(w, http.StatusBadRequest, webflowdata.CodeUnsupportedTrigger, "Unsupported webhook trigger type: "+strconv.Quote(req.TriggerType))
		return
	}
	if u, err := url.Parse(req.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		validation(w, "url must be an absolute http(s) URL")
		return
	}
	filter := req.Filter
	if isNull(filter) {
		filter = nil
	} else if req.TriggerType != "form_submission" {
		writeError(w, http.StatusBadRequest, "incompatible_webhook_filter", "Filter is only supported for form_submission webhooks")
		return
	}
	now := webflowdata.NewTime(s.now())
	s.mu.Lock()
	n := 0
	for _, h := range st.hooks {
		if h.hook.TriggerType == req.TriggerType {
			n++
		}
	}
	if n >= maxHooksPerTrigger {
		s.mu.Unlock()
		validation(w, fmt.Sprintf("a site may have at most %d webhooks per triggerType", maxHooksPerTrigger))
		return
	}
	h := &webhookState{hook: webflowdata.Webhook{
		ID: s.ids.objectID(now.Time), TriggerType: req.TriggerType, URL: req.URL,
		WorkspaceID: s.workspace.ID, SiteID: st.site.ID, Filter: filter, CreatedOn: now,
	}}
	if t.isOAuthApp() {
		h.signKey = []byte(t.clientSecret)
	} else {
		h.hook.SecretKey = s.ids.secret()
		h.signKey = []byte(h.hook.SecretKey)
	}
	st.hooks = append(st.hooks, h)
	s.webhooks[h.hook.ID] = h
	out := h.hook
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Simulator) listWebhooks(w http.ResponseWriter, r *http.Request, st *siteState) {
	pg, ok := parsePaging(w, r, 100)
	if !ok {
		return
	}
	var out webflowdata.WebhookList
	s.mu.RLock()
	lo, hi := pg.window(len(st.hooks))
	out.Webhooks = make([]webflowdata.Webhook, 0, hi-lo)
	for _, h := range st.hooks[lo:hi] {
		out.Webhooks = append(out.Webhooks, h.public())
	}
	out.Pagination.Total = len(st.hooks)
	s.mu.RUnlock()
	out.Pagination.Limit, out.Pagination.Offset = pg.limit, pg.offset
	writeJSON(w, http.StatusOK, out)
}

// webhookByID serves GET (sites:read) and DELETE (sites:write) on
// /v2/webhooks/{id}. A webhook of a site the token cannot reach is 403.
func (s *Simulator) webhookByID(w http.ResponseWriter, r *http.Request, t *token, id string) {
	scope := scopeSitesRead
	if r.Method == http.MethodDelete {
		scope = scopeSitesWrite
	}
	if !requireScope(w, t, scope) {
		return
	}
	s.mu.Lock()
	h := s.webhooks[id]
	if h == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgHookNotFound)
		return
	}
	if !t.sites[h.hook.SiteID] {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, webflowdata.CodeForbidden, msgForbidden)
		return
	}
	if r.Method == http.MethodGet {
		out := h.public()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return
	}
	delete(s.webhooks, id)
	if st := s.sites[h.hook.SiteID]; st != nil {
		for i, x := range st.hooks {
			if x == h {
				st.hooks = append(st.hooks[:i], st.hooks[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Delivery is one attempt to deliver a webhook event.
type Delivery struct {
	WebhookID   string          `json:"webhookId"`
	URL         string          `json:"url"`
	TriggerType string          `json:"triggerType"`
	Attempt     int             `json:"attempt"` // 1 = first try
	Status      int             `json:"status"`  // 0 = transport error
	Error       string          `json:"error,omitempty"`
	Timestamp   string          `json:"timestamp"` // x-webflow-timestamp
	Signature   string          `json:"signature"` // x-webflow-signature
	Body        json.RawMessage `json:"body"`
	At          time.Time       `json:"at"`
}

type deliveries struct {
	mu     sync.Mutex
	list   []Delivery
	closed bool
}

// Deliveries returns every delivery attempt so far.
func (s *Simulator) Deliveries() []Delivery {
	s.deliv.mu.Lock()
	defer s.deliv.mu.Unlock()
	return append([]Delivery(nil), s.deliv.list...)
}

type deliveryJob struct {
	hookID, url, trigger string
	key                  []byte
	body                 []byte
}

// webhookJobs lists the deliveries an event causes. Caller holds s.mu.
// Only legacy mode fires user_account_* events: removed mode has no such
// triggers.
func (s *Simulator) webhookJobs(st *siteState, trigger string, payload []byte) []deliveryJob {
	if s.usersMode != ModeLegacy {
		return nil
	}
	var jobs []deliveryJob
	for _, h := range st.hooks {
		if h.hook.TriggerType != trigger {
			continue
		}
		body := make([]byte, 0, len(payload)+64)
		body = append(body, `{"triggerType":"`...)
		body = append(body, trigger...)
		body = append(body, `","payload":`...)
		body = append(body, payload...)
		body = append(body, '}')
		jobs = append(jobs, deliveryJob{hookID: h.hook.ID, url: h.hook.URL, trigger: trigger, key: h.signKey, body: body})
	}
	return jobs
}

// deliver starts one goroutine per job; Close stops and waits for them.
func (s *Simulator) deliver(jobs []deliveryJob) {
	if len(jobs) == 0 {
		return
	}
	s.deliv.mu.Lock()
	defer s.deliv.mu.Unlock()
	if s.deliv.closed {
		return
	}
	for _, j := range jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runDelivery(s.ctx, j)
		}()
	}
}

// runDelivery POSTs the event, retrying up to 3 more times on anything but
// 200, WebhookRetryInterval apart. Each attempt is signed afresh with its
// own timestamp, so a receiver's replay window holds for retries.
func (s *Simulator) runDelivery(ctx context.Context, j deliveryJob) {
	for attempt := 1; attempt <= 1+webhookRetries; attempt++ {
		now := s.now()
		ts := strconv.FormatInt(now.UnixMilli(), 10)
		sig := webflowdata.SignWebhook(j.key, ts, j.body)
		d := Delivery{WebhookID: j.hookID, URL: j.url, TriggerType: j.trigger, Attempt: attempt, Timestamp: ts, Signature: sig, Body: j.body, At: now}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(webflowdata.HeaderWebhookTimestamp, ts)
			req.Header.Set(webflowdata.HeaderWebhookSignature, sig)
			var resp *http.Response
			resp, err = s.opts.WebhookClient.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				_ = resp.Body.Close()
				d.Status = resp.StatusCode
			}
		}
		if err != nil {
			d.Error = err.Error()
		}
		if attempt == 1 {
			s.mu.Lock()
			if h := s.webhooks[j.hookID]; h != nil {
				h.hook.LastTriggered = webflowdata.NewTime(now)
			}
			s.mu.Unlock()
		}
		s.deliv.mu.Lock()
		s.deliv.list = append(s.deliv.list, d)
		s.deliv.mu.Unlock()
		if d.Status == http.StatusOK || ctx.Err() != nil {
			return
		}
		if attempt <= webhookRetries {
			t := time.NewTimer(s.opts.WebhookRetryInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
