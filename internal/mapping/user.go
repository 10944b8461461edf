package mapping

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// User is the bridge's canonical SCIM User: the attributes it stores (as an
// opaque JSON blob) and returns. Everything outside this struct (password,
// manager, roles, addresses, groups, phone numbers, the enterprise
// extension...) is dropped on the way in, because Webflow cannot hold it and
// the IdPs do not need it echoed.
type User struct {
	UserName    string  `json:"userName"`
	ExternalID  string  `json:"externalId,omitempty"`
	DisplayName string  `json:"displayName,omitempty"`
	Name        Name    `json:"name"`
	Emails      []Email `json:"emails,omitempty"`
	// PhoneNumbers are kept only to be echoed: Okta builds its PUT from
	// the last GET and its test checks they round-trip. Webflow has none.
	PhoneNumbers      []PhoneNumber `json:"phoneNumbers,omitempty"`
	Active            bool          `json:"active"`
	NickName          string        `json:"nickName,omitempty"`
	Title             string        `json:"title,omitempty"`
	PreferredLanguage string        `json:"preferredLanguage,omitempty"`
	Locale            string        `json:"locale,omitempty"`
	Timezone          string        `json:"timezone,omitempty"`
	UserType          string        `json:"userType,omitempty"`
	// Data is the read-write part of our extension's data attribute: the
	// consent flags and custom fields. It never holds email (immutable in
	// Webflow, derived from Emails/UserName) nor name (derived by
	// WebflowName).
	Data webflowdata.UserData `json:"data,omitempty"`
}

// Name is the SCIM name complex attribute.
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// IsZero reports whether no sub-attribute is set.
func (n Name) IsZero() bool { return n == Name{} }

// Email is one element of the SCIM emails attribute.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// PhoneNumber is one element of the SCIM phoneNumbers attribute.
type PhoneNumber struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// phonesFromValue reads phoneNumbers leniently: malformed items are
// dropped, since the bridge only echoes them.
func phonesFromValue(v any) []PhoneNumber {
	var out []PhoneNumber
	for _, item := range asList(v) {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		var p PhoneNumber
		for k, val := range m {
			switch strings.ToLower(k) {
			case "value":
				p.Value, _ = scalarString(val)
			case "type":
				p.Type, _ = scalarString(val)
			case "primary":
				p.Primary, _ = parseBoolValue(val)
			}
		}
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}

// Clone returns a deep copy (Emails and Data are not shared).
func (u User) Clone() User {
	c := u
	if u.Emails != nil {
		c.Emails = append([]Email(nil), u.Emails...)
	}
	if u.PhoneNumbers != nil {
		c.PhoneNumbers = append([]PhoneNumber(nil), u.PhoneNumbers...)
	}
	if u.Data != nil {
		c.Data = make(webflowdata.UserData, len(u.Data))
		for k, v := range u.Data {
			c.Data[k] = v
		}
	}
	return c
}

// lookup returns m[name], falling back to a case-insensitive key match
// (elimity canonicalises keys, but FromAttributes may also see raw maps).
func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// scalarString converts a simple JSON value to a string. Maps and lists are
// rejected.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	}
	return "", false
}

// parseBoolValue accepts JSON booleans and, because Entra sends "False" and
// "True" (Q2), the strings strconv.ParseBool accepts in any letter case.
func parseBoolValue(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(x)))
		return b, err == nil
	case json.Number:
		b, err := strconv.ParseBool(x.String())
		return b, err == nil
	case float64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case int:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case int64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	}
	return false, false
}

// asList turns a multi-valued attribute value into a list of elements:
// typed-nil slices become empty (B11), a single object becomes a one-element
// list (B13).
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []map[string]any:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = m
		}
		return out
	case map[string]any:
		return []any{x}
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

func invalidValuef(format string, args ...any) *Error {
	return newError(ScimTypeInvalidValue, fmt.Sprintf(format, args...))
}

func stringAttr(name string, v any) (string, error) {
	s, ok := scalarString(v)
	if !ok {
		return "", invalidValuef("attribute %q must be a string", name)
	}
	return s, nil
}

