package scimserver

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkUserPatch: Okta's deactivate (path-less active:false) and
// Entra's reactivate (path "active") of a user in a linked group, as the
// IdP-form bench sends them, through the whole server in-process (the
// simulator behind an HTTP socket, the embedded store or REDIS_URL): each
// op is one pair, 2 Webflow calls and 3–4 Redis round trips each.
// allocs/op includes the simulator's; compare on a real Redis:
//
//	REDIS_URL=redis://127.0.0.1:6379/9 go test -run '^$' -bench UserPatch -benchmem ./internal/scimserver/
func BenchmarkUserPatch(b *testing.B) {
	f := newBoundsFixture(b, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) })
	id := f.staffMember(b, "patch.bench@example.com")
	bodies := [][]byte{
		[]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`),
		[]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":true}]}`),
	}
	w := replayUserWrites(b, f, http.MethodPatch, id, bodies)
	if !bytes.Contains(w.last, []byte(`"active":true`)) {
		b.Fatalf("last answer: %s", w.last)
	}
}

// BenchmarkUserPut: Okta's deactivate and reactivate as an AIW app sends
// them (PUT of the whole user), through the whole server in-process, with
// the fast path (fastPut) and through the library:
//
//	REDIS_URL=redis://127.0.0.1:6379/9 go test -run '^$' -bench UserPut -benchmem ./internal/scimserver/
func BenchmarkUserPut(b *testing.B) {
	for _, mode := range []string{"fast", "library"} {
		b.Run(mode, func(b *testing.B) {
			f := newBoundsFixture(b, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) })
			f.srv.sites[boundsSiteA].slowPaths = mode == "library"
			id := f.staffMember(b, "put.bench@example.com")
			var bodies [][]byte
			for _, active := range []bool{false, true} {
				bodies = append(bodies, fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,"userName":"put.bench@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"put.bench@example.com","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00uput.bench@example.com","groups":[],"active":%t}`, id, active))
			}
			replayUserWrites(b, f, http.MethodPut, id, bodies)
		})
	}
}

// replayUserWrites sends bodies, in turn, to /Users/{id} of site A with
// method, through the whole server, in every iteration of b.Loop, fails
// the benchmark on any answer but 200, and returns the writer holding the
// last answer.
func replayUserWrites(b *testing.B, f *boundsFixture, method, id string, bodies [][]byte) *discardWriter {
	target := "/sites/" + boundsSiteA + "/scim/v2/Users/" + id
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range bodies {
			req := httptest.NewRequest(method, target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+boundsTokenA)
			req.Header.Set("Content-Type", "application/scim+json")
			clear(w.h)
			w.status = 0
			f.srv.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("%s: %d %s", method, w.status, w.last)
			}
		}
	}
	return w
}
