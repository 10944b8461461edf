package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"WEBFLOW_TOKEN": "wf-tok", "SCIM_TOKEN": "sc$tok"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	raw := `
listen: 127.0.0.1:9000
redis:
  url: ""
webflow:
  rateLimitPerMinute: 120
sites:
  - id: 580e63e98c9a982ac9b8b741
    webflowToken: ${WEBFLOW_TOKEN}
    scimTokens: ["${SCIM_TOKEN}", "sha256:abc$notexpanded"]
    deactivation: delete
    refreshAge: 90s
workspace:
  webflowSCIMToken: ${WEBFLOW_SCIM_TOKEN}
`
	cfg, warnings, err := Parse([]byte(raw), lookup)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sites[0]
	if s.WebflowToken != "wf-tok" || s.SCIMTokens[0] != "sc$tok" || s.SCIMTokens[1] != "sha256:abc$notexpanded" || s.Deactivation != "delete" || time.Duration(s.RefreshAge) != 90*time.Second {
		t.Errorf("site %+v", s)
	}
	if cfg.PublicURL != "http://127.0.0.1:9000" || cfg.Webflow.APIBaseURL != "https://api.webflow.com/v2" || cfg.Webflow.RateLimitPerMinute != 120 ||
		time.Duration(cfg.Webflow.MaxRetryAfter) != 5*time.Minute {
		t.Errorf("defaults %+v", cfg)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "WEBFLOW_SCIM_TOKEN") {
		t.Errorf("warnings %v", warnings)
	}

	// Expansion happens inside values only: a placeholder in a comment is
	// ignored, a secret with YAML syntax in it stays one value, and a
	// placeholder can fill a number.
	env["TRICKY"] = "ab#c: d, [e]"
	env["RATE"] = "90"
	tricky, warn2, err := Parse([]byte(`
# a comment mentioning ${NOT_SET_ANYWHERE}
webflow:
  rateLimitPerMinute: ${RATE}
sites:
  - id: a
    webflowToken: ${TRICKY}
    scimTokens: [x]
`), lookup)
	if err != nil || tricky.Sites[0].WebflowToken != "ab#c: d, [e]" || tricky.Webflow.RateLimitPerMinute != 90 || len(warn2) != 0 {
		t.Errorf("expansion: %+v %v %v", tricky, warn2, err)
	}

	bad := []struct{ name, raw, want string }{
		{"typo'd key", "sites:\n  - id: x\n    webflowTokn: a\n", "webflowTokn"},
		{"empty token", "sites:\n  - id: a\n    webflowToken: ${UNSET}\n    scimTokens: [x]\n", "webflowToken is empty"},
		{"no scim tokens", "sites:\n  - id: a\n    webflowToken: t\n", "scimTokens"},
		{"bad duration", "sites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n    refreshAge: soon\n", "soon"},
		{"nothing configured", "listen: :1\n", "no sites"},
		{"maxRetryAfter too long", "webflow:\n  maxRetryAfter: 2h\nsites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n", "webflow.maxRetryAfter must be from 1s to 1h"},
		{"maxRetryAfter negative", "webflow:\n  maxRetryAfter: -1s\nsites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n", "webflow.maxRetryAfter must be from 1s to 1h"},
	}
	for _, tc := range bad {
		_, _, err := Parse([]byte(tc.raw), lookup)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
