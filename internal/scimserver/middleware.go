package scimserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// collections maps a lower-cased collection segment to the case the
// library matches exactly. Azure's Postman suite sends /users.
var collections = map[string]string{
	"users":                  "Users",
	"groups":                 "Groups",
	"schemas":                "Schemas",
	"resourcetypes":          "ResourceTypes",
	"serviceproviderconfig":  "ServiceProviderConfig",
	"serviceproviderconfigs": "ServiceProviderConfig",
}

// normalisePath cleans a request path without ever redirecting: IdPs do not
// re-send a POST or PATCH body after a 301. It collapses "//", drops "/./",
// strips a trailing "/", and canonicalises the collection segment after
// "/scim/v2/". It reports false for paths that try to climb with "..".
func normalisePath(p string) (string, bool) {
	if p != "" && cleanPath(p) {
		return p, true
	}
	return normaliseSegments(p)
}

// normaliseSegments is normalisePath without its cleanPath fast path: the
// path split into segments, cleaned and joined again.
func normaliseSegments(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	parts := strings.Split(p, "/")
	out := make([]string, 0, len(parts))
	for _, seg := range parts {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", false
		}
		out = append(out, seg)
	}
	for i := 0; i+2 < len(out); i++ {
		if out[i] == "scim" && strings.EqualFold(out[i+1], "v2") {
			out[i+1] = "v2"
			if c, ok := collections[strings.ToLower(out[i+2])]; ok {
				out[i+2] = c
			}
			break
		}
	}
	return "/" + strings.Join(out, "/"), true
}

// cleanPath reports, without allocating, whether normalisePath returns p
// itself: what every IdP sends (TestCleanPathAgreesWithNormalisePath).
func cleanPath(p string) bool {
	if p[0] != '/' {
		return false
	}
	if len(p) == 1 {
		return true
	}
	var prev2, prev1 string // the two segments before seg
	canonical := false      // the segment after the first scim/v2 was checked
	for rest, n := p[1:], 0; ; n++ {
		seg, tail, more := strings.Cut(rest, "/")
		switch seg {
		case "", ".", "..":
			return false
		}
		if !canonical && n >= 2 && prev2 == "scim" && strings.EqualFold(prev1, "v2") {
			canonical = true
			if prev1 != "v2" {
				return false
			}
			for _, c := range collectionCase {
				if strings.EqualFold(seg, c[0]) && seg != c[1] {
					return false
				}
			}
		}
		if !more {
			return true
		}
		prev2, prev1, rest = prev1, seg, tail
	}
}

// collectionCase is collections as pairs, for lookups that must not
// allocate a lower-cased copy.
var collectionCase = func() [][2]string {
	out := make([][2]string, 0, len(collections))
	for k, v := range collections {
		out = append(out, [2]string{k, v})
	}
	return out
}()

