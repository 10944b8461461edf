package webflowsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
	yaml "go.yaml.in/yaml/v3"
)

// Seed is the initial state of a simulator: a workspace, its tokens, its
// sites with their access groups and users, and the native-SCIM tokens.
// The file form (YAML or JSON) uses the json field names below.
type Seed struct {
	Workspace SeedWorkspace `json:"workspace"`
	Tokens    []SeedToken   `json:"tokens"`
	SCIM      SeedSCIM      `json:"scim"`
	Sites     []SeedSite    `json:"sites"`
}

// SeedWorkspace is the one workspace every seeded site belongs to.
type SeedWorkspace struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Plan is the workspace plan; the Enterprise APIs answer 403
	// not_enterprise_plan_workspace unless it is enterprise (the default).
	Plan string `json:"plan,omitempty"`
	// SeatModel is workspace (default) or legacy (no roles.site on
	// WorkspaceMember).
	SeatModel   string           `json:"seatModel,omitempty"`
	Seats       *Seats           `json:"seats,omitempty"`
	CustomRoles []SeedCustomRole `json:"customRoles,omitempty"`
	Members     []SeedMember     `json:"members,omitempty"`
	Invites     []SeedInvite     `json:"invites,omitempty"`
}

// SeedToken is a Data API token.
type SeedToken struct {
	Label  string   `json:"label"`
	Token  string   `json:"token"`
	Scopes []string `json:"scopes"`
	Sites  []string `json:"sites"`
	// RateLimitPerMinute overrides Options.RateLimitPerMinute for this
	// token; nil keeps the default, 0 means unlimited.
	RateLimitPerMinute *int `json:"rateLimitPerMinute,omitempty"`
	// ClientSecret marks the token as an OAuth (Data Client) app token:
	// webhooks it creates are signed with this secret and carry no
	// secretKey, as Webflow does for apps.
	ClientSecret string `json:"clientSecret,omitempty"`
	// Workspace marks a workspace API token (or a workspace-level Data
	// Client app): it may call the Workspace Members and Site Access APIs,
	// on every site of the workspace.
	Workspace    bool                      `json:"workspace,omitempty"`
	GrantType    string                    `json:"grantType,omitempty"` // introspection; default authorization_code
	Application  *webflowdata.Application  `json:"application,omitempty"`
	AuthorizedBy *webflowdata.AuthorizedBy `json:"authorizedBy,omitempty"`
}

// SeedSCIM configures the native SCIM endpoint.
type SeedSCIM struct {
	Tokens []string       `json:"tokens"`
	Users  []SeedSCIMUser `json:"users,omitempty"`
}

// SeedSCIMUser is a workspace collaborator already provisioned by SCIM.
type SeedSCIMUser struct {
	UserName   string `json:"userName"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Email      string `json:"email,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	Active     *bool  `json:"active,omitempty"`
}

// SeedSite is a Webflow site.
type SeedSite struct {
	ID             string            `json:"id,omitempty"`
	DisplayName    string            `json:"displayName"`
	ShortName      string            `json:"shortName,omitempty"`
	TimeZone       string            `json:"timeZone,omitempty"`
	PreviewURL     string            `json:"previewUrl,omitempty"`
	ParentFolderID string            `json:"parentFolderId,omitempty"`
	CustomDomains  []string          `json:"customDomains,omitempty"`
	CreatedOn      webflowdata.Time  `json:"createdOn,omitempty"`
	LastPublished  webflowdata.Time  `json:"lastPublished,omitempty"`
	AccessGroups   []SeedAccessGroup `json:"accessGroups,omitempty"`
	Users          []SeedUser        `json:"users,omitempty"`
	// Access is the site's Site Access default: restricted (default:
	// only granted members, owners and admins) or open (every member and
	// reviewer, with their default site role).
	Access string `json:"access,omitempty"`
}

// SeedAccessGroup is an access group; the API never could create them, so
// they only come from the seed (or AddAccessGroup).
type SeedAccessGroup struct {
	ID        string           `json:"id,omitempty"`
	Name      string           `json:"name"`
	Slug      string           `json:"slug"`
	ShortID   string           `json:"shortId,omitempty"`
	CreatedOn webflowdata.Time `json:"createdOn,omitempty"`
}

// SeedUser is a site Membership user. AccessGroups may name type
// ecommerce, which only seeding can produce; the default type is admin.
type SeedUser struct {
	ID              string                       `json:"id,omitempty"`
	Email           string                       `json:"email"`
	Name            string                       `json:"name,omitempty"`
	Status          string                       `json:"status,omitempty"` // default verified
	IsEmailVerified *bool                        `json:"isEmailVerified,omitempty"`
	AccessGroups    []webflowdata.AccessGroupRef `json:"accessGroups,omitempty"`
	Data            map[string]any               `json:"data,omitempty"`
	CreatedOn       webflowdata.Time             `json:"createdOn,omitempty"`
	LastLogin       webflowdata.Time             `json:"lastLogin,omitempty"`
}

