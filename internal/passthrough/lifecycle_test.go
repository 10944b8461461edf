package passthrough

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/state"
)

const oktaUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"Test.User@okta.local","type":"work"}],
 "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
 "groups":[],"password":"1mz050nq","active":true}`

func oktaPut(id string, active bool) string {
	a := "false"
	if active {
		a = "true"
	}
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + id + `","userName":"test.user@okta.local",
 "name":{"givenName":"Test","familyName":"User"},
 "emails":[{"primary":true,"value":"Test.User@okta.local","type":"work"}],
 "active":` + a + `,"groups":[],"meta":{"resourceType":"User"}}`
}

func oktaPatch(active bool) string {
	a := "false"
	if active {
		a = "true"
	}
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":` + a + `}}]}`
}

// TestOktaCollaboratorLifecycle runs Okta's assign → deactivate (OIN PATCH
// and AIW PUT) → reactivate → delete sequence through the proxy against the
// simulator's native SCIM, checking upstream state, the link store and the
// deprovisioning callbacks.
func TestOktaCollaboratorLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const filterQ = "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"

	// Okta looks the user up first: no match is a 200 empty ListResponse.
	res, b := e.do("GET", "/workspace/scim/v2/Users?"+filterQ, nil)
	if res.StatusCode != 200 || decode(t, b)["totalResults"].(float64) != 0 {
		t.Fatalf("pre-create filter: %d %s", res.StatusCode, b)
	}
	if got := e.upstream()[0]; got.RawQuery != filterQ || got.URI != "/scim/v2/Users?"+filterQ {
		t.Errorf("query not preserved: %+v", got.URI)
	}

	// Create.
	res, b = e.do("POST", "/workspace/scim/v2/Users", oktaUser)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("content type %q", ct)
	}
	u := decode(t, b)
	id := u["id"].(string)
	wantLoc := publicURL + "/Users/" + id
	if res.Header.Get("Location") != wantLoc || u["meta"].(map[string]any)["location"] != wantLoc {
		t.Errorf("locations: header %q body %v, want %q", res.Header.Get("Location"), u["meta"], wantLoc)
	}
	if su := e.simUser("test.user@okta.local"); su == nil || su["active"] != true {
		t.Fatalf("sim user after create: %v", su)
	}
	c, err := e.links.CollaboratorByEmail(ctx, "test.user@okta.local")
	if err != nil || c.ID != id || !c.Active || c.UserName != "test.user@okta.local" {
		t.Fatalf("link after create: %+v %v", c, err)
	}

	// Duplicate create: upstream's 409 SCIM error passes through.
	res, b = e.do("POST", "/workspace/scim/v2/Users", oktaUser)
	assertSCIMError(t, res, b, http.StatusConflict)

	// Filter now finds it.
	res, b = e.do("GET", "/workspace/scim/v2/Users?"+filterQ, nil)
	l := decode(t, b)
	if res.StatusCode != 200 || l["totalResults"].(float64) != 1 {
		t.Fatalf("filter: %d %s", res.StatusCode, b)
	}
	if loc := l["Resources"].([]any)[0].(map[string]any)["meta"].(map[string]any)["location"]; loc != wantLoc {
		t.Errorf("list meta.location %v", loc)
	}

	// Deactivate, Okta OIN style: path-less PATCH.
	res, b = e.do("PATCH", "/workspace/scim/v2/Users/"+id, oktaPatch(false))
	if res.StatusCode != 200 || decode(t, b)["active"] != false {
		t.Fatalf("deactivate patch: %d %s", res.StatusCode, b)
	}
	if su := e.simUser("test.user@okta.local"); su["active"] != false {
		t.Errorf("sim user not deactivated: %v", su)
	}
	if c, _ := e.links.Collaborator(ctx, id); c == nil || c.Active {
		t.Errorf("link not inactive: %+v", c)
	}
	want := []deprovCall{{state.Collaborator{ID: id, Email: "Test.User@okta.local", UserName: "test.user@okta.local", Active: false}, "deactivate"}}
	if got := e.deprovisions(); !equalCalls(got, want) {
		t.Fatalf("deprovisions %+v, want %+v", got, want)
	}

	// A repeated deactivation is not a new transition.
	e.do("PATCH", "/workspace/scim/v2/Users/"+id, oktaPatch(false))
	if got := e.deprovisions(); len(got) != 1 {
		t.Errorf("repeat deactivate fired again: %+v", got)
	}
	// Okta's GET after unassignment still finds the user, inactive.
	res, b = e.do("GET", "/workspace/scim/v2/Users/"+id, nil)
	if res.StatusCode != 200 || decode(t, b)["active"] != false {
		t.Errorf("get inactive: %d %s", res.StatusCode, b)
	}

	// Reactivate (PATCH), then deactivate and reactivate AIW style (PUT).
	res, b = e.do("PATCH", "/workspace/scim/v2/Users/"+id, oktaPatch(true))
	if res.StatusCode != 200 || decode(t, b)["active"] != true {
		t.Fatalf("reactivate: %d %s", res.StatusCode, b)
	}
	if c, _ := e.links.Collaborator(ctx, id); !c.Active {
		t.Errorf("link not active again: %+v", c)
	}
	res, b = e.do("PUT", "/workspace/scim/v2/Users/"+id, oktaPut(id, false))
	if res.StatusCode != 200 || decode(t, b)["active"] != false {
		t.Fatalf("deactivate put: %d %s", res.StatusCode, b)
	}
	if got := e.deprovisions(); len(got) != 2 || got[1].Action != "deactivate" || got[1].C.ID != id {
		t.Errorf("PUT deactivate: %+v", got)
	}
	res, _ = e.do("PUT", "/workspace/scim/v2/Users/"+id, oktaPut(id, true))
	if su := e.simUser("test.user@okta.local"); res.StatusCode != 200 || su["active"] != true {
		t.Errorf("put reactivate: %d %v", res.StatusCode, su)
	}
	if len(e.deprovisions()) != 2 {
		t.Errorf("reactivation must not deprovision")
	}

	// Delete (Entra's hard delete; Okta never sends it).
	res, b = e.do("DELETE", "/workspace/scim/v2/Users/"+id, nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.StatusCode, b)
	}
	if su := e.simUser("test.user@okta.local"); su != nil {
		t.Errorf("sim user still there: %v", su)
	}
	got := e.deprovisions()
	if len(got) != 3 || got[2].Action != "delete" || got[2].C.ID != id || got[2].C.Email != "Test.User@okta.local" {
		t.Errorf("delete deprovision: %+v", got)
	}
	if _, err := e.links.Collaborator(ctx, id); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("link not forgotten: %v", err)
	}
	// A second delete is a 404 from upstream: not confirmed, no callback.
	res, b = e.do("DELETE", "/workspace/scim/v2/Users/"+id, nil)
	assertSCIMError(t, res, b, http.StatusNotFound)
	if len(e.deprovisions()) != 3 {
		t.Errorf("unconfirmed delete deprovisioned")
	}

	// Every call was paced on the upstream token's own key.
	e.limiter.mu.Lock()
	defer e.limiter.mu.Unlock()
	for _, k := range e.limiter.waits {
		if k != e.proxy.key || !strings.HasPrefix(k, "tok_") {
			t.Errorf("limiter key %q", k)
		}
	}
	if len(e.limiter.observed) != len(e.upstream()) {
		t.Errorf("observed %d answers for %d upstream requests", len(e.limiter.observed), len(e.upstream()))
	}
}

