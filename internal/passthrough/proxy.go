package passthrough

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Defaults for Options.
const (
	DefaultPrefix       = "/workspace/scim/v2"
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 30 * time.Second
	// MaxResponseBytes bounds a JSON answer the proxy must buffer to rewrite
	// meta.location. A page of 100 users is a few hundred KiB; anything
	// far larger is not a SCIM answer we want to hold in memory.
	MaxResponseBytes = 8 << 20
	// UserAgent is what the upstream sees; the IdP's own User-Agent is not
	// forwarded (the bridge is the client Webflow talks to).
	UserAgent = webflowdata.DefaultUserAgent + " (workspace-scim-passthrough)"
)

// linkTimeout bounds the best-effort Redis writes made per answer, so a
// slow Redis delays the IdP's answer by at most this much.
const linkTimeout = 5 * time.Second

// Options configures a Proxy. Upstream, Token, SCIMTokens and PublicURL
// are required.
type Options struct {
	// Upstream is webflow.scimBaseURL, e.g. https://api.webflow.com/scim/v2.
	// It comes from config only: the proxy never takes a host, scheme or
	// base path from a request, so it cannot be turned into an open proxy.
	Upstream string
	// Token is workspace.webflowSCIMToken, sent upstream as the bearer. It is
	// a webflowdata.Token so that it never prints in logs or errors.
	Token webflowdata.Token
	// SCIMTokens are workspace.scimTokens: what the IdP presents to the
	// bridge, plain or "sha256:<hex>". They are separate from every site's
	// tokens, so a site's IdP app cannot manage workspace collaborators.
	SCIMTokens []string
	// PublicURL is the bridge's public base for this surface, e.g.
	// https://scim.example.com/workspace/scim/v2. Upstream URLs in Location
	// and meta.location are rewritten onto it, because the IdP can only
	// reach (and authenticate to) the bridge.
	PublicURL string
	// Prefix is the mount path, default DefaultPrefix. The proxy sees the
	// full request path (do not wrap it in http.StripPrefix).
	Prefix string
	// MaxBodyBytes bounds the request body (413 above), default 1 MiB.
	MaxBodyBytes int64
	// Timeout bounds the upstream round trip, body included (504 above),
	// default 30s: well under the 60 s after which Okta drops the socket.
	Timeout time.Duration
	// Limiter paces calls with the native SCIM token's own budget, keyed by
	// Token.Fingerprint(). Every upstream answer is Observed, so a 429's
	// Retry-After pauses the token. Nil means no pacing.
	Limiter webflowdata.Limiter
	// Links, if set, records native SCIM id ↔ email from the answers to
	// create, get, list, replace and patch of Users, so that collaborator
	// and site-member identities can be joined on email. Best-effort.
	Links state.CollaboratorStore
	// OnDeprovision, if set, is called after upstream confirmed a DELETE of
	// a user ("delete") or an answer to PUT/PATCH shows active:false for a
	// user that was active or unknown ("deactivate"). It runs before the
	// answer is written, so it must be fast (queue the work); its ctx is
	// not cancelled when the IdP's request ends. For a delete of a user
	// never seen through the proxy, only c.ID is set.
	OnDeprovision func(ctx context.Context, c state.Collaborator, action string)
	// Observer sees every upstream attempt (metrics).
	Observer webflowdata.Observer
	// Transport carries upstream requests; default a clone of
	// http.DefaultTransport with a response-header timeout of Timeout.
	Transport http.RoundTripper
	// AuthGuard, when set, slows down client addresses that keep
	// presenting wrong tokens; the bridge shares one across its surfaces.
	AuthGuard *authguard.Guard
	// Logger gets one line per request; default slog.Default(). Tokens are
	// never logged; the upstream token appears only as its fingerprint.
	Logger *slog.Logger
}

// Proxy forwards the workspace SCIM surface to Webflow's native SCIM
// endpoint. It is an http.Handler built on httputil.ReverseProxy, with the
// checks a SCIM passthrough needs in front (auth, path grammar, body bound,
// pacing) and SCIM-shaped errors behind.
type Proxy struct {
	opts       Options
	base       *url.URL // upstream base, no trailing slash
	baseAbs    string   // lower-cased scheme://host/path of base, for rewriting
	basePath   string
	public     string // PublicURL, no trailing slash
	prefix     string
	tokens     mapping.TokenSet
	key        string // limiter key: Token.Fingerprint()
	limiter    webflowdata.Limiter
	log        *slog.Logger
	rp         *httputil.ReverseProxy
	allowedHdr []string
}

