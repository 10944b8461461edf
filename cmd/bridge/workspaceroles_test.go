package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
)

// TestWorkspaceRolesKeysMembersMode: issue 15's keys pass config check,
// which masks the members token and shows the roles, and serve mounts the
// members surface (no native SCIM token needed): /Users is the bridge's,
// behind workspace.scimTokens.
func TestWorkspaceRolesKeysMembersMode(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "bridge.yaml")
	raw := `
workspace:
  mode: members
  scimTokens: [idp-token-0123456789abcdef0123456789]
  id: 685c583b3b9dd5e04b2f82d3
  membersToken: members-secret
  groups:
    "Marketing": {workspace: member, site: marketer, sites: {580e63e98c9a982ac9b8b741: marketer}}
`
	if err := os.WriteFile(cfgPath, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := runConfig(context.Background(), []string{"check", "--config", cfgPath}, &out, &errb); err != nil {
		t.Fatalf("config check: %v\n%s", err, errb.String())
	}
	if strings.Contains(out.String(), "members-secret") || strings.Contains(out.String(), "idp-token") {
		t.Errorf("config check printed a secret:\n%s", out.String())
	}
	for _, want := range []string{"mode: members", "membersToken: '********'", "Marketing", "workspace: reviewer"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check lacks %q:\n%s", want, out.String())
		}
	}
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard), appOptions{})
	if err != nil {
		t.Fatalf("serve refused workspace.mode: members: %v", err)
	}
	defer a.Close()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/workspace/scim/v2/Users", "", http.StatusUnauthorized},
		{"/workspace/scim/v2/Users", "idp-token-0123456789abcdef0123456789", http.StatusOK},
		{"/workspace/scim/v2/ServiceProviderConfig", "idp-token-0123456789abcdef0123456789", http.StatusOK},
		{"/workspace/scim/v2/Groups", "idp-token-0123456789abcdef0123456789", http.StatusOK},
		{"/workspace/scim/v2/Nope", "idp-token-0123456789abcdef0123456789", http.StatusNotFound},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET %s: %d %s, want %d", tc.path, rec.Code, rec.Body.String(), tc.want)
		}
	}
}
