package scimserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNormalisePath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/sites/s/scim/v2/Users", "/sites/s/scim/v2/Users", true},
		{"/sites/s/scim/v2/Users/", "/sites/s/scim/v2/Users", true},
		{"/sites/s/scim/v2//Users", "/sites/s/scim/v2/Users", true},
		{"//sites/s/scim/v2/./users/abc", "/sites/s/scim/v2/Users/abc", true},
		{"/sites/s/scim/V2/serviceproviderconfig", "/sites/s/scim/v2/ServiceProviderConfig", true},
		{"/sites/s/scim/v2/RESOURCETYPES", "/sites/s/scim/v2/ResourceTypes", true},
		{"/sites/s/scim/v2/users/UsErS", "/sites/s/scim/v2/Users/UsErS", true}, // ids keep their case
		{"/sites/s/scim/v2/Users/../x", "", false},
		{"", "/", true},
	}
	for _, tc := range tests {
		got, ok := normalisePath(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: got %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The override writer turns the library's forced 500 into the status the
// handler meant, and never lets a library 500 leak its detail.
func TestOverrideWriter(t *testing.T) {
	ctx, ov := withOverride(context.Background())
	_ = failWith(ctx, http.StatusTooManyRequests, "", "slow down", 1500*time.Millisecond)
	rec := httptest.NewRecorder()
	w := &overrideWriter{ResponseWriter: rec, ov: ov}
	w.WriteHeader(500)
	w.Write([]byte(`{"detail":"The HTTP status code 429 is not applicable"}`))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" || !strings.Contains(rec.Body.String(), `"detail":"slow down"`) || !strings.Contains(rec.Body.String(), `"status":"429"`) {
		t.Errorf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	_, ov2 := withOverride(context.Background())
	rec2 := httptest.NewRecorder()
	w2 := &overrideWriter{ResponseWriter: rec2, ov: ov2}
	w2.WriteHeader(500)
	w2.Write([]byte(`{"detail":"dial tcp 10.1.2.3:6379: connection refused"}`))
	if rec2.Code != 500 || strings.Contains(rec2.Body.String(), "10.1.2.3") {
		t.Errorf("library 500 leaked: %s", rec2.Body)
	}
}

// classify gives every request bounded labels for logs and metrics; a
// webhook delivery is named after its site, not "unknown".
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, path       string
		site, resource, op string
	}{
		{"GET", "/sites/s1/scim/v2/Users", "s1", "Users", "list"},
		{"GET", "/sites/s1/scim/v2/Users/abc", "s1", "Users", "get"},
		{"POST", "/sites/s1/scim/v2/Users", "s1", "Users", "create"},
		{"PATCH", "/sites/s1/scim/v2/Groups/g", "s1", "Groups", "patch"},
		{"PUT", "/sites/s1/scim/v2/Users/abc", "s1", "Users", "replace"},
		{"DELETE", "/sites/s1/scim/v2/Users/abc", "s1", "Users", "delete"},
		{"GET", "/sites/s1/scim/v2/Bogus", "s1", "other", "list"},
		{"GET", "/sites/s1/admin/memberships", "s1", "admin", "get"},
		{"POST", "/webhooks/webflow/s1", "s1", "webhook", "receive"},
		{"GET", "/webhooks/webflow/s1", "s1", "webhook", "other"},
		{"POST", "/webhooks/webflow/s1/extra", "", "other", "other"},
		{"GET", "/healthz", "", "other", "other"},
	} {
		site, res, op := classify(tc.method, tc.path)
		if site != tc.site || res != tc.resource || op != tc.op {
			t.Errorf("%s %s: %q %q %q, want %q %q %q", tc.method, tc.path, site, res, op, tc.site, tc.resource, tc.op)
		}
	}
}
