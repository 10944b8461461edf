package conformance

import (
	"fmt"
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
