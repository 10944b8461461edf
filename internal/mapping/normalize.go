package mapping

import (
	"bytes"
	"encoding/json"
	"strings"
)

// PATCH normalisation runs on the raw request body before elimity sees it,
// because elimity rejects the whole PATCH when any single operation does
// not validate (go-libs B4, B5, B9, B10) and IdPs send plenty of those.
//
// The normaliser is a whitelist: an operation (or a key of a path-less
// value) survives only if it targets something ApplyPatch actually stores.
// Everything else is dropped silently, which is what idp-clients.md asks
// for ("ignore unknown attributes ... instead of rejecting them",
// "must not 4xx on manager"):
//
//   - manager, password (Okta password sync), roles, addresses, groups,
//     the enterprise extension, phoneNumbers/ims/photos/entitlements/
//     x509Certificates/profileUrl, our extension's read-only attributes,
//     unknown attributes, unknown data keys, unknown schema URNs.
//
// Other rewrites:
//
//   - op is lower-cased ("Replace" → "replace").
//   - add/replace with value null (or with no value) → remove; a path-less
//     value's null keys become separate remove operations.
//   - booleans sent as strings ("False", "TRUE", "0") become JSON booleans;
//     "" for a boolean becomes remove.
//   - numbers sent for string attributes become strings.
//   - a bare string (or list of strings) for emails or members becomes
//     [{"value": s}].
//   - schema URN prefixes are matched case-insensitively and rewritten to
//     their canonical spelling (elimity matches them exactly, B15).
//
// Anything the normaliser does not understand (a non-object operation, an
// unknown op, a path that does not parse) is passed through unchanged so
// that elimity produces its usual 400.

type resourceKind int

const (
	kindUser resourceKind = iota
	kindGroup
)

type normalizer struct {
	kind         resourceKind
	customFields []string
}

// NormalizePatchBody normalises a raw SCIM PATCH body for /Users (see the
// list above). customFields are the site's custom field slugs, exactly as
// passed to UserExtensionSchema; data.<key> operations for other keys are
// dropped.
//
// It returns the body to hand to elimity; empty=true when no operation is
// left (the server then answers 200 with the current resource instead of
// forwarding, because elimity rejects an empty Operations list). A body
// that is not a JSON object returns an *Error with ScimType invalidSyntax.
// A body without an Operations list is returned unchanged (elimity rejects
// it).
func NormalizePatchBody(body []byte, customFields ...string) (out []byte, empty bool, err error) {
	return normalizer{kind: kindUser, customFields: customFields}.normalize(body)
}

// NormalizeGroupPatchBody is NormalizePatchBody for /Groups: it keeps
// displayName, externalId and members (wrapping bare member id strings as
// [{"value": id}]) and drops everything else.
func NormalizeGroupPatchBody(body []byte) (out []byte, empty bool, err error) {
	return normalizer{kind: kindGroup}.normalize(body)
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	return nil
}

func (n normalizer) normalize(body []byte) ([]byte, bool, error) {
	var top map[string]any
	if err := decodeJSON(body, &top); err != nil || top == nil {
		return nil, false, newError(ScimTypeInvalidSyntax, "the PATCH body is not a JSON object")
	}
	opsKey := ""
	for k := range top {
		if strings.EqualFold(k, "Operations") {
			if opsKey != "" {
				return body, false, nil // ambiguous; let elimity decide
			}
			opsKey = k
		}
	}
	if opsKey == "" {
		return body, false, nil
	}
	list, ok := top[opsKey].([]any)
	if !ok || len(list) == 0 {
		return body, false, nil
	}
	var outOps []any
	for _, raw := range list {
		outOps = append(outOps, n.normalizeOp(raw)...)
	}
	if outOps == nil {
		outOps = []any{}
	}
	top[opsKey] = outOps
	b, err := json.Marshal(top)
	if err != nil {
		return nil, false, newError(ScimTypeInvalidSyntax, "the PATCH body cannot be re-encoded")
	}
	return b, len(outOps) == 0, nil
}

// target is what a PATCH path refers to, in canonical spelling.
type target struct {
	attr     string // canonical attribute name
	sub      string // canonical sub-attribute (name.x, emails.x, emails[..].x, data.x)
	filtered bool   // path has a value expression
}

func opMap(op, path string, value any, withValue bool) map[string]any {
	m := map[string]any{"op": op}
	if path != "" {
		m["path"] = path
	}
	if withValue {
		m["value"] = value
	}
	return m
}

