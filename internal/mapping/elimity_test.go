package mapping

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

// The tests run the real elimity server so that PATCH operations, POST
// attributes and filter ASTs have exactly the shapes production sees.

var testCustomFields = []string{"country", "job-title"}

var (
	coreUserSchema = schema.CoreUserSchema()
	enterpriseExt  = schema.ExtensionEnterpriseUser()
	webflowExt     = UserExtensionSchema(testCustomFields...)
)

func TestMain(m *testing.M) {
	schema.SetAllowStringValues(true) // as the server does, once
	os.Exit(m.Run())
}

// recorder is a User ResourceHandler that records what elimity hands it.
type recorder struct {
	mu     sync.Mutex
	ops    []scim.PatchOperation
	attrs  scim.ResourceAttributes
	filter filter.Expression
	called bool
}

func (r *recorder) Create(_ *http.Request, a scim.ResourceAttributes) (scim.Resource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attrs, r.called = a, true
	return scim.Resource{ID: "u1", Attributes: scim.ResourceAttributes{"userName": "x"}}, nil
}

func (r *recorder) Get(_ *http.Request, id string) (scim.Resource, error) {
	return scim.Resource{ID: id, Attributes: scim.ResourceAttributes{"userName": "x"}}, nil
}

func (r *recorder) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.called = true
	if p.FilterValidator != nil {
		r.filter = p.FilterValidator.GetFilter()
	}
	return scim.Page{Resources: []scim.Resource{}}, nil
}

func (r *recorder) Replace(_ *http.Request, id string, a scim.ResourceAttributes) (scim.Resource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attrs, r.called = a, true
	return scim.Resource{ID: id, Attributes: scim.ResourceAttributes{"userName": "x"}}, nil
}

func (r *recorder) Delete(*http.Request, string) error { return nil }

func (r *recorder) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops, r.called = ops, true
	return scim.Resource{ID: id, Attributes: scim.ResourceAttributes{"userName": "x"}}, nil
}

func newElimity(t testing.TB, ext schema.Schema) (scim.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: 100, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{{
			ID:       optional.NewString("User"),
			Name:     "User",
			Endpoint: "/Users",
			Schema:   coreUserSchema,
			SchemaExtensions: []scim.SchemaExtension{
				{Schema: enterpriseExt},
				{Schema: ext},
			},
			Handler: rec,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, rec
}

func serve(srv scim.Server, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	return w
}

// elimityPatch sends a raw PATCH body through elimity and returns the ops
// the handler received (nil and the status if elimity rejected it).
func elimityPatch(t testing.TB, body string) ([]scim.PatchOperation, int, string) {
	t.Helper()
	srv, rec := newElimity(t, webflowExt)
	w := serve(srv, http.MethodPatch, "/v2/Users/u1", body)
	if !rec.called {
		return nil, w.Code, w.Body.String()
	}
	return rec.ops, w.Code, w.Body.String()
}

// elimityCreate POSTs a raw body and returns the attributes Create got.
func elimityCreate(t testing.TB, ext schema.Schema, body string) (scim.ResourceAttributes, int, string) {
	t.Helper()
	srv, rec := newElimity(t, ext)
	w := serve(srv, http.MethodPost, "/v2/Users", body)
	return rec.attrs, w.Code, w.Body.String()
}

// elimityFilter sends GET /Users?filter= and returns the AST.
func elimityFilter(t testing.TB, raw string) (filter.Expression, int, string) {
	t.Helper()
	srv, rec := newElimity(t, webflowExt)
	w := serve(srv, http.MethodGet, "/v2/Users?filter="+url.QueryEscape(raw), "")
	return rec.filter, w.Code, w.Body.String()
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
