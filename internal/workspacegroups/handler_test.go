package workspacegroups

import (
	"testing"

	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// The Groups routes are this handler's in any case and with a trailing
// slash, so no spelling of them slips past to the native SCIM passthrough.
func TestOwns(t *testing.T) {
	m, err := workspaceroles.NewMapping(workspaceroles.Spec{Groups: map[string]workspaceroles.RoleSpec{"Eng": {Workspace: "member", Site: "designer"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(Options{Mapping: m, Prefix: "/workspace/scim/v2", AdminPath: "/workspace/admin/memberships"})
	for _, tc := range []struct {
		path string
		want bool
		rest string
	}{
		{"/workspace/scim/v2/Groups", true, ""},
		{"/workspace/scim/v2/groups", true, ""},
		{"/workspace/scim/v2/GROUPS/", true, ""},
		{"/workspace/scim/v2/Groups/0123456789abcdef0123456789abcdef", true, "/0123456789abcdef0123456789abcdef"},
		{"/workspace/scim/v2/groups/abc/", true, "/abc"},
		{"/workspace/admin/memberships", true, ""},
		{"/workspace/scim/v2/GroupsX", false, ""},
		{"/workspace/scim/v2/Users", false, ""},
		{"/workspace/scim/v2", false, ""},
		{"/sites/x/scim/v2/Groups", false, ""},
	} {
		if got := h.Owns(tc.path); got != tc.want {
			t.Errorf("Owns(%q) = %v, want %v", tc.path, got, tc.want)
		}
		if rest, ok := h.groupsRest(tc.path); ok && rest != tc.rest {
			t.Errorf("groupsRest(%q) = %q, want %q", tc.path, rest, tc.rest)
		}
	}
}

func TestMemberList(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want int
		ok   bool
	}{
		{"null", nil, 0, true},
		{"empty", []any{}, 0, true},
		{"two", []any{map[string]any{"value": "a"}, map[string]any{"Value": "b", "display": "B"}}, 2, true},
		{"string", "a", 0, false},
		{"number value", []any{map[string]any{"value": 4}}, 0, false},
		{"empty value", []any{map[string]any{"value": ""}}, 0, false},
		{"no value", []any{map[string]any{"display": "x"}}, 0, false},
		{"bare string", []any{"a"}, 0, false},
	} {
		ids, err := memberList(tc.v)
		if (err == nil) != tc.ok || len(ids) != tc.want {
			t.Errorf("%s: %v, %v", tc.name, ids, err)
		}
	}
}
