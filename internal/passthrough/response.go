package passthrough

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// modifyResponse runs on every upstream answer: it feeds the limiter,
// cleans headers, rewrites URLs, records links and fires deprovisioning.
// Bodies are streamed unless they are JSON (the rewrite and the links need
// them) or an error that must be turned into SCIM JSON.
func (p *Proxy) modifyResponse(res *http.Response) error {
	x := res.Request.Context().Value(ctxKey{}).(*exchange)
	x.upStatus = res.StatusCode
	p.observe(x, res.StatusCode, nil)
	p.limiter.Observe(x.parent, p.key, webflowdata.RateInfoFrom(res))

	h := res.Header
	keepResponseHeaders(h)
	if loc := h.Get("Location"); loc != "" {
		if nl, ok := p.rewriteURL(loc); ok {
			h.Set("Location", nl)
		} else {
			// Anywhere else is not the IdP's business (and the IdP could
			// not authenticate there).
			h.Del("Location")
			p.log.WarnContext(x.parent, "workspace scim passthrough: dropped an upstream Location outside the upstream base")
		}
	}
	// Trailers are headers too, and arrive after the allowlist ran: none
	// are passed on.
	res.Trailer = nil
	res.Body = dropTrailers{ReadCloser: res.Body, res: res}

	// 429 goes to the IdP unchanged, Retry-After included: it is Webflow's
	// word on when to come back, and the IdP's retry logic expects it.
	if res.StatusCode == http.StatusTooManyRequests {
		return nil
	}

	if !isJSON(h.Get("Content-Type")) {
		if res.StatusCode >= 400 {
			// Okta parses every error body as JSON; an HTML error page
			// from a gateway in front of Webflow would break it.
			p.replaceBody(res, mapping.SCIMErrorJSON(res.StatusCode, "", fmt.Sprintf("Webflow's SCIM endpoint answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))))
			h.Set("Content-Type", scimContentType)
			return nil
		}
		if res.StatusCode/100 == 2 {
			p.afterSuccess(x, res.StatusCode, nil)
		}
		return nil
	}

	b, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	_ = res.Body.Close()
	if err != nil {
		return err
	}
	if len(b) > MaxResponseBytes {
		return errResponseTooLarge
	}
	switch {
	case res.StatusCode >= 500:
		if !isSCIMError(b) {
			b = mapping.SCIMErrorJSON(res.StatusCode, "", fmt.Sprintf("Webflow's SCIM endpoint answered %d %s", res.StatusCode, http.StatusText(res.StatusCode)))
			h.Set("Content-Type", scimContentType)
		}
	case res.StatusCode/100 == 2:
		var docs []userDoc
		b, docs = p.rewriteBody(b, x.route.collection == "Users")
		p.afterSuccess(x, res.StatusCode, docs)
	}
	p.replaceBody(res, b)
	return nil
}

// responseHeaders is the allowlist of upstream answer headers the IdP
// gets: what describes the body (its type and framing), where a created
// resource is (Location, rewritten), its version (ETag), when to come back
// (Retry-After, X-RateLimit-*), and the ids that let Webflow's support find
// a request. Everything else (cookies, Proxy-*, WWW-Authenticate for the
// bridge's own Webflow token, server banners, CDN internals and whatever a
// gateway in front of Webflow adds) stays behind by construction.
var responseHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true,
	"Location": true, "Etag": true, "Retry-After": true,
	"X-Request-Id": true, "Request-Id": true, "X-Correlation-Id": true,
	"X-Amzn-Requestid": true, "X-Amzn-Trace-Id": true, "Cf-Ray": true,
}

// keepResponseHeaders deletes every header that is not allowlisted.
// ReverseProxy has already removed the hop-by-hop ones.
func keepResponseHeaders(h http.Header) {
	for k := range h {
		if !responseHeaders[k] && !strings.HasPrefix(k, "X-Ratelimit-") {
			delete(h, k)
		}
	}
}

// dropTrailers clears the answer's trailers once the body is read, which
// is when the Transport fills them in and before ReverseProxy copies them.
type dropTrailers struct {
	io.ReadCloser
	res *http.Response
}

func (d dropTrailers) Read(b []byte) (int, error) {
	n, err := d.ReadCloser.Read(b)
	if err != nil {
		d.res.Trailer = nil
	}
	return n, err
}

func (p *Proxy) replaceBody(res *http.Response, b []byte) {
	if res.Body != nil {
		_ = res.Body.Close()
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.Header.Set("Content-Length", strconv.Itoa(len(b)))
	res.Header.Del("Content-Encoding")
	res.Trailer = nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/scim+json" || mt == "application/json")
}

func isSCIMError(b []byte) bool {
	var e struct {
		Schemas []string `json:"schemas"`
	}
	if json.Unmarshal(b, &e) != nil {
		return false
	}
	for _, s := range e.Schemas {
		if s == mapping.ErrorSchema {
			return true
		}
	}
	return false
}

// rewriteURL maps an upstream URL (absolute under the configured base, or
// a path under the base path) onto PublicURL. Other URLs, and those that
// would climb out of the base with dot segments, are left alone and
// reported false.
func (p *Proxy) rewriteURL(s string) (string, bool) {
	ls := strings.ToLower(s)
	rest, ok := "", false
	if strings.HasPrefix(ls, p.baseAbs) {
		rest = s[len(p.baseAbs):]
		ok = rest == "" || rest[0] == '/' || rest[0] == '?'
	}
	if !ok && p.basePath != "" && strings.HasPrefix(s, p.basePath+"/") {
		rest, ok = s[len(p.basePath):], true
	}
	if !ok || climbs(rest) {
		return s, false
	}
	return p.public + rest, true
}

// climbs reports whether a path below the base holds a "." or ".." segment
// (plain or percent-encoded) or a backslash, which a client could resolve
// to somewhere outside the base.
func climbs(rest string) bool {
	path, _, _ := strings.Cut(rest, "?")
	path, _, _ = strings.Cut(path, "#")
	path = strings.ReplaceAll(strings.ToLower(path), "%2e", ".")
	if strings.Contains(path, "\\") || strings.Contains(path, "%5c") || strings.Contains(path, "%2f") {
		return true
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// rewriteBody rewrites meta.location in a single resource or in each of a
// ListResponse's Resources, keeping every other byte of the resources as
// upstream sent them. It returns the original bytes when nothing changed
// or the body is not an object. When users is set it also returns the
// user resources seen, for linking.
func (p *Proxy) rewriteBody(b []byte, users bool) ([]byte, []userDoc) {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return b, nil
	}
	var docs []userDoc
	changed := false
	if k, ok := findKey(top, "Resources"); ok {
		var items []json.RawMessage
		if json.Unmarshal(top[k], &items) == nil {
			itemsChanged := false
			for i, it := range items {
				if nb, ok := p.rewriteResource(it); ok {
					items[i], itemsChanged = nb, true
				}
				if users {
					if d, ok := parseUser(it); ok {
						docs = append(docs, d)
					}
				}
			}
			if itemsChanged {
				top[k], changed = marshal(items), true
			}
		}
	} else {
		if nb, ok := p.rewriteResource(b); ok {
			if users {
				if d, ok := parseUser(b); ok {
					docs = append(docs, d)
				}
			}
			return nb, docs
		}
		if users {
			if d, ok := parseUser(b); ok {
				docs = append(docs, d)
			}
		}
	}
	if !changed {
		return b, docs
	}
	return marshal(top), docs
}

// rewriteResource rewrites meta.location of one resource object.
func (p *Proxy) rewriteResource(raw json.RawMessage) (json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return raw, false
	}
	mk, ok := findKey(obj, "meta")
	if !ok {
		return raw, false
	}
	var meta map[string]json.RawMessage
	if json.Unmarshal(obj[mk], &meta) != nil || meta == nil {
		return raw, false
	}
	lk, ok := findKey(meta, "location")
	if !ok {
		return raw, false
	}
	var loc string
	if json.Unmarshal(meta[lk], &loc) != nil {
		return raw, false
	}
	nl, ok := p.rewriteURL(loc)
	if !ok || nl == loc {
		return raw, false
	}
	meta[lk] = marshal(nl)
	obj[mk] = marshal(meta)
	return marshal(obj), true
}

// findKey looks a key up case-insensitively (SCIM attribute names are).
func findKey(m map[string]json.RawMessage, want string) (string, bool) {
	if _, ok := m[want]; ok {
		return want, true
	}
	for k := range m {
		if strings.EqualFold(k, want) {
			return k, true
		}
	}
	return "", false
}

// marshal encodes without HTML escaping, so untouched strings keep their
// bytes ("&" stays "&").
func marshal(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// userDoc is what linking needs from a SCIM User.
type userDoc struct {
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Emails   []struct {
		Value   string `json:"value"`
		Primary any    `json:"primary"`
	} `json:"emails"`
	Active any `json:"active"`
}

func parseUser(b []byte) (userDoc, bool) {
	var d userDoc
	if json.Unmarshal(b, &d) != nil || d.ID == "" {
		return userDoc{}, false
	}
	return d, true
}

// collaborator derives the link record: the primary email, else the first
// one, else userName when it looks like an email. active defaults to true
// when absent (SCIM users are active unless said otherwise).
func (d userDoc) collaborator() state.Collaborator {
	c := state.Collaborator{ID: d.ID, UserName: d.UserName, Active: true}
	for _, e := range d.Emails {
		if v, _ := scimBool(e.Primary); v && e.Value != "" {
			c.Email = e.Value
			break
		}
	}
	if c.Email == "" {
		for _, e := range d.Emails {
			if e.Value != "" {
				c.Email = e.Value
				break
			}
		}
	}
	if c.Email == "" && strings.Contains(d.UserName, "@") {
		c.Email = d.UserName
	}
	c.Email = strings.TrimSpace(c.Email)
	if b, ok := scimBool(d.Active); ok {
		c.Active = b
	}
	return c
}

// scimBool accepts true/false and Entra's "True"/"False" strings.
func scimBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(t)))
		return b, err == nil
	}
	return false, false
}

