package passthrough

// Fuzz targets for the workspace passthrough's path handling and URL
// rewriting (issue 7, "Fuzzing"). Run one with, e.g.
//
//	go test -run '^$' -fuzz '^FuzzParseRoute$' -fuzztime 5m -parallel 1 ./internal/passthrough/

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"testing"
)

const (
	fzUpstream = "https://api.webflow.com/scim/v2"
	fzPublic   = "https://scim.example.com/workspace/scim/v2"
)

func fzProxy(t testing.TB) *Proxy {
	p, err := New(Options{Upstream: fzUpstream, Token: "wf-native-scim-token", SCIMTokens: []string{"idp-fuzz-token"}, PublicURL: fzPublic})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fzCheckUpstream builds the upstream URL exactly as rewrite does and
// checks that it stays below the upstream base.
func fzCheckUpstream(t *testing.T, p *Proxy, in string, rt route) {
	t.Helper()
	c, ok := collections[strings.ToLower(rt.collection)]
	if !ok || c.name != rt.collection || (rt.id != "" && !c.hasID) {
		t.Fatalf("%q: route %+v", in, rt)
	}
	if rt.id != "" {
		if rt.id != strings.TrimSpace(rt.id) || strings.Trim(rt.id, ".") == "" || len(rt.id) > 2*maxIDLen ||
			(rt.collection != "Schemas" && len(rt.id) > maxIDLen) {
			t.Fatalf("%q: id %q", in, rt.id)
		}
		for i := 0; i < len(rt.id); i++ {
			if !idByte(rt.id[i], rt.collection == "Schemas") {
				t.Fatalf("%q: id %q holds %q", in, rt.id, rt.id[i])
			}
		}
	}
	upPath, raw := rt.upstreamPath()
	u := *p.base
	u.Path = p.base.Path + upPath
	u.RawPath = p.base.EscapedPath() + raw
	s := u.String()
	back, err := url.Parse(s)
	if err != nil {
		t.Fatalf("%q: upstream URL %q does not parse: %v", in, s, err)
	}
	if back.Scheme != p.base.Scheme || back.Host != p.base.Host || back.User != nil || back.Opaque != "" ||
		back.RawQuery != "" || back.Fragment != "" {
		t.Fatalf("%q: upstream URL %q leaves the upstream (%+v)", in, s, back)
	}
	if !strings.HasPrefix(back.Path, p.base.Path+"/") || back.Path != u.Path {
		t.Fatalf("%q: upstream path %q is not below %q", in, back.Path, p.base.Path)
	}
	if path.Clean(back.Path) != back.Path || strings.Contains(back.Path, "//") {
		t.Fatalf("%q: upstream path %q has dot or empty segments", in, back.Path)
	}
	for _, x := range []string{back.Path, back.EscapedPath(), raw} {
		if strings.ContainsAny(x, `\@?#%`+"\x00") || strings.Contains(x, "://") {
			t.Fatalf("%q: upstream path %q holds a separator, authority or escape", in, x)
		}
		for _, seg := range strings.Split(x, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: upstream path %q has a dot segment", in, x)
			}
		}
	}
	if dec, err := url.PathUnescape(raw); err != nil || dec != upPath {
		t.Fatalf("%q: raw %q decodes to %q, path is %q", in, raw, dec, upPath)
	}
	if tpl := rt.template(); tpl != "/"+rt.collection && tpl != "/"+rt.collection+"/{id}" {
		t.Fatalf("%q: template %q", in, tpl)
	}
}