// New validates opts and builds a Proxy.
func New(opts Options) (*Proxy, error) {
	base, err := parseBase("upstream", opts.Upstream)
	if err != nil {
		return nil, err
	}
	pub, err := parseBase("publicURL", opts.PublicURL)
	if err != nil {
		return nil, err
	}
	if opts.Token == "" {
		return nil, errors.New("passthrough: the workspace Webflow SCIM token is required")
	}
	tokens, err := mapping.ParseTokens(opts.SCIMTokens)
	if err != nil {
		return nil, fmt.Errorf("passthrough: workspace scimTokens: %w", err)
	}
	if tokens.Match(opts.Token.Reveal()) {
		return nil, errors.New("passthrough: a workspace scimToken equals the Webflow SCIM token; they must differ")
	}
	prefix := "/" + strings.Trim(opts.Prefix, "/")
	if opts.Prefix == "" {
		prefix = DefaultPrefix
	}
	if prefix == "/" {
		prefix = ""
	}
	if strings.ContainsAny(prefix, "%\\?#") {
		return nil, fmt.Errorf("passthrough: prefix %q must be a plain path", opts.Prefix)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = opts.Timeout
		t.TLSHandshakeTimeout = 10 * time.Second
		t.ExpectContinueTimeout = time.Second
		opts.Transport = t
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Proxy{
		opts:     opts,
		base:     base,
		baseAbs:  strings.ToLower(base.Scheme + "://" + base.Host + base.Path),
		basePath: base.Path,
		public:   pub.String(),
		prefix:   prefix,
		tokens:   tokens,
		key:      opts.Token.Fingerprint(),
		limiter:  opts.Limiter,
		log:      opts.Logger,
	}
	if p.limiter == nil {
		p.limiter = webflowdata.NopLimiter{}
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      opts.Transport,
		FlushInterval:  -1, // stream what is not rewritten, as it arrives
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

func parseBase(what, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("passthrough: %s: %w", what, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("passthrough: %s must be an absolute http(s) URL without credentials, query or fragment", what)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	u.ForceQuery = false
	return u, nil
}

// requestHeaders is the allowlist of IdP request headers sent upstream.
// An allowlist rather than a denylist: Authorization, Cookie,
// Proxy-Authorization, X-Forwarded-*, Forwarded, X-Real-IP, hop-by-hop
// headers and anything a future client invents stay behind by
// construction. Accept-Encoding is dropped too: the Transport negotiates
// gzip itself and decodes it, so the bodies we rewrite are plain JSON.
var requestHeaders = []string{
	"Accept", "Accept-Charset", "Accept-Language", "Content-Type",
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
}

// allowedMethods are the SCIM verbs; anything else (CONNECT, TRACE …) is
// refused before it can reach upstream.
var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true,
}

type ctxKey struct{}

// exchange is the per-request state shared by ServeHTTP, Rewrite,
// ModifyResponse and ErrorHandler through the outgoing request's context.
type exchange struct {
	method   string
	route    route
	body     []byte
	parent   context.Context // the IdP request's context
	upCtx    context.Context // parent bounded by Timeout
	sent     time.Time
	observed bool
	upStatus int
	prev     *state.Collaborator // known state before a PUT/PATCH, nil if unknown
	outcome  string              // short label for the log line
}

// ServeHTTP authenticates the IdP, validates the path, bounds the body,
// waits for budget and forwards the request upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	x := &exchange{method: r.Method, parent: r.Context()}
	defer func() { p.logRequest(r, x, sw.status, time.Since(start)) }()

	if !allowedMethods[r.Method] {
		sw.Header().Set("Allow", "GET, POST, PUT, PATCH, DELETE")
		x.outcome = "method_refused"
		writeError(sw, http.StatusMethodNotAllowed, "", "method not allowed on the workspace SCIM surface")
		return
	}
	// Authenticate before anything else, so the path grammar is no oracle
	// for unauthenticated callers.
	tok, ok := mapping.Bearer(r.Header.Get("Authorization"))
	auth := p.opts.AuthGuard.Check(r, func() bool { return ok && p.tokens.Match(tok) })
	if auth.Limited() {
		secs := auth.RetryAfterSeconds()
		sw.Header().Set("Retry-After", strconv.Itoa(secs))
		x.outcome = "auth_throttled"
		writeError(sw, http.StatusTooManyRequests, "", fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs))
		return
	}
	if !auth.OK {
		sw.Header().Set("WWW-Authenticate", `Bearer realm="workspace-scim"`)
		x.outcome = "unauthorized"
		writeError(sw, http.StatusUnauthorized, "", "Authentication failed: missing or invalid bearer token for the workspace SCIM surface")
		return
	}
	rt, perr := parseRoute(r.URL.EscapedPath(), p.prefix)
	if perr != nil {
		x.outcome = "path_refused"
		scimType := ""
		if perr.status == http.StatusBadRequest {
			scimType = "invalidPath"
		}
		writeError(sw, perr.status, scimType, perr.detail)
		return
	}
	x.route = rt

	// Read the body up front (bounded): a 413 never sends half a request
	// upstream, and the deactivation check can read a PATCH body.
	if r.ContentLength > p.opts.MaxBodyBytes {
		x.outcome = "body_too_large"
		writeError(sw, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body exceeds %d bytes", p.opts.MaxBodyBytes))
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, p.opts.MaxBodyBytes+1))
		if err != nil {
			x.outcome = "body_read_failed"
			writeError(sw, http.StatusBadRequest, "invalidSyntax", "could not read the request body")
			return
		}
		if int64(len(b)) > p.opts.MaxBodyBytes {
			x.outcome = "body_too_large"
			writeError(sw, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body exceeds %d bytes", p.opts.MaxBodyBytes))
			return
		}
		x.body = b
	}
	// Every SCIM body is UTF-8 JSON: refuse anything else here rather than
	// spend upstream budget on it (and let Webflow mangle invalid UTF-8).
	if len(x.body) > 0 {
		if !mapping.AcceptedMediaType(r.Header.Get("Content-Type")) {
			x.outcome = "media_type_refused"
			writeError(sw, http.StatusUnsupportedMediaType, "invalidSyntax", "Content-Type must be application/scim+json or application/json")
			return
		}
		if !utf8.Valid(x.body) || !json.Valid(x.body) {
			x.outcome = "body_refused"
			writeError(sw, http.StatusBadRequest, "invalidSyntax", "request body is not one well-formed UTF-8 JSON value")
			return
		}
	}

	if p.opts.Links != nil && rt.collection == "Users" && rt.id != "" && (r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		x.prev = p.lookup(r.Context(), rt.id)
	}

	if err := p.limiter.Wait(webflowdata.WithPriority(r.Context(), webflowdata.PriorityInteractive), p.key); err != nil {
		if r.Context().Err() != nil {
			x.outcome = "client_gone"
			return
		}
		var wte *state.WaitTimeoutError
		if errors.As(err, &wte) {
			if wte.RetryAfter > 0 {
				sw.Header().Set("Retry-After", retryAfterSeconds(wte.RetryAfter))
			}
			x.outcome = "budget_exhausted"
			writeError(sw, http.StatusTooManyRequests, "", "the workspace SCIM token's rate budget is exhausted; retry later")
			return
		}
		x.outcome = "limiter_failed"
		p.log.WarnContext(r.Context(), "workspace scim passthrough: rate limiter failed", "error", err)
		writeError(sw, http.StatusServiceUnavailable, "", "the bridge could not reserve upstream budget; retry later")
		return
	}

	upCtx, cancel := context.WithTimeout(r.Context(), p.opts.Timeout)
	defer cancel()
	x.upCtx = upCtx
	out := r.Clone(context.WithValue(upCtx, ctxKey{}, x))
	out.Header = p.cleanHeader(r.Header)
	out.Body = io.NopCloser(bytes.NewReader(x.body))
	out.ContentLength = int64(len(x.body))
	if len(x.body) == 0 {
		out.Body = http.NoBody
	}
	out.TransferEncoding = nil
	out.Close = false
	x.sent = time.Now()
	p.rp.ServeHTTP(sw, out)
}

// cleanHeader copies only the allowlisted request headers.
func (p *Proxy) cleanHeader(in http.Header) http.Header {
	h := make(http.Header, len(requestHeaders)+2)
	for _, k := range requestHeaders {
		if v, ok := in[k]; ok {
			h[k] = append([]string(nil), v...)
		}
	}
	return h
}

// rewrite builds the upstream request. Scheme, host and base path are the
// configured upstream's; the rest of the path is the validated route; the
// query is passed exactly as the IdP sent it (filters are opaque to us).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	x := pr.In.Context().Value(ctxKey{}).(*exchange)
	path, raw := x.route.upstreamPath()
	u := *p.base
	u.Path = p.base.Path + path
	u.RawPath = p.base.EscapedPath() + raw
	u.RawQuery = pr.In.URL.RawQuery
	u.Fragment, u.RawFragment = "", ""
	pr.Out.URL = &u
	pr.Out.Host = ""
	// ReverseProxy may have re-added Te or Upgrade; start from the
	// allowlist again so only what we chose goes out.
	pr.Out.Header = p.cleanHeader(pr.In.Header)
	pr.Out.Header.Set("Authorization", "Bearer "+p.opts.Token.Reveal())
	pr.Out.Header.Set("User-Agent", UserAgent)
}

