package workspaceroles

import (
	"sort"
	"strings"
)

// MaxBulkIDs is Webflow's cap on the ids of one Bulk Update Workspace
// Member Roles request, members and invites together (reference §4.5).
const MaxBulkIDs = 100

// Member is one entry of List Workspace Members (reference §4.1): a
// member, or an invite (a separate id space).
type Member struct {
	ID    string
	Email string
	// Invite is true for an entry of the invites list; InviteStatus is
	// then pending, declined or expired.
	Invite       bool
	InviteStatus string
	// Workspace is roles.workspace (an invite's role); Site is roles.site
	// (an invite's defaultSiteRole, with defaultSiteRoleId). Site.Role is
	// empty when Webflow did not send it: roles.site comes "only for
	// Workspaces on Workspace seats", and legacy invites lack it.
	Workspace WorkspaceRole
	Site      SiteAccess
	// RoleLocked is true when Webflow refused a role write for this member
	// with workspace_member_managed_by_scim (a member Webflow's native SCIM
	// provisioned); the caller records it.
	RoleLocked bool
}

// SiteMember is one entry of List Site Members (reference §3.1). ID is
// the Workspace member's id: both APIs call it "Unique identifier for a
// Member".
type SiteMember struct {
	ID        string
	Email     string
	Workspace WorkspaceRole
	Site      SiteAccess
}

// SiteState is one managed site's List Site Members.
type SiteState struct {
	Members []SiteMember
	// Open is true for a site open to the whole workspace (the config's
	// workspace.openSites: the API cannot tell, reference §3.1 and §8).
	// Every member and reviewer has implicit access there with their
	// default Site role, listed or not. So on an open site the plan never
	// grants and never revokes: a member with no explicit entry holds
	// their default Site role there; a role the groups give is set with
	// PATCH ("on a site open to the whole workspace, this call sets a
	// per-site role for the first time", §3.3); and a per-site role the
	// groups no longer give is PATCHed back to the default Site role,
	// since what a revoke does there is unknown (§3.4: it may take the
	// implicit access away). Sites not marked Open are taken as
	// restricted: access the IdP does not give is revoked.
	Open bool
}

// Current is what Webflow holds: List Workspace Members, and List Site
// Members for each site whose access the bridge manages (Mapping's
// ManagedSites). On a site in Sites, per-site access that the desired
// roles do not give is revoked; a site missing from Sites was not read, so
// nothing is revoked there and wanted access is granted.
type Current struct {
	Members []Member
	Sites   map[string]SiteState
}

// BulkUpdate is one Bulk Update Workspace Member Roles request: at most
// MaxBulkIDs ids, members and invites together, all to one pair.
type BulkUpdate struct {
	Pair      Pair
	MemberIDs []string
	InviteIDs []string
}

// SiteOp is a Site Access write.
type SiteOp string

const (
	// SiteGrant is POST /sites/{id}/members. Webflow answers
	// member_already_has_access when the member has access already (a site
	// that was not read, an admin just demoted); the caller then PATCHes.
	SiteGrant SiteOp = "grant"
	// SiteUpdate is PATCH /sites/{id}/members/{member_id}.
	SiteUpdate SiteOp = "update"
	// SiteRevoke is DELETE /sites/{id}/members/{member_id}.
	SiteRevoke SiteOp = "revoke"
)

// SiteWrite is one Site Access call.
type SiteWrite struct {
	Op       SiteOp
	SiteID   string
	MemberID string
	Email    string
	Access   SiteAccess // the role to set; zero for a revoke
	From     SiteAccess // the role listed before; zero for a grant
}

// Reason says why a plan leaves something unwritten.
type Reason string

const (
	// ReasonProtected: an owner, guest or client (member or invite). The
	// bridge never writes them, roles nor site access.
	ReasonProtected Reason = "protected_role"
	// ReasonRoleLocked: Webflow refuses role writes for this member
	// (workspace_member_managed_by_scim). Report.Desired is the role to
	// keep and apply once the lock is gone.
	ReasonRoleLocked Reason = "role_locked"
	// ReasonNotMember: no member and no invite has this email.
	ReasonNotMember Reason = "not_a_member"
	// ReasonInviteNotPending: the only invite is declined or expired; it
	// cannot be accepted, so its role is not updated.
	ReasonInviteNotPending Reason = "invite_not_pending"
	// ReasonAwaitingAcceptance: a pending invite whose groups give per-site
	// access; Site Access takes members only, so it waits for acceptance.
	ReasonAwaitingAcceptance Reason = "awaiting_acceptance"
	// ReasonReadOnlySiteRole: a site lists the member with a read-only
	// role (branch_designer, limited_designer, viewer) that their groups do
	// not replace; it is left as it is.
	ReasonReadOnlySiteRole Reason = "read_only_site_role"
	// ReasonSiteRoleRefused: the groups give a site role that does not
	// pair with the Workspace role (Effective.Refused).
	ReasonSiteRoleRefused Reason = "site_role_refused"
)