// LoadSeedFile reads a seed in YAML or JSON (JSON is YAML). Unknown keys
// are errors, so a typo in a fixture fails loudly instead of silently.
func LoadSeedFile(path string) (Seed, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("read seed: %w", err)
	}
	return ParseSeed(raw)
}

// ParseSeed decodes a seed document in YAML or JSON. YAML is converted to
// JSON first so that one set of (json) field names and the shared wire
// types' decoders apply to both forms.
func ParseSeed(raw []byte) (Seed, error) {
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Seed{}, fmt.Errorf("parse seed: %w", err)
	}
	j, err := json.Marshal(jsonable(doc))
	if err != nil {
		return Seed{}, fmt.Errorf("convert seed: %w", err)
	}
	var seed Seed
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return Seed{}, fmt.Errorf("decode seed: %w", err)
	}
	return seed, nil
}

// jsonable turns YAML's map[any]any into map[string]any, recursively.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	default:
		return v
	}
}

// Demo fixtures: public, documented values, safe to print.
const (
	DemoWorkspaceID  = "42e63fc8c9a982ac9b8b7440"
	DemoSiteID       = "580e63e98c9a982ac9b8b741"
	DemoOtherSiteID  = "580e63e98c9a982ac9b8b742"
	DemoSiteToken    = "wf-demo-site-token"
	DemoReadToken    = "wf-demo-read-token"
	DemoOAuthToken   = "wf-demo-oauth-token"
	DemoClientSecret = "wf-demo-client-secret"
	DemoSCIMToken    = "wf-demo-scim-token"
	// DemoWorkspaceToken is a workspace API token with the Enterprise
	// scopes (workspace_members:read/write, site_access:read/write).
	DemoWorkspaceToken = "wf-demo-workspace-token"
	// DemoCustomRoleID is the demo workspace's custom Site Role "SEO
	// specialist" (client-eligible).
	DemoCustomRoleID = "72fa5e47f6b8256f4641c5bd"
)

// Demo workspace members and the pending invite (ids as in Webflow's
// examples where it has them).
const (
	DemoOwnerMemberID    = "62fa5e47f6b8256f4641c5b1" // owner@example.com, owner, managed by native SCIM
	DemoAdminMemberID    = "62fa5e47f6b8256f4641c5be" // priya.nagata@example.com, admin
	DemoDesignerMemberID = "62fa5e47f6b8256f4641c5bd" // waylon.dalton@example.com, member/designer, designer on the demo site
	DemoGuestMemberID    = "62fa5e47f6b8256f4641c5c1" // gus@agency.example, guest, site_manager on the demo site
	DemoClientMemberID   = "62fa5e47f6b8256f4641c5c2" // cleo@client.example, client, content_editor on the demo site
	DemoReviewerMemberID = "62fa5e47f6b8256f4641c5c3" // rita.reviewer@example.com, reviewer
	DemoInviteID         = "63fa5e47f6b8256f4641c5bf" // sam.okafor@example.com, member/designer, pending
)

