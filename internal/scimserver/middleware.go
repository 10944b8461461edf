package scimserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
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

// accessLog logs one line per request, and turns a panic into a SCIM 500.
// It never logs the Authorization header or bodies.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "", "internal error in the bridge; the bridge log has the cause")
				}
			}
			lvl := slog.LevelInfo
			if rec.status >= 500 {
				lvl = slog.LevelError
			}
			log.Log(r.Context(), lvl, "scim request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000,
				"user_agent", r.UserAgent())
		}()
		next.ServeHTTP(rec, r)
	})
}

// acceptedMediaType reports whether a request body's Content-Type is one
// SCIM clients send. A missing type is accepted (some scripts omit it).
func acceptedMediaType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch mt {
	case "application/scim+json", "application/json", "text/json":
		return true
	}
	return false
}
