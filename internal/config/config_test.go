package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"WEBFLOW_TOKEN": "wf-tok", "SCIM_TOKEN": "sc$tok-0123456789abcdef0123456789"}
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
	if s.WebflowToken != "wf-tok" || s.SCIMTokens[0] != "sc$tok-0123456789abcdef0123456789" || s.SCIMTokens[1] != "sha256:abc$notexpanded" || s.Deactivation != "delete" || time.Duration(s.RefreshAge) != 90*time.Second {
		t.Errorf("site %+v", s)
	}
	if cfg.PublicURL != "http://127.0.0.1:9000" || cfg.Webflow.APIBaseURL != "https://api.webflow.com/v2" || cfg.Webflow.RateLimitPerMinute != 120 ||
		time.Duration(cfg.Webflow.MaxRetryAfter) != 5*time.Minute || cfg.Limits.MaxConcurrentRequestsPerSite != 16 ||
		cfg.Limits.MaxPatchOperations != 1000 || cfg.Limits.MaxMembersPerRequest != 1000 {
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
    scimTokens: [a-token-of-32-characters-or-more]
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
		{"maxPatchOperations negative", "limits:\n  maxPatchOperations: -5\nsites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n", "limits.maxPatchOperations must be from 1 to 100000"},
		{"maxMembersPerRequest too large", "limits:\n  maxMembersPerRequest: 1000000\nsites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n", "limits.maxMembersPerRequest must be from 1 to 100000"},
		{"maxConcurrentRequestsPerSite negative", "limits:\n  maxConcurrentRequestsPerSite: -1\nsites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n", "limits.maxConcurrentRequestsPerSite must be from 1 to 10000"},
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

// wsRolesBase is issue 15's example, with the tokens the workspace
// surface needs; %s is replaced by extra workspace keys.
const wsRolesBase = `
workspace:
  webflowSCIMToken: native
  scimTokens: [idp-token-0123456789abcdef0123456789]
  id: 685c583b3b9dd5e04b2f82d3
  membersToken: ${WEBFLOW_WORKSPACE_TOKEN}
  defaultRole: {workspace: member, site: content_editor}
  groups:
    "Webflow Admins": {workspace: admin}
    "Marketing": {workspace: member, site: marketer, sites: {580e63e98c9a982ac9b8b741: marketer, 580e63e98c9a982ac9b8b742: content_editor}}
    "Agency reviewers": {workspace: reviewer}
`

func TestWorkspaceRolesConfig(t *testing.T) {
	env := map[string]string{"WEBFLOW_WORKSPACE_TOKEN": "ws-members-secret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	cfg, _, err := Parse([]byte(wsRolesBase), lookup)
	if err != nil {
		t.Fatalf("the issue's example: %v", err)
	}
	w := cfg.Workspace
	if w.Mode != "passthrough" || w.ID != "685c583b3b9dd5e04b2f82d3" || w.MembersToken != "ws-members-secret" ||
		!reflect.DeepEqual(w.DefaultRole, WorkspaceRoleConfig{Workspace: "member", Site: "content_editor"}) ||
		w.Groups["Marketing"].Sites["580e63e98c9a982ac9b8b742"] != "content_editor" || w.Groups["Webflow Admins"].Workspace != "admin" {
		t.Errorf("parsed %+v", w)
	}
	if m := cfg.Masked(); m.Workspace.MembersToken != masked || cfg.Workspace.MembersToken != "ws-members-secret" {
		t.Errorf("membersToken masked %q, original %q", m.Workspace.MembersToken, cfg.Workspace.MembersToken)
	}

	// The default defaultRole, when groups use one and the config names none.
	noDefault := strings.Replace(wsRolesBase, "  defaultRole: {workspace: member, site: content_editor}\n", "", 1)
	if cfg, _, err := Parse([]byte(noDefault), lookup); err != nil || !reflect.DeepEqual(cfg.Workspace.DefaultRole, WorkspaceRoleConfig{Workspace: "reviewer", Site: "reviewer"}) {
		t.Errorf("default defaultRole: %+v %v", cfg, err)
	}
	// Without groups or members mode, nothing is filled in.
	plain := "workspace:\n  webflowSCIMToken: native\n  scimTokens: [idp-token-0123456789abcdef0123456789]\n"
	if cfg, _, err := Parse([]byte(plain), lookup); err != nil || !reflect.DeepEqual(cfg.Workspace.DefaultRole, WorkspaceRoleConfig{}) || cfg.Workspace.Mode != "passthrough" {
		t.Errorf("plain passthrough: %+v %v", cfg, err)
	}

	dir := t.TempDir()
	tokenFile := dir + "/members-token"
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	members := `
workspace:
  mode: members
  scimTokens: [idp-token-0123456789abcdef0123456789]
  id: 685c583b3b9dd5e04b2f82d3
  membersTokenFile: ` + tokenFile + `
  siteRoleOrder: [site_manager, "custom:72fa5e47f6b8256f4641c5bd", designer, marketer, content_editor, reviewer]
  groups:
    "SEO": {workspace: member, site: custom, siteRoleId: 72fa5e47f6b8256f4641c5bd, sites: {580e63e98c9a982ac9b8b741: custom}}
    "Site B editors": {sites: {580e63e98c9a982ac9b8b742: content_editor}}
`
	if cfg, _, err := Parse([]byte(wsRolesBase+"  openSites: [580e63e98c9a982ac9b8b742]\n"), lookup); err != nil || !reflect.DeepEqual(cfg.Workspace.RoleSpec().OpenSites, []string{"580e63e98c9a982ac9b8b742"}) {
		t.Errorf("openSites naming a managed site: %v", err)
	}
	cfg, _, err = Parse([]byte(members), lookup)
	if err != nil || cfg.Workspace.MembersToken != "from-file" || cfg.Workspace.WebflowSCIMToken != "" {
		t.Errorf("members mode, token from a file, custom role placed, no native SCIM token: %+v %v", cfg, err)
	}

	for _, tc := range []struct {
		name, raw string
		want      []string // every one must be in the error
	}{
		{"mode", strings.Replace(wsRolesBase, "  id:", "  mode: hybrid\n  id:", 1),
			[]string{`workspace.mode "hybrid" must be passthrough or members`}},
		{"members without id and token", "workspace:\n  mode: members\n  scimTokens: [idp-token-0123456789abcdef0123456789]\n",
			[]string{"workspace.mode: members needs workspace.id", "workspace.mode: members needs workspace.membersToken"}},
		{"members token unset", "workspace:\n  mode: members\n  scimTokens: [idp-token-0123456789abcdef0123456789]\n  id: 685c583b3b9dd5e04b2f82d3\n  membersToken: ${UNSET}\n",
			[]string{"workspace.mode: members needs workspace.membersToken"}},
		{"members without scim tokens", "sites: [{id: a, webflowToken: t, scimTokens: [x]}]\nworkspace:\n  mode: members\n  id: 685c583b3b9dd5e04b2f82d3\n  membersToken: m\n",
			[]string{"workspace.mode: members needs workspace.scimTokens"}},
		{"groups without id and token", strings.Replace(strings.Replace(wsRolesBase, "  id: 685c583b3b9dd5e04b2f82d3\n", "", 1), "  membersToken: ${WEBFLOW_WORKSPACE_TOKEN}\n", "", 1),
			[]string{"workspace.groups needs workspace.id", "workspace.groups needs workspace.membersToken"}},
		{"passthrough still needs the native token", strings.Replace(wsRolesBase, "  webflowSCIMToken: native\n", "", 1),
			[]string{"workspace.scimTokens is set but workspace.webflowSCIMToken is empty"}},
		{"workspace id", strings.Replace(wsRolesBase, "685c583b3b9dd5e04b2f82d3", "my-workspace", 1),
			[]string{`workspace.id "my-workspace" is not a workspace id`}},
		{"pair Webflow refuses", strings.Replace(wsRolesBase, "{workspace: member, site: marketer,", "{workspace: member, site: reviewer,", 1),
			[]string{`workspace.groups["Marketing"].site: Webflow refuses member with reviewer`}},
		{"read-only role", strings.Replace(wsRolesBase, "580e63e98c9a982ac9b8b742: content_editor", "580e63e98c9a982ac9b8b742: viewer", 1),
			[]string{`workspace.groups["Marketing"].sites["580e63e98c9a982ac9b8b742"]: "viewer" is read-only`}},
		{"owner", strings.Replace(wsRolesBase, `{workspace: admin}`, `{workspace: owner}`, 1),
			[]string{`workspace.groups["Webflow Admins"].workspace: "owner" cannot be written`}},
		{"site id", strings.Replace(wsRolesBase, "580e63e98c9a982ac9b8b741: marketer", "marketing-site: marketer", 1),
			[]string{`workspace.groups["Marketing"].sites["marketing-site"]: a site id is 24 lower-case hex digits`}},
		{"defaultRole pair", strings.Replace(wsRolesBase, "{workspace: member, site: content_editor}", "{workspace: reviewer, site: content_editor}", 1),
			[]string{`workspace.defaultRole.site: Webflow refuses reviewer with content_editor`}},
		{"unknown key", strings.Replace(members, "  siteRoleOrder:", "  unused:", 1),
			[]string{"unused"}}, // KnownFields: the key is unknown
		{"custom role not placed in the order", strings.Replace(members, `"custom:72fa5e47f6b8256f4641c5bd", `, "", 1),
			[]string{`workspace.groups["SEO"].site: custom:72fa5e47f6b8256f4641c5bd is not placed in workspace.siteRoleOrder`,
				`workspace.groups["SEO"].sites["580e63e98c9a982ac9b8b741"]: custom:72fa5e47f6b8256f4641c5bd is not placed`}},
		{"defaultRole unused", plain + "  defaultRole: {workspace: member, site: designer}\n",
			[]string{"workspace.defaultRole is set, but neither workspace.groups nor workspace.mode: members uses it"}},
		{"openSites", wsRolesBase + "  openSites: [580e63e98c9a982ac9b8b741, marketing-site, 580e63e98c9a982ac9b8b743]\n",
			[]string{`workspace.openSites[1]: "marketing-site" is not a site id`, `workspace.openSites[2]: 580e63e98c9a982ac9b8b743 is no site named under workspace.groups`}},
		{"typo'd group key", strings.Replace(wsRolesBase, "{workspace: reviewer}", "{workspace: reviewer, sites_: {}}", 1),
			[]string{"sites_"}},
	} {
		_, _, err := Parse([]byte(tc.raw), lookup)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q\n does not say %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "ws-members-secret") {
			t.Errorf("%s: the error echoes the members token", tc.name)
		}
	}
}

// SCIM and admin tokens shorter than MinTokenLength are refused in plain
// text, unless allowWeakTokens is set; a sha256: digest is accepted
// whatever the token it hides. The error names the key, never the token.
func TestWeakTokens(t *testing.T) {
	strong := strings.Repeat("k", MinTokenLength)
	digest := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"strong tokens", "sites: [{id: a, webflowToken: t, scimTokens: [" + strong + "]}]\nadminTokens: [" + strong + "]\n", ""},
		{"digests", "sites: [{id: a, webflowToken: t, scimTokens: [\"" + digest + "\"]}]\nadminTokens: [\"" + digest + "\"]\n", ""},
		{"short site token", "sites: [{id: a, webflowToken: t, scimTokens: [" + strong + ", short-scim-token]}]\n", "sites[0].scimTokens[1] has 16 characters, fewer than 32"},
		{"31 characters", "sites: [{id: a, webflowToken: t, scimTokens: [" + strong[1:] + "]}]\n", "sites[0].scimTokens[0] has 31 characters"},
		{"31 characters and spaces", "sites: [{id: a, webflowToken: t, scimTokens: [\"  " + strong[1:] + "  \"]}]\n", "sites[0].scimTokens[0] has 31 characters"},
		{"short workspace token", "workspace: {webflowSCIMToken: t, scimTokens: [ws-short]}\n", "workspace.scimTokens[0] has 8 characters"},
		{"short admin token", "sites: [{id: a, webflowToken: t, scimTokens: [" + strong + "]}]\nadminTokens: [adm]\n", "adminTokens[0] has 3 characters"},
		{"multibyte characters count as characters", "sites: [{id: a, webflowToken: t, scimTokens: [" + strings.Repeat("é", 20) + "]}]\n", "has 20 characters"},
		{"allowed for a demo", "allowWeakTokens: true\nsites: [{id: a, webflowToken: t, scimTokens: [x]}]\nadminTokens: [adm]\nworkspace: {webflowSCIMToken: t, scimTokens: [w]}\n", ""},
	} {
		_, _, err := Parse([]byte(tc.yaml), func(string) (string, bool) { return "", false })
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		case err != nil && (strings.Contains(err.Error(), "short-scim-token") || strings.Contains(err.Error(), "ws-short")):
			t.Errorf("%s: the error echoes the token: %v", tc.name, err)
		}
	}
}

