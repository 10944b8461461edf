package mapping

import (
	"errors"
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
