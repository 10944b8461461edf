package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
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
//   - add/replace with value null → remove; a path-less value's null keys
//     become separate remove operations.
//   - booleans sent as strings ("False", "TRUE", "0") become JSON booleans
//     (Entra, Q2); "" for a boolean becomes remove.
//   - a single object for emails or members becomes a one-element list
//     (B13; POST and PUT accept it too).
//   - schema URN prefixes are matched case-insensitively and rewritten to
//     their canonical spelling (elimity matches them exactly, B15).
//
// Values of the attributes the bridge keeps are checked as POST and PUT
// bodies are (elimity's schema validation plus FromAttributes), so that a
// PATCH cannot store what a PUT would refuse; elimity's own PATCH check
// answers without naming the attribute, so ours runs first:
//
//   - add or replace without a value is invalidSyntax (RFC 7644 §3.5.2.1
//     and §3.5.2.3: the operation MUST contain a value).
//   - a value of the wrong JSON type (a number for userName, an object
//     for displayName, a string for emails or members, a number for a
//     boolean ...) is invalidValue, with a detail that names the attribute.
//
// Anything else the normaliser does not understand (a non-object
// operation, an unknown op, a path that does not parse) is passed through
// unchanged so that elimity produces its usual 400.

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
// that is not a JSON object, or an add or replace without a value, returns
// an *Error with ScimType invalidSyntax; a value of the wrong type for an
// attribute the bridge keeps, one with ScimType invalidValue. A body
// without an Operations list is returned unchanged (elimity rejects it).
func NormalizePatchBody(body []byte, customFields ...string) (out []byte, empty bool, err error) {
	return normalizer{kind: kindUser, customFields: customFields}.normalize(body)
}

// NormalizeGroupPatchBody is NormalizePatchBody for /Groups: it keeps
// displayName, externalId and members (a single member object becomes a
// one-element list), checks their values, and drops everything else.
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
		ops, err := n.normalizeOp(raw)
		if err != nil {
			return nil, false, err
		}
		outOps = append(outOps, ops...)
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

// name is how a detail names the attribute: "userName", "name.givenName",
// "emails[…]", "data.country".
func (t target) name() string {
	n := t.attr
	if t.filtered {
		n += "[…]"
	}
	if t.sub != "" {
		n += "." + t.sub
	}
	return n
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

func (n normalizer) normalizeOp(raw any) ([]any, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return []any{raw}, nil
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
		return []any{raw}, nil
	}
	op := strings.ToLower(strings.TrimSpace(opS))
	if op != "add" && op != "replace" && op != "remove" {
		return []any{raw}, nil
	}
	path := ""
	if hasPath && pathV != nil {
		s, ok := pathV.(string)
		if !ok {
			return []any{raw}, nil
		}
		path = strings.TrimSpace(s)
	}
	if op != "remove" && !hasValue {
		// Whatever the target, even one the bridge ignores: an add or
		// replace without a value is malformed, and guessing "remove"
		// would let a truncated body wipe an attribute (or, on a group,
		// every member).
		on := ""
		if path != "" {
			on = fmt.Sprintf(" on %q", path)
		}
		return nil, newError(ScimTypeInvalidSyntax, fmt.Sprintf("the %s operation%s has no \"value\"; add and replace must carry one (RFC 7644 §3.5.2), and remove clears an attribute", op, on))
	}
	if path == "" {
		if op == "remove" {
			return []any{raw}, nil // noTarget, elimity's answer is right
		}
		vm, ok := value.(map[string]any)
		if !ok {
			if value == nil {
				return nil, nil // nothing to do
			}
			return nil, newError(ScimTypeInvalidValue, fmt.Sprintf("the value of a %s operation without a path must be an object of attributes, not %s", op, jsonKind(value)))
		}
		kept, removes, err := n.normalizePathless(vm, "")
		if err != nil {
			return nil, err
		}
		var out []any
		if len(kept) > 0 {
			out = append(out, opMap(op, "", kept, true))
		}
		for _, p := range removes {
			out = append(out, opMap("remove", p, nil, false))
		}
		return out, nil
	}
	cpath, t, known, parsed := n.resolve(path, "")
	if !parsed {
		return []any{raw}, nil
	}
	if !known {
		return nil, nil
	}
	if op == "remove" {
		if hasValue && value != nil && (t.attr == "members" || t.attr == "emails") && !t.filtered && t.sub == "" {
			// Entra's "remove only the listed members" shape.
			v, err := n.coerce(t, value)
			if err != nil {
				return nil, err
			}
			return []any{opMap(op, cpath, v, true)}, nil
		}
		return []any{opMap(op, cpath, nil, false)}, nil
	}
	if value == nil {
		return []any{opMap("remove", cpath, nil, false)}, nil
	}
	if t.attr == ExtAttrData && t.sub == "" {
		if dm, ok := value.(map[string]any); ok {
			kept, removes, err := n.normalizeSubMap(t, dm, cpath)
			if err != nil {
				return nil, err
			}
			var out []any
			if len(kept) > 0 {
				out = append(out, opMap(op, cpath, kept, true))
			}
			for _, p := range removes {
				out = append(out, opMap("remove", p, nil, false))
			}
			return out, nil
		}
	}
	v, err := n.coerce(t, value)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return []any{opMap("remove", cpath, nil, false)}, nil
	}
	return []any{opMap(op, cpath, v, true)}, nil
}

