package webflowdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// User statuses, as Webflow reports them.
const (
	StatusInvited    = "invited"
	StatusVerified   = "verified"
	StatusUnverified = "unverified"
)

// Access-group types. Groups of type admin are assigned through the API or
// the Designer; ecommerce ones come from a purchase and must never be
// removed by the bridge.
const (
	AccessGroupAdmin     = "admin"
	AccessGroupEcommerce = "ecommerce"
)

// Well-known keys of UserData.
const (
	DataEmail                = "email"
	DataName                 = "name"
	DataAcceptPrivacy        = "accept-privacy"
	DataAcceptCommunications = "accept-communications"
)

// UserData is the flat data object of a Webflow user: email, name, the two
// consent flags and the site's custom fields keyed by field slug.
type UserData map[string]any

// Email returns data.email, or "".
func (d UserData) Email() string { s, _ := d[DataEmail].(string); return s }

// Name returns data.name, or "".
func (d UserData) Name() string { s, _ := d[DataName].(string); return s }

// AccessGroupRef is an access group as it appears on a user.
type AccessGroupRef struct {
	Slug string `json:"slug"`
	Type string `json:"type,omitempty"`
}

// UnmarshalJSON accepts both {"slug":..,"type":..} and a bare slug string
// (the seed's and the PATCH body's shape).
func (r *AccessGroupRef) UnmarshalJSON(b []byte) error { return r.decode(b, unmarshalWire) }

// decode is UnmarshalJSON with the JSON decoder as a parameter (the tests
// compare unmarshalWire with encoding/json's).
func (r *AccessGroupRef) decode(b []byte, unmarshal func([]byte, any) error) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*r = AccessGroupRef{}
		if s, ok := plainString(b); ok {
			r.Slug = s
			return nil
		}
		return unmarshal(b, &r.Slug)
	}
	type plain AccessGroupRef
	var p plain
	if err := unmarshal(b, &p); err != nil {
		return fmt.Errorf("access group: %w", err)
	}
	*r = AccessGroupRef(p)
	return nil
}

// User is a site Membership user (Data API v2, as last published).
type User struct {
	ID              string           `json:"id"`
	IsEmailVerified bool             `json:"isEmailVerified"`
	LastUpdated     Time             `json:"lastUpdated"`
	InvitedOn       Time             `json:"invitedOn"`
	CreatedOn       Time             `json:"createdOn"`
	LastLogin       Time             `json:"lastLogin"`
	Status          string           `json:"status"`
	AccessGroups    []AccessGroupRef `json:"accessGroups"`
	Data            UserData         `json:"data"`
}

// Email is the user's email (data.email).
func (u *User) Email() string { return u.Data.Email() }

// Slugs returns the slugs of the user's access groups, in order.
func (u *User) Slugs() []string {
	out := make([]string, len(u.AccessGroups))
	for i, g := range u.AccessGroups {
		out[i] = g.Slug
	}
	return out
}

// UnmarshalJSON decodes the reference's shape and tolerates older ones:
// the seed's top-level email/name/updatedOn, v1's _id/emailVerified, and
// the Fern spec's double-nested data.data.
func (u *User) UnmarshalJSON(b []byte) error { return u.decode(b, unmarshalWire) }

