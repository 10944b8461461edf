package mapping

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// ApplyPatch applies the operations elimity validated (it never applies
// them itself) to a copy of u, atomically: on error u is returned
// unchanged with an *Error (invalidPath, noTarget, mutability,
// invalidValue).
//
// Shapes handled (go-libs 1.8): lower- or mixed-case op; Path nil with a
// map whose keys are raw attribute paths ("name.givenName",
// "urn:...:enterprise:2.0:User:employeeNumber") or schema URN containers;
// name.x (AttributePath.SubAttribute); emails[filter] and
// emails[filter].x (Path.SubAttribute), where add/replace on a filter that
// matches nothing creates the element from the filter's eq conditions
// (Entra, SCIM-SDK#416); data and data.<key> of our extension; typed-nil
// slices. Names compare case-insensitively.
//
// Semantics worth knowing:
//   - "" clears a string attribute like remove does; for
//     emails[...].value it removes the element.
//   - remove active sets active=true (an absent active means active).
//   - userName cannot be removed or emptied (invalidValue).
//   - id and meta are immutable (mutability). The enterprise extension,
//     password, manager, roles, addresses, groups, phoneNumbers and other
//     attributes the bridge does not store, and our extension's read-only
//     attributes, are ignored.
//   - add/replace on name or data merge the given sub-attributes
//     (RFC 7644 §3.5.2.3); replace emails replaces the list, add emails
//     appends (merging an element with an existing equal value).
func ApplyPatch(u User, ops []scim.PatchOperation) (User, error) {
	out := u.Clone()
	for _, op := range ops {
		if err := applyOp(&out, op); err != nil {
			return u, err
		}
	}
	if len(out.Data) == 0 {
		out.Data = nil
	}
	if len(out.Emails) == 0 {
		out.Emails = nil
	}
	return out, nil
}

func applyOp(u *User, op scim.PatchOperation) error {
	o := strings.ToLower(strings.TrimSpace(op.Op))
	switch o {
	case "add", "replace", "remove":
	default:
		return newError(ScimTypeInvalidValue, fmt.Sprintf("unknown PATCH op %q", op.Op))
	}
	if op.Path == nil {
		if o == "remove" {
			return newError(ScimTypeNoTarget, "remove requires a path")
		}
		m, ok := op.Value.(map[string]any)
		if !ok {
			if op.Value == nil {
				return nil
			}
			return newError(ScimTypeInvalidValue, "a PATCH op without path needs an object value")
		}
		return applyPathless(u, o, m, "")
	}
	return applyPath(u, o, *op.Path, op.Value)
}

func applyPathless(u *User, o string, m map[string]any, prefix string) error {
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch {
		case strings.EqualFold(k, "id"), strings.EqualFold(k, "schemas"), strings.EqualFold(k, "meta"):
			continue // Okta round-trips these; elimity strips id
		case strings.EqualFold(k, CoreUserSchemaURN), strings.EqualFold(k, ExtensionSchemaURN):
			inner, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					continue
				}
				return newError(ScimTypeInvalidValue, fmt.Sprintf("the value of %s must be an object", k))
			}
			p := ""
			if strings.EqualFold(k, ExtensionSchemaURN) {
				p = ExtensionSchemaURN
			}
			if err := applyPathless(u, o, inner, p); err != nil {
				return err
			}
			continue
		case strings.EqualFold(k, EnterpriseSchemaURN):
			continue
		}
		p, err := parsePath(k)
		if err != nil {
			return newError(ScimTypeInvalidPath, fmt.Sprintf("invalid attribute path %q", k))
		}
		if prefix != "" && p.AttributePath.URIPrefix == nil {
			pre := prefix
			p.AttributePath.URIPrefix = &pre
		}
		ko := o
		if v == nil {
			ko = "remove"
		}
		if err := applyPath(u, ko, p, v); err != nil {
			return err
		}
	}
	return nil
}

func invalidPathf(format string, args ...any) *Error {
	return newError(ScimTypeInvalidPath, fmt.Sprintf(format, args...))
}

// ignoredCoreAttrs are core User attributes the bridge accepts and drops.
var ignoredCoreAttrs = []string{
	"password", "phoneNumbers", "ims", "photos", "addresses", "groups",
	"entitlements", "roles", "x509Certificates", "profileUrl", "manager",
}

