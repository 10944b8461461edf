package scimserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// renderUsers are records as FillRecord stores them: Okta's and Entra's
// users, bare ones, every attribute, names that need escaping, data of
// every JSON type, with and without a Webflow user.
func renderUsers(t testing.TB) []*state.UserRecord {
	t.Helper()
	at := time.Date(2026, 11, 26, 20, 38, 0, 473_000_000, time.UTC)
	zone := time.FixedZone("x", -5*3600)
	wf := func(id string, mut func(*webflowdata.User)) *webflowdata.User {
		u := &webflowdata.User{ID: id, Status: webflowdata.StatusInvited, CreatedOn: webflowdata.NewTime(at), LastUpdated: webflowdata.NewTime(at),
			InvitedOn: webflowdata.NewTime(at.Add(-time.Hour)), AccessGroups: []webflowdata.AccessGroupRef{}, Data: webflowdata.UserData{}}
		if mut != nil {
			mut(u)
		}
		return u
	}
	tests := []struct {
		id    string
		u     mapping.User
		email string
		wu    *webflowdata.User
		mut   func(*state.UserRecord)
	}{
		{"6b087a7ee91ee8385b007a31", mapping.User{UserName: "test.user@okta.local", ExternalID: "00ujl29u0le5T6Aj10h7", DisplayName: "Test User", Locale: "en-US", Active: true,
			Name: mapping.Name{GivenName: "Test", FamilyName: "User"}, Emails: []mapping.Email{{Value: "test.user@okta.local", Type: "work", Primary: true}}},
			"test.user@okta.local", wf("6b087a7ee91ee8385b007a31", func(u *webflowdata.User) { u.Data["name"] = "Test User"; u.Data["email"] = "test.user@okta.local" }), nil},
		{"6b087a7ee91ee8385b007a32", mapping.User{UserName: "Test_User_00aa00aa@contoso.com", ExternalID: "0a21f0f2-8d2a", Active: false,
			Name: mapping.Name{Formatted: "givenName familyName", GivenName: "givenName", FamilyName: "familyName"}, Emails: []mapping.Email{{Value: "Test_User_11bb@testuser.com", Type: "work", Primary: true}}},
			"test_user_11bb@testuser.com", wf("6b087a7ee91ee8385b007a32", func(u *webflowdata.User) {
				u.Status = webflowdata.StatusVerified
				u.LastLogin = webflowdata.NewTime(at.Add(time.Hour))
				u.AccessGroups = []webflowdata.AccessGroupRef{{Slug: "gold", Type: webflowdata.AccessGroupAdmin}, {Slug: "shop", Type: webflowdata.AccessGroupEcommerce}}
			}), func(r *state.UserRecord) { r.Created, r.Modified = at.In(zone), at.Add(time.Minute).In(zone) }},
		{"bare", mapping.User{UserName: "bare@example.com", Active: true}, "bare@example.com", nil, nil},
		{"no-webflow-id", mapping.User{UserName: "gone@example.com", Active: false}, "gone@example.com", wf("w1", nil), func(r *state.UserRecord) { r.WebflowUserID = "" }},
		{"6b087a7ee91ee8385b007a33", mapping.User{UserName: "all@example.com", ExternalID: "x", DisplayName: "All", NickName: "N", Title: "T", PreferredLanguage: "de", Locale: "de-DE",
			Timezone: "Europe/Berlin", UserType: "Employee", Active: true,
			Name:         mapping.Name{Formatted: "F", FamilyName: "Fa", GivenName: "Gi", MiddleName: "Mi", HonorificPrefix: "Dr", HonorificSuffix: "Jr"},
			Emails:       []mapping.Email{{Value: "all@example.com", Type: "work", Primary: true}, {Value: "home@example.com", Type: "home"}, {Value: "bare@example.com"}},
			PhoneNumbers: []mapping.PhoneNumber{{Value: "+1 555", Type: "work", Primary: true}, {Value: "+2"}},
			Data:         webflowdata.UserData{"accept-privacy": true, "accept-communications": false, "count": 3.5, "nested": map[string]any{"b": []any{"x", 1.0}, "a": nil}, "nil": nil, "Email": "x", "name": "y", "z-last": "<&>"}},
			"all@example.com", wf("6b087a7ee91ee8385b007a33", nil), nil},
		{"u 1/é<&>", mapping.User{UserName: "esc\"\\\u2028\x01 é 🙂 <&>@example.com", DisplayName: "Quote \" back \\ tab \t nl \n", Active: true,
			Name: mapping.Name{GivenName: "\xff bad utf8"}, Emails: []mapping.Email{{Value: "a+<b>@example.com", Type: "wörk"}}},
			"a+<b>@example.com", wf("u 1/é<&>", func(u *webflowdata.User) {
				u.Status = "odd\"status"
				u.AccessGroups = []webflowdata.AccessGroupRef{{Slug: "a&b"}}
			}), nil},
		{"only-data-name", mapping.User{UserName: "dn@example.com", Active: true, Data: webflowdata.UserData{"name": "x", "EMAIL": "y"}}, "dn@example.com", nil, nil},
	}
	var out []*state.UserRecord
	for _, tc := range tests {
		rec := &state.UserRecord{ID: tc.id, SiteID: "s1", Active: tc.u.Active, Created: at, Modified: at.Add(time.Second)}
		FillRecord(rec, tc.u, tc.email, tc.wu, at)
		if tc.mut != nil {
			tc.mut(rec)
		}
		out = append(out, rec)
	}
	return out
}