func TestAdminListen(t *testing.T) {
	base := "sites: [{id: a, webflowToken: t, scimTokens: [" + strings.Repeat("k", 32) + "]}]\n"
	for _, tc := range []struct{ yaml, want string }{
		{"", ""},
		{"admin: {listen: \"0.0.0.0:9090\"}\n", ""},
		{"listen: 127.0.0.1:0\nadmin: {listen: \"127.0.0.1:0\"}\n", ""},
		{"admin: {listen: \"[::1]:9090\"}\n", ""},
		{"admin: {listen: \"9090\"}\n", "admin.listen \"9090\" must be host:port"},
		{"admin: {listen: \"0.0.0.0:http\"}\n", "must be host:port"},
		{"admin: {listen: \"0.0.0.0:70000\"}\n", "must be host:port"},
		{"listen: 0.0.0.0:8080\nadmin: {listen: \"127.0.0.1:8080\"}\n", "a port of its own"},
	} {
		cfg, _, err := Parse([]byte(base+tc.yaml), func(string) (string, bool) { return "", false })
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		case tc.want == "" && cfg.Admin.Listen != "" && !strings.Contains(tc.yaml, cfg.Admin.Listen):
			t.Errorf("%q: admin.listen %q", tc.yaml, cfg.Admin.Listen)
		}
	}
}

