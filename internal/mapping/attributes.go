package mapping

import (
	"time"

	"github.com/elimity-com/scim"
)

// WebflowView is the Webflow side of a user as shown in responses under
// ExtensionSchemaURN. The server fills it from the Webflow user (or from
// its record when Webflow no longer has the user, e.g. after deactivation).
type WebflowView struct {
	UserID       string    // Webflow user id; "" if not (or no longer) in Webflow
	Status       string    // invited / verified / unverified
	AccessGroups []string  // access-group slugs
	InvitedOn    time.Time // zero = omitted
	LastLogin    time.Time // zero = omitted
}

// ToAttributes renders u (plus the Webflow view) as elimity resource
// attributes for a response. Empty core attributes are omitted, lists are
// never nil, password is never present (the User has none). id, externalId,
// schemas and meta are added by elimity from scim.Resource; externalId is
// also included here so that Project sees it.
func ToAttributes(u User, wf WebflowView) scim.ResourceAttributes {
	a := scim.ResourceAttributes{
		"userName": u.UserName,
		"active":   u.Active,
	}
	opt := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	opt("externalId", u.ExternalID)
	opt("displayName", u.DisplayName)
	opt("nickName", u.NickName)
	opt("title", u.Title)
	opt("preferredLanguage", u.PreferredLanguage)
	opt("locale", u.Locale)
	opt("timezone", u.Timezone)
	opt("userType", u.UserType)
	if !u.Name.IsZero() {
		n := map[string]any{}
		for _, f := range nameSubAttrs {
			if v := *nameField(&u.Name, f); v != "" {
				n[f] = v
			}
		}
		a["name"] = n
	}
	if len(u.Emails) > 0 {
		a["emails"] = multiValued(len(u.Emails), func(i int) (string, string, bool) {
			return u.Emails[i].Value, u.Emails[i].Type, u.Emails[i].Primary
		})
	}
	if len(u.PhoneNumbers) > 0 {
		a["phoneNumbers"] = multiValued(len(u.PhoneNumbers), func(i int) (string, string, bool) {
			return u.PhoneNumbers[i].Value, u.PhoneNumbers[i].Type, u.PhoneNumbers[i].Primary
		})
	}
	ext := map[string]any{}
	if wf.UserID != "" {
		ext[ExtAttrWebflowUserID] = wf.UserID
	}
	if wf.Status != "" {
		ext[ExtAttrStatus] = wf.Status
	}
	groups := make([]any, 0, len(wf.AccessGroups))
	for _, g := range wf.AccessGroups {
		groups = append(groups, g)
	}
	ext[ExtAttrAccessGroups] = groups
	if !wf.InvitedOn.IsZero() {
		ext[ExtAttrInvitedOn] = wf.InvitedOn.UTC().Format(time.RFC3339)
	}
	if !wf.LastLogin.IsZero() {
		ext[ExtAttrLastLogin] = wf.LastLogin.UTC().Format(time.RFC3339)
	}
	if len(u.Data) > 0 {
		d := make(map[string]any, len(u.Data))
		for k, v := range u.WebflowData() {
			if k == "name" {
				continue
			}
			d[k] = v
		}
		if len(d) > 0 {
			ext[ExtAttrData] = d
		}
	}
	a[ExtensionSchemaURN] = ext
	return a
}

// multiValued renders n {value, type, primary} items, omitting an empty
// type and a false primary, as emails and phoneNumbers both are.
func multiValued(n int, item func(i int) (value, typ string, primary bool)) []any {
	out := make([]any, 0, n)
	for i := range n {
		v, t, p := item(i)
		m := map[string]any{"value": v}
		if t != "" {
			m["type"] = t
		}
		if p {
			m["primary"] = true
		}
		out = append(out, m)
	}
	return out
}