// DemoSeed is a small demo workspace: site DemoSiteID with access groups
// members, premium, staff and the ecommerce group customers, a second site
// no demo site token may reach, a full site token (DemoSiteToken), a
// read-only token (DemoReadToken), an OAuth app token (DemoOAuthToken,
// client secret DemoClientSecret), a native-SCIM token (DemoSCIMToken), a
// few users, and the Enterprise side: a workspace token
// (DemoWorkspaceToken), one member of each role (the owner is the
// native-SCIM user, so SCIM-managed), a pending invite and a custom Site
// Role (DemoCustomRoleID).
func DemoSeed() Seed {
	all := []string{"sites:read", "sites:write", "users:read", "users:write", "authorized_user:read"}
	t := func(s string) webflowdata.Time {
		v, _ := time.Parse(time.RFC3339Nano, s)
		return webflowdata.NewTime(v)
	}
	yes := true
	entScopes := []string{"sites:read", "workspace_members:read", "workspace_members:write", "site_access:read", "site_access:write"}
	return Seed{
		Workspace: SeedWorkspace{
			ID: DemoWorkspaceID, Name: "Demo Workspace",
			CustomRoles: []SeedCustomRole{{ID: DemoCustomRoleID, Name: "SEO specialist", ClientEligible: true}},
			Members: []SeedMember{
				{ID: DemoOwnerMemberID, Email: "owner@example.com", FirstName: "Olive", LastName: "Owner", Role: "owner", SiteRole: "site_manager", AddedOn: t("2023-01-01T09:00:00.000Z")},
				{ID: DemoAdminMemberID, Email: "priya.nagata@example.com", FirstName: "Priya", LastName: "Nagata", Role: "admin", SiteRole: "site_manager", AddedOn: t("2024-05-02T09:00:00.000Z")},
				{ID: DemoDesignerMemberID, Email: "waylon.dalton@example.com", FirstName: "Waylon", LastName: "Dalton", Role: "member", SiteRole: "designer",
					AddedOn: t("2026-08-03T18:24:00.000Z"), Sites: []SeedSiteGrant{{SiteID: DemoSiteID, SiteRole: "designer"}}},
				{ID: DemoGuestMemberID, Email: "gus@agency.example", FirstName: "Gus", LastName: "Guest", Role: "guest",
					Sites: []SeedSiteGrant{{SiteID: DemoSiteID, SiteRole: "site_manager"}}},
				{ID: DemoClientMemberID, Email: "cleo@client.example", FirstName: "Cleo", LastName: "Client", Role: "client", SiteRole: "content_editor",
					Sites: []SeedSiteGrant{{SiteID: DemoSiteID, SiteRole: "content_editor"}}},
				{ID: DemoReviewerMemberID, Email: "rita.reviewer@example.com", FirstName: "Rita", LastName: "Reviewer", Role: "reviewer", SiteRole: "reviewer"},
			},
			Invites: []SeedInvite{{ID: DemoInviteID, Email: "sam.okafor@example.com", Role: "member", DefaultSiteRole: "designer", CreatedOn: t("2026-08-03T18:24:00.000Z")}},
		},
		Tokens: []SeedToken{
			{Label: "site-token", Token: DemoSiteToken, Scopes: all, Sites: []string{DemoSiteID}, GrantType: "site_token"},
			{Label: "read-token", Token: DemoReadToken, Scopes: []string{"sites:read", "users:read"}, Sites: []string{DemoSiteID}, GrantType: "site_token"},
			{
				Label: "oauth-app", Token: DemoOAuthToken, Scopes: all, Sites: []string{DemoSiteID},
				ClientSecret: DemoClientSecret,
				Application:  &webflowdata.Application{ID: "55131cd036c09f7d07883dfc", Description: "Webflow SCIM bridge (demo)", Homepage: "https://example.com", DisplayName: "SCIM Bridge Demo"},
			},
			{Label: "workspace-token", Token: DemoWorkspaceToken, Scopes: entScopes, Sites: []string{DemoSiteID, DemoOtherSiteID}, GrantType: "workspace_token", Workspace: true},
		},
		SCIM: SeedSCIM{
			Tokens: []string{DemoSCIMToken},
			Users:  []SeedSCIMUser{{UserName: "owner@example.com", GivenName: "Olive", FamilyName: "Owner", Email: "owner@example.com", Active: &yes}},
		},
		Sites: []SeedSite{
			{
				ID: DemoSiteID, DisplayName: "Demo Site", ShortName: "demo-site", TimeZone: "Pacific/Auckland",
				ParentFolderID: "6390c49774a71f0e3c1a08ee", CustomDomains: []string{"demo.example.com"},
				CreatedOn: t("2023-01-10T10:43:12.936Z"), LastPublished: t("2024-04-02T12:42:00.000Z"),
				AccessGroups: []SeedAccessGroup{
					{Name: "Members", Slug: "members", ShortID: "mb", CreatedOn: t("2023-01-11T09:00:00.000Z")},
					{Name: "Premium", Slug: "premium", ShortID: "pr", CreatedOn: t("2023-01-11T09:01:00.000Z")},
					{Name: "Staff", Slug: "staff", ShortID: "st", CreatedOn: t("2023-01-11T09:02:00.000Z")},
					{Name: "Customers", Slug: "customers", ShortID: "cu", CreatedOn: t("2023-01-11T09:03:00.000Z")},
				},
				Users: []SeedUser{
					{Email: "mike@example.com", Name: "Michael", Status: webflowdata.StatusVerified,
						AccessGroups: []webflowdata.AccessGroupRef{{Slug: "members", Type: "admin"}, {Slug: "customers", Type: "ecommerce"}},
						Data:         map[string]any{"country": "NZ", "accept-privacy": true},
						CreatedOn:    t("2023-01-10T10:43:12.936Z"), LastLogin: t("2023-12-27T23:29:33.668Z")},
					{Email: "ada@example.com", Name: "Ada Lovelace", Status: webflowdata.StatusVerified,
						AccessGroups: []webflowdata.AccessGroupRef{{Slug: "staff"}},
						CreatedOn:    t("2023-02-01T08:00:00.000Z")},
					{Email: "pending@example.com", Status: webflowdata.StatusInvited,
						AccessGroups: []webflowdata.AccessGroupRef{{Slug: "premium"}},
						CreatedOn:    t("2023-03-01T08:00:00.000Z")},
				},
			},
			{ID: DemoOtherSiteID, DisplayName: "Other Site", ShortName: "other-site", ParentFolderID: "6390c49774a71f0e3c1a08ee"},
		},
	}
}

