package webflowsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Sort keys of GET /sites/{id}/users.
var userSorts = []string{"CreatedOn", "Email", "Status", "LastLogin", "UpdatedOn"}

func writeUserNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, webflowdata.CodeUserNotFound, msgUserNotFound)
}

func validation(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, webflowdata.CodeValidationError, "Validation Error: "+msg)
}

func pageHeader(buf *bytes.Buffer, count, limit, offset, total int) {
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(count))
	buf.WriteString(`,"limit":`)
	buf.WriteString(strconv.Itoa(limit))
	buf.WriteString(`,"offset":`)
	buf.WriteString(strconv.Itoa(offset))
	buf.WriteString(`,"total":`)
	buf.WriteString(strconv.Itoa(total))
}

// listUsers pages the site's users, by creation order unless sorted. The
// body is stitched from each user's cached JSON.
func (s *Simulator) listUsers(w http.ResponseWriter, r *http.Request, st *siteState) {
	pg, ok := parsePaging(w, r, 10, userSorts...)
	if !ok {
		return
	}
	s.mu.RLock()
	users := st.order
	if pg.sort != "" {
		users = slices.Clone(st.order)
		slices.SortStableFunc(users, func(a, b *userRec) int {
			c := compareUsers(pg.sort, &a.u, &b.u)
			if pg.desc {
				c = -c
			}
			return c
		})
	}
	lo, hi := pg.window(len(users))
	var buf bytes.Buffer
	pageHeader(&buf, hi-lo, pg.limit, pg.offset, len(users))
	buf.WriteString(`,"users":[`)
	for i, u := range users[lo:hi] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(u.enc)
	}
	s.mu.RUnlock()
	buf.WriteString(`]}`)
	writeRaw(w, http.StatusOK, buf.Bytes())
}

func compareUsers(key string, a, b *webflowdata.User) int {
	switch key {
	case "Email":
		return strings.Compare(strings.ToLower(a.Email()), strings.ToLower(b.Email()))
	case "Status":
		return strings.Compare(a.Status, b.Status)
	case "LastLogin":
		return a.LastLogin.Compare(b.LastLogin.Time)
	case "UpdatedOn":
		return a.LastUpdated.Compare(b.LastUpdated.Time)
	default:
		return a.CreatedOn.Compare(b.CreatedOn.Time)
	}
}

// getUser is the benchmark's hot path: a map lookup and a write of bytes
// encoded when the user last changed.
func (s *Simulator) getUser(w http.ResponseWriter, st *siteState, id string) {
	s.mu.RLock()
	var b []byte
	if rec := st.users[id]; rec != nil {
		b = rec.enc
	}
	s.mu.RUnlock()
	if b == nil {
		writeUserNotFound(w)
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// decodeSlugs reads an accessGroups value: slug strings or {slug} objects.
func decodeSlugs(raw json.RawMessage) ([]string, bool) {
	var refs []webflowdata.AccessGroupRef
	if err := json.Unmarshal(raw, &refs); err != nil {
		return nil, false
	}
	out := make([]string, 0, len(refs))
	for _, g := range refs {
		if g.Slug == "" {
			return nil, false
		}
		if !slices.Contains(out, g.Slug) {
			out = append(out, g.Slug)
		}
	}
	return out, true
}

func unknownSlug(st *siteState, slugs []string) string {
	for _, sl := range slugs {
		if st.bySlug[sl] == nil {
			return sl
		}
	}
	return ""
}

// inviteUser handles POST /sites/{id}/users/invite. The body is exactly
// {email, accessGroups?}; anything else (notably name) is a validation
// error, because Webflow's invite takes no other field.
func (s *Simulator) inviteUser(w http.ResponseWriter, r *http.Request, st *siteState) {
	m, ok := readJSONObject(w, r)
	if !ok {
		return
	}
	for k := range m {
		if k != "email" && k != "accessGroups" {
			validation(w, "Unknown field '"+k+"': the invite body takes only email and accessGroups")
			return
		}
	}
	var email string
	if isNull(m["email"]) || json.Unmarshal(m["email"], &email) != nil || email == "" {
		validation(w, "email is required")
		return
	}
	if !validEmail(email) {
		writeError(w, http.StatusBadRequest, webflowdata.CodeInvalidUserEmail, "Invalid email: "+strconv.Quote(email)+" is not a valid email address")
		return
	}
	var slugs []string
	if !isNull(m["accessGroups"]) {
		if slugs, ok = decodeSlugs(m["accessGroups"]); !ok {
			validation(w, "accessGroups must be an array of access group slugs")
			return
		}
	}
	now := webflowdata.NewTime(s.now())
	s.mu.Lock()
	if sl := unknownSlug(st, slugs); sl != "" {
		s.mu.Unlock()
		validation(w, "Access group '"+sl+"' does not exist")
		return
	}
	if st.emails[strings.ToLower(email)] != nil {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeDuplicateUserEmail, "A user with this email already exists on this site")
		return
	}
	if len(st.order) >= s.opts.MaxUsersPerSite {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, webflowdata.CodeUserLimitReached, "The site has reached its limit of "+strconv.Itoa(s.opts.MaxUsersPerSite)+" users")
		return
	}
	u := webflowdata.User{
		ID: s.ids.objectID(now.Time), LastUpdated: now, InvitedOn: now, CreatedOn: now,
		Status: webflowdata.StatusInvited, AccessGroups: make([]webflowdata.AccessGroupRef, 0, len(slugs)),
		Data: webflowdata.UserData{
			webflowdata.DataEmail:                email,
			webflowdata.DataAcceptPrivacy:        false,
			webflowdata.DataAcceptCommunications: false,
		},
	}
	for _, sl := range slugs {
		u.AccessGroups = append(u.AccessGroups, webflowdata.AccessGroupRef{Slug: sl, Type: webflowdata.AccessGroupAdmin})
	}
	rec := &userRec{u: u}
	rec.encode()
	st.insert(rec)
	s.invites = append(s.invites, Invite{SiteID: st.site.ID, Email: email, UserID: u.ID, At: now.Time})
	s.inviteCnt[strings.ToLower(email)]++
	body := rec.enc
	jobs := s.webhookJobs(st, webflowdata.TriggerUserAccountAdded, body)
	s.mu.Unlock()
	s.deliver(jobs)
	writeRaw(w, http.StatusOK, body)
}

