package webflowdata

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Priority orders callers that compete for one token's budget. Interactive
// SCIM work goes first, then the background membership queue, then
// reconciliation.
type Priority int

const (
	PriorityInteractive Priority = iota
	PriorityBackground
	PriorityReconcile
)

type priorityKey struct{}

// WithPriority tags ctx so the Limiter can rank the calls made under it.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority carried by ctx (interactive if none).
func PriorityFrom(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// RateInfo is what one Webflow response says about the token's budget.
// Fields are zero or negative when the header was absent.
type RateInfo struct {
	Status     int
	Limit      int           // X-RateLimit-Limit, -1 if absent
	Remaining  int           // X-RateLimit-Remaining, -1 if absent
	RetryAfter time.Duration // Retry-After on a 429 (60 s if absent), else 0
	// RetryAfterHeader is the Retry-After header as Webflow sent it, for
	// the log when RetryAfter was clamped (ClampRetryAfter).
	RetryAfterHeader string
}

// DefaultMaxRetryAfter is the longest pause a Retry-After from Webflow
// buys (webflow.maxRetryAfter). Webflow documents "typically 60" seconds;
// the header is honoured as sent up to this, and a longer one (a
// "Retry-After: 31536000" would pause the token on every replica for a
// year) is cut to it.
const DefaultMaxRetryAfter = 5 * time.Minute

// ClampRetryAfter returns info with RetryAfter at most limit
// (DefaultMaxRetryAfter when limit ≤ 0), and whether it was cut.
func (info RateInfo) ClampRetryAfter(limit time.Duration) (RateInfo, bool) {
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	if info.RetryAfter <= limit {
		return info, false
	}
	info.RetryAfter = limit
	return info, true
}

// Limiter paces calls per Webflow token. Key is Token.Fingerprint(), never
// the token. Wait blocks until the call may go or ctx ends; Observe feeds
// back what Webflow reported so the limiter can adapt or pause.
type Limiter interface {
	Wait(ctx context.Context, key string) error
	Observe(ctx context.Context, key string, info RateInfo)
}

// NopLimiter never waits.
type NopLimiter struct{}

func (NopLimiter) Wait(context.Context, string) error        { return nil }
func (NopLimiter) Observe(context.Context, string, RateInfo) {}

// Call describes one logical API call for the retry policy and observers.
type Call struct {
	Method   string
	Endpoint string // route template, e.g. "GET /sites/{site_id}/users"
	// Idempotent is true for GET, DELETE and full-list PATCH. POST invite is
	// not: a blind retry may send a second invitation email.
	Idempotent bool
}

// Attempt is the outcome of one HTTP attempt, handed to the RetryPolicy.
type Attempt struct {
	N        int           // 1-based
	Status   int           // 0 if no response
	Err      error         // transport error or APIError
	Elapsed  time.Duration // since the first attempt started
	RateInfo RateInfo
}

// RetryPolicy decides whether an attempt is retried and after what pause.
type RetryPolicy interface {
	Retry(call Call, a Attempt) (wait time.Duration, retry bool)
}

// RetryPolicyFunc adapts a function to RetryPolicy.
type RetryPolicyFunc func(Call, Attempt) (time.Duration, bool)

func (f RetryPolicyFunc) Retry(c Call, a Attempt) (time.Duration, bool) { return f(c, a) }

// NoRetry never retries.
var NoRetry RetryPolicy = RetryPolicyFunc(func(Call, Attempt) (time.Duration, bool) { return 0, false })

// BackoffPolicy retries idempotent calls on 5xx, timeouts and connection
// resets with exponential backoff and full jitter, bounded in count and in
// total time. It never retries non-idempotent calls, 4xx answers (a 429 is
// the Limiter's business), or ErrUserAccountsUnavailable.
type BackoffPolicy struct {
	// Retry429 retries any call, POST invite included, after a 429: Webflow
	// did not process it. The wait is left to the Limiter, which pauses the
	// token for Retry-After on every replica (so only set this with one).
	Retry429    bool
	MaxAttempts int           // including the first; default 4
	Base        time.Duration // default 200ms
	Max         time.Duration // per pause; default 5s
	MaxElapsed  time.Duration // default 30s
}

// Retry implements RetryPolicy.
func (p BackoffPolicy) Retry(c Call, a Attempt) (time.Duration, bool) {
	maxAttempts, base, maxWait, maxElapsed := p.MaxAttempts, p.Base, p.Max, p.MaxElapsed
	if maxAttempts <= 0 {
		maxAttempts = 4
	}
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Second
	}
	if maxElapsed <= 0 {
		maxElapsed = 30 * time.Second
	}
	if p.Retry429 && IsRateLimited(a.Err) && a.N < maxAttempts {
		return 0, true
	}
	if !c.Idempotent || a.N >= maxAttempts || !Retryable(a.Err) {
		return 0, false
	}
	d := base << (a.N - 1)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	if a.Elapsed+d > maxElapsed {
		return 0, false
	}
	return d, true
}

