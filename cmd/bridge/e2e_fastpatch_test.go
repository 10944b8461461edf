package main

import (
	"strings"
	"testing"
)

// TestActivePatchAnswersAsTheLibrary: the active-flag PATCHes the bridge
// serves without the library (internal/scimserver/fastpatch.go) answer
// what the library answers: the 200 body is the bytes GET /Users/{id}
// gives (the library's rendering), and an error is the library's error for
// the same request in a shape the fast path does not take.
func TestActivePatchAnswersAsTheLibrary(t *testing.T) {
	h := newBridge(t)
	id := h.newUser("fast.patch@example.com")
	// In a group: the answer carries the groups attribute.
	h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Members", "members": []map[string]any{{"value": id}}}))
	body := func(ops string) string { return `{"schemas":["` + patchSchema + `"],"Operations":` + ops + `}` }
	for _, tc := range []struct{ name, ops string }{
		{"Okta deactivate", `[{"op":"replace","value":{"active":false}}]`},
		{"Entra reactivate", `[{"op":"Replace","path":"active","value":true}]`},
		{"Entra deactivate, string value", `[{"op":"Replace","path":"active","value":"False"}]`},
		{"Okta reactivate, add", `[{"op":"add","value":{"active":true}}]`},
		{"nothing changes", `[{"op":"replace","value":{"active":true}}]`},
	} {
		p := h.do("PATCH", "/Users/"+id, body(tc.ops))
		g := h.do("GET", "/Users/"+id, nil)
		if p.Status != 200 || g.Status != 200 {
			t.Fatalf("%s: PATCH %d %s; GET %d", tc.name, p.Status, p.Raw, g.Status)
		}
		if !strings.Contains(p.Raw, `"groups":[{`) {
			t.Errorf("%s: no groups attribute: %s", tc.name, p.Raw)
		}
		if p.Raw != g.Raw {
			t.Errorf("%s: the PATCH answer is not the library's rendering:\nPATCH %s\nGET   %s", tc.name, p.Raw, g.Raw)
		}
		for _, k := range []string{"Content-Type", "Etag", "Location"} {
			if p.Header.Get(k) != g.Header.Get(k) {
				t.Errorf("%s: header %s %q, GET gives %q", tc.name, k, p.Header.Get(k), g.Header.Get(k))
			}
		}
	}
	// Errors: an unknown id, through the fast path and through the library.
	const missing = "0123456789abcdef0123abcd"
	fast := h.do("PATCH", "/Users/"+missing, body(`[{"op":"replace","value":{"active":false}}]`))
	lib := h.do("PATCH", "/Users/"+missing, body(`[{"op":"replace","path":"displayName","value":"X"}]`))
	if fast.Status != 404 || fast.Status != lib.Status || fast.Raw != lib.Raw || fast.Header.Get("Content-Type") != lib.Header.Get("Content-Type") {
		t.Errorf("unknown id: fast path %d %s (%s), library %d %s (%s)", fast.Status, fast.Raw, fast.Header.Get("Content-Type"), lib.Status, lib.Raw, lib.Header.Get("Content-Type"))
	}
	// Shapes the fast path must leave to the library keep its answers.
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"no schemas", `{"Operations":[{"op":"replace","value":{"active":false}}]}`, 400},
		{"two schemas", `{"schemas":["` + patchSchema + `","x"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 400},
		{"no operations", body(`[]`), 400},
		{"remove active", body(`[{"op":"remove","path":"active"}]`), 0},
		{"active and a name", body(`[{"op":"replace","value":{"active":true,"displayName":"Fast"}}]`), 200},
	} {
		r := h.do("PATCH", "/Users/"+id, tc.body)
		if tc.status != 0 && r.Status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Raw, tc.status)
		}
		if r.Status >= 500 {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
	}
}

// TestMemberAddPatchAnswersAsTheLibrary: the member adds served without the
// library answer 204 and add the members; an unknown group gets the
// library's error.
func TestMemberAddPatchAnswersAsTheLibrary(t *testing.T) {
	h := newBridge(t)
	a, b := h.newUser("fast.a@example.com"), h.newUser("fast.b@example.com")
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff"})).Body, "id")
	body := func(ops string) string { return `{"schemas":["` + patchSchema + `"],"Operations":` + ops + `}` }
	r := h.do("PATCH", "/Groups/"+gid, body(`[{"op":"add","path":"members","value":[{"value":"`+a+`","display":"fast.a@example.com"}]},{"op":"Add","path":"members","value":[{"value":"`+b+`"}]}]`))
	if r.Status != 204 || r.Raw != "" || r.Header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("member add: %d %q %q", r.Status, r.Raw, r.Header.Get("Content-Type"))
	}
	g := h.must(200, h.do("GET", "/Groups/"+gid, nil))
	if !strings.Contains(g.Raw, `"value":"`+a+`"`) || !strings.Contains(g.Raw, `"value":"`+b+`"`) {
		t.Errorf("the members were not added: %s", g.Raw)
	}
	const missing = "0123456789abcdef0123abcd"
	fast := h.do("PATCH", "/Groups/"+missing, body(`[{"op":"add","path":"members","value":[{"value":"`+a+`"}]}]`))
	lib := h.do("PATCH", "/Groups/"+missing, body(`[{"op":"add","path":"members","value":[{"value":"`+a+`","type":"User"}]}]`))
	if fast.Status != 404 || fast.Status != lib.Status || fast.Raw != lib.Raw || fast.Header.Get("Content-Type") != lib.Header.Get("Content-Type") {
		t.Errorf("unknown group: fast path %d %s, library %d %s", fast.Status, fast.Raw, lib.Status, lib.Raw)
	}
	unknown := h.do("PATCH", "/Groups/"+gid, body(`[{"op":"add","path":"members","value":[{"value":"`+missing+`"}]}]`))
	libUnknown := h.do("PATCH", "/Groups/"+gid, body(`[{"op":"add","path":"members","value":[{"value":"`+missing+`","type":"User"}]}]`))
	if unknown.Status != libUnknown.Status || unknown.Raw != libUnknown.Raw {
		t.Errorf("unknown member: fast path %d %s, library %d %s", unknown.Status, unknown.Raw, libUnknown.Status, libUnknown.Raw)
	}
}
