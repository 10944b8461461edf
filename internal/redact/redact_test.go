package redact

import "testing"

func TestEmails(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ann@example.com", "***@example.com"},
		{"role of Ann.Lee+x@mail.example.co.uk kept; bob@b.io too", "role of ***@mail.example.co.uk kept; ***@b.io too"},
		{"no address here", "no address here"},
		{"", ""},
	} {
		if got := Emails(tc.in); got != tc.want {
			t.Errorf("Emails(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
