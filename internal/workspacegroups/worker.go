package workspacegroups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Store       state.WorkspaceGroupStore
	Mapping     *workspaceroles.Mapping
	Client      *webflowdata.Client // the workspace token's (workspace.membersToken)
	WorkspaceID string
	// Settle is how long a user's change waits for more (coalescing).
	Settle time.Duration
	// MaxAttempts caps the retries of a transient failure; then it is
	// recorded as a failure. Default 8.
	MaxAttempts int
	// FindLimit: a batch of at most this many users is read with one
	// filtered List Workspace Members each; a larger one lists the whole
	// workspace (⌈members/100⌉ calls). Default DefaultFindLimit. Reads
	// are workspaceroles.ReadBound.
	FindLimit int
	Logger    *slog.Logger
}

// DefaultFindLimit is WorkerOptions.FindLimit's default: up to 3 users
// cost 3 filtered reads, no more than one page of a workspace of 300.
const DefaultFindLimit = 3

// Worker applies the queued users' roles.
type Worker struct{ opts WorkerOptions }

// NewWorker builds a Worker.
func NewWorker(opts WorkerOptions) *Worker {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.FindLimit <= 0 {
		opts.FindLimit = DefaultFindLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{opts: opts}
}

// batchSize is how many users one pass takes: one bulk update carries 100.
const batchSize = workspaceroles.MaxBulkIDs

// lockTTL bounds how long a replica holds a user it is writing.
const lockTTL = 2 * time.Minute

// Run drains the queue every poll until ctx ends, and requeues the
// role-locked users every relockEvery, so a lock lifted in Webflow is
// applied without waiting for the IdP to change the user's groups.
func (w *Worker) Run(ctx context.Context, poll, relockEvery time.Duration) {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	if relockEvery <= 0 {
		relockEvery = 15 * time.Minute
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	lastRelock := time.Now()
	for {
		if _, err := w.drainOnce(ctx, w.opts.Settle); err != nil && ctx.Err() == nil {
			w.opts.Logger.WarnContext(ctx, "workspace roles: drain failed", "err", err)
		}
		if time.Since(lastRelock) >= relockEvery {
			lastRelock = time.Now()
			if err := w.RequeueLocked(ctx); err != nil && ctx.Err() == nil {
				w.opts.Logger.WarnContext(ctx, "workspace roles: requeueing locked members failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain applies every queued user now, without the settle time (tests,
// operators); users waiting for a retry stay queued.
func (w *Worker) Drain(ctx context.Context) error {
	for range 1000 {
		n, err := w.drainOnce(ctx, 0)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return errors.New("workspace roles: the queue did not drain")
}

// RequeueLocked queues every recorded role-locked user again.
func (w *Worker) RequeueLocked(ctx context.Context) error {
	locks, err := w.opts.Store.RoleLocks(ctx)
	if err != nil || len(locks) == 0 {
		return err
	}
	ids := make([]string, 0, len(locks))
	for _, l := range locks {
		ids = append(ids, l.UserID)
	}
	return w.opts.Store.EnqueueWorkspaceUsers(ctx, ids...)
}

// job is one user of a pass.
type job struct {
	p       state.Pending
	email   string
	unlock  func()
	failure string // permanent, recorded
	retry   string // transient, retried
	locked  *state.RoleLock
	roleErr bool // no site writes after a failed role write
	// inactive: the IdP deactivated the user (its collaborator record is
	// not active); it is left out of every plan, never invited or written.
	inactive bool
	groups   []string // an inactive user's mapped groups, for the report
}

// drainOnce runs one pass over up to batchSize due users; it returns how
// many it took.
func (w *Worker) drainOnce(ctx context.Context, settle time.Duration) (int, error) {
	st := w.opts.Store
	due, err := st.DueWorkspacePending(ctx, batchSize, settle)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	var jobs []*job
	for _, p := range due {
		unlock, ok, err := st.LockWorkspaceUser(ctx, p.UserID, lockTTL)
		if err != nil {
			w.release(jobs)
			return 0, err
		}
		if ok { // not ok: another replica is writing this user
			jobs = append(jobs, &job{p: p, unlock: unlock})
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	defer w.release(jobs)
	err = w.apply(ctx, jobs)
	if err != nil {
		// The pass could not run (a read failed): every user is retried.
		for _, j := range jobs {
			if j.failure == "" {
				j.retry = err.Error()
			}
		}
	}
	for _, j := range jobs {
		w.finish(ctx, j)
	}
	return len(jobs), nil
}

func (w *Worker) release(jobs []*job) {
	for _, j := range jobs {
		if j.unlock != nil {
			j.unlock()
			j.unlock = nil
		}
	}
}

func (w *Worker) finish(ctx context.Context, j *job) {
	st := w.opts.Store
	if j.retry != "" {
		n, err := st.RetryWorkspacePending(ctx, j.p.UserID, 0, j.retry)
		if err == nil && n < w.opts.MaxAttempts {
			return
		}
		j.failure = fmt.Sprintf("gave up after %d attempts: %s", n, j.retry)
	}
	if j.locked != nil {
		_ = st.SetRoleLock(ctx, j.p.UserID, j.locked)
	} else if j.failure == "" {
		_ = st.SetRoleLock(ctx, j.p.UserID, nil)
	}
	if j.failure != "" {
		w.opts.Logger.WarnContext(ctx, "workspace roles: write failed", "user", j.p.UserID, "err", j.failure)
	}
	_, _ = st.CompleteWorkspacePending(ctx, j.p, j.failure)
}

// transient reports a failure worth retrying: throttled, a 5xx, a
// timeout or a dropped connection.
func transient(err error) bool {
	return webflowdata.IsRateLimited(err) || webflowdata.IsServerError(err) || webflowdata.IsAmbiguous(err) ||
		errors.Is(err, context.DeadlineExceeded)
}

func (w *Worker) apply(ctx context.Context, jobs []*job) error {
	want, byEmail, err := w.desired(ctx, jobs)
	if err != nil || len(byEmail) == 0 {
		return err
	}
	emails := make([]string, 0, len(byEmail))
	for e := range byEmail {
		emails = append(emails, e)
	}
	cur, err := w.current(ctx, emails, len(emails) > w.opts.FindLimit)
	if err != nil {
		return err
	}
	w.execute(ctx, workspaceroles.NewPlan(cur, want), cur, byEmail)
	return nil
}

// desired reads the jobs' groups and emails from the store and computes
// the roles the groups give, by lower-cased email; a job whose user has
// no known email is marked failed and left out, and one the IdP
// deactivated is marked inactive and left out (nothing to write).
func (w *Worker) desired(ctx context.Context, jobs []*job) (map[string]workspaceroles.Effective, map[string]*job, error) {
	st := w.opts.Store
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.p.UserID
	}
	userGroups, err := st.WorkspaceUserGroups(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	groups, err := st.WorkspaceGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.DisplayName
	}
	want := map[string]workspaceroles.Effective{}
	byEmail := map[string]*job{}
	for _, j := range jobs {
		c, err := st.Collaborator(ctx, j.p.UserID)
		if errors.Is(err, state.ErrNotFound) || (err == nil && c.Email == "") {
			j.failure = "no email is known for this native SCIM user"
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		j.email = strings.ToLower(c.Email)
		var gs []string
		for _, gid := range userGroups[j.p.UserID] {
			if n, ok := names[gid]; ok {
				gs = append(gs, n)
			}
		}
		if !c.Active {
			// Deactivated through SCIM (members mode: removed from
			// Webflow) yet still in an IdP group: the IdP does not want
			// this person in the workspace, so no role or site access is
			// written for the address, even if the dashboard adds it back.
			j.inactive, j.groups = true, gs
			continue
		}
		want[j.email] = w.opts.Mapping.Effective(gs)
		byEmail[j.email] = j
	}
	return want, byEmail, nil
}

// execute makes a plan's writes: the bulk role updates, then the Site
// Access calls, reading each item's result by id. Outcomes go to the
// jobs of byEmail (lower-cased email); plan for those users only.
func (w *Worker) execute(ctx context.Context, plan workspaceroles.Plan, cur workspaceroles.Current, byEmail map[string]*job) {
	memberEmail := map[string]string{}
	memberPair := map[string]workspaceroles.Pair{}
	for _, m := range cur.Members {
		memberEmail[m.ID] = strings.ToLower(m.Email)
		memberPair[m.ID] = workspaceroles.Pair{Workspace: m.Workspace, Site: m.Site}
	}
	for _, r := range plan.Reports {
		if r.Reason != workspaceroles.ReasonNotMember || byEmail[strings.ToLower(r.Email)] == nil {
			w.opts.Logger.InfoContext(ctx, "workspace roles: left as it is", "reason", string(r.Reason), "memberId", r.MemberID, "siteId", r.SiteID, "detail", r.Detail)
		}
	}
	for _, b := range plan.RoleUpdates {
		req := webflowdata.BulkUpdateMembersRequest{
			MemberIDs: b.MemberIDs, InviteIDs: b.InviteIDs, Role: string(b.Pair.Workspace),
			DefaultSiteRole: string(b.Pair.Site.Role), DefaultSiteRoleID: b.Pair.Site.CustomID,
		}
		res, err := w.opts.Client.BulkUpdateWorkspaceMemberRoles(ctx, w.opts.WorkspaceID, req)
		for _, id := range b.MemberIDs {
			j := byEmail[memberEmail[id]]
			if j == nil {
				continue
			}
			itemErr := err
			if err == nil {
				r, ok := res.Member(id)
				if !ok {
					itemErr = errors.New("Webflow reported no result for this member")
					j.retry = itemErr.Error()
					j.roleErr = true
					continue
				}
				itemErr = r.Err()
			}
			w.roleOutcome(ctx, j, id, memberPair[id], b.Pair, "role", itemErr)
		}
		for _, id := range b.InviteIDs {
			j := byEmail[w.inviteEmail(cur, id)]
			if j == nil {
				continue
			}
			itemErr := err
			if err == nil {
				if r, ok := res.Invite(id); ok {
					itemErr = r.Err()
				}
			}
			w.roleOutcome(ctx, j, id, workspaceroles.Pair{}, b.Pair, "role", itemErr)
		}
	}
	for _, sw := range plan.SiteWrites {
		j := byEmail[strings.ToLower(sw.Email)]
		if j == nil {
			j = byEmail[memberEmail[sw.MemberID]]
		}
		if j == nil || j.roleErr || j.retry != "" {
			continue
		}
		var err error
		switch sw.Op {
		case workspaceroles.SiteGrant:
			_, err = w.opts.Client.GrantSiteAccess(ctx, sw.SiteID, webflowdata.GrantSiteAccessRequest{MemberID: sw.MemberID, SiteRole: string(sw.Access.Role), SiteRoleID: sw.Access.CustomID})
			if webflowdata.IsMemberAlreadyHasAccess(err) {
				_, err = w.opts.Client.UpdateSiteMemberRole(ctx, sw.SiteID, sw.MemberID, webflowdata.UpdateSiteRoleRequest{SiteRole: string(sw.Access.Role), SiteRoleID: sw.Access.CustomID})
			}
		case workspaceroles.SiteUpdate:
			_, err = w.opts.Client.UpdateSiteMemberRole(ctx, sw.SiteID, sw.MemberID, webflowdata.UpdateSiteRoleRequest{SiteRole: string(sw.Access.Role), SiteRoleID: sw.Access.CustomID})
		case workspaceroles.SiteRevoke:
			err = w.opts.Client.RevokeSiteAccess(ctx, sw.SiteID, sw.MemberID)
		}
		switch {
		case err == nil:
		case webflowdata.IsManagedBySCIM(err):
			j.locked = &state.RoleLock{Email: j.email, MemberID: sw.MemberID, Current: sw.From.String(), Desired: sw.Access.String(), Scope: "site:" + sw.SiteID}
			w.opts.Logger.InfoContext(ctx, "audit: workspace_member_managed_by_scim", "action", "site_"+string(sw.Op), "memberId", sw.MemberID, "siteId", sw.SiteID, "desired", sw.Access.String())
		case transient(err):
			j.retry = err.Error()
		default:
			j.failure = fmt.Sprintf("site %s %s: %v", sw.SiteID, sw.Op, err)
		}
	}
}

// roleOutcome records one member's result of a bulk role update.
func (w *Worker) roleOutcome(ctx context.Context, j *job, id string, from, to workspaceroles.Pair, scope string, err error) {
	switch {
	case err == nil:
	case webflowdata.IsManagedBySCIM(err):
		j.roleErr = true
		j.locked = &state.RoleLock{Email: j.email, MemberID: id, Current: from.String(), Desired: to.String(), Scope: scope}
		w.opts.Logger.InfoContext(ctx, "audit: workspace_member_managed_by_scim: role kept for when the lock is lifted", "memberId", id, "current", from.String(), "desired", to.String())
	case transient(err) || isRetryableItem(err):
		j.roleErr = true
		j.retry = err.Error()
	default:
		j.roleErr = true
		j.failure = "role " + to.String() + ": " + err.Error()
	}
}

func isRetryableItem(err error) bool {
	var ie *webflowdata.ItemError
	return errors.As(err, &ie) && ie.Retryable()
}

func (w *Worker) inviteEmail(cur workspaceroles.Current, id string) string {
	for _, m := range cur.Members {
		if m.Invite && m.ID == id {
			return strings.ToLower(m.Email)
		}
	}
	return ""
}

// current reads what Webflow holds for the batch: a filtered list per
// user for a small batch, the whole workspace for a larger one, and the
// members of every managed site.
//
// With whole, the whole workspace is read (a batch larger than FindLimit,
// a reconcile); else one filtered list per email.
func (w *Worker) current(ctx context.Context, emails []string, whole bool) (workspaceroles.Current, error) {
	c := w.opts.Client
	var roster webflowdata.WorkspaceRoster
	if !whole {
		for _, email := range emails {
			m, invites, err := c.FindWorkspaceMember(ctx, w.opts.WorkspaceID, email)
			if err != nil {
				return workspaceroles.Current{}, err
			}
			if m != nil {
				roster.Members = append(roster.Members, *m)
			}
			roster.Invites = append(roster.Invites, invites...)
		}
	} else {
		r, err := c.ListAllWorkspaceMembers(ctx, w.opts.WorkspaceID, webflowdata.MemberListOptions{})
		if err != nil {
			return workspaceroles.Current{}, err
		}
		roster = *r
	}
	var cur workspaceroles.Current
	for _, m := range roster.Members {
		cur.Members = append(cur.Members, workspaceroles.Member{
			ID: m.ID, Email: m.Email, Workspace: workspaceroles.WorkspaceRole(m.Roles.Workspace), Site: access(m.Roles.Site, m.Roles.CustomSiteRoleID()),
		})
	}
	for _, iv := range roster.Invites {
		cur.Members = append(cur.Members, workspaceroles.Member{
			ID: iv.ID, Email: iv.Email, Invite: true, InviteStatus: iv.Status,
			Workspace: workspaceroles.WorkspaceRole(iv.Role), Site: access(iv.DefaultSiteRole, iv.DefaultSiteRoleID),
		})
	}
	if sites := w.opts.Mapping.ManagedSites(); len(sites) > 0 {
		cur.Sites = map[string]workspaceroles.SiteState{}
		for _, id := range sites {
			list, err := c.ListAllSiteMembers(ctx, id, webflowdata.MemberListOptions{})
			if err != nil {
				return workspaceroles.Current{}, err
			}
			ss := workspaceroles.SiteState{Open: w.opts.Mapping.Open(id)}
			for _, m := range list {
				ss.Members = append(ss.Members, workspaceroles.SiteMember{
					ID: m.ID, Email: m.Email, Workspace: workspaceroles.WorkspaceRole(m.Roles.Workspace), Site: access(m.Roles.Site, m.Roles.CustomSiteRoleID()),
				})
			}
			cur.Sites[id] = ss
		}
	}
	return cur, nil
}

func access(role, customID string) workspaceroles.SiteAccess {
	if role == webflowdata.SiteRoleCustom {
		return workspaceroles.Custom(customID)
	}
	return workspaceroles.Builtin(workspaceroles.SiteRole(role))
}
