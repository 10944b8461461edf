package mapping

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

func TestUserExtensionSchema(t *testing.T) {
	s := UserExtensionSchema("country", "Country", "1bad", "email", "name", "accept-privacy", "with space", "job_title")
	if s.ID != ExtensionSchemaURN {
		t.Fatal(s.ID)
	}
	var names []string
	for _, a := range s.Attributes {
		names = append(names, a.Name())
		if a.Name() != ExtAttrData && a.Mutability() != "readOnly" {
			t.Errorf("%s mutability %s", a.Name(), a.Mutability())
		}
	}
	if want := []string{"webflowUserId", "status", "accessGroups", "invitedOn", "lastLogin", "data"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("attributes %v", names)
	}
	data, _ := s.Attributes.ContainsAttribute("data")
	var subs []string
	for _, a := range data.SubAttributes() {
		subs = append(subs, a.Name()+":"+a.AttributeType())
	}
	if want := []string{"accept-privacy:boolean", "accept-communications:boolean", "country:string", "job_title:string"}; !reflect.DeepEqual(subs, want) {
		t.Fatalf("data sub-attributes %v", subs)
	}
	status, _ := s.Attributes.ContainsAttribute("status")
	if !reflect.DeepEqual(status.CanonicalValues(), []string{"invited", "verified", "unverified"}) {
		t.Fatal(status.CanonicalValues())
	}
	ag, _ := s.Attributes.ContainsAttribute("accessGroups")
	if !ag.MultiValued() {
		t.Fatal("accessGroups not multi-valued")
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestFromAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs scim.ResourceAttributes
		want  User
		err   string
	}{
		{"active defaults to true", scim.ResourceAttributes{"userName": "a"}, User{UserName: "a", Active: true}, ""},
		{"active string False", scim.ResourceAttributes{"userName": "a", "active": "False"}, User{UserName: "a"}, ""},
		{"emails as a single map (B13)", scim.ResourceAttributes{"userName": "a", "emails": map[string]any{"value": "a@b.c", "primary": "true"}},
			User{UserName: "a", Active: true, Emails: []Email{{Value: "a@b.c", Primary: true}}}, ""},
		{"typed-nil slices and ignored attributes", scim.ResourceAttributes{"userName": "a", "emails": []any(nil), "roles": []any(nil), "groups": []any(nil),
			"password": "p", "addresses": []any{}, "manager": "m", EnterpriseSchemaURN: map[string]any{"department": "S"}},
			User{UserName: "a", Active: true}, ""},
		{"json.Number and case-insensitive keys", scim.ResourceAttributes{"USERNAME": "a", "externalId": json.Number("123")}, User{UserName: "a", ExternalID: "123", Active: true}, ""},
		{"two primaries keep the first", scim.ResourceAttributes{"userName": "a", "emails": []any{
			map[string]any{"value": "x@y.z", "primary": true}, map[string]any{"value": "", "type": "work"}, map[string]any{"value": "w@y.z", "primary": true}}},
			User{UserName: "a", Active: true, Emails: []Email{{Value: "x@y.z", Primary: true}, {Value: "w@y.z"}}}, ""},
		{"extension data, email/name never stored", scim.ResourceAttributes{"userName": "a", ExtensionSchemaURN: map[string]any{
			"webflowUserId": "x", "data": map[string]any{"accept-privacy": "true", "ACCEPT-COMMUNICATIONS": false, "email": "e", "name": "n", "score": json.Number("1.5"), "empty": ""}}},
			User{UserName: "a", Active: true, Data: webflowdata.UserData{"accept-privacy": true, "accept-communications": false, "score": 1.5}}, ""},
		{"name object", scim.ResourceAttributes{"userName": "a", "name": map[string]any{"givenName": "G", "FamilyName": "F", "unknown": "x"}},
			User{UserName: "a", Active: true, Name: Name{GivenName: "G", FamilyName: "F"}}, ""},
		{"bad active", scim.ResourceAttributes{"userName": "a", "active": "perhaps"}, User{}, ScimTypeInvalidValue},
		{"bad name", scim.ResourceAttributes{"userName": "a", "name": "x"}, User{}, ScimTypeInvalidValue},
		{"bad emails", scim.ResourceAttributes{"userName": "a", "emails": []any{1}}, User{}, ScimTypeInvalidValue},
		{"bad userName", scim.ResourceAttributes{"userName": map[string]any{}}, User{}, ScimTypeInvalidValue},
		{"bad consent", scim.ResourceAttributes{"userName": "a", ExtensionSchemaURN: map[string]any{"data": map[string]any{"accept-privacy": "x"}}}, User{}, ScimTypeInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromAttributes(tc.attrs)
			if tc.err != "" {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != tc.err {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestFromAttributesThroughElimity POSTs the literal IdP create bodies.
func TestFromAttributesThroughElimity(t *testing.T) {
	tests := []struct {
		name string
		body string
		want User
	}{
		{"okta create", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
 "groups":[],"password":"1mz050nq","active":true}`, User{
			UserName: "test.user@okta.local", ExternalID: "00ujl29u0le5T6Aj10h7", DisplayName: "Test User",
			Name: Name{GivenName: "Test", FamilyName: "User"}, Emails: []Email{{Value: "test.user@okta.local", Type: "work", Primary: true}},
			Active: true, Locale: "en-US"}},
		{"entra create", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee","active":"True","emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],
 "addresses":null,"phoneNumbers":null,"preferredLanguage":null,"title":null,"department":null,"manager":null,
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"S"}}`, User{
			UserName: "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee", ExternalID: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			Name: Name{Formatted: "givenName familyName", FamilyName: "familyName", GivenName: "givenName"}, Active: true,
			Emails: []Email{{Value: "Test_User_11bb11bb@testuser.com", Type: "work", Primary: true}}}},
		{"emails as object, no active", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":{"value":"a@b.c","type":"work"}}`,
			User{UserName: "a", Active: true, Emails: []Email{{Value: "a@b.c", Type: "work"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			attrs, code, body := elimityCreate(t, webflowExt, tc.body)
			if code != http.StatusCreated {
				t.Fatalf("%d %s", code, body)
			}
			got, err := FromAttributes(attrs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestWebflowEmail(t *testing.T) {
	tests := []struct {
		name string
		u    User
		want string
		err  bool
	}{
		{"primary wins", User{UserName: "u@x.com", Emails: []Email{{Value: "w@x.com", Type: "work"}, {Value: "p@x.com", Primary: true}}}, "p@x.com", false},
		{"work next", User{UserName: "u@x.com", Emails: []Email{{Value: "h@x.com", Type: "home"}, {Value: "w@x.com", Type: "Work"}}}, "w@x.com", false},
		{"first next", User{UserName: "u@x.com", Emails: []Email{{Value: "h@x.com", Type: "home"}, {Value: "o@x.com"}}}, "h@x.com", false},
		{"userName last", User{UserName: " u@x.com "}, "u@x.com", false},
		{"dotless domain ok", User{UserName: "admin@localhost"}, "admin@localhost", false},
		{"userName not an email", User{UserName: "Test_User_00aa"}, "", true},
		{"display name rejected", User{UserName: "Bob <bob@x.com>"}, "", true},
		{"spaces rejected", User{UserName: "bo b@x.com"}, "", true},
		{"too long", User{UserName: strings.Repeat("a", 250) + "@x.com"}, "", true},
		{"empty", User{}, "", true},
		{"bad domain", User{UserName: "a@x..com"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.u.WebflowEmail()
			if tc.err {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidValue || e.Detail == "" {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v want %q", got, err, tc.want)
			}
		})
	}
}

func TestWebflowNameAndData(t *testing.T) {
	tests := []struct {
		u        User
		name     string
		wantData webflowdata.UserData
	}{
		{User{DisplayName: " D ", Name: Name{Formatted: "F", GivenName: "G"}}, "D", webflowdata.UserData{"name": "D"}},
		{User{Name: Name{Formatted: "F", GivenName: "G"}}, "F", webflowdata.UserData{"name": "F"}},
		{User{Name: Name{GivenName: "G", FamilyName: "Fam"}}, "G Fam", webflowdata.UserData{"name": "G Fam"}},
		{User{Name: Name{FamilyName: "Fam"}}, "Fam", webflowdata.UserData{"name": "Fam"}},
		{User{Data: webflowdata.UserData{"email": "x", "name": "y", "accept-privacy": true, "country": "DE"}}, "",
			webflowdata.UserData{"accept-privacy": true, "country": "DE"}},
	}
	for i, tc := range tests {
		if got := tc.u.WebflowName(); got != tc.name {
			t.Errorf("%d: WebflowName %q want %q", i, got, tc.name)
		}
		if got := tc.u.WebflowData(); !reflect.DeepEqual(got, tc.wantData) {
			t.Errorf("%d: WebflowData %v want %v", i, got, tc.wantData)
		}
	}
}

func TestDataDiff(t *testing.T) {
	tests := []struct {
		name             string
		current, desired webflowdata.UserData
		managed          []string
		want             webflowdata.UserData
	}{
		{"equal numbers of different types", webflowdata.UserData{"n": json.Number("2"), "f": 1.5, "s": "x", "email": "e"},
			webflowdata.UserData{"n": 2, "f": json.Number("1.50"), "s": "x"}, nil, nil},
		{"changed keys only", webflowdata.UserData{"name": "A", "accept-privacy": false, "country": "DE"},
			webflowdata.UserData{"name": "B", "accept-privacy": false, "country": "DE"}, nil, webflowdata.UserData{"name": "B"}},
		{"new key", webflowdata.UserData{}, webflowdata.UserData{"country": "DE"}, nil, webflowdata.UserData{"country": "DE"}},
		{"email never sent", webflowdata.UserData{"email": "a"}, webflowdata.UserData{"email": "b"}, []string{"email"}, nil},
		{"managed key cleared, unmanaged kept", webflowdata.UserData{"country": "DE", "bio": "hi", "accept-communications": true, "vip": true},
			webflowdata.UserData{}, []string{"country", "accept-communications", "vip", "absent"},
			webflowdata.UserData{"country": "", "accept-communications": false, "vip": false}},
		{"already clear", webflowdata.UserData{"country": "", "accept-privacy": false}, webflowdata.UserData{}, []string{"country", "accept-privacy"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := DataDiff(tc.current, tc.desired, tc.managed)
			if changed != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v want %v", got, changed, tc.want)
			}
		})
	}
}

func TestWebflowChanged(t *testing.T) {
	b := baseUser()
	tests := []struct {
		name        string
		after       User
		data        webflowdata.UserData
		email, actv bool
	}{
		{"nothing", baseUser(), nil, false, false},
		{"userName only (email from emails)", with(func(u *User) { u.UserName = "other@x.com" }), nil, false, false},
		{"email case only", with(func(u *User) { u.Emails[0].Value = "TEST.USER@okta.local" }), nil, false, false},
		{"email", with(func(u *User) { u.Emails[0].Value = "n@x.com" }), nil, true, false},
		{"name and data", with(func(u *User) { u.DisplayName = "New"; delete(u.Data, "country") }),
			webflowdata.UserData{"name": "New", "country": ""}, false, false},
		{"deactivate", with(func(u *User) { u.Active = false }), nil, false, true},
		{"email becomes invalid", with(func(u *User) { u.Emails = nil; u.UserName = "nope" }), nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, e, a := WebflowChanged(b, tc.after)
			if !reflect.DeepEqual(d, tc.data) || e != tc.email || a != tc.actv {
				t.Fatalf("got %v %v %v", d, e, a)
			}
		})
	}
}

func TestToAttributes(t *testing.T) {
	inv := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	got := ToAttributes(baseUser(), WebflowView{UserID: "wf1", Status: "invited", AccessGroups: []string{"a"}, InvitedOn: inv})
	want := scim.ResourceAttributes{
		"userName": "test.user@okta.local", "externalId": "00ujl29u0le5T6Aj10h7", "displayName": "Test User",
		"name":   map[string]any{"givenName": "Test", "familyName": "User", "middleName": "M"},
		"emails": []any{map[string]any{"value": "test.user@okta.local", "type": "work", "primary": true}},
		"active": true, "nickName": "Testy", "locale": "en-US",
		ExtensionSchemaURN: map[string]any{"webflowUserId": "wf1", "status": "invited", "accessGroups": []any{"a"},
			"invitedOn": "2026-01-02T02:04:05Z", "data": map[string]any{"accept-privacy": true, "country": "DE"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
	}
	min := ToAttributes(User{UserName: "u"}, WebflowView{})
	if s := mustJSON(t, min); s != `{"active":false,"urn:ietf:params:scim:schemas:extension:webflow:2.0:User":{"accessGroups":[]},"userName":"u"}` {
		t.Fatalf("minimal: %s", s)
	}
	// Round trip: what we return is what Okta PUTs back.
	body := mustJSON(t, map[string]any(got))
	body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ExtensionSchemaURN + `"],` + body[1:]
	attrs, code, resp := elimityCreate(t, webflowExt, body)
	if code != http.StatusCreated {
		t.Fatalf("%d %s", code, resp)
	}
	back, err := FromAttributes(attrs)
	if err != nil || !reflect.DeepEqual(back, baseUser()) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestUserJSONRoundTrip(t *testing.T) {
	u := baseUser()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var back User
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, u) {
		t.Fatalf("%s -> %+v %v", b, back, err)
	}
}
