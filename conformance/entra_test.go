package conformance

import (
	"fmt"
	"strings"
	"testing"
)

// Entra's tutorial table (idp-clients.md §2.2), with and without the
// aadOptscim062020 flag (§2.3), users and groups. Group PATCHes answer 204,
// as the table expects.
func TestEntraTutorialTable(t *testing.T) {
	for _, flag := range []bool{false, true} {
		t.Run(fmt.Sprintf("aadOptscim062020=%v", flag), func(t *testing.T) {
			d := startDemo(t)
			r := newReplay(t, d)
			op := func(s string) string {
				if flag {
					return strings.ToLower(s)
				}
				return s
			}
			disable := `"False"`
			removeMember := `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"{{id}}"}]}`
			if flag {
				disable = `false`
				removeMember = `{"op":"remove","path":"members[value eq \"{{id}}\"]"}`
			}
			email := "test_user_11bb11bb@testuser.com"
			r.run(
				step{name: "create user", method: "POST", path: "/Users", status: 201,
					body:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_00aa00aa-0000-4000-8000-000000000001","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`,
					expect: map[string]string{"id": "*", "meta.created": "*", "meta.lastModified": "*"}, save: map[string]string{"id": "id"},
					check: webflowHas(email, "", "givenName familyName")},
				step{name: "get user", method: "GET", path: "/Users/{{id}}", status: 200},
				step{name: "get missing user", method: "GET", path: "/Users/5d48a0a8e9f04aa38008", status: 404},
				step{name: "query", method: "GET", path: "/Users?filter=" + q(`userName eq "Test_User_00aa00aa-0000-4000-8000-000000000001"`), status: 200,
					expect: map[string]string{"totalResults": "1", "startIndex": "1", "itemsPerPage": "1"}},
				step{name: "query, 0 results", method: "GET", path: "/Users?filter=userName+eq+%22non-existent+user%22", status: 200,
					expect: map[string]string{"totalResults": "0", "Resources": "#0"}},
				step{name: "query by externalId", method: "GET", path: "/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22", status: 200, expect: map[string]string{"totalResults": "1"}},
				step{name: "update familyName", method: "PATCH", path: "/Users/{{id}}", status: 200,
					body:   `{"schemas":["` + patchURN + `"],"Operations":[{"op":"` + op("Replace") + `","path":"name.familyName","value":"updatedFamilyName"}]}`,
					expect: map[string]string{"name.familyName": "updatedFamilyName", "id": "{{id}}"}, check: webflowHas(email, "", "givenName familyName")},
				step{name: "nickName", method: "PATCH", path: "/Users/{{id}}", status: 200,
					body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"` + op("Add") + `","path":"nickName","value":"Babs"}]}`, expect: map[string]string{"nickName": "Babs"}},
				step{name: "create group", method: "POST", path: "/Groups", status: 201,
					body:   `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Members","meta":{"resourceType":"Group"}}`,
					expect: map[string]string{"members": "#0"}, save: map[string]string{"gid": "id"}},
				step{name: "get group without members", method: "GET", path: "/Groups/{{gid}}?excludedAttributes=members", status: 200, expect: map[string]string{"members": "!", "displayName": "Members"}},
				step{name: "group by name", method: "GET", path: "/Groups?excludedAttributes=members&filter=displayName+eq+%22Members%22", status: 200,
					expect: map[string]string{"totalResults": "1", "Resources.0.members": "!"}},
				step{name: "rename group", method: "PATCH", path: "/Groups/{{gid}}", status: 204,
					body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"` + op("Replace") + `","path":"displayName","value":"Members updatedDisplayName"}]}`},
				step{name: "add member", method: "PATCH", path: "/Groups/{{gid}}", status: 204,
					body:  `{"schemas":["` + patchURN + `"],"Operations":[{"op":"` + op("Add") + `","path":"members","value":[{"$ref":null,"value":"{{id}}"}]}]}`,
					check: webflowHas(email, "members", "")},
				step{name: "membership check", method: "GET", path: "/Groups?filter=" + q(`id eq "{{gid}}" and members[value eq "{{id}}"]`), status: 200, expect: map[string]string{"totalResults": "1"}},
				step{name: "remove member", method: "PATCH", path: "/Groups/{{gid}}", status: 204,
					body: `{"schemas":["` + patchURN + `"],"Operations":[` + removeMember + `]}`, check: webflowHas(email, "", "")},
				step{name: "disable", method: "PATCH", path: "/Users/{{id}}", status: 200,
					body: `{"Operations":[{"op":"` + op("Replace") + `","path":"active","value":` + disable + `}],"schemas":["` + patchURN + `"]}`, expect: map[string]string{"active": "false"}},
				step{name: "disabled user GET", method: "GET", path: "/Users/{{id}}", status: 200, expect: map[string]string{"active": "false"}},
				step{name: "delete group", method: "DELETE", path: "/Groups/{{gid}}", status: 204},
				step{name: "delete user", method: "DELETE", path: "/Users/{{id}}", status: 204, check: webflowGone(email)},
				step{name: "deleted user is gone", method: "GET", path: "/Users/{{id}}", status: 404},
				step{name: "discover schema", method: "GET", path: "/Schemas", status: 200, expect: map[string]string{"schemas.0": listURN, "totalResults": "*"}},
			)
		})
	}
}

// Test Connection: a filter on a random GUID is 200 with an empty list.
func TestEntraTestConnection(t *testing.T) {
	d := startDemo(t)
	newReplay(t, d).run(
		step{name: "random GUID", method: "GET", path: "/Users?filter=userName+eq+%225a3e5f0e-7b1d-4c59-9b8e-0e4b6a3b9d11%22", status: 200,
			expect: map[string]string{"totalResults": "0", "Resources": "#0", "schemas.0": listURN}},
		step{name: "random group", method: "GET", path: "/Groups?excludedAttributes=members&filter=displayName+eq+%225a3e5f0e%22", status: 200, expect: map[string]string{"totalResults": "0"}},
	)
}

// The validator behaviours of idp-clients.md §2.4.
func TestEntraValidator(t *testing.T) {
	d := startDemo(t)
	r := newReplay(t, d)
	r.run(
		step{name: "create", method: "POST", path: "/Users", status: 201,
			body: `{"schemas":["` + userURN + `"],"userName":"val@contoso.com","displayName":"Val","nickName":"V","title":"Eng","active":true}`, save: map[string]string{"id": "id"}},
		step{name: "PATCH answers 200 with the resource", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"replace","path":"title","value":"Lead"}]}`, expect: map[string]string{"id": "{{id}}", "title": "Lead", "userName": "val@contoso.com"}},
		step{name: "path-less dotted and URN keys", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body:   `{"schemas":["` + patchURN + `"],"Operations":[{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}]}`,
			expect: map[string]string{"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua"}, check: webflowHas("val@contoso.com", "", "Bjfe")},
		step{name: "add to a work email that does not exist yet", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body:   `{"schemas":["` + patchURN + `"],"Operations":[{"op":"add","path":"emails[type eq \"work\"].value","value":"val@contoso.com"}]}`,
			expect: map[string]string{"emails.0.value": "val@contoso.com", "emails.0.type": "work"}},
		step{name: "clear with empty string", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"Replace","path":"nickName","value":""}]}`, expect: map[string]string{"nickName": "!"}},
		step{name: "clear with null", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"Replace","path":"title","value":null}]}`, expect: map[string]string{"title": "!"}},
		step{name: "manager is accepted and ignored", method: "PATCH", path: "/Users/{{id}}", status: 200,
			body: `{"schemas":["` + patchURN + `"],"Operations":[{"op":"Add","path":"manager","value":[{"$ref":null,"value":"00aa"}]},{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"00aa"}]}`},
	)
	// Paging over 11 or more users with count=5.
	for i := range 11 {
		r.do(step{name: "page user", method: "POST", path: "/Users", status: 201,
			body: fmt.Sprintf(`{"schemas":["%s"],"userName":"page%02d@contoso.com","active":true}`, userURN, i)})
	}
	seen := map[string]bool{}
	for _, start := range []int{1, 6, 11} {
		m := r.do(step{name: fmt.Sprintf("page at %d", start), method: "GET", path: fmt.Sprintf("/Users?startIndex=%d&count=5", start), status: 200,
			expect: map[string]string{"startIndex": fmt.Sprint(start), "totalResults": "12"}})
		res, _ := m["Resources"].([]any)
		if fmt.Sprint(m["itemsPerPage"]) != fmt.Sprint(len(res)) {
			t.Errorf("itemsPerPage %v for %d resources", m["itemsPerPage"], len(res))
		}
		for _, x := range res {
			seen[fmt.Sprint(get(x, "id"))] = true
		}
	}
	if len(seen) != 12 {
		t.Errorf("paging returned %d distinct users, want 12", len(seen))
	}
}
