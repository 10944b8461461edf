package mapping

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

const patchSchemas = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

func patchBody(ops string) string {
	return `{` + patchSchemas + `,"Operations":` + ops + `}`
}

func baseUser() User {
	return User{
		UserName:    "test.user@okta.local",
		ExternalID:  "00ujl29u0le5T6Aj10h7",
		DisplayName: "Test User",
		Name:        Name{GivenName: "Test", FamilyName: "User", MiddleName: "M"},
		Emails:      []Email{{Value: "test.user@okta.local", Type: "work", Primary: true}},
		Active:      true,
		NickName:    "Testy",
		Locale:      "en-US",
		Data:        webflowdata.UserData{"accept-privacy": true, "country": "DE"},
	}
}

func with(f func(u *User)) User {
	u := baseUser()
	f(&u)
	return u
}

// TestPatchPipelineIdPBodies feeds literal IdP PATCH bodies (idp-clients.md
// §0, §1.3, §2.2, §2.3 and the quirks table) through NormalizePatchBody,
// the real elimity server and ApplyPatch.
func TestPatchPipelineIdPBodies(t *testing.T) {
	const ent = EnterpriseSchemaURN
	tests := []struct {
		name      string
		body      string // full body, or an Operations array
		base      User
		want      User
		wantEmpty bool
	}{
		{
			name: "okta deactivate path-less",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			want: with(func(u *User) { u.Active = false }),
		},
		{
			name: "okta reactivate path-less",
			body: `[{"op":"replace","value":{"active":true}}]`,
			base: with(func(u *User) { u.Active = false }),
			want: baseUser(),
		},
		{
			name:      "okta password sync is dropped",
			body:      `[{"op":"replace","value":{"password":"1mz050nq"}}]`,
			wantEmpty: true,
		},
		{
			name: "entra no flag Replace active False",
			body: `{"Operations":[{"op":"Replace","path":"active","value":"False"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			want: with(func(u *User) { u.Active = false }),
		},
		{
			name: "entra lower-case string false",
			body: `[{"op":"Replace","path":"active","value":"false"}]`,
			want: with(func(u *User) { u.Active = false }),
		},
		{
			name: "entra flag replace active false",
			body: `[{"op":"replace","path":"active","value":false}]`,
			want: with(func(u *User) { u.Active = false }),
		},
		{
			name: "entra tutorial multi-valued + familyName",
			body: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]`,
			want: with(func(u *User) {
				u.Emails[0].Value = "updatedEmail@microsoft.com"
				u.Name.FamilyName = "updatedFamilyName"
			}),
		},
		{
			name: "entra replace userName",
			body: `[{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]`,
			want: with(func(u *User) { u.UserName = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" }),
		},
		{
			name: "entra Add nickName",
			body: `[{"op":"Add","path":"nickName","value":"Babs"}]`,
			want: with(func(u *User) { u.NickName = "Babs" }),
		},
		{
			name: "entra no flag: one op per attribute incl. enterprise",
			body: `[{"op":"Replace","path":"displayName","value":"Bjfe"},
			        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@x.com"},
			        {"op":"Replace","path":"name.givenName","value":"Kkom"},
			        {"op":"Replace","path":"name.familyName","value":"Unua"},
			        {"op":"Replace","path":"externalId","value":"ext-2"},
			        {"op":"Replace","path":"` + ent + `:employeeNumber","value":"Aklq"}]`,
			want: with(func(u *User) {
				u.DisplayName, u.Emails[0].Value, u.Name.GivenName, u.Name.FamilyName, u.ExternalID = "Bjfe", "new@x.com", "Kkom", "Unua", "ext-2"
			}),
		},
		{
			name: "entra aadOptscim062020 path-less dotted and URN keys",
			body: `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@x.com"},
			        {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","` + ent + `:employeeNumber":"Aklq"}}]`,
			want: with(func(u *User) {
				u.DisplayName, u.Emails[0].Value, u.Name.GivenName, u.Name.FamilyName = "Bjfe", "new@x.com", "Kkom", "Unua"
			}),
		},
		{
			name: "add work email that does not exist yet creates it",
			body: `[{"op":"add","path":"emails[type eq \"work\"].value","value":"w@x.com"}]`,
			base: with(func(u *User) { u.Emails = []Email{{Value: "home@x.com", Type: "home"}} }),
			want: with(func(u *User) {
				u.Emails = []Email{{Value: "home@x.com", Type: "home"}, {Value: "w@x.com", Type: "work"}}
			}),
		},
		{
			name: "replace work email when the user has no emails creates it",
			body: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@x.com"}]`,
			base: with(func(u *User) { u.Emails = nil }),
			want: with(func(u *User) { u.Emails = []Email{{Value: "w@x.com", Type: "work"}} }),
		},
		{
			name: "clear with empty string",
			body: `[{"op":"Replace","path":"nickName","value":""},{"op":"Replace","path":"name.middleName","value":""}]`,
			want: with(func(u *User) { u.NickName, u.Name.MiddleName = "", "" }),
		},
		{
			name: "clear with null (B5) becomes remove",
			body: `[{"op":"Replace","path":"nickName","value":null},{"op":"Replace","path":"locale","value":null}]`,
			want: with(func(u *User) { u.NickName, u.Locale = "", "" }),
		},
		{
			name: "null keys in a path-less value",
			body: `[{"op":"Replace","value":{"nickName":null,"title":"Boss"}}]`,
			want: with(func(u *User) { u.NickName, u.Title = "", "Boss" }),
		},
		{
			name: "remove with path",
			body: `[{"op":"Remove","path":"nickName"},{"op":"remove","path":"name.givenName"}]`,
			want: with(func(u *User) { u.NickName, u.Name.GivenName = "", "" }),
		},
		{
			name: "clear the work email with empty string removes it",
			body: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":""}]`,
			want: with(func(u *User) { u.Emails = nil }),
		},
		{
			name: "remove an email element by filter",
			body: `[{"op":"Remove","path":"emails[type eq \"work\"]"}]`,
			base: with(func(u *User) { u.Emails = append(u.Emails, Email{Value: "h@x.com", Type: "home"}) }),
			want: with(func(u *User) { u.Emails = []Email{{Value: "h@x.com", Type: "home"}} }),
		},
		{
			name: "replace emails list",
			body: `[{"op":"replace","path":"emails","value":[{"value":"a@x.com","type":"home"},{"value":"b@x.com","type":"work","primary":"True"}]}]`,
			want: with(func(u *User) {
				u.Emails = []Email{{Value: "a@x.com", Type: "home"}, {Value: "b@x.com", Type: "work", Primary: true}}
			}),
		},
		{
			name: "add emails single object (wrapped) with new primary",
			body: `[{"op":"add","path":"emails","value":{"value":"b@x.com","type":"home","primary":true}}]`,
			want: with(func(u *User) {
				u.Emails = []Email{{Value: "test.user@okta.local", Type: "work"}, {Value: "b@x.com", Type: "home", Primary: true}}
			}),
		},
		{
			name: "replace emails with empty list clears (typed nil, B11)",
			body: `[{"op":"replace","path":"emails","value":[]}]`,
			want: with(func(u *User) { u.Emails = nil }),
		},
		{
			name: "replace name object merges",
			body: `[{"op":"replace","path":"name","value":{"givenName":"Another","familyName":"Person"}}]`,
			want: with(func(u *User) { u.Name.GivenName, u.Name.FamilyName = "Another", "Person" }),
		},
		{
			name: "case-insensitive paths and keys",
			body: `[{"op":"REPLACE","path":"NAME.GIVENNAME","value":"G"},{"op":"Replace","value":{"DisplayName":"D"}}]`,
			want: with(func(u *User) { u.Name.GivenName, u.DisplayName = "G", "D" }),
		},
		{
			name: "manager shapes are dropped, other ops kept",
			body: `[{"op":"Add","path":"manager","value":[{"$ref":"http://example.com/Users/00aa","value":"00aa"}]},
			        {"op":"remove","path":"manager[value eq \"00aa\"]"},
			        {"op":"add","path":"` + ent + `:manager","value":"00aa"},
			        {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""},
			        {"op":"replace","value":{"` + ent + `:manager":"00aa","displayName":"Kept"}}]`,
			want: with(func(u *User) { u.DisplayName = "Kept" }),
		},
		{
			name:      "only manager ops leaves nothing",
			body:      `[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"00aa"}]}]`,
			wantEmpty: true,
		},
		{
			name: "roles, addresses, groups, unknown attributes dropped (B9)",
			body: `[{"op":"add","path":"roles","value":[{"value":"admin"}]},
			        {"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Way"},
			        {"op":"add","path":"groups","value":[{"value":"g1"}]},
			        {"op":"replace","path":"department","value":"Sales"},
			        {"op":"replace","path":"urn:example:custom:2.0:User:costCenter","value":"1"},
			        {"op":"replace","value":{"department":null,"foo.bar":"x","title":"T"}}]`,
			want: with(func(u *User) { u.Title = "T" }),
		},
		{
			name: "our extension: data sub-attributes, string booleans, unknown data key",
			body: `[{"op":"replace","path":"` + ExtensionSchemaURN + `:data.accept-privacy","value":"False"},
			        {"op":"add","path":"urn:ietf:params:scim:schemas:extension:webflow:2.0:user:data.accept-communications","value":"TRUE"},
			        {"op":"replace","path":"` + ExtensionSchemaURN + `:data.Job-Title","value":"Eng"},
			        {"op":"replace","path":"` + ExtensionSchemaURN + `:data.favourite-colour","value":"blue"},
			        {"op":"replace","path":"` + ExtensionSchemaURN + `:webflowUserId","value":"hack"}]`,
			want: with(func(u *User) {
				u.Data = webflowdata.UserData{"accept-privacy": false, "accept-communications": true, "country": "DE", "job-title": "Eng"}
			}),
		},
		{
			name: "our extension as a path-less URN container, null clears a key",
			body: `[{"op":"replace","value":{"` + ExtensionSchemaURN + `":{"data":{"country":"FR","accept-privacy":null}}}}]`,
			want: with(func(u *User) { u.Data = webflowdata.UserData{"country": "FR"} }),
		},
		{
			name: "remove data key and bare data path",
			body: `[{"op":"remove","path":"data.country"}]`,
			want: with(func(u *User) { u.Data = webflowdata.UserData{"accept-privacy": true} }),
		},
		{
			name: "core URN prefix",
			body: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"Core"}]`,
			want: with(func(u *User) { u.DisplayName = "Core" }),
		},
		{
			name: "active empty string means remove (active again)",
			body: `[{"op":"replace","path":"active","value":""}]`,
			base: with(func(u *User) { u.Active = false }),
			want: baseUser(),
		},
		{
			name: "okta path-less with id (group-rename style) ignores id",
			body: `[{"op":"replace","value":{"id":"u1","displayName":"New"}}]`,
			want: with(func(u *User) { u.DisplayName = "New" }),
		},
		{
			name: "entra primary as string in a filtered element",
			body: `[{"op":"replace","path":"emails[type eq \"work\"].primary","value":"False"}]`,
			want: with(func(u *User) { u.Emails[0].Primary = false }),
		},
		{
			name: "emails value filter",
			body: `[{"op":"replace","path":"emails[value eq \"TEST.USER@okta.local\"].type","value":"other"}]`,
			want: with(func(u *User) { u.Emails[0].Type = "other" }),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body[0] == '[' {
				body = patchBody(body)
			}
			base := tc.base
			if reflect.DeepEqual(base, User{}) {
				base = baseUser()
			}
			norm, empty, err := NormalizePatchBody([]byte(body), testCustomFields...)
			if err != nil {
				t.Fatalf("normalise: %v", err)
			}
			if empty != tc.wantEmpty {
				t.Fatalf("empty = %v, want %v (%s)", empty, tc.wantEmpty, norm)
			}
			if empty {
				return
			}
			ops, code, resp := elimityPatch(t, string(norm))
			if code != http.StatusOK {
				t.Fatalf("elimity: %d %s\nnormalised body: %s", code, resp, norm)
			}
			got, err := ApplyPatch(base, ops)
			if err != nil {
				t.Fatalf("apply: %v\nops: %s", err, describeOps(ops))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v\nops: %s", got, tc.want, describeOps(ops))
			}
			if !reflect.DeepEqual(base, tc.base) && !reflect.DeepEqual(tc.base, User{}) {
				t.Fatalf("ApplyPatch modified its input")
			}
		})
	}
}

func describeOps(ops []scim.PatchOperation) string {
	s := ""
	for _, o := range ops {
		p := "<nil>"
		if o.Path != nil {
			p = o.Path.String()
		}
		s += o.Op + " " + p + " " + mustJSONNoT(o.Value) + "; "
	}
	return s
}

func mustJSONNoT(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}

func mustPath(t *testing.T, s string) *filter.Path {
	t.Helper()
	p, err := filter.ParsePath([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestApplyPatchErrors checks ops that cannot apply; the input user is
// returned unchanged.
func TestApplyPatchErrors(t *testing.T) {
	tests := []struct {
		name     string
		ops      []scim.PatchOperation
		scimType string
	}{
		{"replace id", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "id"), Value: "x"}}, ScimTypeMutability},
		{"remove meta", []scim.PatchOperation{{Op: "remove", Path: mustPath(t, "meta")}}, ScimTypeMutability},
		{"remove userName", []scim.PatchOperation{{Op: "remove", Path: mustPath(t, "userName")}}, ScimTypeInvalidValue},
		{"empty userName", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "userName"), Value: " "}}, ScimTypeInvalidValue},
		{"remove without path", []scim.PatchOperation{{Op: "remove"}}, ScimTypeNoTarget},
		{"unknown attribute", []scim.PatchOperation{{Op: "add", Path: mustPath(t, "foo"), Value: "x"}}, ScimTypeInvalidPath},
		{"unknown schema", []scim.PatchOperation{{Op: "add", Path: mustPath(t, "urn:x:y:foo"), Value: "x"}}, ScimTypeInvalidPath},
		{"unknown name sub", []scim.PatchOperation{{Op: "add", Path: mustPath(t, "name.nick"), Value: "x"}}, ScimTypeInvalidPath},
		{"filter on name", []scim.PatchOperation{{Op: "add", Path: mustPath(t, `name[givenName eq "x"]`), Value: "x"}}, ScimTypeInvalidPath},
		{"bad op", []scim.PatchOperation{{Op: "move", Path: mustPath(t, "title"), Value: "x"}}, ScimTypeInvalidValue},
		{"active not bool", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "active"), Value: "maybe"}}, ScimTypeInvalidValue},
		{"path-less non-object", []scim.PatchOperation{{Op: "replace", Value: "x"}}, ScimTypeInvalidValue},
		{"no target for or-filter upsert", []scim.PatchOperation{{Op: "add", Path: mustPath(t, `emails[type eq "x" or type eq "y"].value`), Value: "a@b.c"}}, ScimTypeNoTarget},
		{"consent flag not bool", []scim.PatchOperation{{Op: "add", Path: mustPath(t, "data.accept-privacy"), Value: "perhaps"}}, ScimTypeInvalidValue},
		{"second op fails: nothing applied", []scim.PatchOperation{
			{Op: "replace", Path: mustPath(t, "title"), Value: "T"},
			{Op: "replace", Path: mustPath(t, "id"), Value: "x"},
		}, ScimTypeMutability},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := baseUser()
			got, err := ApplyPatch(base, tc.ops)
			var e *Error
			if !errors.As(err, &e) || e.ScimType != tc.scimType || e.Status != http.StatusBadRequest {
				t.Fatalf("err = %v, want scimType %s", err, tc.scimType)
			}
			if !reflect.DeepEqual(got, baseUser()) || !reflect.DeepEqual(base, baseUser()) {
				t.Fatalf("user modified on error: %+v", got)
			}
		})
	}
}

// TestApplyPatchDirect covers shapes that elimity produces but that are
// awkward to reach through a body, and ignored attributes.
func TestApplyPatchDirect(t *testing.T) {
	tests := []struct {
		name string
		ops  []scim.PatchOperation
		want User
	}{
		{"typed-nil emails replace", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "emails"), Value: []any(nil)}}, with(func(u *User) { u.Emails = nil })},
		{"remove emails listed only", []scim.PatchOperation{{Op: "remove", Path: mustPath(t, "emails"), Value: []any{map[string]any{"value": "TEST.user@okta.local"}}}}, with(func(u *User) { u.Emails = nil })},
		{"enterprise and ignored core attrs", []scim.PatchOperation{
			{Op: "add", Path: mustPath(t, EnterpriseSchemaURN+":department"), Value: "S"},
			{Op: "add", Path: mustPath(t, "employeeNumber"), Value: "1"},
			{Op: "add", Path: mustPath(t, "phoneNumbers"), Value: []any{map[string]any{"value": "1"}}},
			{Op: "replace", Value: map[string]any{EnterpriseSchemaURN: map[string]any{"department": "S"}, "password": "p"}},
			{Op: "replace", Path: mustPath(t, "status"), Value: "verified"},
		}, baseUser()},
		{"remove active", []scim.PatchOperation{{Op: "remove", Path: mustPath(t, "active")}}, baseUser()},
		{"emails.value without filter sets all", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "emails.value"), Value: "n@x.com"}}, with(func(u *User) { u.Emails[0].Value = "n@x.com" })},
		{"remove data", []scim.PatchOperation{{Op: "remove", Path: mustPath(t, ExtensionSchemaURN+":data")}}, with(func(u *User) { u.Data = nil })},
		{"data object merges and never stores email/name", []scim.PatchOperation{{Op: "replace", Path: mustPath(t, "data"), Value: map[string]any{"email": "e@x", "name": "N", "job-title": "Eng"}}},
			with(func(u *User) { u.Data["job-title"] = "Eng" })},
		{"path-less null value is remove", []scim.PatchOperation{{Op: "replace", Value: map[string]any{"title": nil, "nickName": nil}}}, with(func(u *User) { u.NickName = "" })},
		{"emails element upsert by object", []scim.PatchOperation{{Op: "add", Path: mustPath(t, `emails[type eq "home"]`), Value: map[string]any{"value": "h@x.com", "primary": true}}},
			with(func(u *User) {
				u.Emails = []Email{{Value: "test.user@okta.local", Type: "work"}, {Value: "h@x.com", Type: "home", Primary: true}}
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyPatch(baseUser(), tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
