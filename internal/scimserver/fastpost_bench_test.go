package scimserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/elimity-com/scim/schema"

	"github.com/webflowscim/bridge/internal/mapping"
)

// oktaCreate is Okta's POST /Users body (idp-clients.md §1) for userName.
func oktaCreate(userName string) []byte {
	return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":%q,"type":"work"}],"displayName":"Test User","locale":"en-US","externalId":%q,"groups":[],"password":"1mz050nq","active":true}`, userName, userName, "00u"+userName)
}

// BenchmarkPostUsersBody: reading Okta's create body into the User, by
// fastCreateUser and by the library's way (a map through encoding/json,
// the schema walk, FromAttributes).
func BenchmarkPostUsersBody(b *testing.B) {
	body := oktaCreate("test.user@okta.local")
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fastCreateUser(body); !ok {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		schema.SetAllowStringValues(true)
		core := schema.CoreUserSchema()
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&m); err != nil {
				b.Fatal(err)
			}
			attrs, serr := core.Validate(m)
			if serr != nil {
				b.Fatal(serr)
			}
			if _, err := mapping.FromAttributes(attrs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPostUsers: Okta's POST /Users through the whole server
// in-process (the simulator behind an HTTP socket, the embedded store or
// REDIS_URL), with the fast path and through the library:
//
//	go test -run '^$' -bench 'PostUsers$' -benchmem ./internal/scimserver/
func BenchmarkPostUsers(b *testing.B) {
	for _, mode := range []string{"fast", "library"} {
		b.Run(mode, func(b *testing.B) {
			f := newBoundsFixture(b, nil)
			f.srv.sites[boundsSiteA].slowPaths = mode == "library"
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				req := httptest.NewRequest(http.MethodPost, "/sites/"+boundsSiteA+"/scim/v2/Users", bytes.NewReader(oktaCreate(fmt.Sprintf("bench%07d@example.com", i))))
				req.Header.Set("Authorization", "Bearer "+boundsTokenA)
				req.Header.Set("Content-Type", "application/scim+json")
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
