package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/workspacemembers"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// newWorkspaceMembers builds /workspace/scim/v2/Users of workspace.mode:
// members: users invited and removed through the Workspace Members API
// with the workspace token (workspace.membersToken), paced by the shared
// limiter.
func newWorkspaceMembers(cfg *config.Config, rs *state.RedisStore, limiter webflowdata.Limiter, observer webflowdata.Observer, audit webflowdata.Auditor, opts appOptions, guard *authguard.Guard, log *slog.Logger) (*workspacemembers.Handler, error) {
	ws := cfg.Workspace
	m, err := workspaceroles.NewMapping(ws.RoleSpec())
	if err != nil {
		return nil, fmt.Errorf("workspace.groups: %w", err)
	}
	tokens, err := mapping.ParseTokens(ws.SCIMTokens)
	if err != nil {
		return nil, fmt.Errorf("workspace.scimTokens: %w", err)
	}
	client, err := webflowdata.NewClient(webflowdata.Config{
		BaseURL: cfg.Webflow.APIBaseURL, Token: webflowdata.Token(ws.MembersToken),
		HTTPClient: opts.HTTPClient, Limiter: limiter, Retry: webflowdata.BackoffPolicy{Retry429: true},
		Observer: observer, Audit: audit, MaxRetryAfter: time.Duration(cfg.Webflow.MaxRetryAfter),
	})
	if err != nil {
		return nil, fmt.Errorf("workspace.membersToken: %w", err)
	}
	h, err := workspacemembers.NewHandler(workspacemembers.Options{
		Store: rs, Client: client, WorkspaceID: ws.ID, Mapping: m, Tokens: tokens, Guard: guard,
		PublicURL: cfg.PublicURL + workspacePrefix, Prefix: workspacePrefix,
		CreateStaleAfter: time.Duration(cfg.Webflow.PendingCreateTimeout), LockWait: opts.LockWait,
		MaxPatchOperations: cfg.Limits.MaxPatchOperations, MaxMembersPerRequest: cfg.Limits.MaxMembersPerRequest,
		Now: opts.Now, Logger: log.With("surface", "workspace-members"),
	})
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return h, nil
}
