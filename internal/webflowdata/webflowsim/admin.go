package webflowsim

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// serveAdmin is the control API under AdminPrefix. It has no auth, is not
// rate limited and is not logged as Webflow traffic: it is the test
// harness's side door, so the simulator must only listen on loopback.
func (s *Simulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, s.opts.AdminPrefix), "/")
	seg := strings.Split(rest, "/")
	m := r.Method
	switch {
	case rest == "state" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, s.State())
	case rest == "requests" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"requests": s.Requests()})
	case rest == "requests" && m == http.MethodDelete:
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	case rest == "invites" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"invites": s.Invites()})
	case rest == "deliveries" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries()})
	case rest == "faults" && m == http.MethodPost:
		var f struct {
			Method     string `json:"method"`
			Path       string `json:"path"`
			Count      int    `json:"count"`
			Status     int    `json:"status"`
			Delay      string `json:"delay"`
			Drop       bool   `json:"drop"`
			RetryAfter string `json:"retryAfter"`
		}
		if !adminDecode(w, r, &f) {
			return
		}
		var d time.Duration
		if f.Delay != "" {
			var err error
			if d, err = time.ParseDuration(f.Delay); err != nil {
				adminError(w, http.StatusBadRequest, "delay: "+err.Error())
				return
			}
		}
		if f.Status == 0 && d == 0 && !f.Drop {
			adminError(w, http.StatusBadRequest, "a fault needs a status, a delay or drop")
			return
		}
		s.InjectFault(Fault{Method: strings.ToUpper(f.Method), Path: f.Path, Count: f.Count, Status: f.Status, Delay: d, Drop: f.Drop, RetryAfter: f.RetryAfter})
		w.WriteHeader(http.StatusNoContent)
	case rest == "faults" && m == http.MethodDelete:
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case rest == "random-faults" && m == http.MethodPost:
		var rf struct {
			Seed     int64   `json:"seed"`
			Rate     float64 `json:"rate"`
			Statuses []int   `json:"statuses"`
			Method   string  `json:"method"`
			Path     string  `json:"path"`
		}
		if !adminDecode(w, r, &rf) {
			return
		}
		s.SetRandomFaults(RandomFaults{Seed: rf.Seed, Rate: rf.Rate, Statuses: rf.Statuses, Method: strings.ToUpper(rf.Method), Path: rf.Path})
		w.WriteHeader(http.StatusNoContent)
	case rest == "mode" && m == http.MethodPut:
		var body struct {
			UsersMode           UsersMode `json:"usersMode"`
			Status              int       `json:"status"`
			Code                string    `json:"code"`
			PatchDropsEcommerce *bool     `json:"patchDropsEcommerce"`
		}
		if !adminDecode(w, r, &body) {
			return
		}
		if body.UsersMode != "" && body.UsersMode != ModeLegacy && body.UsersMode != ModeRemoved {
			adminError(w, http.StatusBadRequest, "usersMode must be legacy or removed")
			return
		}
		if body.UsersMode != "" {
			s.SetUsersMode(body.UsersMode)
		}
		s.SetRemovedAnswer(body.Status, body.Code)
		if body.PatchDropsEcommerce != nil {
			s.SetPatchDropsEcommerce(*body.PatchDropsEcommerce)
		}
		w.WriteHeader(http.StatusNoContent)
	case rest == "ratelimit" && m == http.MethodPut:
		var body struct {
			PerMinute *int   `json:"perMinute"`
			Token     string `json:"token"`
		}
		if !adminDecode(w, r, &body) {
			return
		}
		if body.PerMinute == nil || *body.PerMinute < 0 {
			adminError(w, http.StatusBadRequest, "perMinute (>= 0) is required")
			return
		}
		if body.Token != "" {
			s.SetTokenRateLimit(body.Token, *body.PerMinute)
		} else {
			s.SetRateLimit(*body.PerMinute)
		}
		w.WriteHeader(http.StatusNoContent)
	case len(seg) == 5 && seg[0] == "sites" && seg[2] == "users" && seg[4] == "verify" && m == http.MethodPost:
		if err := s.VerifyUser(seg[1], seg[3]); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		u, _ := s.User(seg[1], seg[3])
		writeJSON(w, http.StatusOK, u)
	case len(seg) == 5 && seg[0] == "sites" && seg[2] == "users" && seg[4] == "accessGroups" && m == http.MethodPut:
		var body struct {
			AccessGroups []webflowdata.AccessGroupRef `json:"accessGroups"`
		}
		if !adminDecode(w, r, &body) {
			return
		}
		u, err := s.SetUserAccessGroups(seg[1], seg[3], body.AccessGroups)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, u)
	case len(seg) == 3 && seg[0] == "sites" && seg[2] == "users" && m == http.MethodPost:
		var su SeedUser
		if !adminDecode(w, r, &su) {
			return
		}
		u, err := s.AddUser(seg[1], su)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusCreated, u)
	default:
		if !s.serveEnterpriseAdmin(w, r, seg) {
			adminError(w, http.StatusNotFound, "unknown admin route "+m+" "+r.URL.Path)
		}
	}
}

func adminDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// StateSite is one site in a State snapshot.
type StateSite struct {
	Site         webflowdata.Site          `json:"site"`
	AccessGroups []webflowdata.AccessGroup `json:"accessGroups"`
	Users        []webflowdata.User        `json:"users"`
	Webhooks     []webflowdata.Webhook     `json:"webhooks"`
}

// StateSnapshot is everything the simulator holds, minus tokens.
type StateSnapshot struct {
	Workspace  SeedWorkspace    `json:"workspace"`
	UsersMode  UsersMode        `json:"usersMode"`
	Removed    map[string]any   `json:"removedAnswer"`
	Tokens     []string         `json:"tokenLabels"`
	Sites      []StateSite      `json:"sites"`
	SCIMUsers  []map[string]any `json:"scimUsers"`
	InviteSent int              `json:"invitesSent"`
}

// State returns a snapshot of the simulator's state. Tokens appear by
// label only.
func (s *Simulator) State() StateSnapshot {
	s.mu.RLock()
	out := StateSnapshot{
		Workspace:  SeedWorkspace{ID: s.workspace.ID, Name: s.workspace.Name},
		UsersMode:  s.usersMode,
		Removed:    map[string]any{"status": s.removedSt, "code": s.removedCd},
		Sites:      make([]StateSite, 0, len(s.siteOrder)),
		InviteSent: len(s.invites),
	}
	for _, t := range s.tokens {
		out.Tokens = append(out.Tokens, t.label)
	}
	sort.Strings(out.Tokens)
	for _, id := range s.siteOrder {
		st := s.sites[id]
		ss := StateSite{Site: st.site, AccessGroups: []webflowdata.AccessGroup{}, Users: make([]webflowdata.User, 0, len(st.order)), Webhooks: []webflowdata.Webhook{}}
		for _, g := range st.groups {
			ss.AccessGroups = append(ss.AccessGroups, *g)
		}
		for _, u := range st.order {
			ss.Users = append(ss.Users, u.clone())
		}
		for _, h := range st.hooks {
			ss.Webhooks = append(ss.Webhooks, h.public())
		}
		out.Sites = append(out.Sites, ss)
	}
	s.mu.RUnlock()
	out.SCIMUsers = s.SCIMUsers()
	return out
}
