package workspacegroups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// Reconciliation compares the roles the IdP's groups give (Mapping.
// Effective of each user's workspace groups, from Redis) with what Webflow
// holds (List Workspace Members, and List Site Members of every managed
// site), reports the drift per member, and with apply writes the plan that
// restores the IdP's view: the worker's planning (workspaceroles.NewPlan)
// and its write code (execute), so the writes are LowerBound of the
// drift. Its scope is the users in at least one workspace group, and those
// with a recorded role lock: a collaborator no group names is left as it
// is, since the bridge cannot tell one the IdP never meant to manage.

// ErrReconcileRunning means another replica holds the workspace reconcile
// lease.
var ErrReconcileRunning = errors.New("a workspace reconciliation is already running on another replica")

// ReasonDeactivated is the Left reason of a user the IdP deactivated
// (through SCIM) who is still in a workspace group: reconcile reports it
// and writes nothing for the address, never inviting it again (only the
// IdP's reactivation does) nor setting the roles of a member the
// dashboard added back.
const ReasonDeactivated = "deactivated"

// reconcileLeaseID names the lease, on the workspace queue's user locks
// (as the sites' reconcile leases on theirs): no SCIM id has a NUL.
const reconcileLeaseID = "\x00reconcile"

// reconcileLease bounds how long a replica that died holds the lease.
const reconcileLease = 10 * time.Minute

// RoleDrift is a member whose pair differs from the IdP's.
type RoleDrift struct {
	Current string `json:"current"` // workspace/site, as Webflow holds it
	Desired string `json:"desired"`
}

// SiteDrift is one managed site where a member's access differs.
type SiteDrift struct {
	SiteID string `json:"siteId"`
	// Change is the write that restores the IdP's view: grant (access
	// missing), update (another role) or revoke (access the groups do not
	// give; never on an open site).
	Change  string `json:"change"`
	Current string `json:"current,omitempty"` // the site role Webflow lists; "" when none
	Desired string `json:"desired,omitempty"` // "" for a revoke
}

