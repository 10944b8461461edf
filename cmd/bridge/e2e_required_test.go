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

// Issue 17 §4: the deactivation log says what happened. A user in no
// linked group loses nothing, and the log must not claim "removed the
// managed access groups"; a user in one names the groups removed.
func TestDeactivationLogSaysWhatHappened(t *testing.T) {
	h := newBridge(t)
	create := func(email string) string {
		r := h.must(201, h.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": email, "active": true}))
		return r.Body["id"].(string)
	}
	bare, member := create("bare.deact@example.com"), create("member.deact@example.com")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": member}}}))
	h.drain()
	deactivate := func(id string) []string {
		h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": false}))))
		var lines []string
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "deactivated") && strings.Contains(l, id) {
				lines = append(lines, l)
			}
		}
		return lines
	}
	for _, tc := range []struct {
		name, id, want, not string
	}{
		{"no linked groups", bare, "nothing removed", "removed the managed access groups"},
		{"one linked group", member, "removed the managed access groups", "nothing removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := deactivate(tc.id)
			all := strings.Join(lines, "\n")
			if len(lines) != 1 || !strings.Contains(all, tc.want) || strings.Contains(all, tc.not) {
				t.Errorf("deactivation log, want one line saying %q:\n%s", tc.want, all)
			}
			if tc.id == member && !strings.Contains(all, "members") {
				t.Errorf("the log does not name the group removed: %s", all)
			}
		})
	}
}
