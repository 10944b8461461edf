package statuspage

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
)

// The page's paths.
const (
	Path       = "/admin/"
	LoginPath  = "/admin/login"
	LogoutPath = "/admin/logout"
	JSONPath   = "/admin/status.json"
	// CookieName is the session cookie. Its value is an expiry and an
	// HMAC over it and the admin token used, never the token.
	CookieName = "bridge_admin_session"
)

// Defaults for Options.
const (
	DefaultSessionTTL = 15 * time.Minute
	DefaultRefresh    = 15 * time.Second
)

// Options configures a Page.
type Options struct {
	Source Source
	// Tokens are the admin tokens (adminTokens). Empty: nobody can log in.
	Tokens mapping.TokenSet
	// Guard slows failed logins per client address, like every bearer
	// token check; nil: a guard of its own with the defaults.
	Guard *authguard.Guard
	// Key signs the session cookies. Replicas that share it accept each
	// other's cookies; empty: a random key for this process.
	Key []byte
	// RedactEmails masks emails (logging.redactEmails).
	RedactEmails bool
	SessionTTL   time.Duration // default DefaultSessionTTL
	Refresh      time.Duration // meta refresh; default DefaultRefresh
	Now          func() time.Time
	Logger       *slog.Logger
}

// Page is the status page handler. It serves Path, LoginPath,
// LogoutPath and JSONPath; anything else under /admin is a 404.
type Page struct {
	opts Options
	key  []byte
	tmpl *template.Template
}

// New builds the page.
func New(opts Options) (*Page, error) {
	if opts.Source == nil {
		return nil, fmt.Errorf("statuspage: no Source")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Guard == nil {
		opts.Guard = authguard.New(authguard.Options{})
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key := opts.Key
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("statuspage: session key: %w", err)
		}
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	return &Page{opts: opts, key: bytes.Clone(key), tmpl: tmpl}, nil
}

// Owns reports whether path is the page's.
func Owns(path string) bool { return path == "/admin" || strings.HasPrefix(path, "/admin/") }

// ServeHTTP implements http.Handler.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case r.URL.Path == "/admin" && get:
		http.Redirect(w, r, Path, http.StatusSeeOther)
	case r.URL.Path == Path && get:
		p.servePage(w, r)
	case r.URL.Path == LoginPath && r.Method == http.MethodPost:
		p.serveLogin(w, r)
	case r.URL.Path == LogoutPath && r.Method == http.MethodPost:
		p.serveLogout(w, r)
	case r.URL.Path == JSONPath && get:
		p.serveJSON(w, r)
	case r.URL.Path == Path || r.URL.Path == LoginPath || r.URL.Path == LogoutPath || r.URL.Path == JSONPath:
		h.Set("Allow", map[bool]string{true: "POST", false: "GET, HEAD"}[r.URL.Path == LoginPath || r.URL.Path == LogoutPath])
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.Error(w, "not found: the status page is at "+Path, http.StatusNotFound)
	}
}

// ---- sessions ---------------------------------------------------------

// session is "<expiry unix>.<mac>"; mac = HMAC(key, "session|expiry|
// sha256(admin token)"). A cookie is valid while its expiry is ahead and
// one of the current admin tokens gives its mac: removing a token from
// adminTokens ends the sessions it opened.
func (p *Page) sessionMAC(exp int64, digest []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	fmt.Fprintf(m, "session|%d|", exp)
	m.Write(digest)
	return m.Sum(nil)
}

func (p *Page) newSession(digest []byte) (value string, exp time.Time) {
	exp = p.opts.Now().Add(p.opts.SessionTTL).Truncate(time.Second)
	mac := p.sessionMAC(exp.Unix(), digest)
	return strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(mac), exp
}

// validSession checks the cookie in constant time over the tokens.
func (p *Page) validSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) > 128 {
		return "", false
	}
	expStr, macStr, ok := strings.Cut(c.Value, ".")
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || !p.opts.Now().Before(time.Unix(exp, 0)) || exp > p.opts.Now().Add(p.opts.SessionTTL+time.Second).Unix() {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(macStr)
	if err != nil {
		return "", false
	}
	match := 0
	for _, d := range p.opts.Tokens {
		match |= subtle.ConstantTimeCompare(mac, p.sessionMAC(exp, d[:]))
	}
	return c.Value, match == 1
}

