package webflowsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

func TestAdminAPI(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	status := func(method, path string, body any, want int) []byte {
		t.Helper()
		resp, b := call(t, srv, method, "/_sim"+path, "", body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}
	b := status("GET", "/state", nil, 200)
	if strings.Contains(string(b), DemoSiteToken) {
		t.Fatalf("state leaks a token")
	}
	var st StateSnapshot
	_ = json.Unmarshal(b, &st)
	if len(st.Sites) != 2 || len(st.Sites[0].Users) != 3 || len(st.SCIMUsers) != 1 {
		t.Fatalf("state = %s", b)
	}
	b = status("POST", "/sites/"+siteID+"/users", map[string]any{"email": "pre@example.com", "status": "invited"}, 201)
	var u webflowdata.User
	_ = json.Unmarshal(b, &u)
	b = status("POST", "/sites/"+siteID+"/users/"+u.ID+"/verify", nil, 200)
	if !strings.Contains(string(b), `"status":"verified"`) {
		t.Errorf("verify = %s", b)
	}
	status("POST", "/sites/"+siteID+"/users/0123456789abcdef01234567/verify", nil, 404)
	status("POST", "/faults", map[string]any{"path": "/v2/sites", "status": 503, "delay": "1ms"}, 204)
	status("POST", "/faults", map[string]any{"delay": "soon"}, 400)
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 503 {
		t.Fatalf("admin fault: %d", resp.StatusCode)
	}
	status("POST", "/faults", map[string]any{"status": 500, "count": 5}, 204)
	status("DELETE", "/faults", nil, 204)
	status("POST", "/random-faults", map[string]any{"seed": 3, "rate": 1, "statuses": []int{502}}, 204)
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 502 {
		t.Fatalf("random fault: %d", resp.StatusCode)
	}
	status("DELETE", "/faults", nil, 204)
	status("PUT", "/mode", map[string]any{"usersMode": "removed", "status": 403, "code": "users_not_enabled"}, 204)
	resp, body := call(t, srv, "GET", "/v2/sites/"+siteID+"/users", siteTok, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("mode: %d", resp.StatusCode)
	}
	assertEnvelope(t, body, webflowdata.CodeUsersNotEnabled)
	status("PUT", "/mode", map[string]any{"usersMode": "bogus"}, 400)
	status("PUT", "/mode", map[string]any{"usersMode": "legacy"}, 204)
	status("PUT", "/ratelimit", map[string]any{"perMinute": 1, "token": "read-token"}, 204)
	call(t, srv, "GET", "/v2/sites", readTok, nil)
	if resp, _ := call(t, srv, "GET", "/v2/sites", readTok, nil); resp.StatusCode != 429 {
		t.Fatalf("ratelimit: %d", resp.StatusCode)
	}
	status("PUT", "/ratelimit", map[string]any{"perMinute": 0}, 204)
	if resp, _ := call(t, srv, "GET", "/v2/sites", readTok, nil); resp.StatusCode != 200 {
		t.Fatalf("ratelimit off: %d", resp.StatusCode)
	}
	status("PUT", "/ratelimit", map[string]any{}, 400)
	call(t, srv, "POST", "/v2/sites/"+siteID+"/users/invite", siteTok, map[string]any{"email": "inv@example.com"})
	b = status("GET", "/invites", nil, 200)
	if !strings.Contains(string(b), "inv@example.com") {
		t.Errorf("invites = %s", b)
	}
	b = status("GET", "/requests", nil, 200)
	if strings.Contains(string(b), "/_sim") || strings.Contains(string(b), DemoSiteToken) || !strings.Contains(string(b), `"tokenLabel":"site-token"`) {
		t.Errorf("requests = %s", b)
	}
	status("DELETE", "/requests", nil, 204)
	if len(sim.Requests()) != 0 {
		t.Errorf("requests not cleared")
	}
	status("GET", "/deliveries", nil, 200)
	status("GET", "/nope", nil, 404)
	status("POST", "/faults", "{bad", 400)
}

func TestSeedFile(t *testing.T) {
	seed, err := LoadSeedFile("../../../deploy/webflow-sim-seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := New(Options{})
	defer sim.Close()
	if err := sim.LoadSeed(seed); err != nil {
		t.Fatal(err)
	}
	users := sim.Users(siteID)
	if len(users) != 3 || users[0].AccessGroups[1] != (webflowdata.AccessGroupRef{Slug: "customers", Type: "ecommerce"}) || users[1].AccessGroups[0].Type != "admin" {
		t.Fatalf("users = %+v", users)
	}
	if users[2].Status != "invited" || users[2].InvitedOn.IsZero() {
		t.Errorf("invited user = %+v", users[2])
	}
	// JSON is YAML.
	js, _ := json.Marshal(map[string]any{"tokens": []map[string]any{{"label": "t", "token": "x", "scopes": []string{"sites:read"}, "sites": []string{}}}})
	if _, err := ParseSeed(js); err != nil {
		t.Errorf("JSON seed: %v", err)
	}
	if _, err := ParseSeed([]byte("tokens: [{label: t, tokn: x}]")); err == nil {
		t.Errorf("typo accepted")
	}
	bad := DemoSeed()
	bad.Sites[0].Users = append(bad.Sites[0].Users, SeedUser{Email: "x@example.com", AccessGroups: []webflowdata.AccessGroupRef{{Slug: "nope"}}})
	if err := New(Options{}).LoadSeed(bad); err == nil {
		t.Errorf("unknown slug accepted")
	}
	if err := sim.LoadSeed(DemoSeed()); err == nil {
		t.Errorf("duplicate site accepted")
	}
}

// The out-of-band hooks: a purchase or a dashboard change sets groups of
// any type without the API (and fires user_account_updated), and a PATCH
// can be made to replace ecommerce groups too.
func TestOutOfBandAccessGroups(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	ada := sim.Users(siteID)[1] // staff (admin)
	put := func(body any, want int) []byte {
		t.Helper()
		resp, b := call(t, srv, "PUT", "/_sim/sites/"+siteID+"/users/"+ada.ID+"/accessGroups", "", body)
		if resp.StatusCode != want {
			t.Fatalf("PUT accessGroups: %d, want %d: %s", resp.StatusCode, want, b)
		}
		return b
	}
	put(map[string]any{"accessGroups": []map[string]string{{"slug": "staff"}, {"slug": "customers", "type": "ecommerce"}, {"slug": "premium", "type": "admin"}}}, 200)
	if u, _ := sim.User(siteID, ada.ID); fmt.Sprint(u.AccessGroups) != "[{staff admin} {customers ecommerce} {premium admin}]" {
		t.Fatalf("after the out-of-band change: %v", u.AccessGroups)
	}
	if len(sim.Requests()) != 0 {
		t.Errorf("an out-of-band change is not Webflow API traffic: %v", sim.Requests())
	}
	put(map[string]any{"accessGroups": []map[string]string{{"slug": "nope"}}}, 400)
	put(map[string]any{"accessGroups": []map[string]string{{"slug": "staff", "type": "gift"}}}, 400)
	resp, _ := call(t, srv, "PUT", "/_sim/sites/"+siteID+"/users/0123456789abcdef01234567/accessGroups", "", map[string]any{"accessGroups": []any{}})
	if resp.StatusCode != 400 {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}

	patchGroups := func(slugs ...string) string {
		t.Helper()
		_, body := call(t, srv, "PATCH", "/v2/sites/"+siteID+"/users/"+ada.ID, siteTok, map[string]any{"accessGroups": slugs})
		return fmt.Sprint(decodeUser(t, body).AccessGroups)
	}
	if got := patchGroups("staff"); got != "[{staff admin} {customers ecommerce}]" {
		t.Errorf("default: an unlisted ecommerce group stays: %s", got)
	}
	if resp, b := call(t, srv, "PUT", "/_sim/mode", "", map[string]any{"patchDropsEcommerce": true}); resp.StatusCode != 204 {
		t.Fatalf("mode: %d %s", resp.StatusCode, b)
	}
	if got := patchGroups("staff", "customers"); got != "[{staff admin} {customers ecommerce}]" {
		t.Errorf("a listed ecommerce group keeps its type: %s", got)
	}
	if got := patchGroups("staff"); got != "[{staff admin}]" {
		t.Errorf("patchDropsEcommerce: an unlisted ecommerce group goes: %s", got)
	}
}

// Issue 17 §4: a user without access groups has "accessGroups": [] in
// every answer, as Webflow writes it, never null.
func TestNoGroupsIsAnEmptyList(t *testing.T) {
	_, srv := newDemo(t, Options{})
	_, b := call(t, srv, "POST", "/_sim/sites/"+siteID+"/users", "", map[string]any{"email": "nogroups@example.com", "status": "verified"})
	var u webflowdata.User
	if err := json.Unmarshal(b, &u); err != nil || u.ID == "" {
		t.Fatalf("add user: %s", b)
	}
	for _, tc := range []struct {
		name, method, path, tok string
		body                    any
	}{
		{"admin add", "", "", "", nil}, // b above
		{"data-only PATCH", "PATCH", "/v2/sites/" + siteID + "/users/" + u.ID, siteTok, map[string]any{"data": map[string]any{"name": "No Groups"}}},
		{"GET after the PATCH", "GET", "/v2/sites/" + siteID + "/users/" + u.ID, siteTok, nil},
		{"admin PUT no groups", "PUT", "/_sim/sites/" + siteID + "/users/" + u.ID + "/accessGroups", "", map[string]any{"accessGroups": nil}},
	} {
		body := b
		if tc.method != "" {
			resp, got := call(t, srv, tc.method, tc.path, tc.tok, tc.body)
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %s", tc.name, resp.StatusCode, got)
				continue
			}
			body = got
		}
		if !strings.Contains(string(body), `"accessGroups":[]`) {
			t.Errorf("%s: accessGroups is not []: %s", tc.name, body)
		}
	}
}
