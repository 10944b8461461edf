package mapping

import (
	"strings"

	"github.com/elimity-com/scim"
)

// alwaysReturned are never removed by projection: id is returned "always"
// (RFC 7643 §3.1), and schemas is REQUIRED in every representation of a
// resource (RFC 7643 §3), so that the answer stays a parseable resource.
// meta is not among them: all of its sub-attributes are returned "default"
// (RFC 7643 §3.1), so excludedAttributes=meta removes it, and a response
// to attributes=… carries it only when meta (or one of its
// sub-attributes) is asked for.
var alwaysReturned = []string{"id", "schemas"}

// attrRef is one parsed entry of attributes / excludedAttributes.
type attrRef struct {
	urn  string // "" for core
	attr string
	sub  string
}

// knownURNs are recognised as prefixes in attribute lists, longest first
// is irrelevant as none is a prefix of another.
var knownURNs = []string{CoreUserSchemaURN, EnterpriseSchemaURN, ExtensionSchemaURN,
	"urn:ietf:params:scim:schemas:core:2.0:Group"}

func parseAttrRef(s string, resourceURNs []string) attrRef {
	var r attrRef
	ls := strings.ToLower(s)
	for _, urn := range resourceURNs {
		lu := strings.ToLower(urn)
		if ls == lu {
			return attrRef{urn: urn}
		}
		if strings.HasPrefix(ls, lu+":") {
			r.urn = urn
			s = s[len(urn)+1:]
			break
		}
	}
	if strings.HasPrefix(strings.ToLower(r.urn), "urn:ietf:params:scim:schemas:core:") {
		r.urn = "" // core attributes live at the top level
	}
	r.attr, r.sub, _ = strings.Cut(s, ".")
	return r
}

// Project applies RFC 7644 §3.9 attributes / excludedAttributes to a
// response's attributes (as built by ToAttributes, or a Group's). Names
// are case-insensitive, may be dotted (name.givenName, emails.value) and
// may carry a schema URN prefix (the core URN or an extension URN; an
// extension URN alone selects the whole extension). id and schemas are
// always kept; meta is returned "default", like the other attributes. When attributes is non-empty excludedAttributes is
// ignored. The input is not modified.
func Project(attrs scim.ResourceAttributes, attributes, excludedAttributes []string) scim.ResourceAttributes {
	urns := append([]string(nil), knownURNs...)
	for k := range attrs {
		if strings.HasPrefix(strings.ToLower(k), "urn:") && !containsFold(urns, k) {
			urns = append(urns, k)
		}
	}
	if len(attributes) > 0 {
		out := scim.ResourceAttributes{}
		for k, v := range attrs {
			if containsFold(alwaysReturned, k) {
				out[k] = v
			}
		}
		for _, s := range attributes {
			r := parseAttrRef(s, urns)
			src := map[string]any(attrs)
			dst := map[string]any(out)
			if r.urn != "" {
				ek, ev, ok := lookupKey(attrs, r.urn)
				em, isMap := ev.(map[string]any)
				if !ok || !isMap {
					continue
				}
				if r.attr == "" {
					out[ek] = em
					continue
				}
				d, _ := out[ek].(map[string]any)
				if d == nil {
					d = map[string]any{}
					out[ek] = d
				}
				src, dst = em, d
			}
			includeAttr(src, dst, r)
		}
		return out
	}
	if len(excludedAttributes) == 0 {
		return attrs
	}
	out := shallowCopy(attrs)
	for _, s := range excludedAttributes {
		r := parseAttrRef(s, urns)
		if r.urn == "" && containsFold(alwaysReturned, r.attr) {
			continue
		}
		target := map[string]any(out)
		if r.urn != "" {
			ek, ev, ok := lookupKey(out, r.urn)
			em, isMap := ev.(map[string]any)
			if !ok || !isMap {
				continue
			}
			if r.attr == "" {
				delete(out, ek)
				continue
			}
			em = shallowCopy(em)
			out[ek] = em
			target = em
		}
		excludeAttr(target, r)
	}
	return out
}

func lookupKey[M ~map[string]any](m M, name string) (string, any, bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

func shallowCopy[M ~map[string]any](m M) M {
	out := make(M, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// includeAttr copies attribute r from src into dst (merging sub-attribute
// selections).
func includeAttr(src, dst map[string]any, r attrRef) {
	k, v, ok := lookupKey(src, r.attr)
	if !ok {
		return
	}
	if r.sub == "" {
		dst[k] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sk, sv, ok := lookupKey(x, r.sub)
		if !ok {
			return
		}
		d, _ := dst[k].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		d[sk] = sv
		dst[k] = d
	case []any:
		prev, _ := dst[k].([]any)
		out := make([]any, len(x))
		for i, el := range x {
			em, ok := el.(map[string]any)
			var d map[string]any
			if i < len(prev) {
				d, _ = prev[i].(map[string]any)
			}
			if d == nil {
				d = map[string]any{}
			}
			if ok {
				if sk, sv, ok := lookupKey(em, r.sub); ok {
					d[sk] = sv
				}
			}
			out[i] = d
		}
		dst[k] = out
	}
}

// excludeAttr removes attribute r from m (copying nested values it edits).
func excludeAttr(m map[string]any, r attrRef) {
	k, v, ok := lookupKey(m, r.attr)
	if !ok {
		return
	}
	if r.sub == "" {
		delete(m, k)
		return
	}
	switch x := v.(type) {
	case map[string]any:
		c := shallowCopy(x)
		if sk, _, ok := lookupKey(c, r.sub); ok {
			delete(c, sk)
		}
		m[k] = c
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			if em, ok := el.(map[string]any); ok {
				c := shallowCopy(em)
				if sk, _, ok := lookupKey(c, r.sub); ok {
					delete(c, sk)
				}
				out[i] = c
			} else {
				out[i] = el
			}
		}
		m[k] = out
	}
}
