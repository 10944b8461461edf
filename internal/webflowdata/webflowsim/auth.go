package webflowsim

import (
	"net/http"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// token is a seeded Data API token. Its value is only ever a map key; logs
// and the admin API show the label.
type token struct {
	id           string
	label        string
	value        string
	scopes       map[string]bool
	scopeList    []string
	sites        map[string]bool
	siteList     []string
	clientSecret string // set for OAuth (Data Client) app tokens
	workspace    bool   // a workspace token: reaches the Enterprise APIs
	grantType    string
	app          *webflowdata.Application
	user         webflowdata.AuthorizedBy
	createdOn    time.Time
	seedLimit    *int // seed override of the default budget
	rl           *tokenLimit
}

// isOAuthApp reports a token of an OAuth app: its webhooks are signed with
// the app's client secret and carry no secretKey.
func (t *token) isOAuthApp() bool { return t.clientSecret != "" }

// bearer extracts the token from "Authorization: Bearer <t>".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// authenticate returns the seeded token behind the request, or nil.
func (s *Simulator) authenticate(r *http.Request) *token {
	v := bearer(r)
	if v == "" {
		return nil
	}
	s.mu.RLock()
	t := s.tokens[v]
	s.mu.RUnlock()
	return t
}

// requireScope writes the 403 Webflow sends for a missing scope. Scopes are
// matched exactly (users:write does not imply users:read), which is the
// strict reading of Webflow's scope list and catches under-scoped tokens.
func requireScope(w http.ResponseWriter, t *token, scope string) bool {
	if scope == "" || t.scopes[scope] {
		return true
	}
	writeError(w, http.StatusForbidden, webflowdata.CodeMissingScopes, msgMissingScopes+scope+"'")
	return false
}

// siteAccess resolves a site for a token. An unknown site is 404
// resource_not_found; a site that exists but that the token was not
// authorised for is 403 forbidden, as Webflow answers for a site token used
// on another site of the same workspace.
func (s *Simulator) siteAccess(w http.ResponseWriter, t *token, siteID string) (*siteState, bool) {
	s.mu.RLock()
	st := s.sites[siteID]
	s.mu.RUnlock()
	if st == nil {
		if !isObjectID(siteID) {
			writeError(w, http.StatusBadRequest, webflowdata.CodeValidationError, "Validation Error: Provided ID is invalid")
			return nil, false
		}
		writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgSiteNotFound)
		return nil, false
	}
	if !t.sites[siteID] {
		writeError(w, http.StatusForbidden, webflowdata.CodeForbidden, msgForbidden)
		return nil, false
	}
	return st, true
}
