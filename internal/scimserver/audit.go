package scimserver

import (
	"context"
	"log/slog"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

type actorKey struct{}

// withActor records who caused the changes made under ctx: a SCIM token's
// label (its position in the config, never the token), the membership
// worker, or a cascade.
func withActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor is who caused the changes made under ctx, as the audit line
// names it.
func Actor(ctx context.Context) string { return actorFrom(ctx) }

func actorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "bridge"
}

// AuditLogger writes one audit line per change the bridge makes in
// Webflow: who, what, before and after, and when (the log time). Plug it
// into every Webflow client (webflowdata.Config.Audit).
func AuditLogger(log *slog.Logger) webflowdata.Auditor {
	return func(ctx context.Context, e webflowdata.AuditEvent) {
		attrs := []any{"audit", true, "actor", actorFrom(ctx), "action", e.Action, "site", e.SiteID, "webflow_user_id", e.UserID,
			"request_id", webflowdata.RequestIDFrom(ctx)}
		if e.Email != "" {
			attrs = append(attrs, "email", e.Email)
		}
		if e.Groups != nil {
			attrs = append(attrs, "groups_sent", e.Groups)
		}
		if len(e.DataKeys) > 0 {
			attrs = append(attrs, "data_keys", e.DataKeys)
		}
		if e.Before != nil {
			attrs = append(attrs, "before", userSummary(e.Before))
		}
		if e.After != nil {
			attrs = append(attrs, "after", userSummary(e.After))
		}
		log.Info("audit: Webflow changed", attrs...)
	}
}

func userSummary(u *webflowdata.User) map[string]any {
	return map[string]any{"status": u.Status, "accessGroups": u.Slugs(), "name": u.Data.Name()}
}