// normalizePathless filters a path-less add/replace value. prefix is the
// canonical URN container the keys live under ("" at the top level). It
// returns the surviving keys and the paths whose value was null (to be
// removed), or the first value of the wrong type.
func (n normalizer) normalizePathless(vm map[string]any, prefix string) (map[string]any, []string, error) {
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
				if urn != CoreUserSchemaURN && urn != ExtensionSchemaURN {
					continue // a schema the bridge ignores, whatever its value
				}
				inner, ok := v.(map[string]any)
				if !ok {
					if v == nil {
						continue
					}
					return nil, nil, newError(ScimTypeInvalidValue, fmt.Sprintf("the value of %s must be an object of its attributes, not %s", urn, jsonKind(v)))
				}
				ik, ir, err := n.normalizePathless(inner, urn)
				if err != nil {
					return nil, nil, err
				}
				switch urn {
				case CoreUserSchemaURN:
					for kk, vv := range ik {
						kept[kk] = vv
					}
				case ExtensionSchemaURN:
					if len(ik) > 0 {
						kept[urn] = ik
					}
				}
				removes = append(removes, ir...)
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
				sk, sr, err := n.normalizeSubMap(t, dm, full)
				if err != nil {
					return nil, nil, err
				}
				removes = append(removes, sr...)
				if len(sk) > 0 {
					kept[outKey] = sk
				}
				continue
			}
		}
		cv, err := n.coerce(t, v)
		if err != nil {
			return nil, nil, err
		}
		if cv == nil {
			removes = append(removes, full)
			continue
		}
		kept[outKey] = cv
	}
	return kept, removes, nil
}

// normalizeSubMap filters the value of a complex single-valued attribute
// (name or data): unknown sub-keys are dropped, null sub-keys become
// removes of "<path>.<sub>", values are checked and coerced.
func (n normalizer) normalizeSubMap(t target, m map[string]any, path string) (map[string]any, []string, error) {
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
			var err error
			if v, err = n.coerce(st, v); err != nil {
				return nil, nil, err
			}
		}
		if v == nil {
			removes = append(removes, path+"."+st.sub)
			continue
		}
		kept[st.sub] = v
	}
	return kept, removes, nil
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

