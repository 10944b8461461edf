package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// demo is a running `bridge demo`.
type demo struct {
	Bridge         string `json:"bridge"`
	SCIMBase       string `json:"scimBase"`
	SCIMToken      string `json:"scimToken"`
	SiteID         string `json:"siteId"`
	WorkspaceBase  string `json:"workspaceBase"`
	WorkspaceToken string `json:"workspaceToken"`
	AdminToken     string `json:"adminToken"`
	Simulator      string `json:"simulator"`
}

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "bridge")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/bridge").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the bridge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startDemo runs a fresh `bridge demo` for one test: each replay starts
// from the same demo state.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"demo", "--listen", "127.0.0.1:0", "--rate-limit", "0", "--ready-file", ready}, args...)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bridge demo output:\n%s", logs.String())
		}
	})
	var d demo
	for range 200 {
		if raw, err := os.ReadFile(ready); err == nil && json.Unmarshal(raw, &d) == nil && d.SCIMBase != "" {
			return &d
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("bridge demo did not start:\n%s", logs.String())
	return nil
}

// step is one request of a replay and what must come back.
type step struct {
	name    string
	method  string
	path    string // relative to the SCIM base unless absolute; {{var}} is substituted
	body    string // {{var}} is substituted
	headers map[string]string
	status  int
	expect  map[string]string // JSON path → want: a literal, "*" (present, non-empty), "!" (absent), "#n" (array length n)
	save    map[string]string // var ← JSON path
	check   func(t *testing.T, d *demo, body map[string]any)
}

// replay runs steps in order against d's SCIM base (or base if given).
type replay struct {
	t     *testing.T
	d     *demo
	base  string
	token string
	vars  map[string]string
}

func newReplay(t *testing.T, d *demo) *replay {
	return &replay{t: t, d: d, base: d.SCIMBase, token: d.SCIMToken, vars: map[string]string{}}
}

var varRef = regexp.MustCompile(`\{\{(\w+)\}\}`)

func (r *replay) sub(s string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := r.vars[m[2:len(m)-2]]
		if !ok {
			r.t.Fatalf("replay variable %s is not set", m)
		}
		return v
	})
}

func (r *replay) run(steps ...step) {
	r.t.Helper()
	for _, s := range steps {
		r.do(s)
	}
}

func (r *replay) do(s step) map[string]any {
	t := r.t
	t.Helper()
	url := r.sub(s.path)
	if !strings.HasPrefix(url, "http") {
		url = r.base + url
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(r.sub(s.body))
	}
	req, err := http.NewRequest(s.method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if s.body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range s.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, r.sub(v))
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != s.status {
		t.Fatalf("%s: %s %s → %d, want %d: %s", s.name, s.method, url, res.StatusCode, s.status, raw)
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: the answer is not JSON: %s", s.name, raw)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") && !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", s.name, ct)
		}
	}
	if res.StatusCode >= 400 {
		if !hasString(m["schemas"], "urn:ietf:params:scim:api:messages:2.0:Error") || get(m, "detail") == nil || get(m, "status") != strconv.Itoa(res.StatusCode) {
			t.Errorf("%s: not a SCIM Error body: %s", s.name, raw)
		}
	}
	for path, want := range s.expect {
		got := get(m, path)
		switch {
		case want == "*":
			if got == nil || got == "" {
				t.Errorf("%s: %s is empty: %s", s.name, path, raw)
			}
		case want == "!":
			if got != nil {
				t.Errorf("%s: %s must be absent, is %v", s.name, path, got)
			}
		case strings.HasPrefix(want, "#"):
			n, _ := strconv.Atoi(want[1:])
			arr, ok := got.([]any)
			if !ok || len(arr) != n {
				t.Errorf("%s: %s has %v, want %d items", s.name, path, got, n)
			}
		default:
			if fmt.Sprint(got) != r.sub(want) {
				t.Errorf("%s: %s = %v, want %s", s.name, path, got, r.sub(want))
			}
		}
	}
	for v, path := range s.save {
		got := get(m, path)
		if got == nil {
			t.Fatalf("%s: nothing at %s to save: %s", s.name, path, raw)
		}
		r.vars[v] = fmt.Sprint(got)
	}
	if s.check != nil {
		s.check(t, r.d, m)
	}
	return m
}