var readOnlyExtAttrs = []string{ExtAttrWebflowUserID, ExtAttrStatus, ExtAttrAccessGroups, ExtAttrInvitedOn, ExtAttrLastLogin}

func applyPath(u *User, o string, p filter.Path, v any) error {
	uri := p.AttributePath.URI()
	attr := p.AttributePath.AttributeName
	switch {
	case uri == "" || strings.EqualFold(uri, CoreUserSchemaURN):
		if handled, err := applyCore(u, o, p, v); handled {
			return err
		}
		if uri == "" {
			if containsFold(extUserAttrs, attr) {
				return applyExt(u, o, p, v)
			}
			if containsFold(enterpriseUserAttrs, attr) {
				return nil
			}
		}
		if containsFold(ignoredCoreAttrs, attr) {
			return nil
		}
		if strings.EqualFold(attr, "id") || strings.EqualFold(attr, "meta") || strings.EqualFold(attr, "schemas") {
			return newError(ScimTypeMutability, fmt.Sprintf("attribute %q cannot be modified", attr))
		}
		return invalidPathf("unknown attribute %q", p.String())
	case strings.EqualFold(uri, EnterpriseSchemaURN):
		return nil
	case strings.EqualFold(uri, ExtensionSchemaURN):
		return applyExt(u, o, p, v)
	}
	return invalidPathf("unknown schema %q", uri)
}

// applyCore applies core attributes; handled=false for attributes it does
// not own.
func applyCore(u *User, o string, p filter.Path, v any) (handled bool, err error) {
	attr := p.AttributePath.AttributeName
	asub := p.AttributePath.SubAttributeName()
	filtered := p.ValueExpression != nil || p.SubAttribute != nil
	if c, ok := canonicalFold(storedStringAttrs, attr); ok {
		if asub != "" || filtered {
			return true, invalidPathf("%q has no sub-attributes", c)
		}
		s := ""
		if o != "remove" {
			if s, err = stringAttr(c, v); err != nil {
				return true, err
			}
		}
		if c == "userName" && strings.TrimSpace(s) == "" {
			return true, newError(ScimTypeInvalidValue, "userName is required and cannot be removed")
		}
		*stringField(u, c) = s
		return true, nil
	}
	switch {
	case strings.EqualFold(attr, "active"):
		if asub != "" || filtered {
			return true, invalidPathf("active has no sub-attributes")
		}
		if o == "remove" {
			u.Active = true
			return true, nil
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			u.Active = true
			return true, nil
		}
		b, ok := parseBoolValue(v)
		if !ok {
			return true, invalidValuef("active must be a boolean")
		}
		u.Active = b
		return true, nil
	case strings.EqualFold(attr, "name"):
		if filtered {
			return true, invalidPathf("name is not multi-valued")
		}
		if asub != "" {
			c, ok := canonicalFold(nameSubAttrs, asub)
			if !ok {
				return true, invalidPathf("unknown attribute name.%s", asub)
			}
			s := ""
			if o != "remove" {
				if s, err = stringAttr("name."+c, v); err != nil {
					return true, err
				}
			}
			*nameField(&u.Name, c) = s
			return true, nil
		}
		if o == "remove" {
			u.Name = Name{}
			return true, nil
		}
		switch x := v.(type) {
		case map[string]any:
			return true, mergeName(&u.Name, x)
		case string:
			if x == "" {
				u.Name = Name{}
				return true, nil
			}
		}
		return true, invalidValuef("name must be an object")
	case strings.EqualFold(attr, "emails"):
		return true, applyEmails(u, o, p, v)
	}
	return false, nil
}

func stringField(u *User, c string) *string {
	switch c {
	case "userName":
		return &u.UserName
	case "externalId":
		return &u.ExternalID
	case "displayName":
		return &u.DisplayName
	case "nickName":
		return &u.NickName
	case "title":
		return &u.Title
	case "userType":
		return &u.UserType
	case "preferredLanguage":
		return &u.PreferredLanguage
	case "locale":
		return &u.Locale
	default:
		return &u.Timezone
	}
}