// afterSuccess records links and fires deprovisioning for a 2xx answer.
// Everything here is best-effort: failures are logged, never returned.
func (p *Proxy) afterSuccess(x *exchange, status int, docs []userDoc) {
	rt := x.route
	if rt.collection != "Users" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.parent), linkTimeout)
	defer cancel()

	switch x.method {
	case http.MethodDelete:
		if rt.id == "" {
			return
		}
		c := state.Collaborator{ID: rt.id}
		if known := p.lookup(ctx, rt.id); known != nil {
			c = *known
		}
		p.deprovision(ctx, c, "delete")
		if p.opts.Links != nil {
			if err := p.opts.Links.ForgetCollaborator(ctx, rt.id); err != nil && !errors.Is(err, state.ErrNotFound) {
				p.log.WarnContext(ctx, "workspace scim passthrough: forgetting collaborator link failed", "id", rt.id, "error", err)
			}
		}
		return
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return
	}

	for _, d := range docs {
		p.record(ctx, d.collaborator())
	}

	if rt.id == "" || (x.method != http.MethodPut && x.method != http.MethodPatch) {
		return
	}
	var now *state.Collaborator
	for _, d := range docs {
		if d.ID == rt.id {
			c := d.collaborator()
			now = &c
		}
	}
	if now == nil && status == http.StatusNoContent && x.method == http.MethodPatch && patchDeactivates(x.body) {
		// A 204 carries no resource; the confirmed PatchOp is the evidence.
		c := state.Collaborator{ID: rt.id}
		if x.prev != nil {
			c = *x.prev
		}
		c.Active = false
		p.record(ctx, c)
		now = &c
	}
	if now != nil && !now.Active && (x.prev == nil || x.prev.Active) {
		p.deprovision(ctx, *now, "deactivate")
	}
}

