package webflowsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SCIM schema URNs.
const (
	scimUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimListSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimContentType = "application/scim+json"
)

var ctSCIM = []string{scimContentType}

// scimUser is a workspace collaborator as Webflow's native SCIM keeps it:
// core attributes only (Webflow syncs first name, last name and email).
type scimUser struct {
	id, externalID, userName, displayName string
	givenName, familyName                 string
	emails                                []scimEmail
	active                                bool
	created, modified                     time.Time
	version                               int
}

type scimEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

func (u *scimUser) UserName() string { return u.userName }

// resource renders the user; base is the absolute /Users URL prefix.
func (u *scimUser) resource(base string) map[string]any {
	m := map[string]any{
		"schemas":  []string{scimUserSchema},
		"id":       u.id,
		"userName": u.userName,
		"name":     map[string]any{"givenName": u.givenName, "familyName": u.familyName, "formatted": strings.TrimSpace(u.givenName + " " + u.familyName)},
		"active":   u.active,
		"emails":   append([]scimEmail{}, u.emails...),
		"meta": map[string]any{
			"resourceType": "User",
			"created":      u.created.UTC().Format(time.RFC3339Nano),
			"lastModified": u.modified.UTC().Format(time.RFC3339Nano),
			"location":     base + "/Users/" + u.id,
			"version":      `W/"` + strconv.Itoa(u.version) + `"`,
		},
	}
	if u.displayName != "" {
		m["displayName"] = u.displayName
	}
	if u.externalID != "" {
		m["externalId"] = u.externalID
	}
	return m
}

// scimStore holds the collaborators, in creation order, under its own
// lock: SCIM traffic never contends with the Data API.
type scimStore struct {
	mu    sync.RWMutex
	byID  map[string]*scimUser
	order []*scimUser
}

func newSCIMStore() *scimStore { return &scimStore{byID: map[string]*scimUser{}} }

func (st *scimStore) fromSeed(id string, su SeedSCIMUser, now time.Time) *scimUser {
	u := &scimUser{id: id, userName: su.UserName, givenName: su.GivenName, familyName: su.FamilyName,
		externalID: su.ExternalID, active: su.Active == nil || *su.Active, created: now, modified: now, version: 1}
	if su.Email != "" {
		u.emails = []scimEmail{{Value: su.Email, Type: "work", Primary: true}}
	}
	return u
}

func (st *scimStore) insert(u *scimUser) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.taken(u.userName, "") {
		return fmt.Errorf("userName %q is taken", u.userName)
	}
	st.byID[u.id] = u
	st.order = append(st.order, u)
	return nil
}

// taken reports a userName clash (case-insensitive) with a user other than
// except. Caller holds mu.
func (st *scimStore) taken(userName, except string) bool {
	for _, u := range st.order {
		if u.id != except && strings.EqualFold(u.userName, userName) {
			return true
		}
	}
	return false
}

// SCIMUsers returns the native-SCIM users as SCIM resources (with relative
// meta.location).
func (s *Simulator) SCIMUsers() []map[string]any {
	s.scim.mu.RLock()
	defer s.scim.mu.RUnlock()
	out := make([]map[string]any, 0, len(s.scim.order))
	for _, u := range s.scim.order {
		out = append(out, u.resource(s.opts.SCIMBasePath))
	}
	return out
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeSCIMError(w, http.StatusInternalServerError, "", "encoding failed")
		return
	}
	w.Header()[headerContentType] = ctSCIM
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeSCIMError writes an RFC 7644 error; status is a string, as the RFC
// and Okta's parser require.
func writeSCIMError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{scimErrorSchema}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	b, _ := json.Marshal(body)
	w.Header()[headerContentType] = ctSCIM
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// scimBase is the absolute base URL, built from the request's Host so that
// meta.location works behind whatever address the test server picked.
func (s *Simulator) scimBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.opts.SCIMBasePath
}

