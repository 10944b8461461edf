package mapping

import (
	"reflect"
	"testing"
	"time"

	"github.com/elimity-com/scim"
)

func TestParseAttrList(t *testing.T) {
	tests := map[string][]string{
		"":                         nil,
		" , ":                      nil,
		"userName":                 {"userName"},
		"userName, name.givenName": {"userName", "name.givenName"},
		"members,,":                {"members"},
	}
	for in, want := range tests {
		if got := ParseAttrList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v", in, got)
		}
	}
}

func TestProject(t *testing.T) {
	full := func() scim.ResourceAttributes {
		a := ToAttributes(baseUser(), WebflowView{UserID: "wf1", Status: "verified", LastLogin: time.Unix(0, 0)})
		a["id"] = "u1"
		a["schemas"] = []any{CoreUserSchemaURN}
		a["meta"] = map[string]any{"resourceType": "User"}
		return a
	}
	tests := []struct {
		name          string
		attrs, exclud string
		want          scim.ResourceAttributes
	}{
		{"nothing requested", "", "", full()},
		{"attributes userName", "USERNAME", "", scim.ResourceAttributes{"id": "u1", "schemas": []any{CoreUserSchemaURN}, "userName": "test.user@okta.local"}},
		{"sub-attributes", "name.givenName,emails.value,name.familyName", "", scim.ResourceAttributes{
			"id": "u1", "schemas": []any{CoreUserSchemaURN},
			"name":   map[string]any{"givenName": "Test", "familyName": "User"},
			"emails": []any{map[string]any{"value": "test.user@okta.local"}}}},
		{"core URN prefix", CoreUserSchemaURN + ":displayName", "", scim.ResourceAttributes{
			"id": "u1", "schemas": []any{CoreUserSchemaURN}, "displayName": "Test User"}},
		{"extension attribute", ExtensionSchemaURN + ":status," + ExtensionSchemaURN + ":data.country", "", scim.ResourceAttributes{
			"id": "u1", "schemas": []any{CoreUserSchemaURN},
			ExtensionSchemaURN: map[string]any{"status": "verified", "data": map[string]any{"country": "DE"}}}},
		{"whole extension, case-insensitive URN", "urn:ietf:params:scim:schemas:extension:webflow:2.0:user", "", scim.ResourceAttributes{
			"id": "u1", "schemas": []any{CoreUserSchemaURN},
			ExtensionSchemaURN: full()[ExtensionSchemaURN]}},
		{"meta asked for by name", "userName,META.resourceType", "", scim.ResourceAttributes{"id": "u1", "schemas": []any{CoreUserSchemaURN}, "meta": map[string]any{"resourceType": "User"}, "userName": "test.user@okta.local"}},
		{"attributes wins over excluded", "userName", "userName", scim.ResourceAttributes{"id": "u1", "schemas": []any{CoreUserSchemaURN}, "userName": "test.user@okta.local"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Project(full(), ParseAttrList(tc.attrs), ParseAttrList(tc.exclud))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
	}
	t.Run("excluded", func(t *testing.T) {
		in := full()
		got := Project(in, nil, ParseAttrList("emails.type, NAME.givenName,id,schemas,meta,nickName,"+ExtensionSchemaURN+":lastLogin,"+EnterpriseSchemaURN+",unknown"))
		want := full()
		delete(want, "nickName")
		delete(want, "meta") // returned "default" (RFC 7643 §3.1); id and schemas stay
		want["emails"] = []any{map[string]any{"value": "test.user@okta.local", "primary": true}}
		want["name"] = map[string]any{"familyName": "User", "middleName": "M"}
		delete(want[ExtensionSchemaURN].(map[string]any), "lastLogin")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
		}
		if !reflect.DeepEqual(in, full()) {
			t.Fatal("input modified")
		}
		got = Project(in, nil, []string{ExtensionSchemaURN})
		if _, ok := got[ExtensionSchemaURN]; ok {
			t.Fatal("extension not excluded")
		}
	})
	t.Run("groups excludedAttributes=members", func(t *testing.T) {
		g := scim.ResourceAttributes{"id": "g1", "displayName": "G", "members": []any{map[string]any{"value": "u1"}}}
		got := Project(g, nil, []string{"members"})
		if !reflect.DeepEqual(got, scim.ResourceAttributes{"id": "g1", "displayName": "G"}) {
			t.Fatal(got)
		}
	})
}