func (p *Proxy) lookup(ctx context.Context, id string) *state.Collaborator {
	if p.opts.Links == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), linkTimeout)
	defer cancel()
	c, err := p.opts.Links.Collaborator(ctx, id)
	if err != nil {
		if !errors.Is(err, state.ErrNotFound) {
			p.log.WarnContext(ctx, "workspace scim passthrough: reading collaborator link failed", "id", id, "error", err)
		}
		return nil
	}
	return c
}

func (p *Proxy) record(ctx context.Context, c state.Collaborator) {
	if p.opts.Links == nil || c.ID == "" {
		return
	}
	if err := p.opts.Links.RecordCollaborator(ctx, c); err != nil {
		p.log.WarnContext(ctx, "workspace scim passthrough: recording collaborator link failed", "id", c.ID, "error", err)
	}
}

// deprovision calls OnDeprovision, shielding the IdP's request from a
// panicking callback.
func (p *Proxy) deprovision(ctx context.Context, c state.Collaborator, action string) {
	if p.opts.OnDeprovision == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			p.log.ErrorContext(ctx, "workspace scim passthrough: OnDeprovision panicked", "id", c.ID, "action", action, "panic", fmt.Sprint(v))
		}
	}()
	p.log.InfoContext(ctx, "workspace scim passthrough: collaborator deprovisioned upstream", "id", c.ID, "action", action)
	p.opts.OnDeprovision(ctx, c, action)
}

// patchDeactivates reports whether a PatchOp sets active to false, either
// with path "active" or path-less (Okta's {"op":"replace","value":{"active":false}}).
func patchDeactivates(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	k, ok := findKey(m, "Operations")
	if !ok {
		return false
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if json.Unmarshal(m[k], &ops) != nil {
		return false
	}
	res := false
	for _, op := range ops {
		if !strings.EqualFold(op.Op, "replace") && !strings.EqualFold(op.Op, "add") {
			continue
		}
		var v any
		if strings.EqualFold(op.Path, "active") {
			_ = json.Unmarshal(op.Value, &v)
		} else if op.Path == "" {
			var obj map[string]json.RawMessage
			if json.Unmarshal(op.Value, &obj) != nil {
				continue
			}
			ak, ok := findKey(obj, "active")
			if !ok {
				continue
			}
			_ = json.Unmarshal(obj[ak], &v)
		} else {
			continue
		}
		if b, ok := scimBool(v); ok {
			res = !b
		}
	}
	return res
}