func pathNormaliser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := normalisePath(r.URL.Path)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalidPath", "path must not contain '..' segments")
			return
		}
		if p != r.URL.Path {
			r2 := r.Clone(r.Context())
			r2.URL.Path = p
			r2.URL.RawPath = ""
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestInfo describes one finished SCIM request, for logs and metrics.
// Its labels are bounded: no ids, no emails.
type RequestInfo struct {
	Site          string // configured site id, or "" (workspace/unknown)
	Resource      string // Users, Groups, Schemas, ResourceTypes, ServiceProviderConfig, admin, webhook, other
	Operation     string // create, get, list, replace, patch, delete, receive (webhook), other
	Status        int
	Duration      time.Duration
	UpstreamCalls int64
}

// pathParts splits p, trimmed of "/", at "/" as strings.Split does, into
// dst without allocating: it returns the number of parts, of which the
// first len(dst) are in dst.
func pathParts(p string, dst []string) int {
	p = strings.Trim(p, "/")
	for n := 0; ; n++ {
		seg, rest, more := strings.Cut(p, "/")
		if n < len(dst) {
			dst[n] = seg
		}
		if !more {
			return n + 1
		}
		p = rest
	}
}

// classify names the resource and operation of a normalised path.
func classify(method, p string) (site, resource, op string) {
	// classify reads no part beyond the sixth; below six, len(parts) is
	// the exact count.
	var buf [6]string
	parts := buf[:min(pathParts(p, buf[:]), len(buf))]
	if len(parts) >= 2 && parts[0] == "sites" {
		site = parts[1]
	}
	resource, op = "other", "other"
	switch {
	case len(parts) == 3 && parts[0] == "webhooks" && parts[1] == "webflow":
		// POST /webhooks/webflow/{siteID}: Webflow's signed deliveries.
		site, resource = parts[2], "webhook"
		if method == http.MethodPost {
			op = "receive"
		}
	case len(parts) >= 5 && parts[2] == "scim" && parts[3] == "v2":
		resource = parts[4]
		if _, known := collectionNames[resource]; !known {
			resource = "other"
		}
		hasID := len(parts) >= 6
		switch {
		case method == http.MethodPost && !hasID:
			op = "create"
		case method == http.MethodGet && hasID:
			op = "get"
		case method == http.MethodGet:
			op = "list"
		case method == http.MethodPut:
			op = "replace"
		case method == http.MethodPatch:
			op = "patch"
		case method == http.MethodDelete:
			op = "delete"
		}
	case len(parts) >= 3 && parts[2] == "admin":
		resource, op = "admin", "get"
	}
	return site, resource, op
}

var collectionNames = map[string]struct{}{"Users": {}, "Groups": {}, "Schemas": {}, "ResourceTypes": {}, "ServiceProviderConfig": {}}

// accessLog logs one line per request (request id, site, resource,
// operation, status, duration, upstream calls), reports it to observe, and
// turns a panic into a SCIM 500. It never logs the Authorization header,
// bodies or query strings (filters carry emails).
func accessLog(log *slog.Logger, sites map[string]*site, observe func(RequestInfo), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		ctx, calls := webflowdata.WithRequest(r.Context(), id)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "", "internal error in the bridge; the bridge log has the cause")
				}
			}
			site, resource, op := classify(r.Method, r.URL.Path)
			if _, ok := sites[site]; !ok {
				site = "unknown"
			}
			info := RequestInfo{Site: site, Resource: resource, Operation: op, Status: rec.status, Duration: time.Since(start), UpstreamCalls: calls.Load()}
			lvl := slog.LevelInfo
			if rec.status >= 500 {
				lvl = slog.LevelError
			}
			if log.Enabled(r.Context(), lvl) {
				// LogAttrs: typed attributes, not a dozen values boxed per request.
				log.LogAttrs(r.Context(), lvl, "scim request", slog.String("request_id", id), slog.String("site", site),
					slog.String("resource", resource), slog.String("operation", op), slog.String("method", r.Method),
					slog.Int("status", rec.status), slog.Float64("duration_ms", float64(info.Duration.Microseconds())/1000),
					slog.Int64("upstream_calls", info.UpstreamCalls), slog.Int("bytes", rec.bytes), slog.String("user_agent", r.UserAgent()))
			}
			if observe != nil {
				observe(info)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// validRequestID accepts a caller's id only if it is short and plain, so it
// can go into logs and upstream headers safely.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// DefaultMaxConcurrentRequestsPerSite is how many SCIM requests one site
// may have in progress on a replica (limits.maxConcurrentRequestsPerSite).
// IdPs provision with a handful of parallel requests, and `bridge bench`
// drives at most 16. A flood beyond the limit gets 429 at once, so it
// cannot take the CPU, the Redis connection pool or the memory the other
// sites' requests need. BenchmarkSiteFlood on 2 cores: the flooding site
// is served as fast at 16 as at 32 or unbounded (the CPU bounds it), and
// the other site's p99 was 60-116 ms, against 109-118 at 32 and 162-181
// unbounded (three runs).
const DefaultMaxConcurrentRequestsPerSite = 16

// siteGate admits at most cap(slots) requests of one site at once.
type siteGate struct{ slots chan struct{} }

func newSiteGate(n int) siteGate { return siteGate{slots: make(chan struct{}, n)} }

// enter takes a slot without waiting: a client over the limit is told to
// come back (a queue would hold its connection and body for nothing). A
// slot taken is given back with leave.
func (g siteGate) enter() bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// leave frees a slot enter took.
func (g siteGate) leave() { <-g.slots }

// siteBusyRetryAfter is the Retry-After of a 429 for a site over its
// limit: slots free as fast as requests finish, in milliseconds.
const siteBusyRetryAfter = "1"

// admitSite answers 429 with Retry-After, as a SCIM Error (this runs
// before the library, which would turn a 429 into a 500), when st already
// has its limit of requests in progress; otherwise it reports true, and
// the caller frees the slot with st.gate.leave. Only authenticated requests reach it, so a stranger
// cannot use up a site's slots.
func admitSite(w http.ResponseWriter, st *site) (ok bool) {
	if !st.gate.enter() {
		w.Header().Set("Retry-After", siteBusyRetryAfter)
		writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf("site %s already has %d requests in progress on this bridge, its limit (limits.maxConcurrentRequestsPerSite); retry after the time in Retry-After", st.cfg.ID, cap(st.gate.slots)))
		return false
	}
	return true
}
