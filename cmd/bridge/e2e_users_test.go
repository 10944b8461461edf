package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

func filterQ(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

func urlq(s string) string { return url.QueryEscape(s) }

func patch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

func op(o, path string, value any) map[string]any {
	m := map[string]any{"op": o}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func slugsOf(u webflowdata.User) string {
	s := u.Slugs()
	slices.Sort(s)
	return strings.Join(s, ",")
}

// Okta OIN app (PATCH for lifecycle), idp-clients.md §1.3.
func TestOktaOINSequence(t *testing.T) {
	h := newBridge(t)
	email := "test.user@okta.local"

	r := h.must(200, h.do("GET", "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", nil))
	if r.Body["totalResults"] != 0.0 || !hasSchema(r.Body, listSchema) || len(r.Body["Resources"].([]any)) != 0 {
		t.Fatalf("no-match lookup: %s", r.Raw)
	}
	created := h.must(201, h.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
 "groups":[],"password":"1mz050nq","active":true}`))
	id := str(created.Body, "id")
	if id == "" || strings.Contains(created.Raw, "1mz050nq") || strings.Contains(created.Raw, "password") {
		t.Fatalf("create answer: %s", created.Raw)
	}
	if created.Header.Get("Location") == "" || !strings.HasSuffix(str(created.Body, "meta.location"), "/Users/"+id) {
		t.Errorf("location: %q %q", created.Header.Get("Location"), str(created.Body, "meta.location"))
	}
	wu, ok := h.webflowUser(email)
	if !ok || wu.Data.Name() != "Test User" || h.sim.InvitesTo(email) != 1 {
		t.Fatalf("Webflow after create: %+v", wu)
	}
	// Give the user a group in Webflow, as an admin would.
	h.sim.ResetRequests()
	h.must(200, h.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "TEST.USER@okta.local"`), nil))
	got := h.must(200, h.do("GET", "/Users/"+id, nil))
	if str(got.Body, "externalId") != "00ujl29u0le5T6Aj10h7" || str(got.Body, "name.givenName") != "Test" {
		t.Errorf("GET: %s", got.Raw)
	}
	if n := h.calls(); n != 0 {
		t.Errorf("filter and GET by id cost %d Webflow calls, want 0", n)
	}

	// Profile update: GET then PUT of the full object (name change = 1 PATCH).
	put := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `","userName":"test.user@okta.local",
 "name":{"givenName":"Another","middleName":"Excited","familyName":"User"},
 "emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],
 "active":true,"groups":[],"meta":{"resourceType":"User"}}`
	h.sim.ResetRequests()
	r = h.must(200, h.do("PUT", "/Users/"+id, put))
	if str(r.Body, "name.givenName") != "Another" || h.calls() != 1 {
		t.Errorf("PUT: %d calls, %s", h.calls(), r.Raw)
	}
	// The PUT has no displayName any more, so the Webflow name comes from name.
	if wu, _ := h.webflowUser(email); wu.Data.Name() != "Another User" {
		t.Errorf("Webflow name after PUT: %q", wu.Data.Name())
	}
	// The same PUT again changes nothing Webflow stores: 0 calls.
	h.sim.ResetRequests()
	h.must(200, h.do("PUT", "/Users/"+id, put))
	if h.calls() != 0 {
		t.Errorf("no-op PUT cost %d calls", h.calls())
	}

	// Deactivate and reactivate (path-less replace). The user is in two
	// linked groups and holds one unmanaged group assigned in Webflow.
	wu, _ = h.webflowUser(email)
	if _, err := h.wfClient(t).UpdateUser(t.Context(), testSite, wu.ID, webflowdata.UpdateUserRequest{AccessGroups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"Members", "Premium"} {
		h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": g, "members": []map[string]any{{"value": id}}}))
	}
	h.drain()
	if wu, _ := h.webflowUser(email); slugsOf(wu) != "members,premium,staff" {
		t.Fatalf("after group push: %v", wu.Slugs())
	}
	r = h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": false}))))
	if r.Body["active"] != false {
		t.Errorf("deactivate answer: %s", r.Raw)
	}
	if wu, _ := h.webflowUser(email); slugsOf(wu) != "staff" {
		t.Errorf("deactivation must remove the managed groups and keep the unmanaged one: %v", wu.Slugs())
	}
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); r.Body["active"] != false {
		t.Errorf("a deactivated user is still returned, with active false: %s", r.Raw)
	}
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"active": true}))))
	if wu, _ := h.webflowUser(email); slugsOf(wu) != "members,premium,staff" {
		t.Errorf("reactivation must restore the groups, got %v", wu.Slugs())
	}
	// Password sync (path-less replace) is accepted and ignored.
	h.sim.ResetRequests()
	h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{"password": "n3wPass"}))))
	if h.calls() != 0 {
		t.Errorf("password sync cost %d calls", h.calls())
	}
	if h.sim.InvitesTo(email) != 1 {
		t.Errorf("exactly one invite per user, got %d", h.sim.InvitesTo(email))
	}
}

