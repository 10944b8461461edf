package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// userAccountTriggers are the webhooks the bridge listens to.
var userAccountTriggers = []string{
	webflowdata.TriggerUserAccountAdded,
	webflowdata.TriggerUserAccountUpdated,
	webflowdata.TriggerUserAccountDeleted,
}

// errTriggersGone is what registration says when Webflow refuses the
// user_account_* trigger types (User Accounts were removed).
var errTriggersGone = errors.New("Webflow no longer offers the user_account_* webhooks (User Accounts were disabled on " + webflowdata.SunsetDate + "); nothing was registered for them")

// runWebhooks is "bridge webhooks register --config FILE --site ID --url URL".
func runWebhooks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "register" {
		fmt.Fprintln(stderr, "usage: bridge webhooks register --config FILE --site ID [--url URL]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errors.New("unknown or missing subcommand; only \"register\" exists")
	}
	fs := flag.NewFlagSet("webhooks register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "config file (YAML; ${VAR} is expanded from the environment)")
	siteID := fs.String("site", "", "the Webflow site id (one of sites[].id)")
	hookURL := fs.String("url", "", "the public URL Webflow posts to (default: publicURL + /webhooks/webflow/{site})")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, log, err := loadConfigLogged(*path, stderr)
	if err != nil {
		return err
	}
	var sc *config.SiteConfig
	for i := range cfg.Sites {
		if cfg.Sites[i].ID == *siteID {
			sc = &cfg.Sites[i]
		}
	}
	if sc == nil {
		return fmt.Errorf("--site %q is not one of the configured sites", *siteID)
	}
	if *hookURL == "" {
		*hookURL = cfg.PublicURL + "/webhooks/webflow/" + sc.ID
	}
	if cfg.Redis.URL == "" {
		return errors.New("redis.url is required: the webhook secrets must be stored where the running bridge reads them (the embedded store lives only inside one process)")
	}
	rdb, err := state.Open(ctx, cfg.Redis.URL)
	if err != nil {
		return fmt.Errorf("connecting to Redis: %w", err)
	}
	defer rdb.Close()
	sopts := state.Options{Prefix: cfg.Redis.KeyPrefix}
	if err := sopts.Validate(); err != nil {
		return fmt.Errorf("redis.keyPrefix: %w", err)
	}
	perKey := map[string]int{}
	if sc.RateLimitPerMinute > 0 {
		perKey[webflowdata.Token(sc.WebflowToken).Fingerprint()] = sc.RateLimitPerMinute
	}
	// The budget is shared with the running replicas through Redis.
	limiter, err := state.NewLimiter(rdb, state.LimiterOptions{
		Prefix: cfg.Redis.KeyPrefix, DefaultPerMinute: cfg.Webflow.RateLimitPerMinute, PerKey: perKey,
		MaxWait: time.Duration(cfg.Webflow.MaxWait), Logger: log, MaxPause: time.Duration(cfg.Webflow.MaxRetryAfter),
	})
	if err != nil {
		return fmt.Errorf("rate limiter: %w", err)
	}
	wf, err := webflowdata.NewClient(webflowdata.Config{
		BaseURL: cfg.Webflow.APIBaseURL, Token: webflowdata.Token(sc.WebflowToken),
		Limiter: limiter, Retry: webflowdata.BackoffPolicy{Retry429: true}, MaxRetryAfter: time.Duration(cfg.Webflow.MaxRetryAfter),
	})
	if err != nil {
		return err
	}
	return registerWebhooks(ctx, wf, state.NewRedisStore(rdb, sopts), sc.ID, *hookURL, sc.WebhookSecret != "", stdout)
}

// webhookRow is one line of the registration summary.
type webhookRow struct{ trigger, id, action string }

