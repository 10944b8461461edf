package webflowdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is Webflow's Data API v2.
const DefaultBaseURL = "https://api.webflow.com/v2"

// DefaultUserAgent identifies the bridge to Webflow.
const DefaultUserAgent = "webflow-scim-bridge/0.1"

// PageLimit is the page size the client always asks for: the maximum.
// Webflow's default is 10, which would cost ten times the calls.
const PageLimit = 100

// maxPages bounds a full listing: 20,000 users per site is 200 pages, and
// the bound keeps a listing finite even while the total keeps growing.
const maxPages = 20000/PageLimit + 50

// Response size bounds, so a misbehaving upstream cannot exhaust memory.
const (
	maxBodyBytes  = 32 << 20
	maxErrorBytes = 64 << 10
)

// Config configures a Client. Only Token is required.
type Config struct {
	BaseURL    string // default DefaultBaseURL
	Token      Token
	HTTPClient *http.Client // default: a client with sane transport timeouts
	UserAgent  string
	Limiter    Limiter     // default NopLimiter
	Retry      RetryPolicy // default BackoffPolicy{}
	Observer   Observer    // optional
	Audit      Auditor     // optional: called after every successful change
	// Timeout bounds each attempt when ctx has no earlier deadline.
	Timeout time.Duration // default 30s
	// MaxRetryAfter caps what a Retry-After on a 429 makes the bridge
	// wait: the Limiter's pause, the retry of a queued write, the
	// Retry-After passed to the IdP. Default DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Sleep waits between retries; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client is the one way the bridge talks to the Webflow Data API. It is
// safe for concurrent use.
type Client struct {
	base     *url.URL
	baseURL  string // base.String(), which every call's URL starts with
	token    Token
	bearer   Token     // "Bearer " + token: the Authorization header's value
	decoders sync.Pool // *jsontext.Decoder for answers (decodeWire)
	key      string
	hc       *http.Client
	ua       string
	limiter  Limiter
	retry    RetryPolicy
	observer Observer
	audit    Auditor
	timeout  time.Duration
	maxRetry time.Duration // MaxRetryAfter
	sleep    func(context.Context, time.Duration) error
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("webflowdata: a Webflow API token is required")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("webflowdata: invalid base URL %q", raw)
	}
	c := &Client{
		base: base, baseURL: base.String(), token: cfg.Token, bearer: "Bearer " + cfg.Token, key: cfg.Token.Fingerprint(),
		hc: cfg.HTTPClient, ua: cfg.UserAgent, limiter: cfg.Limiter, retry: cfg.Retry,
		observer: cfg.Observer, audit: cfg.Audit, timeout: cfg.Timeout, maxRetry: cfg.MaxRetryAfter, sleep: cfg.Sleep,
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	if c.limiter == nil {
		c.limiter = NopLimiter{}
	}
	if c.retry == nil {
		c.retry = BackoffPolicy{}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.maxRetry <= 0 {
		c.maxRetry = DefaultMaxRetryAfter
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		// A redirect would resend the bearer token elsewhere; Webflow's API does not redirect.
		return http.ErrUseLastResponse
	}}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TokenKey is the token's fingerprint: the key its rate budget is counted under.
func (c *Client) TokenKey() string { return c.key }

// String never shows the token.
func (c *Client) String() string { return "webflowdata.Client{" + c.base.String() + " " + c.key + "}" }

// Endpoint templates, used for call accounting and errors.
const (
	EPListSites        = "GET /sites"
	EPGetSite          = "GET /sites/{site_id}"
	EPIntrospect       = "GET /token/introspect"
	EPAuthorizedBy     = "GET /token/authorized_by"
	EPListUsers        = "GET /sites/{site_id}/users"
	EPGetUser          = "GET /sites/{site_id}/users/{user_id}"
	EPInviteUser       = "POST /sites/{site_id}/users/invite"
	EPUpdateUser       = "PATCH /sites/{site_id}/users/{user_id}"
	EPDeleteUser       = "DELETE /sites/{site_id}/users/{user_id}"
	EPListAccessGroups = "GET /sites/{site_id}/accessgroups"
	EPListWebhooks     = "GET /sites/{site_id}/webhooks"
	EPCreateWebhook    = "POST /sites/{site_id}/webhooks"
	EPGetWebhook       = "GET /webhooks/{webhook_id}"
	EPDeleteWebhook    = "DELETE /webhooks/{webhook_id}"
)

// usersRoute reports routes that Webflow removed with User Accounts.
func usersRoute(endpoint string) bool {
	return strings.Contains(endpoint, "/users") || strings.Contains(endpoint, "/accessgroups")
}

type request struct {
	call  Call
	path  string // escaped path below the base
	query url.Values
	body  any
	out   any // decoded on 2xx, unless nil
}

// do runs one logical call: limiter, attempts, retries, typed errors.
func (c *Client) do(ctx context.Context, r request) error {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("webflow %s: encode body: %w", r.call.Endpoint, err)
		}
	}
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	start := time.Now()
	for n := 1; ; n++ {
		if err := c.limiter.Wait(ctx, c.key); err != nil {
			return fmt.Errorf("webflow %s: waiting for rate budget: %w", r.call.Endpoint, err)
		}
		status, info, err := c.attempt(ctx, r, target, payload, n)
		if err == nil {
			return nil
		}
		wait, again := c.retry.Retry(r.call, Attempt{N: n, Status: status, Err: err, Elapsed: time.Since(start), RateInfo: info})
		if !again {
			return err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (retry abandoned: %w)", err, serr)
		}
	}
}

