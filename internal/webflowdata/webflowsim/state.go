package webflowsim

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// siteState is one site with its access groups, users and webhooks.
// Users are kept in creation order (the default list order) and indexed by
// id and by lower-cased email (Webflow's uniqueness rule).
type siteState struct {
	site   webflowdata.Site
	enc    []byte
	groups []*webflowdata.AccessGroup
	bySlug map[string]*webflowdata.AccessGroup
	users  map[string]*userRec
	order  []*userRec
	emails map[string]*userRec
	hooks  []*webhookState
}

// userRec is a user plus its JSON, re-encoded on every change so reads
// (the hot path) only copy bytes.
type userRec struct {
	u   webflowdata.User
	enc []byte
}

func (r *userRec) encode() {
	b, err := json.Marshal(&r.u)
	if err != nil {
		// A user holds only JSON values decoded from JSON or set here.
		b = []byte(`{}`)
	}
	r.enc = b
}

func (st *siteState) encode() {
	b, _ := json.Marshal(&st.site)
	st.enc = b
}

// clone returns a deep-enough copy of the user for callers outside the lock.
func (r *userRec) clone() webflowdata.User {
	u := r.u
	// Never nil: Webflow writes "accessGroups": [] for a user without
	// groups, and a PATCH encodes this copy.
	u.AccessGroups = append(make([]webflowdata.AccessGroupRef, 0, len(r.u.AccessGroups)), r.u.AccessGroups...)
	u.Data = make(webflowdata.UserData, len(r.u.Data))
	for k, v := range r.u.Data {
		u.Data[k] = v
	}
	return u
}

// defaultLocales mirrors the locales object of a real single-locale site.
var defaultLocales = json.RawMessage(`{"primary":{"id":"653fd9af6a07fc9cfd7a5e57","cmsLocaleId":"653ad57de882f528b32e810e","enabled":false,"displayName":"English (United States)","redirect":true,"subdirectory":"","tag":"en-US"},"secondary":[]}`)

func (s *Simulator) buildSite(workspaceID string, ss SeedSite, now time.Time) (*siteState, error) {
	created := ss.CreatedOn
	if created.IsZero() {
		created = webflowdata.NewTime(now)
	}
	short := ss.ShortName
	if short == "" {
		short = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(ss.DisplayName), " ", "-"))
	}
	tz := ss.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	preview := ss.PreviewURL
	if preview == "" {
		preview = "https://screenshots.webflow.com/sites/" + ss.ID + "/preview.png"
	}
	st := &siteState{
		site: webflowdata.Site{
			ID: ss.ID, WorkspaceID: workspaceID, CreatedOn: created,
			DisplayName: ss.DisplayName, ShortName: short,
			LastPublished: ss.LastPublished, LastUpdated: created,
			PreviewURL: preview, TimeZone: tz, ParentFolderID: ss.ParentFolderID,
			CustomDomains: []webflowdata.CustomDomain{}, Locales: defaultLocales,
			DataCollectionEnabled: true, DataCollectionType: "always",
		},
		bySlug: map[string]*webflowdata.AccessGroup{},
		users:  map[string]*userRec{},
		emails: map[string]*userRec{},
	}
	for _, d := range ss.CustomDomains {
		st.site.CustomDomains = append(st.site.CustomDomains, webflowdata.CustomDomain{ID: s.ids.objectID(now), URL: d, LastPublished: ss.LastPublished})
	}
	for _, g := range ss.AccessGroups {
		if _, err := st.addGroup(s.ids, g, now); err != nil {
			return nil, err
		}
	}
	for _, u := range ss.Users {
		if _, err := s.addSeedUser(st, u, now); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *siteState) addGroup(ids *idGen, g SeedAccessGroup, now time.Time) (webflowdata.AccessGroup, error) {
	if g.Slug == "" {
		return webflowdata.AccessGroup{}, fmt.Errorf("access group %q: slug is required", g.Name)
	}
	if st.bySlug[g.Slug] != nil {
		return webflowdata.AccessGroup{}, fmt.Errorf("access group %q: duplicate slug", g.Slug)
	}
	ag := &webflowdata.AccessGroup{ID: g.ID, Name: g.Name, ShortID: g.ShortID, Slug: g.Slug, CreatedOn: g.CreatedOn}
	if ag.ID == "" {
		ag.ID = ids.objectID(now)
	}
	if ag.Name == "" {
		ag.Name = g.Slug
	}
	if ag.ShortID == "" {
		ag.ShortID = shortIDFor(g.Slug)
	}
	if ag.CreatedOn.IsZero() {
		ag.CreatedOn = webflowdata.NewTime(now)
	}
	st.groups = append(st.groups, ag)
	st.bySlug[ag.Slug] = ag
	return *ag, nil
}

