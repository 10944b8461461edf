package scimserver

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/schema"
)

// The discovery lists, GET /ResourceTypes and GET /Schemas, are served here
// rather than by the library, which reports itemsPerPage as the requested
// count (go-libs §5 item 10: 100 by default, where Okta and Microsoft's
// validator expect the number returned), pages a fixed list of a few
// entries, and filters /Schemas with PassesFilter on the client's filter
// (§5 item 9) while reporting the unfiltered total. RFC 7644 §4 says paging
// and sorting parameters are ignored on these endpoints, and that a filter
// should be refused so that no client mistakes the whole list for a
// filtered one. The single entries (/ResourceTypes/{name}, /Schemas/{id})
// stay with the library; each list entry is built as the library builds
// that entry (TestDiscoveryLists compares them).

// discoveryLists holds a site's two list bodies, rendered on first use:
// they never change while the process runs, and rendering every schema
// costs about 1 ms (measured on the 2-core CI machine), which a bridge with
// many sites should not pay at start-up for endpoints IdPs rarely read.
type discoveryLists struct {
	types []scim.ResourceType
	log   *slog.Logger
	once  sync.Once
	rts   []byte
	sch   []byte
	err   error
}

// serve answers a GET of /v2/ResourceTypes or /v2/Schemas.
func (d *discoveryLists) serve(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSpace(r.URL.Query().Get("filter")) != "" {
		writeError(w, http.StatusBadRequest, "invalidFilter", "filters are not supported on "+strings.TrimPrefix(r.URL.Path, "/v2")+
			" (RFC 7644 §4): it always lists every entry; GET "+strings.TrimPrefix(r.URL.Path, "/v2")+"/{id} returns one")
		return
	}
	d.once.Do(func() { d.rts, d.sch, d.err = renderDiscovery(d.types) })
	if d.err != nil {
		d.log.Error("rendering the discovery lists", "error", d.err)
		writeError(w, http.StatusInternalServerError, "", "internal error in the bridge; the bridge log has the cause")
		return
	}
	body := d.sch
	if strings.HasSuffix(r.URL.Path, "/ResourceTypes") {
		body = d.rts
	}
	w.Header().Set("Content-Type", scimContentType)
	_, _ = w.Write(body)
}

// renderDiscovery renders both lists: the resource types in the order
// given (User first: Microsoft's validator takes the first entry for the
// User type), and the schemas in the library's order: its three
// discovery schemas, then each resource type's schema and extensions.
func renderDiscovery(types []scim.ResourceType) (resourceTypes, schemas []byte, err error) {
	var rts []map[string]any
	for _, t := range types {
		rts = append(rts, resourceTypeEntry(t))
	}
	seen := map[string]bool{}
	var sch []map[string]any
	addSchema := func(s schema.Schema) {
		if !seen[s.ID] {
			seen[s.ID] = true
			sch = append(sch, s.ToMap())
		}
	}
	for _, s := range []schema.Schema{schema.Definition(), schema.ResourceTypeSchema(), schema.ServiceProviderConfigSchema()} {
		addSchema(s)
	}
	for _, t := range types {
		addSchema(t.Schema)
		for _, e := range t.SchemaExtensions {
			addSchema(e.Schema)
		}
	}
	if resourceTypes, err = json.Marshal(wholeList(rts)); err != nil {
		return nil, nil, err
	}
	if schemas, err = json.Marshal(wholeList(sch)); err != nil {
		return nil, nil, err
	}
	return resourceTypes, schemas, nil
}

// wholeList is a ListResponse of every entry: itemsPerPage is the number
// returned, which here is always all of them.
func wholeList(entries []map[string]any) listResponse {
	if entries == nil {
		entries = []map[string]any{}
	}
	return listResponse{Schemas: []string{listResponseSchema}, TotalResults: len(entries), ItemsPerPage: len(entries), StartIndex: 1, Resources: entries}
}

// resourceTypeEntry is a resource type as the library renders
// /ResourceTypes/{name}.
func resourceTypeEntry(t scim.ResourceType) map[string]any {
	exts := make([]map[string]any, 0, len(t.SchemaExtensions))
	for _, e := range t.SchemaExtensions {
		exts = append(exts, map[string]any{"schema": e.Schema.ID, "required": e.Required})
	}
	return map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
		"id":               t.ID.Value(),
		"name":             t.Name,
		"description":      t.Description.Value(),
		"endpoint":         t.Endpoint,
		"schema":           t.Schema.ID,
		"schemaExtensions": exts,
	}
}
