package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
)

// wsDo sends a request to the workspace passthrough.
func (h *bridgeHarness) wsDo(method, path, body string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, h.ts.URL+workspacePrefix+path, rd)
	req.Header.Set("Authorization", "Bearer "+testWorkspaceToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func (h *bridgeHarness) identity(email, token string) resp {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.ts.URL+"/identity?email="+email, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const collabBody = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane@example.com","type":"work"}],"active":true}`

// Cascade deprovisioning end to end: a collaborator deactivated and then
// deleted through the passthrough takes the same person's site Membership
// access away, then removes the Membership user.
func TestCascadeDeprovisioning(t *testing.T) {
	h := newBridge(t, func(c *config.Config) {
		c.Workspace.Cascade.Sites = []string{testSite}
		c.Workspace.Cascade.On = []string{"delete", "deactivate"}
	})
	stop := h.startWorker()
	defer stop()
	member := h.newUser("jane@example.com")
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff", "members": []map[string]any{{"value": member}}}))
	waitFor(t, "group applied", func() bool { return h.slugs("jane@example.com") == "staff" })

	c := h.wsDo("POST", "/Users", collabBody)
	if c.Status != 201 {
		t.Fatalf("create collaborator: %d %s", c.Status, c.Raw)
	}
	cid := str(c.Body, "id")
	if !strings.HasPrefix(str(c.Body, "meta.location"), h.ts.URL+workspacePrefix+"/Users/") {
		t.Errorf("meta.location not rewritten to the bridge: %s", str(c.Body, "meta.location"))
	}

	id := h.identity("JANE@example.com", testAdminToken)
	if id.Status != 200 || str(id.Body, "collaborator.id") != cid || str(id.Body, "sites.0.member.id") != member || str(id.Body, "sites.0.member.accessGroups.0") != "staff" {
		t.Fatalf("identity lookup: %d %s", id.Status, id.Raw)
	}
	if r := h.identity("jane@example.com", testToken); r.Status != 401 {
		t.Errorf("identity lookup with a SCIM token: %d", r.Status)
	}
	if r := h.identity("not-an-email", testAdminToken); r.Status != 400 {
		t.Errorf("bad email: %d", r.Status)
	}

	// Deactivate the collaborator: the Membership user loses its access.
	if r := h.wsDo("PATCH", "/Users/"+cid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`); r.Status != 200 {
		t.Fatalf("deactivate collaborator: %d %s", r.Status, r.Raw)
	}
	waitFor(t, "cascaded deactivation", func() bool {
		return h.slugs("jane@example.com") == "" && h.must(200, h.do("GET", "/Users/"+member, nil)).Body["active"] == false
	})
	// Delete the collaborator: the Membership user goes.
	if r := h.wsDo("DELETE", "/Users/"+cid, ""); r.Status != 204 {
		t.Fatalf("delete collaborator: %d %s", r.Status, r.Raw)
	}
	waitFor(t, "cascaded delete", func() bool {
		_, inWebflow := h.webflowUser("jane@example.com")
		return !inWebflow && h.do("GET", "/Users/"+member, nil).Status == 404
	})
	if id := h.identity("jane@example.com", testAdminToken); id.Body["collaborator"] != nil || str(id.Body, "sites.0.member") != "" {
		t.Errorf("identity after deletes: %s", id.Raw)
	}
}

// With dryRun, the cascade only logs what it would do.
func TestCascadeDryRun(t *testing.T) {
	h := newBridge(t, func(c *config.Config) {
		c.Workspace.Cascade.Sites = []string{testSite}
		c.Workspace.Cascade.On = []string{"delete", "deactivate"}
		c.Workspace.Cascade.DryRun = true
	})
	stop := h.startWorker()
	defer stop()
	member := h.newUser("jane@example.com")
	cid := str(h.wsDo("POST", "/Users", collabBody).Body, "id")
	if r := h.wsDo("DELETE", "/Users/"+cid, ""); r.Status != 204 {
		t.Fatalf("delete collaborator: %d %s", r.Status, r.Raw)
	}
	time.Sleep(300 * time.Millisecond)
	h.drain()
	if r := h.must(200, h.do("GET", "/Users/"+member, nil)); r.Body["active"] != true {
		t.Errorf("dry run changed the Membership user: %s", r.Raw)
	}
	if _, ok := h.webflowUser("jane@example.com"); !ok {
		t.Error("dry run deleted the Webflow user")
	}
}

// Deprovisioning a collaborator without cascade leaves Membership alone.
func TestNoCascadeByDefault(t *testing.T) {
	h := newBridge(t)
	member := h.newUser("jane@example.com")
	cid := str(h.wsDo("POST", "/Users", collabBody).Body, "id")
	h.wsDo("DELETE", "/Users/"+cid, "")
	time.Sleep(100 * time.Millisecond)
	h.drain()
	if r := h.must(200, h.do("GET", "/Users/"+member, nil)); r.Body["active"] != true {
		t.Errorf("%s", r.Raw)
	}
}