// renderGroups are groups attributes as usersHandler.refs builds them.
func renderGroups(base string) [][]any {
	ref := func(id, name string) any {
		return map[string]any{"value": id, "display": name, "$ref": base + "/Groups/" + url.PathEscape(id), "type": "direct"}
	}
	return [][]any{nil, {ref("g1", "Members")}, {ref("g1", "Members"), ref("g/2 é", "<Staff> & \"co\"")}}
}

var renderBases = []string{"https://bridge.example/sites/s1/scim/v2", "http://127.0.0.1:8080/sites/580e63e98c9a982ac9b8b741/scim/v2", ""}

// TestAppendUserAsRender: a list entry written by appendUser is the bytes
// json.Marshal writes for usersHandler.render's map, for every user,
// groups attribute and base.
func TestAppendUserAsRender(t *testing.T) {
	for _, base := range renderBases {
		h := &usersHandler{base: base}
		for _, rec := range renderUsers(t) {
			for gi, groups := range renderGroups(base) {
				want, err := json.Marshal(h.render(rec, nil, base, groups))
				if err != nil {
					t.Fatal(err)
				}
				if got := appendUser(nil, rec, groups, base, userMeta{}); string(got) != string(want) {
					t.Errorf("%s, groups %d, base %q:\n got %s\nwant %s", rec.ID, gi, base, got, want)
				}
			}
		}
	}
}

// userGetter answers the library's GET with one resource.
type userGetter struct {
	scim.ResourceHandler
	res scim.Resource
}

func (g *userGetter) Get(*http.Request, string) (scim.Resource, error) { return g.res, nil }

// TestAppendUserAsTheLibrary: a single User written by appendUser is the
// bytes the library writes for usersHandler.resource's Resource (its meta
// a struct, times as stored, location from the id asked for).
func TestAppendUserAsTheLibrary(t *testing.T) {
	for _, base := range renderBases {
		h := &usersHandler{base: base}
		g := &userGetter{}
		srv, err := scim.NewServer(&scim.ServerArgs{ServiceProviderConfig: serviceProviderConfig(), ResourceTypes: []scim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
			SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}, {Schema: mapping.UserExtensionSchema()}},
			Handler:          g,
		}}}, scim.WithBaseURL(base))
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range renderUsers(t) {
			for gi, groups := range renderGroups(base) {
				for _, asked := range []string{rec.ID, "6b087a7ee91ee8385b00ffff"} {
					g.res = h.resource(rec, nil, groups)
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v2/Users/"+url.PathEscape(asked), nil))
					if w.Code != http.StatusOK {
						t.Fatalf("library: %d %s", w.Code, w.Body)
					}
					got := appendUser(nil, rec, groups, base, userMeta{library: true, locationID: asked})
					if string(got) != w.Body.String() {
						t.Errorf("%s asked as %s, groups %d, base %q:\n got %s\nwant %s", rec.ID, asked, gi, base, got, w.Body)
					}
				}
			}
		}
	}
}

