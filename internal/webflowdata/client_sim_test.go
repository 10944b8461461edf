package webflowdata_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	wf "github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

const site = webflowsim.DemoSiteID

// harness is a simulator seeded with the demo workspace, served on loopback.
type harness struct {
	sim *webflowsim.Simulator
	srv *httptest.Server
}

func newHarness(t testing.TB, opts webflowsim.Options) *harness {
	t.Helper()
	sim := webflowsim.New(opts)
	if err := sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return &harness{sim: sim, srv: srv}
}

// callCounter is an Observer that counts calls by endpoint and status.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) ObserveCall(ci wf.CallInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[fmt.Sprintf("%s %d", ci.Endpoint, ci.Status)]++
}

func (c *callCounter) get(k string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[k] }

func (h *harness) client(t testing.TB, token string, cfg wf.Config) *wf.Client {
	t.Helper()
	cfg.BaseURL = h.srv.URL + "/v2"
	cfg.Token = wf.Token(token)
	if cfg.Sleep == nil {
		cfg.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	c, err := wf.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSimSitesAndToken(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	c := h.client(t, webflowsim.DemoOAuthToken, wf.Config{})

	sites, err := c.ListSites(ctx)
	if err != nil || len(sites) == 0 || sites[0].DisplayName == "" {
		t.Fatalf("ListSites: %+v %v", sites, err)
	}
	s, err := c.GetSite(ctx, site)
	if err != nil || s.ID != site || s.WorkspaceID == "" {
		t.Fatalf("GetSite: %+v %v", s, err)
	}
	in, err := c.Introspect(ctx)
	if err != nil || !strings.Contains(in.Authorization.Scope, "users:write") || len(in.Authorization.AuthorizedTo.SiteIDs) == 0 {
		t.Fatalf("Introspect: %+v %v", in, err)
	}
	by, err := c.AuthorizedBy(ctx)
	if err != nil || by.Email == "" {
		t.Fatalf("AuthorizedBy: %+v %v", by, err)
	}
	if _, err := c.GetSite(ctx, "ffffffffffffffffffffffff"); !wf.IsNotFound(err) && !wf.IsUnauthorized(err) {
		t.Errorf("unknown site: %v", err)
	}
}

func TestSimUserLifecycle(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	cc := &callCounter{}
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc})

	u, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "Arthur.Dent@heartofgold.ship", AccessGroups: []string{"members"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != wf.StatusInvited || u.Email() != "Arthur.Dent@heartofgold.ship" || len(u.AccessGroups) != 1 || u.AccessGroups[0].Type != wf.AccessGroupAdmin || len(u.ID) != 24 {
		t.Fatalf("invited user %+v", u)
	}
	if h.sim.InvitesTo("arthur.dent@heartofgold.ship") != 1 {
		t.Error("the simulator must record exactly one invitation email")
	}
	_, err = c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "ARTHUR.DENT@heartofgold.ship"})
	if !wf.IsDuplicateEmail(err) {
		t.Errorf("duplicate email (other case) must be 409 duplicate_user_email, got %v", err)
	}
	_, err = c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "x@y.co", AccessGroups: []string{"no-such-group"}})
	if !wf.IsValidation(err) {
		t.Errorf("unknown slug must be 400 validation_error, got %v", err)
	}

	got, err := c.GetUser(ctx, site, u.ID)
	if err != nil || got.ID != u.ID {
		t.Fatalf("GetUser %v", err)
	}
	up, err := c.UpdateUser(ctx, site, u.ID, wf.UpdateUserRequest{Data: wf.UserData{"name": "Arthur Dent", "accept-privacy": true, "country": "UK"}, AccessGroups: []string{"premium", "staff"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Data.Name() != "Arthur Dent" || up.Data["country"] != "UK" || up.Data.Email() != "Arthur.Dent@heartofgold.ship" || strings.Join(up.Slugs(), ",") != "premium,staff" {
		t.Errorf("PATCH must merge data and replace accessGroups: %+v", up)
	}
	up, err = c.UpdateUser(ctx, site, u.ID, wf.UpdateUserRequest{AccessGroups: []string{}})
	if err != nil || len(up.AccessGroups) != 0 || up.Data.Name() != "Arthur Dent" {
		t.Errorf("PATCH [] must clear groups and keep data: %+v %v", up, err)
	}
	if err := h.sim.VerifyUser(site, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetUser(ctx, site, u.ID); got.Status != wf.StatusVerified || !got.IsEmailVerified {
		t.Errorf("after verify: %+v", got)
	}
	if err := c.DeleteUser(ctx, site, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUser(ctx, site, u.ID); !wf.IsNotFound(err) || wf.IsUserAccountsUnavailable(err) {
		t.Errorf("deleted user: %v", err)
	}
	if err := c.DeleteUser(ctx, site, u.ID); !wf.IsNotFound(err) {
		t.Errorf("second delete must be a plain 404, got %v", err)
	}
	if cc.get(wf.EPDeleteUser+" 204") != 1 || cc.get(wf.EPInviteUser+" 200") != 1 || cc.get(wf.EPInviteUser+" 409") != 1 {
		t.Errorf("observer counts %v", cc.n)
	}
}

func TestSimKeepsEcommerceGroupsOnPatch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{})
	mike, err := c.FindUserByEmail(ctx, site, "MIKE@example.com")
	if err != nil {
		t.Fatal(err)
	}
	up, err := c.UpdateUser(ctx, site, mike.ID, wf.UpdateUserRequest{AccessGroups: []string{"staff", "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, g := range up.AccessGroups {
		types[g.Slug] = g.Type
	}
	if types["customers"] != wf.AccessGroupEcommerce || types["staff"] != wf.AccessGroupAdmin || len(types) != 2 {
		t.Errorf("groups after full-list PATCH: %+v", up.AccessGroups)
	}
	if _, err := c.UpdateUser(ctx, site, mike.ID, wf.UpdateUserRequest{Data: wf.UserData{"email": "new@example.com"}}); err == nil {
		t.Error("the client must refuse to send data.email")
	}
}

func TestSimPagingOver250Users(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	base := len(h.sim.Users(site))
	for i := range 250 {
		if _, err := h.sim.AddUser(site, webflowsim.SeedUser{Email: fmt.Sprintf("user%03d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cc := &callCounter{}
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc})
	all, err := c.ListAllUsers(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != base+250 {
		t.Fatalf("got %d users, want %d", len(all), base+250)
	}
	seen := map[string]bool{}
	for _, u := range all {
		if seen[u.ID] {
			t.Fatalf("duplicate %s", u.ID)
		}
		seen[u.ID] = true
	}
	if n := cc.get(wf.EPListUsers + " 200"); n != 3 {
		t.Errorf("253 users must take 3 calls at limit=100, took %d", n)
	}
	cc2 := &callCounter{}
	c2 := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc2})
	u, err := c2.FindUserByEmail(ctx, site, "USER120@EXAMPLE.COM")
	if err != nil || u.Email() != "user120@example.com" {
		t.Fatalf("FindUserByEmail: %v %v", u, err)
	}
	if n := cc2.get(wf.EPListUsers + " 200"); n != 2 {
		t.Errorf("lookup must stop at the page holding the match: %d calls", n)
	}
	if _, err := c2.FindUserByEmail(ctx, site, "nobody@example.com"); !errors.Is(err, wf.ErrUserNotFoundByEmail) {
		t.Errorf("missing email: %v", err)
	}
	page, err := c.ListUsers(ctx, site, wf.ListOptions{Limit: 5, Sort: "-Email"})
	if err != nil || page.Count != 5 || page.Limit != 5 || page.Total != base+250 || page.Users[0].Email() < page.Users[1].Email() {
		t.Errorf("sorted page: %+v %v", page, err)
	}
}

// A listing terminates even when users keep arriving while it pages.
func TestSimPagingTerminatesWhileTotalGrows(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	for i := range 150 {
		h.sim.AddUser(site, webflowsim.SeedUser{Email: fmt.Sprintf("a%03d@example.com", i)})
	}
	var n int
	grow := wf.ObserverFunc(func(ci wf.CallInfo) {
		n++
		for j := range 100 { // every page read adds a full page of new users
			h.sim.AddUser(site, webflowsim.SeedUser{Email: fmt.Sprintf("g%d-%d@example.com", n, j)})
		}
	})
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: grow})
	done := make(chan error, 1)
	go func() { _, err := c.ListAllUsers(ctx, site); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("listing did not terminate while the total kept growing")
	}
}

func TestSimAccessGroupsAndWebhooks(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{})
	for i := range 120 {
		if _, err := h.sim.AddAccessGroup(site, webflowsim.SeedAccessGroup{Name: fmt.Sprintf("Group %d", i), Slug: fmt.Sprintf("group-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{})
	groups, err := c.ListAccessGroups(ctx, site)
	if err != nil || len(groups) != 124 {
		t.Fatalf("access groups: %d %v", len(groups), err)
	}
	for _, g := range groups {
		if g.ID == "" || g.Slug == "" || g.Name == "" || g.CreatedOn.IsZero() {
			t.Fatalf("incomplete group %+v", g)
		}
	}

	hook, err := c.CreateWebhook(ctx, site, wf.CreateWebhookRequest{TriggerType: wf.TriggerUserAccountAdded, URL: "https://example.com/hook"})
	if err != nil || hook.ID == "" || hook.SecretKey == "" || hook.SiteID != site {
		t.Fatalf("CreateWebhook: %+v %v", hook, err)
	}
	if _, err := c.CreateWebhook(ctx, site, wf.CreateWebhookRequest{TriggerType: "memberships_user_session_login", URL: "https://example.com/h"}); !wf.IsValidation(err) {
		t.Errorf("unknown trigger: %v", err)
	}
	list, err := c.ListWebhooks(ctx, site)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListWebhooks %v %v", list, err)
	}
	if got, err := c.GetWebhook(ctx, hook.ID); err != nil || got.TriggerType != wf.TriggerUserAccountAdded {
		t.Fatalf("GetWebhook %v %v", got, err)
	}
	if err := c.DeleteWebhook(ctx, hook.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWebhook(ctx, hook.ID); !wf.IsNotFound(err) {
		t.Errorf("deleted webhook: %v", err)
	}
}

func TestSimErrorCodes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{MaxUsersPerSite: 4})
	tests := []struct {
		name  string
		token string
		call  func(c *wf.Client) error
		is    func(error) bool
		code  string
	}{
		{"unknown token", "nope", func(c *wf.Client) error { _, err := c.ListSites(ctx); return err }, wf.IsUnauthorized, wf.CodeNotAuthorized},
		{"missing scope", webflowsim.DemoReadToken, func(c *wf.Client) error {
			_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "s@example.com"})
			return err
		}, wf.IsUnauthorized, wf.CodeMissingScopes},
		{"user not found", webflowsim.DemoSiteToken, func(c *wf.Client) error { _, err := c.GetUser(ctx, site, "6287ec36a841b25637c663df"); return err }, wf.IsNotFound, ""},
		{"invalid email", webflowsim.DemoSiteToken, func(c *wf.Client) error {
			_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "not-an-email"})
			return err
		}, wf.IsValidation, ""},
		{"user limit", webflowsim.DemoSiteToken, func(c *wf.Client) error {
			_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "fourth@example.com"})
			if err != nil {
				return err
			}
			_, err = c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "fifth@example.com"})
			return err
		}, wf.IsUserLimit, wf.CodeUserLimitReached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client(t, tc.token, wf.Config{Retry: wf.NoRetry})
			err := tc.call(c)
			if !tc.is(err) {
				t.Fatalf("got %v", err)
			}
			e, ok := wf.AsAPIError(err)
			if !ok || (tc.code != "" && e.Code != tc.code) || len(e.Body) == 0 {
				t.Errorf("APIError %+v", e)
			}
			if tc.name == "missing scope" && !strings.Contains(e.Message, "OAuthForbidden: You are missing the following scopes - 'users:write'") {
				t.Errorf("missing-scope message: %q", e.Message)
			}
		})
	}
}

