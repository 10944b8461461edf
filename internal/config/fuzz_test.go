package config

// Fuzz targets for config parsing (issue 7, "Fuzzing"). Run one with, e.g.
//
//	go test -run '^$' -fuzz '^FuzzParseConfig$' -fuzztime 5m -parallel 1 ./internal/config/

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fzReadsFiles reports YAML that may name a file Parse would read
// (the …File secret variants): the fuzzer must not read /dev/zero or
// /proc. Any scalar holding "File" counts, keys spelt with escapes or
// through anchors included.
func fzReadsFiles(raw []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(raw, &doc) != nil {
		return false // Parse fails at the same step, before any read
	}
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if strings.Contains(strings.ToLower(n.Value), "file") {
			return true
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return false
	}
	return walk(&doc)
}

// fzReadmeConfig is the example configuration of README.md.
const fzReadmeConfig = `listen: 127.0.0.1:8080
publicURL: https://scim.example.com   # for meta.location; defaults to http://<listen>
redis:
  url: redis://127.0.0.1:6379/0       # absent or empty: embedded in-process store (nothing survives a restart)
  keyPrefix: wfb                      # namespace, so several bridges can share one Redis
webflow:
  apiBaseURL: https://api.webflow.com/v2
  scimBaseURL: https://api.webflow.com/scim/v2
  rateLimitPerMinute: 60              # per Webflow token
  maxWait: 20s                        # longest a SCIM request waits for budget, then 429 + Retry-After
  pendingCreateTimeout: 90s           # an unfinished create older than this is presumed dead (see below)
sites:
  - id: 580e63e98c9a982ac9b8b741      # Webflow site_id
    webflowToken: ${WEBFLOW_TOKEN}    # needs users:read, users:write
    scimTokens: ["${SCIM_TOKEN}"]     # what the IdP sends; plain, or "sha256:<64 hex>"
    deactivation: remove-access       # or delete
    onExistingUser: link              # or conflict
    emailChange: reject               # or reinvite
    refreshAge: 5m                    # GET /Users/{id} re-reads Webflow when the record is older
    customFields: [country]           # the site's custom user fields, exposed under our extension's data
    rateLimitPerMinute: 120           # this site's token budget, if not webflow.rateLimitPerMinute
    groupMappings:                    # IdP group displayName -> existing access-group slug
      "Engineering (Okta)": staff
    onGroupDelete: unlink             # or remove-members
    accessGroupsRefresh: 10m          # how long the access-group list from Webflow is cached
workspace:
  webflowSCIMToken: ${WEBFLOW_SCIM_TOKEN}
  scimTokens: ["${WORKSPACE_SCIM_TOKEN}"]   # separate from every site's tokens
  rateLimitPerMinute: 60              # the native SCIM token's own budget
  cascade:                            # opt-in; see "Workspace collaborators"
    sites: [580e63e98c9a982ac9b8b741]
    on: [delete, deactivate]
    dryRun: false
adminTokens: ["${BRIDGE_ADMIN_TOKEN}"]  # for GET /identity?email=…, /metrics and the details of /readyz
admin:
  listen: 0.0.0.0:9090                # optional: /readyz and /metrics in full, no token; keep it off the Ingress
logging:
  format: text                        # or json
  level: info
  redactEmails: false                 # mask the local part of emails in logs
shutdownTimeout: 20s                  # SIGTERM: stop accepting, finish requests in flight and the write in hand
tls:                                  # optional: serve HTTPS directly (reloaded when the files change)
  certFile: /etc/bridge/tls.crt
  keyFile: /etc/bridge/tls.key
`

var fzEnv = map[string]string{
	"WEBFLOW_TOKEN":        "wf-tok",
	"SCIM_TOKEN":           "sc$tok-0123456789abcdef0123456789",
	"WEBFLOW_SCIM_TOKEN":   "${SCIM_TOKEN}",                          // values are not expanded again
	"WORKSPACE_SCIM_TOKEN": "ws: {tok} # x-0123456789abcdef01234567", // nor parsed as YAML structure
	"BRIDGE_ADMIN_TOKEN":   "adm-0123456789abcdef0123456789abcd",
	"EMPTY":                "",
}

var fzEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FuzzParseConfig: Parse never panics or hangs on any text, warns
// only about unset variables, and whatever it accepts is valid (Validate
// passes, defaults are applied, parsing is deterministic). A variable's
// value is data: with the README's config, values holding ": ", "{", "#"
// or "${...}" land verbatim in the field that referenced them. Inputs
// naming secret files are skipped (see fzReadsFiles).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		fzReadmeConfig,
		"listen: 127.0.0.1:9000\nredis:\n  url: \"\"\nwebflow:\n  rateLimitPerMinute: 120\nsites:\n  - id: 580e63e98c9a982ac9b8b741\n    webflowToken: ${WEBFLOW_TOKEN}\n    scimTokens: [\"${SCIM_TOKEN}\", \"sha256:abc$notexpanded\"]\n    deactivation: delete\n    refreshAge: 90s\nworkspace:\n  webflowSCIMToken: ${WEBFLOW_SCIM_TOKEN}\n",
		"sites:\n  - id: x\n    webflowTokn: a\n",
		"sites:\n  - id: a\n    webflowToken: ${UNSET}\n    scimTokens: [x]\n",
		"sites:\n  - id: a\n    webflowToken: t\n    scimTokens: [x]\n    refreshAge: soon\n",
		"listen: :1\n",
		"workspace:\n  webflowSCIMToken: t\n  scimTokens: [a]\n  cascade:\n    sites: [s]\n    on: [delete, explode]\n",
		"a: &a [x, *a]\n",
		"x: &x {a: 1}\nsites: [*x, *x]\n<<: *x\n",
		"sites: !!binary aGVsbG8=\n",
		"shutdownTimeout: -9223372036854775808ns\nsites: [{id: a, webflowToken: t, scimTokens: [s]}]\n",
		"webflow: {rateLimitPerMinute: 99999999999999999999}\n",
		"publicURL: /\nsites: [{id: a, webflowToken: t, scimTokens: [s]}]\n",
		"${WORKSPACE_SCIM_TOKEN}\n${${SCIM_TOKEN}}$${EMPTY}{x}\n",
		"\xef\xbb\xbf---\nlisten: x\n...\n---\nlisten: y\n",
		"\t\x00\xff",
	} {
		f.Add([]byte(s))
	}
	lookup := func(k string) (string, bool) { v, ok := fzEnv[k]; return v, ok }
	f.Fuzz(func(t *testing.T, raw []byte) {
		guard := time.AfterFunc(20*time.Second, func() { panic("fuzz: Parse did not terminate") })
		defer guard.Stop()

		if fzReadsFiles(raw) {
			return
		}
		cfg, warnings, err := Parse(raw, lookup)
		for _, w := range warnings {
			name, ok := strings.CutPrefix(w, "environment variable ")
			name, ok2 := strings.CutSuffix(name, " is not set")
			if !ok || !ok2 || !fzEnvName.MatchString(name) {
				t.Fatalf("warning %q", w)
			}
			if _, set := fzEnv[name]; set {
				t.Fatalf("warning about a set variable: %q", w)
			}
		}
		if err != nil {
			if cfg != nil {
				t.Fatalf("error %v with a config", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("nil config without an error")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		if cfg.Listen == "" || cfg.Webflow.APIBaseURL == "" || cfg.Webflow.SCIMBaseURL == "" ||
			cfg.Webflow.RateLimitPerMinute <= 0 || cfg.Webflow.MaxWait == 0 || cfg.ShutdownTimeout == 0 {
			t.Fatalf("defaults missing: %+v", cfg)
		}
		if len(cfg.Sites) == 0 && !cfg.Workspace.Enabled() {
			t.Fatalf("accepted a config with nothing to serve: %+v", cfg)
		}
		seen := map[string]bool{}
		for _, s := range cfg.Sites {
			if s.ID == "" || seen[s.ID] || strings.TrimSpace(s.WebflowToken) == "" || len(s.SCIMTokens) == 0 {
				t.Fatalf("accepted site %+v", s)
			}
			seen[s.ID] = true
		}
		if string(raw) == fzReadmeConfig {
			if cfg.Workspace.WebflowSCIMToken != fzEnv["WEBFLOW_SCIM_TOKEN"] ||
				!reflect.DeepEqual(cfg.Workspace.SCIMTokens, []string{fzEnv["WORKSPACE_SCIM_TOKEN"]}) ||
				cfg.Sites[0].SCIMTokens[0] != fzEnv["SCIM_TOKEN"] {
				t.Fatalf("variable values were not inserted verbatim: %+v", cfg)
			}
		}
		again, _, err := Parse(raw, lookup)
		if err != nil || !reflect.DeepEqual(again, cfg) {
			t.Fatalf("Parse is not deterministic: %v", err)
		}
	})
}

// fzExpandRef is the specification of expandEnv: one left-to-right pass
// that replaces exactly the references ${NAME}, NAME matching
// [A-Za-z_][A-Za-z0-9_]*, with val(NAME) and copies every other byte
// (including "$NAME", "$$", "${}", "${1X}", "${A-B}", an unclosed "${A")
// verbatim. Replacement text is never rescanned.
func fzExpandRef(s string, val func(string) string) (string, []string) {
	var b strings.Builder
	var names []string
	isStart := func(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
	isCont := func(c byte) bool { return isStart(c) || ('0' <= c && c <= '9') }
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "${") && i+2 < len(s) && isStart(s[i+2]) {
			k := i + 3
			for k < len(s) && isCont(s[k]) {
				k++
			}
			if k < len(s) && s[k] == '}' {
				name := s[i+2 : k]
				names = append(names, name)
				b.WriteString(val(name))
				i = k + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String(), names
}

// FuzzExpandEnv: expandEnv expands ${NAME} and nothing else. With a lookup
// that sets only the names starting with a letter A–M (to the fuzzed
// value), its output equals fzExpandRef's; lookup is only asked about
// valid names, in order; the unset list is exactly the unset names looked
// up. Values are inserted verbatim, even when they hold "${...}".
func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{fzReadmeConfig, "scimTokens: [\"sha256:abc$notexpanded\"]", "${A}${B}", "${${A}}", "$${A}{B}", "${}", "${1A}", "${A-B}", "${A", "$A ${_} ${a_1}", "${Ä}", "\xff${A}\xff"} {
		f.Add(s, "X")
	}
	f.Add("${A}", "${B}")
	f.Add("${A}", "")
	f.Fuzz(func(t *testing.T, s, value string) {
		set := func(name string) bool {
			c := name[0] | 0x20
			return 'a' <= c && c <= 'm'
		}
		var asked []string
		lookup := func(name string) (string, bool) {
			if !fzEnvName.MatchString(name) {
				t.Fatalf("lookup asked about %q", name)
			}
			asked = append(asked, name)
			if set(name) {
				return value, true
			}
			return "", false
		}
		out, unset := expandEnv(s, lookup)
		want, names := fzExpandRef(s, func(name string) string {
			if set(name) {
				return value
			}
			return ""
		})
		if out != want {
			t.Fatalf("expandEnv(%q) with value %q = %q, want %q", s, value, out, want)
		}
		if !reflect.DeepEqual(asked, names) && !(len(asked) == 0 && len(names) == 0) {
			t.Fatalf("looked up %q, references are %q", asked, names)
		}
		var wantUnset []string
		for _, n := range names {
			if !set(n) {
				wantUnset = append(wantUnset, n)
			}
		}
		if !reflect.DeepEqual(unset, wantUnset) && !(len(unset) == 0 && len(wantUnset) == 0) {
			t.Fatalf("unset %q, want %q", unset, wantUnset)
		}
		if len(names) == 0 && out != s {
			t.Fatalf("text without references changed: %q -> %q", s, out)
		}
	})
}