// Retryable reports whether err is a transient failure worth retrying for
// an idempotent call: a 5xx, a timeout, or a broken connection.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if IsUserAccountsUnavailable(err) {
		return false
	}
	if e, ok := AsAPIError(err); ok {
		return e.Status >= 500 && e.Status != http.StatusNotImplemented
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return IsAmbiguous(err)
}

// IsAmbiguous reports a failure after which the request may or may not
// have taken effect upstream: a timeout, a reset or EOF, or a 5xx. After
// an ambiguous POST invite, look the user up by email before inviting again.
func IsAmbiguous(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := AsAPIError(err); ok {
		return e.Status >= 500
	}
	var te *TransportError
	return errors.As(err, &te)
}

// TransportError is a failure with no HTTP answer from Webflow.
type TransportError struct {
	Endpoint string
	Err      error
}

func (e *TransportError) Error() string { return "webflow " + e.Endpoint + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// CallInfo is reported to the Observer after every HTTP attempt.
type CallInfo struct {
	Method   string
	Endpoint string // route template
	Status   int    // 0 if no response
	Attempt  int
	Duration time.Duration
	Err      error
}

// Observer sees every upstream attempt: count them by endpoint and status.
type Observer interface{ ObserveCall(CallInfo) }

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(CallInfo)

func (f ObserverFunc) ObserveCall(ci CallInfo) { f(ci) }

type requestIDKey struct{}

// WithRequestID tags ctx with the SCIM request's id; every Webflow call
// made under it carries the id upstream as X-Request-Id, so one IdP request
// can be followed through Webflow's side too.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id carried by ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	switch id := ctx.Value(requestIDKey{}).(type) {
	case string: // WithRequestID
		return id
	case *string: // WithRequest
		return *id
	}
	return ""
}

// CallCount counts the Webflow HTTP attempts made under one context.
type CallCount struct{ n atomic.Int64 }

// Load returns the count.
func (c *CallCount) Load() int64 { return c.n.Load() }

type callCountKey struct{}

// WithCallCount returns ctx with a fresh CallCount, so a SCIM request can
// log how many upstream calls it cost.
func WithCallCount(ctx context.Context) (context.Context, *CallCount) {
	c := &CallCount{}
	return context.WithValue(ctx, callCountKey{}, c), c
}

// WithRequest is WithCallCount(WithRequestID(ctx, id)) in one allocation
// instead of four: every SCIM request starts with it.
func WithRequest(ctx context.Context, id string) (context.Context, *CallCount) {
	c := &requestContext{Context: ctx, id: id}
	return c, &c.calls
}

// requestContext carries a request id and its CallCount.
type requestContext struct {
	context.Context
	id    string
	calls CallCount
}

func (c *requestContext) Value(key any) any {
	switch key.(type) {
	case requestIDKey:
		return &c.id // a pointer: a string would be boxed (allocated) per call
	case callCountKey:
		return &c.calls
	}
	return c.Context.Value(key)
}

// AuditEvent is one change the bridge made in Webflow.
type AuditEvent struct {
	// Action: invite, update, delete (site users); member_invite,
	// member_role, member_remove, members_bulk_role, members_bulk_remove,
	// site_grant, site_role, site_revoke (Enterprise APIs).
	Action      string
	Endpoint    string
	WorkspaceID string // Enterprise workspace calls
	SiteID      string
	// UserID is the site user, or the workspace member (or invite) id.
	UserID string
	// Role is the role written: "member/designer" (workspace role and
	// default site role) or a site role.
	Role string
	// IDs are the member and invite ids a bulk call changed (the items
	// that succeeded).
	IDs      []string
	Email    string   // invite only
	Groups   []string // the accessGroups sent (full list), if any
	DataKeys []string // the data keys sent, if any
	Before   *User    // the user as the bridge last knew it, when known
	After    *User    // what Webflow answered (nil for delete)
}

// Auditor records every change made in Webflow. It is called after the
// call succeeded.
type Auditor func(ctx context.Context, e AuditEvent)

type auditBeforeKey struct{}

// WithAuditBefore tells the Auditor what the user looked like before the
// change about to be made under ctx.
func WithAuditBefore(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, auditBeforeKey{}, u)
}

func auditBefore(ctx context.Context) *User {
	u, _ := ctx.Value(auditBeforeKey{}).(*User)
	return u
}
