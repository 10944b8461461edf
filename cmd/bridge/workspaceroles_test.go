package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webflowscim/bridge/internal/config"
)

// TestWorkspaceRolesKeysNotYetServed: issue 15's keys pass config check,
// which masks the members token and shows the roles, while serve refuses
// mode: members instead of passing users through as if it served them.
func TestWorkspaceRolesKeysNotYetServed(t *testing.T) {
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
	if err == nil {
		a.Close()
		t.Fatal("serve accepted workspace.mode: members, which nothing serves yet")
	}
	if !strings.Contains(err.Error(), "workspace.mode: members is parsed and validated but not served yet") {
		t.Errorf("serve: %v", err)
	}
}