func (c *Client) attempt(ctx context.Context, r request, target string, payload []byte, n int) (int, RateInfo, error) {
	// A ctx whose deadline comes before the timeout bounds the attempt
	// already; WithTimeout would only add a cancel to it.
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.call.Method, target, body)
	if err != nil {
		return 0, RateInfo{}, fmt.Errorf("webflow %s: %w", r.call.Endpoint, err)
	}
	req.Header = c.header(RequestIDFrom(ctx), payload != nil)
	if cc, ok := ctx.Value(callCountKey{}).(*CallCount); ok {
		cc.n.Add(1)
	}
	t0 := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		// The token travels in a header, never in the URL, so the
		// *url.Error text is safe to keep.
		terr := &TransportError{Endpoint: r.call.Endpoint, Err: err}
		c.observe(r.call, 0, n, time.Since(t0), terr)
		return 0, RateInfo{}, terr
	}
	defer resp.Body.Close()
	// Clamped here, before anything acts on it; the Limiter logs the
	// header as sent.
	info, _ := RateInfoFrom(resp).ClampRetryAfter(c.maxRetry)
	c.limiter.Observe(ctx, c.key, info)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var derr error
		lr := &io.LimitedReader{R: resp.Body, N: maxBodyBytes}
		if r.out != nil && resp.StatusCode != http.StatusNoContent {
			if err := decodeWire(&c.decoders, lr, r.out); err != nil {
				derr = &TransportError{Endpoint: r.call.Endpoint, Err: fmt.Errorf("decode response: %w", err)}
			}
		}
		lr.N = maxErrorBytes // what may follow the value is drained, within bounds
		_, _ = io.Copy(io.Discard, lr)
		c.observe(r.call, resp.StatusCode, n, time.Since(t0), derr)
		return resp.StatusCode, info, derr
	}
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	apiErr := &APIError{Method: r.call.Method, Endpoint: r.call.Endpoint, Status: resp.StatusCode, Body: raw, RetryAfter: info.RetryAfter}
	var eb ErrorBody
	if json.Unmarshal(raw, &eb) == nil {
		apiErr.Code, apiErr.Message = eb.Code, eb.Message
	}
	if rerr != nil && apiErr.Message == "" {
		apiErr.Message = "reading error body: " + rerr.Error()
	}
	if usersRoute(r.call.Endpoint) &&
		((resp.StatusCode == http.StatusNotFound && apiErr.Code == CodeResourceNotFound) ||
			(resp.StatusCode == http.StatusForbidden && apiErr.Code == CodeUsersNotEnabled)) {
		apiErr.unavailable = true
	}
	c.observe(r.call, resp.StatusCode, n, time.Since(t0), apiErr)
	return resp.StatusCode, info, apiErr
}

