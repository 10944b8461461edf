package main

import (
	"net/url"
	"sort"
	"strings"
	"testing"
)

// Issue 17 §3: attributes / excludedAttributes follow RFC 7643's
// "returned" rules on every path that renders a resource (the library's
// single-resource answers, the bridge's own lists): id and schemas are
// returned "always"; meta and externalId are returned "default", so
// excludedAttributes removes them and attributes=… carries them only when
// named.
func TestProjectionFollowsReturned(t *testing.T) {
	h := newBridge(t)
	u := h.must(201, h.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "proj@example.com",
		"externalId": "ext-proj", "name": map[string]any{"givenName": "Pro", "familyName": "Jection"}, "active": true}))
	id := u.Body["id"].(string)
	g := h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "externalId": "ext-group"}))
	gid := g.Body["id"].(string)
	filter := "filter=" + url.QueryEscape(`userName eq "proj@example.com"`)

	tests := []struct {
		name, method, path string
		body               any
		list               bool
		want               []string // the top-level keys, exactly
	}{
		{"GET user, excludedAttributes=meta,schemas,id,externalId", "GET", "/Users/" + id + "?excludedAttributes=meta,schemas,id,externalId", nil, false,
			[]string{"active", "id", "name", "schemas", "urn:ietf:params:scim:schemas:extension:webflow:2.0:User", "userName"}},
		{"GET user, attributes=userName", "GET", "/Users/" + id + "?attributes=userName", nil, false, []string{"id", "schemas", "userName"}},
		{"GET user, attributes=userName,meta.lastModified,externalId", "GET", "/Users/" + id + "?attributes=userName,meta.lastModified,externalId", nil, false,
			[]string{"externalId", "id", "meta", "schemas", "userName"}},
		{"PATCH user, attributes=active", "PATCH", "/Users/" + id + "?attributes=active", patch(op("replace", "displayName", "Pro J")), false, []string{"active", "id", "schemas"}},
		{"PUT user, excludedAttributes=meta", "PUT", "/Users/" + id + "?excludedAttributes=meta", map[string]any{"schemas": []string{userSchema}, "userName": "proj@example.com", "externalId": "ext-proj", "active": true}, false,
			[]string{"active", "externalId", "id", "schemas", "urn:ietf:params:scim:schemas:extension:webflow:2.0:User", "userName"}},
		{"list users, attributes=userName", "GET", "/Users?" + filter + "&attributes=userName", nil, true, []string{"id", "schemas", "userName"}},
		{"list users, excludedAttributes=meta", "GET", "/Users?" + filter + "&excludedAttributes=meta,name", nil, true,
			[]string{"active", "externalId", "id", "schemas", "urn:ietf:params:scim:schemas:extension:webflow:2.0:User", "userName"}},
		{"GET group, excludedAttributes=members,meta", "GET", "/Groups/" + gid + "?excludedAttributes=members,meta", nil, false,
			[]string{"displayName", "externalId", "id", "schemas", "urn:ietf:params:scim:schemas:extension:webflow:2.0:Group"}},
		{"list groups, attributes=displayName", "GET", "/Groups?attributes=displayName", nil, true, []string{"displayName", "id", "schemas"}},
		// After the PUT above, which sent no name: everything stored, meta included.
		{"GET user without projection keeps meta", "GET", "/Users/" + id, nil, false,
			[]string{"active", "externalId", "id", "meta", "schemas", "urn:ietf:params:scim:schemas:extension:webflow:2.0:User", "userName"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.must(200, h.do(tc.method, tc.path, tc.body))
			res := r.Body
			if tc.list {
				rs, _ := r.Body["Resources"].([]any)
				if len(rs) == 0 {
					t.Fatalf("no resources: %s", r.Raw)
				}
				res, _ = rs[0].(map[string]any)
			}
			got := make([]string, 0, len(res))
			for k := range res {
				got = append(got, k)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("keys %v, want %v: %s", got, tc.want, r.Raw)
			}
			if tc.method == "GET" && strings.Contains(tc.path, "meta.lastModified") {
				if m, _ := res["meta"].(map[string]any); len(m) != 1 || m["lastModified"] == nil {
					t.Errorf("meta.lastModified asked for, got meta %v", res["meta"])
				}
			}
		})
	}
}
