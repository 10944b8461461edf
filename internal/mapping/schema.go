package mapping

import (
	"regexp"
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs the bridge understands.
const (
	// ExtensionSchemaURN is the bridge's own User extension: the Webflow
	// view of the user (read-only) plus the read-write Webflow data.
	ExtensionSchemaURN = "urn:ietf:params:scim:schemas:extension:webflow:2.0:User"
	// EnterpriseSchemaURN is RFC 7643's enterprise extension. It is
	// accepted (so Entra's requests validate) and ignored.
	EnterpriseSchemaURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// CoreUserSchemaURN is the core User schema.
	CoreUserSchemaURN = "urn:ietf:params:scim:schemas:core:2.0:User"
)

// Attribute names of ExtensionSchemaURN.
const (
	ExtAttrWebflowUserID = "webflowUserId"
	ExtAttrStatus        = "status"
	ExtAttrAccessGroups  = "accessGroups"
	ExtAttrInvitedOn     = "invitedOn"
	ExtAttrLastLogin     = "lastLogin"
	ExtAttrData          = "data"
)

// attrNameRE is both elimity's attribute-name rule (schema construction
// panics otherwise) and, minus '$', what the scim2 path parser accepts.
var attrNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// ValidCustomFieldName reports whether a Webflow custom field slug can be
// exposed as a sub-attribute of the extension's data attribute. Slugs that
// start with a digit or contain other characters cannot be expressed in a
// SCIM path, and email/name are not custom fields (email is immutable and
// name is derived from the core attributes).
func ValidCustomFieldName(name string) bool {
	if !attrNameRE.MatchString(name) {
		return false
	}
	switch strings.ToLower(name) {
	case "email", "name", "accept-privacy", "accept-communications":
		return false
	}
	return true
}

// UserExtensionSchema returns the bridge's User extension schema.
//
// elimity only supports one level of complex attributes whose
// sub-attributes have fixed names, and it silently DROPS unknown sub-keys of
// a complex value on POST/PUT and rejects unknown sub-attribute paths on
// PATCH (see TestProbeElimityUnknownExtensionSubKeys). Webflow's data object
// is open-ended (custom fields keyed by slug), so the caller passes the
// site's custom field slugs; each valid one becomes a string sub-attribute
// of data. Invalid or reserved slugs (see ValidCustomFieldName) and
// duplicates (case-insensitive) are skipped rather than panicking.
//
// Build it once per site: elimity schemas are comparatively expensive.
func UserExtensionSchema(customFields ...string) schema.Schema {
	ro := schema.AttributeMutabilityReadOnly()
	subs := []schema.SimpleParams{
		schema.SimpleBooleanParams(schema.BooleanParams{
			Name:        "accept-privacy",
			Description: optional.NewString("Webflow data.accept-privacy consent flag."),
			Mutability:  schema.AttributeMutabilityReadWrite(),
			Returned:    schema.AttributeReturnedDefault(),
		}),
		schema.SimpleBooleanParams(schema.BooleanParams{
			Name:        "accept-communications",
			Description: optional.NewString("Webflow data.accept-communications consent flag."),
			Mutability:  schema.AttributeMutabilityReadWrite(),
			Returned:    schema.AttributeReturnedDefault(),
		}),
	}
	seen := map[string]bool{"accept-privacy": true, "accept-communications": true}
	for _, f := range customFields {
		if !ValidCustomFieldName(f) || seen[strings.ToLower(f)] {
			continue
		}
		seen[strings.ToLower(f)] = true
		subs = append(subs, schema.SimpleStringParams(schema.StringParams{
			Name:        f,
			Description: optional.NewString("Webflow custom user field " + f + "."),
			Mutability:  schema.AttributeMutabilityReadWrite(),
			Returned:    schema.AttributeReturnedDefault(),
		}))
	}
	str := func(name, desc string, canon []string, multi bool) schema.CoreAttribute {
		return schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			Name:            name,
			Description:     optional.NewString(desc),
			CanonicalValues: canon,
			CaseExact:       true,
			MultiValued:     multi,
			Mutability:      ro,
			Returned:        schema.AttributeReturnedDefault(),
		}))
	}
	dt := func(name, desc string) schema.CoreAttribute {
		return schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{
			Name:        name,
			Description: optional.NewString(desc),
			Mutability:  ro,
			Returned:    schema.AttributeReturnedDefault(),
		}))
	}
	return schema.Schema{
		ID:          ExtensionSchemaURN,
		Name:        optional.NewString("WebflowUser"),
		Description: optional.NewString("The Webflow Membership user behind this SCIM User."),
		Attributes: schema.Attributes{
			str(ExtAttrWebflowUserID, "The Webflow user id.", nil, false),
			str(ExtAttrStatus, "Webflow user status.", []string{"invited", "verified", "unverified"}, false),
			str(ExtAttrAccessGroups, "Slugs of the Webflow access groups the user has.", nil, true),
			dt(ExtAttrInvitedOn, "When Webflow sent the invitation."),
			dt(ExtAttrLastLogin, "Last Webflow login."),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:          ExtAttrData,
				Description:   optional.NewString("Writable Webflow user data: consent flags and custom fields. data.email and data.name are derived from the core attributes."),
				Mutability:    schema.AttributeMutabilityReadWrite(),
				Returned:      schema.AttributeReturnedDefault(),
				SubAttributes: subs,
			}),
		},
	}
}

// coreUserAttrs lists the core User schema's top-level attributes plus the
// common externalId (what elimity validates a PATCH path against).
var coreUserAttrs = []string{
	"userName", "name", "displayName", "nickName", "profileUrl", "title",
	"userType", "preferredLanguage", "locale", "timezone", "active",
	"password", "emails", "phoneNumbers", "ims", "photos", "addresses",
	"groups", "entitlements", "roles", "x509Certificates", "externalId",
}

// enterpriseUserAttrs lists the enterprise extension's attributes.
var enterpriseUserAttrs = []string{
	"employeeNumber", "costCenter", "organization", "division", "department", "manager",
}

// extUserAttrs lists our extension's attributes.
var extUserAttrs = []string{
	ExtAttrWebflowUserID, ExtAttrStatus, ExtAttrAccessGroups, ExtAttrInvitedOn, ExtAttrLastLogin, ExtAttrData,
}

// droppedUserAttrs are attributes the PATCH normaliser removes even though
// the schema knows them: the bridge has nowhere to put them and their
// IdP shapes often fail elimity's validation (manager, B4) or they are
// secrets (password) or are managed elsewhere (groups via /Groups).
var droppedUserAttrs = []string{"manager", "password", "roles", "addresses", "groups"}

// nameSubAttrs are the sub-attributes of the core name attribute.
var nameSubAttrs = []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}

// emailSubAttrs are the sub-attributes of emails elements the bridge keeps.
var emailSubAttrs = []string{"value", "type", "primary", "display"}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func canonicalFold(list []string, s string) (string, bool) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, true
		}
	}
	return s, false
}
