package scimserver

import (
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webflowscim/bridge/internal/state"
)

// A group is rendered straight into a byte buffer, not through a
// map[string]any and reflection: with 10,000 members the map form cost
// milliseconds and megabytes of garbage. The bytes are what json.Marshal
// writes for the map the projection path (groupsHandler.attributes) builds:
// keys in sorted order, HTML characters escaped.

// plainGroupRender reports whether a group answer with these attributes
// and excludedAttributes can be rendered by appendGroup (no projection
// other than leaving out the members), and whether members are wanted.
func plainGroupRender(inc, exc []string) (plain, withMembers bool) {
	if len(inc) > 0 {
		return false, false
	}
	for _, e := range exc {
		if !strings.EqualFold(e, "members") && !strings.EqualFold(e, groupSchemaURN+":members") {
			return false, false
		}
	}
	return true, len(exc) == 0
}

// appendGroup appends the SCIM Group v, with members when withMembers,
// as one JSON object. With flush set, the answer is handed to flush
// whenever streamChunk bytes are ready (flush returns the buffer to go
// on with), so that a 10,000-member answer (1.7 MB) is written in pieces
// from one small buffer, not built whole in fresh memory.
func appendGroup(b []byte, v groupView, members []state.GroupMember, withMembers bool, base string, flush func([]byte) []byte) []byte {
	b = append(b, `{"displayName":`...)
	b = appendJSONString(b, v.DisplayName)
	if v.ExternalID != "" {
		b = append(b, `,"externalId":`...)
		b = appendJSONString(b, v.ExternalID)
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, v.ID)
	if withMembers {
		b = append(b, `,"members":[`...)
		// The escaped "$ref" up to the id, once for every member.
		ref := appendJSONString(nil, base+"/Users/")
		ref = ref[:len(ref)-1]
		for i, m := range members {
			if flush != nil && len(b) >= streamChunk {
				b = flush(b)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"$ref":`...)
			plainID := pathSafe(m.ID)
			if plainID {
				// Path-safe ids are JSON-safe too.
				b = append(b, ref...)
				b = append(b, m.ID...)
				b = append(b, '"')
			} else {
				b = appendJSONString(b, base+"/Users/"+url.PathEscape(m.ID))
			}
			b = append(b, `,"display":`...)
			b = appendJSONString(b, m.UserName)
			b = append(b, `,"type":"User","value":`...)
			if plainID {
				b = append(b, '"')
				b = append(b, m.ID...)
				b = append(b, '"')
			} else {
				b = appendJSONString(b, m.ID)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"meta":{"created":`...)
	b = appendJSONString(b, v.Created.UTC().Format(time.RFC3339))
	b = append(b, `,"lastModified":`...)
	b = appendJSONString(b, v.Modified.UTC().Format(time.RFC3339))
	b = append(b, `,"location":`...)
	b = appendJSONString(b, base+"/Groups/"+url.PathEscape(v.ID))
	b = append(b, `,"resourceType":"Group"},"schemas":["`+groupSchemaURN+`","`+GroupExtensionURN+`"],"`+GroupExtensionURN+`":{"accessGroupName":`...)
	b = appendJSONString(b, v.Name)
	b = append(b, `,"linked":true,"slug":`...)
	b = appendJSONString(b, v.Slug)
	return append(b, `}}`...)
}

// groupBytes is the size of appendGroup's answer for v with members ms
// (exact unless a name or id needs escaping), so that a 10,000-member
// answer (1.7 MB) is written into one buffer without growing it.
func groupBytes(v groupView, ms []state.GroupMember, base string) int {
	n := 512 + 2*len(base) + len(v.ID) + len(v.DisplayName) + len(v.ExternalID) + len(v.Name) + len(v.Slug)
	if len(ms) == 0 {
		return n
	}
	// {"$ref":"<base>/Users/<id>","display":"<name>","type":"User","value":"<id>"},
	per := len(`{"$ref":"/Users/","display":"","type":"User","value":""},`) + len(base)
	n += len(ms) * per
	for _, m := range ms {
		n += 2*len(m.ID) + len(m.UserName)
	}
	return n
}

// pathSafe reports whether url.PathEscape leaves s as it is (the usual
// ids: hex, UUIDs); such a string needs no JSON escaping either.
func pathSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if !pathSafeByte[s[i]] {
			return false
		}
	}
	return true
}

// pathSafeByte and jsonSafeByte are lookup tables (read only): the bytes
// url.PathEscape leaves alone, and the bytes appendJSONString copies as
// they are (ASCII, not a control character, not ", \, <, > or &).
var pathSafeByte, jsonSafeByte = func() (path, js [256]bool) {
	for c := range 256 {
		path[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
		js[c] = c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return path, js
}()

// streamChunk is how many bytes of a group answer appendGroup gathers
// before it hands them to its flush (the largest small allocation).
const streamChunk = 32 << 10

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (including <, > and &, U+2028 and U+2029; invalid UTF-8
// becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafeByte[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// serveGet answers GET /Groups/{id} (the library's Get, without its map
// and reflection when no projection but excludedAttributes=members is
// asked): the links, the member set and the member names are three round
// trips whatever the group's size, two once the replica knows the group's
// slug (viewWithMembers), and nothing reads a member's record.
func (g *groupsHandler) serveGet(w http.ResponseWriter, r *http.Request, id string) {
	ctx, ov := withOverride(r.Context())
	inc, exc, _ := projectionOf(r)
	plain, withMembers := plainGroupRender(inc, exc)
	err := func() error {
		v, ms, err := g.viewWithMembers(ctx, id, plain && withMembers)
		if err != nil {
			return g.fail(ctx, "get", err)
		}
		if !plain {
			b, err := g.projected(ctx, v, r, g.users.base)
			if err != nil {
				return g.fail(ctx, "get", err)
			}
			w.Header().Set("Content-Type", scimContentType)
			_, _ = w.Write(b)
			return nil
		}
		// Everything is read: the answer is streamed from here.
		w.Header().Set("Content-Type", scimContentType)
		b := make([]byte, 0, min(groupBytes(v, ms, g.users.base), streamChunk+4<<10))
		b = appendGroup(b, v, ms, withMembers, g.users.base, func(b []byte) []byte {
			_, _ = w.Write(b)
			return b[:0]
		})
		_, _ = w.Write(b)
		return nil
	}()
	if err != nil {
		writeHandlerError(w, ov, err)
	}
}
