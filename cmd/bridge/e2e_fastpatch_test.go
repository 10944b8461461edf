package main

import (
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