// Report is one thing a plan leaves as it is, and why.
type Report struct {
	Email    string
	MemberID string // the member or invite id, when there is one
	SiteID   string // for site-level reasons
	Reason   Reason
	Current  Pair // the pair Webflow holds, when known
	Desired  Pair
	Detail   string
}

// Plan is the fewest writes that bring Webflow to the desired roles. Run
// RoleUpdates first, then SiteWrites: a reviewer becoming a member must be
// a member before a member's site role is granted.
type Plan struct {
	RoleUpdates []BulkUpdate
	SiteWrites  []SiteWrite
	Reports     []Report
}

// Calls is the number of Webflow requests the plan makes, not counting a
// grant that falls through to PATCH.
func (p Plan) Calls() int { return len(p.RoleUpdates) + len(p.SiteWrites) }

// Targets counts the ids the plan moves to each pair.
func (p Plan) Targets() map[Pair]int {
	out := map[Pair]int{}
	for _, b := range p.RoleUpdates {
		out[b.Pair] += len(b.MemberIDs) + len(b.InviteIDs)
	}
	return out
}

// LowerBound is the fewest Webflow calls that can make a change: for each
// target pair, ⌈n/100⌉ bulk updates for its n users (one request carries
// one pair, at most MaxBulkIDs ids), plus one call per per-site change
// (Site Access has no bulk endpoint). A bench checks a group change's
// calls against it; Plan reaches it exactly.
func LowerBound(usersPerTargetPair map[Pair]int, siteChanges int) int {
	n := siteChanges
	for _, users := range usersPerTargetPair {
		n += (users + MaxBulkIDs - 1) / MaxBulkIDs
	}
	return n
}

// MaxListLimit is the largest page a list call returns (limit 1-100,
// reference §1).
const MaxListLimit = 100

func pages(n int) int { return max(1, (n+MaxListLimit-1)/MaxListLimit) }

// WorkspaceListCalls is the calls that read a whole workspace of members
// and invites at limit 100: one page carries up to 100 members and,
// separately, up to 100 invites (§4.1), and even an empty workspace costs
// the call that says so.
func WorkspaceListCalls(members, invites int) int { return pages(max(members, invites)) }

// SiteListCalls is the calls that read one site's List Site Members of n
// entries at limit 100 (at least one).
func SiteListCalls(n int) int { return pages(n) }

// ReadBound is the Webflow reads a pass over users costs, stated beside
// LowerBound (which counts writes): a batch of at most findLimit users is
// looked up with one filtered List Workspace Members each (an email names
// one member and its invites: one page); a larger batch reads the whole
// workspace (WorkspaceListCalls of its members and invites); and every
// managed site's List Site Members is read whole (SiteListCalls of its
// entries), since the plan revokes what the IdP does not give there. A
// pass with no users reads nothing.
func ReadBound(users, findLimit, members, invites int, siteEntries []int) int {
	if users == 0 {
		return 0
	}
	n := users
	if users > findLimit {
		n = WorkspaceListCalls(members, invites)
	}
	for _, e := range siteEntries {
		n += SiteListCalls(e)
	}
	return n
}

