package scimserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
)

// The list endpoint (GET /Users) is served here rather than by the library,
// for two reasons: the library reports itemsPerPage as the requested count
// instead of the number returned (Okta checks it), and its filter
// validation costs more than everything else in a lookup. IdPs send one
// lookup per user per sync, so this is the bridge's hottest path.

const listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// maxResults is the page size cap (and the default count).
const maxResults = 100

type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	ItemsPerPage int              `json:"itemsPerPage"`
	StartIndex   int              `json:"startIndex"`
	Resources    []map[string]any `json:"Resources"`
}

// simpleEq matches the one-condition filters IdPs send on every lookup,
// e.g. userName eq "a@b.c", without escapes: single spaces, no control
// characters, so that everything it accepts the full parser accepts too
// (FuzzParseUserFilter). Anything else goes to the full parser. It is the
// specification of matchSimpleEq, which matches the same strings without
// the regexp engine's allocations (TestMatchSimpleEq, FuzzMatchSimpleEq).
var simpleEq = regexp.MustCompile(`^(userName|externalId|id|displayName|emails\.value) (?i:eq) "([^"\\\x00-\x1f\x7f]*)"$`)

func parseUserFilter(raw string) (filter.Expression, error) {
	if e, ok := simpleUserFilter(raw); ok {
		return e, nil
	}
	return filter.ParseFilter([]byte(raw))
}

// simpleUserFilter is parseUserFilter's fast path.
func simpleUserFilter(raw string) (filter.Expression, bool) {
	attr, value, ok := matchSimpleEq(raw)
	if !ok {
		return nil, false
	}
	p := filter.AttributePath{AttributeName: attr}
	if name, sub, ok := strings.Cut(attr, "."); ok {
		sub := sub // allocated here, for emails.value only
		p = filter.AttributePath{AttributeName: name, SubAttribute: &sub}
	}
	return &filter.AttributeExpression{AttributePath: p, Operator: filter.EQ, CompareValue: value}, true
}

// matchSimpleEq is simpleEq.FindStringSubmatch(raw) returning the two
// groups: the attribute and the compared value.
func matchSimpleEq(raw string) (attr, value string, ok bool) {
	attr, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return "", "", false
	}
	switch attr {
	case "userName", "externalId", "id", "displayName", "emails.value":
	default:
		return "", "", false
	}
	// (?i:eq) "…": eq in any case, one space, a quoted value.
	if len(rest) < len(`eq ""`) || !strings.EqualFold(rest[:2], "eq") || rest[2] != ' ' || rest[3] != '"' || rest[len(rest)-1] != '"' {
		return "", "", false
	}
	value = rest[4 : len(rest)-1]
	for i := 0; i < len(value); i++ {
		// [^"\\\x00-\x1f\x7f]: every excluded rune is one byte, and a
		// byte of invalid UTF-8 (U+FFFD to the regexp) is not excluded.
		if c := value[i]; c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
			return "", "", false
		}
	}
	return attr, value, true
}

func queryInt(q map[string][]string, key string, def int) (int, error) {
	v := ""
	if vs := q[key]; len(vs) > 0 {
		v = strings.TrimSpace(vs[0])
	}
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: key + " must be an integer"}
	}
	return n, nil
}

// serveList answers GET /Users.
func (h *usersHandler) serveList(w http.ResponseWriter, r *http.Request, base string) {
	ctx, ov := overrideOf(r.Context())
	q := queryOf(r)
	start, err := queryInt(q, "startIndex", 1)
	if err == nil {
		var count int
		count, err = queryInt(q, "count", maxResults)
		if err == nil {
			start = max(start, 1)
			count = min(max(count, 0), maxResults)
			var expr filter.Expression
			if raw := strings.TrimSpace(q.Get("filter")); raw != "" {
				if expr, err = h.parseSlots.user(ctx, raw); err != nil {
					err = scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidFilter, Detail: "the filter could not be parsed: check quotes, operators and attribute names"}
				}
			}
			if err == nil {
				var b []byte
				if b, err = h.list(ctx, r, expr, start, count, base); err == nil {
					w.Header().Set("Content-Type", scimContentType)
					_, _ = w.Write(b)
					return
				}
			}
		}
	}
	writeHandlerError(w, ov, err)
}

