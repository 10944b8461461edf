package mapping

import (
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// parsePath is filter.ParsePath with a fast path for the paths IdPs send
// nearly always: an attribute name ("active") or an attribute and a
// sub-attribute ("name.givenName"). The library's PEG parser costs tens of
// microseconds per path, several times per PATCH; these two shapes are
// built directly, with the same result (FuzzParsePath checks it against
// the parser). Anything else (URNs, filters, three parts) goes to the
// parser.
func parsePath(p string) (filter.Path, error) {
	name, sub, dotted := strings.Cut(p, ".")
	if !isAttrName(name) || (dotted && !isAttrName(sub)) {
		return filter.ParsePath([]byte(p))
	}
	ap := filter.AttributePath{AttributeName: name}
	if dotted {
		ap.SubAttribute = &sub
	}
	return filter.Path{AttributePath: ap}, nil
}

// isAttrName reports whether s is an ATTRNAME of RFC 7644's grammar:
// ALPHA *(ALPHA / DIGIT / "-" / "_").
func isAttrName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