// logRequest writes one line per request: never tokens, query strings
// (filters hold emails) or bodies.
func (p *Proxy) logRequest(r *http.Request, x *exchange, status int, d time.Duration) {
	path := x.route.template()
	if x.route.collection == "" {
		path = r.URL.EscapedPath()
		if len(path) > 200 {
			path = path[:200] + "…"
		}
	}
	level := slog.LevelInfo
	if status >= 500 || x.outcome == "path_refused" {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", path),
		slog.Int("status", status),
		slog.Int("upstream_status", x.upStatus),
		slog.Duration("duration", d),
		slog.String("token", p.key),
	}
	if x.route.id != "" {
		attrs = append(attrs, slog.String("id", x.route.id))
	}
	if x.outcome != "" {
		attrs = append(attrs, slog.String("outcome", x.outcome))
	}
	p.log.LogAttrs(r.Context(), level, "workspace scim passthrough", attrs...)
}

func (p *Proxy) observe(x *exchange, status int, err error) {
	if x.observed {
		return
	}
	x.observed = true
	if p.opts.Observer != nil {
		p.opts.Observer.ObserveCall(webflowdata.CallInfo{
			Method: x.method, Endpoint: x.method + " " + p.basePath + x.route.template(),
			Status: status, Attempt: 1, Duration: time.Since(x.sent), Err: err,
		})
	}
}