// csrfToken binds the logout form to the session: a page on another
// origin cannot read it, and SameSite=Strict keeps the cookie off its
// requests anyway.
func (p *Page) csrfToken(session string) string {
	m := hmac.New(sha256.New, p.key)
	fmt.Fprintf(m, "logout|%s", session)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *Page) setCookie(w http.ResponseWriter, r *http.Request, value string, exp time.Time) {
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = exp
		c.MaxAge = max(int(exp.Sub(p.opts.Now()).Seconds()), 1)
	}
	http.SetCookie(w, c)
}

// ---- handlers ---------------------------------------------------------

func (p *Page) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		p.renderLogin(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	presented := strings.TrimSpace(r.PostForm.Get("token"))
	idx := -1
	auth := p.opts.Guard.Check(r, func() bool {
		idx = p.opts.Tokens.MatchIndex(presented)
		return presented != "" && idx >= 0
	})
	if auth.Limited() {
		w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds()))
		p.renderLogin(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins from this address; try again in %d s.", auth.RetryAfterSeconds()))
		return
	}
	if !auth.OK {
		p.opts.Logger.Warn("status page: a login with a wrong admin token", "remote", authguard.ClientKey(r.RemoteAddr))
		p.renderLogin(w, http.StatusUnauthorized, "That is not an admin token (adminTokens).")
		return
	}
	value, exp := p.newSession(p.opts.Tokens[idx][:])
	p.setCookie(w, r, value, exp)
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

func (p *Page) serveLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	session, ok := p.validSession(r)
	if err := r.ParseForm(); err != nil || !ok ||
		subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(p.csrfToken(session))) != 1 {
		http.Error(w, "logout needs the page's own form", http.StatusForbidden)
		return
	}
	p.setCookie(w, r, "", time.Time{})
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

func (p *Page) servePage(w http.ResponseWriter, r *http.Request) {
	session, ok := p.validSession(r)
	if !ok {
		p.renderLogin(w, http.StatusOK, "")
		return
	}
	st, err := p.status(r)
	view := pageView{Refresh: int(p.opts.Refresh.Seconds()), CSRF: p.csrfToken(session), Now: p.opts.Now().UTC(), Redacted: p.opts.RedactEmails}
	code := http.StatusOK
	if err != nil {
		p.opts.Logger.Error("status page: reading the status", "error", err)
		view.Error, code = "The bridge's state could not be read: "+err.Error(), http.StatusServiceUnavailable
	} else {
		view.Status = st
	}
	p.render(w, code, "page", view)
}

func (p *Page) serveJSON(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.validSession(r); !ok {
		tok, has := mapping.Bearer(r.Header.Get("Authorization"))
		auth := p.opts.Guard.Check(r, func() bool { return has && p.opts.Tokens.Match(tok) })
		if !auth.OK {
			if auth.Limited() {
				w.Header().Set("Retry-After", strconv.Itoa(auth.RetryAfterSeconds()))
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			code := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[auth.Limited()]
			writeJSONError(w, code, "/admin/status.json needs an admin token (adminTokens) as a bearer token, or the status page's session")
			return
		}
	}
	st, err := p.status(r)
	if err != nil {
		writeJSONError(w, http.StatusServiceUnavailable, "the bridge's state could not be read")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func writeJSONError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(mapping.SCIMErrorJSON(status, "", detail))
}

// status reads the Source and redacts emails when configured.
func (p *Page) status(r *http.Request) (Status, error) {
	st, err := p.opts.Source.Status(r.Context())
	if err != nil {
		return Status{}, err
	}
	if p.opts.RedactEmails {
		st = redacted(st)
	}
	return st, nil
}

func (p *Page) renderLogin(w http.ResponseWriter, code int, msg string) {
	p.render(w, code, "login", loginView{Error: msg, Minutes: int(p.opts.SessionTTL.Minutes())})
}

func (p *Page) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		p.opts.Logger.Error("status page: rendering", "template", name, "error", err)
		http.Error(w, "the status page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