// coerce checks the value's JSON type for the target, as POST and PUT
// check it, and fixes what IdPs are known to send differently (Entra's
// string booleans, a single object for a list). A nil result means "turn
// this into remove" (e.g. "" for a boolean); a wrong type is an
// invalidValue *Error naming the attribute.
func (n normalizer) coerce(t target, v any) (any, error) {
	isBool := t.attr == "active" ||
		(t.attr == "emails" && t.sub == "primary") ||
		(t.attr == ExtAttrData && (t.sub == "accept-privacy" || t.sub == "accept-communications"))
	switch {
	case isBool:
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return checkBool(t.name(), v)
	case t.attr == "emails" && t.sub == "" && !t.filtered:
		if s, ok := v.(string); ok && s == "" {
			return []any{}, nil // "" clears, as remove does
		}
		return checkList(t.name(), v, checkEmailMap)
	case t.attr == "emails" && t.sub == "" && t.filtered:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, wrongType(t.name(), "an object", v)
		}
		return checkEmailMap(t.name(), m)
	case t.attr == "members" && t.sub == "":
		if s, ok := v.(string); ok && s == "" {
			return []any{}, nil
		}
		return checkList(t.name(), v, checkMemberMap)
	case t.attr == "name" && t.sub == "":
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for _, k := range sortedKeys(x) {
				c, ok := canonicalFold(nameSubAttrs, k)
				if !ok || x[k] == nil {
					continue
				}
				s, err := checkString("name."+c, x[k])
				if err != nil {
					return nil, err
				}
				out[c] = s
			}
			return out, nil
		case string:
			if x == "" {
				return nil, nil
			}
		}
		return nil, wrongType("name", "an object", v)
	case t.attr == ExtAttrData && t.sub == "":
		// An object is split into its keys before coerce is called.
		return nil, wrongType(t.name(), "an object", v)
	default: // simple string attributes and string sub-attributes
		return checkString(t.name(), v)
	}
}

// jsonKind names a decoded JSON value's type for a detail.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func wrongType(attr, want string, v any) *Error {
	return newError(ScimTypeInvalidValue, fmt.Sprintf("the value of %q must be %s, not %s", attr, want, jsonKind(v)))
}

// checkString accepts a JSON string only: POST and PUT refuse a number or
// a boolean for a string attribute, so PATCH does too.
func checkString(attr string, v any) (any, error) {
	if _, ok := v.(string); !ok {
		return nil, wrongType(attr, "a string", v)
	}
	return v, nil
}

// checkBool accepts a JSON boolean or a string strconv.ParseBool reads in
// any letter case (Entra's "True"/"False", Q2), as POST and PUT do with
// schema.SetAllowStringValues; a number is refused there, and here.
func checkBool(attr string, v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, ok := parseBoolValue(x); ok {
			return b, nil
		}
		return nil, newError(ScimTypeInvalidValue, fmt.Sprintf("the value of %q must be a boolean (true or false), not the string %q", attr, truncate(x, 40)))
	}
	return nil, wrongType(attr, "a boolean", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkList checks a multi-valued complex value: a list of objects (null
// elements dropped) or one object (B13, accepted by POST and PUT too).
func checkList(attr string, v any, elem func(attr string, m map[string]any) (map[string]any, error)) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		m, err := elem(attr, x)
		if err != nil {
			return nil, err
		}
		return []any{m}, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, el := range x {
			switch e := el.(type) {
			case nil:
			case map[string]any:
				m, err := elem(attr, e)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			default:
				return nil, newError(ScimTypeInvalidValue, fmt.Sprintf("each element of %q must be an object, not %s", attr, jsonKind(el)))
			}
		}
		return out, nil
	}
	return nil, wrongType(attr, "a list of objects", v)
}

// checkEmailMap checks and canonicalises one emails element: value, type
// and display are strings, primary a boolean; null sub-attributes are
// dropped and unknown ones kept for elimity to ignore.
func checkEmailMap(attr string, m map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		x := m[k]
		if x == nil {
			continue
		}
		if c, ok := canonicalFold(emailSubAttrs, k); ok {
			k = c
			var err error
			if c == "primary" {
				x, err = checkBool(attr+".primary", x)
			} else {
				x, err = checkString(attr+"."+c, x)
			}
			if err != nil {
				return nil, err
			}
		}
		out[k] = x
	}
	return out, nil
}

// checkMemberMap checks one members element: value, display and type are
// strings, $ref a string or null (Entra sends "$ref": null, Q8).
func checkMemberMap(attr string, m map[string]any) (map[string]any, error) {
	for _, k := range sortedKeys(m) {
		c, ok := canonicalFold([]string{"value", "display", "type", "$ref"}, k)
		if !ok || m[k] == nil {
			continue
		}
		if _, err := checkString(attr+"."+c, m[k]); err != nil {
			return nil, err
		}
	}
	return m, nil
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