func (n normalizer) normalizeOp(raw any) []any {
	m, ok := raw.(map[string]any)
	if !ok {
		return []any{raw}
	}
	var opV, pathV, value any
	var hasValue, hasPath bool
	for k, v := range m {
		switch strings.ToLower(k) {
		case "op":
			opV = v
		case "path":
			pathV, hasPath = v, true
		case "value":
			value, hasValue = v, true
		}
	}
	opS, ok := opV.(string)
	if !ok {
		return []any{raw}
	}
	op := strings.ToLower(strings.TrimSpace(opS))
	if op != "add" && op != "replace" && op != "remove" {
		return []any{raw}
	}
	path := ""
	if hasPath && pathV != nil {
		s, ok := pathV.(string)
		if !ok {
			return []any{raw}
		}
		path = strings.TrimSpace(s)
	}
	if path == "" {
		if op == "remove" {
			return []any{raw} // noTarget, elimity's answer is right
		}
		vm, ok := value.(map[string]any)
		if !ok {
			if value == nil {
				return nil // nothing to do
			}
			return []any{raw}
		}
		kept, removes := n.normalizePathless(vm, "")
		var out []any
		if len(kept) > 0 {
			out = append(out, opMap(op, "", kept, true))
		}
		for _, p := range removes {
			out = append(out, opMap("remove", p, nil, false))
		}
		return out
	}
	cpath, t, known, parsed := n.resolve(path, "")
	if !parsed {
		return []any{raw}
	}
	if !known {
		return nil
	}
	if op == "remove" {
		if hasValue && value != nil && (t.attr == "members" || t.attr == "emails") && !t.filtered && t.sub == "" {
			// Entra's "remove only the listed members" shape.
			return []any{opMap(op, cpath, n.coerce(t, value), true)}
		}
		return []any{opMap(op, cpath, nil, false)}
	}
	if !hasValue || value == nil {
		return []any{opMap("remove", cpath, nil, false)}
	}
	if t.attr == ExtAttrData && t.sub == "" {
		if dm, ok := value.(map[string]any); ok {
			kept, removes := n.normalizeSubMap(t, dm, cpath)
			var out []any
			if len(kept) > 0 {
				out = append(out, opMap(op, cpath, kept, true))
			}
			for _, p := range removes {
				out = append(out, opMap("remove", p, nil, false))
			}
			return out
		}
	}
	v := n.coerce(t, value)
	if v == nil {
		return []any{opMap("remove", cpath, nil, false)}
	}
	return []any{opMap(op, cpath, v, true)}
}

// normalizePathless filters a path-less add/replace value. prefix is the
// canonical URN container the keys live under ("" at the top level). It
// returns the surviving keys and the paths whose value was null (to be
// removed).
func (n normalizer) normalizePathless(vm map[string]any, prefix string) (map[string]any, []string) {
	kept := map[string]any{}
	var removes []string
	keys := sortedKeys(vm)
	for _, k := range keys {
		v := vm[k]
		if strings.EqualFold(k, "id") || strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta") {
			continue
		}
		if prefix == "" {
			if urn, ok := n.containerURN(k); ok {
				inner, ok := v.(map[string]any)
				if !ok {
					continue
				}
				switch urn {
				case CoreUserSchemaURN:
					ik, ir := n.normalizePathless(inner, urn)
					for kk, vv := range ik {
						kept[kk] = vv
					}
					removes = append(removes, ir...)
				case ExtensionSchemaURN:
					ik, ir := n.normalizePathless(inner, urn)
					if len(ik) > 0 {
						kept[urn] = ik
					}
					removes = append(removes, ir...)
				}
				continue
			}
		}
		cpath, t, known, parsed := n.resolve(k, prefix)
		if !parsed || !known {
			continue
		}
		full, outKey := cpath, cpath
		if prefix == ExtensionSchemaURN {
			// inside the extension container keys are relative
			outKey = strings.TrimPrefix(cpath, ExtensionSchemaURN+":")
		}
		if v == nil {
			removes = append(removes, full)
			continue
		}
		if (t.attr == ExtAttrData || t.attr == "name") && t.sub == "" {
			if dm, ok := v.(map[string]any); ok {
				sk, sr := n.normalizeSubMap(t, dm, full)
				removes = append(removes, sr...)
				if len(sk) > 0 {
					kept[outKey] = sk
				}
				continue
			}
		}
		cv := n.coerce(t, v)
		if cv == nil {
			removes = append(removes, full)
			continue
		}
		kept[outKey] = cv
	}
	return kept, removes
}

