package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// openAPIBase is the URL under which the document is loaded into the
// validator; it is never fetched.
const openAPIBase = "https://bridge.invalid/openapi.json"

// responseValidator checks answers against the response schemas of
// docs/openapi.yaml. OpenAPI 3.1's Schema Object is JSON Schema 2020-12,
// so a 2020-12 validator (santhosh-tekuri/jsonschema, the only dependency
// it brings is golang.org/x/text) checks exactly what the document says:
// allOf, oneOf, const, enum, type lists, additionalProperties, formats.
type responseValidator struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema
}

func newResponseValidator(t *testing.T, doc map[string]any) *responseValidator {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("the OpenAPI document does not convert to JSON: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(openAPIBase, v); err != nil {
		t.Fatal(err)
	}
	return &responseValidator{doc: doc, compiler: c, cache: map[string]*jsonschema.Schema{}}
}

// pointerSegment escapes one JSON Pointer segment (RFC 6901).
func pointerSegment(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check says whether an answer of the operation (method, path as in the
// document) is documented: its status is listed, its media type is the
// one listed, and its body is valid against the listed schema. A status
// listed without content (204) must come without a body.
func (v *responseValidator) check(method, path string, r resp) error {
	op := asMap(asMap(asMap(v.doc["paths"])[path])[strings.ToLower(method)])
	if op == nil {
		return fmt.Errorf("%s %s is not in the document", method, path)
	}
	status := strconv.Itoa(r.Status)
	entry, ok := asMap(op["responses"])[status]
	if !ok {
		return fmt.Errorf("answered %d, which the document does not list (%v): %s", r.Status, keys(asMap(op["responses"])), r.Raw)
	}
	ptr := "/paths/" + pointerSegment(path) + "/" + strings.ToLower(method) + "/responses/" + status
	if ref, ok := asMap(entry)["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
		entry = v.resolve(ptr)
	}
	// A header the document fixes (a const) must be sent as documented.
	for name, hv := range asMap(asMap(entry)["headers"]) {
		h := asMap(hv)
		if ref, ok := h["$ref"].(string); ok {
			h = asMap(v.resolve(strings.TrimPrefix(ref, "#")))
		}
		if c, ok := asMap(h["schema"])["const"].(string); ok && r.Header.Get(name) != c {
			return fmt.Errorf("%d: header %s = %q, the document says %q", r.Status, name, r.Header.Get(name), c)
		}
	}
	content := asMap(asMap(entry)["content"])
	if len(content) == 0 {
		if strings.TrimSpace(r.Raw) != "" && r.Status == 204 {
			return fmt.Errorf("204 with a body: %s", r.Raw)
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	media, ok := content[mt]
	if !ok {
		return fmt.Errorf("%d with Content-Type %q, the document lists %v", r.Status, mt, keys(content))
	}
	if asMap(media)["schema"] == nil || !strings.Contains(mt, "json") {
		return nil
	}
	schema, err := v.schema(ptr + "/content/" + pointerSegment(mt) + "/schema")
	if err != nil {
		return err
	}
	body, err := jsonschema.UnmarshalJSON(strings.NewReader(r.Raw))
	if err != nil {
		return fmt.Errorf("%d: the body is not JSON: %v: %s", r.Status, err, r.Raw)
	}
	if err := schema.Validate(body); err != nil {
		return fmt.Errorf("%d: the body does not match the documented schema (%s): %v\nbody: %s", r.Status, ptr, err, r.Raw)
	}
	return nil
}

func (v *responseValidator) resolve(ptr string) any {
	cur := any(v.doc)
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		cur = asMap(cur)[seg]
	}
	return cur
}

func (v *responseValidator) schema(ptr string) (*jsonschema.Schema, error) {
	if s, ok := v.cache[ptr]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(openAPIBase + "#" + (&url.URL{Fragment: ptr}).EscapedFragment())
	if err != nil {
		return nil, fmt.Errorf("compiling the schema at %s: %w", ptr, err)
	}
	v.cache[ptr] = s
	return s, nil
}

// TestOpenAPIErrorResponses sends requests that fail, on purpose, to the
// documented operations, and checks each answer against the document: the
// status is listed for the operation, and the body is valid against the
// schema listed for that status (the SCIM Error, or the operation's own).
// Every operation is also called without a token.
func TestOpenAPIErrorResponses(t *testing.T) {
	doc := loadOpenAPI(t)
	rv := newResponseValidator(t, doc)
	h := newBridge(t, withWorkspaceGroups)
	site := "/sites/" + webflowsim.DemoSiteID
	userBody := func(email string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email + `","emails":[{"primary":true,"type":"work","value":"` + email + `"}],"active":true}`
	}
	user := h.must(201, h.do("POST", "/Users", userBody("openapi.errors@example.com"))).Body["id"].(string)
	staff := h.must(201, h.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff"}`)).Body["id"].(string)
	const unknownID = "010101001010101011001010101011"
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	admin := []string{"Authorization", "Bearer " + testAdminToken}
	ws := []string{"Authorization", "Bearer " + testWorkspaceToken}
	text := []string{"Content-Type", "text/plain"}
	tests := []struct {
		name, method, path, target string
		body                       string
		hdr                        []string
		want                       int
	}{
		{"unknown user", "GET", "/sites/{siteID}/scim/v2/Users/{id}", site + "/scim/v2/Users/" + unknownID, "", nil, 404},
		{"a filter that does not parse", "GET", "/sites/{siteID}/scim/v2/Users", site + "/scim/v2/Users?filter=" + url.QueryEscape("userName eq"), "", nil, 400},
		{"a count that is not a number", "GET", "/sites/{siteID}/scim/v2/Users", site + "/scim/v2/Users?count=many", "", nil, 400},
		{"create without userName", "POST", "/sites/{siteID}/scim/v2/Users", site + "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"active":true}`, nil, 400},
		{"create of a taken userName", "POST", "/sites/{siteID}/scim/v2/Users", site + "/scim/v2/Users", userBody("OPENAPI.errors@example.com"), nil, 409},
		{"create with a text body", "POST", "/sites/{siteID}/scim/v2/Users", site + "/scim/v2/Users", "userName=x", text, 415},
		{"replace of an unknown user", "PUT", "/sites/{siteID}/scim/v2/Users/{id}", site + "/scim/v2/Users/" + unknownID, userBody("nobody@example.com"), nil, 404},
		{"an email change under emailChange: reject", "PATCH", "/sites/{siteID}/scim/v2/Users/{id}", site + "/scim/v2/Users/" + user, patch(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"changed@example.com"}`), nil, 400},
		{"a patch op that does not exist", "PATCH", "/sites/{siteID}/scim/v2/Users/{id}", site + "/scim/v2/Users/" + user, patch(`{"op":"frobnicate","path":"displayName","value":"x"}`), nil, 400},
		{"delete of an unknown user", "DELETE", "/sites/{siteID}/scim/v2/Users/{id}", site + "/scim/v2/Users/" + unknownID, "", nil, 404},
		{"a group no access group matches", "POST", "/sites/{siteID}/scim/v2/Groups", site + "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering"}`, nil, 400},
		{"a second link of an access group", "POST", "/sites/{siteID}/scim/v2/Groups", site + "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"STAFF"}`, nil, 409},
		{"a group filter the bridge does not answer", "GET", "/sites/{siteID}/scim/v2/Groups", site + "/scim/v2/Groups?filter=" + url.QueryEscape(`displayName sw "S"`), "", nil, 400},
		{"unknown group", "GET", "/sites/{siteID}/scim/v2/Groups/{id}", site + "/scim/v2/Groups/" + unknownID, "", nil, 404},
		{"a member that is not a user of the site", "PATCH", "/sites/{siteID}/scim/v2/Groups/{id}", site + "/scim/v2/Groups/" + staff, patch(`{"op":"add","path":"members","value":[{"value":"` + unknownID + `"}]}`), nil, 400},
		{"unknown schema", "GET", "/sites/{siteID}/scim/v2/Schemas/{id}", site + "/scim/v2/Schemas/urn:nope", "", nil, 404},
		{"unknown resource type", "GET", "/sites/{siteID}/scim/v2/ResourceTypes/{id}", site + "/scim/v2/ResourceTypes/Nope", "", nil, 404},
		{"identity: not an address", "GET", "/identity", "/identity?email=nope", "", admin, 400},
		{"identity: a site token", "GET", "/identity", "/identity?email=a%40example.com", "", nil, 401},
		{"metrics: a site token", "GET", "/metrics", "/metrics", "", nil, 401},
		{"readyz: a wrong token", "GET", "/readyz", "/readyz", "", nil, 401},
		{"workspace: unknown collaborator", "GET", "/workspace/scim/v2/Users/{id}", "/workspace/scim/v2/Users/" + unknownID, "", ws, 404},
		{"workspace: unknown group", "GET", "/workspace/scim/v2/Groups/{id}", "/workspace/scim/v2/Groups/" + unknownID, "", ws, 404},
		{"workspace: a group without displayName", "POST", "/workspace/scim/v2/Groups", "/workspace/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"members":[]}`, ws, 400},
		{"workspace: a site token", "GET", "/workspace/admin/memberships", "/workspace/admin/memberships", "", nil, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			var r resp
			if tc.method == "GET" && tc.path == "/metrics" {
				r = rawGet(t, h.ts.URL+tc.target, "Bearer "+testToken)
			} else {
				r = h.do(tc.method, h.ts.URL+tc.target, body, tc.hdr...)
			}
			if r.Status != tc.want {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.target, r.Status, tc.want, r.Raw)
			}
			if err := rv.check(tc.method, tc.path, r); err != nil {
				t.Errorf("%s %s: %v", tc.method, tc.path, err)
			}
		})
	}

	// Every operation that takes a token, called without one.
	for p, item := range asMap(doc["paths"]) {
		for m, op := range asMap(item) {
			if !httpMethods[m] {
				continue
			}
			if sec, ok := asMap(op)["security"].([]any); ok && len(sec) == 0 {
				continue // the probes take no token
			}
			target := strings.NewReplacer("{siteID}", webflowsim.DemoSiteID, "{id}", unknownID).Replace(p)
			method := strings.ToUpper(m)
			var body any
			if method == "POST" || method == "PUT" || method == "PATCH" {
				body = "{}"
			}
			r := h.do(method, h.ts.URL+target, body, "Authorization", "")
			if p == "/readyz" {
				continue // without a token: the overall status, by design
			}
			if r.Status != 401 {
				t.Errorf("%s %s without a token: %d, want 401: %s", method, p, r.Status, r.Raw)
				continue
			}
			if err := rv.check(method, p, r); err != nil {
				t.Errorf("%s %s without a token: %v", method, p, err)
			}
		}
	}
}

// TestResponseValidatorRejects shows that the validator fails what the
// document does not describe, so that a green TestOpenAPIErrorResponses
// means the answers match their schemas.
func TestResponseValidatorRejects(t *testing.T) {
	rv := newResponseValidator(t, loadOpenAPI(t))
	scim := http.Header{"Content-Type": []string{"application/scim+json"}}
	const users = "/sites/{siteID}/scim/v2/Users/{id}"
	tests := []struct {
		name   string
		method string
		path   string
		r      resp
		ok     bool
	}{
		{"a SCIM Error", "GET", users, resp{Status: 404, Header: scim, Raw: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"Resource x not found.","status":"404"}`}, true},
		{"a plain {error} body", "GET", "/identity", resp{Status: 400, Header: scim, Raw: `{"error":"the email parameter must be a valid address"}`}, false},
		{"status as a number", "GET", users, resp{Status: 404, Header: scim, Raw: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"x","status":404}`}, false},
		{"an undocumented status", "GET", users, resp{Status: 418, Header: scim, Raw: `{}`}, false},
		{"another media type", "GET", users, resp{Status: 404, Header: http.Header{"Content-Type": []string{"text/plain"}}, Raw: "not found"}, false},
		{"a list with a string total", "GET", "/sites/{siteID}/scim/v2/Users", resp{Status: 200, Header: scim, Raw: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":"0","itemsPerPage":0,"startIndex":1,"Resources":[]}`}, false},
		{"a 401 without its WWW-Authenticate", "GET", users, resp{Status: 401, Header: scim, Raw: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"missing bearer token","status":"401"}`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := rv.check(tc.method, tc.path, tc.r); (err == nil) != tc.ok {
				t.Fatalf("check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
