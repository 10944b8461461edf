package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/webflowscim/bridge/internal/authguard"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
)

// identityStore is what the identity lookup reads.
type identityStore interface {
	state.Store
	state.CollaboratorStore
}

// identityHandler serves GET /identity?email=…: one person across both
// Webflow surfaces, joined on email: the workspace collaborator (native
// SCIM id, active) when known, and the Membership user on each site. It
// reads only the bridge's state: no Webflow call.
func identityHandler(store identityStore, sites []string, tokens mapping.TokenSet, guard *authguard.Guard, log *slog.Logger) http.HandlerFunc {
	type member struct {
		ID            string   `json:"id"`
		WebflowUserID string   `json:"webflowUserId,omitempty"`
		UserName      string   `json:"userName"`
		Active        bool     `json:"active"`
		Status        string   `json:"status,omitempty"`
		AccessGroups  []string `json:"accessGroups"`
	}
	type siteEntry struct {
		SiteID string  `json:"siteId"`
		Member *member `json:"member"`
	}
	fail := func(w http.ResponseWriter, status int, detail string) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		_, _ = w.Write(mapping.SCIMErrorJSON(status, "", detail))
	}
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := mapping.Bearer(r.Header.Get("Authorization"))
		if auth := guard.Check(r, func() bool { return len(tokens) > 0 && ok && tokens.Match(tok) }); !auth.OK {
			writeAdminAuthFailure(w, auth, "an admin token (adminTokens in the bridge config) is required")
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			fail(w, http.StatusBadRequest, "the query string is malformed")
			return
		}
		email := strings.TrimSpace(q.Get("email"))
		if _, err := mapping.ValidateEmail(email); err != nil {
			fail(w, http.StatusBadRequest, "the email parameter must be a valid address")
			return
		}
		out := map[string]any{"email": strings.ToLower(email), "collaborator": nil}
		c, err := store.CollaboratorByEmail(r.Context(), email)
		switch {
		case err == nil:
			out["collaborator"] = map[string]any{"id": c.ID, "active": c.Active, "userName": c.UserName, "seenAt": c.SeenAt}
		case !errors.Is(err, state.ErrNotFound):
			log.Error("identity lookup", "error", err)
			fail(w, http.StatusServiceUnavailable, "the bridge's state store is unavailable; retry later")
			return
		}
		entries := []siteEntry{}
		for _, sid := range sites {
			e := siteEntry{SiteID: sid}
			rec, err := store.FindUser(r.Context(), sid, state.IndexEmail, email)
			if err == nil {
				m := &member{ID: rec.ID, WebflowUserID: rec.WebflowUserID, UserName: rec.UserName, Active: rec.Active, AccessGroups: []string{}}
				if wu := scimserver.WebflowSnapshot(rec); wu != nil && rec.WebflowUserID != "" {
					m.Status, m.AccessGroups = wu.Status, wu.Slugs()
				}
				e.Member = m
			} else if !errors.Is(err, state.ErrNotFound) {
				log.Error("identity lookup", "site", sid, "error", err)
			}
			entries = append(entries, e)
		}
		out["sites"] = entries
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}
