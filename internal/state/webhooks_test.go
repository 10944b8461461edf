package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func runWebhookConformance(t *testing.T, s *RedisStore, rdb redis.UniversalClient, expire func(d time.Duration)) {
	t.Helper()
	ctx := context.Background()
	const site = "site-1"
	if got, err := s.WebhookSecrets(ctx, site); err != nil || len(got) != 0 {
		t.Fatalf("empty site: %v %v", got, err)
	}
	for _, w := range []WebhookSecret{
		{ID: "h2", TriggerType: "user_account_updated", URL: "https://b.example/hook", Secret: "s2"},
		{ID: "h1", TriggerType: "user_account_added", URL: "https://b.example/hook", Secret: "s1"},
		{ID: "h3", TriggerType: "user_account_deleted", URL: "https://b.example/hook"}, // OAuth: no secret
	} {
		if err := s.StoreWebhookSecret(ctx, site, w); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.WebhookSecrets(ctx, site)
	if err != nil || len(got) != 3 || got[0].ID != "h1" || got[0].Secret != "s1" || got[2].Secret != "" || got[1].CreatedAt.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}
	// Replacing keeps one entry per webhook id.
	if err := s.StoreWebhookSecret(ctx, site, WebhookSecret{ID: "h1", TriggerType: "user_account_added", Secret: "s1b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetWebhookSecret(ctx, site, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetWebhookSecret(ctx, site, "missing"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebhookSecrets(ctx, site)
	if len(got) != 2 || got[0].Secret != "s1b" || got[1].ID != "h3" {
		t.Fatalf("%+v", got)
	}
	// Sites do not see each other's secrets.
	if other, _ := s.WebhookSecrets(ctx, "site-2"); len(other) != 0 {
		t.Fatalf("site-2 sees %+v", other)
	}
	if err := s.StoreWebhookSecret(ctx, site, WebhookSecret{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty id: %v", err)
	}
	if err := s.StoreWebhookSecret(ctx, "bad{site}", WebhookSecret{ID: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad site: %v", err)
	}

	// Dedupe: the first claim wins, later ones are replays, until the TTL.
	ok, err := s.ClaimWebhookDelivery(ctx, site, "k1", 10*time.Minute)
	if err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := s.ClaimWebhookDelivery(ctx, site, "k1", 10*time.Minute); err != nil || ok {
		t.Fatalf("replay claimed: %v %v", ok, err)
	}
	if ok, _ := s.ClaimWebhookDelivery(ctx, "site-2", "k1", 10*time.Minute); !ok {
		t.Fatal("claims are per site")
	}
	ttl, err := rdb.PTTL(ctx, s.webhookSeenKey(site, "k1")).Result()
	if err != nil || ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("ttl %v %v", ttl, err)
	}
	if err := s.ReleaseWebhookDelivery(ctx, site, "k1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ClaimWebhookDelivery(ctx, site, "k1", 10*time.Minute); !ok {
		t.Fatal("released claim not claimable again")
	}
	if _, err := s.ClaimWebhookDelivery(ctx, site, "", time.Minute); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty key: %v", err)
	}
	if expire != nil {
		if ok, _ := s.ClaimWebhookDelivery(ctx, site, "k2", time.Second); !ok {
			t.Fatal("k2")
		}
		expire(2 * time.Second)
		if ok, _ := s.ClaimWebhookDelivery(ctx, site, "k2", time.Second); !ok {
			t.Fatal("claim did not expire")
		}
	}
}

func TestWebhooksMiniredis(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		mr, rdb := newMiniredisClient(t, cluster)
		runWebhookConformance(t, NewRedisStore(rdb, Options{}), rdb, mr.FastForward)
	}
}

func TestWebhooksRedis(t *testing.T) {
	rdb := realRedis(t)
	prefix := "wfbtest-w-" + randomHex(t, 6)
	t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
	runWebhookConformance(t, NewRedisStore(rdb, Options{Prefix: prefix}), rdb, func(d time.Duration) { time.Sleep(d + 100*time.Millisecond) })
}
