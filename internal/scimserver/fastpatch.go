package scimserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"
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

// patchOpSchema is the schemas value a PATCH body must hold.
const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// activePatchOps returns the operations of a PATCH body that only sets the
// active flag, as the library's validation returns them, or false.
func activePatchOps(body []byte) ([]scim.PatchOperation, bool) {
	var req struct {
		Schemas    []string
		Operations []map[string]json.RawMessage
	}
	if json.Unmarshal(body, &req) != nil || len(req.Schemas) != 1 || req.Schemas[0] != patchOpSchema || len(req.Operations) == 0 {
		return nil, false
	}
	ops := make([]scim.PatchOperation, 0, len(req.Operations))
	for _, o := range req.Operations {
		var op, path string
		raw, hasValue := o["value"]
		if !hasValue || json.Unmarshal(o["op"], &op) != nil {
			return nil, false
		}
		if p, has := o["path"]; has && json.Unmarshal(p, &path) != nil {
			return nil, false
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

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
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

// serveActivePatch serves PATCH /Users/{id} with ops as the library would
// (resourcePatchHandler): the handler's error through CheckScimError, or
// 200 and the resource with the library's id, externalId, schemas, meta.
func (st *site) serveActivePatch(w http.ResponseWriter, r *http.Request, ov *override, id string, ops []scim.PatchOperation) {
	ow := &overrideWriter{ResponseWriter: w, ov: ov}
	ow.Header().Set("Content-Type", scimContentType)
	res, err := st.users.Patch(r, id, ops)
	if err != nil {
		se := scimerrors.CheckScimError(err, http.MethodPatch)
		raw, _ := json.Marshal(&se)
		ow.WriteHeader(se.Status)
		_, _ = ow.Write(raw)
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
	out["schemas"] = userSchemas
	m := libraryMeta{ResourceType: "User", Location: libraryLocation(st.base, "Users", id)}
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