// TestUserAnswersAsBefore, through the whole server: GET /Users/{id}
// answers the bytes and headers the library answers (slowPaths), for
// every user, with and without a projection and for unknown ids; and
// GET /Users lists (filtered, paged, projected) are the bytes json.Marshal
// wrote for the listResponse of render's maps.
func TestUserAnswersAsBefore(t *testing.T) {
	f := newBoundsFixture(t, nil)
	st := f.srv.sites[boundsSiteA]
	var ids []string
	for i, body := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"okta%d@example.com","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"okta%d@example.com","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00u%d","groups":[],"password":"x","active":true}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"entra%d@contoso.com","active":"False","emails":[{"primary":true,"type":"work","value":"entra%d@contoso.com"}],"name":{"formatted":"g f","familyName":"f","givenName":"g"},"externalId":"e%d"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"esc%d+&x@example.com","displayName":"A \"B\" \\ é 🙂","nickName":"n%d","phoneNumbers":[{"value":"+1 %d","type":"work"}],"urn:ietf:params:scim:schemas:extension:webflow:2.0:User":{"data":{"accept-privacy":true}}}`,
	} {
		for k := range 3 {
			n := i*10 + k
			a := f.do(t, boundsSiteA, http.MethodPost, "/Users", fmt.Appendf(nil, body, n, n, n))
			if a.status != http.StatusCreated {
				t.Fatalf("POST: %d %s", a.status, a.raw)
			}
			ids = append(ids, a.body["id"].(string))
		}
	}
	g := f.do(t, boundsSiteA, http.MethodPost, "/Groups", groupBody("Staff", ids[:4]))
	if g.status != http.StatusCreated {
		t.Fatalf("POST /Groups: %d %s", g.status, g.raw)
	}
	projections := []string{"", "?attributes=userName", "?excludedAttributes=groups", "?attributes=emails.value,name.givenName", "?excludedAttributes=meta,urn:ietf:params:scim:schemas:extension:webflow:2.0:User:data",
		"?attributes=urn:ietf:params:scim:schemas:extension:webflow:2.0:User", "?aadOptscim062020"}
	for _, id := range append(ids, "6b087a7ee91ee8385b00ffff", "nohex") {
		for _, q := range projections {
			st.slowPaths = false
			fast := f.do(t, boundsSiteA, http.MethodGet, "/Users/"+id+q, nil)
			st.slowPaths = true
			lib := f.do(t, boundsSiteA, http.MethodGet, "/Users/"+id+q, nil)
			if fast.status != lib.status || string(fast.raw) != string(lib.raw) {
				t.Errorf("GET /Users/%s%s: %d %s\nlibrary %d %s", id, q, fast.status, fast.raw, lib.status, lib.raw)
			}
			for _, k := range []string{"Content-Type", "Etag", "Location", "Content-Length"} {
				if fast.header.Get(k) != lib.header.Get(k) {
					t.Errorf("GET /Users/%s%s: %s %q, library %q", id, q, k, fast.header.Get(k), lib.header.Get(k))
				}
			}
		}
	}
	st.slowPaths = false
	h := st.users
	for _, q := range []string{"", "?startIndex=2&count=3", "?count=0", "?filter=" + url.QueryEscape(`userName eq "okta1@example.com"`) + "&startIndex=1&count=100",
		"?filter=" + url.QueryEscape(`externalId eq "e11"`), "?filter=" + url.QueryEscape(`displayName eq "nobody"`), "?filter=" + url.QueryEscape(`active eq false`)} {
		for _, p := range projections {
			if p != "" {
				p = "&" + p[1:]
				if q == "" {
					p = "?" + p[1:]
				}
			}
			got := f.do(t, boundsSiteA, http.MethodGet, "/Users"+q+p, nil)
			r := httptest.NewRequest(http.MethodGet, "/v2/Users"+q+p, nil)
			want := oldUserList(t, h, r, st.base)
			if got.status != http.StatusOK || string(got.raw) != string(want) {
				t.Errorf("GET /Users%s%s: %d\n got %s\nwant %s", q, p, got.status, got.raw, want)
			}
		}
	}
}

// oldUserList is GET /Users as the bridge rendered it before appendUser:
// a listResponse of render's maps through json.Marshal.
func oldUserList(t *testing.T, h *usersHandler, r *http.Request, base string) []byte {
	t.Helper()
	q := r.URL.Query()
	start, _ := queryInt(q, "startIndex", 1)
	count, _ := queryInt(q, "count", maxResults)
	start, count = max(start, 1), min(max(count, 0), maxResults)
	var expr filter.Expression
	if raw := strings.TrimSpace(q.Get("filter")); raw != "" {
		var err error
		if expr, err = parseUserFilter(raw); err != nil {
			t.Fatal(err)
		}
	}
	ctx := r.Context()
	recs, total, _, err := h.find(ctx, expr, start, count)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	refs := h.groupRefs(ctx, ids)
	resources := []map[string]any{}
	for _, rec := range recs {
		resources = append(resources, h.render(rec, r, base, refs[rec.ID]))
	}
	b, err := json.Marshal(listResponse{Schemas: []string{listResponseSchema}, TotalResults: total, ItemsPerPage: len(resources), StartIndex: start, Resources: resources})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUserLocation: userLocation is the library's location for every
// base and id, the ones it builds without parsing and the ones it leaves
// to libraryLocation.
func TestUserLocation(t *testing.T) {
	for _, base := range []string{"https://bridge.example/sites/s1/scim/v2", "http://127.0.0.1:8080/sites/580e63e98c9a982ac9b8b741/scim/v2", "http://h", "",
		"HTTP://Bridge.Example/sites/s1/scim/v2", "https://bridge.example/a b/scim/v2", "https://bridge.example/p%2Fq/scim/v2", "https://bridge.example/x?q=1",
		"https://bridge.example/x#f", "https://user:pw@bridge.example/x", "https://[::1]:8443/sites/s/scim/v2", "https://bridge.example//x", "https:///x", "https://",
		"https://bridge.example/~a_b-c.d:e/scim/v2", "https://bridge.example/é/scim/v2", "ftp://bridge.example/x", "https://bridge.example/a;b=c/x"} {
		for _, id := range []string{"6b087a7ee91ee8385b007a31", "u 1/é<&>", "a%2Fb", "", "x.y-z_~", "a:b"} {
			if got, want := userLocation(base, id), libraryLocation(base, "Users", id); got != want {
				t.Errorf("base %q, id %q: %q, library %q", base, id, got, want)
			}
		}
	}
}
