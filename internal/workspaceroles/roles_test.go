package workspaceroles

import (
	"strings"
	"testing"
)

const (
	customA = "72fa5e47f6b8256f4641c5bd"
	customB = "72fa5e47f6b8256f4641c5be"
)

// TestCheckPair runs every Workspace role against every Site role (plus an
// unknown one of each): exactly the seven rows of reference §2.2 are
// accepted, and every refusal says why.
func TestCheckPair(t *testing.T) {
	allowed := map[[2]string]bool{
		{"admin", "site_manager"}:    true,
		{"member", "site_manager"}:   true,
		{"member", "designer"}:       true,
		{"member", "marketer"}:       true,
		{"member", "content_editor"}: true,
		{"member", "custom"}:         true,
		{"reviewer", "reviewer"}:     true,
	}
	if len(AllowedPairs()) != len(allowed) {
		t.Fatalf("AllowedPairs has %d rows, the reference 7", len(AllowedPairs()))
	}
	for _, p := range AllowedPairs() {
		if !allowed[[2]string{string(p.Workspace), string(p.Site.Role)}] {
			t.Errorf("AllowedPairs has %s, not in reference §2.2", p)
		}
	}
	workspaces := []string{"owner", "admin", "member", "guest", "reviewer", "client", "superuser"}
	sites := []string{"site_manager", "designer", "branch_designer", "limited_designer", "marketer", "content_editor", "reviewer", "viewer", "custom", "editor"}
	n := 0
	for _, w := range workspaces {
		for _, s := range sites {
			a := Builtin(SiteRole(s))
			if s == "custom" {
				a = Custom(customA)
			}
			err := CheckPair(Pair{Workspace: WorkspaceRole(w), Site: a})
			if want := allowed[[2]string{w, s}]; want != (err == nil) {
				t.Errorf("CheckPair(%s, %s) = %v, want allowed=%v", w, s, err, want)
				continue
			}
			if err == nil {
				n++
				continue
			}
			var reason string
			switch {
			case w == "superuser":
				reason = "is not a Workspace role"
			case w == "owner" || w == "guest" || w == "client":
				reason = "cannot be written"
			case s == "editor":
				reason = "is not a Site role"
			case s == "branch_designer" || s == "limited_designer" || s == "viewer":
				reason = "is read-only"
			default:
				reason = "Webflow refuses " + w + " with " + s + ": " + w + " pairs only with"
			}
			if !strings.Contains(err.Error(), reason) {
				t.Errorf("CheckPair(%s, %s) = %q, want it to say %q", w, s, err, reason)
			}
		}
	}
	if n != 7 {
		t.Errorf("%d pairs accepted, want 7", n)
	}
}

func TestCheckPairCustomIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		site SiteAccess
		want string // "" accepted
	}{
		{"custom with id", Custom(customA), ""},
		{"custom without id", Builtin(SiteCustom), "needs the custom Site Role's id"},
		{"custom with a bad id", Custom("72FA5E47F6B8256F4641C5BD"), "not 24 lower-case hex"},
		{"custom with a short id", Custom("72fa"), "not 24 lower-case hex"},
		{"id on a built-in role", SiteAccess{Role: SiteMarketer, CustomID: customA}, "goes only with custom"},
	} {
		err := CheckPair(Pair{Workspace: WorkspaceMember, Site: tc.site})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestCheckSiteAccess: per-site roles follow the §2.2 table under the
// member's Workspace role, and an admin gets none.
func TestCheckSiteAccess(t *testing.T) {
	for _, tc := range []struct {
		w    WorkspaceRole
		a    SiteAccess
		want string
	}{
		{WorkspaceMember, Builtin(SiteMarketer), ""},
		{WorkspaceMember, Custom(customA), ""},
		{WorkspaceMember, Builtin(SiteReviewer), "member pairs only with"},
		{WorkspaceReviewer, Builtin(SiteReviewer), ""},
		{WorkspaceReviewer, Builtin(SiteMarketer), "reviewer pairs only with reviewer"},
		{WorkspaceAdmin, Builtin(SiteManager), "admin implies every site"},
		{WorkspaceMember, Builtin(SiteViewer), "read-only"},
		{WorkspaceGuest, Builtin(SiteDesigner), "cannot be written"},
	} {
		err := CheckSiteAccess(tc.w, tc.a)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckSiteAccess(%s, %s) = %v, want %q", tc.w, tc.a, err, tc.want)
		}
	}
}