// normalizeSubMap filters the value of a complex single-valued attribute
// (name or data): unknown sub-keys are dropped, null sub-keys become
// removes of "<path>.<sub>", values are coerced.
func (n normalizer) normalizeSubMap(t target, m map[string]any, path string) (map[string]any, []string) {
	kept := map[string]any{}
	var removes []string
	for _, k := range sortedKeys(m) {
		st := target{attr: t.attr}
		var ok bool
		if t.attr == "name" {
			st.sub, ok = canonicalFold(nameSubAttrs, k)
		} else {
			st.sub, ok = n.dataSub(k)
		}
		if !ok {
			continue
		}
		v := m[k]
		if v != nil {
			v = n.coerce(st, v)
		}
		if v == nil {
			removes = append(removes, path+"."+st.sub)
			continue
		}
		kept[st.sub] = v
	}
	return kept, removes
}

// containerURN reports whether k is a schema URN used as a container key
// in a path-less value; unknown-but-URN-looking keys are reported with an
// empty urn so they get dropped.
func (n normalizer) containerURN(k string) (string, bool) {
	for _, urn := range []string{CoreUserSchemaURN, EnterpriseSchemaURN, ExtensionSchemaURN} {
		if strings.EqualFold(k, urn) {
			if n.kind == kindGroup {
				return "", true
			}
			return urn, true
		}
	}
	if strings.HasPrefix(strings.ToLower(k), "urn:") && !strings.Contains(k, ".") {
		// A URN container we do not know (or a URN-prefixed attribute;
		// resolve handles those). Treat as container only if it parses
		// as nothing else.
		if _, err := parsePath(k); err != nil {
			return "", true
		}
	}
	if strings.HasPrefix(k, "http://") || strings.HasPrefix(k, "https://") {
		return "", true
	}
	return "", false
}

// canonURNPrefix rewrites a known schema URN prefix of a path to its
// canonical case.
func canonURNPrefix(p string) string {
	lp := strings.ToLower(p)
	for _, urn := range []string{CoreUserSchemaURN, EnterpriseSchemaURN, ExtensionSchemaURN,
		"urn:ietf:params:scim:schemas:core:2.0:Group"} {
		if strings.HasPrefix(lp, strings.ToLower(urn)+":") {
			return urn + p[len(urn):]
		}
	}
	return p
}

// resolve parses a PATCH path (or a path-less key, relative to the URN
// container prefix) and decides whether the bridge keeps it. cpath is the
// path to emit (URN case fixed).
func (n normalizer) resolve(p, prefix string) (cpath string, t target, known, parsed bool) {
	cpath = canonURNPrefix(p)
	parsedPath, err := parsePath(cpath)
	if err != nil {
		return cpath, t, false, false
	}
	uri := parsedPath.AttributePath.URI()
	if uri == "" {
		uri = prefix
	}
	attr := parsedPath.AttributePath.AttributeName
	sub := parsedPath.AttributePath.SubAttributeName()
	if s := parsedPath.SubAttributeName(); s != "" {
		sub = s
	}
	t.filtered = parsedPath.ValueExpression != nil
	if t.filtered && parsedPath.AttributePath.SubAttribute != nil {
		return cpath, t, false, true
	}
	if n.kind == kindGroup {
		if uri != "" && !strings.EqualFold(uri, "urn:ietf:params:scim:schemas:core:2.0:Group") {
			return cpath, t, false, true
		}
		switch {
		case strings.EqualFold(attr, "displayName"), strings.EqualFold(attr, "externalId"):
			t.attr, _ = canonicalFold([]string{"displayName", "externalId"}, attr)
			return cpath, t, sub == "" && !t.filtered, true
		case strings.EqualFold(attr, "members"):
			t.attr = "members"
			if sub != "" {
				t.sub, known = canonicalFold([]string{"value", "display", "$ref", "type"}, sub)
				return cpath, t, known, true
			}
			return cpath, t, true, true
		}
		return cpath, t, false, true
	}
	switch uri {
	case "", CoreUserSchemaURN:
		if c, ok := canonicalFold(storedStringAttrs, attr); ok {
			t.attr = c
			return cpath, t, sub == "" && !t.filtered, true
		}
		switch {
		case strings.EqualFold(attr, "active"):
			t.attr = "active"
			return cpath, t, sub == "" && !t.filtered, true
		case strings.EqualFold(attr, "name"):
			t.attr = "name"
			if t.filtered {
				return cpath, t, false, true
			}
			if sub != "" {
				t.sub, known = canonicalFold(nameSubAttrs, sub)
				return cpath, t, known, true
			}
			return cpath, t, true, true
		case strings.EqualFold(attr, "emails"):
			t.attr = "emails"
			if sub != "" {
				t.sub, known = canonicalFold([]string{"value", "type", "primary"}, sub)
				return cpath, t, known, true
			}
			return cpath, t, true, true
		}
		if uri == CoreUserSchemaURN {
			return cpath, t, false, true
		}
	case ExtensionSchemaURN:
	default:
		return cpath, t, false, true
	}
	// Our extension (prefixed or bare; elimity tries extensions for bare
	// names that are not core attributes).
	// elimity validates a bare extension path but then looks the attribute
	// up in the core schema and fails (invalidValue), so extension paths
	// are always emitted fully qualified, with the data key canonicalised.
	if strings.EqualFold(attr, ExtAttrData) && !t.filtered {
		t.attr = ExtAttrData
		if sub == "" {
			return ExtensionSchemaURN + ":" + ExtAttrData, t, true, true
		}
		t.sub, known = n.dataSub(sub)
		return ExtensionSchemaURN + ":" + ExtAttrData + "." + t.sub, t, known, true
	}
	return cpath, t, false, true
}

