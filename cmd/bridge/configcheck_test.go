package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// goTypeName matches a Go type name in a message (config.RedisConfig,
// main.RedisConfig): words an operator's YAML never contains.
var goTypeName = regexp.MustCompile(`\b(config|main|scimserver|state)\.[A-Z]`)

// Issue 17 §2: config check and serve share one validation, so a config
// that serve refuses is never "valid" to config check, and both say why
// in the same words, naming the key.
func TestConfigCheckAndServeRefuseAlike(t *testing.T) {
	site := func(extra string) string {
		return "listen: 127.0.0.1:0\nwebflow:\n  apiBaseURL: http://127.0.0.1:1/v2\nsites:\n  - id: " + testSite +
			"\n    webflowToken: wf-token\n    scimTokens: [" + testToken + "]\n" + extra
	}
	cases := []struct {
		name, config string
		want         []string // in the one message, in any order
	}{
		{"deactivation: remove_access", site("    deactivation: remove_access\n"),
			[]string{`sites[0].deactivation "remove_access" must be remove-access or delete`}},
		{"apiBaseURL htp:/", strings.Replace(site(""), "http://127.0.0.1:1/v2", "htp:/api.webflow.com/v2", 1),
			[]string{`webflow.apiBaseURL "htp:/api.webflow.com/v2" must be an absolute http:// or https:// URL`}},
		{"apiBaseURL without a scheme", strings.Replace(site(""), "http://127.0.0.1:1/v2", "127.0.0.1:28090/v2", 1),
			[]string{`webflow.apiBaseURL "127.0.0.1:28090/v2" must be an absolute http:// or https:// URL`}},
		{"redis.url redis//", site("redis:\n  url: redis//user:s3cret@127.0.0.1:6379/0\n"),
			[]string{"redis.url: state: invalid redis URL"}},
		{"TLS files that do not exist", site("tls:\n  certFile: /nonexistent/tls.crt\n  keyFile: /nonexistent/tls.key\n"),
			[]string{"tls.certFile /nonexistent/tls.crt does not exist", "tls.keyFile /nonexistent/tls.key does not exist"}},
		{"malformed site id", strings.Replace(site(""), "id: "+testSite, "id: my site/1", 1),
			[]string{`sites[0].id "my site/1" is not a Webflow site id`}},
		{"bad keyPrefix", site("redis:\n  keyPrefix: \"wfb{x}\"\n"),
			[]string{`redis.keyPrefix: state: invalid argument: key prefix "wfb{x}" must not contain { or }`}},
		{"unknown key with a near one", site("redis:\n  keyprefix: wfb\n"),
			[]string{"line 9: unknown key `keyprefix` in `redis`; did you mean `keyPrefix`?"}},
		{"unknown key in a site", site("    deactivaton: delete\n"),
			[]string{"line 8: unknown key `deactivaton` in `sites[0]`; did you mean `deactivation`?"}},
		{"a list where a mapping goes", site("redis: [a]\n"),
			[]string{"line 8: `redis` must be a mapping (key: value lines)"}},
		{"several problems at once", site("    deactivation: remove_access\n    onGroupDelete: purge\nlogging:\n  format: xml\n"),
			[]string{`sites[0].deactivation "remove_access"`, `sites[0].onGroupDelete "purge" must be unlink or remove-members`, `logging.format "xml"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bridge.yaml")
			if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			checkErr := runConfig(ctx, []string{"check", "--config", path}, io.Discard, io.Discard)
			serveErr := runServe(ctx, []string{"--config", path}, io.Discard, io.Discard)
			if checkErr == nil || serveErr == nil {
				t.Fatalf("config check: %v; serve: %v; both must refuse", checkErr, serveErr)
			}
			if checkErr.Error() != serveErr.Error() {
				t.Errorf("different answers:\nconfig check: %v\nserve:        %v", checkErr, serveErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(checkErr.Error(), w) {
					t.Errorf("message does not say %q:\n%v", w, checkErr)
				}
			}
			if m := goTypeName.FindString(checkErr.Error()); m != "" {
				t.Errorf("message shows a Go type name (%s…): %v", m, checkErr)
			}
			if strings.Contains(checkErr.Error(), "s3cret") {
				t.Errorf("message shows the Redis password: %v", checkErr)
			}
		})
	}
}