// header is an attempt's request header: the values share one array,
// each slice capped at its one value, and the map is sized for them.
func (c *Client) header(requestID string, hasBody bool) http.Header {
	vals := [5]string{c.bearer.Reveal(), "application/json", c.ua}
	h := make(http.Header, 5)
	h["Authorization"] = vals[0:1:1]
	h["Accept"] = vals[1:2:2]
	h["User-Agent"] = vals[2:3:3]
	if requestID != "" {
		vals[3] = requestID
		h["X-Request-Id"] = vals[3:4:4]
	}
	if hasBody {
		vals[4] = "application/json"
		h["Content-Type"] = vals[4:5:5]
	}
	return h
}

func (c *Client) observe(call Call, status, n int, d time.Duration, err error) {
	if c.observer != nil {
		c.observer.ObserveCall(CallInfo{Method: call.Method, Endpoint: call.Endpoint, Status: status, Attempt: n, Duration: d, Err: err})
	}
}

// RateInfoFrom reads what a Webflow response says about the token's
// budget (every surface calling Webflow uses it, so they agree).
func RateInfoFrom(resp *http.Response) RateInfo {
	info := RateInfo{Status: resp.StatusCode, Limit: headerInt(resp.Header, "X-RateLimit-Limit"), Remaining: headerInt(resp.Header, "X-RateLimit-Remaining")}
	if resp.StatusCode == http.StatusTooManyRequests {
		info.RetryAfterHeader = resp.Header.Get("Retry-After")
		info.RetryAfter = ParseRetryAfter(info.RetryAfterHeader)
	}
	return info
}

func headerInt(h http.Header, k string) int {
	v, err := strconv.Atoi(strings.TrimSpace(h.Get(k)))
	if err != nil {
		return -1
	}
	return v
}

// ParseRetryAfter reads seconds or an HTTP date; Webflow documents seconds
// and "typically 60", which is the default when the header is absent. It
// does not clamp (RateInfo.ClampRetryAfter does).
func ParseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 60 * time.Second
	}
	s, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err == nil && s >= 0 && s <= math.MaxInt64/int64(time.Second):
		return time.Duration(s) * time.Second
	case err == nil && s > 0, errors.Is(err, strconv.ErrRange) && v[0] != '-':
		return math.MaxInt64 // more seconds than a Duration holds
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return 0
	}
	return 60 * time.Second
}

func seg(s string) string { return url.PathEscape(s) }

func get(ep string) Call { return Call{Method: http.MethodGet, Endpoint: ep, Idempotent: true} }
func del(ep string) Call { return Call{Method: http.MethodDelete, Endpoint: ep, Idempotent: true} }
func needID(what, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("webflowdata: %s is required", what)
	}
	return nil
}

// ListSites returns every site the token can reach.
func (c *Client) ListSites(ctx context.Context) ([]Site, error) {
	var out SiteList
	if err := c.do(ctx, request{call: get(EPListSites), path: "/sites", out: &out}); err != nil {
		return nil, err
	}
	return out.Sites, nil
}