// decode is UnmarshalJSON with the JSON decoder as a parameter (the tests
// compare unmarshalWire with encoding/json's).
func (u *User) decode(b []byte, unmarshal func([]byte, any) error) error {
	type plain User
	var aux struct {
		plain
		LegacyID            string          `json:"_id"`
		LegacyEmailVerified *bool           `json:"emailVerified"`
		UpdatedOn           Time            `json:"updatedOn"`
		Email               string          `json:"email"`
		Name                string          `json:"name"`
		RawData             json.RawMessage `json:"data"`
	}
	if err := unmarshal(b, &aux); err != nil {
		return fmt.Errorf("webflow user: %w", err)
	}
	*u = User(aux.plain)
	u.Data = nil
	if len(aux.RawData) > 0 && !bytes.Equal(bytes.TrimSpace(aux.RawData), []byte("null")) {
		if err := unmarshal(aux.RawData, &u.Data); err != nil {
			return fmt.Errorf("webflow user data: %w", err)
		}
	}
	// Fern artifact: data: {data: {...}}.
	if inner, ok := u.Data["data"].(map[string]any); ok && u.Data.Email() == "" {
		flat := UserData{}
		for k, v := range u.Data {
			if k != "data" {
				flat[k] = v
			}
		}
		for k, v := range inner {
			flat[k] = v
		}
		u.Data = flat
	}
	if u.Data == nil {
		u.Data = UserData{}
	}
	if u.ID == "" {
		u.ID = aux.LegacyID
	}
	if aux.LegacyEmailVerified != nil && !u.IsEmailVerified {
		u.IsEmailVerified = *aux.LegacyEmailVerified
	}
	if u.LastUpdated.IsZero() {
		u.LastUpdated = aux.UpdatedOn
	}
	if _, ok := u.Data[DataEmail]; !ok && aux.Email != "" {
		u.Data[DataEmail] = aux.Email
	}
	if _, ok := u.Data[DataName]; !ok && aux.Name != "" {
		u.Data[DataName] = aux.Name
	}
	return nil
}

// Page is the paging envelope of list responses.
type Page struct {
	Count  int `json:"count"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

// UserList is the body of GET /sites/{site_id}/users.
type UserList struct {
	Page
	Users []User `json:"users"`
}

// AccessGroup is a site's access group. The API never could create, rename
// or delete them; they are made in the Designer.
type AccessGroup struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ShortID   string `json:"shortId"`
	Slug      string `json:"slug"`
	CreatedOn Time   `json:"createdOn"`
}

// AccessGroupList is the body of GET /sites/{site_id}/accessgroups.
type AccessGroupList struct {
	Page
	AccessGroups []AccessGroup `json:"accessGroups"`
}

// InviteUserRequest is the whole invite body: Webflow takes exactly these
// two fields, and no name.
type InviteUserRequest struct {
	Email        string   `json:"email"`
	AccessGroups []string `json:"accessGroups,omitempty"`
}

// UpdateUserRequest is the PATCH body. Webflow replaces the whole
// accessGroups list, so AccessGroups must be the complete desired set. A nil
// AccessGroups omits the key (groups unchanged); an empty non-nil slice
// sends [] (remove every group). data.email cannot be changed.
type UpdateUserRequest struct {
	Data         UserData
	AccessGroups []string
}

// MarshalJSON distinguishes nil (omit) from empty (send []) AccessGroups,
// and likewise nil from empty Data: omitzero omits only nil. The fields
// are in the order a map's sorted keys had (the body used to be one).
func (r UpdateUserRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(updateUserBody{AccessGroups: r.AccessGroups, Data: r.Data})
}

type updateUserBody struct {
	AccessGroups []string `json:"accessGroups,omitzero"`
	Data         UserData `json:"data,omitzero"`
}

// UnmarshalJSON decodes accessGroups as slug strings or {slug} objects.
func (r *UpdateUserRequest) UnmarshalJSON(b []byte) error {
	var aux struct {
		Data         UserData          `json:"data"`
		AccessGroups *[]AccessGroupRef `json:"accessGroups"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	r.Data = aux.Data
	r.AccessGroups = nil
	if aux.AccessGroups != nil {
		r.AccessGroups = make([]string, 0, len(*aux.AccessGroups))
		for _, g := range *aux.AccessGroups {
			r.AccessGroups = append(r.AccessGroups, g.Slug)
		}
	}
	return nil
}

// CustomDomain is one of a site's custom domains.
type CustomDomain struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	LastPublished Time   `json:"lastPublished"`
}