// storedStringAttrs are the simple string attributes User stores.
var storedStringAttrs = []string{
	"userName", "externalId", "displayName", "nickName", "title", "userType",
	"preferredLanguage", "locale", "timezone",
}

// dataSub canonicalises a data sub-attribute name against the consent
// flags and the configured custom fields.
func (n normalizer) dataSub(s string) (string, bool) {
	if c, ok := canonicalFold([]string{"accept-privacy", "accept-communications"}, s); ok {
		return c, true
	}
	for _, f := range n.customFields {
		if ValidCustomFieldName(f) && strings.EqualFold(f, s) {
			return f, true
		}
	}
	return s, false
}

// coerce fixes the value's JSON type for the target. A nil result means
// "turn this into remove" (e.g. "" for a boolean).
func (n normalizer) coerce(t target, v any) any {
	isBool := t.attr == "active" ||
		(t.attr == "emails" && t.sub == "primary") ||
		(t.attr == ExtAttrData && (t.sub == "accept-privacy" || t.sub == "accept-communications"))
	switch {
	case isBool:
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			return nil
		}
		if b, ok := parseBoolValue(v); ok {
			return b
		}
		return v
	case t.attr == "emails" && t.sub == "" && !t.filtered:
		return wrapValues(v, func(m map[string]any) map[string]any { return coerceEmailMap(m) })
	case t.attr == "emails" && t.sub == "" && t.filtered:
		if m, ok := v.(map[string]any); ok {
			return coerceEmailMap(m)
		}
		return v
	case t.attr == "members" && t.sub == "":
		return wrapValues(v, func(m map[string]any) map[string]any { return m })
	case t.attr == "name" && t.sub == "":
		if m, ok := v.(map[string]any); ok {
			out := map[string]any{}
			for k, x := range m {
				if c, ok := canonicalFold(nameSubAttrs, k); ok && x != nil {
					out[c] = toStringish(x)
				}
			}
			return out
		}
		if s, ok := v.(string); ok && s == "" {
			return nil
		}
		return v
	case t.attr == ExtAttrData && t.sub == "":
		return v
	default: // simple string attributes and string sub-attributes
		return toStringish(v)
	}
}

// toStringish converts numbers and booleans to strings, leaving anything
// else (notably maps and lists, which elimity will reject) alone.
func toStringish(v any) any {
	switch v.(type) {
	case json.Number, float64, bool, int, int64:
		s, _ := scalarString(v)
		return s
	}
	return v
}

func coerceEmailMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, x := range m {
		if x == nil {
			continue
		}
		if strings.EqualFold(k, "primary") {
			if b, ok := parseBoolValue(x); ok {
				x = b
			}
		} else if s, ok := canonicalFold(emailSubAttrs, k); ok {
			k = s
			x = toStringish(x)
		}
		out[k] = x
	}
	return out
}

