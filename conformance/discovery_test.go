package conformance

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"testing"
)

// /ServiceProviderConfig, /Schemas and /ResourceTypes say only what is
// true, and each claim is exercised: filter (TestOktaSPECTest steps 3, 5,
// 9; TestEntraTutorialTable), patch (every PATCH step), maxResults (below),
// bearer auth (step 11), and no bulk, sort, etag or changePassword.
func TestDiscovery(t *testing.T) {
	d := startDemo(t)
	r := newReplay(t, d)
	spc := r.do(step{name: "ServiceProviderConfig", method: "GET", path: "/ServiceProviderConfig", status: 200,
		expect: map[string]string{"patch.supported": "true", "filter.supported": "true", "filter.maxResults": "100",
			"bulk.supported": "false", "sort.supported": "false", "etag.supported": "false", "changePassword.supported": "false",
			"authenticationSchemes.0.type": "oauthbearertoken"}})
	_ = spc
	rt := r.do(step{name: "ResourceTypes", method: "GET", path: "/ResourceTypes", status: 200})
	names := map[string]bool{}
	res, _ := rt["Resources"].([]any)
	for _, x := range res {
		names[fmt.Sprint(get(x, "name"))] = true
	}
	if !names["User"] || !names["Group"] || len(names) != 2 {
		t.Errorf("resource types %v", names)
	}
	sc := r.do(step{name: "Schemas", method: "GET", path: "/Schemas", status: 200})
	ids := map[string]bool{}
	res, _ = sc["Resources"].([]any)
	for _, x := range res {
		ids[fmt.Sprint(get(x, "id"))] = true
	}
	for _, want := range []string{userURN, groupURN, extURN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:extension:webflow:2.0:Group"} {
		if !ids[want] {
			t.Errorf("/Schemas lacks %s", want)
		}
	}
	r.run(
		step{name: "one schema", method: "GET", path: "/Schemas/" + extURN, status: 200, expect: map[string]string{"id": extURN, "attributes": "*"}},
		// maxResults: a larger count is capped at 100.
		step{name: "count capped", method: "GET", path: "/Users?count=1000", status: 200},
		// sort is not claimed, and sortBy is ignored rather than refused.
		step{name: "sortBy ignored", method: "GET", path: "/Users?sortBy=userName", status: 200},
		// bulk is not supported.
		step{name: "no bulk", method: "POST", path: "/Bulk", body: `{}`, status: 404},
	)
}

// TestDiscoveryLists (issue 14 point 8): /ResourceTypes lists User first,
// because Microsoft's SCIM validator reads the first entry as the User
// type; and itemsPerPage on /ResourceTypes and /Schemas is the number of
// resources returned, which Okta and the validator check (idp-clients.md
// §0.8, Q19). elimity echoes the requested count instead (go-libs §5 item
// 10): 100 by default. RFC 7644 §4 says these lists ignore paging: every
// resource, every time; a filter is refused rather than ignored, so that no
// client takes the full list for a filtered one. Each listed item is what
// the single-item endpoint answers.
func TestDiscoveryLists(t *testing.T) {
	d := startDemo(t)
	r := newReplay(t, d)
	rt := r.do(step{name: "ResourceTypes", method: "GET", path: "/ResourceTypes", status: 200,
		expect: map[string]string{"Resources.0.name": "User", "Resources.0.endpoint": "/Users", "Resources.1.name": "Group",
			"totalResults": "2", "itemsPerPage": "2", "startIndex": "1", "Resources": "#2"}})
	sc := r.do(step{name: "Schemas", method: "GET", path: "/Schemas", status: 200})
	schemas, _ := sc["Resources"].([]any)
	if n := len(schemas); n < 5 || get(sc, "itemsPerPage") != float64(n) || get(sc, "totalResults") != float64(n) {
		t.Errorf("/Schemas: %d resources, itemsPerPage %v, totalResults %v", n, get(sc, "itemsPerPage"), get(sc, "totalResults"))
	}
	// Paging parameters are ignored (RFC 7644 §4), so what is listed and
	// itemsPerPage agree whatever the client asks for.
	whole := func(n int) func(t *testing.T, _ *demo, body map[string]any) {
		return func(t *testing.T, _ *demo, body map[string]any) {
			t.Helper()
			res, _ := body["Resources"].([]any)
			if len(res) != n || get(body, "itemsPerPage") != float64(n) || get(body, "totalResults") != float64(n) || get(body, "startIndex") != float64(1) {
				t.Errorf("%d resources, itemsPerPage %v, totalResults %v, startIndex %v; want all %d from 1",
					len(res), get(body, "itemsPerPage"), get(body, "totalResults"), get(body, "startIndex"), n)
			}
		}
	}
	for _, q := range []string{"?count=1", "?count=0", "?startIndex=2", "?startIndex=50&count=10", "?count=1000", "?count=-1"} {
		r.do(step{name: "ResourceTypes" + q, method: "GET", path: "/ResourceTypes" + q, status: 200,
			expect: map[string]string{"Resources.0.name": "User"}, check: whole(2)})
		r.do(step{name: "Schemas" + q, method: "GET", path: "/Schemas" + q, status: 200, check: whole(len(schemas))})
	}
	for _, p := range []string{"/Schemas?filter=" + url.QueryEscape(`id eq "`+userURN+`"`), "/ResourceTypes?filter=" + url.QueryEscape(`name eq "Group"`)} {
		r.do(step{name: "filter " + p, method: "GET", path: p, status: 400, expect: map[string]string{"scimType": "invalidFilter"}})
	}
	// The lists and the single-item endpoints describe the same things.
	items := map[string][]any{"/ResourceTypes/": rt["Resources"].([]any), "/Schemas/": schemas}
	for prefix, list := range items {
		for _, x := range list {
			key := fmt.Sprint(get(x, "id"))
			one := r.do(step{name: prefix + key, method: "GET", path: prefix + key, status: 200})
			if !reflect.DeepEqual(one, x) {
				a, _ := json.Marshal(x)
				b, _ := json.Marshal(one)
				t.Errorf("%s%s differs from its list entry:\n list %.400s\n item %.400s", prefix, key, a, b)
			}
		}
	}
}
