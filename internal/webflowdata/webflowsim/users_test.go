package webflowsim

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

func decodeUser(t *testing.T, b []byte) webflowdata.User {
	t.Helper()
	var u webflowdata.User
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatalf("user: %v: %s", err, b)
	}
	return u
}

func TestInviteCreatesInvitedUser(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	resp, body := call(t, srv, "POST", "/v2/sites/"+siteID+"/users/invite", siteTok,
		map[string]any{"email": "Some.One@Home.com", "accessGroups": []any{"members", map[string]string{"slug": "premium"}}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	raw := decode(t, body)
	u := decodeUser(t, body)
	if !objectRe.MatchString(u.ID) {
		t.Errorf("id %q is not 24-hex", u.ID)
	}
	for _, k := range []string{"invitedOn", "createdOn", "lastUpdated"} {
		if s, _ := raw[k].(string); !msRe.MatchString(s) {
			t.Errorf("%s = %v, want millisecond timestamp", k, raw[k])
		}
	}
	if raw["lastLogin"] != nil {
		t.Errorf("lastLogin = %v, want null", raw["lastLogin"])
	}
	if u.Status != webflowdata.StatusInvited || u.IsEmailVerified {
		t.Errorf("status %s verified %v", u.Status, u.IsEmailVerified)
	}
	wantData := map[string]any{"email": "Some.One@Home.com", "accept-privacy": false, "accept-communications": false}
	if fmt.Sprint(raw["data"]) != fmt.Sprint(wantData) {
		t.Errorf("data = %v, want %v", raw["data"], wantData)
	}
	if fmt.Sprint(u.AccessGroups) != "[{members admin} {premium admin}]" {
		t.Errorf("groups = %v", u.AccessGroups)
	}
	if n := sim.InvitesTo("some.one@home.com"); n != 1 {
		t.Errorf("InvitesTo = %d", n)
	}
	inv := sim.Invites()
	if len(inv) != 1 || inv[0].UserID != u.ID || inv[0].SiteID != siteID {
		t.Errorf("Invites = %+v", inv)
	}
	if err := sim.VerifyUser(siteID, u.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := sim.User(siteID, u.ID)
	if got.Status != webflowdata.StatusVerified || !got.IsEmailVerified {
		t.Errorf("after verify: %+v", got)
	}
}

func TestPatchSemantics(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := New(Options{Now: clock.Now})
	defer sim.Close()
	if err := sim.LoadSeed(DemoSeed()); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, sim)
	mike := sim.Users(siteID)[0] // members(admin), customers(ecommerce), data.country NZ
	clock.Advance(time.Hour + 123*time.Millisecond)
	resp, body := call(t, srv, "PATCH", "/v2/sites/"+siteID+"/users/"+mike.ID, siteTok, map[string]any{
		"data":         map[string]any{"name": "Mike", "country": nil, "city": "Wellington"},
		"accessGroups": []any{"staff", map[string]string{"slug": "premium"}},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	u := decodeUser(t, body)
	if got := fmt.Sprint(u.AccessGroups); got != "[{staff admin} {premium admin} {customers ecommerce}]" {
		t.Errorf("groups = %s (ecommerce must stay, list replaces the rest)", got)
	}
	if _, ok := u.Data["country"]; ok {
		t.Errorf("null did not delete country: %v", u.Data)
	}
	if u.Data["city"] != "Wellington" || u.Data.Name() != "Mike" || u.Email() != "mike@example.com" || u.Data["accept-privacy"] != true {
		t.Errorf("data merge wrong: %v", u.Data)
	}
	if !u.LastUpdated.Equal(clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("lastUpdated = %v, want %v", u.LastUpdated, clock.Now())
	}
	// An empty list removes every admin group, still not the ecommerce one.
	_, body = call(t, srv, "PATCH", "/v2/sites/"+siteID+"/users/"+mike.ID, siteTok, map[string]any{"accessGroups": []string{}})
	if got := fmt.Sprint(decodeUser(t, body).AccessGroups); got != "[{customers ecommerce}]" {
		t.Errorf("groups after [] = %s", got)
	}
	// Omitting accessGroups leaves them alone.
	_, body = call(t, srv, "PATCH", "/v2/sites/"+siteID+"/users/"+mike.ID, siteTok, map[string]any{"data": map[string]any{}})
	if got := fmt.Sprint(decodeUser(t, body).AccessGroups); got != "[{customers ecommerce}]" {
		t.Errorf("groups after no-op = %s", got)
	}
}

func TestListPagingAndSort(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	for i := 0; i < 120; i++ {
		if _, err := sim.AddUser(siteID, SeedUser{Email: fmt.Sprintf("u%03d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	base := "/v2/sites/" + siteID + "/users"
	var l webflowdata.UserList
	_, body := call(t, srv, "GET", base, siteTok, nil)
	_ = json.Unmarshal(body, &l)
	if l.Count != 10 || l.Limit != 10 || l.Offset != 0 || l.Total != 123 || len(l.Users) != 10 {
		t.Fatalf("default page = %+v", l.Page)
	}
	if l.Users[0].Email() != "mike@example.com" {
		t.Errorf("default order is by creation, first = %s", l.Users[0].Email())
	}
	_, body = call(t, srv, "GET", base+"?limit=500&offset=100", siteTok, nil)
	l = webflowdata.UserList{}
	_ = json.Unmarshal(body, &l)
	if l.Limit != 100 || l.Count != 23 || l.Offset != 100 {
		t.Errorf("clamped page = %+v", l.Page)
	}
	_, body = call(t, srv, "GET", base+"?sort=-Email&limit=2", siteTok, nil)
	l = webflowdata.UserList{}
	_ = json.Unmarshal(body, &l)
	if l.Users[0].Email() != "u119@example.com" {
		t.Errorf("-Email first = %s", l.Users[0].Email())
	}
	_, body = call(t, srv, "GET", base+"?sort=Email&limit=1", siteTok, nil)
	l = webflowdata.UserList{}
	_ = json.Unmarshal(body, &l)
	if l.Users[0].Email() != "ada@example.com" {
		t.Errorf("Email first = %s", l.Users[0].Email())
	}
	_, body = call(t, srv, "GET", base+"?offset=1000", siteTok, nil)
	l = webflowdata.UserList{}
	_ = json.Unmarshal(body, &l)
	if l.Count != 0 || l.Users == nil {
		t.Errorf("past the end: %s", body)
	}
	var ag webflowdata.AccessGroupList
	_, body = call(t, srv, "GET", "/v2/sites/"+siteID+"/accessgroups?limit=2&offset=1&sort=-CreatedOn", siteTok, nil)
	_ = json.Unmarshal(body, &ag)
	if ag.Total != 4 || ag.Count != 2 || ag.AccessGroups[0].Slug != "staff" {
		t.Errorf("access groups page = %s", body)
	}
}

func TestRemovedMode(t *testing.T) {
	sim, srv := newDemo(t, Options{UsersMode: ModeRemoved})
	site := "/v2/sites/" + siteID
	mike := sim.Users(siteID)[0].ID
	for _, r := range [][2]string{
		{"GET", site + "/users"}, {"GET", site + "/users/" + mike}, {"POST", site + "/users/invite"},
		{"PATCH", site + "/users/" + mike}, {"DELETE", site + "/users/" + mike}, {"GET", site + "/accessgroups"},
	} {
		resp, body := call(t, srv, r[0], r[1], siteTok, map[string]any{"email": "x@example.com"})
		if resp.StatusCode != 404 {
			t.Errorf("%s %s: %d", r[0], r[1], resp.StatusCode)
		}
		assertEnvelope(t, body, webflowdata.CodeResourceNotFound)
	}
	for _, p := range []string{"/v2/sites", site, "/v2/token/introspect", site + "/webhooks"} {
		if resp, body := call(t, srv, "GET", p, siteTok, nil); resp.StatusCode != 200 {
			t.Errorf("GET %s in removed mode: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := call(t, srv, "POST", site+"/webhooks", siteTok, map[string]any{"triggerType": "user_account_added", "url": "https://example.com/h"})
	if resp.StatusCode != 400 {
		t.Fatalf("user_account webhook in removed mode: %d", resp.StatusCode)
	}
	assertEnvelope(t, body, webflowdata.CodeUnsupportedTrigger)

	sim.SetRemovedAnswer(403, webflowdata.CodeUsersNotEnabled)
	resp, body = call(t, srv, "GET", site+"/users", siteTok, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("configured answer: %d", resp.StatusCode)
	}
	assertEnvelope(t, body, webflowdata.CodeUsersNotEnabled)

	sim.SetUsersMode(ModeLegacy)
	if resp, _ := call(t, srv, "GET", site+"/users", siteTok, nil); resp.StatusCode != 200 {
		t.Fatalf("back to legacy: %d", resp.StatusCode)
	}
}