// errResponseTooLarge is a JSON answer over MaxResponseBytes.
var errResponseTooLarge = errors.New("upstream answer exceeds the buffering bound")

// errorHandler turns failures with no usable upstream answer into SCIM
// errors: 504 when the upstream did not answer within Timeout, 502 when it
// could not be reached or its answer could not be relayed.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x, _ := r.Context().Value(ctxKey{}).(*exchange)
	if x == nil {
		writeError(w, http.StatusBadGateway, "", "the bridge could not relay the request to Webflow's SCIM endpoint")
		return
	}
	p.observe(x, 0, err)
	var ne net.Error
	switch {
	case x.parent.Err() != nil:
		x.outcome = "client_gone"
		writeError(w, http.StatusBadGateway, "", "request cancelled by the client")
	case errors.Is(err, errResponseTooLarge):
		x.outcome = "upstream_too_large"
		p.log.WarnContext(r.Context(), "workspace scim passthrough: upstream answer too large", "limit", MaxResponseBytes)
		writeError(w, http.StatusBadGateway, "", fmt.Sprintf("Webflow's SCIM endpoint answered with more than %d bytes", MaxResponseBytes))
	case errors.Is(x.upCtx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		x.outcome = "upstream_timeout"
		writeError(w, http.StatusGatewayTimeout, "", fmt.Sprintf("Webflow's SCIM endpoint did not answer within %s", p.opts.Timeout))
	default:
		x.outcome = "upstream_unreachable"
		p.log.WarnContext(r.Context(), "workspace scim passthrough: upstream request failed", "error", err)
		writeError(w, http.StatusBadGateway, "", "could not reach Webflow's SCIM endpoint (connection failed or closed without an answer)")
	}
}

// statusWriter records the status sent to the IdP, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (used by ReverseProxy to flush)
// reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
