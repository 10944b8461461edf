package workspaceroles

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	siteX = "580e63e98c9a982ac9b8b741"
	siteY = "580e63e98c9a982ac9b8b742"
)

// issueSpec is the example of issue 15, plus groups that make the
// precedence cases.
func issueSpec() Spec {
	return Spec{
		DefaultRole: RoleSpec{Workspace: "member", Site: "content_editor"},
		Groups: map[string]RoleSpec{
			"Webflow Admins":   {Workspace: "admin"},
			"Marketing":        {Workspace: "member", Site: "marketer", Sites: map[string]string{siteX: "marketer", siteY: "content_editor"}},
			"Agency reviewers": {Workspace: "reviewer"},
			"Designers":        {Workspace: "member", Site: "designer", Sites: map[string]string{siteY: "designer"}},
			"Editors":          {Workspace: "member", Site: "content_editor", Sites: map[string]string{siteX: "site_manager"}},
			"X reviewers":      {Sites: map[string]string{siteX: "reviewer"}},
			"X marketers":      {Sites: map[string]string{siteX: "marketer"}},
			"Reviewers of X":   {Workspace: "reviewer", Sites: map[string]string{siteX: "reviewer"}},
		},
	}
}

func mustMapping(t *testing.T, s Spec) *Mapping {
	t.Helper()
	m, err := NewMapping(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pair(w WorkspaceRole, s SiteRole) Pair { return Pair{Workspace: w, Site: Builtin(s)} }

func TestEffective(t *testing.T) {
	m := mustMapping(t, issueSpec())
	memberMarketer := pair(WorkspaceMember, SiteMarketer)
	for _, tc := range []struct {
		name   string
		groups []string
		want   Effective
	}{
		{"no group: defaultRole", nil,
			Effective{Pair: pair(WorkspaceMember, SiteContentEditor), Default: true}},
		{"unmapped groups only: defaultRole", []string{"Everyone", "Sales"},
			Effective{Pair: pair(WorkspaceMember, SiteContentEditor), Default: true}},
		{"admin", []string{"Webflow Admins"},
			Effective{Pair: pair(WorkspaceAdmin, SiteManager), Groups: []string{"Webflow Admins"}}},
		{"admin implies every site: Marketing's sites are not written", []string{"Marketing", "Webflow Admins"},
			Effective{Pair: pair(WorkspaceAdmin, SiteManager), Groups: []string{"Marketing", "Webflow Admins"}}},
		{"member with per-site roles", []string{"Marketing"},
			Effective{Pair: memberMarketer, Groups: []string{"Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteContentEditor)}}},
		{"group names match case-insensitively", []string{"MARKETING"},
			Effective{Pair: memberMarketer, Groups: []string{"Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteContentEditor)}}},
		{"member > reviewer", []string{"Agency reviewers", "Marketing"},
			Effective{Pair: memberMarketer, Groups: []string{"Agency reviewers", "Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteContentEditor)}}},
		{"reviewer", []string{"Agency reviewers"},
			Effective{Pair: pair(WorkspaceReviewer, SiteReviewer), Groups: []string{"Agency reviewers"}}},
		{"designer > marketer, per site too", []string{"Marketing", "Designers"},
			Effective{Pair: pair(WorkspaceMember, SiteDesigner), Groups: []string{"Designers", "Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteDesigner)}}},
		{"marketer > content_editor; site_manager on X", []string{"Editors", "Marketing"},
			Effective{Pair: memberMarketer, Groups: []string{"Editors", "Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteManager), siteY: Builtin(SiteContentEditor)}}},
		{"sites-only group takes the default pair", []string{"X marketers"},
			Effective{Pair: pair(WorkspaceMember, SiteContentEditor), Default: true, Groups: []string{"X marketers"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer)}}},
		{"sites-only group under a reviewer", []string{"Agency reviewers", "X reviewers"},
			Effective{Pair: pair(WorkspaceReviewer, SiteReviewer), Groups: []string{"Agency reviewers", "X reviewers"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteReviewer)}}},
		{"a site role that does not pair is refused, not raised", []string{"Agency reviewers", "X marketers"},
			Effective{Pair: pair(WorkspaceReviewer, SiteReviewer), Groups: []string{"Agency reviewers", "X marketers"},
				Refused: []RefusedSite{{SiteID: siteX, Access: Builtin(SiteMarketer), Reason: "Webflow refuses reviewer with marketer: reviewer pairs only with reviewer (reference §2.2)"}}}},
		{"the highest site role that pairs wins", []string{"Reviewers of X", "X marketers"},
			Effective{Pair: pair(WorkspaceReviewer, SiteReviewer), Groups: []string{"Reviewers of X", "X marketers"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteReviewer)}}},
		{"a member cannot review a site", []string{"X reviewers"},
			Effective{Pair: pair(WorkspaceMember, SiteContentEditor), Default: true, Groups: []string{"X reviewers"},
				Refused: []RefusedSite{{SiteID: siteX, Access: Builtin(SiteReviewer), Reason: "Webflow refuses member with reviewer: member pairs only with site_manager, designer, marketer, content_editor, custom (reference §2.2)"}}}},
		{"repeats count once", []string{"Marketing", "marketing", "Marketing"},
			Effective{Pair: memberMarketer, Groups: []string{"Marketing"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteContentEditor)}}},
	} {
		got := m.Effective(tc.groups)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.want)
		}
		// Deterministic: every order of the same groups gives the same.
		for _, perm := range permutations(tc.groups) {
			if again := m.Effective(perm); !reflect.DeepEqual(again, got) {
				t.Errorf("%s: groups in order %q give %+v", tc.name, perm, again)
			}
		}
	}
}

// TestEffectiveEveryPair: a group per allowed pair gives exactly that pair,
// and a user in all of them gets the highest, admin.
func TestEffectiveEveryPair(t *testing.T) {
	spec := Spec{Groups: map[string]RoleSpec{}, SiteRoleOrder: []string{"site_manager", "designer", "marketer", "custom:" + customA, "content_editor", "reviewer"}}
	var all []string
	for _, p := range AllowedPairs() {
		rs := RoleSpec{Workspace: string(p.Workspace), Site: string(p.Site.Role)}
		if p.Site.Role == SiteCustom {
			rs.SiteRoleID = customA
		}
		spec.Groups[p.String()] = rs
		all = append(all, p.String())
	}
	m := mustMapping(t, spec)
	for _, p := range AllowedPairs() {
		want := p
		if p.Site.Role == SiteCustom {
			want.Site = Custom(customA)
		}
		if got := m.Effective([]string{p.String()}); got.Pair != want || got.Default || got.Sites != nil {
			t.Errorf("group %s gives %+v", p, got)
		}
	}
	if got := m.Effective(all); got.Pair != pair(WorkspaceAdmin, SiteManager) {
		t.Errorf("all groups give %s", got.Pair)
	}
	// Without admin: member with the highest Site role, site_manager.
	if got := m.Effective(all[1:]); got.Pair != pair(WorkspaceMember, SiteManager) {
		t.Errorf("all but admin give %s", got.Pair)
	}
}

// TestEffectiveCustomRank: a custom role ranks where siteRoleOrder puts it,
// for the default Site role and per site alike.
func TestEffectiveCustomRank(t *testing.T) {
	groups := map[string]RoleSpec{
		"SEO":       {Workspace: "member", Site: "custom", SiteRoleID: customA, Sites: map[string]string{siteX: "custom", siteY: "custom:" + customB}},
		"Designers": {Workspace: "member", Site: "designer", Sites: map[string]string{siteX: "designer", siteY: "designer"}},
	}
	for _, tc := range []struct {
		name  string
		order []string
		want  Effective
	}{
		{"custom above designer", []string{"site_manager", "custom:" + customA, "custom:" + customB, "designer", "marketer", "content_editor", "reviewer"},
			Effective{Pair: Pair{Workspace: WorkspaceMember, Site: Custom(customA)}, Groups: []string{"Designers", "SEO"},
				Sites: map[string]SiteAccess{siteX: Custom(customA), siteY: Custom(customB)}}},
		{"custom below content_editor", []string{"site_manager", "designer", "marketer", "content_editor", "custom:" + customB, "custom:" + customA, "reviewer"},
			Effective{Pair: pair(WorkspaceMember, SiteDesigner), Groups: []string{"Designers", "SEO"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteDesigner), siteY: Builtin(SiteDesigner)}}},
		{"one custom role above, the other below", []string{"site_manager", "custom:" + customB, "designer", "marketer", "content_editor", "custom:" + customA, "reviewer"},
			Effective{Pair: pair(WorkspaceMember, SiteDesigner), Groups: []string{"Designers", "SEO"},
				Sites: map[string]SiteAccess{siteX: Builtin(SiteDesigner), siteY: Custom(customB)}}},
	} {
		m := mustMapping(t, Spec{Groups: groups, SiteRoleOrder: tc.order})
		for _, g := range [][]string{{"SEO", "Designers"}, {"Designers", "SEO"}} {
			if got := m.Effective(g); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %v:\n got  %+v\n want %+v", tc.name, g, got, tc.want)
			}
		}
	}
}

func TestDefaultRole(t *testing.T) {
	m := mustMapping(t, Spec{Groups: map[string]RoleSpec{"Marketing": {Workspace: "member", Site: "marketer"}}})
	if got := m.Effective([]string{"Sales"}); got.Pair != DefaultRole() || !got.Default || DefaultRole() != pair(WorkspaceReviewer, SiteReviewer) {
		t.Errorf("no defaultRole configured: %+v", got)
	}
	m = mustMapping(t, Spec{DefaultRole: RoleSpec{Workspace: "member", Site: "marketer", Sites: map[string]string{siteX: "designer"}},
		Groups: map[string]RoleSpec{"Y editors": {Sites: map[string]string{siteY: "content_editor"}}, "Reviewers": {Workspace: "reviewer"}}})
	want := Effective{Pair: pair(WorkspaceMember, SiteMarketer), Default: true, Groups: []string{"Y editors"},
		Sites: map[string]SiteAccess{siteX: Builtin(SiteDesigner), siteY: Builtin(SiteContentEditor)}}
	if got := m.Effective([]string{"Y editors"}); !reflect.DeepEqual(got, want) {
		t.Errorf("default with its sites, merged with a sites-only group: %+v", got)
	}
	// A group with a Workspace role replaces the default, its sites too.
	if got := m.Effective([]string{"Reviewers"}); got.Default || got.Sites != nil || got.Pair != pair(WorkspaceReviewer, SiteReviewer) {
		t.Errorf("a mapped group replaces the default: %+v", got)
	}
	if got := m.ManagedSites(); !reflect.DeepEqual(got, []string{siteX, siteY}) {
		t.Errorf("managed sites %v", got)
	}
}

// TestNewMappingRefuses: every refusal names the key, as config check
// prints it after "workspace.".
func TestNewMappingRefuses(t *testing.T) {
	ok := RoleSpec{Workspace: "member", Site: "marketer"}
	for _, tc := range []struct {
		name string
		spec Spec
		want []string // each "key: reason" must appear
	}{
		{"pair Webflow refuses", Spec{Groups: map[string]RoleSpec{"Marketing": {Workspace: "member", Site: "reviewer"}}},
			[]string{`groups["Marketing"].site: Webflow refuses member with reviewer`}},
		{"admin with a site role", Spec{Groups: map[string]RoleSpec{"A": {Workspace: "admin", Site: "designer"}}},
			[]string{`groups["A"].site: Webflow refuses admin with designer: admin pairs only with site_manager`}},
		{"owner", Spec{Groups: map[string]RoleSpec{"Owners": {Workspace: "owner"}}},
			[]string{`groups["Owners"].workspace: "owner" cannot be written`}},
		{"guest", Spec{Groups: map[string]RoleSpec{"G": {Workspace: "guest", Site: "designer"}}},
			[]string{`groups["G"].workspace: "guest" cannot be written`}},
		{"client", Spec{Groups: map[string]RoleSpec{"C": {Workspace: "client"}}},
			[]string{`groups["C"].workspace: "client" cannot be written`}},
		{"unknown workspace role", Spec{Groups: map[string]RoleSpec{"C": {Workspace: "Admin"}}},
			[]string{`groups["C"].workspace: "Admin" is not a Workspace role`}},
		{"read-only default site role", Spec{Groups: map[string]RoleSpec{"V": {Workspace: "member", Site: "viewer"}}},
			[]string{`groups["V"].site: "viewer" is read-only`}},
		{"read-only per-site role", Spec{Groups: map[string]RoleSpec{"V": {Workspace: "member", Site: "designer", Sites: map[string]string{siteX: "branch_designer"}}}},
			[]string{`groups["V"].sites["` + siteX + `"]: "branch_designer" is read-only`}},
		{"member needs a site role", Spec{Groups: map[string]RoleSpec{"M": {Workspace: "member"}}},
			[]string{`groups["M"].site: is required with workspace: member`}},
		{"site id", Spec{Groups: map[string]RoleSpec{"M": {Workspace: "member", Site: "designer", Sites: map[string]string{"marketing-site": "designer", strings.ToUpper(siteX): "designer"}}}},
			[]string{`groups["M"].sites["marketing-site"]: a site id is 24 lower-case hex digits`, `groups["M"].sites["580E63E98C9A982AC9B8B741"]: a site id`}},
		{"per-site role under reviewer", Spec{Groups: map[string]RoleSpec{"R": {Workspace: "reviewer", Sites: map[string]string{siteX: "marketer"}}}},
			[]string{`groups["R"].sites["` + siteX + `"]: Webflow refuses reviewer with marketer`}},
		{"admin with sites", Spec{Groups: map[string]RoleSpec{"A": {Workspace: "admin", Sites: map[string]string{siteX: "designer"}}}},
			[]string{`groups["A"].sites["` + siteX + `"]: admin implies every site`}},
		{"custom without siteRoleId", Spec{Groups: map[string]RoleSpec{"S": {Workspace: "member", Site: "custom"}}},
			[]string{`groups["S"].site: custom needs groups["S"].siteRoleId`}},
		{"bad siteRoleId", Spec{Groups: map[string]RoleSpec{"S": {Workspace: "member", Site: "custom", SiteRoleID: "seo"}}},
			[]string{`groups["S"].siteRoleId: "seo" is not a custom Site Role id`}},
		{"siteRoleId without custom", Spec{Groups: map[string]RoleSpec{"S": {Workspace: "member", Site: "designer", SiteRoleID: customA}}},
			[]string{`groups["S"].siteRoleId: is set, but neither site nor sites says custom`}},
		{"custom role not placed", Spec{Groups: map[string]RoleSpec{"S": {Workspace: "member", Site: "custom", SiteRoleID: customA, Sites: map[string]string{siteX: "custom:" + customB}}}},
			[]string{`groups["S"].site: custom:` + customA + ` is not placed in workspace.siteRoleOrder`, `groups["S"].sites["` + siteX + `"]: custom:` + customB + ` is not placed`}},
		{"names differing in case", Spec{Groups: map[string]RoleSpec{"Marketing": ok, "marketing": ok}},
			[]string{`groups["marketing"]: differs from "Marketing" only in case`}},
		{"empty group", Spec{Groups: map[string]RoleSpec{"Nothing": {}, " ": ok}},
			[]string{`groups["Nothing"]: gives no role`, `groups[" "]: a group name cannot be empty`}},
		{"site role without workspace role", Spec{Groups: map[string]RoleSpec{"S": {Site: "designer"}}},
			[]string{`groups["S"].site: a default Site role needs a workspace role`}},
		{"defaultRole without workspace", Spec{DefaultRole: RoleSpec{Sites: map[string]string{siteX: "designer"}}},
			[]string{`defaultRole.workspace: is required`}},
		{"defaultRole read-only", Spec{DefaultRole: RoleSpec{Workspace: "guest"}},
			[]string{`defaultRole.workspace: "guest" cannot be written`}},
		{"defaultRole pair", Spec{DefaultRole: RoleSpec{Workspace: "reviewer", Site: "content_editor"}},
			[]string{`defaultRole.site: Webflow refuses reviewer with content_editor`}},
		{"openSites: not a site id, twice, not managed", Spec{Groups: map[string]RoleSpec{"M": {Workspace: "member", Site: "designer", Sites: map[string]string{siteX: "designer"}}},
			OpenSites: []string{"marketing", siteX, siteX, siteY}},
			[]string{`openSites[0]: "marketing" is not a site id`, `openSites[2]: ` + siteX + ` is listed twice`, `openSites[3]: ` + siteY + ` is no site named under workspace.groups`}},
		{"siteRoleOrder", Spec{SiteRoleOrder: []string{"site_manager"}},
			[]string{`siteRoleOrder: must list every built-in Site role; missing designer, marketer, content_editor, reviewer`}},
	} {
		_, err := NewMapping(tc.spec)
		var kes KeyErrors
		if !errors.As(err, &kes) {
			t.Errorf("%s: %v, want KeyErrors", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q\n does not say %q", tc.name, err, w)
			}
		}
		if len(kes) != len(tc.want) {
			t.Errorf("%s: %d errors, want %d: %v", tc.name, len(kes), len(tc.want), err)
		}
	}
	if _, err := NewMapping(issueSpec()); err != nil {
		t.Errorf("the issue's example: %v", err)
	}
	open := issueSpec()
	open.OpenSites = []string{siteY}
	if m, err := NewMapping(open); err != nil || !m.Open(siteY) || m.Open(siteX) {
		t.Errorf("openSites [%s]: %v; open(Y) %v, open(X) %v", siteY, err, err == nil && m.Open(siteY), err == nil && m.Open(siteX))
	}
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}