// shortIDFor derives a short id the way Designer-made ones look: initials.
func shortIDFor(slug string) string {
	var b strings.Builder
	for _, p := range strings.Split(slug, "-") {
		if p != "" {
			b.WriteByte(p[0])
		}
	}
	if b.Len() < 2 && len(slug) >= 2 {
		return slug[:2]
	}
	return b.String()
}

// validEmail is Webflow's (approximate) rule: a bare addr-spec with a
// dotted domain.
func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(e, '@')
	return at > 0 && strings.Contains(e[at+1:], ".")
}

// addSeedUser inserts a preloaded user (seed or AddUser): any status, any
// group types, no invitation email, no webhook.
func (s *Simulator) addSeedUser(st *siteState, su SeedUser, now time.Time) (*userRec, error) {
	if !validEmail(su.Email) {
		return nil, fmt.Errorf("user %q: invalid email", su.Email)
	}
	key := strings.ToLower(su.Email)
	if st.emails[key] != nil {
		return nil, fmt.Errorf("user %q: duplicate email", su.Email)
	}
	if len(st.order) >= s.opts.MaxUsersPerSite {
		return nil, fmt.Errorf("user %q: site has %d users (limit)", su.Email, len(st.order))
	}
	id := su.ID
	if id == "" {
		id = s.ids.objectID(now)
	}
	if !isObjectID(id) || st.users[id] != nil {
		return nil, fmt.Errorf("user %q: bad or duplicate id %q", su.Email, id)
	}
	status := su.Status
	if status == "" {
		status = webflowdata.StatusVerified
	}
	switch status {
	case webflowdata.StatusInvited, webflowdata.StatusVerified, webflowdata.StatusUnverified:
	default:
		return nil, fmt.Errorf("user %q: unknown status %q", su.Email, status)
	}
	verified := status == webflowdata.StatusVerified
	if su.IsEmailVerified != nil {
		verified = *su.IsEmailVerified
	}
	created := su.CreatedOn
	if created.IsZero() {
		created = webflowdata.NewTime(now)
	}
	u := webflowdata.User{
		ID: id, IsEmailVerified: verified, LastUpdated: created, CreatedOn: created,
		LastLogin: su.LastLogin, Status: status, AccessGroups: []webflowdata.AccessGroupRef{},
		Data: webflowdata.UserData{
			webflowdata.DataAcceptPrivacy:        false,
			webflowdata.DataAcceptCommunications: false,
		},
	}
	if status == webflowdata.StatusInvited {
		u.InvitedOn = created
	}
	for k, v := range su.Data {
		u.Data[k] = v
	}
	u.Data[webflowdata.DataEmail] = su.Email
	if su.Name != "" {
		u.Data[webflowdata.DataName] = su.Name
	}
	for _, g := range su.AccessGroups {
		if st.bySlug[g.Slug] == nil {
			return nil, fmt.Errorf("user %q: unknown access group %q", su.Email, g.Slug)
		}
		typ := g.Type
		if typ == "" {
			typ = webflowdata.AccessGroupAdmin
		}
		if typ != webflowdata.AccessGroupAdmin && typ != webflowdata.AccessGroupEcommerce {
			return nil, fmt.Errorf("user %q: access group type %q", su.Email, typ)
		}
		u.AccessGroups = append(u.AccessGroups, webflowdata.AccessGroupRef{Slug: g.Slug, Type: typ})
	}
	rec := &userRec{u: u}
	rec.encode()
	st.insert(rec)
	return rec, nil
}

func (st *siteState) insert(rec *userRec) {
	st.users[rec.u.ID] = rec
	st.emails[strings.ToLower(rec.u.Email())] = rec
	st.order = append(st.order, rec)
}

func (st *siteState) remove(rec *userRec) {
	delete(st.users, rec.u.ID)
	delete(st.emails, strings.ToLower(rec.u.Email()))
	for i, r := range st.order {
		if r == rec {
			st.order = append(st.order[:i], st.order[i+1:]...)
			break
		}
	}
}

// AddUser preloads a user without an invitation email, webhook or rate
// limit: benchmarks and fixtures need thousands of users fast.
func (s *Simulator) AddUser(siteID string, u SeedUser) (webflowdata.User, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[siteID]
	if st == nil {
		return webflowdata.User{}, fmt.Errorf("add user: unknown site %s", siteID)
	}
	rec, err := s.addSeedUser(st, u, now)
	if err != nil {
		return webflowdata.User{}, fmt.Errorf("add user: %w", err)
	}
	return rec.clone(), nil
}

