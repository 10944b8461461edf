package workspaceroles

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// RoleSpec is one role entry of the config, as written: a group's roles
// under workspace.groups["<name>"], or workspace.defaultRole. Field names
// follow the config keys.
type RoleSpec struct {
	Workspace  string            // admin, member or reviewer; empty: the group gives per-site access only
	Site       string            // the default Site role; may be left out with admin (site_manager) and reviewer (reviewer)
	SiteRoleID string            // the custom Site Role that "custom" means in Site and Sites
	Sites      map[string]string // site id -> Site role ("custom" means SiteRoleID; "custom:<id>" names one)
}

func (r RoleSpec) empty() bool {
	return r.Workspace == "" && r.Site == "" && r.SiteRoleID == "" && len(r.Sites) == 0
}

// Spec is the workspace role configuration as written.
type Spec struct {
	DefaultRole   RoleSpec            // empty: DefaultRole()
	Groups        map[string]RoleSpec // IdP group name -> roles
	SiteRoleOrder []string            // empty: DefaultSiteRoleOrder()
	// OpenSites are the managed sites open to the whole workspace
	// (SiteState.Open); the API cannot tell them apart.
	OpenSites []string
}

// DefaultRole is the role of a user in no mapped group when the config
// names none: reviewer with reviewer. It is the least a Workspace member
// can hold and takes a free seat (reference §2.3), so a user the config
// forgot costs no seat and can change nothing.
func DefaultRole() Pair { return Pair{Workspace: WorkspaceReviewer, Site: Builtin(SiteReviewer)} }

// KeyError is a problem with one key of the workspace role config. Key is
// the key's path under `workspace.`, as config writes it, e.g.
// groups["Marketing"].site.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// KeyErrors is every problem NewMapping found, in key order.
type KeyErrors []*KeyError

