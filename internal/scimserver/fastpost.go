package scimserver

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/webflowscim/bridge/internal/mapping"
)

// POST /Users bodies as Okta and Entra send them are served here rather
// than through the library, whose validation decodes the body into a
// map[string]any and walks it against the User schema (with the create
// itself, about 9% of the bridge's CPU on the IdP-form bench). The body is
// read once, token by token, straight into the User the library's
// validation and mapping.FromAttributes would give; only bodies whose
// every member is one the library accepts without an error are taken, so
// the library's errors stay its own:
//   - schemas: an array of strings naming the core User schema;
//   - the core User attributes under their canonical names (another case
//     of a name the schema knows goes to the library, which matches names
//     case-insensitively and refuses two spellings of one name): strings
//     or null for the string attributes, a boolean or a string
//     strconv.ParseBool reads (or null) for active, an object of strings
//     for name, arrays of objects for emails and phoneNumbers, anything
//     for groups (read-only: the library ignores it), null or [] for the
//     multi-valued attributes the bridge does not keep (roles, addresses…);
//   - the enterprise extension as null or an object of its string
//     attributes (the bridge keeps none of them), the bridge's extension
//     only as null;
//   - any other member (meta, id, department…) is ignored, as the
//     library ignores members the schema does not name.
// The request must carry no query string (attributes= projects the answer,
// which the library path does). The answer (201, Location, the resource;
// or the handler's error) is written as the library writes it.

// fastCreateUser decodes a POST /Users body into the User the library's
// validation and mapping.FromAttributes give, or false when the body is
// not one fastCreateUser takes.
func fastCreateUser(body []byte) (mapping.User, bool) {
	// Duplicate names are found here, not by the decoder (whose check
	// allocates for every member): a name the library reads, twice, goes
	// to the library; another name twice is ignored, as the library
	// ignores it whatever its value.
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return mapping.User{}, false
	}
	u := mapping.User{Active: true}
	var hasSchema, hasUserName bool
	var seen uint32
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return mapping.User{}, false
		}
		name := tok.String()
		if k := knownMember(name); k >= 0 {
			if seen&(1<<k) != 0 {
				return mapping.User{}, false
			}
			seen |= 1 << k
		}
		ok := true
		switch name {
		case "schemas":
			hasSchema, ok = readUserSchemas(dec)
		case "userName":
			u.UserName, hasUserName, ok = readString(dec)
			ok = ok && hasUserName // null: the library's required-attribute error
		case "externalId":
			u.ExternalID, _, ok = readString(dec)
		case "displayName":
			u.DisplayName, _, ok = readString(dec)
		case "nickName":
			u.NickName, _, ok = readString(dec)
		case "title":
			u.Title, _, ok = readString(dec)
		case "userType":
			u.UserType, _, ok = readString(dec)
		case "preferredLanguage":
			u.PreferredLanguage, _, ok = readString(dec)
		case "locale":
			u.Locale, _, ok = readString(dec)
		case "timezone":
			u.Timezone, _, ok = readString(dec)
		case "profileUrl", "password":
			_, _, ok = readString(dec) // validated as strings, not kept
		case "active":
			var b, present bool
			if b, present, ok = readBool(dec); present {
				u.Active = b
			}
		case "name":
			ok = readName(dec, &u.Name)
		case "emails":
			u.Emails, ok = readEmails(dec)
		case "phoneNumbers":
			u.PhoneNumbers, ok = readPhones(dec)
		case "groups":
			ok = dec.SkipValue() == nil // read-only: the library ignores its value
		case "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates":
			ok = readEmptyList(dec)
		case mapping.EnterpriseSchemaURN:
			ok = readEnterprise(dec)
		case mapping.ExtensionSchemaURN:
			ok = readNull(dec)
		default:
			if userAttributeFold(name) {
				return mapping.User{}, false // another spelling of a name the schema knows
			}
			ok = dec.SkipValue() == nil
		}
		if !ok {
			return mapping.User{}, false
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' || !hasSchema || !hasUserName {
		return mapping.User{}, false
	}
	if _, err := dec.ReadToken(); err == nil {
		return mapping.User{}, false // more than one value
	}
	keepOnePrimary(u.Emails)
	return u, true
}