func TestWritable(t *testing.T) {
	for r, want := range map[WorkspaceRole]bool{"owner": false, "admin": true, "member": true, "guest": false, "reviewer": true, "client": false, "": false, "Admin": false} {
		if r.Writable() != want {
			t.Errorf("WorkspaceRole(%q).Writable() = %v", r, !want)
		}
	}
	for r, want := range map[SiteRole]bool{"site_manager": true, "designer": true, "branch_designer": false, "limited_designer": false,
		"marketer": true, "content_editor": true, "reviewer": true, "viewer": false, "custom": true, "": false} {
		if r.Writable() != want || !(r.Known() || r == "") {
			t.Errorf("SiteRole(%q).Writable() = %v, Known %v", r, !want, r.Known())
		}
	}
}

func TestSame(t *testing.T) {
	for _, tc := range []struct {
		a, b SiteAccess
		want bool
	}{
		{Builtin(SiteMarketer), Builtin(SiteMarketer), true},
		{Builtin(SiteMarketer), Builtin(SiteDesigner), false},
		{Custom(customA), Custom(customA), true},
		{Custom(customA), Custom(customB), false},
		{Builtin(SiteCustom), Custom(customB), true}, // id unknown: not rewritten
		{Custom(customA), Builtin(SiteCustom), true},
		{Custom(customA), Builtin(SiteDesigner), false},
	} {
		if tc.a.Same(tc.b) != tc.want {
			t.Errorf("%s.Same(%s) = %v", tc.a, tc.b, !tc.want)
		}
	}
}

func TestParseOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string
		want    []string // the order, or nil for an error
		err     string
	}{
		{"default", nil, []string{"site_manager", "designer", "marketer", "content_editor", "reviewer"}, ""},
		{"custom placed", []string{"site_manager", "designer", "custom:" + customA, "marketer", "content_editor", "reviewer"},
			[]string{"site_manager", "designer", "custom:" + customA, "marketer", "content_editor", "reviewer"}, ""},
		{"reordered", []string{"designer", "site_manager", "content_editor", "marketer", "reviewer"},
			[]string{"designer", "site_manager", "content_editor", "marketer", "reviewer"}, ""},
		{"missing a built-in", []string{"site_manager", "designer", "marketer", "content_editor"}, nil, "missing reviewer"},
		{"twice", []string{"site_manager", "designer", "marketer", "content_editor", "reviewer", "designer"}, nil, "[5]: designer is listed twice"},
		{"read-only", []string{"site_manager", "designer", "viewer", "marketer", "content_editor", "reviewer"}, nil, "[2]: \"viewer\" is read-only"},
		{"bare custom", []string{"custom", "site_manager", "designer", "marketer", "content_editor", "reviewer"}, nil, "[0]: custom needs"},
		{"bad custom id", []string{"custom:xyz", "site_manager", "designer", "marketer", "content_editor", "reviewer"}, nil, "[0]: \"custom:xyz\""},
	} {
		o, err := ParseOrder(tc.entries)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(o.List(), ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v %v", tc.name, o.List(), err)
		}
		for i := 1; i < len(tc.want); i++ {
			hi, _ := ParseSiteAccess(tc.want[i-1])
			lo, _ := ParseSiteAccess(tc.want[i])
			if !o.Higher(hi, lo) || o.Higher(lo, hi) {
				t.Errorf("%s: %s should rank above %s", tc.name, hi, lo)
			}
		}
	}
}