func equalCalls(a, b []deprovCall) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestListRecordsLinks: a plain list (Okta's import) records every user,
// and userName is the email when emails is empty.
func TestListRecordsLinks(t *testing.T) {
	e := newEnv(t, nil)
	res, b := e.do("POST", "/workspace/scim/v2/Users", `{"userName":"noemail@example.com","name":{"givenName":"N","familyName":"E"}}`)
	if res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	res, b = e.do("GET", "/workspace/scim/v2/Users?startIndex=1&count=2", nil)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	for _, email := range []string{"owner@example.com", "NOEMAIL@example.com"} {
		if c, err := e.links.CollaboratorByEmail(context.Background(), email); err != nil || !c.Active {
			t.Errorf("%s: %+v %v", email, c, err)
		}
	}
}

// TestDeleteUnknownCollaborator: a DELETE of a user never seen through the
// proxy still reports the deprovisioning, with the id only.
func TestDeleteUnknownCollaborator(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Links = nil })
	owner := e.simUser("owner@example.com")
	id := owner["id"].(string)
	res, b := e.do("DELETE", "/workspace/scim/v2/Users/"+url.PathEscape(id), nil)
	if res.StatusCode != 204 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	if got := e.deprovisions(); len(got) != 1 || got[0].C.ID != id || got[0].Action != "delete" {
		t.Errorf("%+v", got)
	}
}

// TestOnDeprovisionPanicDoesNotFailRequest: the IdP's request succeeds even
// when the callback misbehaves.
func TestOnDeprovisionPanicDoesNotFailRequest(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.OnDeprovision = func(context.Context, state.Collaborator, string) { panic("boom") }
	})
	id := e.simUser("owner@example.com")["id"].(string)
	res, b := e.do("PATCH", "/workspace/scim/v2/Users/"+id, oktaPatch(false))
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}

// TestPatch204Deactivation: an upstream that answers PATCH with 204 (no
// resource) is still a confirmed deactivation, judged from the PatchOp.
func TestPatch204Deactivation(t *testing.T) {
	e := newEnv(t, nil)
	id := e.simUser("owner@example.com")["id"].(string)
	e.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPatch {
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		return false
	})
	res, _ := e.do("PATCH", "/workspace/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if res.StatusCode != 204 {
		t.Fatalf("%d", res.StatusCode)
	}
	if got := e.deprovisions(); len(got) != 1 || got[0].Action != "deactivate" || got[0].C.ID != id {
		t.Errorf("%+v", got)
	}
}

// TestGroupsPassThrough: Webflow's native SCIM has no groups; the IdP sees
// upstream's answer (404 SCIM error from the simulator).
func TestGroupsPassThrough(t *testing.T) {
	e := newEnv(t, nil)
	res, b := e.do("GET", "/workspace/scim/v2/Groups?startIndex=1&count=100", nil)
	m := assertSCIMError(t, res, b, http.StatusNotFound)
	if !strings.Contains(m["detail"].(string), "Groups are not supported") {
		t.Errorf("detail %v", m["detail"])
	}
	if got := e.upstream(); len(got) != 1 || got[0].URI != "/scim/v2/Groups?startIndex=1&count=100" {
		t.Errorf("%+v", got)
	}
}