// NewPlan computes the writes that bring cur to want, which maps a user's
// email (any case) to the roles their groups give. Users not in want are
// not the plan's business and are left alone. For each user in want:
//
//   - an owner, guest or client is reported, never written;
//   - a role-locked member whose role differs is reported with the
//     desired pair kept, and gets no role write; nor site writes, which
//     were computed for a role they do not have;
//   - a changed pair joins the bulk update to that pair (pending invites
//     too); an unchanged one costs nothing;
//   - per site, for members: a grant where they have no access, a PATCH
//     where the role differs, a revoke where the groups give none; nothing
//     for an admin, who has every site. An admin being demoted gets grants
//     only: their site list entries were the admin's implicit access.
//
// The plan is deterministic: ids are sorted, and so are writes and reports.
func NewPlan(cur Current, want map[string]Effective) Plan {
	var p Plan

	// The workspace entry of each email: a member over an invite, a
	// pending invite over one that was declined or has expired.
	entry := map[string]Member{}
	better := func(a, b Member) bool {
		if a.Invite != b.Invite {
			return !a.Invite
		}
		if ap, bp := a.InviteStatus == "pending", b.InviteStatus == "pending"; ap != bp {
			return ap
		}
		return a.ID < b.ID
	}
	for _, m := range cur.Members {
		e := strings.ToLower(m.Email)
		if old, ok := entry[e]; !ok || better(m, old) {
			entry[e] = m
		}
	}
	// Site entries by member id, and by email for an entry whose id is
	// not a member's (the reference only presumes the ids are the same).
	type siteKey struct{ site, who string }
	byID := map[siteKey]SiteMember{}
	byEmail := map[siteKey]SiteMember{}
	for site, st := range cur.Sites {
		for _, sm := range st.Members {
			byID[siteKey{site, sm.ID}] = sm
			if sm.Email != "" {
				byEmail[siteKey{site, strings.ToLower(sm.Email)}] = sm
			}
		}
	}
	listed := func(site string, m Member) (SiteMember, bool) {
		if sm, ok := byID[siteKey{site, m.ID}]; ok {
			return sm, true
		}
		sm, ok := byEmail[siteKey{site, strings.ToLower(m.Email)}]
		return sm, ok
	}

	type batchKey struct {
		pair   Pair
		invite bool
	}
	ids := map[batchKey][]string{}

	// Emails that differ only in case are one user; the key that sorts
	// first wins, so the plan does not depend on map order.
	keys := make([]string, 0, len(want))
	for e := range want {
		keys = append(keys, e)
	}
	sort.Strings(keys)
	emails := make([]string, 0, len(want))
	wantByEmail := make(map[string]Effective, len(want))
	for _, e := range keys {
		low := strings.ToLower(e)
		if _, dup := wantByEmail[low]; !dup {
			emails = append(emails, low)
			wantByEmail[low] = want[e]
		}
	}
	sort.Strings(emails)

	for _, email := range emails {
		eff := wantByEmail[email]
		for _, r := range eff.Refused {
			p.Reports = append(p.Reports, Report{Email: email, SiteID: r.SiteID, Reason: ReasonSiteRoleRefused, Desired: eff.Pair, Detail: r.Access.String() + ": " + r.Reason})
		}
		m, ok := entry[email]
		if !ok {
			p.Reports = append(p.Reports, Report{Email: email, Reason: ReasonNotMember, Desired: eff.Pair})
			continue
		}
		curPair := Pair{Workspace: m.Workspace, Site: m.Site}
		report := func(r Reason, site, detail string) {
			p.Reports = append(p.Reports, Report{Email: email, MemberID: m.ID, SiteID: site, Reason: r, Current: curPair, Desired: eff.Pair, Detail: detail})
		}
		if !m.Workspace.Writable() {
			report(ReasonProtected, "", string(m.Workspace)+" is never written")
			continue
		}
		if m.Invite && m.InviteStatus != "pending" {
			report(ReasonInviteNotPending, "", "invite is "+m.InviteStatus)
			continue
		}
		unchanged := m.Workspace == eff.Pair.Workspace && (m.Site.Role == "" || m.Site.Same(eff.Pair.Site))
		if !unchanged {
			if m.RoleLocked {
				report(ReasonRoleLocked, "", "workspace_member_managed_by_scim: the desired role is kept for when the lock is gone")
			} else {
				k := batchKey{pair: eff.Pair, invite: m.Invite}
				ids[k] = append(ids[k], m.ID)
			}
		}
		if m.Invite {
			if len(eff.Sites) > 0 {
				report(ReasonAwaitingAcceptance, "", "per-site access is granted once the invite is accepted")
			}
			continue
		}
		if m.RoleLocked && m.Workspace != eff.Pair.Workspace {
			continue // site roles were computed for a role the member does not get
		}
		p.SiteWrites = append(p.SiteWrites, siteWrites(cur, m, eff, listed, report)...)
	}

	// One request per target pair and 100 ids, members and invites
	// together; members first, so a full batch of members never waits on
	// invites.
	byPair := map[Pair]*[2][]string{}
	for k, l := range ids {
		b := byPair[k.pair]
		if b == nil {
			b = &[2][]string{}
			byPair[k.pair] = b
		}
		i := 0
		if k.invite {
			i = 1
		}
		b[i] = append(b[i], l...)
	}
	pairsSorted := make([]Pair, 0, len(byPair))
	for pr := range byPair {
		pairsSorted = append(pairsSorted, pr)
	}
	sort.Slice(pairsSorted, func(i, j int) bool { return pairsSorted[i].String() < pairsSorted[j].String() })
	for _, pr := range pairsSorted {
		b := byPair[pr]
		sort.Strings(b[0])
		sort.Strings(b[1])
		members, invites := b[0], b[1]
		for len(members)+len(invites) > 0 {
			u := BulkUpdate{Pair: pr}
			n := min(len(members), MaxBulkIDs)
			u.MemberIDs, members = members[:n:n], members[n:]
			if room := MaxBulkIDs - n; room > 0 {
				k := min(len(invites), room)
				u.InviteIDs, invites = invites[:k:k], invites[k:]
			}
			if len(u.MemberIDs) == 0 {
				u.MemberIDs = nil
			}
			if len(u.InviteIDs) == 0 {
				u.InviteIDs = nil
			}
			p.RoleUpdates = append(p.RoleUpdates, u)
		}
	}

	sort.SliceStable(p.SiteWrites, func(i, j int) bool {
		a, b := p.SiteWrites[i], p.SiteWrites[j]
		if a.SiteID != b.SiteID {
			return a.SiteID < b.SiteID
		}
		return a.MemberID < b.MemberID
	})
	sort.SliceStable(p.Reports, func(i, j int) bool {
		a, b := p.Reports[i], p.Reports[j]
		if a.Email != b.Email {
			return a.Email < b.Email
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.SiteID < b.SiteID
	})
	return p
}

// siteWrites plans the Site Access calls of one writable member.
func siteWrites(cur Current, m Member, eff Effective, listed func(string, Member) (SiteMember, bool), report func(Reason, string, string)) []SiteWrite {
	if eff.Pair.Workspace == WorkspaceAdmin {
		return nil // an admin has every site
	}
	// An admin's entries on site lists are their implicit access, which
	// goes with the demotion; grant (falling through to PATCH), never
	// revoke on the strength of them.
	wasAdmin := m.Workspace == WorkspaceAdmin
	sites := map[string]bool{}
	for id := range eff.Sites {
		sites[id] = true
	}
	for id := range cur.Sites {
		sites[id] = true
	}
	ids := make([]string, 0, len(sites))
	for id := range sites {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	// The default Site role the member holds once the plan's role update
	// has run: the desired one, unless Webflow keeps the member's role
	// locked.
	defaultAfter := eff.Pair.Site
	if m.RoleLocked && m.Site.Role != "" {
		defaultAfter = m.Site
	}
	var out []SiteWrite
	for _, site := range ids {
		want, wanted := eff.Sites[site]
		st, read := cur.Sites[site]
		var sm SiteMember
		has := false
		if read && !wasAdmin {
			sm, has = listed(site, m)
		}
		w := SiteWrite{SiteID: site, MemberID: m.ID, Email: m.Email}
		if st.Open {
			// Implicit access at the default Site role; never a grant,
			// never a revoke.
			target := defaultAfter
			if wanted {
				target = want
			}
			now := sm.Site
			if !has || (m.Site.Role != "" && sm.Site.Same(m.Site)) {
				// No explicit entry, or the listed implicit one: it
				// follows the default Site role.
				now = defaultAfter
			}
			switch {
			case now.Same(target):
				continue
			case !wanted && !now.Role.Writable():
				report(ReasonReadOnlySiteRole, site, string(now.Role)+" is left as it is")
				continue
			case target.Role == "":
				continue // the default Site role is unknown (roles.site not sent): nothing to set
			}
			w.Op, w.Access, w.From = SiteUpdate, target, now
			out = append(out, w)
			continue
		}
		switch {
		case wanted && !has:
			w.Op, w.Access = SiteGrant, want
		case wanted && sm.Site.Same(want):
			continue
		case wanted:
			// A read-only role the groups replace is written over:
			// the config names this site for this user.
			w.Op, w.Access, w.From = SiteUpdate, want, sm.Site
		case !has:
			continue
		case !sm.Site.Role.Writable():
			report(ReasonReadOnlySiteRole, site, string(sm.Site.Role)+" is left as it is")
			continue
		default:
			w.Op, w.From = SiteRevoke, sm.Site
		}
		out = append(out, w)
	}
	return out
}