// LoadSeed adds seed to the simulator's state. Sites must be new; tokens
// replace tokens with the same value. It validates everything before
// changing anything, so a bad seed leaves the simulator as it was.
func (s *Simulator) LoadSeed(seed Seed) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()

	ws := s.workspace
	if seed.Workspace.ID != "" {
		ws.ID = seed.Workspace.ID
	}
	if seed.Workspace.Name != "" {
		ws.Name = seed.Workspace.Name
	}
	newSites := make([]*siteState, 0, len(seed.Sites))
	ids := map[string]bool{}
	access := map[string]string{} // site -> its Site Access default
	for i, ss := range seed.Sites {
		if ss.ID == "" {
			ss.ID = s.ids.objectID(now)
		}
		if !isObjectID(ss.ID) {
			return fmt.Errorf("seed site %d: id %q is not a 24-hex ObjectId", i, ss.ID)
		}
		if s.sites[ss.ID] != nil || ids[ss.ID] {
			return fmt.Errorf("seed site %s: already exists", ss.ID)
		}
		ids[ss.ID] = true
		access[ss.ID] = ss.Access
		st, err := s.buildSite(ws.ID, ss, now)
		if err != nil {
			return fmt.Errorf("seed site %s: %w", ss.ID, err)
		}
		newSites = append(newSites, st)
	}
	newTokens := make([]*token, 0, len(seed.Tokens))
	for i, st := range seed.Tokens {
		if st.Token == "" || st.Label == "" {
			return fmt.Errorf("seed token %d: label and token are required", i)
		}
		t := &token{
			id: s.ids.objectID(now), label: st.Label, value: st.Token,
			scopes: map[string]bool{}, sites: map[string]bool{},
			clientSecret: st.ClientSecret, grantType: st.GrantType, app: st.Application, workspace: st.Workspace,
			createdOn: now, seedLimit: st.RateLimitPerMinute, rl: &tokenLimit{},
		}
		if t.grantType == "" {
			t.grantType = "authorization_code"
		}
		for _, sc := range st.Scopes {
			sc = strings.TrimSpace(sc)
			t.scopes[sc] = true
			t.scopeList = append(t.scopeList, sc)
		}
		for _, id := range st.Sites {
			if s.sites[id] == nil && !ids[id] {
				return fmt.Errorf("seed token %q: unknown site %s", st.Label, id)
			}
			t.sites[id] = true
			t.siteList = append(t.siteList, id)
		}
		if st.AuthorizedBy != nil {
			t.user = *st.AuthorizedBy
		} else {
			t.user = webflowdata.AuthorizedBy{ID: s.ids.objectID(now), Email: "owner@example.com", FirstName: "Demo", LastName: "Owner"}
		}
		limit := int(s.limiter.def.Load())
		if st.RateLimitPerMinute != nil {
			limit = *st.RateLimitPerMinute
		}
		t.rl.limit.Store(int64(limit))
		newTokens = append(newTokens, t)
	}
	plan, err := s.planEnterpriseSeed(seed.Workspace, access, func(id string) bool { return s.sites[id] != nil || ids[id] }, now)
	if err != nil {
		return err
	}
	scimUsers := make([]*scimUser, 0, len(seed.SCIM.Users))
	for i, u := range seed.SCIM.Users {
		if u.UserName == "" {
			return fmt.Errorf("seed scim user %d: userName is required", i)
		}
		scimUsers = append(scimUsers, s.scim.fromSeed(s.ids.uuid(), u, now))
	}

	// Commit.
	s.workspace = ws
	for _, st := range newSites {
		st.site.WorkspaceID = ws.ID
		st.encode()
		s.sites[st.site.ID] = st
		s.siteOrder = append(s.siteOrder, st.site.ID)
	}
	for _, t := range newTokens {
		s.tokens[t.value] = t
	}
	for _, tk := range seed.SCIM.Tokens {
		if tk != "" {
			s.scimTok[tk] = true
		}
	}
	s.commitEnterpriseSeed(plan)
	for _, u := range scimUsers {
		if err := s.scim.insert(u); err != nil {
			return fmt.Errorf("seed scim user %s: %w", u.UserName(), err)
		}
		s.syncSCIMMemberLocked(u.id, now)
	}
	return nil
}
