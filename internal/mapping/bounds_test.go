package mapping

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckFilterBounds(t *testing.T) {
	long := func(n int) string { return `userName eq "` + strings.Repeat("a", n-14) + `"` }
	cases := []struct {
		name   string
		filter string
		depth  int
		ok     bool
	}{
		{"plain", `userName eq "a@example.com"`, 0, true},
		{"at the length bound", long(MaxFilterLength), 0, true},
		{"over the length bound", long(MaxFilterLength + 1), 0, false},
		{"value path", `emails[type eq "work" and value eq "a"]`, 1, true},
		{"depth 10", strings.Repeat("(", 10) + `a pr` + strings.Repeat(")", 10), 10, true},
		{"depth 11", strings.Repeat("(", 11) + `a pr` + strings.Repeat(")", 11), 11, false},
		{"mixed brackets", `(a pr and emails[(value eq "x")])`, 3, true},
		{"siblings do not add up", strings.Repeat(`(a pr) or `, 30) + `(a pr)`, 1, true},
		{"literal brackets are not nesting", `a eq "((((((((((((["`, 0, true},
		{"escaped quote inside a literal", `a eq "\"(((((((((((("`, 0, true},
		{"escaped backslash ends the literal", `a eq "\\" or ` + strings.Repeat("(", 11) + `a pr` + strings.Repeat(")", 11), 11, false},
		{"unterminated literal", `a eq "((((((((((((`, 0, true},
		{"stray closers", `))))a pr((`, 2, true},
	}
	for _, c := range cases {
		if d := filterDepth(c.filter); d != c.depth {
			t.Errorf("%s: depth %d, want %d", c.name, d, c.depth)
		}
		err := CheckFilterBounds(c.filter)
		if c.ok != (err == nil) {
			t.Errorf("%s: CheckFilterBounds = %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		var me *Error
		if err != nil && (!errors.As(err, &me) || me.ScimType != ScimTypeInvalidFilter || me.Status != 400) {
			t.Errorf("%s: %#v, want a 400 invalidFilter *Error", c.name, err)
		}
	}
}

func TestMeasureRequest(t *testing.T) {
	members := func(n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf(`{"value":"u%d"}`, i)
		}
		return "[" + strings.Join(ids, ",") + "]"
	}
	patch := func(ops ...string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
	}
	cases := []struct {
		name         string
		body         string
		patch, group bool
		want         RequestSize
	}{
		{"POST group", `{"displayName":"a","members":` + members(3) + `}`, false, true, RequestSize{Members: 3}},
		{"POST group, URN key", `{"displayName":"a","urn:ietf:params:scim:schemas:core:2.0:Group:members":` + members(2) + `}`, false, true, RequestSize{Members: 2}},
		{"POST group, members null", `{"displayName":"a","members":null}`, false, true, RequestSize{}},
		{"POST user has no members", `{"userName":"a","members":` + members(3) + `}`, false, false, RequestSize{}},
		{"PATCH user", patch(`{"op":"replace","path":"active","value":false}`, `{"op":"add","path":"title","value":"x"}`), true, false, RequestSize{Operations: 2}},
		{"PATCH group add", patch(`{"op":"add","path":"members","value":` + members(4) + `}`), true, true, RequestSize{Operations: 1, Members: 4}},
		{"PATCH group, one member object", patch(`{"op":"add","path":"members","value":{"value":"u1"}}`), true, true, RequestSize{Operations: 1, Members: 1}},
		{"PATCH group, Members and URN path", patch(`{"op":"Add","Path":"Members","Value":`+members(2)+`}`, `{"op":"add","path":"urn:ietf:params:scim:schemas:core:2.0:Group:members","value":`+members(3)+`}`), true, true, RequestSize{Operations: 2, Members: 5}},
		{"PATCH group, path-less", patch(`{"op":"replace","value":{"displayName":"x","members":` + members(6) + `}}`), true, true, RequestSize{Operations: 1, Members: 6}},
		{"PATCH group, value path", patch(`{"op":"remove","path":"members[value eq \"a\" or value eq \"b\" or value EQ \"c\"]"}`), true, true, RequestSize{Operations: 1, Members: 3}},
		{"PATCH group, eq inside a literal", patch(`{"op":"remove","path":"members[value eq \"x eq y\"]"}`), true, true, RequestSize{Operations: 1, Members: 1}},
		{"PATCH group, remove all", patch(`{"op":"remove","path":"members"}`), true, true, RequestSize{Operations: 1}},
		{"PATCH group, displayName", patch(`{"op":"replace","path":"displayName","value":"x"}`), true, true, RequestSize{Operations: 1}},
		{"PATCH, operations twice", `{"Operations":[{},{}],"operations":[{}]}`, true, false, RequestSize{Operations: 3}},
		{"PATCH, Operations not a list", `{"Operations":{"op":"add"}}`, true, false, RequestSize{}},
		{"not an object", `[1,2,3]`, true, true, RequestSize{}},
	}
	for _, c := range cases {
		if got := MeasureRequest([]byte(c.body), c.patch, c.group); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestCheckRequestSize(t *testing.T) {
	for _, c := range []struct {
		size               RequestSize
		maxOps, maxMembers int
		ok                 bool
		mentions           string
	}{
		{RequestSize{Operations: 1000, Members: 1000}, 0, 0, true, ""},
		{RequestSize{Operations: 1001}, 0, 0, false, "limits.maxPatchOperations"},
		{RequestSize{Members: 1001}, 0, 0, false, "limits.maxMembersPerRequest"},
		{RequestSize{Operations: 3, Members: 5}, 3, 5, true, ""},
		{RequestSize{Members: 6}, 3, 5, false, "at most 5"},
	} {
		err := CheckRequestSize(c.size, c.maxOps, c.maxMembers)
		if c.ok != (err == nil) {
			t.Errorf("%+v (%d, %d): %v", c.size, c.maxOps, c.maxMembers, err)
			continue
		}
		var me *Error
		if err != nil && (!errors.As(err, &me) || me.Status != 400 || me.ScimType != ScimTypeInvalidValue || !strings.Contains(me.Detail, c.mentions)) {
			t.Errorf("%+v: %#v", c.size, err)
		}
	}
}
