package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// Webflow webhook state, shared by every replica:
//
//	<prefix>:{s:<site>}:webhooks:secrets      HASH webhook id → WebhookSecret JSON
//	<prefix>:{s:<site>}:webhooks:seen:<hex>   STRING "1" with a TTL (delivery dedupe)
//
// The secrets are written by `bridge webhooks register` (Webflow shows a
// webhook's secretKey only once, in the create answer) and read by the
// receiver to verify signatures.

// WebhookSecret is one registered webhook and the key its deliveries are
// signed with. Secret is empty when Webflow gave none (a webhook created
// by an OAuth app is signed with the app's client secret instead).
type WebhookSecret struct {
	ID          string    `json:"id"` // Webflow webhook id
	TriggerType string    `json:"triggerType"`
	URL         string    `json:"url"`
	Secret      string    `json:"secretKey,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// WebhookStore keeps webhook secrets and the delivery dedupe marks.
type WebhookStore interface {
	// StoreWebhookSecret stores or replaces a webhook's entry.
	StoreWebhookSecret(ctx context.Context, siteID string, w WebhookSecret) error
	// WebhookSecrets returns the site's entries, ordered by id.
	WebhookSecrets(ctx context.Context, siteID string) ([]WebhookSecret, error)
	// ForgetWebhookSecret removes an entry; removing a missing one is not an error.
	ForgetWebhookSecret(ctx context.Context, siteID, webhookID string) error
	// ClaimWebhookDelivery marks a delivery as seen (SET NX with ttl). It
	// reports false when the delivery was already claimed (a replay).
	ClaimWebhookDelivery(ctx context.Context, siteID, key string, ttl time.Duration) (bool, error)
	// ReleaseWebhookDelivery drops a claim, so that a delivery whose
	// application failed is applied when Webflow retries it.
	ReleaseWebhookDelivery(ctx context.Context, siteID, key string) error
}

var _ WebhookStore = (*RedisStore)(nil)

func (s *RedisStore) webhookSecretsKey(siteID string) string {
	return siteKey(s.prefix, siteID, "webhooks", "secrets")
}

func (s *RedisStore) webhookSeenKey(siteID, key string) string {
	return siteKey(s.prefix, siteID, "webhooks", "seen", key)
}

// StoreWebhookSecret implements WebhookStore.
func (s *RedisStore) StoreWebhookSecret(ctx context.Context, siteID string, w WebhookSecret) error {
	if err := ValidateSiteID(siteID); err != nil {
		return err
	}
	if w.ID == "" {
		return fmt.Errorf("%w: webhook id is required", ErrInvalid)
	}
	if err := errors.Join(validText("webhook id", w.ID), validText("webhook secret", w.Secret), validText("webhook url", w.URL)); err != nil {
		return err
	}
	if w.CreatedAt.IsZero() {
		w.CreatedAt = s.now().UTC()
	}
	doc, _ := json.Marshal(w)
	return s.rdb.HSet(ctx, s.webhookSecretsKey(siteID), w.ID, doc).Err()
}

// WebhookSecrets implements WebhookStore.
func (s *RedisStore) WebhookSecrets(ctx context.Context, siteID string) ([]WebhookSecret, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return nil, err
	}
	all, err := s.rdb.HGetAll(ctx, s.webhookSecretsKey(siteID)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]WebhookSecret, 0, len(all))
	for id, raw := range all {
		var w WebhookSecret
		if err := json.Unmarshal([]byte(raw), &w); err != nil {
			return nil, fmt.Errorf("decoding webhook secret %s: %w", id, err)
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ForgetWebhookSecret implements WebhookStore.
func (s *RedisStore) ForgetWebhookSecret(ctx context.Context, siteID, webhookID string) error {
	if err := ValidateSiteID(siteID); err != nil {
		return err
	}
	return s.rdb.HDel(ctx, s.webhookSecretsKey(siteID), webhookID).Err()
}

// ClaimWebhookDelivery implements WebhookStore.
func (s *RedisStore) ClaimWebhookDelivery(ctx context.Context, siteID, key string, ttl time.Duration) (bool, error) {
	if err := ValidateSiteID(siteID); err != nil {
		return false, err
	}
	if key == "" || ttl <= 0 {
		return false, fmt.Errorf("%w: a dedupe key and a positive ttl are required", ErrInvalid)
	}
	err := s.rdb.SetArgs(ctx, s.webhookSeenKey(siteID, key), "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// ReleaseWebhookDelivery implements WebhookStore.
func (s *RedisStore) ReleaseWebhookDelivery(ctx context.Context, siteID, key string) error {
	if err := ValidateSiteID(siteID); err != nil {
		return err
	}
	return s.rdb.Del(ctx, s.webhookSeenKey(siteID, key)).Err()
}
