package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"github.com/webflowscim/bridge/internal/auditring"
	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/statuspage"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// statusSource gives the status page (/admin/) its figures, read where
// /readyz, /metrics and the admin endpoints read them: the readiness
// cache (health.report), the queue stats and their age (queueAge), the
// budget figures (budgetFigures), the stored reconcile report and its
// drift counts, the role locks, and the audit ring.
type statusSource struct {
	health *health
	queues interface {
		QueueStats(ctx context.Context, siteID string) (state.QueueStats, error)
	}
	roles interface { // nil unless workspace.groups is set
		WorkspaceQueueStats(ctx context.Context) (state.QueueStats, error)
		RoleLocks(ctx context.Context) ([]state.RoleLock, error)
	}
	scim    *scimserver.Server
	limiter *state.Limiter
	labels  map[string]string
	use     *useWindow
	audit   *auditring.Ring
	sites   []string
}

func (s *statusSource) Status(ctx context.Context) (statuspage.Status, error) {
	rep := s.health.report(ctx, false)
	st := statuspage.Status{Readiness: rep.Status, Redis: statusComponent(rep.Redis), Audit: s.audit.Last()}
	budgets := map[string]*statuspage.Budget{}
	for _, b := range budgetFigures(ctx, s.limiter, s.labels, s.use) {
		budgets[b.Label] = &statuspage.Budget{Label: b.Label, Used: b.Used, Limit: b.Limit, Available: b.Available}
	}
	for _, id := range s.sites {
		sh := rep.Sites[id]
		site := statuspage.Site{ID: id, Status: sh.Status, Token: sh.Token, UserAccounts: sh.UserAccounts, Rebuilding: sh.Rebuilding,
			CheckedAt: sh.CheckedAt, Budget: budgets["site:"+id]}
		site.Queue = queueFigure(s.queues.QueueStats(ctx, id))
		if r, err := s.scim.LastReconcile(ctx, id); err == nil {
			site.Reconcile = &statuspage.Reconcile{FinishedAt: r.FinishedAt, Apply: r.Apply, Rebuild: r.Rebuild,
				WebflowUsers: r.WebflowUsers, Records: r.Records, Drift: r.DriftCounts(), Fixed: r.Fixed}
		}
		st.Sites = append(st.Sites, site)
	}
	if rep.Workspace != nil || s.roles != nil {
		ws := &statuspage.Workspace{Passthrough: statuspage.Component{Status: "off", Detail: "no passthrough: workspace.mode is members"}, Budget: budgets["workspace"]}
		if rep.Workspace != nil {
			ws.Passthrough = statusComponent(*rep.Workspace)
		}
		if s.roles != nil {
			roles := &statuspage.WorkspaceRoles{Queue: queueFigure(s.roles.WorkspaceQueueStats(ctx)), RoleLocks: []state.RoleLock{}}
			if locks, err := s.roles.RoleLocks(ctx); err == nil {
				roles.RoleLocks = locks
			} else {
				roles.Queue.Error = "the role locks could not be read: the bridge's state store is unavailable"
			}
			ws.Roles = roles
		}
		st.Workspace = ws
	}
	return st, nil
}

// queueFigure is a queue as its admin endpoint shows it.
func queueFigure(qs state.QueueStats, err error) statuspage.Queue {
	if err != nil {
		return statuspage.Queue{Failures: []state.MembershipFailure{}, Error: "the queue could not be read: the bridge's state store is unavailable"}
	}
	if qs.Failures == nil {
		qs.Failures = []state.MembershipFailure{}
	}
	return statuspage.Queue{Pending: qs.Pending, OldestPendingAgeSeconds: queueAge(qs), Failures: qs.Failures}
}

// statusPageKey derives the status page's session key from the config's
// Webflow tokens, which every replica shares and which are secrets (the
// bridge must send them as they are), so a session opened on one replica
// is good on the others. Rotating the tokens ends the sessions.
func statusPageKey(cfg *config.Config) []byte {
	m := hmac.New(sha256.New, []byte("webflow-scim-bridge/statuspage/session-key/v1"))
	secret := false
	for _, s := range cfg.Sites {
		if s.WebflowToken != "" {
			m.Write([]byte(s.WebflowToken))
			m.Write([]byte{0})
			secret = true
		}
	}
	for _, t := range []string{cfg.Workspace.WebflowSCIMToken, cfg.Workspace.MembersToken} {
		if t != "" {
			m.Write([]byte(t))
			m.Write([]byte{0})
			secret = true
		}
	}
	if !secret {
		return nil // a random key of the process
	}
	return m.Sum(nil)
}

// recordingAuditor writes each audit line (next) and keeps the event in
// the ring the status page shows.
func recordingAuditor(next webflowdata.Auditor, ring *auditring.Ring) webflowdata.Auditor {
	return func(ctx context.Context, e webflowdata.AuditEvent) {
		next(ctx, e)
		ring.Add(auditring.Event{At: time.Now().UTC(), Actor: scimserver.Actor(ctx), Action: e.Action, Site: e.SiteID,
			WebflowUserID: e.UserID, Email: e.Email, RequestID: webflowdata.RequestIDFrom(ctx)})
	}
}

// statusComponent is a /readyz component on the status page (its status,
// detail and time; Redis's topology is on /readyz).
func statusComponent(c component) statuspage.Component {
	return statuspage.Component{Status: c.Status, Detail: c.Detail, CheckedAt: c.CheckedAt}
}