// Left is something reconcile reports and does not write.
type Left struct {
	// Reason is a workspaceroles.Reason (protected_role for owners,
	// guests and clients; role_locked; not_a_member; …), or
	// "permanent_failure": a write Webflow refused for good, retried only
	// when the IdP changes the user's groups.
	Reason string `json:"reason"`
	SiteID string `json:"siteId,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// MemberDrift is one user whose roles or site access differ from the
// IdP's view, or that reconcile leaves as it is.
type MemberDrift struct {
	UserID   string      `json:"userId"` // native SCIM id
	Email    string      `json:"email"`
	MemberID string      `json:"memberId,omitempty"` // Webflow's member (or invite) id
	Groups   []string    `json:"groups"`             // the mapped groups the IdP has them in
	Role     *RoleDrift  `json:"role,omitempty"`
	Sites    []SiteDrift `json:"sites,omitempty"`
	Left     []Left      `json:"left,omitempty"`
	// RoleLocked is true when the bridge has recorded Webflow's SCIM lock
	// for the user (workspace_member_managed_by_scim); with apply the role
	// is tried again, so a lifted lock gets the kept role.
	RoleLocked bool `json:"roleLocked,omitempty"`
	// Outcome, with apply: written, role_locked, retry (queued for the
	// worker), failed, or busy (the worker held the user; queued).
	Outcome string `json:"outcome,omitempty"`
}

// DriftReport is what one workspace reconciliation found and did.
type DriftReport struct {
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Apply      bool      `json:"apply"`
	// Users is the number of users reconciled (in a workspace group, or
	// role-locked); Members and Invites what List Workspace Members
	// holds; Sites the managed sites read (Open ones marked).
	Users   int           `json:"users"`
	Members int           `json:"members"`
	Invites int           `json:"invites"`
	Sites   []SiteRead    `json:"sites"`
	Drift   []MemberDrift `json:"drift"`
	// Reads is the Webflow list calls made, ReadBound what they should
	// cost (workspaceroles.ReadBound of a whole read); Writes the role and
	// Site Access calls made (apply only), LowerBound the fewest that
	// restore the IdP's view.
	Reads      int `json:"reads"`
	ReadBound  int `json:"readBound"`
	Writes     int `json:"writes"`
	LowerBound int `json:"lowerBound"`
	// Fixed counts the users whose writes all succeeded (apply only).
	Fixed int `json:"fixed"`
}

// SiteRead is one managed site as reconcile read it.
type SiteRead struct {
	ID      string `json:"id"`
	Open    bool   `json:"open,omitempty"`
	Entries int    `json:"entries"`
}

// Clean reports whether nothing differs: no role or site drift (members
// left as they are, such as owners, do not count).
func (r *DriftReport) Clean() bool {
	for _, d := range r.Drift {
		if d.Role != nil || len(d.Sites) > 0 {
			return false
		}
	}
	return true
}

// Reconcile runs one workspace reconciliation under the lease, so two
// replicas never run it at once (ErrReconcileRunning). With apply it
// writes the plan for the users with drift, each under the worker's
// per-user lock: a user the worker is writing is queued for it instead.
func (w *Worker) Reconcile(ctx context.Context, apply bool) (*DriftReport, error) {
	st := w.opts.Store
	unlock, got, err := st.LockWorkspaceUser(ctx, reconcileLeaseID, reconcileLease)
	if err != nil {
		return nil, fmt.Errorf("taking the workspace reconcile lease: %w", err)
	}
	if !got {
		return nil, ErrReconcileRunning
	}
	defer unlock()
	ctx = webflowdata.WithPriority(ctx, webflowdata.PriorityBackground)
	rep := &DriftReport{StartedAt: time.Now().UTC(), Apply: apply, Sites: []SiteRead{}, Drift: []MemberDrift{}}

	// The users in scope, with the roles their groups give.
	inGroups, err := st.WorkspaceGroupUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the workspace groups' users: %w", err)
	}
	locks, err := st.RoleLocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the role locks: %w", err)
	}
	locked := map[string]bool{}
	for _, l := range locks {
		locked[l.UserID] = true
	}
	qs, err := st.WorkspaceQueueStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the workspace roles queue: %w", err)
	}
	failed := map[string]string{}
	for _, f := range qs.Failures {
		failed[f.UserID] = f.Error
	}
	jobs := make([]*job, 0, len(inGroups)+len(locks))
	for id := range inGroups {
		jobs = append(jobs, &job{p: state.Pending{UserID: id}})
	}
	for id := range locked {
		if _, ok := inGroups[id]; !ok {
			jobs = append(jobs, &job{p: state.Pending{UserID: id}})
		}
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].p.UserID < jobs[k].p.UserID })
	want, byEmail, err := w.desired(ctx, jobs)
	if err != nil {
		return nil, fmt.Errorf("reading the users' groups and emails: %w", err)
	}
	rep.Users = len(jobs)
	for _, j := range jobs {
		switch {
		case j.failure != "": // no email known
			rep.Drift = append(rep.Drift, MemberDrift{UserID: j.p.UserID, Groups: []string{}, Left: []Left{{Reason: "no_email", Detail: j.failure}}})
		case j.inactive:
			rep.Drift = append(rep.Drift, MemberDrift{UserID: j.p.UserID, Email: j.email, Groups: nonNil(j.groups),
				Left: []Left{{Reason: ReasonDeactivated, Detail: "deactivated through SCIM; left as it is until the IdP reactivates the user"}}})
		}
	}
	// A user whose write Webflow refused for good is reported, not
	// written again: the worker retries it when the IdP changes its groups.
	for email, j := range byEmail {
		if f, ok := failed[j.p.UserID]; ok {
			rep.Drift = append(rep.Drift, MemberDrift{UserID: j.p.UserID, Email: email, Groups: nonNil(want[email].Groups), Left: []Left{{Reason: "permanent_failure", Detail: f}}})
			delete(want, email)
			delete(byEmail, email)
		}
	}

	// What Webflow holds: the whole workspace, and every managed site.
	rctx, reads := webflowdata.WithCallCount(ctx)
	cur, err := w.current(rctx, nil, true)
	if err != nil {
		return nil, fmt.Errorf("reading Webflow's workspace members and site access: %w", err)
	}
	rep.Reads = int(reads.Load())
	var siteEntries []int
	for _, m := range cur.Members {
		if m.Invite {
			rep.Invites++
		} else {
			rep.Members++
		}
	}
	for _, id := range w.opts.Mapping.ManagedSites() {
		ss := cur.Sites[id]
		rep.Sites = append(rep.Sites, SiteRead{ID: id, Open: ss.Open, Entries: len(ss.Members)})
		siteEntries = append(siteEntries, len(ss.Members))
	}
	rep.ReadBound = workspaceroles.ReadBound(max(len(jobs), 1), 0, rep.Members, rep.Invites, siteEntries)

	plan := workspaceroles.NewPlan(cur, want)
	rep.LowerBound = workspaceroles.LowerBound(plan.Targets(), len(plan.SiteWrites))
	drift := w.driftOf(plan, cur, want, byEmail, locked)
	// A recorded lock whose user Webflow already holds at the IdP's view
	// is moot (lifted, and the role written some other way): reported,
	// and cleared with apply.
	var moot []string
	for email, j := range byEmail {
		if d := drift[email]; locked[j.p.UserID] && (d == nil || (d.Role == nil && len(d.Sites) == 0)) {
			if d == nil {
				d = &MemberDrift{UserID: j.p.UserID, Email: email, Groups: nonNil(want[email].Groups), RoleLocked: true}
				drift[email] = d
			}
			d.Left = append(d.Left, Left{Reason: "role_lock_moot", Detail: "a role lock is recorded, but Webflow holds the roles the groups give"})
			moot = append(moot, j.p.UserID)
		}
	}
	if apply {
		for _, id := range moot {
			_ = st.SetRoleLock(ctx, id, nil)
		}
		w.applyDrift(ctx, rep, drift, cur, byEmail)
	}
	for _, d := range drift {
		rep.Drift = append(rep.Drift, *d)
	}
	sort.Slice(rep.Drift, func(i, k int) bool {
		if rep.Drift[i].Email != rep.Drift[k].Email {
			return rep.Drift[i].Email < rep.Drift[k].Email
		}
		return rep.Drift[i].UserID < rep.Drift[k].UserID
	})
	rep.FinishedAt = time.Now().UTC()
	w.opts.Logger.InfoContext(ctx, "workspace reconciliation finished", "users", rep.Users, "members", rep.Members, "drift", len(rep.Drift),
		"reads", rep.Reads, "read_bound", rep.ReadBound, "writes", rep.Writes, "lower_bound", rep.LowerBound, "fixed", rep.Fixed, "apply", apply)
	return rep, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// driftOf turns a plan into per-member drift, by lower-cased email.
func (w *Worker) driftOf(plan workspaceroles.Plan, cur workspaceroles.Current, want map[string]workspaceroles.Effective, byEmail map[string]*job, locked map[string]bool) map[string]*MemberDrift {
	byID := map[string]workspaceroles.Member{}
	for _, m := range cur.Members {
		byID[m.ID] = m
	}
	out := map[string]*MemberDrift{}
	get := func(email, memberID string) *MemberDrift {
		email = strings.ToLower(email)
		d := out[email]
		if d == nil {
			j := byEmail[email]
			d = &MemberDrift{Email: email, MemberID: memberID, Groups: nonNil(want[email].Groups)}
			if j != nil {
				d.UserID, d.RoleLocked = j.p.UserID, locked[j.p.UserID]
			}
			out[email] = d
		}
		if d.MemberID == "" {
			d.MemberID = memberID
		}
		return d
	}
	for _, b := range plan.RoleUpdates {
		for _, id := range append(append([]string(nil), b.MemberIDs...), b.InviteIDs...) {
			m := byID[id]
			get(m.Email, id).Role = &RoleDrift{Current: workspaceroles.Pair{Workspace: m.Workspace, Site: m.Site}.String(), Desired: b.Pair.String()}
		}
	}
	for _, sw := range plan.SiteWrites {
		d := get(sw.Email, sw.MemberID)
		d.Sites = append(d.Sites, SiteDrift{SiteID: sw.SiteID, Change: string(sw.Op), Current: accessString(sw.From), Desired: accessString(sw.Access)})
	}
	for _, r := range plan.Reports {
		if _, ours := byEmail[strings.ToLower(r.Email)]; !ours {
			continue
		}
		d := get(r.Email, r.MemberID)
		if r.Reason == workspaceroles.ReasonRoleLocked {
			d.RoleLocked = true
		}
		d.Left = append(d.Left, Left{Reason: string(r.Reason), SiteID: r.SiteID, Detail: r.Detail})
	}
	return out
}

func accessString(a workspaceroles.SiteAccess) string {
	if a.Role == "" {
		return ""
	}
	return a.String()
}

// applyDrift writes the plan for the users with role or site drift, each
// under the worker's per-user lock, with their groups read again once
// locked (the IdP may have changed them since). Outcomes are recorded as
// the worker records them: a lock refused again is kept, a lock lifted is
// cleared, and a write to retry or refused for good is queued for the
// worker, whose retries and failure records apply.
func (w *Worker) applyDrift(ctx context.Context, rep *DriftReport, drift map[string]*MemberDrift, cur workspaceroles.Current, byEmail map[string]*job) {
	st := w.opts.Store
	var jobs []*job
	emails := make([]string, 0, len(drift))
	for email := range drift {
		emails = append(emails, email)
	}
	sort.Strings(emails)
	for _, email := range emails {
		d, j := drift[email], byEmail[email]
		if j == nil || (d.Role == nil && len(d.Sites) == 0) {
			continue
		}
		unlock, ok, err := st.LockWorkspaceUser(ctx, j.p.UserID, lockTTL)
		if err != nil || !ok {
			// The worker is writing this user (or Redis failed): the
			// worker's queue takes it.
			d.Outcome = "busy"
			_ = st.EnqueueWorkspaceUsers(ctx, j.p.UserID)
			continue
		}
		jobs = append(jobs, &job{p: j.p, unlock: unlock})
	}
	defer w.release(jobs)
	if len(jobs) == 0 {
		return
	}
	// The locked users' groups, read again.
	fresh, freshByEmail, err := w.desired(ctx, jobs)
	if err != nil {
		for _, j := range jobs {
			w.markOutcome(ctx, drift, j, "retry")
		}
		return
	}
	plan := workspaceroles.NewPlan(cur, fresh)
	wctx, writes := webflowdata.WithCallCount(ctx)
	w.execute(wctx, plan, cur, freshByEmail)
	rep.Writes = int(writes.Load())
	for _, j := range jobs {
		switch {
		case j.failure != "" && j.email == "":
			w.markOutcome(ctx, drift, j, "failed")
		case j.locked != nil:
			_ = st.SetRoleLock(ctx, j.p.UserID, j.locked)
			w.markOutcome(ctx, drift, j, "role_locked")
		case j.retry != "" || j.failure != "":
			// The worker's queue retries it, and records a refusal for
			// good as the user's failure.
			_ = st.EnqueueWorkspaceUsers(ctx, j.p.UserID)
			w.markOutcome(ctx, drift, j, "retry")
		default:
			_ = st.SetRoleLock(ctx, j.p.UserID, nil)
			w.markOutcome(ctx, drift, j, "written")
			rep.Fixed++
		}
	}
}

func (w *Worker) markOutcome(ctx context.Context, drift map[string]*MemberDrift, j *job, outcome string) {
	for _, d := range drift {
		if d.UserID == j.p.UserID {
			d.Outcome = outcome
			if outcome != "written" {
				w.opts.Logger.InfoContext(ctx, "workspace reconciliation: not written", "user", j.p.UserID, "outcome", outcome, "retry", j.retry, "failure", j.failure)
			}
			return
		}
	}
}

// WriteText prints the report for people.
func (r *DriftReport) WriteText(out io.Writer) {
	fmt.Fprintf(out, "workspace: %d users in workspace groups or role-locked; Webflow: %d members, %d invites (%s)\n",
		r.Users, r.Members, r.Invites, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	for _, s := range r.Sites {
		kind := "restricted"
		if s.Open {
			kind = "open"
		}
		fmt.Fprintf(out, "  site %s (%s): %d listed\n", s.ID, kind, s.Entries)
	}
	fmt.Fprintf(out, "reads: %d (bound %d)\n", r.Reads, r.ReadBound)
	fmt.Fprintf(out, "members that differ or are left as they are: %d\n", len(r.Drift))
	for _, d := range r.Drift {
		who := d.Email
		if who == "" {
			who = d.UserID
		}
		line := "  " + who
		if d.RoleLocked {
			line += " [role-locked by Webflow's SCIM]"
		}
		if d.Outcome != "" {
			line += " -> " + d.Outcome
		}
		fmt.Fprintln(out, line)
		if d.Role != nil {
			fmt.Fprintf(out, "    role: Webflow holds %s, the IdP's groups %v give %s\n", d.Role.Current, d.Groups, d.Role.Desired)
		}
		for _, s := range d.Sites {
			switch s.Change {
			case string(workspaceroles.SiteGrant):
				fmt.Fprintf(out, "    site %s: access missing; grant %s\n", s.SiteID, s.Desired)
			case string(workspaceroles.SiteRevoke):
				fmt.Fprintf(out, "    site %s: access the groups do not give (%s); revoke\n", s.SiteID, s.Current)
			default:
				fmt.Fprintf(out, "    site %s: role %s; set %s\n", s.SiteID, s.Current, s.Desired)
			}
		}
		for _, l := range d.Left {
			site := ""
			if l.SiteID != "" {
				site = " on site " + l.SiteID
			}
			fmt.Fprintf(out, "    left as it is%s: %s (%s)\n", site, l.Reason, l.Detail)
		}
	}
	if r.Apply {
		fmt.Fprintf(out, "applied: %d writes (lower bound %d), %d members fixed\n", r.Writes, r.LowerBound, r.Fixed)
	} else {
		fmt.Fprintf(out, "dry run: %d writes would restore the IdP's view; run with --apply to make them\n", r.LowerBound)
	}
}
