package workspaceroles

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

func memberID(i int) string { return fmt.Sprintf("62fa5e47f6b8256f4%07x", i) }
func inviteID(i int) string { return fmt.Sprintf("63fa5e47f6b8256f4%07x", i) }

func mem(i int, email string, w WorkspaceRole, s SiteRole) Member {
	return Member{ID: memberID(i), Email: email, Workspace: w, Site: Builtin(s)}
}

func inv(i int, email string, w WorkspaceRole, s SiteRole, status string) Member {
	return Member{ID: inviteID(i), Email: email, Invite: true, InviteStatus: status, Workspace: w, Site: Builtin(s)}
}

func onSite(m Member, s SiteAccess) SiteMember {
	return SiteMember{ID: m.ID, Email: m.Email, Workspace: m.Workspace, Site: s}
}

func eff(p Pair, sites map[string]SiteAccess) Effective { return Effective{Pair: p, Sites: sites} }

func TestNewPlan(t *testing.T) {
	memberMarketer := pair(WorkspaceMember, SiteMarketer)
	memberEditor := pair(WorkspaceMember, SiteContentEditor)
	admin := pair(WorkspaceAdmin, SiteManager)
	reviewer := pair(WorkspaceReviewer, SiteReviewer)
	ann := mem(1, "ann@example.com", WorkspaceMember, SiteContentEditor)
	bob := mem(2, "bob@example.com", WorkspaceMember, SiteMarketer)
	xMarketer := map[string]SiteAccess{siteX: Builtin(SiteMarketer)}

	for _, tc := range []struct {
		name string
		cur  Current
		want map[string]Effective
		plan Plan
	}{
		{"unchanged: nothing", Current{Members: []Member{ann, bob}, Sites: map[string]SiteState{siteX: {Members: []SiteMember{onSite(bob, Builtin(SiteMarketer))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, nil), "bob@example.com": eff(memberMarketer, xMarketer)},
			Plan{}},
		{"a changed pair: one bulk update; email case does not matter", Current{Members: []Member{ann, bob}},
			map[string]Effective{"ANN@example.com": eff(memberMarketer, nil), "bob@example.com": eff(memberMarketer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{ann.ID}}}}},
		{"members and a pending invite to one pair share a request", Current{Members: []Member{ann, inv(1, "cy@example.com", WorkspaceMember, SiteDesigner, "pending")}},
			map[string]Effective{"ann@example.com": eff(reviewer, nil), "cy@example.com": eff(reviewer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: reviewer, MemberIDs: []string{ann.ID}, InviteIDs: []string{inviteID(1)}}}}},
		{"two target pairs: two requests", Current{Members: []Member{ann, bob}},
			map[string]Effective{"ann@example.com": eff(admin, nil), "bob@example.com": eff(reviewer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: admin, MemberIDs: []string{ann.ID}}, {Pair: reviewer, MemberIDs: []string{bob.ID}}}}},
		{"declined and expired invites are not updated", Current{Members: []Member{inv(1, "cy@example.com", WorkspaceMember, SiteDesigner, "declined"), inv(2, "cy@example.com", WorkspaceMember, SiteDesigner, "expired")}},
			map[string]Effective{"cy@example.com": eff(reviewer, nil)},
			Plan{Reports: []Report{{Email: "cy@example.com", MemberID: inviteID(1), Reason: ReasonInviteNotPending, Current: pair(WorkspaceMember, SiteDesigner), Desired: reviewer, Detail: "invite is declined"}}}},
		{"a member wins over an invite with the same email", Current{Members: []Member{inv(1, "ann@example.com", WorkspaceReviewer, SiteReviewer, "pending"), ann}},
			map[string]Effective{"ann@example.com": eff(memberMarketer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{ann.ID}}}}},
		{"an invite's site access waits for acceptance", Current{Members: []Member{inv(1, "cy@example.com", WorkspaceMember, SiteMarketer, "pending")}, Sites: map[string]SiteState{siteX: {}}},
			map[string]Effective{"cy@example.com": eff(memberMarketer, xMarketer)},
			Plan{Reports: []Report{{Email: "cy@example.com", MemberID: inviteID(1), Reason: ReasonAwaitingAcceptance, Current: memberMarketer, Desired: memberMarketer, Detail: "per-site access is granted once the invite is accepted"}}}},
		{"owners, guests and clients are reported, never written",
			Current{Members: []Member{mem(1, "o@example.com", WorkspaceOwner, SiteManager), mem(2, "g@example.com", WorkspaceGuest, SiteDesigner),
				mem(3, "c@example.com", WorkspaceClient, SiteMarketer), inv(4, "ci@example.com", WorkspaceClient, SiteMarketer, "pending")},
				Sites: map[string]SiteState{siteX: {Members: []SiteMember{{ID: memberID(2), Email: "g@example.com", Workspace: WorkspaceGuest, Site: Builtin(SiteDesigner)}}}}},
			map[string]Effective{"o@example.com": eff(reviewer, nil), "g@example.com": eff(memberMarketer, xMarketer), "c@example.com": eff(memberMarketer, xMarketer), "ci@example.com": eff(reviewer, nil)},
			Plan{Reports: []Report{
				{Email: "c@example.com", MemberID: memberID(3), Reason: ReasonProtected, Current: pair(WorkspaceClient, SiteMarketer), Desired: memberMarketer, Detail: "client is never written"},
				{Email: "ci@example.com", MemberID: inviteID(4), Reason: ReasonProtected, Current: pair(WorkspaceClient, SiteMarketer), Desired: reviewer, Detail: "client is never written"},
				{Email: "g@example.com", MemberID: memberID(2), Reason: ReasonProtected, Current: pair(WorkspaceGuest, SiteDesigner), Desired: memberMarketer, Detail: "guest is never written"},
				{Email: "o@example.com", MemberID: memberID(1), Reason: ReasonProtected, Current: pair(WorkspaceOwner, SiteManager), Desired: reviewer, Detail: "owner is never written"},
			}}},
		{"locked by SCIM, other Workspace role: reported with the desired pair, no writes",
			Current{Members: []Member{{ID: memberID(1), Email: "l@example.com", Workspace: WorkspaceReviewer, Site: Builtin(SiteReviewer), RoleLocked: true}}, Sites: map[string]SiteState{siteX: {}}},
			map[string]Effective{"l@example.com": eff(memberMarketer, xMarketer)},
			Plan{Reports: []Report{{Email: "l@example.com", MemberID: memberID(1), Reason: ReasonRoleLocked, Current: reviewer, Desired: memberMarketer,
				Detail: "workspace_member_managed_by_scim: the desired role is kept for when the lock is gone"}}}},
		{"locked by SCIM, same Workspace role: site access is still written",
			Current{Members: []Member{{ID: memberID(1), Email: "l@example.com", Workspace: WorkspaceMember, Site: Builtin(SiteDesigner), RoleLocked: true}}, Sites: map[string]SiteState{siteX: {}}},
			map[string]Effective{"l@example.com": eff(memberMarketer, xMarketer)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteGrant, SiteID: siteX, MemberID: memberID(1), Email: "l@example.com", Access: Builtin(SiteMarketer)}},
				Reports: []Report{{Email: "l@example.com", MemberID: memberID(1), Reason: ReasonRoleLocked, Current: pair(WorkspaceMember, SiteDesigner), Desired: memberMarketer,
					Detail: "workspace_member_managed_by_scim: the desired role is kept for when the lock is gone"}}}},
		{"locked but unchanged: nothing to report", Current{Members: []Member{{ID: memberID(1), Email: "l@example.com", Workspace: WorkspaceMember, Site: Builtin(SiteMarketer), RoleLocked: true}}},
			map[string]Effective{"l@example.com": eff(memberMarketer, nil)}, Plan{}},
		{"no member, no invite", Current{Members: []Member{ann}},
			map[string]Effective{"zed@example.com": eff(reviewer, nil)},
			Plan{Reports: []Report{{Email: "zed@example.com", Reason: ReasonNotMember, Desired: reviewer}}}},
		{"roles.site not sent: the Workspace role decides",
			Current{Members: []Member{{ID: memberID(1), Email: "a@example.com", Workspace: WorkspaceMember}, {ID: memberID(2), Email: "b@example.com", Workspace: WorkspaceReviewer}}},
			map[string]Effective{"a@example.com": eff(memberMarketer, nil), "b@example.com": eff(memberMarketer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{memberID(2)}}}}},
		{"custom default role: unknown id is taken as the same, a known other id is not",
			Current{Members: []Member{{ID: memberID(1), Email: "a@example.com", Workspace: WorkspaceMember, Site: Builtin(SiteCustom)},
				{ID: memberID(2), Email: "b@example.com", Workspace: WorkspaceMember, Site: Custom(customB)}}},
			map[string]Effective{"a@example.com": eff(Pair{WorkspaceMember, Custom(customA)}, nil), "b@example.com": eff(Pair{WorkspaceMember, Custom(customA)}, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: Pair{WorkspaceMember, Custom(customA)}, MemberIDs: []string{memberID(2)}}}}},
		{"per site: grant, PATCH, revoke, leave; unmanaged users untouched",
			Current{Members: []Member{ann, bob, mem(3, "cy@example.com", WorkspaceMember, SiteDesigner)}, Sites: map[string]SiteState{
				siteX: {Members: []SiteMember{onSite(bob, Builtin(SiteContentEditor)), {ID: memberID(3), Email: "cy@example.com", Workspace: WorkspaceMember, Site: Builtin(SiteDesigner)}}},
				siteY: {Members: []SiteMember{onSite(ann, Builtin(SiteDesigner)), onSite(bob, Builtin(SiteContentEditor))}},
			}},
			map[string]Effective{
				"ann@example.com": eff(memberEditor, xMarketer),
				"bob@example.com": eff(memberMarketer, map[string]SiteAccess{siteX: Builtin(SiteMarketer), siteY: Builtin(SiteContentEditor)}),
			},
			Plan{SiteWrites: []SiteWrite{
				{Op: SiteGrant, SiteID: siteX, MemberID: ann.ID, Email: ann.Email, Access: Builtin(SiteMarketer)},
				{Op: SiteUpdate, SiteID: siteX, MemberID: bob.ID, Email: bob.Email, Access: Builtin(SiteMarketer), From: Builtin(SiteContentEditor)},
				{Op: SiteRevoke, SiteID: siteY, MemberID: ann.ID, Email: ann.Email, From: Builtin(SiteDesigner)},
			}}},
		{"a site not read: grant (falling through to PATCH), never revoke",
			Current{Members: []Member{ann}},
			map[string]Effective{"ann@example.com": eff(memberEditor, xMarketer)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteGrant, SiteID: siteX, MemberID: ann.ID, Email: ann.Email, Access: Builtin(SiteMarketer)}}}},
		{"read-only site role: left unless the groups name the site",
			Current{Members: []Member{ann, bob}, Sites: map[string]SiteState{
				siteX: {Members: []SiteMember{onSite(ann, Builtin(SiteViewer)), onSite(bob, Builtin(SiteBranchDesigner))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, nil), "bob@example.com": eff(memberMarketer, xMarketer)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteUpdate, SiteID: siteX, MemberID: bob.ID, Email: bob.Email, Access: Builtin(SiteMarketer), From: Builtin(SiteBranchDesigner)}},
				Reports: []Report{{Email: "ann@example.com", MemberID: ann.ID, SiteID: siteX, Reason: ReasonReadOnlySiteRole, Current: memberEditor, Desired: memberEditor, Detail: "viewer is left as it is"}}}},
		{"admin implies every site: no Site Access calls",
			Current{Members: []Member{ann, mem(2, "adm@example.com", WorkspaceAdmin, SiteManager)}, Sites: map[string]SiteState{
				siteX: {Members: []SiteMember{onSite(ann, Builtin(SiteContentEditor)), {ID: memberID(2), Email: "adm@example.com", Workspace: WorkspaceAdmin, Site: Builtin(SiteManager)}}}}},
			map[string]Effective{"ann@example.com": eff(admin, nil), "adm@example.com": eff(admin, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: admin, MemberIDs: []string{ann.ID}}}}},
		{"an admin demoted: grants only, the listed access was the admin's",
			Current{Members: []Member{mem(2, "adm@example.com", WorkspaceAdmin, SiteManager)}, Sites: map[string]SiteState{
				siteX: {Members: []SiteMember{{ID: memberID(2), Email: "adm@example.com", Workspace: WorkspaceAdmin, Site: Builtin(SiteManager)}}},
				siteY: {Members: []SiteMember{{ID: memberID(2), Email: "adm@example.com", Workspace: WorkspaceAdmin, Site: Builtin(SiteManager)}}}}},
			map[string]Effective{"adm@example.com": eff(memberMarketer, xMarketer)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{memberID(2)}}},
				SiteWrites: []SiteWrite{{Op: SiteGrant, SiteID: siteX, MemberID: memberID(2), Email: "adm@example.com", Access: Builtin(SiteMarketer)}}}},
		{"open site: the default role's implicit entry stays, another role is set back to the default, never revoked",
			Current{Members: []Member{ann, bob}, Sites: map[string]SiteState{siteX: {Open: true, Members: []SiteMember{onSite(ann, Builtin(SiteContentEditor)), onSite(bob, Builtin(SiteDesigner))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, nil), "bob@example.com": eff(memberMarketer, nil)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteUpdate, SiteID: siteX, MemberID: bob.ID, Email: bob.Email, Access: Builtin(SiteMarketer), From: Builtin(SiteDesigner)}}}},
		{"open site: no explicit entry is implicit access at the default role; a wanted role is PATCHed, never granted",
			Current{Members: []Member{ann, bob}, Sites: map[string]SiteState{siteX: {Open: true}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, map[string]SiteAccess{siteX: Builtin(SiteContentEditor)}), "bob@example.com": eff(memberMarketer, map[string]SiteAccess{siteX: Builtin(SiteDesigner)})},
			Plan{SiteWrites: []SiteWrite{{Op: SiteUpdate, SiteID: siteX, MemberID: bob.ID, Email: bob.Email, Access: Builtin(SiteDesigner), From: Builtin(SiteMarketer)}}}},
		{"open site: the implicit entry follows a changed default role; no write",
			Current{Members: []Member{ann}, Sites: map[string]SiteState{siteX: {Open: true, Members: []SiteMember{onSite(ann, Builtin(SiteContentEditor))}}}},
			map[string]Effective{"ann@example.com": eff(memberMarketer, nil)},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{ann.ID}}}}},
		{"open site: a per-site role equal to the desired one stays",
			Current{Members: []Member{ann}, Sites: map[string]SiteState{siteX: {Open: true, Members: []SiteMember{onSite(ann, Builtin(SiteDesigner))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, map[string]SiteAccess{siteX: Builtin(SiteDesigner)})},
			Plan{}},
		{"open site: a read-only role the groups do not replace is left and reported",
			Current{Members: []Member{ann}, Sites: map[string]SiteState{siteX: {Open: true, Members: []SiteMember{onSite(ann, Builtin(SiteViewer))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, nil)},
			Plan{Reports: []Report{{Email: "ann@example.com", MemberID: ann.ID, SiteID: siteX, Reason: ReasonReadOnlySiteRole, Current: memberEditor, Desired: memberEditor, Detail: "viewer is left as it is"}}}},
		{"open site: a demoted admin gets a PATCH only where the groups give another role than the default",
			Current{Members: []Member{mem(2, "adm@example.com", WorkspaceAdmin, SiteManager)}, Sites: map[string]SiteState{
				siteX: {Open: true, Members: []SiteMember{{ID: memberID(2), Email: "adm@example.com", Workspace: WorkspaceAdmin, Site: Builtin(SiteManager)}}},
				siteY: {Open: true, Members: []SiteMember{{ID: memberID(2), Email: "adm@example.com", Workspace: WorkspaceAdmin, Site: Builtin(SiteManager)}}}}},
			map[string]Effective{"adm@example.com": eff(memberMarketer, map[string]SiteAccess{siteX: Builtin(SiteDesigner)})},
			Plan{RoleUpdates: []BulkUpdate{{Pair: memberMarketer, MemberIDs: []string{memberID(2)}}},
				SiteWrites: []SiteWrite{{Op: SiteUpdate, SiteID: siteX, MemberID: memberID(2), Email: "adm@example.com", Access: Builtin(SiteDesigner), From: Builtin(SiteMarketer)}}}},
		{"open site of a role-locked member: the implicit role is the locked default",
			Current{Members: []Member{{ID: memberID(1), Email: "l@example.com", Workspace: WorkspaceMember, Site: Builtin(SiteDesigner), RoleLocked: true}}, Sites: map[string]SiteState{siteX: {Open: true}}},
			map[string]Effective{"l@example.com": eff(memberMarketer, nil)},
			Plan{Reports: []Report{{Email: "l@example.com", MemberID: memberID(1), Reason: ReasonRoleLocked, Current: pair(WorkspaceMember, SiteDesigner), Desired: memberMarketer,
				Detail: "workspace_member_managed_by_scim: the desired role is kept for when the lock is gone"}}}},
		{"restricted site: the same entry is revoked",
			Current{Members: []Member{ann}, Sites: map[string]SiteState{siteX: {Members: []SiteMember{onSite(ann, Builtin(SiteContentEditor))}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, nil)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteRevoke, SiteID: siteX, MemberID: ann.ID, Email: ann.Email, From: Builtin(SiteContentEditor)}}}},
		{"a site entry matched by email when its id is not the member's",
			Current{Members: []Member{ann}, Sites: map[string]SiteState{siteX: {Members: []SiteMember{{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", Email: "Ann@Example.com", Workspace: WorkspaceMember, Site: Builtin(SiteDesigner)}}}}},
			map[string]Effective{"ann@example.com": eff(memberEditor, xMarketer)},
			Plan{SiteWrites: []SiteWrite{{Op: SiteUpdate, SiteID: siteX, MemberID: ann.ID, Email: ann.Email, Access: Builtin(SiteMarketer), From: Builtin(SiteDesigner)}}}},
		{"a refused site role is reported",
			Current{Members: []Member{mem(1, "r@example.com", WorkspaceReviewer, SiteReviewer)}},
			map[string]Effective{"r@example.com": {Pair: reviewer, Refused: []RefusedSite{{SiteID: siteX, Access: Builtin(SiteMarketer), Reason: "Webflow refuses reviewer with marketer"}}}},
			Plan{Reports: []Report{{Email: "r@example.com", SiteID: siteX, Reason: ReasonSiteRoleRefused, Desired: reviewer, Detail: "marketer: Webflow refuses reviewer with marketer"}}}},
	} {
		got := NewPlan(tc.cur, tc.want)
		if !reflect.DeepEqual(got, tc.plan) {
			t.Errorf("%s:\n got  %+v\n want %+v", tc.name, got, tc.plan)
		}
		if got.Calls() != LowerBound(got.Targets(), len(got.SiteWrites)) {
			t.Errorf("%s: %d calls, lower bound %d", tc.name, got.Calls(), LowerBound(got.Targets(), len(got.SiteWrites)))
		}
		// The same state listed in another order plans the same.
		r := rand.New(rand.NewSource(1))
		for range 5 {
			shuffled := Current{Members: append([]Member(nil), tc.cur.Members...), Sites: map[string]SiteState{}}
			r.Shuffle(len(shuffled.Members), func(i, j int) { shuffled.Members[i], shuffled.Members[j] = shuffled.Members[j], shuffled.Members[i] })
			for id, st := range tc.cur.Sites {
				l := append([]SiteMember(nil), st.Members...)
				r.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
				shuffled.Sites[id] = SiteState{Members: l, Open: st.Open}
			}
			if again := NewPlan(shuffled, tc.want); !reflect.DeepEqual(again, got) {
				t.Errorf("%s: shuffled input plans %+v", tc.name, again)
			}
		}
	}
}

// TestPlanGroupPush500: a group change moving 500 members costs ⌈500/100⌉
// bulk updates per target pair, every id once, plus one call per site
// change, which is LowerBound.
func TestPlanGroupPush500(t *testing.T) {
	m := mustMapping(t, issueSpec())
	cur := Current{Sites: map[string]SiteState{siteX: {}, siteY: {}}}
	want := map[string]Effective{}
	for i := range 750 {
		email := fmt.Sprintf("user%03d@example.com", i)
		cur.Members = append(cur.Members, mem(i, email, WorkspaceMember, SiteContentEditor))
		groups := []string{"Marketing"} // member/marketer, X marketer, Y content_editor
		if i >= 500 {
			groups = []string{"Agency reviewers"} // 250 to reviewer/reviewer
		}
		want[email] = m.Effective(groups)
	}
	// 150 pending invites join the marketers' pair.
	for i := range 150 {
		email := fmt.Sprintf("invitee%03d@example.com", i)
		cur.Members = append(cur.Members, inv(i, email, WorkspaceMember, SiteContentEditor, "pending"))
		want[email] = m.Effective([]string{"Marketing"})
	}
	p := NewPlan(cur, want)

	perPair := map[Pair]int{}
	seen := map[string]bool{}
	for _, b := range p.RoleUpdates {
		n := len(b.MemberIDs) + len(b.InviteIDs)
		if n == 0 || n > MaxBulkIDs {
			t.Fatalf("a bulk update of %d ids", n)
		}
		perPair[b.Pair]++
		for _, id := range append(append([]string(nil), b.MemberIDs...), b.InviteIDs...) {
			if seen[id] {
				t.Fatalf("id %s in two bulk updates", id)
			}
			seen[id] = true
		}
	}
	marketer, reviewer := pair(WorkspaceMember, SiteMarketer), pair(WorkspaceReviewer, SiteReviewer)
	if want := (map[Pair]int{marketer: 7, reviewer: 3}); !reflect.DeepEqual(perPair, want) { // ⌈650/100⌉, ⌈250/100⌉
		t.Errorf("bulk updates per pair %v, want %v", perPair, want)
	}
	if len(seen) != 900 {
		t.Errorf("%d ids updated, want 900", len(seen))
	}
	if got := p.Targets(); got[marketer] != 650 || got[reviewer] != 250 {
		t.Errorf("targets %v", got)
	}
	// 500 members get X and Y; invites wait for acceptance; reviewers get none.
	if len(p.SiteWrites) != 1000 {
		t.Errorf("%d site writes, want 1000", len(p.SiteWrites))
	}
	if lb := LowerBound(map[Pair]int{marketer: 650, reviewer: 250}, 1000); p.Calls() != lb || lb != 1010 {
		t.Errorf("%d calls, lower bound %d, want 1010", p.Calls(), lb)
	}
	// The same push once more costs nothing.
	applied := Current{Sites: map[string]SiteState{siteX: {}, siteY: {}}}
	for _, mb := range cur.Members {
		e := want[mb.Email]
		mb.Workspace, mb.Site = e.Pair.Workspace, e.Pair.Site
		applied.Members = append(applied.Members, mb)
		for site, a := range e.Sites {
			if !mb.Invite {
				st := applied.Sites[site]
				st.Members = append(st.Members, onSite(mb, a))
				applied.Sites[site] = st
			}
		}
	}
	if again := NewPlan(applied, want); again.Calls() != 0 {
		t.Errorf("a repeated push plans %d calls", again.Calls())
	}
}

// TestPlanBatchesFill: members fill batches first; invites fill what is
// left; a batch never passes 100 ids.
func TestPlanBatchesFill(t *testing.T) {
	cur := Current{}
	want := map[string]Effective{}
	target := pair(WorkspaceReviewer, SiteReviewer)
	for i := range 150 {
		e := fmt.Sprintf("m%03d@example.com", i)
		cur.Members = append(cur.Members, mem(i, e, WorkspaceMember, SiteDesigner))
		want[e] = eff(target, nil)
	}
	for i := range 30 {
		e := fmt.Sprintf("i%03d@example.com", i)
		cur.Members = append(cur.Members, inv(i, e, WorkspaceMember, SiteDesigner, "pending"))
		want[e] = eff(target, nil)
	}
	p := NewPlan(cur, want)
	if len(p.RoleUpdates) != 2 || len(p.RoleUpdates[0].MemberIDs) != 100 || p.RoleUpdates[0].InviteIDs != nil ||
		len(p.RoleUpdates[1].MemberIDs) != 50 || len(p.RoleUpdates[1].InviteIDs) != 30 {
		t.Errorf("batches: %d", len(p.RoleUpdates))
		for _, b := range p.RoleUpdates {
			t.Errorf("  %s: %d members, %d invites", b.Pair, len(b.MemberIDs), len(b.InviteIDs))
		}
	}
}

func TestLowerBound(t *testing.T) {
	a, b := pair(WorkspaceMember, SiteMarketer), pair(WorkspaceReviewer, SiteReviewer)
	for _, tc := range []struct {
		per   map[Pair]int
		sites int
		want  int
	}{
		{nil, 0, 0},
		{map[Pair]int{a: 1}, 0, 1},
		{map[Pair]int{a: 100}, 0, 1},
		{map[Pair]int{a: 101}, 0, 2},
		{map[Pair]int{a: 500}, 0, 5},
		{map[Pair]int{a: 500, b: 1}, 3, 9},
		{map[Pair]int{a: 0}, 7, 7},
	} {
		if got := LowerBound(tc.per, tc.sites); got != tc.want {
			t.Errorf("LowerBound(%v, %d) = %d, want %d", tc.per, tc.sites, got, tc.want)
		}
	}
}

// TestReadBound: the reads a worker pass states beside LowerBound.
func TestReadBound(t *testing.T) {
	for _, tc := range []struct {
		name                               string
		users, findLimit, members, invites int
		sites                              []int
		want                               int
	}{
		{"no users: nothing read", 0, 3, 500, 0, []int{10}, 0},
		{"a small batch: one filtered list per user, plus each site", 3, 3, 500, 20, []int{10, 0}, 3 + 2},
		{"a larger batch: the whole list, 100 members and 100 invites a page", 4, 3, 250, 20, []int{10}, 3 + 1},
		{"invites outnumbering members decide the pages", 20, 3, 20, 301, nil, 4},
		{"an empty workspace still costs one call; a site of 100 one, of 101 two", 20, 3, 0, 0, []int{100, 101}, 1 + 1 + 2},
	} {
		if got := ReadBound(tc.users, tc.findLimit, tc.members, tc.invites, tc.sites); got != tc.want {
			t.Errorf("%s: ReadBound = %d, want %d", tc.name, got, tc.want)
		}
	}
}