// Okta AIW app: PUT only, including deactivation.
func TestOktaAIWSequencePUTOnly(t *testing.T) {
	h := newBridge(t)
	email := "aiw.user@okta.local"
	body := func(given string, active bool) string {
		return fmt.Sprintf(`{"schemas":[%q],"userName":%q,"name":{"givenName":%q,"familyName":"User"},"emails":[{"primary":true,"value":%q,"type":"work"}],"active":%v}`,
			userSchema, email, given, email, active)
	}
	id := str(h.must(201, h.do("POST", "/Users", body("Aiw", true))).Body, "id")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "staff", "members": []map[string]any{{"value": id}}}))
	h.drain()
	h.must(200, h.do("PUT", "/Users/"+id, body("Renamed", true)))
	if wu, _ := h.webflowUser(email); wu.Data.Name() != "Renamed User" {
		t.Errorf("name after PUT: %q", wu.Data.Name())
	}
	r := h.must(200, h.do("PUT", "/Users/"+id, body("Renamed", false)))
	if r.Body["active"] != false {
		t.Errorf("PUT active:false answer %s", r.Raw)
	}
	if wu, _ := h.webflowUser(email); len(wu.AccessGroups) != 0 {
		t.Errorf("PUT deactivation left groups %v", wu.Slugs())
	}
	h.must(200, h.do("PUT", "/Users/"+id, body("Renamed", true)))
	if wu, _ := h.webflowUser(email); slugsOf(wu) != "staff" || h.sim.InvitesTo(email) != 1 {
		t.Errorf("PUT reactivation: groups %v, invites %d", wu.Slugs(), h.sim.InvitesTo(email))
	}
}

