package scimserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/webflowscim/bridge/internal/mapping"
)

// postBodies are POST /Users bodies: the IdPs' (idp-clients.md, the
// bench's IdP form, the conformance replays) and odd or invalid ones.
// taken says whether fastCreateUser must serve the body itself.
var postBodies = []struct {
	name  string
	body  string
	taken bool
}{
	{"Okta create", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`, true},
	{"Okta SPEC create", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"runscope@atko.com","name":{"givenName":"RunscopeX678","familyName":"Yyyyyyyy678"},"emails":[{"primary":true,"value":"runscope@atko.com","type":"work"}],"displayName":"RunscopeX678 Yyyyyyyy678","active":true}`, true},
	{"Entra create", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-0000-4000-8000-000000000001","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`, true},
	{"Entra nulls at top level", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],"userName":"nulls@contoso.com","addresses":null,"phoneNumbers":null,"preferredLanguage":null,"title":null,"department":null,"manager":null,"active":"True"}`, true},
	{"Entra enterprise extension", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"ent@contoso.com","active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","department":"Eng","costCenter":null}}`, true},
	{"Entra string active False", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"off@contoso.com","active":"False"}`, true},
	{"bench mixed", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"mix@example.com","active":true,"name":{"givenName":"Mixed","familyName":"7"},"emails":[{"value":"mix@example.com","type":"work","primary":true}]}`, true},
	{"minimal", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"min@example.com"}`, true},
	{"every kept attribute", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"all@example.com","nickName":"N","title":"T","userType":"Employee","preferredLanguage":"de","locale":"de-DE","timezone":"Europe/Berlin","profileUrl":"https://x","name":{"formatted":"F","familyName":"Fa","givenName":"Gi","middleName":"Mi","honorificPrefix":"Dr","honorificSuffix":"Jr","nick":"ignored"},"phoneNumbers":[{"value":"+1 555","type":"work","primary":true},{"value":"","type":"home"},{"value":"+2","primary":"true"}],"ims":[],"photos":null,"entitlements":[],"x509Certificates":null,"active":false}`, true},
	{"emails trimmed, empty dropped, one primary", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"e@example.com","emails":[{"value":"  e@example.com ","primary":true,"display":"E"},{"value":"","primary":true},{"value":null},{"value":"x@example.com","primary":"TRUE","type":null},{"value":"y@example.com","primary":null,"extra":1}]}`, true},
	{"sub-attribute names in another case", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c@example.com","name":{"GivenName":"G","FAMILYNAME":"F"},"emails":[{"Value":"c@example.com","Primary":true,"TYPE":"work"}]}`, true},
	{"unknown members and schemas", `{"schemas":["urn:x","urn:ietf:params:scim:schemas:core:2.0:User"],"id":"ignored","meta":{"resourceType":"User","x":[1,2]},"department":"Eng","userName":"u@example.com","urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User":{"manager":1}}`, true},
	{"groups with members (read-only, ignored)", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"g@example.com","groups":[{"value":"g1","display":"G"},5]}`, true},
	{"an ignored member twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"d@example.com","meta":{"a":1},"meta":[2],"Meta":null}`, true},
	{"schemas twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, false},
	{"enterprise extension twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`, false},
	{"email sub-attribute twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":[{"value":"a@example.com","value":"b@example.com"}]}`, false},
	{"empty userName", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":""}`, true},
	{"escapes", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"esc\u0040example.com","displayName":"A \"B\" \\ \u00e9 \ud83d\ude42 <&>"}`, true},
	{"whitespace", " {\n \"schemas\" : [ \"urn:ietf:params:scim:schemas:core:2.0:User\" ] ,\n \"userName\" : \"ws@example.com\" }\n", true},

	{"no schemas", `{"userName":"n@example.com"}`, false},
	{"schemas not naming User", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"n@example.com"}`, false},
	{"schemas a string", `{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"n@example.com"}`, false},
	{"schemas with a number", `{"schemas":[1,"urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com"}`, false},
	{"Schemas in another case", `{"Schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com"}`, false},
	{"userName in another case", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":"n@example.com"}`, false},
	{"userName twice, two spellings", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com","username":"b@example.com"}`, false},
	{"userName twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@example.com","userName":"b@example.com"}`, false},
	{"groups twice, two spellings", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","groups":[],"Groups":[]}`, false},
	{"Emails in another case", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","Emails":[{"value":"n@example.com"}]}`, false},
	{"Active in another case", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","Active":"nope"}`, false},
	{"userName null", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":null}`, false},
	{"userName a number", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":5}`, false},
	{"displayName an object", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","displayName":{"a":1}}`, false},
	{"active a word", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","active":"yes"}`, false},
	{"active a number", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","active":1}`, false},
	{"name a string", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","name":"Ann"}`, false},
	{"name part a number", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","name":{"givenName":1}}`, false},
	{"name part twice", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","name":{"givenName":"a","givenname":"b"}}`, false},
	{"emails one object", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":{"value":"n@example.com"}}`, false},
	{"emails of strings", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":["n@example.com"]}`, false},
	{"emails with null", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":[null]}`, false},
	{"email primary a word", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":[{"value":"n@example.com","primary":"yes"}]}`, false},
	{"email value a number", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","emails":[{"value":7}]}`, false},
	{"roles with a role", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","roles":[{"value":"admin"}]}`, false},
	{"manager", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`, false},
	{"enterprise a string", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, false},
	{"bridge extension", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","urn:ietf:params:scim:schemas:extension:webflow:2.0:User":{"data":{"accept-privacy":true}}}`, false},
	{"an array", `[{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com"}]`, false},
	{"a string", `"x"`, false},
	{"empty object", `{}`, false},
	{"empty body", ``, false},
	{"lone surrogate", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\ud800@example.com"}`, false},
}

// captureHandler is a Users handler that records what the library hands
// to Create.
type captureHandler struct {
	scim.ResourceHandler
	attrs scim.ResourceAttributes
}

func (c *captureHandler) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	c.attrs = attrs
	return scim.Resource{ID: "x"}, nil
}

// TestFastCreateUserAsTheLibrary: fastCreateUser takes the IdPs' bodies
// and gives the User the library's validation and mapping.FromAttributes
// give for them; the bodies the library refuses are left to it.
func TestFastCreateUserAsTheLibrary(t *testing.T) {
	lib := newLibraryCreate(t)
	for _, tc := range postBodies {
		got, ok := fastCreateUser([]byte(tc.body))
		if ok != tc.taken {
			t.Errorf("%s: taken %v, want %v", tc.name, ok, tc.taken)
		}
		if !ok {
			continue
		}
		if msg := lib.agrees([]byte(tc.body), got); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

// libraryCreate is the library's POST /Users validation with a handler
// that records the attributes it hands to Create.
type libraryCreate struct {
	srv scim.Server
	h   *captureHandler
}

func newLibraryCreate(t testing.TB) *libraryCreate {
	t.Helper()
	schema.SetAllowStringValues(true) // as New sets it
	h := &captureHandler{}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: serviceProviderConfig(),
		ResourceTypes: []scim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users", Schema: schema.CoreUserSchema(),
			SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}, {Schema: mapping.UserExtensionSchema()}},
			Handler:          h,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &libraryCreate{srv: srv, h: h}
}

// agrees reports (as "") whether the library accepts body and its
// attributes give, through mapping.FromAttributes, the User got.
func (l *libraryCreate) agrees(body []byte, got mapping.User) string {
	l.h.attrs = nil
	rec := httptest.NewRecorder()
	l.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v2/Users", bytes.NewReader(body)))
	if rec.Code != http.StatusCreated || l.h.attrs == nil {
		return fmt.Sprintf("taken, but the library answers %d %s", rec.Code, rec.Body)
	}
	want, err := mapping.FromAttributes(l.h.attrs)
	if err != nil {
		return fmt.Sprintf("taken, but FromAttributes fails on the library's attributes: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("\n got %#v\nwant %#v", got, want)
	}
	return ""
}

// FuzzFastCreateUser: whatever body fastCreateUser takes, the library
// accepts, and its attributes give the same User; fastCreateUser never
// panics. Bodies are first checked as serveSite checks them (valid UTF-8,
// one JSON value).
//
//	go test -run '^$' -fuzz '^FuzzFastCreateUser$' -fuzztime 2m -parallel 1 ./internal/scimserver/
func FuzzFastCreateUser(f *testing.F) {
	for _, tc := range postBodies {
		f.Add([]byte(tc.body))
	}
	lib := newLibraryCreate(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if !utf8.Valid(body) || !json.Valid(body) {
			return
		}
		got, ok := fastCreateUser(body)
		if !ok {
			return
		}
		if msg := lib.agrees(body, got); msg != "" {
			t.Errorf("%s: %s", body, msg)
		}
	})
}

// TestPostUsersAnswersAsTheLibrary sends every body through the bridge
// with the fast path and through the library (another bridge, on its own
// store and simulator, with slowPaths), then the same body again (a
// retried create: 409 both ways), and compares status, headers and the
// decoded bodies (ids and times aside, which differ between the two
// simulators).
func TestPostUsersAnswersAsTheLibrary(t *testing.T) {
	fast, slow := newBoundsFixture(t, nil), newBoundsFixture(t, nil)
	slow.srv.sites[boundsSiteA].slowPaths = true
	for _, tc := range postBodies {
		for _, attempt := range []string{"first", "again"} {
			a := fast.do(t, boundsSiteA, http.MethodPost, "/Users", []byte(tc.body))
			b := slow.do(t, boundsSiteA, http.MethodPost, "/Users", []byte(tc.body))
			label := tc.name + " (" + attempt + ")"
			if a.status != b.status {
				t.Errorf("%s: status %d, library %d\nfast %s\nlib  %s", label, a.status, b.status, a.raw, b.raw)
				continue
			}
			if a.status >= 500 {
				t.Errorf("%s: %d %s", label, a.status, a.raw)
			}
			for _, k := range []string{"Content-Type", "Etag", "Location", "Retry-After"} {
				if ga, gb := normaliseIDs(a.header.Get(k), a.body), normaliseIDs(b.header.Get(k), b.body); ga != gb {
					t.Errorf("%s: header %s %q, library %q", label, k, ga, gb)
				}
			}
			da, db := decodeNormalised(t, a), decodeNormalised(t, b)
			if !reflect.DeepEqual(da, db) {
				t.Errorf("%s:\nfast %s\nlib  %s", label, a.raw, b.raw)
			}
		}
	}
}

var rfc3339 = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)

// normaliseIDs replaces the answer's id (and its Webflow user id) in s.
func normaliseIDs(s string, body map[string]any) string {
	if id, _ := body["id"].(string); id != "" {
		s = strings.ReplaceAll(s, id, "{id}")
	}
	if ext, _ := body[mapping.ExtensionSchemaURN].(map[string]any); ext != nil {
		if wid, _ := ext["webflowUserId"].(string); wid != "" {
			s = strings.ReplaceAll(s, wid, "{id}")
		}
	}
	return s
}

func decodeNormalised(t *testing.T, a boundsAnswer) any {
	t.Helper()
	if len(a.raw) == 0 {
		return nil
	}
	s := rfc3339.ReplaceAllString(normaliseIDs(string(a.raw), a.body), `"{time}"`)
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, a.raw)
	}
	return v
}