// GetSite returns one site.
func (c *Client) GetSite(ctx context.Context, siteID string) (*Site, error) {
	if err := needID("site id", siteID); err != nil {
		return nil, err
	}
	var out Site
	if err := c.do(ctx, request{call: get(EPGetSite), path: "/sites/" + seg(siteID), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Introspect describes the token: scopes, reachable sites, rate limit.
func (c *Client) Introspect(ctx context.Context) (*Introspection, error) {
	var out Introspection
	if err := c.do(ctx, request{call: get(EPIntrospect), path: "/token/introspect", out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuthorizedBy returns the Webflow user who authorized the token.
func (c *Client) AuthorizedBy(ctx context.Context) (*AuthorizedBy, error) {
	var out AuthorizedBy
	if err := c.do(ctx, request{call: get(EPAuthorizedBy), path: "/token/authorized_by", out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOptions selects one page of a list.
type ListOptions struct {
	Offset int
	Limit  int    // 0 means PageLimit (100), never Webflow's default of 10
	Sort   string // e.g. "CreatedOn", "-Email"
}

func (o ListOptions) values() url.Values {
	q := url.Values{}
	limit := o.Limit
	if limit <= 0 || limit > PageLimit {
		limit = PageLimit
	}
	q.Set("limit", strconv.Itoa(limit))
	q.Set("offset", strconv.Itoa(max(o.Offset, 0)))
	if o.Sort != "" {
		q.Set("sort", o.Sort)
	}
	return q
}

// ListUsers returns one page of a site's users.
func (c *Client) ListUsers(ctx context.Context, siteID string, opt ListOptions) (*UserList, error) {
	if err := needID("site id", siteID); err != nil {
		return nil, err
	}
	var out UserList
	if err := c.do(ctx, request{call: get(EPListUsers), path: "/sites/" + seg(siteID) + "/users", query: opt.values(), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Users iterates over every user of a site, 100 per call. It stops on the
// first error, which it yields. It terminates even if users are added or
// removed while it pages: it stops at a short page or once offset passes the
// latest total, never reads more than maxPages, and skips ids already seen.
func (c *Client) Users(ctx context.Context, siteID string) iter.Seq2[*User, error] {
	return func(yield func(*User, error) bool) {
		seen := make(map[string]struct{})
		offset := 0
		for range maxPages {
			page, err := c.ListUsers(ctx, siteID, ListOptions{Offset: offset, Limit: PageLimit})
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range page.Users {
				u := &page.Users[i]
				if _, dup := seen[u.ID]; dup {
					continue
				}
				seen[u.ID] = struct{}{}
				if !yield(u, nil) {
					return
				}
			}
			offset += len(page.Users)
			if len(page.Users) < PageLimit || offset >= page.Total {
				return
			}
		}
	}
}

// ListAllUsers reads every user of a site.
func (c *Client) ListAllUsers(ctx context.Context, siteID string) ([]User, error) {
	var out []User
	for u, err := range c.Users(ctx, siteID) {
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	return out, nil
}

// ErrUserNotFoundByEmail is returned by FindUserByEmail when no user matches.
var ErrUserNotFoundByEmail = errors.New("webflow: no user with that email")

// FindUserByEmail pages through the site's users and compares data.email
// case-insensitively; the API has no email filter. It stops at the match.
func (c *Client) FindUserByEmail(ctx context.Context, siteID, email string) (*User, error) {
	want := strings.TrimSpace(email)
	for u, err := range c.Users(ctx, siteID) {
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(strings.TrimSpace(u.Email()), want) {
			return u, nil
		}
	}
	return nil, ErrUserNotFoundByEmail
}

// GetUser returns one user.
func (c *Client) GetUser(ctx context.Context, siteID, userID string) (*User, error) {
	if err := errors.Join(needID("site id", siteID), needID("user id", userID)); err != nil {
		return nil, err
	}
	var out User
	if err := c.do(ctx, request{call: get(EPGetUser), path: "/sites/" + seg(siteID) + "/users/" + seg(userID), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// InviteUser creates a user and makes Webflow send an invitation email.
// It is never retried blindly: after an ambiguous failure (IsAmbiguous) the
// caller must look the user up by email before inviting again.
func (c *Client) InviteUser(ctx context.Context, siteID string, req InviteUserRequest) (*User, error) {
	if err := errors.Join(needID("site id", siteID), needID("email", req.Email)); err != nil {
		return nil, err
	}
	var out User
	call := Call{Method: http.MethodPost, Endpoint: EPInviteUser, Idempotent: false}
	if err := c.do(ctx, request{call: call, path: "/sites/" + seg(siteID) + "/users/invite", body: req, out: &out}); err != nil {
		return nil, err
	}
	c.auditEvent(ctx, AuditEvent{Action: "invite", Endpoint: EPInviteUser, SiteID: siteID, UserID: out.ID, Email: req.Email, Groups: req.AccessGroups, After: &out})
	return &out, nil
}

// UpdateUser PATCHes a user. AccessGroups, when non-nil, replaces the whole
// list, which makes the call idempotent and so safe to retry.
func (c *Client) UpdateUser(ctx context.Context, siteID, userID string, req UpdateUserRequest) (*User, error) {
	if err := errors.Join(needID("site id", siteID), needID("user id", userID)); err != nil {
		return nil, err
	}
	if _, ok := req.Data[DataEmail]; ok {
		return nil, errors.New("webflowdata: data.email cannot be changed through the API")
	}
	var out User
	call := Call{Method: http.MethodPatch, Endpoint: EPUpdateUser, Idempotent: true}
	if err := c.do(ctx, request{call: call, path: "/sites/" + seg(siteID) + "/users/" + seg(userID), body: req, out: &out}); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(req.Data))
	for k := range req.Data {
		keys = append(keys, k)
	}
	c.auditEvent(ctx, AuditEvent{Action: "update", Endpoint: EPUpdateUser, SiteID: siteID, UserID: userID, Groups: req.AccessGroups, DataKeys: keys, After: &out})
	return &out, nil
}

// DeleteUser deletes a user. Webflow answers 204. A 404 is returned as an
// error (IsNotFound); callers that want idempotent deletes treat it as done.
func (c *Client) DeleteUser(ctx context.Context, siteID, userID string) error {
	if err := errors.Join(needID("site id", siteID), needID("user id", userID)); err != nil {
		return err
	}
	if err := c.do(ctx, request{call: del(EPDeleteUser), path: "/sites/" + seg(siteID) + "/users/" + seg(userID)}); err != nil {
		return err
	}
	c.auditEvent(ctx, AuditEvent{Action: "delete", Endpoint: EPDeleteUser, SiteID: siteID, UserID: userID})
	return nil
}

func (c *Client) auditEvent(ctx context.Context, e AuditEvent) {
	if c.audit != nil {
		e.Before = auditBefore(ctx)
		c.audit(ctx, e)
	}
}

// ListAccessGroups reads every access group of a site, 100 per call.
func (c *Client) ListAccessGroups(ctx context.Context, siteID string) ([]AccessGroup, error) {
	if err := needID("site id", siteID); err != nil {
		return nil, err
	}
	var all []AccessGroup
	seen := make(map[string]struct{})
	offset := 0
	for range maxPages {
		var page AccessGroupList
		opt := ListOptions{Offset: offset, Limit: PageLimit}
		if err := c.do(ctx, request{call: get(EPListAccessGroups), path: "/sites/" + seg(siteID) + "/accessgroups", query: opt.values(), out: &page}); err != nil {
			return nil, err
		}
		for _, g := range page.AccessGroups {
			if _, dup := seen[g.ID+"\x00"+g.Slug]; dup {
				continue
			}
			seen[g.ID+"\x00"+g.Slug] = struct{}{}
			all = append(all, g)
		}
		offset += len(page.AccessGroups)
		if len(page.AccessGroups) < PageLimit || offset >= page.Total {
			break
		}
	}
	return all, nil
}

// ListWebhooks returns a site's webhook registrations.
func (c *Client) ListWebhooks(ctx context.Context, siteID string) ([]Webhook, error) {
	if err := needID("site id", siteID); err != nil {
		return nil, err
	}
	var out WebhookList
	if err := c.do(ctx, request{call: get(EPListWebhooks), path: "/sites/" + seg(siteID) + "/webhooks", out: &out}); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// CreateWebhook registers a webhook. Not retried: a blind retry could
// register it twice.
func (c *Client) CreateWebhook(ctx context.Context, siteID string, req CreateWebhookRequest) (*Webhook, error) {
	if err := errors.Join(needID("site id", siteID), needID("trigger type", req.TriggerType), needID("url", req.URL)); err != nil {
		return nil, err
	}
	var out Webhook
	call := Call{Method: http.MethodPost, Endpoint: EPCreateWebhook}
	if err := c.do(ctx, request{call: call, path: "/sites/" + seg(siteID) + "/webhooks", body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWebhook returns one webhook registration.
func (c *Client) GetWebhook(ctx context.Context, webhookID string) (*Webhook, error) {
	if err := needID("webhook id", webhookID); err != nil {
		return nil, err
	}
	var out Webhook
	if err := c.do(ctx, request{call: get(EPGetWebhook), path: "/webhooks/" + seg(webhookID), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhook removes a webhook registration.
func (c *Client) DeleteWebhook(ctx context.Context, webhookID string) error {
	if err := needID("webhook id", webhookID); err != nil {
		return err
	}
	return c.do(ctx, request{call: del(EPDeleteWebhook), path: "/webhooks/" + seg(webhookID)})
}