// FromAttributes builds the canonical User from elimity's POST/PUT
// attributes (keys already canonical, nulls dropped). It ignores password,
// manager, roles, addresses, groups, the enterprise extension and any other
// attribute it does not store; active defaults to true when absent.
func FromAttributes(attrs scim.ResourceAttributes) (User, error) {
	u := User{Active: true}
	m := map[string]any(attrs)
	var err error
	strs := []struct {
		name string
		dst  *string
	}{
		{"userName", &u.UserName}, {"externalId", &u.ExternalID}, {"displayName", &u.DisplayName},
		{"nickName", &u.NickName}, {"title", &u.Title}, {"preferredLanguage", &u.PreferredLanguage},
		{"locale", &u.Locale}, {"timezone", &u.Timezone}, {"userType", &u.UserType},
	}
	for _, s := range strs {
		if v, ok := lookup(m, s.name); ok {
			if *s.dst, err = stringAttr(s.name, v); err != nil {
				return User{}, err
			}
		}
	}
	if v, ok := lookup(m, "active"); ok && v != nil {
		b, ok := parseBoolValue(v)
		if !ok {
			return User{}, invalidValuef("attribute \"active\" must be a boolean")
		}
		u.Active = b
	}
	if v, ok := lookup(m, "name"); ok && v != nil {
		nm, ok := v.(map[string]any)
		if !ok {
			return User{}, invalidValuef("attribute \"name\" must be an object")
		}
		if err := mergeName(&u.Name, nm); err != nil {
			return User{}, err
		}
	}
	if v, ok := lookup(m, "emails"); ok {
		if u.Emails, err = emailsFromValue(v); err != nil {
			return User{}, err
		}
	}
	if v, ok := lookup(m, "phoneNumbers"); ok {
		u.PhoneNumbers = phonesFromValue(v)
	}
	if v, ok := lookup(m, ExtensionSchemaURN); ok && v != nil {
		ext, ok := v.(map[string]any)
		if !ok {
			return User{}, invalidValuef("%s must be an object", ExtensionSchemaURN)
		}
		if dv, ok := lookup(ext, ExtAttrData); ok && dv != nil {
			dm, ok := dv.(map[string]any)
			if !ok {
				return User{}, invalidValuef("attribute \"data\" must be an object")
			}
			u.Data = webflowdata.UserData{}
			for k, v := range dm {
				if err := setDataKey(u.Data, k, v); err != nil {
					return User{}, err
				}
			}
			if len(u.Data) == 0 {
				u.Data = nil
			}
		}
	}
	return u, nil
}

// mergeName sets the sub-attributes present in m (case-insensitive names).
func mergeName(n *Name, m map[string]any) error {
	for k, v := range m {
		canon, ok := canonicalFold(nameSubAttrs, k)
		if !ok {
			continue
		}
		s, err := stringAttr("name."+canon, v)
		if err != nil {
			return err
		}
		*nameField(n, canon) = s
	}
	return nil
}

func nameField(n *Name, canon string) *string {
	switch canon {
	case "formatted":
		return &n.Formatted
	case "familyName":
		return &n.FamilyName
	case "givenName":
		return &n.GivenName
	case "middleName":
		return &n.MiddleName
	case "honorificPrefix":
		return &n.HonorificPrefix
	default:
		return &n.HonorificSuffix
	}
}

func emailFromMap(m map[string]any) (Email, error) {
	var e Email
	for k, v := range m {
		switch {
		case strings.EqualFold(k, "value"):
			s, err := stringAttr("emails.value", v)
			if err != nil {
				return Email{}, err
			}
			e.Value = strings.TrimSpace(s)
		case strings.EqualFold(k, "type"):
			s, err := stringAttr("emails.type", v)
			if err != nil {
				return Email{}, err
			}
			e.Type = s
		case strings.EqualFold(k, "primary"):
			if v == nil {
				continue
			}
			b, ok := parseBoolValue(v)
			if !ok {
				return Email{}, invalidValuef("attribute \"emails.primary\" must be a boolean")
			}
			e.Primary = b
		}
	}
	return e, nil
}

// emailsFromValue converts an emails value (list, typed-nil list, single
// object, or a bare string) to []Email, dropping elements without a value
// and keeping at most one primary.
func emailsFromValue(v any) ([]Email, error) {
	var out []Email
	for _, el := range asList(v) {
		var e Email
		switch x := el.(type) {
		case map[string]any:
			var err error
			if e, err = emailFromMap(x); err != nil {
				return nil, err
			}
		case string:
			e = Email{Value: strings.TrimSpace(x)}
		case nil:
			continue
		default:
			return nil, invalidValuef("attribute \"emails\" must be a list of objects")
		}
		if e.Value == "" {
			continue
		}
		out = append(out, e)
	}
	return fixPrimary(out, -1), nil
}