func (s *Simulator) serveSCIM(w *recorder, r *http.Request) {
	tok := bearer(r)
	s.mu.RLock()
	ok := tok != "" && s.scimTok[tok]
	s.mu.RUnlock()
	if !ok {
		writeSCIMError(w, http.StatusUnauthorized, "", "Authentication failed: missing or invalid bearer token")
		return
	}
	w.label = "scim"
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, s.opts.SCIMBasePath), "/")
	seg := strings.Split(rest, "/")
	switch {
	case seg[0] == "Groups":
		writeSCIMError(w, s.opts.SCIMGroupsStatus, "", "Groups are not supported: Webflow doesn't currently support assigning roles or groups via your IdP")
	case rest == "ServiceProviderConfig" && r.Method == http.MethodGet:
		writeSCIM(w, http.StatusOK, map[string]any{
			"schemas":               []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
			"patch":                 map[string]any{"supported": true},
			"bulk":                  map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
			"filter":                map[string]any{"supported": true, "maxResults": 100},
			"changePassword":        map[string]any{"supported": false},
			"sort":                  map[string]any{"supported": false},
			"etag":                  map[string]any{"supported": false},
			"authenticationSchemes": []map[string]any{{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Bearer token from Webflow"}},
		})
	case len(seg) == 1 && seg[0] == "Users" && r.Method == http.MethodGet:
		s.scimList(w, r)
	case len(seg) == 1 && seg[0] == "Users" && r.Method == http.MethodPost:
		s.scimCreate(w, r)
	case len(seg) == 2 && seg[0] == "Users":
		switch r.Method {
		case http.MethodGet:
			s.scimGet(w, r, seg[1])
		case http.MethodPut:
			s.scimPut(w, r, seg[1])
		case http.MethodPatch:
			s.scimPatch(w, r, seg[1])
		case http.MethodDelete:
			s.scimDelete(w, seg[1])
		default:
			writeSCIMError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		}
	default:
		writeSCIMError(w, http.StatusNotFound, "", "resource not found")
	}
}

func readSCIMBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil || m == nil {
		writeSCIMError(w, http.StatusBadRequest, "invalidSyntax", "request body is not a JSON object")
		return nil, false
	}
	return m, true
}

func (s *Simulator) scimGet(w http.ResponseWriter, r *http.Request, id string) {
	s.scim.mu.RLock()
	u := s.scim.byID[id]
	var res map[string]any
	if u != nil {
		res = u.resource(s.scimBase(r))
	}
	s.scim.mu.RUnlock()
	if u == nil {
		writeSCIMError(w, http.StatusNotFound, "", "User "+id+" not found")
		return
	}
	writeSCIM(w, http.StatusOK, res)
}

func (s *Simulator) scimList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	match, err := parseSCIMFilter(q.Get("filter"))
	if err != nil {
		writeSCIMError(w, http.StatusBadRequest, "invalidFilter", err.Error())
		return
	}
	start, count := 1, 100
	if v := q.Get("startIndex"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 1 {
			start = n
		}
	}
	if v := q.Get("count"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			count = min(n, 100)
		}
	}
	base := s.scimBase(r)
	s.scim.mu.RLock()
	var hits []*scimUser
	for _, u := range s.scim.order {
		if match(u) {
			hits = append(hits, u)
		}
	}
	res := []map[string]any{}
	for i := start - 1; i < len(hits) && len(res) < count; i++ {
		res = append(res, hits[i].resource(base))
	}
	s.scim.mu.RUnlock()
	writeSCIM(w, http.StatusOK, map[string]any{
		"schemas": []string{scimListSchema}, "totalResults": len(hits),
		"startIndex": start, "itemsPerPage": len(res), "Resources": res,
	})
}

// parseSCIMFilter supports what IdPs send: attr eq "value", joined by and.
func parseSCIMFilter(f string) (func(*scimUser) bool, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return func(*scimUser) bool { return true }, nil
	}
	var preds []func(*scimUser) bool
	for _, part := range splitAnd(f) {
		fs := strings.SplitN(strings.TrimSpace(part), " ", 3)
		if len(fs) != 3 || !strings.EqualFold(fs[1], "eq") {
			return nil, fmt.Errorf("unsupported filter %q: only 'attr eq \"value\"' (and 'and') is supported", f)
		}
		val, err := strconv.Unquote(strings.TrimSpace(fs[2]))
		if err != nil {
			return nil, fmt.Errorf("filter value must be a quoted string: %q", fs[2])
		}
		switch strings.ToLower(fs[0]) {
		case "username":
			preds = append(preds, func(u *scimUser) bool { return strings.EqualFold(u.userName, val) })
		case "externalid":
			preds = append(preds, func(u *scimUser) bool { return u.externalID == val })
		case "id":
			preds = append(preds, func(u *scimUser) bool { return u.id == val })
		case "displayname":
			preds = append(preds, func(u *scimUser) bool { return u.displayName == val })
		case "emails.value", "emails":
			preds = append(preds, func(u *scimUser) bool {
				for _, e := range u.emails {
					if strings.EqualFold(e.Value, val) {
						return true
					}
				}
				return false
			})
		default:
			return nil, fmt.Errorf("unsupported filter attribute %q", fs[0])
		}
	}
	return func(u *scimUser) bool {
		for _, p := range preds {
			if !p(u) {
				return false
			}
		}
		return true
	}, nil
}

func splitAnd(f string) []string {
	var out []string
	low := strings.ToLower(f)
	for {
		i := strings.Index(low, " and ")
		if i < 0 {
			return append(out, f)
		}
		out = append(out, f[:i])
		f, low = f[i+5:], low[i+5:]
	}
}

