package mapping

import (
	"fmt"
)

// Request bounds: checks that run on the raw request, before anything
// parses it, so that what one request can cost is bounded by limits the
// operator knows rather than by the 1 MiB body and 64 KiB request line.

// Filter bounds (RFC 7644 §3.4.2.2 filters, and the filters inside PATCH
// paths). The scim2 filter parser backtracks, and its memory grows with
// nesting times length: a 64 KB filter of nested parentheses took the
// process from 18 MB to 571 MB RSS, three at once past the Helm chart's
// 512Mi. IdPs send one or two conditions (idp-clients.md); 2 KiB holds
// about 50 of them.
const (
	MaxFilterLength = 2048 // bytes, after percent-decoding
	MaxFilterDepth  = 10   // nested ( ) and [ ] levels
)

// CheckFilterBounds refuses, with invalidFilter, a filter longer than
// MaxFilterLength bytes or whose parentheses and brackets nest deeper than
// MaxFilterDepth outside string literals. It does not check the grammar
// (unbalanced brackets are the parser's to refuse) and does not allocate
// unless it refuses.
func CheckFilterBounds(raw string) error {
	if len(raw) > MaxFilterLength {
		return newError(ScimTypeInvalidFilter, fmt.Sprintf("the filter is %d bytes long; the bridge accepts filters of at most %d bytes", len(raw), MaxFilterLength))
	}
	if d := filterDepth(raw); d > MaxFilterDepth {
		return newError(ScimTypeInvalidFilter, fmt.Sprintf("the filter nests parentheses or brackets %d levels deep; the bridge accepts at most %d", d, MaxFilterDepth))
	}
	return nil
}

// filterDepth returns the deepest nesting of ( and [ outside string
// literals ("…" with backslash escapes, as RFC 7644's compValue).
func filterDepth(s string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '"':
			i = skipQuoted(s, i)
			continue
		case '(', '[':
			depth++
			deepest = max(deepest, depth)
		case ')', ']':
			if depth > 0 {
				depth--
			}
		}
		i++
	}
	return deepest
}
