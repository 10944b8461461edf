package webflowdata

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake Webflow that answers from a script and records requests.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	answer   func(n int, r *http.Request) (int, http.Header, string)
}

type recorded struct {
	Method, Path, Query, Body, Auth, UA, ContentType string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.requests = append(rec.requests, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.Header.Get("Content-Type")})
	n := len(rec.requests)
	rec.mu.Unlock()
	status, h, body := rec.answer(n, r)
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

type fakeLimiter struct {
	mu    sync.Mutex
	waits []string
	infos []RateInfo
}

func (l *fakeLimiter) Wait(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits = append(l.waits, key)
	return nil
}

func (l *fakeLimiter) Observe(_ context.Context, key string, info RateInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.infos = append(l.infos, info)
}

const testToken = Token("wf-secret-abc")

func newTestClient(t *testing.T, rec *recorder, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + "/v2"
	cfg.Token = testToken
	if cfg.Sleep == nil {
		cfg.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const userJSON = `{"id":"6287ec36a841b25637c663df","isEmailVerified":false,"lastUpdated":"2022-05-20T13:46:12.093Z","invitedOn":"2022-05-20T13:46:12.093Z","createdOn":"2022-05-20T13:46:12.093Z","lastLogin":null,"status":"invited","accessGroups":[{"slug":"webflowers","type":"admin"}],"data":{"email":"some.one@home.com","accept-privacy":false,"accept-communications":false}}`

func TestClientWireRequests(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{answer: func(n int, r *http.Request) (int, http.Header, string) {
		if r.Method == http.MethodDelete {
			return 204, nil, ""
		}
		return 200, http.Header{"X-Ratelimit-Limit": {"60"}, "X-Ratelimit-Remaining": {"59"}}, userJSON
	}}
	lim := &fakeLimiter{}
	c := newTestClient(t, rec, Config{Limiter: lim, UserAgent: "test-agent/1"})

	if _, err := c.InviteUser(ctx, "site1", InviteUserRequest{Email: "some.one@home.com", AccessGroups: []string{"webflowers"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateUser(ctx, "site1", "u/1", UpdateUserRequest{Data: UserData{"name": "Some One"}, AccessGroups: []string{}}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, "site1", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateUser(ctx, "site1", "u1", UpdateUserRequest{Data: UserData{"email": "x@y.z"}}); err == nil {
		t.Error("data.email must be refused before any call")
	}
	want := []recorded{
		{"POST", "/v2/sites/site1/users/invite", "", `{"email":"some.one@home.com","accessGroups":["webflowers"]}`, "Bearer wf-secret-abc", "test-agent/1", "application/json"},
		{"PATCH", "/v2/sites/site1/users/u%2F1", "", `{"accessGroups":[],"data":{"name":"Some One"}}`, "Bearer wf-secret-abc", "test-agent/1", "application/json"},
		{"DELETE", "/v2/sites/site1/users/u1", "", "", "Bearer wf-secret-abc", "test-agent/1", ""},
	}
	if len(rec.requests) != len(want) {
		t.Fatalf("got %d requests: %+v", len(rec.requests), rec.requests)
	}
	for i := range want {
		if rec.requests[i] != want[i] {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, rec.requests[i], want[i])
		}
	}
	if len(lim.waits) != 3 || lim.waits[0] != testToken.Fingerprint() {
		t.Errorf("limiter waits %v", lim.waits)
	}
	if len(lim.infos) != 3 || lim.infos[0].Limit != 60 || lim.infos[0].Remaining != 59 {
		t.Errorf("limiter observations %+v", lim.infos)
	}
}

func TestClientRetriesIdempotentCallsOnly(t *testing.T) {
	ctx := context.Background()
	var calls []CallInfo
	var mu sync.Mutex
	obs := ObserverFunc(func(ci CallInfo) { mu.Lock(); calls = append(calls, ci); mu.Unlock() })
	failFirst := func(n int, r *http.Request) (int, http.Header, string) {
		if n == 1 {
			return 502, nil, `{"code":"internal_error","message":"An Internal Error occurred","externalReference":null,"details":[]}`
		}
		return 200, nil, userJSON
	}
	rec := &recorder{answer: failFirst}
	c := newTestClient(t, rec, Config{Observer: obs})
	u, err := c.GetUser(ctx, "s", "6287ec36a841b25637c663df")
	if err != nil || u.Email() != "some.one@home.com" {
		t.Fatalf("GET after one 502: %v %v", u, err)
	}
	if len(calls) != 2 || calls[0].Status != 502 || calls[1].Status != 200 || calls[1].Attempt != 2 || calls[0].Endpoint != EPGetUser {
		t.Errorf("observed %+v", calls)
	}

	rec2 := &recorder{answer: failFirst}
	c2 := newTestClient(t, rec2, Config{})
	_, err = c2.InviteUser(ctx, "s", InviteUserRequest{Email: "a@b.co"})
	if !IsAmbiguous(err) || !IsServerError(err) {
		t.Errorf("invite after 502 should be an ambiguous server error, got %v", err)
	}
	if len(rec2.requests) != 1 {
		t.Errorf("POST invite was retried blindly: %d requests", len(rec2.requests))
	}
}

func TestClientTypedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		body   string
		call   func(c *Client) error
		is     func(error) bool
	}{
		{"401", 401, `{"code":"not_authorized","message":"Request not authorized","externalReference":null,"details":[]}`,
			func(c *Client) error { _, err := c.ListSites(ctx); return err }, IsUnauthorized},
		{"missing scope", 403, `{"message":"OAuthForbidden: You are missing the following scopes - 'users:read'","code":"missing_scopes","externalReference":null,"details":[]}`,
			func(c *Client) error { _, err := c.ListUsers(ctx, "s", ListOptions{}); return err }, IsUnauthorized},
		{"users_not_enabled on users route", 403, `{"code":"users_not_enabled","message":"x","externalReference":null,"details":[]}`,
			func(c *Client) error { _, err := c.GetUser(ctx, "s", "u"); return err }, IsUserAccountsUnavailable},
		{"resource_not_found on accessgroups", 404, `{"code":"resource_not_found","message":"Requested resource not found","externalReference":null,"details":[]}`,
			func(c *Client) error { _, err := c.ListAccessGroups(ctx, "s"); return err }, IsUserAccountsUnavailable},
		{"resource_not_found on sites is plain not found", 404, `{"code":"resource_not_found","message":"Requested resource not found: The site cannot be found","externalReference":null,"details":[]}`,
			func(c *Client) error { _, err := c.GetSite(ctx, "s"); return err }, IsNotFound},
		{"non-JSON error body", 500, `<html>oops</html>`,
			func(c *Client) error { _, err := c.ListSites(ctx); return err }, IsServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { return tc.status, nil, tc.body }}
			c := newTestClient(t, rec, Config{Retry: NoRetry})
			err := tc.call(c)
			if !tc.is(err) {
				t.Fatalf("helper did not match: %v", err)
			}
			e, ok := AsAPIError(err)
			if !ok || e.Status != tc.status || string(e.Body) != tc.body {
				t.Errorf("APIError %+v", e)
			}
			if strings.Contains(err.Error(), testToken.Reveal()) {
				t.Error("token in error text")
			}
		})
	}
}

func TestClientHonoursContextDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) { <-block; return 200, nil, "{}" }}
	c := newTestClient(t, rec, Config{Retry: NoRetry})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListSites(ctx)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("deadline not honoured: %v after %v", err, time.Since(start))
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 60 * time.Second, "7": 7 * time.Second, "junk": 60 * time.Second, "0": 0,
		"31536000": 365 * 24 * time.Hour, "9223372037": math.MaxInt64, "99999999999999999999": math.MaxInt64, "-5": 60 * time.Second} {
		if got := ParseRetryAfter(in); got != want {
			t.Errorf("%q: %v", in, got)
		}
	}
}