// get walks a dotted path; numeric parts index arrays. Keys with dots
// (schema URNs) are written in brackets: "[urn:…:User].status".
func get(m any, path string) any {
	cur := m
	for path != "" {
		var part string
		if strings.HasPrefix(path, "[") {
			end := strings.Index(path, "]")
			part, path = path[1:end], strings.TrimPrefix(path[end+1:], ".")
		} else if i := strings.IndexAny(path, ".["); i >= 0 && path[i] == '.' {
			part, path = path[:i], path[i+1:]
		} else if i >= 0 {
			part, path = path[:i], path[i:]
		} else {
			part, path = path, ""
		}
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n >= len(c) {
				return nil
			}
			cur = c[n]
		default:
			return nil
		}
	}
	return cur
}

func hasString(v any, s string) bool {
	arr, _ := v.([]any)
	for _, x := range arr {
		if x == s {
			return true
		}
	}
	return false
}

// simState reads the simulator's state through its admin API.
func simState(t *testing.T, d *demo) map[string]any {
	t.Helper()
	res, err := http.Get(d.Simulator + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return m
}

// webflowUser returns the simulated Webflow user with this email, or nil.
func webflowUser(t *testing.T, d *demo, email string) map[string]any {
	st := simState(t, d)
	sites, _ := st["sites"].([]any)
	for _, s := range sites {
		users, _ := s.(map[string]any)["users"].([]any)
		for _, u := range users {
			um := u.(map[string]any)
			if strings.EqualFold(fmt.Sprint(get(um, "data.email")), email) {
				return um
			}
		}
	}
	return nil
}

// slugs returns a Webflow user's access-group slugs, sorted, joined by ",".
func slugs(u map[string]any) string {
	var out []string
	ags, _ := u["accessGroups"].([]any)
	for _, g := range ags {
		out = append(out, fmt.Sprint(get(g, "slug")))
	}
	sortStrings(out)
	return strings.Join(out, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// invites counts the invitation emails the simulator sent to email.
func invites(t *testing.T, d *demo, email string) int {
	res, err := http.Get(d.Simulator + "/_sim/invites")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m struct {
		Invites []struct{ Email string } `json:"invites"`
	}
	json.NewDecoder(res.Body).Decode(&m)
	n := 0
	for _, i := range m.Invites {
		if strings.EqualFold(i.Email, email) {
			n++
		}
	}
	return n
}

// eventually polls cond (membership writes are applied in the background).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 800 { // 20 s: background writes on a loaded machine
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// webflowHas checks, eventually, a Webflow user's groups and name.
func webflowHas(email, groups, name string) func(t *testing.T, d *demo, _ map[string]any) {
	return func(t *testing.T, d *demo, _ map[string]any) {
		t.Helper()
		eventually(t, email+" in Webflow with groups "+groups, func() bool {
			u := webflowUser(t, d, email)
			return u != nil && slugs(u) == groups && (name == "" || get(u, "data.name") == name)
		})
	}
}

func webflowGone(email string) func(t *testing.T, d *demo, _ map[string]any) {
	return func(t *testing.T, d *demo, _ map[string]any) {
		t.Helper()
		if webflowUser(t, d, email) != nil {
			t.Errorf("%s must be gone from Webflow", email)
		}
	}
}

func invitedOnce(email string) func(t *testing.T, d *demo, _ map[string]any) {
	return func(t *testing.T, d *demo, _ map[string]any) {
		t.Helper()
		if n := invites(t, d, email); n != 1 {
			t.Errorf("%s invited %d times, want once", email, n)
		}
	}
}

const (
	userURN  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	extURN   = "urn:ietf:params:scim:schemas:extension:webflow:2.0:User"
)

func q(filter string) string {
	return strings.ReplaceAll(strings.ReplaceAll(filter, " ", "%20"), `"`, "%22")
}