// applyFull sets every core attribute from a POST/PUT body; attributes
// not given are cleared (PUT is a replace). Unknown attributes and nulls
// are ignored, as IdPs send plenty of both.
func applyFull(u *scimUser, m map[string]any) error {
	name, _ := m["userName"].(string)
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("userName is required")
	}
	u.userName = name
	u.externalID, _ = m["externalId"].(string)
	u.displayName, _ = m["displayName"].(string)
	u.givenName, u.familyName = "", ""
	if n, ok := m["name"].(map[string]any); ok {
		u.givenName, _ = n["givenName"].(string)
		u.familyName, _ = n["familyName"].(string)
	}
	u.emails = nil
	if err := setAttr(u, "emails", m["emails"], false); err != nil {
		return err
	}
	u.active = true
	if v, ok := m["active"]; ok && v != nil {
		b, ok := scimBool(v)
		if !ok {
			return fmt.Errorf("active must be a boolean")
		}
		u.active = b
	}
	return nil
}

// scimBool accepts true/false and Entra's "True"/"False" strings.
func scimBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		b, err := strconv.ParseBool(strings.ToLower(t))
		return b, err == nil
	}
	return false, false
}

func parseEmails(v any) ([]scimEmail, error) {
	if v == nil {
		return nil, nil
	}
	b, _ := json.Marshal(v)
	var es []scimEmail
	if err := json.Unmarshal(b, &es); err != nil {
		var one scimEmail
		if json.Unmarshal(b, &one) != nil {
			return nil, fmt.Errorf("emails must be an array of {value,type,primary}")
		}
		es = []scimEmail{one}
	}
	return es, nil
}

// setAttr applies one add/replace to a (case-insensitive) attribute path;
// add on emails appends, replace replaces. Unknown attributes are ignored.
func setAttr(u *scimUser, path string, v any, add bool) error {
	lp := strings.ToLower(path)
	str := func() string { s, _ := v.(string); return s }
	switch {
	case lp == "username":
		if str() == "" {
			return fmt.Errorf("userName must be a non-empty string")
		}
		u.userName = str()
	case lp == "externalid":
		u.externalID = str()
	case lp == "displayname":
		u.displayName = str()
	case lp == "active":
		b, ok := scimBool(v)
		if !ok {
			return fmt.Errorf("active must be a boolean")
		}
		u.active = b
	case lp == "name":
		n, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("name must be an object")
		}
		for k, x := range n {
			if err := setAttr(u, "name."+k, x, add); err != nil {
				return err
			}
		}
	case lp == "name.givenname":
		u.givenName = str()
	case lp == "name.familyname":
		u.familyName = str()
	case lp == "emails":
		es, err := parseEmails(v)
		if err != nil {
			return err
		}
		if add {
			u.emails = append(u.emails, es...)
		} else {
			u.emails = es
		}
	case strings.HasPrefix(lp, "emails[") || lp == "emails.value":
		typ := emailFilterType(path)
		val := str()
		for i := range u.emails {
			if typ == "" && (u.emails[i].Primary || len(u.emails) == 1) || typ != "" && strings.EqualFold(u.emails[i].Type, typ) {
				u.emails[i].Value = val
				return nil
			}
		}
		u.emails = append(u.emails, scimEmail{Value: val, Type: typ, Primary: len(u.emails) == 0})
	}
	return nil
}

// emailFilterType extracts "work" from emails[type eq "work"].value.
func emailFilterType(path string) string {
	i, j := strings.Index(path, "["), strings.Index(path, "]")
	if i < 0 || j < i {
		return ""
	}
	fs := strings.SplitN(strings.TrimSpace(path[i+1:j]), " ", 3)
	if len(fs) == 3 && strings.EqualFold(fs[0], "type") {
		if v, err := strconv.Unquote(fs[2]); err == nil {
			return v
		}
	}
	return ""
}

func removeAttr(u *scimUser, path string) {
	lp := strings.ToLower(path)
	switch {
	case lp == "externalid":
		u.externalID = ""
	case lp == "displayname":
		u.displayName = ""
	case lp == "name":
		u.givenName, u.familyName = "", ""
	case lp == "name.givenname":
		u.givenName = ""
	case lp == "name.familyname":
		u.familyName = ""
	case lp == "emails":
		u.emails = nil
	case strings.HasPrefix(lp, "emails["):
		typ := emailFilterType(path)
		kept := u.emails[:0]
		for _, e := range u.emails {
			if !strings.EqualFold(e.Type, typ) {
				kept = append(kept, e)
			}
		}
		u.emails = kept
	}
}

