package scimserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"

	"github.com/webflowscim/bridge/internal/mapping"
)

// The user PATCHes IdPs send most, Okta's deactivate
// ({"op":"replace","value":{"active":false}}) and Entra's
// ({"op":"Replace","path":"active","value":true}), are served here rather
// than through the library: its PATCH validation (parsing every path and
// value key with the filter grammar, building the schema) cost about 9% of
// the bridge's CPU on the IdP-form bench. Only bodies whose every operation
// sets the active flag to a boolean are taken, after the normaliser ran,
// with no query string; the handler gets the operations the library would
// have given it, and the answer (200 and the resource, or the error) is
// written as the library writes it. Anything else goes to the library.
// The same holds for Okta's and Entra's group PATCH adding members
// ({"op":"add","path":"members","value":[{"value":id,"display":name}]}),
// which the library validated member by member against the Group schema.

// patchOpSchema is the schemas value a PATCH body must hold.
const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// patchOperations returns the operations of a PatchOp body, each as its
// raw members, or false when the body is not exactly one PatchOp schema
// with at least one operation.
func patchOperations(body []byte) ([]map[string]json.RawMessage, bool) {
	var req struct {
		Schemas    []string
		Operations []map[string]json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil || len(req.Schemas) != 1 || req.Schemas[0] != patchOpSchema || len(req.Operations) == 0 {
		return nil, false
	}
	return req.Operations, true
}

// activePatchOps returns the operations of a PATCH body that only sets the
// active flag, as the library's validation returns them, or false.
func activePatchOps(body []byte) ([]scim.PatchOperation, bool) {
	operations, ok := patchOperations(body)
	if !ok {
		return nil, false
	}
	ops := make([]scim.PatchOperation, 0, len(operations))
	for _, o := range operations {
		raw, hasValue := o["value"]
		op, ok := jsonString(o["op"])
		if !hasValue || !ok {
			return nil, false
		}
		var path string
		if p, has := o["path"]; has {
			if path, ok = jsonString(p); !ok {
				return nil, false
			}
		}
		if len(o) != 2+btoi(o["path"] != nil) {
			return nil, false // another key, or a key in another case
		}
		if op = strings.ToLower(op); op != "replace" && op != "add" {
			return nil, false
		}
		switch path {
		case "":
			if _, has := o["path"]; has {
				return nil, false
			}
			var v map[string]json.RawMessage
			var active bool
			if json.Unmarshal(raw, &v) != nil || len(v) != 1 || v["active"] == nil || !isBool(v["active"], &active) {
				return nil, false
			}
			ops = append(ops, scim.PatchOperation{Op: op, Value: map[string]any{"active": active}})
		case "active":
			var active bool
			if !isBool(raw, &active) {
				return nil, false
			}
			p := filter.Path{AttributePath: filter.AttributePath{AttributeName: "active"}}
			ops = append(ops, scim.PatchOperation{Op: op, Path: &p, Value: active})
		default:
			return nil, false
		}
	}
	return ops, true
}

// memberAddOps returns the operations of a PATCH body that only adds
// members ({"value": string} with an optional {"display": string}), as
// the library's validation returns them, or false.
func memberAddOps(body []byte) ([]scim.PatchOperation, bool) {
	operations, ok := patchOperations(body)
	if !ok {
		return nil, false
	}
	ops := make([]scim.PatchOperation, 0, len(operations))
	for _, o := range operations {
		var op, path string
		if len(o) != 3 || json.Unmarshal(o["op"], &op) != nil || strings.ToLower(op) != "add" ||
			json.Unmarshal(o["path"], &path) != nil || path != "members" || o["value"] == nil {
			return nil, false
		}
		var members []map[string]json.RawMessage
		if json.Unmarshal(o["value"], &members) != nil || len(members) == 0 {
			return nil, false
		}
		values := make([]any, 0, len(members))
		for _, m := range members {
			var value, display string
			if m["value"] == nil || !isString(m["value"], &value) || len(m) > 2 {
				return nil, false
			}
			member := map[string]any{"value": value}
			if d, has := m["display"]; has {
				if !isString(d, &display) {
					return nil, false
				}
				member["display"] = display
			} else if len(m) == 2 {
				return nil, false // another key, or a key in another case
			}
			values = append(values, member)
		}
		p := filter.Path{AttributePath: filter.AttributePath{AttributeName: "members"}}
		ops = append(ops, scim.PatchOperation{Op: "add", Path: &p, Value: values})
	}
	return ops, true
}

// isString decodes a JSON string (nothing else) into s.
func isString(raw json.RawMessage, s *string) bool {
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, s) == nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jsonString is json.Unmarshal(raw, &s) (ok when it succeeds): a string
// without escapes, control characters or non-ASCII bytes (every op and
// path an IdP sends) is its bytes between the quotes, anything else goes
// through json.Unmarshal, which for those would allocate the target too.
func jsonString(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		plain := true
		for _, c := range raw[1 : n-1] {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			return string(raw[1 : n-1]), true
		}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// isBool decodes a JSON true or false (nothing else) into b.
func isBool(raw json.RawMessage, b *bool) bool {
	switch strings.TrimSpace(string(raw)) {
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return false
	}
	return true
}

// serveFastPatch serves a PATCH of the resource id with ops as the library
// would (resourcePatchHandler): the handler's error through
// CheckScimError; 204 for a resource without attributes; or 200 and the
// resource with the library's id, externalId, schemas and meta.
func (st *site) serveFastPatch(w http.ResponseWriter, r *http.Request, ov *override, id string, ops []scim.PatchOperation, rt fastResourceType) {
	ow := &overrideWriter{ResponseWriter: w, ov: ov}
	ow.Header().Set("Content-Type", scimContentType)
	res, err := rt.patch(r, id, ops)
	if err != nil {
		writeLibraryError(ow, http.MethodPatch, err)
		return
	}
	if len(res.Attributes) == 0 {
		ow.WriteHeader(http.StatusNoContent)
		return
	}
	out := make(map[string]any, len(res.Attributes)+4)
	for k, v := range res.Attributes {
		out[k] = v
	}
	out["id"] = res.ID
	if res.ExternalID.Present() {
		out["externalId"] = res.ExternalID.Value()
	}
	out["schemas"] = rt.schemas
	m := libraryMeta{ResourceType: rt.name, Location: libraryLocation(st.base, rt.endpoint, id)}
	if res.Meta.Created != nil {
		m.Created = res.Meta.Created.Format(time.RFC3339)
	}
	if res.Meta.LastModified != nil {
		m.LastModified = res.Meta.LastModified.Format(time.RFC3339)
	}
	m.Version = res.Meta.Version
	out["meta"] = m
	raw, err := json.Marshal(out)
	if err != nil {
		writeError(ow, http.StatusInternalServerError, "", "internal error in the bridge; the bridge log has the cause")
		return
	}
	if res.Meta.Version != "" {
		ow.Header().Set("Etag", res.Meta.Version)
	}
	ow.WriteHeader(http.StatusOK)
	_, _ = ow.Write(raw)
}

// serveUserPatch serves a PATCH of the user id with ops as
// serveFastPatch would, the resource written straight into bytes as
// GET /Users/{id} writes it (writeUser: the library's bytes, without its
// map and reflection).
func (st *site) serveUserPatch(w http.ResponseWriter, r *http.Request, ov *override, id string, ops []scim.PatchOperation) {
	rec, groups, err := st.users.patch(r.Context(), id, ops)
	if err != nil {
		writeLibraryError(&overrideWriter{ResponseWriter: w, ov: ov}, http.MethodPatch, err)
		return
	}
	writeUser(w, &st.userBufs, http.StatusOK, rec, groups, st.base, id)
}

// fastPut serves a PUT /Users/{id} (Okta's AIW apps deactivate and
// reactivate with it) here when its body is one fastCreateUser takes (the
// library validates a PUT body as a POST body) and it has no query string,
// and reports whether it did: the handler gets the User the library's
// validation would have given it, and the answer (200 and the resource,
// or the error) is written as the library writes it.
func (st *site) fastPut(w http.ResponseWriter, r *http.Request, ov *override, body []byte) bool {
	if r.Method != http.MethodPut || r.URL.RawQuery != "" {
		return false
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/v2/Users/")
	if !ok || id == "" || strings.ContainsAny(id, "/%") {
		return false
	}
	u, ok := fastCreateUser(body)
	if !ok {
		return false
	}
	rec, groups, err := st.users.replace(r.Context(), id, u, nil)
	if err != nil {
		writeLibraryError(&overrideWriter{ResponseWriter: w, ov: ov}, http.MethodPut, err)
		return true
	}
	writeUser(w, &st.userBufs, http.StatusOK, rec, groups, st.base, id)
	return true
}

// fastResourceType is what serveFastPatch needs of a resource type: its
// handler's Patch, and the library's name, endpoint and schemas for it.
type fastResourceType struct {
	patch          func(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error)
	name, endpoint string
	schemas        []string
}

// rawActivePatch returns the operations of a PATCH of /Users/{id} (no
// query string) that only sets active, read from the body as the IdP sent
// it (activePatchOps), or nil. Such a body needs neither the size check
// (it has at most the operations allowed) nor the normaliser, which gives
// back the same operations (TestRawActivePatchAsNormalised): Okta's and
// Entra's deactivate and reactivate are read once instead of four times.
func (s *Server) rawActivePatch(r *http.Request, siteID string, body []byte) []scim.PatchOperation {
	if r.Method != http.MethodPatch || r.URL.RawQuery != "" {
		return nil
	}
	if id, ok := strings.CutPrefix(trimSitePrefix(r.URL.Path, siteID), "/v2/Users/"); !ok || id == "" || strings.Contains(id, "/") {
		return nil
	}
	ops, ok := activePatchOps(body)
	if !ok || mapping.CheckRequestSize(mapping.RequestSize{Operations: len(ops)}, s.maxOps, s.maxMembers) != nil {
		return nil
	}
	return ops
}

// fastPatch serves r here when it is one of the PATCH shapes above, with
// no query string, and reports whether it did. activeOps are the
// operations rawActivePatch read, if it did.
func (st *site) fastPatch(w http.ResponseWriter, r *http.Request, ov *override, body []byte, activeOps []scim.PatchOperation) bool {
	if r.Method != http.MethodPatch || r.URL.RawQuery != "" {
		return false
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/v2/Users/"); ok && id != "" && !strings.Contains(id, "/") {
		ops, ok := activeOps, activeOps != nil
		if !ok {
			ops, ok = activePatchOps(body)
		}
		if ok {
			st.serveUserPatch(w, r, ov, id, ops)
			return true
		}
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/v2/Groups/"); ok && id != "" && !strings.Contains(id, "/") {
		if ops, ok := memberAddOps(body); ok {
			st.serveFastPatch(w, r, ov, id, ops, fastResourceType{patch: st.groups.Patch, name: "Group", endpoint: "Groups", schemas: groupSchemas})
			return true
		}
	}
	return false
}

// libraryMeta is the library's meta object, field for field.
type libraryMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
	Version      string `json:"version,omitempty"`
}

// libraryLocation is the library's meta.location of a resource.
func libraryLocation(base, endpoint, id string) string {
	rel := endpoint + "/" + url.PathEscape(id)
	if base == "" {
		return rel
	}
	u, err := url.Parse(base)
	if err != nil {
		return rel
	}
	u.Path = u.Path + "/" + rel
	return u.String()
}