// AddAccessGroup adds an access group, as a Designer user would.
func (s *Simulator) AddAccessGroup(siteID string, g SeedAccessGroup) (webflowdata.AccessGroup, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sites[siteID]
	if st == nil {
		return webflowdata.AccessGroup{}, fmt.Errorf("add access group: unknown site %s", siteID)
	}
	ag, err := st.addGroup(s.ids, g, now)
	if err != nil {
		return webflowdata.AccessGroup{}, fmt.Errorf("add access group: %w", err)
	}
	return ag, nil
}

// Users returns a site's users in creation order.
func (s *Simulator) Users(siteID string) []webflowdata.User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.sites[siteID]
	if st == nil {
		return nil
	}
	out := make([]webflowdata.User, 0, len(st.order))
	for _, r := range st.order {
		out = append(out, r.clone())
	}
	return out
}

// User returns one user.
func (s *Simulator) User(siteID, userID string) (webflowdata.User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.sites[siteID]
	if st == nil {
		return webflowdata.User{}, false
	}
	r := st.users[userID]
	if r == nil {
		return webflowdata.User{}, false
	}
	return r.clone(), true
}

// AccessGroups returns a site's access groups.
func (s *Simulator) AccessGroups(siteID string) []webflowdata.AccessGroup {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.sites[siteID]
	if st == nil {
		return nil
	}
	out := make([]webflowdata.AccessGroup, 0, len(st.groups))
	for _, g := range st.groups {
		out = append(out, *g)
	}
	return out
}

// VerifyUser moves an invited user to verified, as if they had accepted
// the invitation; it fires user_account_updated like Webflow would.
func (s *Simulator) VerifyUser(siteID, userID string) error {
	now := s.now()
	s.mu.Lock()
	st := s.sites[siteID]
	if st == nil {
		s.mu.Unlock()
		return fmt.Errorf("verify user: unknown site %s", siteID)
	}
	r := st.users[userID]
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("verify user %s: not found", userID)
	}
	r.u.Status = webflowdata.StatusVerified
	r.u.IsEmailVerified = true
	r.u.LastUpdated = webflowdata.NewTime(now)
	r.encode()
	jobs := s.webhookJobs(st, webflowdata.TriggerUserAccountUpdated, r.enc)
	s.mu.Unlock()
	s.deliver(jobs)
	return nil
}

// SetUserAccessGroups replaces a user's access groups out of band, as a
// purchase (type ecommerce) or a site admin in the dashboard (type admin)
// would: any type, no token, no rate limit, not in the request log. Like
// Webflow, it fires user_account_updated.
func (s *Simulator) SetUserAccessGroups(siteID, userID string, groups []webflowdata.AccessGroupRef) (webflowdata.User, error) {
	now := s.now()
	s.mu.Lock()
	st := s.sites[siteID]
	if st == nil {
		s.mu.Unlock()
		return webflowdata.User{}, fmt.Errorf("set access groups: unknown site %s", siteID)
	}
	r := st.users[userID]
	if r == nil {
		s.mu.Unlock()
		return webflowdata.User{}, fmt.Errorf("set access groups of %s: user not found", userID)
	}
	out := make([]webflowdata.AccessGroupRef, 0, len(groups))
	for _, g := range groups {
		if st.bySlug[g.Slug] == nil {
			s.mu.Unlock()
			return webflowdata.User{}, fmt.Errorf("set access groups of %s: unknown access group %q", userID, g.Slug)
		}
		if g.Type == "" {
			g.Type = webflowdata.AccessGroupAdmin
		}
		if g.Type != webflowdata.AccessGroupAdmin && g.Type != webflowdata.AccessGroupEcommerce {
			s.mu.Unlock()
			return webflowdata.User{}, fmt.Errorf("set access groups of %s: access group type %q", userID, g.Type)
		}
		out = append(out, g)
	}
	r.u.AccessGroups = out
	r.u.LastUpdated = webflowdata.NewTime(now)
	r.encode()
	u := r.clone()
	jobs := s.webhookJobs(st, webflowdata.TriggerUserAccountUpdated, r.enc)
	s.mu.Unlock()
	s.deliver(jobs)
	return u, nil
}

// Invite is one invitation email Webflow would have sent.
type Invite struct {
	SiteID string    `json:"siteId"`
	Email  string    `json:"email"`
	UserID string    `json:"userId"`
	At     time.Time `json:"at"`
}

// Invites returns every invitation sent, oldest first.
func (s *Simulator) Invites() []Invite {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Invite(nil), s.invites...)
}

// InvitesTo counts invitations sent to email (case-insensitive); tests use
// it to prove a client never invites twice.
func (s *Simulator) InvitesTo(email string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.inviteCnt[strings.ToLower(email)]
}