func (s *Simulator) scimCreate(w http.ResponseWriter, r *http.Request) {
	m, ok := readSCIMBody(w, r)
	if !ok {
		return
	}
	now := s.now()
	u := &scimUser{id: s.ids.uuid(), created: now, modified: now, version: 1}
	if err := applyFull(u, m); err != nil {
		writeSCIMError(w, http.StatusBadRequest, "invalidValue", err.Error())
		return
	}
	if err := s.scim.insert(u); err != nil {
		writeSCIMError(w, http.StatusConflict, "uniqueness", "User with userName "+strconv.Quote(u.userName)+" already exists")
		return
	}
	s.syncSCIMMember(u.id)
	s.scim.mu.RLock()
	res := u.resource(s.scimBase(r))
	s.scim.mu.RUnlock()
	w.Header().Set("Location", res["meta"].(map[string]any)["location"].(string))
	writeSCIM(w, http.StatusCreated, res)
}

// scimUpdate runs fn on a copy of the user and commits it if the userName
// stays unique.
func (s *Simulator) scimUpdate(w http.ResponseWriter, r *http.Request, id string, fn func(*scimUser) (string, error)) {
	now := s.now()
	s.scim.mu.Lock()
	cur := s.scim.byID[id]
	if cur == nil {
		s.scim.mu.Unlock()
		writeSCIMError(w, http.StatusNotFound, "", "User "+id+" not found")
		return
	}
	next := *cur
	next.emails = append([]scimEmail(nil), cur.emails...)
	if scimType, err := fn(&next); err != nil {
		s.scim.mu.Unlock()
		writeSCIMError(w, http.StatusBadRequest, scimType, err.Error())
		return
	}
	if s.scim.taken(next.userName, id) {
		s.scim.mu.Unlock()
		writeSCIMError(w, http.StatusConflict, "uniqueness", "User with userName "+strconv.Quote(next.userName)+" already exists")
		return
	}
	next.modified = now
	next.version++
	*cur = next
	res := cur.resource(s.scimBase(r))
	s.scim.mu.Unlock()
	s.syncSCIMMember(id)
	writeSCIM(w, http.StatusOK, res)
}

func (s *Simulator) scimPut(w http.ResponseWriter, r *http.Request, id string) {
	m, ok := readSCIMBody(w, r)
	if !ok {
		return
	}
	s.scimUpdate(w, r, id, func(u *scimUser) (string, error) { return "invalidValue", applyFull(u, m) })
}

// scimPatch applies RFC 7644 PatchOp operations: add/replace/remove, op
// names case-insensitive, path-less values (including Entra's dotted keys
// like "name.givenName") and filtered email paths.
func (s *Simulator) scimPatch(w http.ResponseWriter, r *http.Request, id string) {
	m, ok := readSCIMBody(w, r)
	if !ok {
		return
	}
	ops, _ := m["Operations"].([]any)
	if ops == nil {
		ops, _ = m["operations"].([]any)
	}
	if len(ops) == 0 {
		writeSCIMError(w, http.StatusBadRequest, "invalidSyntax", "PatchOp needs Operations")
		return
	}
	s.scimUpdate(w, r, id, func(u *scimUser) (string, error) {
		for _, raw := range ops {
			op, _ := raw.(map[string]any)
			if op == nil {
				return "invalidSyntax", fmt.Errorf("operation must be an object")
			}
			name, _ := op["op"].(string)
			path, _ := op["path"].(string)
			val := op["value"]
			switch strings.ToLower(name) {
			case "add", "replace":
				add := strings.EqualFold(name, "add")
				if path == "" {
					obj, ok := val.(map[string]any)
					if !ok {
						return "invalidValue", fmt.Errorf("a path-less %s needs an object value", name)
					}
					for k, v := range obj {
						if v == nil {
							continue
						}
						if err := setAttr(u, k, v, add); err != nil {
							return "invalidValue", err
						}
					}
					continue
				}
				if err := setAttr(u, path, val, add); err != nil {
					return "invalidValue", err
				}
			case "remove":
				if path == "" {
					return "noTarget", fmt.Errorf("remove needs a path")
				}
				removeAttr(u, path)
			default:
				return "invalidSyntax", fmt.Errorf("unknown op %q", name)
			}
		}
		return "", nil
	})
}

func (s *Simulator) scimDelete(w http.ResponseWriter, id string) {
	s.scim.mu.Lock()
	u := s.scim.byID[id]
	if u != nil {
		delete(s.scim.byID, id)
		for i, x := range s.scim.order {
			if x == u {
				s.scim.order = append(s.scim.order[:i], s.scim.order[i+1:]...)
				break
			}
		}
	}
	s.scim.mu.Unlock()
	if u == nil {
		writeSCIMError(w, http.StatusNotFound, "", "User "+id+" not found")
		return
	}
	s.syncSCIMMember(id)
	w.WriteHeader(http.StatusNoContent)
}