func (es KeyErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// rule is one validated RoleSpec.
type rule struct {
	pair    Pair // valid when hasPair
	hasPair bool
	sites   map[string]SiteAccess
}

// Mapping turns IdP group memberships into effective roles. It is
// immutable once built and safe for concurrent use.
type Mapping struct {
	def    rule
	groups map[string]rule   // by lower-cased group name
	names  map[string]string // lower-cased -> as configured
	order  Order
	open   map[string]bool // site ids open to the whole workspace
}

// NewMapping validates s and builds its Mapping. The error is KeyErrors,
// naming every refused key: a pair Webflow refuses, a read-only role, a
// malformed id, a custom role the order does not place.
func NewMapping(s Spec) (*Mapping, error) {
	var errs KeyErrors
	bad := func(key string, err error) { errs = append(errs, &KeyError{Key: key, Err: err}) }

	order, err := ParseOrder(s.SiteRoleOrder)
	if err != nil {
		bad("siteRoleOrder", err)
	}
	m := &Mapping{groups: map[string]rule{}, names: map[string]string{}, order: order}
	if s.DefaultRole.empty() {
		m.def = rule{pair: DefaultRole(), hasPair: true}
	} else {
		m.def = m.rule("defaultRole", s.DefaultRole, err == nil, bad)
		if s.DefaultRole.Workspace == "" {
			bad("defaultRole.workspace", errors.New("is required (admin, member or reviewer)"))
		}
	}

	names := make([]string, 0, len(s.Groups))
	for name := range s.Groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := "groups[" + strconv.Quote(name) + "]"
		if strings.TrimSpace(name) == "" {
			bad(key, errors.New("a group name cannot be empty"))
			continue
		}
		// Group names match case-insensitively, as sites[].groupMappings
		// do: Okta and Entra keep the case an admin typed, which need not
		// be the config's.
		low := strings.ToLower(name)
		if other, dup := m.names[low]; dup {
			bad(key, fmt.Errorf("differs from %q only in case; group names match case-insensitively", other))
			continue
		}
		spec := s.Groups[name]
		if spec.empty() {
			bad(key, errors.New("gives no role: set workspace, sites or both"))
			continue
		}
		m.names[low] = name
		m.groups[low] = m.rule(key, spec, err == nil, bad)
	}
	managed := map[string]bool{}
	for _, id := range m.ManagedSites() {
		managed[id] = true
	}
	for i, id := range s.OpenSites {
		key := fmt.Sprintf("openSites[%d]", i)
		switch {
		case !IsObjectID(id):
			bad(key, fmt.Errorf("%q is not a site id (24 lower-case hex digits)", id))
		case m.open[id]:
			bad(key, fmt.Errorf("%s is listed twice", id))
		case !managed[id]:
			bad(key, fmt.Errorf("%s is no site named under workspace.groups[…].sites or defaultRole.sites; marking it open would change nothing", id))
		default:
			if m.open == nil {
				m.open = map[string]bool{}
			}
			m.open[id] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// Open reports whether the config marks a site as open to the whole
// workspace (workspace.openSites).
func (m *Mapping) Open(siteID string) bool { return m.open[siteID] }

// rule validates one RoleSpec written at key. checkOrder is false when the
// order itself was refused (every custom role would be reported again).
func (m *Mapping) rule(key string, s RoleSpec, checkOrder bool, bad func(string, error)) rule {
	var r rule
	usesCustom := false
	custom := func(k, v string) (SiteAccess, bool) {
		a, err := ParseSiteAccess(v)
		if v == string(SiteCustom) {
			usesCustom = true
			if s.SiteRoleID == "" {
				bad(k, fmt.Errorf("custom needs %s.siteRoleId, the custom Site Role's id", key))
				return SiteAccess{}, false
			}
			a, err = Custom(s.SiteRoleID), nil
			if !IsObjectID(s.SiteRoleID) {
				return SiteAccess{}, false // reported once, at siteRoleId
			}
		}
		if err != nil {
			bad(k, err)
			return SiteAccess{}, false
		}
		if a.Role == SiteCustom && checkOrder && !m.order.Ranks(a) {
			bad(k, fmt.Errorf("%s is not placed in workspace.siteRoleOrder; Webflow says nothing of where a custom role ranks, so the config must", a))
			return SiteAccess{}, false
		}
		return a, true
	}

	w := WorkspaceRole(s.Workspace)
	switch {
	case s.Workspace == "":
		if s.Site != "" {
			bad(key+".site", errors.New("a default Site role needs a workspace role beside it"))
		}
	case CheckWorkspaceRole(w) != nil:
		bad(key+".workspace", CheckWorkspaceRole(w))
	default:
		site := s.Site
		if site == "" {
			// admin and reviewer pair with one Site role each; member
			// with five, so the config must say which.
			if only := sitesFor(w); len(only) == 1 {
				site = string(only[0])
			} else {
				bad(key+".site", fmt.Errorf("is required with workspace: %s (one of %s)", w, joinRoles(only)))
			}
		}
		if site != "" {
			if a, ok := custom(key+".site", site); ok {
				p := Pair{Workspace: w, Site: a}
				if err := CheckPair(p); err != nil {
					bad(key+".site", err)
				} else {
					r.pair, r.hasPair = p, true
				}
			}
		}
	}
	if s.SiteRoleID != "" && !IsObjectID(s.SiteRoleID) {
		bad(key+".siteRoleId", fmt.Errorf("%q is not a custom Site Role id (24 lower-case hex digits)", s.SiteRoleID))
	}

	ids := make([]string, 0, len(s.Sites))
	for id := range s.Sites {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		k := key + ".sites[" + strconv.Quote(id) + "]"
		if !IsObjectID(id) {
			bad(k, errors.New("a site id is 24 lower-case hex digits"))
			continue
		}
		a, ok := custom(k, s.Sites[id])
		if !ok {
			continue
		}
		var err error
		switch {
		case s.Workspace == "":
			err = checkSiteAccess(a)
		case w.Writable():
			err = CheckSiteAccess(w, a)
		default:
			continue // the workspace role is already refused
		}
		if err != nil {
			bad(k, err)
			continue
		}
		if r.sites == nil {
			r.sites = map[string]SiteAccess{}
		}
		r.sites[id] = a
	}
	if s.SiteRoleID != "" && !usesCustom {
		bad(key+".siteRoleId", errors.New("is set, but neither site nor sites says custom"))
	}
	return r
}

// higher reports whether a outranks b: the Workspace role first
// (admin > member > reviewer), then the default Site role by the Order.
func (m *Mapping) higher(a, b Pair) bool {
	if a.Workspace.rank() != b.Workspace.rank() {
		return a.Workspace.rank() > b.Workspace.rank()
	}
	return m.order.Higher(a.Site, b.Site)
}

// Effective is what a user's groups give them.
type Effective struct {
	// Pair is the Workspace role and default Site role.
	Pair Pair
	// Sites is the per-site access, by site id; nil for an admin, who has
	// every site already, and for a user no group gives a site.
	Sites map[string]SiteAccess
	// Default is true when no mapped group sets a Workspace role, so Pair
	// (and the default's own sites, if any) come from workspace.defaultRole.
	Default bool
	// Groups are the mapped groups the user is in, as configured, sorted.
	Groups []string
	// Refused are per-site roles the groups give that do not pair with
	// Pair's Workspace role (a reviewer cannot be a marketer on a site), by
	// site id. Nothing is written for them; they are reported so that the
	// config can be fixed.
	Refused []RefusedSite
}

// RefusedSite is a per-site role left out of an Effective.
type RefusedSite struct {
	SiteID string
	Access SiteAccess // the highest the groups gave
	Reason string
}

// Effective computes the roles a user in the given IdP groups gets:
//   - the highest Workspace role of the groups (admin > member > reviewer),
//     and with it the highest default Site role among the groups giving that
//     role, by the Order; the result is always an allowed pair, because
//     every group's pair is;
//   - no group with a Workspace role: workspace.defaultRole;
//   - on each site, the highest Site role the groups (or the default, when
//     it applies) give there that pairs with the Workspace role;
//   - admin: no per-site access, since an admin has every site.
//
// Group names match case-insensitively; names the config does not map, and
// repeats, are ignored. The result depends only on the set of groups.
func (m *Mapping) Effective(groups []string) Effective {
	var e Effective
	seen := map[string]bool{}
	var best Pair
	have := false
	cands := map[string][]SiteAccess{}
	add := func(r rule) {
		for id, a := range r.sites {
			cands[id] = append(cands[id], a)
		}
	}
	for _, g := range groups {
		low := strings.ToLower(g)
		r, ok := m.groups[low]
		if !ok || seen[low] {
			continue
		}
		seen[low] = true
		e.Groups = append(e.Groups, m.names[low])
		if r.hasPair && (!have || m.higher(r.pair, best)) {
			best, have = r.pair, true
		}
		add(r)
	}
	sort.Strings(e.Groups)
	if !have {
		best, e.Default = m.def.pair, true
		add(m.def)
	}
	e.Pair = best
	if best.Workspace == WorkspaceAdmin {
		return e
	}
	ids := make([]string, 0, len(cands))
	for id := range cands {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		var top, topOK SiteAccess
		found := false
		for _, a := range cands[id] {
			if top.Role == "" || m.order.Higher(a, top) {
				top = a
			}
			if CheckSiteAccess(best.Workspace, a) == nil && (!found || m.order.Higher(a, topOK)) {
				topOK, found = a, true
			}
		}
		if !found {
			e.Refused = append(e.Refused, RefusedSite{SiteID: id, Access: top, Reason: CheckSiteAccess(best.Workspace, top).Error()})
			continue
		}
		if e.Sites == nil {
			e.Sites = map[string]SiteAccess{}
		}
		e.Sites[id] = topOK
	}
	return e
}

// Default is the pair of a user in no mapped group.
func (m *Mapping) Default() Pair { return m.def.pair }

// Order is the Site role order in force.
func (m *Mapping) Order() Order { return m.order }

// Groups lists the mapped group names as configured, sorted.
func (m *Mapping) Groups() []string {
	out := make([]string, 0, len(m.names))
	for _, n := range m.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ManagedSites lists, sorted, every site a group (or the default role)
// gives access to: the sites whose access the bridge owns, and so the
// sites whose List Site Members a plan needs.
func (m *Mapping) ManagedSites() []string {
	set := map[string]bool{}
	for id := range m.def.sites {
		set[id] = true
	}
	for _, r := range m.groups {
		for id := range r.sites {
			set[id] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
