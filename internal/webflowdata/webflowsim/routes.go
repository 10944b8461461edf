package webflowsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Scopes the Data API routes need.
const (
	scopeSitesRead  = "sites:read"
	scopeSitesWrite = "sites:write"
	scopeUsersRead  = "users:read"
	scopeUsersWrite = "users:write"
	scopeAuthUser   = "authorized_user:read"
)

// maxBody bounds request bodies; Webflow bodies here are tiny.
const maxBody = 1 << 20

// serveAPI handles /v2. Order: auth (401), rate limit (429, counted for
// every authenticated request, as Webflow counts per token), route (404),
// removed-mode answer, scope (403), site access (404/403), handler.
func (s *Simulator) serveAPI(w *recorder, r *http.Request) {
	t := s.authenticate(r)
	if t == nil {
		s.limiter.peekHeaders(w.Header())
		writeError(w, http.StatusUnauthorized, webflowdata.CodeNotAuthorized, msgNotAuthorized)
		return
	}
	w.label = t.label
	if ok, secs := t.rl.allow(s.now(), s.opts.RateWindow, w.Header()); !ok {
		writeTooMany(w, strconv.Itoa(secs))
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		notFoundRoute(w)
		return
	}
	seg := strings.Split(rest, "/")
	m := r.Method
	switch {
	case len(seg) == 1 && seg[0] == "sites" && m == http.MethodGet:
		if requireScope(w, t, scopeSitesRead) {
			s.listSites(w, t)
		}
	case len(seg) == 2 && seg[0] == "sites" && m == http.MethodGet:
		if requireScope(w, t, scopeSitesRead) {
			s.getSite(w, t, seg[1])
		}
	case len(seg) == 2 && seg[0] == "token" && seg[1] == "introspect" && m == http.MethodGet:
		s.introspect(w, t)
	case len(seg) == 2 && seg[0] == "token" && seg[1] == "authorized_by" && m == http.MethodGet:
		if requireScope(w, t, scopeAuthUser) {
			writeJSON(w, http.StatusOK, t.user)
		}
	case len(seg) >= 3 && len(seg) <= 4 && seg[0] == "sites" && seg[2] == "users":
		s.usersRoute(w, r, t, seg)
	case len(seg) == 3 && seg[0] == "sites" && seg[2] == "accessgroups" && m == http.MethodGet:
		if s.removedAnswer(w) || !requireScope(w, t, scopeUsersRead) {
			return
		}
		if st, ok := s.siteAccess(w, t, seg[1]); ok {
			s.listAccessGroups(w, r, st)
		}
	case len(seg) == 3 && seg[0] == "sites" && seg[2] == "webhooks" && (m == http.MethodGet || m == http.MethodPost):
		scope := scopeSitesRead
		if m == http.MethodPost {
			scope = scopeSitesWrite
		}
		if !requireScope(w, t, scope) {
			return
		}
		st, ok := s.siteAccess(w, t, seg[1])
		if !ok {
			return
		}
		if m == http.MethodGet {
			s.listWebhooks(w, r, st)
		} else {
			s.createWebhook(w, r, t, st)
		}
	case len(seg) == 2 && seg[0] == "webhooks" && (m == http.MethodGet || m == http.MethodDelete):
		s.webhookByID(w, r, t, seg[1])
	case len(seg) >= 3 && len(seg) <= 4 && seg[0] == "workspaces" && seg[2] == "members":
		s.workspaceMembersRoute(w, r, t, seg)
	case len(seg) >= 3 && len(seg) <= 4 && seg[0] == "sites" && seg[2] == "members":
		s.siteMembersRoute(w, r, t, seg)
	default:
		notFoundRoute(w)
	}
}

// usersRoute dispatches /sites/{site}/users[/...].
func (s *Simulator) usersRoute(w http.ResponseWriter, r *http.Request, t *token, seg []string) {
	var scope string
	var h func(*siteState)
	m := r.Method
	switch {
	case len(seg) == 3 && m == http.MethodGet:
		scope, h = scopeUsersRead, func(st *siteState) { s.listUsers(w, r, st) }
	case len(seg) == 4 && seg[3] == "invite" && m == http.MethodPost:
		scope, h = scopeUsersWrite, func(st *siteState) { s.inviteUser(w, r, st) }
	case len(seg) == 4 && m == http.MethodGet:
		scope, h = scopeUsersRead, func(st *siteState) { s.getUser(w, st, seg[3]) }
	case len(seg) == 4 && m == http.MethodPatch:
		scope, h = scopeUsersWrite, func(st *siteState) { s.updateUser(w, r, st, seg[3]) }
	case len(seg) == 4 && m == http.MethodDelete:
		scope, h = scopeUsersWrite, func(st *siteState) { s.deleteUser(w, st, seg[3]) }
	default:
		if !s.removedAnswer(w) {
			notFoundRoute(w)
		}
		return
	}
	if s.removedAnswer(w) || !requireScope(w, t, scope) {
		return
	}
	if st, ok := s.siteAccess(w, t, seg[1]); ok {
		h(st)
	}
}

// removedAnswer answers a users/accessgroups route in removed mode. It
// comes after auth and rate limiting (the gateway still counts the call)
// but before scope checks, since the route no longer exists.
func (s *Simulator) removedAnswer(w http.ResponseWriter) bool {
	s.mu.RLock()
	mode, st, code := s.usersMode, s.removedSt, s.removedCd
	s.mu.RUnlock()
	if mode != ModeRemoved {
		return false
	}
	msg := msgRouteNotFound
	switch {
	case code == webflowdata.CodeUsersNotEnabled:
		msg = "User Accounts are not enabled for this site"
	case st != http.StatusNotFound:
		msg = http.StatusText(st)
	}
	writeError(w, st, code, msg)
	return true
}

func notFoundRoute(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, webflowdata.CodeResourceNotFound, msgRouteNotFound)
}

// readJSONObject reads a JSON object body into raw fields. Malformed JSON
// is 400 bad_request, as Webflow answers.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, webflowdata.CodeBadRequest, msgBadRequest)
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		writeError(w, http.StatusBadRequest, webflowdata.CodeBadRequest, msgBadRequest)
		return nil, false
	}
	return m, true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// paging is the offset/limit/sort of a list call. limit above 100 is
// clamped to 100 rather than refused: friendlier, and a client that asks
// for more still sees limit:100 in the answer.
type paging struct {
	offset, limit int
	sort          string // "" = default order
	desc          bool
}

func parsePaging(w http.ResponseWriter, r *http.Request, def int, sorts ...string) (paging, bool) {
	q := r.URL.Query()
	pg := paging{limit: def}
	bad := func(msg string) (paging, bool) {
		writeError(w, http.StatusBadRequest, webflowdata.CodeValidationError, "Validation Error: "+msg)
		return paging{}, false
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad("offset must be a non-negative integer")
		}
		pg.offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad("limit must be a non-negative integer")
		}
		if n > 0 {
			pg.limit = min(n, 100)
		}
	}
	if v := q.Get("sort"); v != "" {
		key, desc := strings.CutPrefix(v, "-")
		found := false
		for _, s := range sorts {
			if s == key {
				found = true
			}
		}
		if !found {
			return bad("sort must be one of " + strings.Join(sorts, ", ") + " (optionally prefixed with -)")
		}
		pg.sort, pg.desc = key, desc
	}
	return pg, true
}

// window returns the [lo,hi) slice bounds of a page over n items.
func (pg paging) window(n int) (int, int) {
	lo := min(pg.offset, n)
	hi := min(lo+pg.limit, n)
	return lo, hi
}
