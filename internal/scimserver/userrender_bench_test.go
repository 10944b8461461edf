package scimserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRenderUser: one list entry for Okta's user in a group, by
// appendUser and by render's map through json.Marshal.
func BenchmarkRenderUser(b *testing.B) {
	const base = "https://bridge.example/sites/s1/scim/v2"
	rec, groups := renderUsers(b)[0], renderGroups(base)[1]
	h := &usersHandler{base: base}
	b.Run("bytes", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf = appendUser(buf[:0], rec, groups, base, userMeta{})
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(h.render(rec, nil, base, groups)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetUser: GET /Users/{id} of Okta's user in a group through the
// whole server in-process, served here and through the library:
//
//	REDIS_URL=redis://127.0.0.1:6379/13 go test -run '^$' -bench 'GetUser$' -benchmem ./internal/scimserver/
func BenchmarkGetUser(b *testing.B) {
	for _, mode := range []string{"fast", "library"} {
		b.Run(mode, func(b *testing.B) {
			f := newBoundsFixture(b, nil)
			id := f.staffMember(b, "get.user@example.com")
			f.srv.sites[boundsSiteA].slowPaths = mode == "library"
			req := httptest.NewRequest(http.MethodGet, "/sites/"+boundsSiteA+"/scim/v2/Users/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+boundsTokenA)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
