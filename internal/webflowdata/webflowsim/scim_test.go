package webflowsim

import (
	"net/url"
	"strings"
	"testing"
)

func TestSCIMUsers(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	base := "/scim/v2/Users"
	if resp, body := call(t, srv, "GET", base, "wrong", nil); resp.StatusCode != 401 || decode(t, body)["status"] != "401" {
		t.Fatalf("bad token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, srv, "GET", base, siteTok, nil); resp.StatusCode != 401 {
		t.Fatalf("Data API token on SCIM: %d", resp.StatusCode)
	}
	create := map[string]any{
		"schemas": []string{scimUserSchema}, "userName": "Jane@Example.com", "externalId": "okta-1",
		"name":   map[string]any{"givenName": "Jane", "familyName": "Doe"},
		"emails": []map[string]any{{"value": "jane@example.com", "type": "work", "primary": true}},
		"active": "True", "password": "x", "groups": []any{},
	}
	resp, body := call(t, srv, "POST", base, scimTok, create)
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	u := decode(t, body)
	id := u["id"].(string)
	meta := u["meta"].(map[string]any)
	if meta["resourceType"] != "User" || meta["location"] != srv.URL+base+"/"+id || u["active"] != true {
		t.Errorf("created = %s", body)
	}
	if len(id) != 36 {
		t.Errorf("id %q is not UUID-like", id)
	}
	resp, body = call(t, srv, "POST", base, scimTok, map[string]any{"userName": "jane@example.com"})
	if resp.StatusCode != 409 || decode(t, body)["scimType"] != "uniqueness" {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, srv, "POST", base, scimTok, map[string]any{"name": map[string]any{}})
	if resp.StatusCode != 400 {
		t.Fatalf("no userName: %d %s", resp.StatusCode, body)
	}
	// Filter, case-insensitive on userName.
	_, body = call(t, srv, "GET", base+"?filter="+url.QueryEscape(`userName eq "JANE@example.COM"`), scimTok, nil)
	l := decode(t, body)
	if l["totalResults"] != 1.0 || l["schemas"].([]any)[0] != scimListSchema {
		t.Fatalf("filter: %s", body)
	}
	_, body = call(t, srv, "GET", base+"?filter="+url.QueryEscape(`userName eq "nobody"`), scimTok, nil)
	if l := decode(t, body); l["totalResults"] != 0.0 || len(l["Resources"].([]any)) != 0 {
		t.Fatalf("empty filter: %s", body)
	}
	_, body = call(t, srv, "GET", base+"?startIndex=2&count=1", scimTok, nil)
	if l := decode(t, body); l["totalResults"] != 2.0 || l["itemsPerPage"] != 1.0 || l["startIndex"] != 2.0 {
		t.Fatalf("paging: %s", body)
	}
	if resp, _ := call(t, srv, "GET", base+"?filter="+url.QueryEscape(`title sw "x"`), scimTok, nil); resp.StatusCode != 400 {
		t.Fatalf("bad filter: %d", resp.StatusCode)
	}
	// PATCH: Entra-style op names, filtered paths, string booleans, path-less values.
	resp, body = call(t, srv, "PATCH", base+"/"+id, scimTok, map[string]any{
		"schemas": []string{scimPatchSchema},
		"Operations": []map[string]any{
			{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "jane.doe@example.com"},
			{"op": "Replace", "path": "name.familyName", "value": "Smith"},
			{"op": "replace", "value": map[string]any{"active": false, "name.givenName": "Janet", "department": nil}},
			{"op": "Replace", "path": "active", "value": "False"},
			{"op": "add", "path": "displayName", "value": "Janet Smith"},
			{"op": "remove", "path": "externalId"},
		},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	p := decode(t, body)
	name := p["name"].(map[string]any)
	email := p["emails"].([]any)[0].(map[string]any)["value"]
	if p["active"] != false || name["givenName"] != "Janet" || name["familyName"] != "Smith" || email != "jane.doe@example.com" || p["displayName"] != "Janet Smith" || p["externalId"] != nil {
		t.Errorf("patched = %s", body)
	}
	if resp, _ := call(t, srv, "PATCH", base+"/"+id, scimTok, map[string]any{"Operations": []map[string]any{{"op": "move"}}}); resp.StatusCode != 400 {
		t.Errorf("bad op: %d", resp.StatusCode)
	}
	// PUT replaces.
	resp, body = call(t, srv, "PUT", base+"/"+id, scimTok, map[string]any{"userName": "jane@example.com", "active": true, "name": map[string]any{"givenName": "J"}})
	if resp.StatusCode != 200 || decode(t, body)["displayName"] != nil {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, srv, "PUT", base+"/"+id, scimTok, map[string]any{"userName": "owner@example.com"}); resp.StatusCode != 409 {
		t.Errorf("put to a taken userName: %d", resp.StatusCode)
	}
	if len(sim.SCIMUsers()) != 2 {
		t.Errorf("SCIMUsers = %d", len(sim.SCIMUsers()))
	}
	if resp, _ := call(t, srv, "DELETE", base+"/"+id, scimTok, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	for _, m := range []string{"GET", "DELETE"} {
		resp, body := call(t, srv, m, base+"/"+id, scimTok, nil)
		if resp.StatusCode != 404 || !strings.Contains(string(body), scimErrorSchema) {
			t.Errorf("%s deleted: %d %s", m, resp.StatusCode, body)
		}
	}
	if resp, body := call(t, srv, "GET", "/scim/v2/Groups", scimTok, nil); resp.StatusCode != 404 || decode(t, body)["status"] != "404" {
		t.Errorf("groups: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, srv, "POST", base, scimTok, "{bad"); resp.StatusCode != 400 {
		t.Errorf("bad json: %d", resp.StatusCode)
	}
}

func TestSCIMGroupsStatusConfigurable(t *testing.T) {
	_, srv := newDemo(t, Options{SCIMGroupsStatus: 501, SCIMBasePath: "/custom/scim"})
	if resp, _ := call(t, srv, "GET", "/custom/scim/Groups", scimTok, nil); resp.StatusCode != 501 {
		t.Fatalf("groups: %d", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/custom/scim/Users", scimTok, nil); resp.StatusCode != 200 {
		t.Fatalf("users: %d", resp.StatusCode)
	}
}
