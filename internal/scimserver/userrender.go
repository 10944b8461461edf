package scimserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// A user is rendered straight into a byte buffer, as groups are
// (grouprender.go), not through mapping.ToAttributes' map[string]any and
// encoding/json's reflection. The bytes are what json.Marshal writes for
// the map the other paths build (keys in sorted order, HTML characters
// escaped): usersHandler.render's for a list entry, the library's
// (Resource.response: its meta a struct, in field order, times not moved
// to UTC, the location from the id asked for) for a single resource.
// A request with attributes or excludedAttributes keeps the map path,
// which projects.

// userMeta says how the meta object of a user is written.
type userMeta struct {
	// library writes the library's meta (resourceType first, times as
	// stored, location as the library builds it from locationID); else
	// render's (keys sorted, times in UTC, location base/Users/id).
	library    bool
	locationID string
}

// appendUser appends the SCIM User rec, with its groups attribute (as
// usersHandler.refs builds it), as one JSON object.
func appendUser(b []byte, rec *state.UserRecord, groups []any, base string, meta userMeta) []byte {
	u := decodeUser(rec)
	wu := decodeWebflow(rec)
	if rec.WebflowUserID == "" {
		wu = nil
	}
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, u.Active)
	b = appendOptString(b, "displayName", u.DisplayName)
	if len(u.Emails) > 0 {
		b = append(b, `,"emails":[`...)
		for i, e := range u.Emails {
			b = appendMultiValue(b, i, e.Value, e.Type, e.Primary)
		}
		b = append(b, ']')
	}
	b = appendOptString(b, "externalId", u.ExternalID)
	if len(groups) > 0 {
		b = append(b, `,"groups":`...)
		b = appendGroupRefs(b, groups)
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, rec.ID)
	b = appendOptString(b, "locale", u.Locale)
	b = append(b, `,"meta":`...)
	if meta.library {
		b = append(b, `{"resourceType":"User","created":`...)
		b = appendTime(b, rec.Created)
		b = append(b, `,"lastModified":`...)
		b = appendTime(b, rec.Modified)
		b = append(b, `,"location":`...)
		b = appendJSONString(b, userLocation(base, meta.locationID))
		b = append(b, '}')
	} else {
		b = append(b, `{"created":`...)
		b = appendTime(b, rec.Created.UTC())
		b = append(b, `,"lastModified":`...)
		b = appendTime(b, rec.Modified.UTC())
		b = append(b, `,"location":`...)
		b = appendJSONString(b, base+"/Users/"+url.PathEscape(rec.ID))
		b = append(b, `,"resourceType":"User"}`...)
	}
	if n := u.Name; !n.IsZero() {
		b = append(b, `,"name":{`...)
		first := true
		for _, f := range [...]struct{ k, v string }{
			{"familyName", n.FamilyName}, {"formatted", n.Formatted}, {"givenName", n.GivenName},
			{"honorificPrefix", n.HonorificPrefix}, {"honorificSuffix", n.HonorificSuffix}, {"middleName", n.MiddleName},
		} {
			if f.v == "" {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = append(b, f.k...)
			b = append(b, `":`...)
			b = appendJSONString(b, f.v)
		}
		b = append(b, '}')
	}
	b = appendOptString(b, "nickName", u.NickName)
	if len(u.PhoneNumbers) > 0 {
		b = append(b, `,"phoneNumbers":[`...)
		for i, p := range u.PhoneNumbers {
			b = appendMultiValue(b, i, p.Value, p.Type, p.Primary)
		}
		b = append(b, ']')
	}
	b = appendOptString(b, "preferredLanguage", u.PreferredLanguage)
	b = append(b, `,"schemas":["`+mapping.CoreUserSchemaURN+`","`+mapping.EnterpriseSchemaURN+`","`+mapping.ExtensionSchemaURN+`"]`...)
	b = appendOptString(b, "timezone", u.Timezone)
	b = appendOptString(b, "title", u.Title)
	b = append(b, `,"`+mapping.ExtensionSchemaURN+`":{"accessGroups":[`...)
	if wu != nil {
		for i, g := range wu.AccessGroups {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, g.Slug)
		}
	}
	b = append(b, ']')
	b = appendUserData(b, u.Data)
	if wu != nil && !wu.InvitedOn.IsZero() {
		b = append(b, `,"invitedOn":`...)
		b = appendTime(b, wu.InvitedOn.UTC())
	}
	if wu != nil && !wu.LastLogin.IsZero() {
		b = append(b, `,"lastLogin":`...)
		b = appendTime(b, wu.LastLogin.UTC())
	}
	if wu != nil && wu.Status != "" {
		b = append(b, `,"status":`...)
		b = appendJSONString(b, wu.Status)
	}
	if rec.WebflowUserID != "" {
		b = append(b, `,"webflowUserId":`...)
		b = appendJSONString(b, rec.WebflowUserID)
	}
	b = append(b, `},"userName":`...)
	b = appendJSONString(b, u.UserName)
	b = appendOptString(b, "userType", u.UserType)
	return append(b, '}')
}

