package scimserver

import (
	"context"
	"errors"

	"github.com/webflowscim/bridge/internal/state"
)

// Cascade actions, triggered by a workspace collaborator's deprovisioning.
const (
	CascadeDelete     = "delete"
	CascadeDeactivate = "deactivate"
)

// Cascade applies a deprovisioned collaborator's fate to the site
// Membership users with the same email on the given sites: "deactivate"
// applies each site's deactivation policy, "delete" removes them. The
// change is recorded and queued, so it is durable and retried like any
// pending write, and it never fails the caller; dryRun only logs. Every
// action is audit-logged.
func (s *Server) Cascade(ctx context.Context, email, action string, sites []string, dryRun bool) {
	ctx = withActor(ctx, "cascade")
	for _, id := range sites {
		st, ok := s.sites[id]
		log := s.log.With("audit", true, "cascade", action, "site", id, "email", email, "dry_run", dryRun)
		if !ok {
			log.Warn("audit: cascade skipped: the site is not configured in this bridge")
			continue
		}
		if err := st.users.cascade(ctx, email, action, dryRun, log); err != nil {
			log.Error("audit: cascade could not be recorded", "error", err)
		}
	}
}

func (h *usersHandler) cascade(ctx context.Context, email, action string, dryRun bool, log interface {
	Info(string, ...any)
}) error {
	rec, err := h.store.FindUser(ctx, h.site.ID, state.IndexEmail, email)
	if errors.Is(err, state.ErrNotFound) {
		log.Info("audit: cascade: no Membership user with this email on the site")
		return nil
	}
	if err != nil {
		return err
	}
	if dryRun {
		log.Info("audit: cascade (dry run): would "+action+" the Membership user", "id", rec.ID, "webflow_user_id", rec.WebflowUserID, "policy", h.site.Deactivation)
		return nil
	}
	for range 3 {
		switch action {
		case CascadeDelete:
			rec.Tombstone = true
			rec.Active = false
		case CascadeDeactivate:
			if !rec.Active {
				log.Info("audit: cascade: the Membership user is already deactivated", "id", rec.ID)
				return nil
			}
			rec.Active = false
		}
		err = h.store.ReplaceUser(ctx, rec)
		if !errors.Is(err, state.ErrVersionMismatch) {
			break
		}
		if rec, err = h.store.GetUser(ctx, h.site.ID, rec.ID); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if err := h.store.Enqueue(ctx, h.site.ID, rec.ID); err != nil {
		return err
	}
	h.wake()
	log.Info("audit: cascade queued for the Membership user", "id", rec.ID, "webflow_user_id", rec.WebflowUserID, "policy", h.site.Deactivation)
	return nil
}