// wrapValues turns a bare string, a list of strings, or a single object
// into a list of objects.
func wrapValues(v any, fix func(map[string]any) map[string]any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return []any{}
		}
		return []any{map[string]any{"value": x}}
	case map[string]any:
		return []any{fix(x)}
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			switch e := el.(type) {
			case string:
				out = append(out, map[string]any{"value": e})
			case map[string]any:
				out = append(out, fix(e))
			case nil:
			default:
				out = append(out, el)
			}
		}
		return out
	}
	return v
}

// RewriteFilter rewrites the filter shape Entra sends for email matching,
// X[expr].sub OP value, which the SCIM grammar (and so elimity) rejects
// (B6), into the equivalent X[expr and sub OP value]. Quoted strings are
// skipped (with \" escapes). Anything else, including filters it cannot
// rewrite safely (e.g. an inner "or", since the parser has no grouping
// inside brackets), is returned unchanged.
func RewriteFilter(raw string) string {
	var b strings.Builder
	i, last := 0, 0
	depth, open := 0, -1
	changed := false
	for i < len(raw) {
		c := raw[i]
		switch {
		case c == '"':
			i = skipQuoted(raw, i)
			continue
		case c == '[':
			if depth == 0 {
				open = i
			}
			depth++
		case c == ']':
			if depth > 0 {
				depth--
			}
			if depth == 0 && open >= 0 {
				if end, repl, ok := rewriteAt(raw, open, i); ok {
					b.WriteString(raw[last:open])
					b.WriteString(repl)
					last, i, open = end, end, -1
					changed = true
					continue
				}
				open = -1
			}
		}
		i++
	}
	if !changed {
		return raw
	}
	b.WriteString(raw[last:])
	return b.String()
}

// skipQuoted returns the index after the string literal starting at i.
func skipQuoted(s string, i int) int {
	i++
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i + 1
		}
		i++
	}
	return len(s)
}

var filterOps = []string{"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr"}

// rewriteAt tries to rewrite raw[open:close+1] plus the following
// ".sub OP value". It returns the end index of the consumed input and the
// replacement.
func rewriteAt(raw string, open, close int) (int, string, bool) {
	j := close + 1
	if j >= len(raw) || raw[j] != '.' {
		return 0, "", false
	}
	j++
	start := j
	for j < len(raw) && isNameChar(raw[j], j == start) {
		j++
	}
	if j == start {
		return 0, "", false
	}
	sub := raw[start:j]
	k := j
	for k < len(raw) && raw[k] == ' ' {
		k++
	}
	if k == j || k+2 > len(raw) {
		return 0, "", false
	}
	op := raw[k : k+2]
	if !containsFold(filterOps, op) {
		return 0, "", false
	}
	k += 2
	if strings.EqualFold(op, "pr") {
		if k < len(raw) && raw[k] != ' ' && raw[k] != ')' {
			return 0, "", false
		}
	} else {
		if k >= len(raw) || raw[k] != ' ' {
			return 0, "", false
		}
		for k < len(raw) && raw[k] == ' ' {
			k++
		}
		if k >= len(raw) {
			return 0, "", false
		}
		vs := k
		if raw[k] == '"' {
			k = skipQuoted(raw, k)
			if k > len(raw) || raw[k-1] != '"' || k-vs < 2 {
				return 0, "", false
			}
		} else {
			for k < len(raw) && raw[k] != ' ' && raw[k] != ')' && raw[k] != ']' {
				k++
			}
		}
		op += " " + raw[vs:k]
	}
	inner := raw[open+1 : close]
	if hasTopLevelOr(inner) {
		return 0, "", false
	}
	return k, "[" + inner + " and " + sub + " " + op + "]", true
}

func isNameChar(c byte, first bool) bool {
	alpha := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	if first {
		return alpha
	}
	return alpha || (c >= '0' && c <= '9') || c == '-' || c == '_'
}

// hasTopLevelOr reports an unquoted " or " (any case) in s.
func hasTopLevelOr(s string) bool {
	for i := 0; i < len(s); {
		if s[i] == '"' {
			i = skipQuoted(s, i)
			continue
		}
		if i+4 <= len(s) && strings.EqualFold(s[i:i+4], " or ") {
			return true
		}
		i++
	}
	return false
}

// ParseAttrList splits a comma-separated attributes / excludedAttributes
// query value into trimmed, non-empty names.
func ParseAttrList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