// Site is a Webflow site. Its name field is displayName.
type Site struct {
	ID                    string          `json:"id"`
	WorkspaceID           string          `json:"workspaceId"`
	CreatedOn             Time            `json:"createdOn"`
	DisplayName           string          `json:"displayName"`
	ShortName             string          `json:"shortName"`
	LastPublished         Time            `json:"lastPublished"`
	LastUpdated           Time            `json:"lastUpdated"`
	PreviewURL            string          `json:"previewUrl"`
	TimeZone              string          `json:"timeZone"`
	ParentFolderID        string          `json:"parentFolderId,omitempty"`
	CustomDomains         []CustomDomain  `json:"customDomains"`
	Locales               json.RawMessage `json:"locales,omitempty"`
	DataCollectionEnabled bool            `json:"dataCollectionEnabled"`
	DataCollectionType    string          `json:"dataCollectionType,omitempty"`
}

// SiteList is the body of GET /sites (no paging object).
type SiteList struct {
	Sites []Site `json:"sites"`
}

// AuthorizedTo lists what a token may reach.
type AuthorizedTo struct {
	SiteIDs      []string `json:"siteIds"`
	WorkspaceIDs []string `json:"workspaceIds"`
	UserIDs      []string `json:"userIds"`
}

// Authorization describes a token in an introspection.
type Authorization struct {
	ID           string       `json:"id"`
	CreatedOn    Time         `json:"createdOn"`
	LastUsed     Time         `json:"lastUsed"`
	GrantType    string       `json:"grantType"`
	RateLimit    int          `json:"rateLimit"`
	Scope        string       `json:"scope"` // comma-separated
	AuthorizedTo AuthorizedTo `json:"authorizedTo"`
}

// Scopes splits the comma-separated scope string.
func (a Authorization) Scopes() []string {
	var out []string
	for _, s := range strings.Split(a.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Application is the app a token belongs to.
type Application struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Homepage    string `json:"homepage"`
	DisplayName string `json:"displayName"`
}

// Introspection is the body of GET /token/introspect.
type Introspection struct {
	Authorization Authorization `json:"authorization"`
	Application   *Application  `json:"application,omitempty"`
}

// AuthorizedBy is the body of GET /token/authorized_by.
type AuthorizedBy struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Webhook trigger types relevant here. The user_account_* ones were removed
// with User Accounts on 2026-01-29.
const (
	TriggerUserAccountAdded   = "user_account_added"
	TriggerUserAccountUpdated = "user_account_updated"
	TriggerUserAccountDeleted = "user_account_deleted"
)

// Webhook is a webhook registration.
type Webhook struct {
	ID            string          `json:"id"`
	TriggerType   string          `json:"triggerType"`
	URL           string          `json:"url"`
	WorkspaceID   string          `json:"workspaceId"`
	SiteID        string          `json:"siteId"`
	Filter        json.RawMessage `json:"filter"`
	LastTriggered Time            `json:"lastTriggered"`
	CreatedOn     Time            `json:"createdOn"`
	SecretKey     string          `json:"secretKey,omitempty"`
}

// WebhookList is the body of GET /sites/{site_id}/webhooks.
type WebhookList struct {
	Webhooks   []Webhook `json:"webhooks"`
	Pagination struct {
		Limit  int `json:"limit"`
		Offset int `json:"offset"`
		Total  int `json:"total"`
	} `json:"pagination"`
}

// CreateWebhookRequest is the body of POST /sites/{site_id}/webhooks.
type CreateWebhookRequest struct {
	TriggerType string          `json:"triggerType"`
	URL         string          `json:"url"`
	Filter      json.RawMessage `json:"filter,omitempty"`
}

// WebhookEvent is the envelope Webflow POSTs to a webhook URL.
type WebhookEvent struct {
	TriggerType string          `json:"triggerType"`
	Payload     json.RawMessage `json:"payload"`
}

// ErrorBody is Webflow's error envelope.
type ErrorBody struct {
	Code              string            `json:"code"`
	Message           string            `json:"message"`
	ExternalReference *string           `json:"externalReference"`
	Details           []json.RawMessage `json:"details"`
}