// userAttributes are the names the library's User validation knows at
// the top level (the core schema, externalId, and schemas, which it reads
// under that exact name).
var userAttributes = []string{"schemas", "userName", "externalId", "displayName", "nickName", "title", "userType",
	"preferredLanguage", "locale", "timezone", "profileUrl", "password", "active", "name", "emails", "phoneNumbers",
	"groups", "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates"}

// knownMember is the index of a top-level member name the library reads
// (userAttributes, then the two extensions), or -1.
func knownMember(name string) int {
	switch name {
	case mapping.EnterpriseSchemaURN:
		return len(userAttributes)
	case mapping.ExtensionSchemaURN:
		return len(userAttributes) + 1
	}
	return slices.Index(userAttributes, name)
}

func userAttributeFold(name string) bool {
	for _, a := range userAttributes {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// readUserSchemas reads a schemas array of strings and reports whether it
// names the core User schema.
func readUserSchemas(dec *jsontext.Decoder) (has, ok bool) {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return false, false
	}
	for dec.PeekKind() != ']' {
		tok, err := dec.ReadToken()
		if err != nil || tok.Kind() != '"' {
			return false, false
		}
		if tok.String() == mapping.CoreUserSchemaURN {
			has = true
		}
	}
	_, err := dec.ReadToken()
	return has, has && err == nil
}

// readString reads a string, or null (present false); anything else is
// not ok.
func readString(dec *jsontext.Decoder) (s string, present, ok bool) {
	tok, err := dec.ReadToken()
	if err != nil {
		return "", false, false
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), true, true
	case 'n':
		return "", false, true
	}
	return "", false, false
}

// readBool reads a boolean, a string strconv.ParseBool reads (the
// library's schema.SetAllowStringValues), or null (present false).
func readBool(dec *jsontext.Decoder) (b, present, ok bool) {
	tok, err := dec.ReadToken()
	if err != nil {
		return false, false, false
	}
	switch tok.Kind() {
	case 't', 'f':
		return tok.Bool(), true, true
	case '"':
		v, err := strconv.ParseBool(tok.String())
		return v, err == nil, err == nil
	case 'n':
		return false, false, true
	}
	return false, false, false
}

// readNull reads a null.
func readNull(dec *jsontext.Decoder) bool {
	tok, err := dec.ReadToken()
	return err == nil && tok.Kind() == 'n'
}

// readEmptyList reads null or [].
func readEmptyList(dec *jsontext.Decoder) bool {
	tok, err := dec.ReadToken()
	if err != nil {
		return false
	}
	switch tok.Kind() {
	case 'n':
		return true
	case '[':
		end, err := dec.ReadToken()
		return err == nil && end.Kind() == ']'
	}
	return false
}

// readObject reads null (present false) or an object, handing each
// member's name to member, which reads its value. Members of one object
// whose names differ only in case are not ok (the library refuses them
// when it knows the name).
func readObject(dec *jsontext.Decoder, member func(name string) bool) (present, ok bool) {
	tok, err := dec.ReadToken()
	if err != nil {
		return false, false
	}
	switch tok.Kind() {
	case 'n':
		return false, true
	case '{':
	default:
		return false, false
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil || !member(tok.String()) {
			return false, false
		}
	}
	end, err := dec.ReadToken()
	return true, err == nil && end.Kind() == '}'
}

// subAttr matches a member name against a complex attribute's
// sub-attributes case-insensitively, as the library does, and returns the
// canonical name's index; seen refuses a second spelling of one name.
func subAttr(subs []string, name string, seen *uint16) (int, bool) {
	for i, s := range subs {
		if strings.EqualFold(s, name) {
			if *seen&(1<<i) != 0 {
				return i, false
			}
			*seen |= 1 << i
			return i, true
		}
	}
	return -1, true
}

var nameSubs = []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}

// readName reads the name attribute: null, or an object whose known
// sub-attributes are strings or null (others are ignored, as the library
// ignores them).
func readName(dec *jsontext.Decoder, n *mapping.Name) bool {
	var seen uint16
	fields := [...]*string{&n.Formatted, &n.FamilyName, &n.GivenName, &n.MiddleName, &n.HonorificPrefix, &n.HonorificSuffix}
	_, ok := readObject(dec, func(name string) bool {
		i, ok := subAttr(nameSubs, name, &seen)
		if !ok {
			return false
		}
		if i < 0 {
			return dec.SkipValue() == nil
		}
		s, _, ok := readString(dec)
		*fields[i] = s
		return ok
	})
	return ok
}