// The 12 steps of Okta's SCIM 2.0 SPEC test (idp-clients.md §1.4).
func TestOktaSPECTest(t *testing.T) {
	h := newBridge(t)
	// Pre-condition: at least one user exists.
	h.must(201, h.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pre@atko.com","name":{"givenName":"Pre","familyName":"Existing"},"emails":[{"primary":true,"value":"pre@atko.com","type":"work"}],"active":true}`))
	okta := []string{"Accept", "application/scim+json", "Accept-Charset", "utf-8", "User-Agent", "OKTA SCIM Integration"}
	rnd := "RunscopeX123Xxxxxxxx456@atko.com"

	// 1
	r := h.must(200, h.do("GET", "/Users?count=1&startIndex=1", nil, okta...))
	res := r.Body["Resources"].([]any)
	first := res[0].(map[string]any)
	for _, k := range []string{"id", "name.familyName", "name.givenName", "userName", "emails.0.value"} {
		if str(first, k) == "" {
			t.Errorf("step 1: %s empty: %s", k, r.Raw)
		}
	}
	if _, ok := first["active"].(bool); !ok || r.Body["itemsPerPage"] == nil || r.Body["startIndex"] != 1.0 {
		t.Errorf("step 1: %s", r.Raw)
	}
	isv := str(first, "id")
	// 2
	if r := h.must(200, h.do("GET", "/Users/"+isv, nil, okta...)); str(r.Body, "id") != isv || str(r.Body, "emails.0.value") == "" {
		t.Errorf("step 2: %s", r.Raw)
	}
	// 3, 5
	for _, e := range []string{"abcdefgh@atko.com", rnd} {
		if r := h.must(200, h.do("GET", filterQ(`userName eq "`+e+`"`), nil, okta...)); r.Body["totalResults"] != 0.0 || !hasSchema(r.Body, listSchema) {
			t.Errorf("step 3/5: %s", r.Raw)
		}
	}
	// 4
	h.must(404, h.do("GET", "/Users/010101001010101011001010101011", nil, okta...))
	// 6
	post := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + rnd + `","name":{"givenName":"RunscopeX123","familyName":"Xxxxxxxx456"},"emails":[{"primary":true,"value":"` + rnd + `","type":"work"}],"displayName":"RunscopeX123 Xxxxxxxx456","active":true}`
	r = h.must(201, h.do("POST", "/Users", post, "Content-Type", "application/json", "Accept", "application/scim+json; charset=utf-8"))
	if r.Body["active"] != true || str(r.Body, "userName") != rnd || str(r.Body, "name.givenName") != "RunscopeX123" || !hasSchema(r.Body, userSchema) {
		t.Errorf("step 6: %s", r.Raw)
	}
	one := str(r.Body, "id")
	// 7
	if r := h.must(200, h.do("GET", "/Users/"+one, nil, okta...)); str(r.Body, "name.familyName") != "Xxxxxxxx456" {
		t.Errorf("step 7: %s", r.Raw)
	}
	// 8
	calls := h.calls()
	h.must(409, h.do("POST", "/Users", post, "Content-Type", "application/json"))
	if h.calls() != calls {
		t.Errorf("a duplicate userName must be refused without calling Webflow")
	}
	// 9: case-insensitive userName
	if r := h.must(200, h.do("GET", filterQ(`userName eq "`+strings.ToUpper(rnd)+`"`), nil, okta...)); r.Body["totalResults"] != 1.0 {
		t.Errorf("step 9: %s", r.Raw)
	}
	// 11
	req := h.do("GET", filterQ(`userName eq "`+rnd+`"`), nil, "Authorization", "non-token")
	if req.Status != 401 || str(req.Body, "status") != "401" {
		t.Errorf("step 11: %d %s", req.Status, req.Raw)
	}
	// 12
	if r := h.must(404, h.do("GET", "/Users/00919288221112222", nil, okta...)); str(r.Body, "status") != "404" {
		t.Errorf("step 12: %s", r.Raw)
	}
	if h.sim.InvitesTo(rnd) != 1 {
		t.Errorf("invites: %d", h.sim.InvitesTo(rnd))
	}
}

// Entra's Test Connection: a filter on a random GUID must be 200 + empty.
func TestEntraTestConnection(t *testing.T) {
	h := newBridge(t)
	for _, f := range []string{
		`userName eq "5a3e5f0e-7b1d-4c59-9b8e-0e4b6a3b9d11"`,
		`externalId eq "5a3e5f0e-7b1d-4c59-9b8e-0e4b6a3b9d11"`,
		`emails[type eq "work"].value eq "5a3e5f0e@x.example"`,
	} {
		r := h.must(200, h.do("GET", filterQ(f), nil))
		if r.Body["totalResults"] != 0.0 || r.Body["Resources"] == nil {
			t.Errorf("%s: %s", f, r.Raw)
		}
	}
	// Entra encodes spaces as '+'.
	h.must(200, h.do("GET", "/Users?filter=userName+eq+%22nobody%22", nil))
	if h.calls() != 0 {
		t.Errorf("Test Connection cost %d Webflow calls", h.calls())
	}
}

// The Entra tutorial table (idp-clients.md §2.2), with and without aadOptscim062020.
func TestEntraTutorialTable(t *testing.T) {
	for _, flag := range []bool{false, true} {
		t.Run(fmt.Sprintf("aadOptscim062020=%v", flag), func(t *testing.T) {
			h := newBridge(t, withSite(func(s *config.SiteConfig) { s.EmailChange = "reinvite" }))
			cap := func(s string) string {
				if flag {
					return strings.ToLower(s)
				}
				return s
			}
			userName := "Test_User_00aa00aa-0000-4000-8000-000000000001"
			email := "Test_User_11bb11bb@testuser.com"
			r := h.must(201, h.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"`+userName+`","active":true,"emails":[{"primary":true,"type":"work","value":"`+email+`"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`))
			id := str(r.Body, "id")
			if str(r.Body, "meta.created") == "" || str(r.Body, "meta.lastModified") == "" {
				t.Errorf("create: %s", r.Raw)
			}
			if wu, ok := h.webflowUser(email); !ok || wu.Data.Name() != "givenName familyName" {
				t.Fatalf("Webflow after create: %+v", wu)
			}
			h.must(200, h.do("GET", "/Users/"+id, nil))
			h.must(404, h.do("GET", "/Users/5d48a0a8e9f04aa38008", nil))
			if r := h.must(200, h.do("GET", filterQ(`userName eq "`+userName+`"`), nil)); r.Body["totalResults"] != 1.0 {
				t.Errorf("query: %s", r.Raw)
			}
			h.must(200, h.do("GET", filterQ(`userName eq "non-existent user"`), nil))
			h.must(200, h.do("GET", filterQ(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), nil))

			// Update multi-valued + familyName: the work email changes, so
			// (emailChange: reinvite) the user is re-invited at the new address.
			newEmail := "updatedEmail@microsoft.com"
			r = h.must(200, h.do("PATCH", "/Users/"+id, patch(
				op(cap("Replace"), `emails[type eq "work"].value`, newEmail),
				op(cap("Replace"), "name.familyName", "updatedFamilyName"))))
			if str(r.Body, "name.familyName") != "updatedFamilyName" || str(r.Body, "id") != id {
				t.Errorf("multi-valued update: %s", r.Raw)
			}
			if _, old := h.webflowUser(email); old {
				t.Error("the old Webflow user must be gone after a re-invite")
			}
			if wu, ok := h.webflowUser(newEmail); !ok || h.sim.InvitesTo(newEmail) != 1 || wu.Data.Name() != "givenName familyName" {
				t.Errorf("re-invited user: %+v invites=%d", wu, h.sim.InvitesTo(newEmail))
			}
			// Single-valued userName change.
			if flag {
				// with the flag Entra batches path-less dotted keys
				r = h.must(200, h.do("PATCH", "/Users/"+id, patch(op("replace", "", map[string]any{
					"displayName": "Bjfe", "name.givenName": "Kkom",
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}))))
				if str(r.Body, "displayName") != "Bjfe" || str(r.Body, "name.givenName") != "Kkom" {
					t.Errorf("dotted keys: %s", r.Raw)
				}
				if wu, _ := h.webflowUser(newEmail); wu.Data.Name() != "Bjfe" {
					t.Errorf("Webflow name after dotted-key PATCH: %q", wu.Data.Name())
				}
			}
			newUserName := "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
			if r := h.must(200, h.do("PATCH", "/Users/"+id, patch(op(cap("Replace"), "userName", newUserName)))); str(r.Body, "userName") != newUserName {
				t.Errorf("userName: %s", r.Raw)
			}
			// Disable: "False" without the flag, false with it.
			var v any = "False"
			if flag {
				v = false
			}
			if r := h.must(200, h.do("PATCH", "/Users/"+id, patch(op(cap("Replace"), "active", v)))); r.Body["active"] != false {
				t.Errorf("disable: %s", r.Raw)
			}
			if r := h.must(200, h.do("GET", "/Users/"+id, nil)); r.Body["active"] != false {
				t.Errorf("disabled user GET: %s", r.Raw)
			}
			h.must(204, h.do("DELETE", "/Users/"+id, nil))
			if _, ok := h.webflowUser(newEmail); ok {
				t.Error("DELETE must delete the Webflow user")
			}
			h.must(404, h.do("GET", "/Users/"+id, nil))
			h.must(404, h.do("DELETE", "/Users/"+id, nil))
		})
	}
}

// emailChange: reject (the default) refuses with 400 mutability and calls nothing.
func TestEmailChangeRejected(t *testing.T) {
	h := newBridge(t)
	id := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"keep@example.com","active":true}`)).Body, "id")
	h.sim.ResetRequests()
	for _, p := range []map[string]any{
		patch(op("replace", "userName", "other@example.com")),
		patch(op("add", `emails[type eq "work"].value`, "other@example.com")),
	} {
		r := h.must(400, h.do("PATCH", "/Users/"+id, p))
		if str(r.Body, "scimType") != "mutability" || !strings.Contains(str(r.Body, "detail"), "email") {
			t.Errorf("email change: %s", r.Raw)
		}
	}
	if h.calls() != 0 {
		t.Errorf("a refused email change cost %d calls", h.calls())
	}
	if r := h.must(200, h.do("GET", "/Users/"+id, nil)); str(r.Body, "userName") != "keep@example.com" {
		t.Errorf("stored user changed: %s", r.Raw)
	}
	// A userName change that keeps the email (an Entra UPN rename) changes
	// nothing in Webflow: it is stored, with no call.
	upn := str(h.must(201, h.do("POST", "/Users", `{"schemas":["`+userSchema+`"],"userName":"alex@contoso.onmicrosoft.com","emails":[{"primary":true,"type":"work","value":"alex@example.com"}],"active":true}`)).Body, "id")
	h.sim.ResetRequests()
	if r := h.must(200, h.do("PATCH", "/Users/"+upn, patch(op("Replace", "userName", "alex.w@contoso.onmicrosoft.com")))); str(r.Body, "userName") != "alex.w@contoso.onmicrosoft.com" || h.calls() != 0 {
		t.Errorf("UPN rename: %d calls, %s", h.calls(), r.Raw)
	}
	if r := h.must(200, h.do("GET", filterQ(`userName eq "alex.w@contoso.onmicrosoft.com"`), nil)); r.Body["totalResults"] != 1.0 {
		t.Errorf("the new userName is indexed: %s", r.Raw)
	}
}
