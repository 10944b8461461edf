package scimserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Webflow webhooks (reference §4): POST /webhooks/webflow/{siteID}.
//
// The receiver is not behind the SCIM bearer token: a delivery is
// authenticated by its signature, hex(HMAC-SHA256(key, timestamp ":" body))
// over the raw body, compared in constant time, with x-webflow-timestamp
// (Unix ms) no more than 5 minutes away from now. The key is any of the
// site's stored per-webhook secretKeys (`bridge webhooks register` stores
// them) or the configured OAuth client secret (sites[].webhookSecret).
//
// A verified delivery is deduplicated (SET NX, 10 minutes, on a hash of
// its triggerType and canonical payload, so Webflow's re-signed retries
// and replays are both caught) and applied with a few Redis operations
// only: the receiver never calls Webflow, and answers 200 at once.
//
//   - user_account_added: a user the bridge does not know is only logged
//     (reconcile reports it); a known one is treated as an update.
//   - user_account_updated: the record's Webflow snapshot (status,
//     accessGroups, data) and SyncedAt are replaced, unless the stored
//     snapshot is newer (lastUpdated). If the managed groups differ from
//     what the IdP wants, the user is queued, and the membership worker
//     restores them on its next drain.
//   - user_account_deleted: the SCIM record is kept (the IdP holds its id),
//     its Webflow link and snapshot are cleared and it is marked inactive,
//     so the IdP sees the user is no longer provisioned. A later
//     reactivation (active=true) invites the address again, exactly as
//     after a deactivation under the delete policy.

// WebhookDedupeTTL is how long a delivery is remembered: twice the
// signature window, so a replay within the window is always caught.
const WebhookDedupeTTL = 10 * time.Minute

// webhookMaxBody bounds a delivery's body.
const webhookMaxBody = 1 << 20

// webhookSignatureFailure is the detail of every 401 past the header
// checks: a bad signature, no secret known for the site, or no such site.
const webhookSignatureFailure = "x-webflow-signature does not verify with any webhook secret of this site"

// unknownSiteWebhookKey is what a delivery to an unconfigured site is
// verified against, only to cost what a real verification costs.
const unknownSiteWebhookKey = "no-such-site"

// webhookKeys are the keys a delivery to st may be signed with. The
// configured OAuth client secret comes first.
func (s *Server) webhookKeys(ctx context.Context, st *site) ([][]byte, error) {
	var keys [][]byte
	if st.cfg.WebhookSecret != "" {
		keys = append(keys, []byte(st.cfg.WebhookSecret))
	}
	if s.hooks == nil {
		return keys, nil
	}
	stored, err := s.hooks.WebhookSecrets(ctx, st.cfg.ID)
	if err != nil {
		return nil, err
	}
	for _, w := range stored {
		if w.Secret != "" {
			keys = append(keys, []byte(w.Secret))
		}
	}
	return keys, nil
}

func writeWebhookOK(w http.ResponseWriter, outcome string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `{"status":%q}`+"\n", outcome)
}

