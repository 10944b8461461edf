package mapping

import (
	"encoding/json"
	"fmt"
	"strings"
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

// Size bounds (limits.maxPatchOperations, limits.maxMembersPerRequest).
// Every operation and every member of a request costs validation here and
// steps of a Redis script: one PATCH of 55,000 members held Redis for
// 53 ms, and 30 at once pushed another site's lookups from 0.5 ms to a
// second. IdPs send members in batches well under 1,000 (Entra and Okta
// page group pushes), so the defaults refuse no IdP.
const (
	DefaultMaxPatchOperations   = 1000
	DefaultMaxMembersPerRequest = 1000
)

// RequestSize is what a SCIM request body asks for, counted before
// anything acts on it.
type RequestSize struct {
	Operations int // PATCH Operations
	// Members counts the group members a request names: the members of a
	// POST or PUT /Groups, and in a PATCH /Groups every member value and
	// every id in a members[value eq "…" or …] path.
	Members int
}

// groupURNPrefix is how a members path may be qualified.
const groupURNPrefix = "urn:ietf:params:scim:schemas:core:2.0:group:"

// MeasureRequest counts a request body (well-formed JSON; what it cannot
// read counts as nothing, for the parser after it to refuse). patch says
// the body is a PATCH's, group that it is a Group's. It decodes values
// only as far as counting needs (json.RawMessage), so a 1 MiB body costs
// a scan, not a tree.
func MeasureRequest(body []byte, patch, group bool) RequestSize {
	var size RequestSize
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return size
	}
	if !patch {
		if group {
			for k, v := range top {
				if strings.EqualFold(k, "members") || strings.EqualFold(k, groupURNPrefix+"members") {
					size.Members += countValues(v)
				}
			}
		}
		return size
	}
	for k, v := range top {
		if !strings.EqualFold(k, "Operations") {
			continue
		}
		var ops []json.RawMessage
		if json.Unmarshal(v, &ops) != nil {
			continue
		}
		size.Operations += len(ops)
		if !group {
			continue
		}
		for _, raw := range ops {
			size.Members += patchOpMembers(raw)
		}
	}
	return size
}

// patchOpMembers counts the members one PATCH /Groups operation names.
func patchOpMembers(raw json.RawMessage) int {
	var op map[string]json.RawMessage
	if json.Unmarshal(raw, &op) != nil {
		return 0
	}
	var path string
	var value json.RawMessage
	for k, v := range op {
		switch {
		case strings.EqualFold(k, "path"):
			_ = json.Unmarshal(v, &path)
		case strings.EqualFold(k, "value"):
			value = v
		}
	}
	path = strings.TrimSpace(path)
	if len(path) >= len(groupURNPrefix) && strings.EqualFold(path[:len(groupURNPrefix)], groupURNPrefix) {
		path = path[len(groupURNPrefix):]
	}
	switch {
	case path == "":
		// Path-less: the value is an object whose members key counts.
		var m map[string]json.RawMessage
		if json.Unmarshal(value, &m) != nil {
			return 0
		}
		n := 0
		for k, v := range m {
			if strings.EqualFold(k, "members") || strings.EqualFold(k, groupURNPrefix+"members") {
				n += countValues(v)
			}
		}
		return n
	case len(path) >= len("members") && strings.EqualFold(path[:len("members")], "members"):
		return countValues(value) + countEq(path[len("members"):])
	}
	return 0
}

// countValues is the number of elements of a JSON array, 1 for any other
// value but null, 0 for null or nothing.
func countValues(v json.RawMessage) int {
	v = json.RawMessage(strings.TrimSpace(string(v)))
	if len(v) == 0 || string(v) == "null" {
		return 0
	}
	if v[0] != '[' {
		return 1
	}
	var elems []json.RawMessage
	if json.Unmarshal(v, &elems) != nil {
		return 0
	}
	return len(elems)
}

// countEq counts the eq operators outside string literals of a value
// path filter such as [value eq "a" or value eq "b"]: one per member id it
// names (an upper bound when it names something else).
func countEq(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '"' {
			i = skipQuoted(s, i)
			continue
		}
		if i+4 <= len(s) && s[i] == ' ' && strings.EqualFold(s[i+1:i+3], "eq") && s[i+3] == ' ' {
			n++
			i += 3
			continue
		}
		i++
	}
	return n
}

// CheckRequestSize refuses a request over the bounds with 400
// invalidValue, naming the setting. RFC 7644 has no scimType for "too
// large": tooMany is for filters that match too much (§3.4.2.2), and
// invalidSyntax would say the message does not follow the schema, which it
// does. invalidValue, "the value specified was not compatible with the
// operation", is what Okta and Entra show the admin as a permanent failure
// of that one operation, which is the truth: retrying it will not help,
// splitting it will. maxOps or maxMembers ≤ 0 takes the default.
func CheckRequestSize(size RequestSize, maxOps, maxMembers int) error {
	if maxOps <= 0 {
		maxOps = DefaultMaxPatchOperations
	}
	if maxMembers <= 0 {
		maxMembers = DefaultMaxMembersPerRequest
	}
	if size.Operations > maxOps {
		return newError(ScimTypeInvalidValue, fmt.Sprintf("the PATCH has %d operations; the bridge accepts at most %d per request (limits.maxPatchOperations): send them in several PATCH requests", size.Operations, maxOps))
	}
	if size.Members > maxMembers {
		return newError(ScimTypeInvalidValue, fmt.Sprintf("the request names %d group members; the bridge accepts at most %d per request (limits.maxMembersPerRequest): create or replace the group with fewer and add the rest with PATCH requests of at most %d members", size.Members, maxMembers, maxMembers))
	}
	return nil
}
