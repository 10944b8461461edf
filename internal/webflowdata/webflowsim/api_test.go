package webflowsim

import (
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// assertEnvelope checks Webflow's full error envelope.
func assertEnvelope(t *testing.T, body []byte, code string) {
	t.Helper()
	m := decode(t, body)
	if len(m) != 4 {
		t.Errorf("envelope keys = %v, want code,message,externalReference,details", m)
	}
	if m["code"] != code {
		t.Errorf("code = %v, want %s (body %s)", m["code"], code, body)
	}
	if s, _ := m["message"].(string); s == "" {
		t.Errorf("empty message: %s", body)
	}
	if v, ok := m["externalReference"]; !ok || v != nil {
		t.Errorf("externalReference must be null: %s", body)
	}
	if d, ok := m["details"].([]any); !ok || len(d) != 0 {
		t.Errorf("details must be []: %s", body)
	}
}

func TestRoutes(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	users := sim.Users(siteID)
	mike := users[0].ID
	ada := users[1].ID
	missing := "0123456789abcdef01234567"
	site := "/v2/sites/" + siteID
	other := "/v2/sites/" + DemoOtherSiteID

	tests := []struct {
		name   string
		method string
		path   string
		tok    string
		body   any
		status int
		code   string // error code, "" for success
	}{
		{"sites list", "GET", "/v2/sites", siteTok, nil, 200, ""},
		{"no token", "GET", "/v2/sites", "", nil, 401, webflowdata.CodeNotAuthorized},
		{"unknown token", "GET", "/v2/sites", "nope", nil, 401, webflowdata.CodeNotAuthorized},
		{"site get", "GET", site, siteTok, nil, 200, ""},
		{"site of another token", "GET", other, siteTok, nil, 403, webflowdata.CodeForbidden},
		{"site unknown", "GET", "/v2/sites/" + missing, siteTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"site bad id", "GET", "/v2/sites/xyz", siteTok, nil, 400, webflowdata.CodeValidationError},
		{"introspect needs no scope", "GET", "/v2/token/introspect", readTok, nil, 200, ""},
		{"authorized_by", "GET", "/v2/token/authorized_by", siteTok, nil, 200, ""},
		{"authorized_by missing scope", "GET", "/v2/token/authorized_by", readTok, nil, 403, webflowdata.CodeMissingScopes},
		{"users list", "GET", site + "/users", readTok, nil, 200, ""},
		{"users list bad limit", "GET", site + "/users?limit=x", siteTok, nil, 400, webflowdata.CodeValidationError},
		{"users list bad sort", "GET", site + "/users?sort=Name", siteTok, nil, 400, webflowdata.CodeValidationError},
		{"users list other site", "GET", other + "/users", siteTok, nil, 403, webflowdata.CodeForbidden},
		{"user get", "GET", site + "/users/" + mike, readTok, nil, 200, ""},
		{"user get unknown", "GET", site + "/users/" + missing, siteTok, nil, 404, webflowdata.CodeUserNotFound},
		{"invite missing scope", "POST", site + "/users/invite", readTok, map[string]any{"email": "x@example.com"}, 403, webflowdata.CodeMissingScopes},
		{"invite", "POST", site + "/users/invite", siteTok, map[string]any{"email": "new@example.com", "accessGroups": []string{"members"}}, 200, ""},
		{"invite duplicate", "POST", site + "/users/invite", siteTok, map[string]any{"email": "MIKE@example.com"}, 409, webflowdata.CodeDuplicateUserEmail},
		{"invite bad email", "POST", site + "/users/invite", siteTok, map[string]any{"email": "not-an-email"}, 400, webflowdata.CodeInvalidUserEmail},
		{"invite no email", "POST", site + "/users/invite", siteTok, map[string]any{"accessGroups": []string{}}, 400, webflowdata.CodeValidationError},
		{"invite with name", "POST", site + "/users/invite", siteTok, map[string]any{"email": "n@example.com", "name": "N"}, 400, webflowdata.CodeValidationError},
		{"invite unknown slug", "POST", site + "/users/invite", siteTok, map[string]any{"email": "s@example.com", "accessGroups": []string{"nope"}}, 400, webflowdata.CodeValidationError},
		{"invite bad json", "POST", site + "/users/invite", siteTok, "{not json", 400, webflowdata.CodeBadRequest},
		{"patch", "PATCH", site + "/users/" + ada, siteTok, map[string]any{"data": map[string]any{"name": "Ada L"}}, 200, ""},
		{"patch missing scope", "PATCH", site + "/users/" + ada, readTok, map[string]any{}, 403, webflowdata.CodeMissingScopes},
		{"patch unknown", "PATCH", site + "/users/" + missing, siteTok, map[string]any{"data": map[string]any{}}, 404, webflowdata.CodeUserNotFound},
		{"patch email", "PATCH", site + "/users/" + ada, siteTok, map[string]any{"data": map[string]any{"email": "x@example.com"}}, 400, webflowdata.CodeValidationError},
		{"patch unknown slug", "PATCH", site + "/users/" + ada, siteTok, map[string]any{"accessGroups": []string{"nope"}}, 400, webflowdata.CodeValidationError},
		{"patch bad json", "PATCH", site + "/users/" + ada, siteTok, "[1,2", 400, webflowdata.CodeBadRequest},
		{"delete unknown", "DELETE", site + "/users/" + missing, siteTok, nil, 404, webflowdata.CodeUserNotFound},
		{"delete missing scope", "DELETE", site + "/users/" + ada, readTok, nil, 403, webflowdata.CodeMissingScopes},
		{"delete", "DELETE", site + "/users/" + ada, siteTok, nil, 204, ""},
		{"delete again", "DELETE", site + "/users/" + ada, siteTok, nil, 404, webflowdata.CodeUserNotFound},
		{"access groups", "GET", site + "/accessgroups", readTok, nil, 200, ""},
		{"access groups bad sort", "GET", site + "/accessgroups?sort=Name", readTok, nil, 400, webflowdata.CodeValidationError},
		{"webhooks list", "GET", site + "/webhooks", readTok, nil, 200, ""},
		{"webhook create", "POST", site + "/webhooks", siteTok, map[string]any{"triggerType": "site_publish", "url": "https://example.com/h"}, 201, ""},
		{"webhook create missing scope", "POST", site + "/webhooks", readTok, map[string]any{"triggerType": "site_publish", "url": "https://example.com/h"}, 403, webflowdata.CodeMissingScopes},
		{"webhook unknown trigger", "POST", site + "/webhooks", siteTok, map[string]any{"triggerType": "memberships_user_account_added", "url": "https://example.com/h"}, 400, webflowdata.CodeUnsupportedTrigger},
		{"webhook bad url", "POST", site + "/webhooks", siteTok, map[string]any{"triggerType": "site_publish", "url": "nope"}, 400, webflowdata.CodeValidationError},
		{"webhook bad json", "POST", site + "/webhooks", siteTok, "nope", 400, webflowdata.CodeBadRequest},
		{"webhook get unknown", "GET", "/v2/webhooks/" + missing, siteTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"webhook delete unknown", "DELETE", "/v2/webhooks/" + missing, siteTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"unknown route", "GET", "/v2/nope", siteTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"wrong method", "PUT", "/v2/sites", siteTok, nil, 404, webflowdata.CodeResourceNotFound},
		{"not v2", "GET", "/v1/sites", siteTok, nil, 404, webflowdata.CodeResourceNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, srv, tc.method, tc.path, tc.tok, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.Header.Get("X-RateLimit-Limit") == "" || resp.Header.Get("X-RateLimit-Remaining") == "" {
				t.Errorf("missing rate-limit headers: %v", resp.Header)
			}
			if tc.code != "" {
				assertEnvelope(t, body, tc.code)
			}
			if tc.status == 204 && len(body) != 0 {
				t.Errorf("204 with body %q", body)
			}
			if tc.code == webflowdata.CodeMissingScopes && !strings.HasPrefix(decode(t, body)["message"].(string), "OAuthForbidden: You are missing the following scopes - '") {
				t.Errorf("missing-scope message: %s", body)
			}
		})
	}
}

func TestMissingScopeMessage(t *testing.T) {
	_, srv := newDemo(t, Options{})
	_, body := call(t, srv, "POST", "/v2/sites/"+siteID+"/users/invite", readTok, map[string]any{"email": "a@b.co"})
	want := "OAuthForbidden: You are missing the following scopes - 'users:write'"
	if got := decode(t, body)["message"]; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
	_, body = call(t, srv, "GET", "/v2/sites", "", nil)
	if string(body) != `{"code":"not_authorized","message":"Request not authorized","externalReference":null,"details":[]}` {
		t.Fatalf("401 body = %s", body)
	}
}

func TestUserLimit(t *testing.T) {
	_, srv := newDemo(t, Options{MaxUsersPerSite: 3})
	resp, body := call(t, srv, "POST", "/v2/sites/"+siteID+"/users/invite", siteTok, map[string]any{"email": "four@example.com"})
	if resp.StatusCode != 409 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	assertEnvelope(t, body, webflowdata.CodeUserLimitReached)
}