// userLocation is libraryLocation(base, "Users", id) without parsing base
// each time, for the usual base (http or https, then only letters,
// digits and -._~:/ — what url.URL.String writes back as it is) and a
// path-safe id (TestUserLocation).
func userLocation(base, id string) string {
	rest, ok := strings.CutPrefix(base, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(base, "http://")
	}
	if !ok || rest == "" || rest[0] == '/' || !pathSafe(id) {
		return libraryLocation(base, "Users", id)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !pathSafeByte[c] && c != ':' && c != '/' {
			return libraryLocation(base, "Users", id)
		}
	}
	return base + "/Users/" + id
}

// appendTime appends t in RFC 3339 as a JSON string (its characters need
// no escaping).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendOptString appends ,"key":"v" when v is not empty.
func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// appendMultiValue appends the i-th element of emails or phoneNumbers:
// primary only when true, type only when set (mapping's multiValued).
func appendMultiValue(b []byte, i int, value, typ string, primary bool) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, '{')
	if primary {
		b = append(b, `"primary":true,`...)
	}
	if typ != "" {
		b = append(b, `"type":`...)
		b = appendJSONString(b, typ)
		b = append(b, ',')
	}
	b = append(b, `"value":`...)
	b = appendJSONString(b, value)
	return append(b, '}')
}

// appendUserData appends the extension's data (the stored data without
// email and name, which Webflow derives), when any is left.
func appendUserData(b []byte, data webflowdata.UserData) []byte {
	if len(data) == 0 {
		return b
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		if !strings.EqualFold(k, webflowdata.DataEmail) && !strings.EqualFold(k, webflowdata.DataName) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return b
	}
	slices.Sort(keys)
	b = append(b, `,"data":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONValue(b, data[k])
	}
	return append(b, '}')
}

// appendJSONValue appends v as json.Marshal writes it.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...) // not reached: the values were decoded from JSON
	}
	return append(b, raw...)
}

// appendGroupRefs appends a user's groups attribute as usersHandler.refs
// builds it ({"$ref","display","type","value"} strings); anything else
// through json.Marshal.
func appendGroupRefs(b []byte, groups []any) []byte {
	b = append(b, '[')
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		m, ok := g.(map[string]any)
		ref, ok1 := m["$ref"].(string)
		display, ok2 := m["display"].(string)
		typ, ok3 := m["type"].(string)
		value, ok4 := m["value"].(string)
		if !ok || !ok1 || !ok2 || !ok3 || !ok4 || len(m) != 4 {
			b = appendJSONValue(b, g)
			continue
		}
		b = append(b, `{"$ref":`...)
		b = appendJSONString(b, ref)
		b = append(b, `,"display":`...)
		b = appendJSONString(b, display)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, typ)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// writeUser writes rec as the library answers with a single User: the
// status, Content-Type, no ETag (the handler sets no version), the
// resource with the library's meta, its location from locationID.
func writeUser(w http.ResponseWriter, bufs *sync.Pool, status int, rec *state.UserRecord, groups []any, base, locationID string) {
	bp, _ := bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 1024)
		bp = &b
	}
	b := appendUser((*bp)[:0], rec, groups, base, userMeta{library: true, locationID: locationID})
	w.Header().Set("Content-Type", scimContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b) // a Writer keeps no reference to b
	if cap(b) <= maxPooledUser {
		*bp = b
		bufs.Put(bp)
	}
}

// maxPooledUser bounds the buffers writeUser returns to a site's userBufs:
// one that grew past it (a user in very many groups) is left to the GC.
const maxPooledUser = 16 << 10

// writeLibraryError writes a handler's error as the library does
// (CheckScimError, then its errorHandler), through the override writer.
func writeLibraryError(ow *overrideWriter, method string, err error) {
	se := scimerrors.CheckScimError(err, method)
	raw, _ := json.Marshal(&se)
	ow.Header().Set("Content-Type", scimContentType)
	ow.WriteHeader(se.Status)
	_, _ = ow.Write(raw)
}

// fastGetUser serves GET /Users/{id} here, without the library's map and
// reflection, when the request asks for no projection, and reports whether
// it did. The id is unescaped as the library unescapes it; one with a %
// still in it goes to the library.
func (st *site) fastGetUser(w http.ResponseWriter, r *http.Request, ov *override) bool {
	if r.Method != http.MethodGet {
		return false
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v2/Users/")
	if !ok || id == "" || strings.ContainsAny(id, "/%") {
		return false
	}
	if _, _, proj := projectionOf(r); proj {
		return false
	}
	h := st.users
	ctx := r.Context()
	rec, groups, err := h.loadView(ctx, id)
	if err != nil {
		writeLibraryError(&overrideWriter{ResponseWriter: w, ov: ov}, http.MethodGet, h.fail(ctx, "get", err))
		return true
	}
	writeUser(w, &st.userBufs, http.StatusOK, h.refresh(ctx, rec), groups, st.base, id)
	return true
}