// redis.url is checked by the one Validate: a Sentinel URL without a
// master set or with a bad Sentinel address stops start-up, and the
// message never holds the password.
func TestRedisURLValidated(t *testing.T) {
	for url, ok := range map[string]bool{
		"redis+sentinel://:hunter2@s1:26379,s2:26379/mymaster?db=2": true,
		"redis+cluster://h1:6379,h2:6379":                           true,
		"redis+sentinel://:hunter2@s1:26379,s2:26379":               false,
		"redis+sentinel://:hunter2@s1,s2:26379/mymaster":            false,
		"redis+sentinel://:hunter2@s1:26379/mymaster?db=x":          false,
	} {
		c := Config{Redis: RedisConfig{URL: url}}
		err := c.Validate()
		bad := err != nil && strings.Contains(err.Error(), "redis.url")
		if bad == ok {
			t.Errorf("%q: Validate() = %v, want redis.url accepted=%v", url, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error prints the password: %v", url, err)
		}
	}
}

// config check masks the Redis password, and when the URL does not parse
// it keeps only the scheme: the password could be anywhere in it.
func TestMaskedRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"redis://127.0.0.1:6379/0":           "redis://127.0.0.1:6379/0",
		"redis://:hunter2@127.0.0.1:6379/0":  "redis://:xxxxx@127.0.0.1:6379/0",
		"rediss://app:hunter2@redis:6380/1":  "rediss://app:xxxxx@redis:6380/1",
		"redis://:hunter2%zz@127.0.0.1:6379": "redis://********",
		"redis://app:hun ter2@[::1:6379/0":   "redis://********",
		"rediss+cluster://:p%@h1:1,h2:2":     "rediss+cluster://********",
		"redis+sentinel://:hunter2@s1:26379,s2:26379/mymaster?db=2": "redis+sentinel://:xxxxx@s1:26379,s2:26379/mymaster?db=2",
		"hunter2%zz://redis":                  "********",
		":hunter2@127.0.0.1:6379":             "********",
		"redis://app:hunter2@host:port:bad/0": "redis://********",
	} {
		got := Config{Redis: RedisConfig{URL: in}}.Masked().Redis.URL
		if got != want {
			t.Errorf("%q masked as %q, want %q", in, got, want)
		}
		if strings.Contains(got, "hunter2") {
			t.Errorf("%q: the password is printed: %q", in, got)
		}
	}
}
