package mapping

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Required attributes of the resources a POST or PUT creates or replaces
// (RFC 7643 §4.1 and §4.2: "REQUIRED").
const (
	requiredUser  = "userName"
	requiredGroup = "displayName"
)

// CheckRequired answers the POST or PUT body of a User (group false) or a
// Group without its required attribute with an invalidValue *Error that
// names the attribute. elimity's own check answers with a detail that
// names nothing ("A required value was missing…"), which leaves an
// operator reading IdP logs guessing. The attribute is matched as SCIM
// matches names, case-insensitively, also with its schema URN prefix; a
// null value counts as absent. Bodies that are not a JSON object are left
// to elimity's usual 400.
func CheckRequired(body []byte, group bool) error {
	name, urn, kind := requiredUser, CoreUserSchemaURN, "User"
	if group {
		name, urn, kind = requiredGroup, "urn:ietf:params:scim:schemas:core:2.0:Group", "Group"
	}
	found, object := hasRequired(body, name, urn)
	if found || !object {
		return nil
	}
	return newError(ScimTypeInvalidValue, "a "+kind+" needs "+name+", which is required (RFC 7643); this body has none")
}

// hasRequired reads body as json.Unmarshal into a map[string]json.RawMessage
// would (object false when that fails; a null body is an object without
// members), in one pass without copying the values: found is whether a
// member named name, or urn:name, in any case, holds something other than
// null. Of members with the same name the last counts, as in the map
// (TestCheckRequiredAsTheMap, FuzzCheckRequiredAsTheMap).
func hasRequired(body []byte, name, urn string) (found, object bool) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), jsonv1.DefaultOptionsV1()) // a Buffer is read in place
	switch tok, err := dec.ReadToken(); {
	case err != nil:
		return false, false
	case tok.Kind() == 'n':
		return false, dec.SkipValue() == io.EOF // only what follows the value: nothing
	case tok.Kind() != '{':
		return false, false
	}
	var last map[string]bool // the required member's names as written → not null
	for dec.PeekKind() != '}' {
		quoted, err := dec.ReadValue() // a member's name
		if err != nil {
			return false, false
		}
		var k string
		if inner, ok := plainName(quoted); ok {
			if !requiredASCIIName(inner, name, urn) {
				if dec.SkipValue() != nil {
					return false, false
				}
				continue
			}
			k = string(inner)
		} else {
			// The decoder read the name: AppendUnquote can only report
			// invalid UTF-8, replaced with U+FFFD as json.Unmarshal does.
			unquoted, _ := jsontext.AppendUnquote(nil, quoted)
			k = string(unquoted)
		}
		if !requiredName(k, name, urn) {
			if dec.SkipValue() != nil {
				return false, false
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return false, false
		}
		if last == nil {
			last = make(map[string]bool, 1)
		}
		last[k] = string(v) != "null"
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return false, false
	}
	if _, err := dec.ReadToken(); err != io.EOF { // nothing after the object
		return false, false
	}
	for _, notNull := range last {
		if notNull {
			return true, true
		}
	}
	return false, true
}

// plainName is the inside of a quoted JSON name without escapes or
// non-ASCII bytes: the name itself. ok is false for any other.
func plainName(quoted []byte) (inner []byte, ok bool) {
	if len(quoted) < 2 {
		return nil, false
	}
	inner = quoted[1 : len(quoted)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return inner, true
}

// requiredASCIIName is requiredName of an ASCII name, without a copy.
func requiredASCIIName(k []byte, name, urn string) bool {
	if len(k) > len(urn) && k[len(urn)] == ':' && bytes.EqualFold(k[:len(urn)], []byte(urn)) {
		k = k[len(urn)+1:]
	}
	return bytes.EqualFold(k, []byte(name))
}

// requiredName is strings.EqualFold(strings.TrimPrefix(strings.ToLower(k),
// strings.ToLower(urn)+":"), name), without lower-casing copies for the
// ASCII names every body has.
func requiredName(k, name, urn string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return strings.EqualFold(strings.TrimPrefix(strings.ToLower(k), strings.ToLower(urn)+":"), name)
		}
	}
	if len(k) > len(urn) && k[len(urn)] == ':' && strings.EqualFold(k[:len(urn)], urn) {
		k = k[len(urn)+1:]
	}
	return strings.EqualFold(k, name)
}