// fixPrimary keeps at most one primary email (RFC 7643 §2.4): the element
// at index keep if it is primary, else the first primary.
func fixPrimary(es []Email, keep int) []Email {
	if keep < 0 || keep >= len(es) || !es[keep].Primary {
		keep = -1
		for i, e := range es {
			if e.Primary {
				keep = i
				break
			}
		}
	}
	for i := range es {
		if i != keep {
			es[i].Primary = false
		}
	}
	return es
}

// dataKeyCanon canonicalises a data key: the consent flags are matched
// case-insensitively, anything else is kept as given (Webflow slugs).
func dataKeyCanon(k string) string {
	switch {
	case strings.EqualFold(k, webflowdata.DataAcceptPrivacy):
		return webflowdata.DataAcceptPrivacy
	case strings.EqualFold(k, webflowdata.DataAcceptCommunications):
		return webflowdata.DataAcceptCommunications
	}
	return k
}

func isConsentKey(k string) bool {
	return k == webflowdata.DataAcceptPrivacy || k == webflowdata.DataAcceptCommunications
}

// setDataKey stores one data value. email and name are never stored (they
// are derived); consent flags must be booleans; nil and "" delete the key.
func setDataKey(d webflowdata.UserData, k string, v any) error {
	k = dataKeyCanon(k)
	if strings.EqualFold(k, webflowdata.DataEmail) || strings.EqualFold(k, webflowdata.DataName) {
		return nil
	}
	if v == nil {
		delete(d, k)
		return nil
	}
	if isConsentKey(k) {
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			delete(d, k)
			return nil
		}
		b, ok := parseBoolValue(v)
		if !ok {
			return invalidValuef("attribute \"data.%s\" must be a boolean", k)
		}
		d[k] = b
		return nil
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			delete(d, k)
			return nil
		}
		d[k] = x
	case bool, float64:
		d[k] = x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return invalidValuef("attribute \"data.%s\" is not a number", k)
		}
		d[k] = f
	default:
		if s, ok := scalarString(v); ok {
			d[k] = s
			return nil
		}
		return invalidValuef("attribute \"data.%s\" must be a simple value", k)
	}
	return nil
}

// WebflowEmail is the address the user is invited to Webflow with: the
// primary email, else the type "work" email, else the first email, else
// userName. Webflow cannot change it later, so it is validated strictly.
func (u User) WebflowEmail() (string, error) {
	cand := ""
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			cand = e.Value
			break
		}
	}
	if cand == "" {
		for _, e := range u.Emails {
			if strings.EqualFold(e.Type, "work") && e.Value != "" {
				cand = e.Value
				break
			}
		}
	}
	if cand == "" {
		for _, e := range u.Emails {
			if e.Value != "" {
				cand = e.Value
				break
			}
		}
	}
	if cand == "" {
		cand = u.UserName
	}
	return ValidateEmail(cand)
}

// ValidateEmail returns the trimmed address if it is a bare, plausible
// email address (net/mail syntax, no display name or angle brackets, no
// whitespace, a local part and a domain, which may be dot-less, at most 254
// octets), else an invalidValue *Error.
func ValidateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (string, error) {
		return "", invalidValuef("%q is not a usable email address for Webflow: %s", s, why)
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > 254:
		return bad("longer than 254 characters")
	case strings.ContainsAny(s, " \t\r\n<>"):
		return bad("contains whitespace or angle brackets")
	case strings.ContainsFunc(s, invisibleRune):
		return bad("contains control, invisible or bidirectional-formatting characters, or an undecodable character")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return bad(err.Error())
	}
	if a.Name != "" || a.Address != s {
		return bad("display names are not allowed")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return bad("missing local part or domain")
	}
	dom := s[at+1:]
	if strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") || strings.Contains(dom, "..") {
		return bad("malformed domain")
	}
	return s, nil
}

// invisibleRune reports characters no address should hold: controls
// (NUL …), format characters (zero-width joiners and spaces, bidi marks
// and overrides, BOM), and U+FFFD, which is what a lone surrogate escape
// or invalid UTF-8 decodes to. They make two different addresses look
// identical.
func invisibleRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// WebflowName is Webflow's data.name: displayName, else name.formatted,
// else "givenName familyName", else "".
func (u User) WebflowName() string {
	if s := strings.TrimSpace(u.DisplayName); s != "" {
		return s
	}
	if s := strings.TrimSpace(u.Name.Formatted); s != "" {
		return s
	}
	return strings.TrimSpace(strings.TrimSpace(u.Name.GivenName) + " " + strings.TrimSpace(u.Name.FamilyName))
}

