package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// openAPIPath is the OpenAPI document of the bridge's HTTP surface.
var openAPIPath = filepath.Join("..", "..", "docs", "openapi.yaml")

// loadOpenAPI parses docs/openapi.yaml.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", openAPIPath, err)
	}
	return doc
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}

// resolveRef follows a local "#/components/..." reference.
func resolveRef(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m := asMap(v)
	for i := 0; i < 5; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		cur := any(doc)
		for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = asMap(cur)[seg]
		}
		if cur == nil {
			t.Fatalf("unresolvable $ref %s", ref)
		}
		m = asMap(cur)
	}
	return m
}

// TestOpenAPIDocument checks the document's shape: OpenAPI 3.1, every
// local $ref resolves, every operation has responses and a security
// requirement (empty for the probes).
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi = %q, want 3.1.x", v)
	}
	if asMap(doc["info"])["title"] == nil || asMap(doc["info"])["version"] == nil {
		t.Error("info.title and info.version are required")
	}
	schemes := asMap(asMap(doc["components"])["securitySchemes"])
	for _, name := range []string{"siteToken", "adminToken", "workspaceToken"} {
		s := asMap(schemes[name])
		if s["type"] != "http" || s["scheme"] != "bearer" {
			t.Errorf("securitySchemes.%s is not an http bearer scheme: %v", name, s)
		}
	}
	for _, name := range []string{"Error", "ListResponse", "User", "Group", "PatchOp"} {
		if asMap(asMap(doc["components"])["schemas"])[name] == nil {
			t.Errorf("components.schemas.%s is missing", name)
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("non-local $ref %s", ref)
				} else {
					resolveRef(t, doc, x)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	for p, item := range asMap(doc["paths"]) {
		for m, op := range asMap(item) {
			if !httpMethods[m] {
				continue
			}
			o := asMap(op)
			if len(asMap(o["responses"])) == 0 {
				t.Errorf("%s %s has no responses", strings.ToUpper(m), p)
			}
			if _, ok := o["security"]; !ok {
				t.Errorf("%s %s has no security requirement", strings.ToUpper(m), p)
			}
			if o["operationId"] == nil {
				t.Errorf("%s %s has no operationId", strings.ToUpper(m), p)
			}
		}
	}
}

// TestOpenAPIMatchesRoutes sends one valid request per documented
// operation to a bridge assembled by the test harness, and checks that the
// route exists and that the status (and, where documented, the media type)
// is one the document lists. Conversely, the main real routes must all be
// documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := asMap(doc["paths"])

	// The routes the bridge serves that the document must describe.
	required := map[string][]string{
		"/sites/{siteID}/scim/v2/Users":                 {"get", "post"},
		"/sites/{siteID}/scim/v2/Users/{id}":            {"get", "put", "patch", "delete"},
		"/sites/{siteID}/scim/v2/Groups":                {"get", "post"},
		"/sites/{siteID}/scim/v2/Groups/{id}":           {"get", "put", "patch", "delete"},
		"/sites/{siteID}/scim/v2/ServiceProviderConfig": {"get"},
		"/sites/{siteID}/scim/v2/Schemas":               {"get"},
		"/sites/{siteID}/scim/v2/ResourceTypes":         {"get"},
		"/sites/{siteID}/admin/memberships":             {"get"},
		"/identity":                                     {"get"},
		"/healthz":                                      {"get"},
		"/readyz":                                       {"get"},
		"/metrics":                                      {"get"},
		"/workspace/scim/v2/Users":                      {"get", "post"},
		"/workspace/scim/v2/Users/{id}":                 {"get", "put", "patch", "delete"},
		"/workspace/scim/v2/Groups":                     {"get", "post"},
		"/workspace/scim/v2/Groups/{id}":                {"get", "put", "patch", "delete"},
		"/workspace/admin/memberships":                  {"get"},
	}
	for p, methods := range required {
		for _, m := range methods {
			if asMap(asMap(paths[p])[m]) == nil {
				t.Errorf("the document lacks %s %s", strings.ToUpper(m), p)
			}
		}
	}

	rv := newResponseValidator(t, doc)
	h := newBridge(t, withWorkspaceGroups)
	userBody := func(email string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email + `","name":{"givenName":"Open","familyName":"Api"},"emails":[{"primary":true,"type":"work","value":"` + email + `"}],"active":true}`
	}
	// Fixtures: users to read, change and delete; access groups to link,
	// change and unlink; collaborators on the workspace surface.
	keepUser := h.must(201, h.do("POST", "/Users", userBody("openapi.keep@example.com"))).Body["id"].(string)
	dropUser := h.must(201, h.do("POST", "/Users", userBody("openapi.drop@example.com"))).Body["id"].(string)
	// Only a linked access group is a SCIM Group: staff is linked to be
	// read and changed, premium to be unlinked by DELETE /Groups/{id};
	// customers stays unlinked for POST /Groups to link.
	groupID := map[string]string{} // access-group slug -> SCIM id
	for _, name := range []string{"Staff", "Premium"} {
		r := h.must(201, h.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`"}`))
		groupID[strings.ToLower(name)], _ = r.Body["id"].(string)
	}

	ws := h.ts.URL + "/workspace/scim/v2"
	wsAuth := []string{"Authorization", "Bearer " + testWorkspaceToken}
	collab := func(email string) string {
		r := h.do("POST", ws+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+email+`","name":{"givenName":"Col","familyName":"Lab"},"emails":[{"primary":true,"value":"`+email+`"}],"active":true}`, wsAuth...)
		h.must(201, r)
		return r.Body["id"].(string)
	}
	keepCollab, dropCollab := collab("openapi.collab@example.com"), collab("openapi.collab2@example.com")
	wsGroup := func(name string) string {
		r := h.do("POST", ws+"/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`","members":[{"value":"`+keepCollab+`"}]}`, wsAuth...)
		h.must(201, r)
		return r.Body["id"].(string)
	}
	keepWSGroup, dropWSGroup := wsGroup("Engineering"), wsGroup("Reviewers")

	patchOp := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	// One valid request per operation: the id to put in the path, the
	// query, the body.
	type call struct {
		id, query, body string
	}
	calls := map[string]call{
		"GET /sites/{siteID}/scim/v2/Users":              {query: "filter=" + url.QueryEscape(`userName eq "openapi.keep@example.com"`) + "&startIndex=1&count=10&attributes=userName&excludedAttributes=name"},
		"POST /sites/{siteID}/scim/v2/Users":             {body: userBody("openapi.new@example.com")},
		"GET /sites/{siteID}/scim/v2/Users/{id}":         {id: keepUser, query: "excludedAttributes=groups"},
		"PUT /sites/{siteID}/scim/v2/Users/{id}":         {id: keepUser, body: userBody("openapi.keep@example.com")},
		"PATCH /sites/{siteID}/scim/v2/Users/{id}":       {id: keepUser, body: patchOp(`{"op":"replace","path":"displayName","value":"Open API"}`)},
		"DELETE /sites/{siteID}/scim/v2/Users/{id}":      {id: dropUser},
		"GET /sites/{siteID}/scim/v2/Groups":             {query: "filter=" + url.QueryEscape(`displayName eq "Staff"`) + "&startIndex=1&count=10&excludedAttributes=members"},
		"POST /sites/{siteID}/scim/v2/Groups":            {body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Customers","members":[]}`},
		"GET /sites/{siteID}/scim/v2/Groups/{id}":        {id: groupID["staff"], query: "excludedAttributes=members"},
		"PUT /sites/{siteID}/scim/v2/Groups/{id}":        {id: groupID["staff"], body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff (IdP)","members":[{"value":"` + keepUser + `"}]}`},
		"PATCH /sites/{siteID}/scim/v2/Groups/{id}":      {id: groupID["staff"], body: patchOp(`{"op":"remove","path":"members[value eq \"` + keepUser + `\"]"}`)},
		"DELETE /sites/{siteID}/scim/v2/Groups/{id}":     {id: groupID["premium"]},
		"GET /sites/{siteID}/scim/v2/Schemas/{id}":       {id: "urn:ietf:params:scim:schemas:core:2.0:User"},
		"GET /sites/{siteID}/scim/v2/ResourceTypes/{id}": {id: "User"},
		"GET /identity":                         {query: "email=openapi.keep%40example.com"},
		"GET /workspace/scim/v2/Users":          {query: "startIndex=1&count=10"},
		"POST /workspace/scim/v2/Users":         {body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"openapi.collab3@example.com","emails":[{"primary":true,"value":"openapi.collab3@example.com"}],"active":true}`},
		"GET /workspace/scim/v2/Users/{id}":     {id: keepCollab},
		"PUT /workspace/scim/v2/Users/{id}":     {id: keepCollab, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"openapi.collab@example.com","name":{"givenName":"Col","familyName":"Renamed"},"emails":[{"primary":true,"value":"openapi.collab@example.com"}],"active":true}`},
		"PATCH /workspace/scim/v2/Users/{id}":   {id: keepCollab, body: patchOp(`{"op":"replace","path":"name.familyName","value":"Patched"}`)},
		"DELETE /workspace/scim/v2/Users/{id}":  {id: dropCollab},
		"GET /workspace/scim/v2/Groups":         {query: "filter=" + url.QueryEscape(`displayName eq "Engineering"`) + "&startIndex=1&count=10"},
		"POST /workspace/scim/v2/Groups":        {body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Marketing","members":[]}`},
		"GET /workspace/scim/v2/Groups/{id}":    {id: keepWSGroup, query: "excludedAttributes=members"},
		"PUT /workspace/scim/v2/Groups/{id}":    {id: keepWSGroup, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"` + keepCollab + `"}]}`},
		"PATCH /workspace/scim/v2/Groups/{id}":  {id: keepWSGroup, body: patchOp(`{"op":"remove","path":"members[value eq \"` + keepCollab + `\"]"}`)},
		"DELETE /workspace/scim/v2/Groups/{id}": {id: dropWSGroup},
	}

	type op struct{ method, path string }
	var ops []op
	for p, item := range paths {
		for m := range asMap(item) {
			if httpMethods[m] {
				ops = append(ops, op{strings.ToUpper(m), p})
			}
		}
	}
	// Writes before deletes, so a DELETE never removes another call's fixture.
	rank := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	sort.Slice(ops, func(i, j int) bool {
		if rank[ops[i].method] != rank[ops[j].method] {
			return rank[ops[i].method] < rank[ops[j].method]
		}
		return ops[i].path < ops[j].path
	})
	for _, o := range ops {
		key := o.method + " " + o.path
		c := calls[key]
		target := strings.ReplaceAll(o.path, "{siteID}", webflowsim.DemoSiteID)
		if strings.Contains(target, "{id}") {
			if c.id == "" {
				t.Errorf("%s: the test has no id for this path; add one to calls", key)
				continue
			}
			target = strings.ReplaceAll(target, "{id}", url.PathEscape(c.id))
		}
		if strings.Contains(target, "{") {
			t.Errorf("%s: unknown path parameter", key)
			continue
		}
		u := h.ts.URL + target
		if c.query != "" {
			u += "?" + c.query
		}
		token := testToken
		switch {
		case strings.HasPrefix(o.path, "/identity"), o.path == "/readyz", o.path == "/metrics":
			token = testAdminToken
		case strings.HasPrefix(o.path, "/workspace/"):
			token = testWorkspaceToken
		}
		var body any
		if c.body != "" {
			body = c.body
		} else if o.method == "POST" || o.method == "PUT" || o.method == "PATCH" {
			t.Errorf("%s: the test has no body for this operation; add one to calls", key)
			continue
		}
		var r resp
		if o.path == "/metrics" {
			r = rawGet(t, u, "Bearer "+token) // Prometheus text, not JSON
		} else {
			r = h.do(o.method, u, body, "Authorization", "Bearer "+token)
		}

		t.Logf("%s -> %d", key, r.Status)
		detail := str(r.Body, "detail")
		switch {
		case r.Status == 405:
			t.Errorf("%s: 405, the route does not take this method: %s", key, r.Raw)
		case r.Status == 404 && (detail == "Specified endpoint does not exist." || strings.HasPrefix(detail, "no SCIM endpoint at") ||
			strings.HasPrefix(detail, "no such endpoint") || strings.HasPrefix(detail, "no site ")):
			t.Errorf("%s: 404 for an unknown route: %s", key, r.Raw)
		}
		if r.Status >= 300 {
			t.Errorf("%s: a valid request answered %d: %s", key, r.Status, r.Raw)
		}
		// The status is listed, and the media type and body are the ones
		// the document gives for it (its schema, checked by a JSON Schema
		// 2020-12 validator).
		if err := rv.check(o.method, o.path, r); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

// rawGet fetches a non-JSON answer.
func rawGet(t *testing.T, u, authorization string) resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
