package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestPatchValuesCheckedLikePOST (issue 14 point 5): a PATCH value of the
// wrong JSON type is 400 invalidValue naming the attribute, an add or
// replace without a value is 400 invalidSyntax, and in both cases nothing
// reaches Webflow and nothing is stored. On the old main several of these
// were coerced and written: true as displayName (a Webflow PATCH), 5 as
// name.givenName, 42 as a group's displayName, and a replace of members
// without a value emptied the group.
func TestPatchValuesCheckedLikePOST(t *testing.T) {
	h := newBridge(t)
	alice, bob := h.newUser("alice@example.com"), h.newUser("bob@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff",
		"members": []map[string]any{{"value": alice}, {"value": bob}}})).Body, "id")
	h.drain()
	h.must(200, h.do("PATCH", "/Users/"+alice, patchBodyOps(`[{"op":"replace","path":"name","value":{"givenName":"Alice","familyName":"Smith"}}]`)))
	h.drain()

	const ext = "urn:ietf:params:scim:schemas:extension:webflow:2.0:User"
	tests := []struct {
		name, path, ops    string
		scimType, attrName string
	}{
		{"userName number", "/Users/" + alice, `[{"op":"replace","path":"userName","value":42}]`, "invalidValue", "userName"},
		{"userName number path-less", "/Users/" + alice, `[{"op":"replace","value":{"userName":42}}]`, "invalidValue", "userName"},
		{"displayName object", "/Users/" + alice, `[{"op":"replace","path":"displayName","value":{"a":1}}]`, "invalidValue", "displayName"},
		{"displayName boolean", "/Users/" + alice, `[{"op":"Replace","path":"displayName","value":true}]`, "invalidValue", "displayName"},
		{"externalId list", "/Users/" + alice, `[{"op":"add","path":"externalId","value":["e1"]}]`, "invalidValue", "externalId"},
		{"title number in the core container", "/Users/" + alice, `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":7}}}]`, "invalidValue", "title"},
		{"name.givenName number", "/Users/" + alice, `[{"op":"replace","path":"name.givenName","value":5}]`, "invalidValue", "name.givenName"},
		{"name.familyName number dotted path-less", "/Users/" + alice, `[{"op":"replace","value":{"name.familyName":5}}]`, "invalidValue", "name.familyName"},
		{"name string", "/Users/" + alice, `[{"op":"replace","path":"name","value":"Alice Smith"}]`, "invalidValue", "name"},
		{"emails string", "/Users/" + alice, `[{"op":"replace","path":"emails","value":"alice@example.com"}]`, "invalidValue", "emails"},
		{"emails list of strings", "/Users/" + alice, `[{"op":"add","path":"emails","value":["alice@example.com"]}]`, "invalidValue", "emails"},
		{"emails value number", "/Users/" + alice, `[{"op":"add","path":"emails","value":[{"value":42}]}]`, "invalidValue", "emails.value"},
		{"emails primary maybe", "/Users/" + alice, `[{"op":"add","path":"emails","value":[{"value":"alice@example.com","primary":"maybe"}]}]`, "invalidValue", "emails.primary"},
		{"work email number", "/Users/" + alice, `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":5}]`, "invalidValue", "emails[…].value"},
		{"active number", "/Users/" + alice, `[{"op":"replace","path":"active","value":0}]`, "invalidValue", "active"},
		{"active maybe path-less", "/Users/" + alice, `[{"op":"replace","value":{"active":"maybe"}}]`, "invalidValue", "active"},
		{"data number", "/Users/" + alice, `[{"op":"replace","path":"` + ext + `:data","value":5}]`, "invalidValue", "data"},
		{"consent number", "/Users/" + alice, `[{"op":"replace","path":"` + ext + `:data.accept-privacy","value":1}]`, "invalidValue", "data.accept-privacy"},
		{"path-less value not an object", "/Users/" + alice, `[{"op":"replace","value":"active"}]`, "invalidValue", "without a path"},
		{"wrong value after a valid one", "/Users/" + alice, `[{"op":"replace","path":"displayName","value":"Alice S"},{"op":"replace","path":"nickName","value":7}]`, "invalidValue", "nickName"},
		{"replace without value", "/Users/" + alice, `[{"op":"replace","path":"displayName"}]`, "invalidSyntax", "value"},
		{"add without value", "/Users/" + alice, `[{"op":"Add","path":"nickName"}]`, "invalidSyntax", "value"},
		{"path-less replace without value", "/Users/" + alice, `[{"op":"replace"}]`, "invalidSyntax", "value"},
		{"deactivate then a valueless add", "/Users/" + alice, `[{"op":"replace","value":{"active":false}},{"op":"add","path":"title"}]`, "invalidSyntax", "value"},
		{"group displayName number", "/Groups/" + gid, `[{"op":"replace","path":"displayName","value":42}]`, "invalidValue", "displayName"},
		{"group displayName number path-less", "/Groups/" + gid, `[{"op":"replace","value":{"id":"` + gid + `","displayName":42}}]`, "invalidValue", "displayName"},
		{"group externalId object", "/Groups/" + gid, `[{"op":"replace","path":"externalId","value":{"a":1}}]`, "invalidValue", "externalId"},
		{"members string", "/Groups/" + gid, `[{"op":"add","path":"members","value":"` + alice + `"}]`, "invalidValue", "members"},
		{"members value number", "/Groups/" + gid, `[{"op":"add","path":"members","value":[{"value":42}]}]`, "invalidValue", "members.value"},
		{"remove listed members number", "/Groups/" + gid, `[{"op":"Remove","path":"members","value":[{"value":7}]}]`, "invalidValue", "members.value"},
		{"replace members without value", "/Groups/" + gid, `[{"op":"replace","path":"members"}]`, "invalidSyntax", "value"},
		{"add members without value", "/Groups/" + gid, `[{"op":"add","path":"members"}]`, "invalidSyntax", "value"},
	}
	before, simBefore := storeSnapshot(t, h), takeSimSnapshot(h)
	h.sim.ResetRequests()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := h.calls()
			r := h.do("PATCH", tc.path, patchBodyOps(tc.ops))
			if r.Status != 400 || str(r.Body, "scimType") != tc.scimType {
				t.Fatalf("%d %s, want 400 %s: %s", r.Status, str(r.Body, "scimType"), tc.scimType, r.Raw)
			}
			if d := str(r.Body, "detail"); !strings.Contains(d, tc.attrName) {
				t.Errorf("detail does not name %q: %s", tc.attrName, d)
			}
			if n := h.calls() - calls; n != 0 {
				t.Errorf("%d Webflow calls: %v", n, h.sim.Requests())
			}
		})
	}
	h.drain()
	if n := h.calls(); n != 0 {
		t.Errorf("the refused PATCHes cost %d Webflow calls: %v", n, h.sim.Requests())
	}
	after := storeSnapshot(t, h)
	if !reflect.DeepEqual(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("store: %s changed:\n before %.300s\n after  %.300s", k, before[k], v)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Errorf("store: %s disappeared", k)
			}
		}
	}
	if simAfter := takeSimSnapshot(h); !reflect.DeepEqual(simBefore, simAfter) {
		t.Errorf("simulator changed:\n before %+v\n after  %+v", simBefore, simAfter)
	}
	// What Entra and Okta send still works (idp-clients.md Q2, Q5).
	h.must(200, h.do("PATCH", "/Users/"+alice, patchBodyOps(`[{"op":"Replace","path":"active","value":"False"}]`)))
	if r := h.must(200, h.do("GET", "/Users/"+alice, nil)); r.Body["active"] != false {
		t.Errorf("Entra's \"False\": active = %v", r.Body["active"])
	}
	h.must(200, h.do("PATCH", "/Users/"+alice, patchBodyOps(`[{"op":"replace","value":{"active":"True"}}]`)))
	if r := h.must(200, h.do("GET", "/Users/"+alice, nil)); r.Body["active"] != true {
		t.Errorf("\"True\": active = %v", r.Body["active"])
	}
	if r := h.do("GET", "/Groups/"+gid, nil); len(r.Body["members"].([]any)) != 2 {
		t.Errorf("group members after the refused PATCHes: %s", r.Raw)
	}
}

func patchBodyOps(ops string) string {
	return `{"schemas":["` + patchSchema + `"],"Operations":` + ops + `}`
}