// writeHandlerError writes what a handler error means for the client.
func writeHandlerError(w http.ResponseWriter, ov *override, err error) {
	var se scimerrors.ScimError
	switch {
	case ov.status != 0:
		ow := &overrideWriter{ResponseWriter: w, ov: ov}
		ow.WriteHeader(http.StatusInternalServerError)
	case errors.As(err, &se):
		writeError(w, se.Status, string(se.ScimType), se.Detail)
	default:
		writeError(w, http.StatusInternalServerError, "", "internal error in the bridge; the bridge log has the cause")
	}
}

// list returns one page of users matching expr (nil = all), rendered as
// json.Marshal writes a listResponse (itemsPerPage = the number returned).
func (h *usersHandler) list(ctx context.Context, r *http.Request, expr filter.Expression, start, count int, base string) ([]byte, error) {
	recs, total, view, err := h.find(ctx, expr, start, count)
	if err != nil {
		return nil, h.fail(ctx, "list", err)
	}
	var refs map[string][]any
	if view != nil {
		refs = h.refs(view)
	} else {
		ids := make([]string, len(recs))
		for i, rec := range recs {
			ids[i] = rec.ID
		}
		refs = h.groupRefs(ctx, ids)
	}
	_, _, projects := projectionOf(r)
	b := make([]byte, 0, 256+1024*len(recs))
	b = append(b, `{"schemas":["`+listResponseSchema+`"],"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(len(recs)), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(start), 10)
	b = append(b, `,"Resources":[`...)
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		if !projects {
			b = appendUser(b, rec, refs[rec.ID], base, userMeta{})
			continue
		}
		one, err := json.Marshal(h.render(rec, r, base, refs[rec.ID]))
		if err != nil {
			return nil, err
		}
		b = append(b, one...)
	}
	return append(b, `]}`...), nil
}

// find returns one page of records matching expr (nil = all), in creation
// order, 1-based, and the total number of matches. The view, when not nil,
// holds the groups of the records (read with them, in the same round trip).
func (h *usersHandler) find(ctx context.Context, expr filter.Expression, start, count int) ([]*state.UserRecord, int, *state.UserView, error) {
	if expr == nil {
		if count == 0 {
			total, err := h.store.CountUsers(ctx, h.site.ID)
			return nil, total, nil, err
		}
		ids, total, err := h.store.ListUserIDs(ctx, h.site.ID, start-1, count)
		if err != nil {
			return nil, 0, nil, err
		}
		view, err := h.store.ViewUsers(ctx, h.site.ID, ids, false)
		if err != nil {
			return nil, 0, nil, err
		}
		return view.Users, total, view, nil
	}
	qy, err := mapping.TranslateUserFilter(expr)
	if err != nil {
		return nil, 0, nil, err
	}
	matched, view, err := h.query(ctx, qy)
	if err != nil {
		return nil, 0, nil, err
	}
	if len(matched) == 0 && h.inRebuild() {
		// The indexes are being rebuilt after a Redis loss: an IdP lookup
		// that finds nothing yet asks Webflow, so the IdP links the user
		// instead of creating it again.
		if h.lookupUpstream(ctx, qy) {
			if matched, view, err = h.query(ctx, qy); err != nil {
				return nil, 0, nil, err
			}
		}
	}
	lo := min(start-1, len(matched))
	hi := min(lo+count, len(matched))
	return matched[lo:hi], len(matched), view, nil
}

// lookupUpstream adopts the Webflow user an email-like userName or email
// condition names, if Webflow has one. It reports whether it adopted.
func (h *usersHandler) lookupUpstream(ctx context.Context, q mapping.Query) bool {
	for _, c := range q.Eq {
		if c.Attr != mapping.CondUserName && c.Attr != mapping.CondEmail {
			continue
		}
		if _, err := mapping.ValidateEmail(c.Value); err != nil {
			continue
		}
		wu, err := h.wf.FindUserByEmail(ctx, h.site.ID, c.Value)
		if err != nil {
			return false
		}
		_, err = h.adopt(ctx, wu)
		return err == nil
	}
	return false
}
