// Package statuspage serves the on-call status page, GET /admin/: one
// server-rendered HTML page (html/template, no JavaScript) that refreshes
// itself, behind the admin tokens with a short-lived session cookie, and
// the same figures as JSON at /admin/status.json.
//
// It computes nothing: a Source hands it the figures that /readyz,
// /metrics and the admin endpoints already serve, and the page shows them.
package statuspage

import (
	"context"
	"time"

	"github.com/webflowscim/bridge/internal/auditring"
	"github.com/webflowscim/bridge/internal/redact"
	"github.com/webflowscim/bridge/internal/state"
)

// Source gives the page its figures. The bridge's implementation reads
// them where /readyz, /metrics and the admin endpoints read them.
type Source interface {
	Status(ctx context.Context) (Status, error)
}

// Status is everything the page shows.
type Status struct {
	Readiness string     `json:"readiness"` // /readyz's status: ready, degraded, rebuilding, not ready
	Redis     Component  `json:"redis"`
	Sites     []Site     `json:"sites"`
	Workspace *Workspace `json:"workspace,omitempty"`
	// Audit is the last audit events this replica saw, newest first.
	Audit []auditring.Event `json:"audit"`
}

// Component is a probed dependency as /readyz reports it.
type Component struct {
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
}

// Site is one configured Webflow site.
type Site struct {
	ID           string     `json:"id"`
	Status       string     `json:"status"`       // ok, degraded, rebuilding, unknown
	Token        string     `json:"token"`        // ok, or why not
	UserAccounts string     `json:"userAccounts"` // available, unavailable: … (the sunset), could not be checked: …
	Rebuilding   string     `json:"rebuilding,omitempty"`
	CheckedAt    time.Time  `json:"checkedAt,omitzero"`
	Budget       *Budget    `json:"budget,omitempty"`
	Queue        Queue      `json:"queue"`
	Reconcile    *Reconcile `json:"reconcile,omitempty"` // nil until a reconciliation ran
}

// Budget is a Webflow token's rate budget (bridge_rate_budget_*).
type Budget struct {
	Label     string `json:"label"` // site:<id> or workspace
	Used      int    `json:"usedLastMinute"`
	Limit     int    `json:"limitPerMinute"`
	Available int    `json:"availableNow"`
}

// Queue is a membership queue as its admin endpoint reports it.
type Queue struct {
	Pending                 int                       `json:"pending"`
	OldestPendingAgeSeconds float64                   `json:"oldestPendingAgeSeconds"`
	Failures                []state.MembershipFailure `json:"failures"`
	Error                   string                    `json:"error,omitempty"` // the store could not be read
}

// Reconcile summarises the last reconciliation report of a site.
type Reconcile struct {
	FinishedAt   time.Time      `json:"finishedAt"`
	Apply        bool           `json:"apply"`
	Rebuild      bool           `json:"rebuild"`
	WebflowUsers int            `json:"webflowUsers"`
	Records      int            `json:"records"`
	Drift        map[string]int `json:"drift"` // unknown, gone, groups, status
	Fixed        int            `json:"fixed"`
}

// Workspace is the collaborator passthrough and, with workspace.groups,
// its roles queue and the role-locked members.
type Workspace struct {
	Passthrough Component       `json:"passthrough"`
	Budget      *Budget         `json:"budget,omitempty"`
	Roles       *WorkspaceRoles `json:"roles,omitempty"`
}

// WorkspaceRoles is /workspace/admin/memberships.
type WorkspaceRoles struct {
	Queue     Queue            `json:"queue"`
	RoleLocks []state.RoleLock `json:"roleLocks"`
}

// redacted returns st with every email masked: the audit events, the
// role-locked members and the failure reasons. It copies what it changes.
func redacted(st Status) Status {
	st.Audit = append([]auditring.Event(nil), st.Audit...)
	for i := range st.Audit {
		st.Audit[i].Email = redact.Emails(st.Audit[i].Email)
	}
	st.Sites = append([]Site(nil), st.Sites...)
	for i := range st.Sites {
		st.Sites[i].Queue = redactQueue(st.Sites[i].Queue)
	}
	if st.Workspace != nil && st.Workspace.Roles != nil {
		ws := *st.Workspace
		roles := *ws.Roles
		roles.Queue = redactQueue(roles.Queue)
		roles.RoleLocks = append([]state.RoleLock(nil), roles.RoleLocks...)
		for i := range roles.RoleLocks {
			roles.RoleLocks[i].Email = redact.Emails(roles.RoleLocks[i].Email)
		}
		ws.Roles = &roles
		st.Workspace = &ws
	}
	return st
}

func redactQueue(q Queue) Queue {
	q.Failures = append([]state.MembershipFailure(nil), q.Failures...)
	for i := range q.Failures {
		q.Failures[i].Error = redact.Emails(q.Failures[i].Error)
		q.Failures[i].UserID = redact.Emails(q.Failures[i].UserID)
	}
	return q
}