// FuzzParseRoute: no request path, given as the escaped path or as a
// request target the server parses first, yields a route whose upstream
// URL is anything but the upstream base plus a canonical collection and a
// safe id: no dot or empty segments, no "//", scheme, "@", backslash, "%"
// or query, before or after decoding. Errors are 400 or 404 and never
// echo the path.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"/workspace/scim/v2/Users", "/workspace/scim/v2/users", "/workspace/scim/v2/USERS/abc-123_x.y~z",
		"/workspace/scim/v2/Users/ab%63", "/workspace/scim/v2/Groups/g1", "/workspace/scim/v2/ServiceProviderConfig",
		"/workspace/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/workspace/scim/v2/ResourceTypes/User",
		"/workspace/scim/v2/Users/.search", "/workspace/scim/v2/Users?filter=userName%20eq%20%22a%40b.c%22",
		"/workspace/scim/v2/../v2/Users", "/workspace/scim/v2/Users/../../admin", "/workspace/scim/v2/./Users",
		"/workspace/scim/v2/Users/.", "/workspace/scim/v2/Users/..", "/workspace/scim/v2/%2e%2e/v2/Users",
		"/workspace/scim/v2/Users/%2E%2E%2F%2E%2E%2Fadmin", "/workspace/scim/v2/Users%2F..%2F..%2Fadmin",
		"/workspace/scim/v2//evil.example/Users", "//evil.example/workspace/scim/v2/Users",
		"/workspace/scim/v2/Users/abc%5c..%5cadmin", `/workspace/scim/v2/Users/abc\..\admin`,
		"/workspace/scim/v2/Users/user@evil.example", "/workspace/scim/v2/Users/%40evil.example",
		"/workspace/scim/v2/Users/%252e%252e", "/workspace/scim/v2/Users/..;/admin", "/workspace/scim/v2/Users/%00",
		"/workspace/scim/v2/Users/%c0%ae%c0%ae", "/workspace/scim/v2/Users/https:%2F%2Fevil.example",
		"/workspace/scim/v2/Schemas/https:%2f%2fevil", "/workspace/scim/v2/Schemas/a:b@c", "/workspace/scim/v2/Users/...",
		"http://evil.example/workspace/scim/v2/users?count=1", "/workspace/scim/v2/Users/" + strings.Repeat("a", 129),
	} {
		f.Add(s)
	}
	p := fzProxy(f)
	f.Fuzz(func(t *testing.T, in string) {
		check := func(escaped string) {
			rt, perr := parseRoute(escaped, p.prefix)
			if perr != nil {
				if perr.status != 400 && perr.status != 404 || perr.detail == "" {
					t.Fatalf("%q: error %+v", escaped, perr)
				}
				if len(in) > 8 && strings.Contains(perr.detail, in) {
					t.Fatalf("%q: detail echoes the path", escaped)
				}
				return
			}
			fzCheckUpstream(t, p, escaped, rt)
		}
		check(in)
		if u, err := url.ParseRequestURI(in); err == nil {
			check(u.EscapedPath())
		}
	})
}

// FuzzRewriteBody: rewriting upstream answers never panics; a changed body
// is valid JSON; rewriting is idempotent; every rewritten URL lies under
// PublicURL and no longer names the upstream base; linking and the
// deactivation check never panic on any body.
func FuzzRewriteBody(f *testing.F) {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"c1","userName":"ada@example.com","emails":[{"value":"ada@example.com","primary":true}],"active":"False","meta":{"resourceType":"User","location":"%s"}}`
	for _, loc := range []string{
		"https://api.webflow.com/scim/v2/Users/c1", "HTTPS://API.WEBFLOW.COM/scim/v2/Users/c1?x=1",
		"/scim/v2/Users/c1", "https://api.webflow.com/scim/v2", "https://api.webflow.com/scim/v2x/Users/1",
		"https://api.webflow.com.evil/scim/v2/Users/", "https://other.example/scim/v2/Users/1",
		"https://api.webflow.com/scim/v2/../../v2/sites", "\u212a", "https://api.webflow.com/scim/v2/Users/\u00e9&<>",
	} {
		f.Add([]byte(strings.Replace(user, "%s", loc, 1)))
		f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"Resources":[` +
			strings.Replace(user, "%s", loc, 1) + `,{"id":"c2","meta":{"location":"` + loc + `"}},1,null],"startIndex":1,"itemsPerPage":2}`))
	}
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"resources":{},"META":{"LOCATION":"/scim/v2/Users/x"}}`, `{"meta":null}`, `{"meta":{"location":1}}`,
		`[]`, `null`, `{`, `{"a":"\ud800"}`, "{\"meta\":{\"location\":\"/scim/v2/\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	p := fzProxy(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, users := range []bool{true, false} {
			out, docs := p.rewriteBody(b, users)
			for _, d := range docs {
				c := d.collaborator()
				if c.ID == "" {
					t.Fatalf("link without id from %q", b)
				}
			}
			if !users && len(docs) > 0 {
				t.Fatalf("docs returned for a non-Users answer")
			}
			if bytes.Equal(out, b) {
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("rewritten body is not JSON: %q -> %q", b, out)
			}
			again, _ := p.rewriteBody(out, users)
			if !bytes.Equal(again, out) {
				t.Fatalf("rewrite not idempotent:\n in  %q\n out %q\n again %q", b, out, again)
			}
		}
		_ = patchDeactivates(b)
		_ = isSCIMError(b)

		s := string(b)
		nl, ok := p.rewriteURL(s)
		if !ok {
			if nl != s {
				t.Fatalf("unrewritten URL changed: %q -> %q", s, nl)
			}
			return
		}
		if nl != p.public && !strings.HasPrefix(nl, p.public+"/") && !strings.HasPrefix(nl, p.public+"?") {
			t.Fatalf("%q rewritten to %q, outside %q", s, nl, p.public)
		}
		if strings.HasPrefix(strings.ToLower(nl), p.baseAbs) {
			t.Fatalf("%q rewritten to %q, still upstream", s, nl)
		}
		if again, ok2 := p.rewriteURL(nl); ok2 && again != nl {
			t.Fatalf("URL rewrite not idempotent: %q -> %q -> %q", s, nl, again)
		}
	})
}
