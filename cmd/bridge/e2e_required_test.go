package main

import (
	"strings"
	"testing"
)

// Issue 17 §4: a POST or PUT without the resource's required attribute is
// 400 invalidValue with a detail that names it, not elimity's "A required
// value was missing…", which names nothing.
func TestMissingRequiredAttributeIsNamed(t *testing.T) {
	h := newBridge(t)
	alice := h.must(201, h.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "alice.req@example.com", "active": true}))
	for _, tc := range []struct {
		name, method, path string
		body               map[string]any
		attr               string
	}{
		{"POST user without userName", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "active": true}, "userName"},
		{"POST user with userName null", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": nil}, "userName"},
		{"PUT user without userName", "PUT", "/Users/" + alice.Body["id"].(string), map[string]any{"schemas": []string{userSchema}, "active": true}, "userName"},
		{"POST group without displayName", "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "members": []any{}}, "displayName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := h.calls()
			r := h.do(tc.method, tc.path, tc.body)
			if r.Status != 400 {
				t.Fatalf("%d %s, want 400", r.Status, r.Raw)
			}
			if !strings.Contains(r.Raw, `"scimType":"invalidValue"`) || !strings.Contains(r.Raw, tc.attr) {
				t.Errorf("the error does not name %s: %s", tc.attr, r.Raw)
			}
			if n := h.calls() - calls; n != 0 {
				t.Errorf("%d Webflow calls for a body without %s", n, tc.attr)
			}
		})
	}
}