// WebflowData is the desired Webflow data object: name (omitted when
// WebflowName is empty, so that a user without any name in the IdP does not
// wipe a name set in Webflow; use DataDiff's managedKeys to clear it) plus
// the consent flags and custom keys of u.Data. It never contains email.
func (u User) WebflowData() webflowdata.UserData {
	out := webflowdata.UserData{}
	for k, v := range u.Data {
		if strings.EqualFold(k, webflowdata.DataEmail) || strings.EqualFold(k, webflowdata.DataName) {
			continue
		}
		out[k] = v
	}
	if n := u.WebflowName(); n != "" {
		out[webflowdata.DataName] = n
	}
	return out
}

// normJSON maps a value to what encoding/json would decode it to, so that
// json.Number, float64 and int compare equal.
func normJSON(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return float64(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// JSONEqual reports whether a and b encode to the same JSON value.
func JSONEqual(a, b any) bool { return reflect.DeepEqual(normJSON(a), normJSON(b)) }

// clearValue is what DataDiff sends to clear a data key: false for the
// consent flags and boolean custom fields, "" otherwise. (Webflow's
// handling of null in data is undocumented, so null is never sent.)
func clearValue(k string, current any) any {
	if isConsentKey(k) {
		return false
	}
	if _, ok := current.(bool); ok {
		return false
	}
	return ""
}

// DataDiff computes the Webflow PATCH data needed to turn current (the
// Webflow user's data) into desired (User.WebflowData()).
//
//   - Keys of desired whose JSON value differs from current are included.
//   - A key listed in managedKeys that desired no longer has is cleared
//     (false / "", see clearValue) if current holds a non-empty value.
//     managedKeys are the keys the bridge itself wrote before (e.g. the
//     previous WebflowData's keys); custom keys the bridge never managed
//     are never wiped, because Webflow users can edit their own fields.
//   - email is never included: Webflow cannot change it.
//
// patch is nil when nothing changed.
func DataDiff(current, desired webflowdata.UserData, managedKeys []string) (patch webflowdata.UserData, changed bool) {
	add := func(k string, v any) {
		if patch == nil {
			patch = webflowdata.UserData{}
		}
		patch[k] = v
	}
	for _, k := range sortedKeys(desired) {
		if strings.EqualFold(k, webflowdata.DataEmail) {
			continue
		}
		cv, ok := current[k]
		if ok && JSONEqual(cv, desired[k]) {
			continue
		}
		add(k, desired[k])
	}
	for _, k := range managedKeys {
		if strings.EqualFold(k, webflowdata.DataEmail) {
			continue
		}
		if _, ok := desired[k]; ok {
			continue
		}
		cv, ok := current[k]
		if !ok || cv == nil {
			continue
		}
		cl := clearValue(k, cv)
		if JSONEqual(cv, cl) {
			continue
		}
		add(k, cl)
	}
	return patch, patch != nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WebflowChanged compares two versions of a stored user (e.g. before and
// after ApplyPatch or a PUT) as far as Webflow is concerned:
//
//   - dataPatch is DataDiff(before.WebflowData(), after.WebflowData(),
//     keys of before.WebflowData()), i.e. what to PATCH into Webflow's
//     data assuming Webflow still holds what the bridge last wrote; nil if
//     nothing changed. Callers who have the live Webflow user should call
//     DataDiff against its data instead.
//   - emailChanged reports a different WebflowEmail (case-insensitive).
//     Webflow cannot change an email; the caller decides (reject, or
//     re-invite).
//   - activeChanged reports a flip of active (remove from / restore to
//     Webflow).
func WebflowChanged(before, after User) (dataPatch webflowdata.UserData, emailChanged bool, activeChanged bool) {
	bd := before.WebflowData()
	dataPatch, _ = DataDiff(bd, after.WebflowData(), sortedKeys(bd))
	be, berr := before.WebflowEmail()
	ae, aerr := after.WebflowEmail()
	switch {
	case berr != nil || aerr != nil:
		emailChanged = (berr == nil) != (aerr == nil) || be != ae
	default:
		emailChanged = !strings.EqualFold(be, ae)
	}
	return dataPatch, emailChanged, before.Active != after.Active
}