// TestRetryAfterClamped: a 429's Retry-After is honoured up to
// MaxRetryAfter (5 minutes by default) and cut there, in what the Limiter
// is told and in the typed error; the header as sent travels along for
// the log. On the old main a "Retry-After: 31536000" paused for a year.
func TestRetryAfterClamped(t *testing.T) {
	yearAhead := time.Now().Add(365 * 24 * time.Hour).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name   string
		header string
		max    time.Duration
		want   time.Duration
	}{
		{"a year in seconds", "31536000", 0, DefaultMaxRetryAfter},
		{"a year as a date", yearAhead, 0, DefaultMaxRetryAfter},
		{"more seconds than a Duration holds", "99999999999999999999", 0, DefaultMaxRetryAfter},
		{"Webflow's usual 60", "60", 0, time.Minute},
		{"exactly the maximum", "300", 0, 5 * time.Minute},
		{"configured maximum", "31536000", 30 * time.Second, 30 * time.Second},
		{"under the configured maximum", "20", 30 * time.Second, 20 * time.Second},
	} {
		rec := &recorder{answer: func(int, *http.Request) (int, http.Header, string) {
			return 429, http.Header{"Retry-After": {c.header}}, `{"code":"too_many_requests","message":"slow down"}`
		}}
		lim := &fakeLimiter{}
		cl := newTestClient(t, rec, Config{Retry: NoRetry, Limiter: lim, MaxRetryAfter: c.max})
		_, err := cl.ListSites(context.Background())
		e, ok := AsAPIError(err)
		if !ok || e.Status != 429 {
			t.Fatalf("%s: %v, want a 429 APIError", c.name, err)
		}
		if e.RetryAfter != c.want {
			t.Errorf("%s: APIError.RetryAfter %s, want %s", c.name, e.RetryAfter, c.want)
		}
		if len(lim.infos) != 1 || lim.infos[0].RetryAfter != c.want || lim.infos[0].RetryAfterHeader != c.header {
			t.Errorf("%s: the limiter was told %+v, want RetryAfter %s and the header %q", c.name, lim.infos, c.want, c.header)
		}
	}
}

// WithRequest is WithCallCount(WithRequestID(ctx, id)): the id, a fresh
// count that upstream attempts add to, and the parent's values.
func TestWithRequest(t *testing.T) {
	type k struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), k{}, "v"))
	ctx, calls := WithRequest(parent, "req-7")
	if RequestIDFrom(ctx) != "req-7" || ctx.Value(k{}) != "v" || calls.Load() != 0 {
		t.Fatalf("id %q, parent value %v, calls %d", RequestIDFrom(ctx), ctx.Value(k{}), calls.Load())
	}
	if cc, ok := ctx.Value(callCountKey{}).(*CallCount); !ok || cc != calls {
		t.Fatal("the call count is not the one returned")
	}
	cancel()
	if ctx.Err() == nil {
		t.Fatal("cancellation did not pass through")
	}
}