// serveWebhook receives one Webflow webhook delivery.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["siteID"]
	st, known := s.sites[id]
	log := s.log.With("webhook", true)
	if known {
		log = st.users.log.With("webhook", true)
	}
	ts := r.Header.Get(webflowdata.HeaderWebhookTimestamp)
	sig := r.Header.Get(webflowdata.HeaderWebhookSignature)
	if ts == "" || sig == "" {
		writeError(w, http.StatusUnauthorized, "", "a Webflow webhook needs the x-webflow-timestamp and x-webflow-signature headers")
		return
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms <= 0 {
		writeError(w, http.StatusUnauthorized, "", "x-webflow-timestamp must be a Unix time in milliseconds")
		return
	}
	now := s.now()
	if age := now.Sub(time.UnixMilli(ms)); age > webflowdata.WebhookReplayWindow || age < -webflowdata.WebhookReplayWindow {
		log.Warn("webhook refused: timestamp outside the 5-minute window", "age", age.Round(time.Second).String())
		writeError(w, http.StatusUnauthorized, "", "x-webflow-timestamp is more than 5 minutes from now")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookMaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("webhook body larger than %d bytes", webhookMaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "", "could not read the webhook body")
		return
	}
	ctx := r.Context()
	if !known {
		// The same answer as a known site's with a bad signature, after
		// the same work (one HMAC of the body), so that site ids can be
		// neither enumerated nor timed.
		_ = webflowdata.VerifyWebhook([]byte(unknownSiteWebhookKey), ts, sig, body, now)
		log.Warn("webhook refused: no site with this id is configured")
		writeError(w, http.StatusUnauthorized, "", webhookSignatureFailure)
		return
	}
	keys, err := s.webhookKeys(ctx, st)
	if err != nil {
		log.Error("webhook: reading the stored webhook secrets", "error", err)
		writeError(w, http.StatusServiceUnavailable, "", "the bridge's state store is unavailable")
		return
	}
	if len(keys) == 0 {
		// The log says why; the answer is the bad-signature one, which an
		// unknown site also gets.
		log.Warn("webhook refused: no webhook secret is stored or configured for this site (run bridge webhooks register, or set sites[].webhookSecret)")
		writeError(w, http.StatusUnauthorized, "", webhookSignatureFailure)
		return
	}
	verified := false
	for _, k := range keys {
		if webflowdata.VerifyWebhook(k, ts, sig, body, now) == nil {
			verified = true
			break
		}
	}
	if !verified {
		log.Warn("webhook refused: bad signature")
		writeError(w, http.StatusUnauthorized, "", webhookSignatureFailure)
		return
	}

	var ev webflowdata.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.TriggerType == "" {
		writeError(w, http.StatusBadRequest, "invalidSyntax", "the webhook body is not a Webflow {triggerType, payload} envelope")
		return
	}
	switch ev.TriggerType {
	case webflowdata.TriggerUserAccountAdded, webflowdata.TriggerUserAccountUpdated, webflowdata.TriggerUserAccountDeleted:
	default:
		log.Info("webhook ignored: trigger type not handled", "trigger", ev.TriggerType)
		writeWebhookOK(w, "ignored")
		return
	}
	var wu webflowdata.User
	if err := json.Unmarshal(ev.Payload, &wu); err != nil || wu.ID == "" {
		writeError(w, http.StatusBadRequest, "invalidSyntax", "the webhook payload is not a Webflow user")
		return
	}

	key := webhookDedupeKey(ev)
	if s.hooks != nil {
		first, err := s.hooks.ClaimWebhookDelivery(ctx, st.cfg.ID, key, WebhookDedupeTTL)
		if err != nil {
			log.Error("webhook: dedupe claim", "error", err)
			writeError(w, http.StatusServiceUnavailable, "", "the bridge's state store is unavailable")
			return
		}
		if !first {
			log.Info("webhook replay dropped", "trigger", ev.TriggerType, "webflow_user_id", wu.ID)
			writeWebhookOK(w, "duplicate")
			return
		}
	}
	outcome, err := st.users.applyWebhook(ctx, ev.TriggerType, &wu)
	if err != nil {
		if s.hooks != nil {
			// Let Webflow's retry apply it.
			_ = s.hooks.ReleaseWebhookDelivery(context.WithoutCancel(ctx), st.cfg.ID, key)
		}
		log.Error("webhook: applying the update", "trigger", ev.TriggerType, "webflow_user_id", wu.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "", "the update could not be stored; Webflow will retry")
		return
	}
	writeWebhookOK(w, outcome)
}

// webhookDedupeKey identifies a delivery's content: sha256 of its
// triggerType and its payload re-encoded canonically (sorted keys), so the
// same event matches whatever the timestamp, signature or key order.
// payload.id and payload.lastUpdated are part of the payload.
func webhookDedupeKey(ev webflowdata.WebhookEvent) string {
	payload := []byte(ev.Payload)
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&v) == nil {
		if b, err := json.Marshal(v); err == nil {
			payload = b
		}
	}
	h := sha256.New()
	h.Write([]byte(ev.TriggerType))
	h.Write([]byte{'\n'})
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}

// Outcomes of applyWebhook, as answered to Webflow and logged.
const (
	webhookApplied = "applied"
	webhookUnknown = "unknown-user"
	webhookStale   = "stale"
)

