package passthrough

import (
	"net/http"
	"net/url"
	"strings"
)

// route is a request path that passed validation: the canonical collection
// and, when present, the decoded id. It is the only thing the upstream URL
// is built from, so nothing the client wrote reaches the upstream path
// except a collection name from a fixed list and an id of safe characters.
type route struct {
	collection string // canonical: "Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes"
	id         string // decoded; "" for the collection itself
}

// upstreamPath is the path below the upstream base, with the id re-escaped
// (a no-op for the characters ids may hold, kept so the rule is local).
func (rt route) upstreamPath() (path, raw string) {
	if rt.id == "" {
		return "/" + rt.collection, "/" + rt.collection
	}
	return "/" + rt.collection + "/" + rt.id, "/" + rt.collection + "/" + url.PathEscape(rt.id)
}

// template is the route as a low-cardinality label for logs and metrics.
func (rt route) template() string {
	if rt.id == "" {
		return "/" + rt.collection
	}
	return "/" + rt.collection + "/{id}"
}

// collections maps lower-cased names to canonical ones, with whether the
// collection takes an id segment. IdPs differ in case ("users"), Webflow's
// upstream is not documented to be case-insensitive, so we canonicalise.
var collections = map[string]struct {
	name  string
	hasID bool
}{
	"users":                 {"Users", true},
	"groups":                {"Groups", true},
	"serviceproviderconfig": {"ServiceProviderConfig", false},
	"schemas":               {"Schemas", true},
	"resourcetypes":         {"ResourceTypes", true},
}

const maxIDLen = 128

// pathError is a refused path: the status (404 for a path that names no
// resource here, 400 for a malformed one) and a detail that never echoes
// the path back (it is attacker-controlled).
type pathError struct {
	status int
	detail string
}

func notFound(detail string) *pathError   { return &pathError{http.StatusNotFound, detail} }
func badRequest(detail string) *pathError { return &pathError{http.StatusBadRequest, detail} }

// parseRoute validates the escaped request path against prefix. It works on
// the escaped form, segment by segment, so an encoded separator ("%2f",
// "%5c") can never turn into a path separator, then decodes each segment
// once and checks it against a strict grammar. A segment that still holds
// "%" after decoding (double encoding such as "%252e") fails the id
// character set, as do ".", "..", "\\", "@", ":" and control characters.
// The request's host, scheme and authority are never looked at.
func parseRoute(escapedPath, prefix string) (route, *pathError) {
	rest, ok := strings.CutPrefix(escapedPath, prefix+"/")
	if !ok {
		return route{}, notFound("no such endpoint on the workspace SCIM surface")
	}
	if rest == "" {
		return route{}, notFound("no such endpoint on the workspace SCIM surface")
	}
	raw := strings.Split(rest, "/")
	if len(raw) > 2 {
		return route{}, notFound("no such endpoint on the workspace SCIM surface")
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		if s == "" {
			return route{}, badRequest("empty path segment")
		}
		ls := strings.ToLower(s)
		if strings.Contains(ls, "%2f") || strings.Contains(ls, "%5c") || strings.Contains(s, `\`) {
			return route{}, badRequest("encoded or alternative path separators are not allowed")
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return route{}, badRequest("malformed percent-encoding in path")
		}
		if d == "." || d == ".." || strings.Trim(d, ".") == "" {
			return route{}, badRequest("dot segments are not allowed")
		}
		segs[i] = d
	}
	c, ok := collections[strings.ToLower(segs[0])]
	if !ok {
		return route{}, notFound("no such endpoint on the workspace SCIM surface")
	}
	rt := route{collection: c.name}
	if len(segs) == 1 {
		return rt, nil
	}
	if !c.hasID {
		return route{}, notFound("no such endpoint on the workspace SCIM surface")
	}
	id := segs[1]
	if len(id) > maxIDLen && !(c.name == "Schemas" && len(id) <= 2*maxIDLen) {
		return route{}, badRequest("resource id is too long")
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i], c.name == "Schemas") {
			return route{}, badRequest("resource id holds characters outside [A-Za-z0-9._~-]")
		}
	}
	rt.id = id
	return rt, nil
}

// idByte reports whether b may appear in an id. Schema ids are URNs
// ("urn:ietf:params:scim:schemas:core:2.0:User"), so ':' is allowed there
// only; a ':' in a path segment cannot form a scheme once the path starts
// with '/', but we still keep it out of user and group ids.
func idByte(b byte, urn bool) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	case b == '.', b == '_', b == '~', b == '-':
		return true
	case b == ':':
		return urn
	}
	return false
}