func applyExt(u *User, o string, p filter.Path, v any) error {
	attr := p.AttributePath.AttributeName
	if containsFold(readOnlyExtAttrs, attr) {
		return nil // read-only, reflected from Webflow
	}
	if !strings.EqualFold(attr, ExtAttrData) {
		return invalidPathf("unknown attribute %q", p.String())
	}
	if p.ValueExpression != nil || p.SubAttribute != nil {
		return invalidPathf("data is not multi-valued")
	}
	if u.Data == nil {
		u.Data = webflowdata.UserData{}
	}
	if sub := p.AttributePath.SubAttributeName(); sub != "" {
		if o == "remove" {
			v = nil
		}
		return setDataKey(u.Data, sub, v)
	}
	if o == "remove" {
		u.Data = nil
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return invalidValuef("data must be an object")
	}
	for _, k := range sortedKeys(m) {
		if err := setDataKey(u.Data, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// emailSub canonicalises an emails sub-attribute; display is accepted and
// ignored (ok=true, stored=false).
func emailSub(s string) (c string, stored bool, ok bool) {
	if c, ok := canonicalFold([]string{"value", "type", "primary"}, s); ok {
		return c, true, true
	}
	if strings.EqualFold(s, "display") {
		return "display", false, true
	}
	return s, false, false
}

func setEmailSub(e *Email, sub string, v any, remove bool) error {
	switch sub {
	case "value", "type":
		s := ""
		if !remove {
			var err error
			if s, err = stringAttr("emails."+sub, v); err != nil {
				return err
			}
		}
		if sub == "value" {
			e.Value = strings.TrimSpace(s)
		} else {
			e.Type = s
		}
	case "primary":
		if remove {
			e.Primary = false
			return nil
		}
		b, ok := parseBoolValue(v)
		if !ok {
			return invalidValuef("emails.primary must be a boolean")
		}
		e.Primary = b
	}
	return nil
}

func applyEmails(u *User, o string, p filter.Path, v any) error {
	sub := p.AttributePath.SubAttributeName()
	if s := p.SubAttributeName(); s != "" {
		if sub != "" {
			return invalidPathf("invalid path %q", p.String())
		}
		sub = s
	}
	stored := true
	if sub != "" {
		var ok bool
		if sub, stored, ok = emailSub(sub); !ok {
			return invalidPathf("unknown attribute emails.%s", sub)
		}
		if !stored {
			return nil
		}
	}
	keep := -1
	defer func() { u.Emails = fixPrimary(dropEmptyEmails(u.Emails, &keep), keep) }()

	if p.ValueExpression == nil {
		if sub == "" {
			switch o {
			case "replace":
				es, err := emailsFromValue(v)
				if err != nil {
					return err
				}
				u.Emails = es
			case "add":
				es, err := emailsFromValue(v)
				if err != nil {
					return err
				}
				for _, e := range es {
					i := indexEmail(u.Emails, e.Value)
					if i < 0 {
						u.Emails = append(u.Emails, e)
						i = len(u.Emails) - 1
					} else {
						if e.Type != "" {
							u.Emails[i].Type = e.Type
						}
						u.Emails[i].Primary = u.Emails[i].Primary || e.Primary
					}
					if e.Primary {
						keep = i
					}
				}
			case "remove":
				if v == nil {
					u.Emails = nil
					return nil
				}
				es, err := emailsFromValue(v)
				if err != nil {
					return err
				}
				for _, e := range es {
					if i := indexEmail(u.Emails, e.Value); i >= 0 {
						u.Emails = append(u.Emails[:i], u.Emails[i+1:]...)
					}
				}
			}
			return nil
		}
		// emails.value etc. without a filter: every element.
		if o == "remove" {
			if sub == "value" {
				u.Emails = nil
				return nil
			}
			for i := range u.Emails {
				_ = setEmailSub(&u.Emails[i], sub, nil, true)
			}
			return nil
		}
		if len(u.Emails) == 0 {
			var e Email
			if err := setEmailSub(&e, sub, v, false); err != nil {
				return err
			}
			if e.Value != "" {
				u.Emails = []Email{e}
			}
			return nil
		}
		for i := range u.Emails {
			if err := setEmailSub(&u.Emails[i], sub, v, false); err != nil {
				return err
			}
		}
		return nil
	}

	if err := checkEmailExpr(p.ValueExpression); err != nil {
		return invalidPathf("unsupported emails filter: %v", err)
	}
	var matches []int
	for i, e := range u.Emails {
		if evalEmail(p.ValueExpression, e) {
			matches = append(matches, i)
		}
	}
	removeIdx := func(idx []int) {
		drop := map[int]bool{}
		for _, i := range idx {
			drop[i] = true
		}
		var kept []Email
		for i, e := range u.Emails {
			if !drop[i] {
				kept = append(kept, e)
			}
		}
		u.Emails = kept
	}
	if o == "remove" {
		if sub == "" || sub == "value" {
			removeIdx(matches)
			return nil
		}
		for _, i := range matches {
			_ = setEmailSub(&u.Emails[i], sub, nil, true)
		}
		return nil
	}
	// add / replace
	if sub == "value" {
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			removeIdx(matches) // clearing the work email removes it
			return nil
		}
	}
	if len(matches) == 0 {
		seed, ok := seedEmail(p.ValueExpression)
		if !ok {
			return newError(ScimTypeNoTarget, fmt.Sprintf("no email matches %s", p.String()))
		}
		if sub == "" {
			m, ok := v.(map[string]any)
			if !ok {
				return invalidValuef("the value for %s must be an object", p.String())
			}
			if err := mergeEmail(&seed, m); err != nil {
				return err
			}
		} else if err := setEmailSub(&seed, sub, v, false); err != nil {
			return err
		}
		if seed.Value == "" {
			return nil // nothing usable to create
		}
		u.Emails = append(u.Emails, seed)
		if seed.Primary {
			keep = len(u.Emails) - 1
		}
		return nil
	}
	for _, i := range matches {
		if sub == "" {
			m, ok := v.(map[string]any)
			if !ok {
				return invalidValuef("the value for %s must be an object", p.String())
			}
			if err := mergeEmail(&u.Emails[i], m); err != nil {
				return err
			}
		} else if err := setEmailSub(&u.Emails[i], sub, v, false); err != nil {
			return err
		}
		if u.Emails[i].Primary {
			keep = i
		}
	}
	return nil
}

// dropEmptyEmails removes elements whose value was cleared (e.g. replace
// emails.value with "" or null on every element), in place, and moves
// *keep along; -1 if the kept element was dropped. Emails never hold an
// element without a value (FromAttributes drops them too).
func dropEmptyEmails(es []Email, keep *int) []Email {
	out := es[:0]
	nk := -1
	for i, e := range es {
		if e.Value == "" {
			continue
		}
		if i == *keep {
			nk = len(out)
		}
		out = append(out, e)
	}
	*keep = nk
	return out
}

func mergeEmail(e *Email, m map[string]any) error {
	for k, x := range m {
		c, stored, ok := emailSub(k)
		if !ok || !stored {
			continue
		}
		if err := setEmailSub(e, c, x, x == nil); err != nil {
			return err
		}
	}
	return nil
}

func indexEmail(es []Email, value string) int {
	for i, e := range es {
		if strings.EqualFold(e.Value, value) {
			return i
		}
	}
	return -1
}

// seedEmail builds the element an upsert creates from the eq conditions of
// an and-only filter (type eq "work" → {type: work}).
func seedEmail(e filter.Expression) (Email, bool) {
	var seed Email
	var walk func(e filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			return strings.EqualFold(string(x.Operator), "and") && walk(x.Left) && walk(x.Right)
		case *filter.AttributeExpression:
			if !strings.EqualFold(string(x.Operator), "eq") {
				return false
			}
			ra, err := resolveEmailAttr(x.AttributePath)
			if err != nil {
				return false
			}
			if ra.name == "primary" {
				b, ok := x.CompareValue.(bool)
				seed.Primary = b
				return ok
			}
			s, ok := compareString(x.CompareValue)
			if !ok {
				return false
			}
			if ra.name == "value" {
				seed.Value = s
			} else {
				seed.Type = s
			}
			return true
		}
		return false
	}
	return seed, walk(e)
}