// applyWebhook stores what a verified delivery says about a Webflow user.
// It uses the store only, never Webflow.
func (h *usersHandler) applyWebhook(ctx context.Context, trigger string, wu *webflowdata.User) (string, error) {
	for range 5 {
		rec, err := h.store.FindUser(ctx, h.site.ID, state.IndexWebflowID, wu.ID)
		if errors.Is(err, state.ErrNotFound) {
			if trigger == webflowdata.TriggerUserAccountAdded {
				// Also the bridge's own invite when its record is not saved yet.
				h.log.Info("webhook: a Webflow user was added that no record holds (yet); not recorded (if the bridge did not invite it, reconcile reports it)", "webflow_user_id", wu.ID)
			} else {
				h.log.Info("webhook: no record holds this Webflow user; nothing to update", "trigger", trigger, "webflow_user_id", wu.ID)
			}
			return webhookUnknown, nil
		}
		if err != nil {
			return "", err
		}
		var outcome string
		if trigger == webflowdata.TriggerUserAccountDeleted {
			outcome, err = h.webhookDeleted(ctx, rec)
		} else {
			outcome, err = h.webhookUpdated(ctx, rec, wu)
		}
		if errors.Is(err, state.ErrVersionMismatch) || errors.Is(err, state.ErrNotFound) {
			continue // changed meanwhile: look again
		}
		return outcome, err
	}
	return "", state.ErrVersionMismatch
}

// webhookUpdated merges the delivered user into the record's snapshot.
// The payload has no invitedOn or lastLogin: the stored ones are kept.
func (h *usersHandler) webhookUpdated(ctx context.Context, rec *state.UserRecord, wu *webflowdata.User) (string, error) {
	snap := decodeWebflow(rec)
	if snap != nil && !wu.LastUpdated.IsZero() && snap.LastUpdated.After(wu.LastUpdated.Time) {
		h.log.Info("webhook: older than the stored snapshot; ignored", "id", rec.ID, "webflow_user_id", wu.ID)
		return webhookStale, nil
	}
	merged := *wu
	if snap != nil {
		if merged.InvitedOn.IsZero() {
			merged.InvitedOn = snap.InvitedOn
		}
		if merged.LastLogin.IsZero() {
			merged.LastLogin = snap.LastLogin
		}
		if merged.CreatedOn.IsZero() {
			merged.CreatedOn = snap.CreatedOn
		}
		if merged.Data == nil {
			merged.Data = snap.Data
		}
	}
	next := *rec
	next.Webflow, _ = encodeSnapshot(&merged, &next)
	next.SyncedAt = h.now()
	if err := h.store.ReplaceUser(ctx, &next); err != nil {
		return "", err
	}
	if snap != nil && snap.Status != merged.Status {
		h.log.Info("webhook: Webflow status changed", "id", rec.ID, "from", snap.Status, "to", merged.Status)
	}
	managed, desired, err := h.desiredSlugs(ctx, &next)
	if err != nil {
		return "", err
	}
	if want, drift := fullList(&merged, managed, desired); drift {
		if err := h.store.Enqueue(ctx, h.site.ID, rec.ID); err != nil {
			return "", err
		}
		h.log.Warn("webhook: managed access groups changed in Webflow; queued to restore them", "id", rec.ID, "holds", merged.Slugs(), "want", want)
		if h.wake != nil {
			h.wake()
		}
	}
	return webhookApplied, nil
}

// webhookDeleted unlinks a record whose Webflow user was deleted in
// Webflow. The record stays (the IdP holds its id), inactive.
func (h *usersHandler) webhookDeleted(ctx context.Context, rec *state.UserRecord) (string, error) {
	next := *rec
	next.WebflowUserID = ""
	next.Webflow = nil
	next.Active = false
	next.SyncedAt = h.now()
	if err := h.store.ReplaceUser(ctx, &next); err != nil {
		return "", err
	}
	h.log.Warn("webhook: Webflow user deleted outside the bridge; record kept, unlinked and marked inactive", "id", rec.ID, "webflow_user_id", rec.WebflowUserID)
	return webhookApplied, nil
}