func TestSimRateLimitHeadersAnd429(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, webflowsim.Options{RateLimitPerMinute: 3})
	h.sim.SetRateLimit(3)
	var infos []wf.RateInfo
	lim := &observingLimiter{observe: func(i wf.RateInfo) { infos = append(infos, i) }}
	c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Limiter: lim})
	for range 3 {
		if _, err := c.ListSites(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.ListSites(ctx)
	if !wf.IsRateLimited(err) {
		t.Fatalf("4th call in a minute at 3/min: %v", err)
	}
	e, _ := wf.AsAPIError(err)
	if e.Code != wf.CodeTooManyRequests || e.RetryAfter <= 0 || e.RetryAfter > 60*time.Second {
		t.Errorf("429: %+v", e)
	}
	if len(infos) != 4 || infos[0].Limit != 3 || infos[0].Remaining != 2 || infos[2].Remaining != 0 || infos[3].Status != 429 || infos[3].RetryAfter <= 0 {
		t.Errorf("rate info reported to the limiter: %+v", infos)
	}
	// Limits are per token: another token still has its budget.
	c2 := h.client(t, webflowsim.DemoOAuthToken, wf.Config{})
	if _, err := c2.ListSites(ctx); err != nil {
		t.Errorf("a different token must have its own budget: %v", err)
	}
}

type observingLimiter struct {
	wf.NopLimiter
	observe func(wf.RateInfo)
}

func (l *observingLimiter) Observe(_ context.Context, _ string, i wf.RateInfo) { l.observe(i) }

func TestSimFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		fault     webflowsim.Fault
		call      func(c *wf.Client) error
		wantErr   func(error) bool
		wantCalls int // HTTP attempts observed
	}{
		{"503 on GET is retried", webflowsim.Fault{Method: "GET", Path: "/v2/sites/*/users/*", Status: 503},
			func(c *wf.Client) error { _, err := c.GetUser(ctx, site, "6b086ef74d458077cf00f9b8"); return err }, wf.IsNotFound, 2},
		{"500 on invite is not retried", webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/users/invite", Status: 500},
			func(c *wf.Client) error {
				_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "f@example.com"})
				return err
			}, wf.IsAmbiguous, 1},
		{"429 surfaces as rate limited", webflowsim.Fault{Path: "/v2/sites", Status: 429, RetryAfter: "7"},
			func(c *wf.Client) error { _, err := c.ListSites(ctx); return err },
			func(err error) bool {
				e, _ := wf.AsAPIError(err)
				return wf.IsRateLimited(err) && e.RetryAfter == 7*time.Second
			}, 1},
		// Go's transport may itself resend an idempotent request whose
		// reused connection was dropped, so 1 or 2 attempts are both right.
		{"dropped connection on GET is retried", webflowsim.Fault{Method: "GET", Path: "/v2/sites", Drop: true},
			func(c *wf.Client) error { _, err := c.ListSites(ctx); return err }, nil, -1},
		{"dropped connection on invite is ambiguous", webflowsim.Fault{Method: "POST", Path: "/v2/sites/*/users/invite", Drop: true},
			func(c *wf.Client) error {
				_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "g@example.com"})
				return err
			}, wf.IsAmbiguous, 1},
		{"502 twice then success", webflowsim.Fault{Path: "/v2/sites", Status: 502, Count: 2},
			func(c *wf.Client) error { _, err := c.ListSites(ctx); return err }, nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, webflowsim.Options{})
			cc := &countingObserver{}
			c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc})
			_ = mikeID(t, c) // warm-up call, not counted below
			cc.reset()
			h.sim.InjectFault(tc.fault)
			err := tc.call(c)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("want success after retry, got %v", err)
			}
			if tc.wantErr != nil && !tc.wantErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if got := cc.count(); tc.wantCalls >= 0 && got != tc.wantCalls {
				t.Errorf("%d HTTP attempts, want %d", got, tc.wantCalls)
			}
		})
	}

	t.Run("dropped fresh connection is retried by the client's policy", func(t *testing.T) {
		h := newHarness(t, webflowsim.Options{})
		cc := &countingObserver{}
		noReuse := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc, HTTPClient: noReuse})
		h.sim.InjectFault(webflowsim.Fault{Method: "GET", Path: "/v2/sites", Drop: true})
		if _, err := c.ListSites(ctx); err != nil {
			t.Fatalf("want success after retry, got %v", err)
		}
		if cc.count() != 2 {
			t.Errorf("%d attempts, want 2 (drop, then success)", cc.count())
		}
	})
	t.Run("delay is bounded by the context deadline", func(t *testing.T) {
		h := newHarness(t, webflowsim.Options{})
		c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Retry: wf.NoRetry})
		h.sim.InjectFault(webflowsim.Fault{Path: "/v2/sites", Delay: 2 * time.Second})
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := c.ListSites(dctx); err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want deadline exceeded, got %v", err)
		}
	})
	t.Run("delay then normal answer", func(t *testing.T) {
		h := newHarness(t, webflowsim.Options{})
		c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Retry: wf.NoRetry})
		h.sim.InjectFault(webflowsim.Fault{Path: "/v2/sites", Delay: 50 * time.Millisecond})
		if _, err := c.ListSites(ctx); err != nil {
			t.Errorf("delayed request must still succeed: %v", err)
		}
	})
	t.Run("random faults are reproducible", func(t *testing.T) {
		run := func() string {
			h := newHarness(t, webflowsim.Options{})
			h.sim.SetRandomFaults(webflowsim.RandomFaults{Seed: 42, Rate: 0.5, Statuses: []int{500}})
			c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Retry: wf.NoRetry})
			var b strings.Builder
			for range 20 {
				if _, err := c.ListSites(ctx); err != nil {
					b.WriteByte('x')
				} else {
					b.WriteByte('.')
				}
			}
			return b.String()
		}
		a, b := run(), run()
		if a != b || !strings.Contains(a, "x") || !strings.Contains(a, ".") {
			t.Errorf("seeded random faults: %s vs %s", a, b)
		}
	})
}

