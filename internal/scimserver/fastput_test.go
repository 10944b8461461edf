package scimserver

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

// TestPutUsersAnswersAsTheLibrary: a PUT /Users/{id} served by fastPut
// answers what the library answers. Each body goes through the fast path
// and then, changing nothing more, through the library (slowPaths), or
// the other way round; status, headers and bytes must be the same, also
// for errors (an unknown id, a userName another user holds).
func TestPutUsersAnswersAsTheLibrary(t *testing.T) {
	f := newBoundsFixture(t, nil)
	st := f.srv.sites[boundsSiteA]
	create := func(userName string) string {
		a := f.do(t, boundsSiteA, http.MethodPost, "/Users", oktaCreate(userName))
		if a.status != http.StatusCreated {
			t.Fatalf("POST /Users: %d %s", a.status, a.raw)
		}
		return a.body["id"].(string)
	}
	id := f.staffMember(t, "put.fast@example.com")
	create("put.other@example.com")
	// put is Okta's PUT (an AIW app): the whole user, its id included.
	put := func(id, userName, given string, active bool) []byte {
		return fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,"userName":%q,"name":{"givenName":%q,"familyName":"User"},"emails":[{"primary":true,"value":%q,"type":"work"}],"displayName":"Test User","locale":"en-US","externalId":%q,"groups":[],"active":%t}`,
			id, userName, given, userName, "00u"+userName, active)
	}
	for _, tc := range []struct {
		name       string
		id         string
		body       []byte
		status     int
		fastIsLast bool // the library changes, the fast path then changes nothing
	}{
		{"deactivate", id, put(id, "put.fast@example.com", "Test", false), http.StatusOK, false},
		{"reactivate", id, put(id, "put.fast@example.com", "Test", true), http.StatusOK, true},
		{"name change", id, put(id, "put.fast@example.com", "Renamed", true), http.StatusOK, false},
		{"deactivate and rename", id, put(id, "put.fast@example.com", "Again", false), http.StatusOK, true},
		{"no change", id, put(id, "put.fast@example.com", "Again", false), http.StatusOK, false},
		{"unknown id", "0123456789abcdef0123abcd", put("0123456789abcdef0123abcd", "put.nobody@example.com", "No", true), http.StatusNotFound, false},
		{"userName of another user", id, put(id, "put.other@example.com", "Again", false), http.StatusConflict, false},
	} {
		if _, ok := fastCreateUser(tc.body); !ok {
			t.Fatalf("%s: not a body fastPut takes", tc.name)
		}
		first, second := false, true // slowPaths of each request
		if tc.fastIsLast {
			first, second = true, false
		}
		st.slowPaths = first
		a := f.do(t, boundsSiteA, http.MethodPut, "/Users/"+tc.id, tc.body)
		st.slowPaths = second
		b := f.do(t, boundsSiteA, http.MethodPut, "/Users/"+tc.id, tc.body)
		st.slowPaths = false
		if a.status != tc.status || b.status != tc.status {
			t.Errorf("%s: %d then %d, want %d\n%s\n%s", tc.name, a.status, b.status, tc.status, a.raw, b.raw)
			continue
		}
		if !bytes.Equal(a.raw, b.raw) {
			t.Errorf("%s: the answers differ:\n%s\n%s", tc.name, a.raw, b.raw)
		}
		for _, k := range []string{"Content-Type", "Etag", "Location", "Retry-After"} {
			if a.header.Get(k) != b.header.Get(k) {
				t.Errorf("%s: header %s %q then %q", tc.name, k, a.header.Get(k), b.header.Get(k))
			}
		}
	}

	// The last PUT stored what it said: inactive, renamed, in its group.
	g := f.do(t, boundsSiteA, http.MethodGet, "/Users/"+id, nil)
	if g.body["active"] != false || g.body["groups"] == nil {
		t.Errorf("after the PUTs: %s", g.raw)
	}
}