// registerWebhooks registers the user_account_* webhooks of siteID to
// hookURL and stores each one's secretKey, so that every replica can
// verify deliveries. A trigger already registered to hookURL is skipped
// when its secret is known (stored, or the configured OAuth client
// secret); one whose secret was lost is deleted and registered again,
// because Webflow shows a secretKey only when it creates the webhook.
// Stored secrets of webhooks Webflow no longer lists are forgotten. The
// summary never shows a secret.
func registerWebhooks(ctx context.Context, wf *webflowdata.Client, store state.WebhookStore, siteID, hookURL string, haveClientSecret bool, out io.Writer) error {
	u, err := url.Parse(hookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--url %q must be an absolute http(s) URL", hookURL)
	}
	if !strings.HasSuffix(u.Path, "/webhooks/webflow/"+siteID) {
		fmt.Fprintf(out, "note: the bridge receives this site's webhooks at <publicURL>/webhooks/webflow/%s; %s does not end that way\n", siteID, hookURL)
	}
	existing, err := wf.ListWebhooks(ctx, siteID)
	if err != nil {
		return fmt.Errorf("listing the site's webhooks: %w", err)
	}
	stored, err := store.WebhookSecrets(ctx, siteID)
	if err != nil {
		return fmt.Errorf("reading the stored webhook secrets: %w", err)
	}
	known := map[string]bool{}
	for _, s := range stored {
		known[s.ID] = true
	}
	live := map[string]bool{}
	for _, h := range existing {
		live[h.ID] = true
	}

	var rows []webhookRow
	var noSecret []string
	for _, trig := range userAccountTriggers {
		var have *webflowdata.Webhook
		for i := range existing {
			if existing[i].TriggerType == trig && existing[i].URL == hookURL {
				have = &existing[i]
				break
			}
		}
		action := "registered"
		if have != nil {
			switch {
			case known[have.ID]:
				rows = append(rows, webhookRow{trig, have.ID, "already registered; secret stored"})
				continue
			case haveClientSecret:
				rows = append(rows, webhookRow{trig, have.ID, "already registered; verified with sites[].webhookSecret"})
				continue
			}
			// Registered, but nobody here can verify it: get a new secret.
			if err := wf.DeleteWebhook(ctx, have.ID); err != nil && !webflowdata.IsNotFound(err) {
				return fmt.Errorf("%s: replacing webhook %s whose secret is not stored: %w", trig, have.ID, err)
			}
			delete(live, have.ID)
			action = "re-registered (its secret was not stored)"
		}
		h, err := wf.CreateWebhook(ctx, siteID, webflowdata.CreateWebhookRequest{TriggerType: trig, URL: hookURL})
		if err != nil {
			if triggerGone(err) {
				writeWebhookSummary(out, siteID, hookURL, rows)
				return errTriggersGone
			}
			return fmt.Errorf("registering %s: %w", trig, err)
		}
		live[h.ID] = true
		if err := store.StoreWebhookSecret(ctx, siteID, state.WebhookSecret{ID: h.ID, TriggerType: trig, URL: hookURL, Secret: h.SecretKey}); err != nil {
			return fmt.Errorf("%s: webhook %s registered, but storing its secret failed (run register again to replace it): %w", trig, h.ID, err)
		}
		if h.SecretKey == "" {
			noSecret = append(noSecret, trig)
		}
		rows = append(rows, webhookRow{trig, h.ID, action})
	}
	// Secrets of webhooks that no longer exist only widen what verifies.
	forgotten := 0
	for _, s := range stored {
		if !live[s.ID] {
			if err := store.ForgetWebhookSecret(ctx, siteID, s.ID); err == nil {
				forgotten++
			}
		}
	}
	writeWebhookSummary(out, siteID, hookURL, rows)
	if forgotten > 0 {
		fmt.Fprintf(out, "forgot the stored secrets of %d webhook(s) Webflow no longer lists\n", forgotten)
	}
	if len(noSecret) > 0 && !haveClientSecret {
		fmt.Fprintf(out, "warning: Webflow returned no secretKey for %s (a token of an OAuth app?): those deliveries are signed with the app's client secret; set sites[].webhookSecret, or they will be refused\n", strings.Join(noSecret, ", "))
	}
	return nil
}

// triggerGone reports Webflow refusing a user_account_* trigger type.
func triggerGone(err error) bool {
	if webflowdata.IsUserAccountsUnavailable(err) {
		return true
	}
	e, ok := webflowdata.AsAPIError(err)
	return ok && strings.EqualFold(e.Code, webflowdata.CodeUnsupportedTrigger)
}

func writeWebhookSummary(out io.Writer, siteID, hookURL string, rows []webhookRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(out, "site %s, webhook URL %s\n", siteID, hookURL)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRIGGER\tWEBHOOK ID\tRESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.trigger, r.id, r.action)
	}
	_ = tw.Flush()
}