type countingObserver struct {
	mu sync.Mutex
	n  int
}

func (c *countingObserver) ObserveCall(wf.CallInfo) { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *countingObserver) count() int              { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
func (c *countingObserver) reset()                  { c.mu.Lock(); c.n = 0; c.mu.Unlock() }

func mikeID(t *testing.T, c *wf.Client) string {
	t.Helper()
	u, err := c.FindUserByEmail(context.Background(), site, "mike@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestSimRemovedModeIsUserAccountsUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		code   string
	}{
		{"default 404 resource_not_found", 0, ""},
		{"403 users_not_enabled", http.StatusForbidden, wf.CodeUsersNotEnabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, webflowsim.Options{UsersMode: webflowsim.ModeRemoved})
			if tc.status != 0 {
				h.sim.SetRemovedAnswer(tc.status, tc.code)
			}
			cc := &countingObserver{}
			c := h.client(t, webflowsim.DemoSiteToken, wf.Config{Observer: cc})
			calls := []func() error{
				func() error { _, err := c.ListUsers(ctx, site, wf.ListOptions{}); return err },
				func() error { _, err := c.GetUser(ctx, site, "6287ec36a841b25637c663df"); return err },
				func() error {
					_, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "a@example.com"})
					return err
				},
				func() error {
					_, err := c.UpdateUser(ctx, site, "6287ec36a841b25637c663df", wf.UpdateUserRequest{AccessGroups: []string{}})
					return err
				},
				func() error { return c.DeleteUser(ctx, site, "6287ec36a841b25637c663df") },
				func() error { _, err := c.ListAccessGroups(ctx, site); return err },
				func() error { _, err := c.FindUserByEmail(ctx, site, "a@example.com"); return err },
			}
			for i, call := range calls {
				err := call()
				if !errors.Is(err, wf.ErrUserAccountsUnavailable) || wf.IsNotFound(err) {
					t.Errorf("call %d: %v", i, err)
				}
				if err != nil && !strings.Contains(err.Error(), "2026-01-29") {
					t.Errorf("call %d: the error must say when Webflow disabled User Accounts: %v", i, err)
				}
			}
			if cc.count() != len(calls) {
				t.Errorf("sunset answers must never be retried: %d attempts for %d calls", cc.count(), len(calls))
			}
			if _, err := c.ListSites(ctx); err != nil {
				t.Errorf("sites still work in removed mode: %v", err)
			}
		})
	}
}
