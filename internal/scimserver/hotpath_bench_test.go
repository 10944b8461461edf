package scimserver

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkRequestPath counts what every SCIM request pays in the bridge
// itself, with the access log on (JSON to io.Discard, as in production)
// and the handler called in-process (no HTTP client or socket):
//
//   - middleware: path normaliser, access log, request id, call count and
//     the observe hook around a handler that only answers 204;
//   - filtered GET: Okta's lookup, GET /Users?filter=userName eq "…"&
//     startIndex=1&count=100, through the whole server (mux, bearer check,
//     site gate, list, one Redis round trip, rendering) for a user in a
//     group.
//
// allocs/op is the deterministic figure to compare (-benchmem); with
// miniredis the server's own allocations count too, so compare on a real
// Redis:
//
//	REDIS_URL=redis://127.0.0.1:6379/9 go test -run '^$' -bench RequestPath -benchmem ./internal/scimserver/
func BenchmarkRequestPath(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	b.Run("middleware", func(b *testing.B) {
		var seen int
		h := pathNormaliser(accessLog(log, map[string]*site{boundsSiteA: {}}, func(RequestInfo) { seen++ },
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
		req := httptest.NewRequest(http.MethodGet, "/sites/"+boundsSiteA+"/scim/v2/Users/abc", nil)
		req.Header.Set("Authorization", "Bearer x")
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
		if seen == 0 || w.status != http.StatusNoContent {
			b.Fatalf("observed %d, status %d", seen, w.status)
		}
	})
	b.Run("filtered GET", func(b *testing.B) {
		f := newBoundsFixture(b, func(o *Options) { o.Logger = log })
		var name string
		var ids []string
		for i := range 20 {
			name = fmt.Sprintf("bench.user%03d@example.com", i)
			a := f.do(b, boundsSiteA, "POST", "/Users", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+
				`","externalId":"00u`+fmt.Sprint(i)+`","name":{"givenName":"Bench","familyName":"User"},"displayName":"Bench User","emails":[{"value":"`+name+`","type":"work","primary":true}],"active":true}`))
			if a.status != 201 {
				b.Fatalf("POST /Users: %d %s", a.status, a.raw)
			}
			ids = append(ids, a.body["id"].(string))
		}
		if g := f.do(b, boundsSiteA, "POST", "/Groups", groupBody("Staff", ids)); g.status != 201 {
			b.Fatalf("POST /Groups: %d %s", g.status, g.raw)
		}
		target := "/sites/" + boundsSiteA + "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "`+name+`"`) + "&startIndex=1&count=100"
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+boundsTokenA)
		req.Header.Set("User-Agent", "Okta SCIM Client 1.0.0")
		w := &discardWriter{h: http.Header{}}
		f.srv.ServeHTTP(w, req)
		var page struct {
			TotalResults int
			Resources    []map[string]any
		}
		if err := json.Unmarshal(w.last, &page); err != nil || w.status != 200 || page.TotalResults != 1 || page.Resources[0]["groups"] == nil {
			b.Fatalf("status %d, %v: %s", w.status, err, w.last)
		}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			f.srv.ServeHTTP(w, req)
		}
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	})
}

// discardWriter is a ResponseWriter that keeps the status and the last
// body written, and allocates nothing per request.
type discardWriter struct {
	h      http.Header
	status int
	last   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	w.status = code
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.last = append(w.last[:0], b...)
	return len(b), nil
}