var multiSubs = []string{"value", "display", "type", "primary"}

// multiValue is one element of emails or phoneNumbers as the library
// validates it: value, display and type strings, primary a boolean.
type multiValue struct {
	value, typ string
	primary    bool
}

// readMultiValued reads null or an array of objects of value, display,
// type and primary (others ignored); a null element, or one that is not an
// object, is the library's error.
func readMultiValued(dec *jsontext.Decoder, each func(multiValue)) bool {
	tok, err := dec.ReadToken()
	if err != nil {
		return false
	}
	switch tok.Kind() {
	case 'n':
		return true
	case '[':
	default:
		return false
	}
	for dec.PeekKind() != ']' {
		if dec.PeekKind() != '{' {
			return false
		}
		var v multiValue
		var seen uint16
		if _, ok := readObject(dec, func(name string) bool {
			i, ok := subAttr(multiSubs, name, &seen)
			switch {
			case !ok:
				return false
			case i < 0:
				return dec.SkipValue() == nil
			case i == 3:
				b, _, ok := readBool(dec)
				v.primary = b
				return ok
			}
			s, _, ok := readString(dec)
			switch i {
			case 0:
				v.value = s
			case 2:
				v.typ = s
			}
			return ok
		}); !ok {
			return false
		}
		each(v)
	}
	_, err = dec.ReadToken()
	return err == nil
}

// readEmails reads emails as mapping.FromAttributes keeps them: values
// trimmed, elements without a value dropped (one primary is kept by the
// caller).
func readEmails(dec *jsontext.Decoder) ([]mapping.Email, bool) {
	var out []mapping.Email
	ok := readMultiValued(dec, func(v multiValue) {
		if e := (mapping.Email{Value: strings.TrimSpace(v.value), Type: v.typ, Primary: v.primary}); e.Value != "" {
			out = append(out, e)
		}
	})
	return out, ok
}

// readPhones reads phoneNumbers as mapping.FromAttributes keeps them:
// elements without a value dropped.
func readPhones(dec *jsontext.Decoder) ([]mapping.PhoneNumber, bool) {
	var out []mapping.PhoneNumber
	ok := readMultiValued(dec, func(v multiValue) {
		if v.value != "" {
			out = append(out, mapping.PhoneNumber{Value: v.value, Type: v.typ, Primary: v.primary})
		}
	})
	return out, ok
}

// keepOnePrimary leaves the first primary email primary and clears the
// others, as mapping.FromAttributes does (RFC 7643 §2.4: at most one).
func keepOnePrimary(es []mapping.Email) {
	seen := false
	for i := range es {
		if es[i].Primary {
			es[i].Primary = !seen
			seen = true
		}
	}
}

var enterpriseSubs = []string{"employeeNumber", "costCenter", "organization", "division", "department", "manager"}

// readEnterprise reads the enterprise extension: null, or an object of its
// string attributes (manager goes to the library).
func readEnterprise(dec *jsontext.Decoder) bool {
	var seen uint16
	_, ok := readObject(dec, func(name string) bool {
		i, ok := subAttr(enterpriseSubs, name, &seen)
		switch {
		case !ok || i == 5:
			return false
		case i < 0:
			return dec.SkipValue() == nil
		}
		_, _, ok = readString(dec)
		return ok
	})
	return ok
}

// fastPost serves r here when it is a POST /Users with a body
// fastCreateUser takes and no query string, and reports whether it did.
func (st *site) fastPost(w http.ResponseWriter, r *http.Request, ov *override, body []byte) bool {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/Users" || r.URL.RawQuery != "" {
		return false
	}
	u, ok := fastCreateUser(body)
	if !ok {
		return false
	}
	ow := &overrideWriter{ResponseWriter: w, ov: ov}
	rec, groups, err := st.users.create(r.Context(), u)
	if err != nil {
		writeLibraryError(ow, http.MethodPost, err)
		return true
	}
	ow.Header().Set("Location", userLocation(st.base, rec.ID))
	writeUser(ow, &st.userBufs, http.StatusCreated, rec, groups, st.base, rec.ID)
	return true
}