// updateUser handles PATCH /sites/{id}/users/{user}. data merges into the
// user's data (null deletes a custom key, resets a consent flag to false);
// accessGroups replaces the whole list, except that groups the user holds
// as type ecommerce stay: they come from purchases and the API can neither
// assign nor remove them. Listed slugs the user already holds as ecommerce
// keep that type; the rest become admin. Other top-level keys (the
// Aug-2025 spec described a full User body) are ignored.
func (s *Simulator) updateUser(w http.ResponseWriter, r *http.Request, st *siteState, id string) {
	m, ok := readJSONObject(w, r)
	if !ok {
		return
	}
	var data map[string]any
	if !isNull(m["data"]) {
		if json.Unmarshal(m["data"], &data) != nil {
			validation(w, "data must be an object")
			return
		}
		if _, has := data[webflowdata.DataEmail]; has {
			validation(w, "email cannot be updated")
			return
		}
		if _, has := data["password"]; has {
			validation(w, "password cannot be updated")
			return
		}
	}
	var slugs []string
	setGroups := !isNull(m["accessGroups"])
	if setGroups {
		if slugs, ok = decodeSlugs(m["accessGroups"]); !ok {
			validation(w, "accessGroups must be an array of access group slugs")
			return
		}
	}
	now := webflowdata.NewTime(s.now())
	s.mu.Lock()
	rec := st.users[id]
	if rec == nil {
		s.mu.Unlock()
		writeUserNotFound(w)
		return
	}
	if sl := unknownSlug(st, slugs); sl != "" {
		s.mu.Unlock()
		validation(w, "Access group '"+sl+"' does not exist")
		return
	}
	u := rec.clone()
	for k, v := range data {
		switch {
		case v != nil:
			u.Data[k] = v
		case k == webflowdata.DataAcceptPrivacy || k == webflowdata.DataAcceptCommunications:
			u.Data[k] = false
		default:
			delete(u.Data, k)
		}
	}
	if setGroups {
		u.AccessGroups = replaceGroups(u.AccessGroups, slugs, s.dropEcom)
	}
	u.LastUpdated = now
	rec.u = u
	rec.encode()
	body := rec.enc
	jobs := s.webhookJobs(st, webflowdata.TriggerUserAccountUpdated, body)
	s.mu.Unlock()
	s.deliver(jobs)
	writeRaw(w, http.StatusOK, body)
}

// replaceGroups applies PATCH's replacement semantics (see updateUser);
// with dropEcom, unlisted ecommerce groups go too.
func replaceGroups(held []webflowdata.AccessGroupRef, slugs []string, dropEcom bool) []webflowdata.AccessGroupRef {
	ecom := map[string]bool{}
	for _, g := range held {
		if g.Type == webflowdata.AccessGroupEcommerce {
			ecom[g.Slug] = true
		}
	}
	out := make([]webflowdata.AccessGroupRef, 0, len(slugs)+len(ecom))
	for _, sl := range slugs {
		typ := webflowdata.AccessGroupAdmin
		if ecom[sl] {
			typ = webflowdata.AccessGroupEcommerce
			delete(ecom, sl)
		}
		out = append(out, webflowdata.AccessGroupRef{Slug: sl, Type: typ})
	}
	for _, g := range held {
		if g.Type == webflowdata.AccessGroupEcommerce && ecom[g.Slug] && !dropEcom {
			out = append(out, g)
		}
	}
	return out
}

// deleteUser answers 204 with no body, as the docs say (the Fern mock's
// 200 is only the mock server's default).
func (s *Simulator) deleteUser(w http.ResponseWriter, st *siteState, id string) {
	s.mu.Lock()
	rec := st.users[id]
	if rec == nil {
		s.mu.Unlock()
		writeUserNotFound(w)
		return
	}
	st.remove(rec)
	jobs := s.webhookJobs(st, webflowdata.TriggerUserAccountDeleted, rec.enc)
	s.mu.Unlock()
	s.deliver(jobs)
	w.WriteHeader(http.StatusNoContent)
}

// listAccessGroups pages the site's access groups (read-only in Webflow).
func (s *Simulator) listAccessGroups(w http.ResponseWriter, r *http.Request, st *siteState) {
	pg, ok := parsePaging(w, r, 10, "CreatedOn")
	if !ok {
		return
	}
	s.mu.RLock()
	groups := slices.Clone(st.groups)
	s.mu.RUnlock()
	if pg.sort != "" {
		slices.SortStableFunc(groups, func(a, b *webflowdata.AccessGroup) int {
			c := a.CreatedOn.Compare(b.CreatedOn.Time)
			if pg.desc {
				c = -c
			}
			return c
		})
	}
	lo, hi := pg.window(len(groups))
	out := webflowdata.AccessGroupList{
		Page:         webflowdata.Page{Count: hi - lo, Limit: pg.limit, Offset: pg.offset, Total: len(groups)},
		AccessGroups: make([]webflowdata.AccessGroup, 0, hi-lo),
	}
	for _, g := range groups[lo:hi] {
		out.AccessGroups = append(out.AccessGroups, *g)
	}
	writeJSON(w, http.StatusOK, out)
}
