package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.yaml.in/yaml/v3"
)

// ---------------------------------------------------------------------------
// The bridge's config schema, read from internal/config/config.go (with
// go/parser, so every type stays in that one file): every yaml-tagged field of Config and the types it
// reaches. A shipped config with a key not in it would stop the bridge at
// start-up (it decodes with KnownFields), so the tests refuse it here.

type schema struct {
	kind   string             // "struct", "list", "map", "scalar"
	fields map[string]*schema // struct
	elem   *schema            // list, map
}

var (
	schemaOnce sync.Once
	rootSchema *schema
	schemaErr  error
)

func configSchema(t *testing.T) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join("..", "internal", "config", "config.go"), nil, 0)
		if err != nil {
			schemaErr = err
			return
		}
		types := map[string]ast.Expr{}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				types[ts.Name.Name] = ts.Type
			}
		}
		var conv func(e ast.Expr) *schema
		conv = func(e ast.Expr) *schema {
			switch x := e.(type) {
			case *ast.Ident:
				if def, ok := types[x.Name]; ok {
					if _, isStruct := def.(*ast.StructType); isStruct {
						return conv(def)
					}
				}
				return &schema{kind: "scalar"} // string, int, bool, Duration
			case *ast.ArrayType:
				return &schema{kind: "list", elem: conv(x.Elt)}
			case *ast.MapType:
				return &schema{kind: "map", elem: conv(x.Value)}
			case *ast.StructType:
				s := &schema{kind: "struct", fields: map[string]*schema{}}
				for _, fld := range x.Fields.List {
					if fld.Tag == nil {
						continue
					}
					tag, _ := strconv.Unquote(fld.Tag.Value)
					name := strings.Split(reflect.StructTag(tag).Get("yaml"), ",")[0]
					if name == "" || name == "-" {
						continue
					}
					s.fields[name] = conv(fld.Type)
				}
				return s
			case *ast.StarExpr:
				return conv(x.X)
			}
			return &schema{kind: "scalar"}
		}
		def, ok := types["Config"]
		if !ok {
			schemaErr = errors.New("internal/config/config.go: no type Config")
			return
		}
		rootSchema = conv(def)
	})
	if schemaErr != nil {
		t.Fatalf("reading the config schema: %v", schemaErr)
	}
	return rootSchema
}

// checkKeys reports every key of n that the schema does not know.
func checkKeys(s *schema, n *yaml.Node, path string) []string {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	var bad []string
	switch s.kind {
	case "struct":
		if n.Kind != yaml.MappingNode {
			return []string{fmt.Sprintf("%s: want a mapping (line %d)", orRoot(path), n.Line)}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			sub, ok := s.fields[k]
			p := strings.TrimPrefix(path+"."+k, ".")
			if !ok {
				bad = append(bad, fmt.Sprintf("%s: unknown key (line %d)", p, n.Content[i].Line))
				continue
			}
			bad = append(bad, checkKeys(sub, n.Content[i+1], p)...)
		}
	case "list":
		if n.Kind != yaml.SequenceNode {
			return []string{fmt.Sprintf("%s: want a list (line %d)", path, n.Line)}
		}
		for i, c := range n.Content {
			bad = append(bad, checkKeys(s.elem, c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "map":
		if n.Kind != yaml.MappingNode {
			return []string{fmt.Sprintf("%s: want a mapping (line %d)", path, n.Line)}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			bad = append(bad, checkKeys(s.elem, n.Content[i+1], path+"."+n.Content[i].Value)...)
		}
	case "scalar":
		if n.Kind != yaml.ScalarNode {
			return []string{fmt.Sprintf("%s: want a single value (line %d)", path, n.Line)}
		}
	}
	return bad
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// bridgeConfig is the part of the config the deployment relies on.
type bridgeConfig struct {
	Listen    string `yaml:"listen"`
	PublicURL string `yaml:"publicURL"`
	Redis     struct {
		URL       string `yaml:"url"`
		KeyPrefix string `yaml:"keyPrefix"`
	} `yaml:"redis"`
	Webflow struct {
		APIBaseURL  string `yaml:"apiBaseURL"`
		SCIMBaseURL string `yaml:"scimBaseURL"`
	} `yaml:"webflow"`
	Sites []struct {
		ID           string   `yaml:"id"`
		WebflowToken string   `yaml:"webflowToken"`
		SCIMTokens   []string `yaml:"scimTokens"`
	} `yaml:"sites"`
	Workspace struct {
		WebflowSCIMToken string   `yaml:"webflowSCIMToken"`
		SCIMTokens       []string `yaml:"scimTokens"`
	} `yaml:"workspace"`
	AdminTokens []string `yaml:"adminTokens"`
	Admin       struct {
		Listen string `yaml:"listen"`
	} `yaml:"admin"`
	AllowWeakTokens bool   `yaml:"allowWeakTokens"`
	ShutdownTimeout string `yaml:"shutdownTimeout"`
}

var placeholder = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)

// checkBridgeConfig parses a config as the bridge would (before ${VAR}
// expansion) and checks the keys a deployment needs. With secretsByRef,
// every token must be a ${VAR} placeholder. It returns the ${VAR} names used.
func checkBridgeConfig(t *testing.T, name string, raw []byte, secretsByRef bool) (bridgeConfig, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: not YAML: %v", name, err)
	}
	if bad := checkKeys(configSchema(t), &doc, ""); len(bad) > 0 {
		t.Errorf("%s: keys the bridge does not know (it refuses to start):\n  %s", name, strings.Join(bad, "\n  "))
	}
	var c bridgeConfig
	if err := doc.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if c.Listen == "" {
		t.Errorf("%s: listen is missing", name)
	} else if host, _, err := net.SplitHostPort(c.Listen); err != nil || (host != "0.0.0.0" && host != "") {
		t.Errorf("%s: listen %q: in a container it must listen on all interfaces (0.0.0.0:PORT)", name, c.Listen)
	}
	if c.Redis.URL == "" {
		t.Errorf("%s: redis.url is missing (empty means the embedded store: nothing shared, nothing survives a restart)", name)
	} else if !placeholder.MatchString(c.Redis.URL) && !regexp.MustCompile(`^rediss?(\+cluster|\+sentinel)?://`).MatchString(c.Redis.URL) {
		t.Errorf("%s: redis.url %q: the bridge accepts redis://, rediss://, redis+cluster://, redis+sentinel://", name, c.Redis.URL)
	}
	if len(c.Sites) == 0 {
		t.Errorf("%s: no sites", name)
	}
	for i, s := range c.Sites {
		if s.ID == "" || s.WebflowToken == "" || len(s.SCIMTokens) == 0 {
			t.Errorf("%s: sites[%d] needs id, webflowToken and scimTokens: %+v", name, i, s)
		}
	}
	secrets := map[string]string{}
	for i, s := range c.Sites {
		secrets[fmt.Sprintf("sites[%d].webflowToken", i)] = s.WebflowToken
		for j, tok := range s.SCIMTokens {
			secrets[fmt.Sprintf("sites[%d].scimTokens[%d]", i, j)] = tok
		}
	}
	if c.Workspace.WebflowSCIMToken != "" || len(c.Workspace.SCIMTokens) > 0 {
		secrets["workspace.webflowSCIMToken"] = c.Workspace.WebflowSCIMToken
		for j, tok := range c.Workspace.SCIMTokens {
			secrets[fmt.Sprintf("workspace.scimTokens[%d]", j)] = tok
		}
	}
	for j, tok := range c.AdminTokens {
		secrets[fmt.Sprintf("adminTokens[%d]", j)] = tok
	}
	if strings.Contains(c.Redis.URL, "@") {
		secrets["redis.url (holds a password)"] = c.Redis.URL
	}
	if secretsByRef && c.AllowWeakTokens {
		t.Errorf("%s: allowWeakTokens is for demos and trials, never a production config", name)
	}
	if secretsByRef {
		for k, v := range secrets {
			if !placeholder.MatchString(v) {
				t.Errorf("%s: %s is %q: secrets must be ${VAR} references, never inline values", name, k, v)
			}
		}
	}
	var vars []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(n.Value, -1) {
				if !slices.Contains(vars, m[1]) {
					vars = append(vars, m[1])
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	slices.Sort(vars)
	return c, vars
}

// ---------------------------------------------------------------------------
// Small helpers for untyped YAML.

type obj = map[string]any

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func strs(v any, path ...string) []string {
	var out []string
	for _, e := range list(v, path...) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func readYAML(t *testing.T, path string) obj {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m obj
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// ---------------------------------------------------------------------------
// Dockerfile

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := regexp.MustCompile(`\s*\\\n\s*`).ReplaceAllString(string(raw), " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	var froms []string
	has := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		return ""
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "FROM golang:1.26-bookworm@sha256:") || !strings.HasSuffix(froms[0], " AS build") ||
		!strings.HasPrefix(froms[1], "FROM gcr.io/distroless/static-debian12:nonroot@sha256:") {
		t.Errorf("want a golang:1.26-bookworm builder and a distroless/static nonroot runtime, got %q", froms)
	}
	// Every base image is pinned by digest, its tag in the comment above.
	pinned := regexp.MustCompile(`^FROM (\S+:\S+)@sha256:[0-9a-f]{64}( AS \w+)?$`)
	for _, f := range froms {
		m := pinned.FindStringSubmatch(f)
		if m == nil {
			t.Errorf("%q is not pinned by digest (image:tag@sha256:<64 hex>)", f)
			continue
		}
		if !strings.Contains(string(raw), "# "+m[1]+"\nFROM ") {
			t.Errorf("%q: want the tag %q in a comment on the line above", f, m[1])
		}
	}
	// The builder's Go is go.mod's minor version (GOTOOLCHAIN=local).
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil || !strings.HasPrefix(froms[0], "FROM golang:"+string(goLine[1])+"-") {
		t.Errorf("builder %q does not match go.mod's go %s", froms[0], goLine)
	}
	build := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = l
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "go build -trimpath",
		`-ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildDate=${BUILD_DATE}"`, "-o /out/bridge ./cmd/bridge"} {
		if !strings.Contains(build, want) {
			t.Errorf("build step %q lacks %q", build, want)
		}
	}
	for _, want := range []string{
		"USER 65532:65532",
		"EXPOSE 8080",
		`ENTRYPOINT ["/bridge"]`,
		`CMD ["serve","--config","/etc/bridge/bridge.yaml"]`,
		"COPY --from=build /out/bridge /bridge",
	} {
		if has(want) != want {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The image's version is the chart's appVersion (issue 17 §4): one
	// release number, stamped into the binary (bridge version,
	// bridge_build_info).
	chart, err := os.ReadFile("helm/webflow-scim-bridge/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	app := regexp.MustCompile(`(?m)^appVersion:\s*"?([^"\s]+)"?`).FindSubmatch(chart)
	if app == nil || has("ARG VERSION=") != "ARG VERSION="+string(app[1]) {
		t.Errorf("Dockerfile %q, want ARG VERSION= the chart's appVersion %q", has("ARG VERSION="), app)
	}
	hc := has("HEALTHCHECK ")
	if !strings.HasSuffix(hc, `CMD ["/bridge","healthcheck","--url","http://127.0.0.1:8080/healthz"]`) {
		t.Errorf("HEALTHCHECK must run the binary in exec form (no shell in distroless): %q", hc)
	}

	// The context is the repository root; the ignore file must let the
	// sources through and keep everything else out.
	ign, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*", "!go.mod", "!go.sum", "!cmd/", "!internal/", "**/.env"} {
		if !slices.Contains(strings.Split(string(ign), "\n"), want) {
			t.Errorf("Dockerfile.dockerignore lacks the line %q", want)
		}
	}
	// What the binary needs must be inside what the Dockerfile copies.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "../cmd/bridge").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // module cache
		}
		if !strings.HasPrefix(rel, "cmd"+string(filepath.Separator)) && !strings.HasPrefix(rel, "internal"+string(filepath.Separator)) {
			t.Errorf("cmd/bridge depends on %s, which the Dockerfile does not copy", rel)
		}
	}
}

// ---------------------------------------------------------------------------
// docker-compose.yml

func TestCompose(t *testing.T) {
	c := readYAML(t, "docker-compose.yml")
	services, _ := c["services"].(obj)
	var bridges []string
	for name, s := range services {
		if slices.Contains(strs(s, "command"), "serve") {
			bridges = append(bridges, name)
		}
	}
	slices.Sort(bridges)
	if !reflect.DeepEqual(bridges, []string{"bridge-1", "bridge-2"}) {
		t.Fatalf("bridge replicas: %v, want bridge-1 and bridge-2", bridges)
	}
	hostPorts := map[string]string{"bridge-1": "8081", "bridge-2": "8082"}
	for _, name := range bridges {
		s := services[name]
		if str(s, "build", "dockerfile") != "deploy/Dockerfile" || str(s, "build", "context") != ".." {
			t.Errorf("%s: build %v, want context .. and deploy/Dockerfile", name, get(s, "build"))
		}
		if cond := str(s, "depends_on", "redis", "condition"); cond != "service_healthy" {
			t.Errorf("%s: depends_on redis: %q, want service_healthy", name, cond)
		}
		if req, _ := get(s, "depends_on", "webflow-sim", "required").(bool); req || get(s, "depends_on", "webflow-sim") == nil {
			t.Errorf("%s: must wait for webflow-sim when the trial profile runs it, and only then (required: false)", name)
		}
		hc := strs(s, "healthcheck", "test")
		if !reflect.DeepEqual(hc, []string{"CMD", "/bridge", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"}) {
			t.Errorf("%s: healthcheck %v", name, hc)
		}
		if r := str(s, "restart"); r != "unless-stopped" && r != "always" {
			t.Errorf("%s: restart %q", name, r)
		}
		ports := strs(s, "ports")
		if len(ports) != 1 || !strings.HasSuffix(ports[0], ":"+hostPorts[name]+":8080") {
			t.Errorf("%s: ports %v, want host %s -> 8080", name, ports, hostPorts[name])
		}
		vols := strs(s, "volumes")
		if len(vols) != 1 || !strings.HasPrefix(vols[0], "${BRIDGE_CONFIG:-./compose/bridge.yaml}:/etc/bridge/bridge.yaml") {
			t.Errorf("%s: volumes %v: want the config at /etc/bridge/bridge.yaml", name, vols)
		}
		if ro, _ := get(s, "read_only").(bool); !ro {
			t.Errorf("%s: read_only root filesystem expected", name)
		}
		if get(s, "profiles") != nil {
			t.Errorf("%s: the replicas run in every profile", name)
		}
	}

	redis := services["redis"]
	if img := str(redis, "image"); !regexp.MustCompile(`^redis:7[\w.-]*@sha256:[0-9a-f]{64}$`).MatchString(img) {
		t.Errorf("redis image %q, want redis:7… pinned by digest", img)
	}
	cmd := strings.Join(strs(redis, "command"), " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q", cmd, want)
		}
	}
	vols := strs(redis, "volumes")
	if len(vols) != 1 || vols[0] != "redis-data:/data" {
		t.Errorf("redis volumes %v, want the named volume redis-data at /data (AOF lives there)", vols)
	}
	if _, ok := get(c, "volumes").(obj)["redis-data"]; !ok {
		t.Errorf("named volume redis-data is not declared")
	}
	if len(strs(redis, "healthcheck", "test")) == 0 {
		t.Errorf("redis has no healthcheck (the replicas wait for it)")
	}
	if get(redis, "ports") != nil {
		t.Errorf("redis must not be published on the host")
	}

	sim := services["webflow-sim"]
	if !reflect.DeepEqual(strs(sim, "profiles"), []string{"trial"}) {
		t.Errorf("webflow-sim profiles %v, want [trial]", strs(sim, "profiles"))
	}
	if got := strs(sim, "command"); !reflect.DeepEqual(got, []string{"webflow-sim", "--listen", "0.0.0.0:8090", "--seed", "/etc/webflow-sim/seed.yaml"}) {
		t.Errorf("webflow-sim command %v", got)
	}
	if v := strs(sim, "volumes"); len(v) != 1 || !strings.HasPrefix(v[0], "./webflow-sim-seed.yaml:/etc/webflow-sim/seed.yaml") {
		t.Errorf("webflow-sim volumes %v", v)
	} else if _, err := os.Stat("webflow-sim-seed.yaml"); err != nil {
		t.Error(err)
	}
	for _, p := range strs(sim, "ports") {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("webflow-sim port %q: its admin API is unauthenticated, publish on loopback only", p)
		}
	}
	if len(strs(sim, "healthcheck", "test")) == 0 {
		t.Errorf("webflow-sim has no healthcheck")
	}

	// trial.env switches both replicas to the trial config and the profile on.
	env := map[string]string{}
	raw, err := os.ReadFile("compose/trial.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			env[k] = v
		}
	}
	if env["COMPOSE_PROFILES"] != "trial" || env["BRIDGE_CONFIG"] != "./compose/bridge.trial.yaml" {
		t.Errorf("compose/trial.env: %v", env)
	}
	if _, err := os.Stat(env["BRIDGE_CONFIG"]); err != nil {
		t.Error(err)
	}
}

func TestComposeConfigs(t *testing.T) {
	raw, err := os.ReadFile("compose/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, vars := checkBridgeConfig(t, "compose/bridge.yaml", raw, true)
	// Every variable the production config uses is documented in .env.example.
	example, err := os.ReadFile("compose/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		if !regexp.MustCompile(`(?m)^` + v + `=`).Match(example) {
			t.Errorf("compose/.env.example does not list %s (used by compose/bridge.yaml)", v)
		}
	}

	raw, err = os.ReadFile("compose/bridge.trial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, vars := checkBridgeConfig(t, "compose/bridge.trial.yaml", raw, false)
	if len(vars) != 0 {
		t.Errorf("the trial config must run without a .env, but uses %v", vars)
	}
	if c.Webflow.APIBaseURL != "http://webflow-sim:8090/v2" || c.Webflow.SCIMBaseURL != "http://webflow-sim:8090/scim/v2" {
		t.Errorf("trial config must point at the simulator: %+v", c.Webflow)
	}
	if len(c.Sites) != 1 || c.Sites[0].ID != "580e63e98c9a982ac9b8b741" || c.Sites[0].WebflowToken != "wf-demo-site-token" {
		t.Errorf("trial site: %+v", c.Sites)
	}
	if c.Workspace.WebflowSCIMToken != "wf-demo-scim-token" {
		t.Errorf("trial workspace token %q", c.Workspace.WebflowSCIMToken)
	}
	if c.Redis.URL != "redis://redis:6379/0" {
		t.Errorf("trial redis.url %q, want the compose redis", c.Redis.URL)
	}
}

// ---------------------------------------------------------------------------
// Helm: the rendered manifests (.ci/run writes them; HELM_RENDER_DIR).

func renders(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HELM_RENDER_DIR")
	if dir == "" {
		t.Skip("HELM_RENDER_DIR is not set: .ci/run renders the chart with helm (default.yaml, all.yaml, cluster.yaml, sentinel.yaml) and sets it; run that block to check the manifests")
	}
	return dir
}

func readManifests(t *testing.T, path string) []obj {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []obj
	for {
		var m obj
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			docs = append(docs, m)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no manifests", path)
	}
	return docs
}

func byKind(docs []obj, kind string) []obj {
	var out []obj
	for _, d := range docs {
		if d["kind"] == kind {
			out = append(out, d)
		}
	}
	return out
}

func one(t *testing.T, docs []obj, kind, render string) obj {
	t.Helper()
	k := byKind(docs, kind)
	if len(k) != 1 {
		t.Fatalf("%s: %d %s, want 1", render, len(k), kind)
	}
	return k[0]
}

func bridgeContainer(t *testing.T, dep obj) obj {
	t.Helper()
	for _, c := range list(dep, "spec", "template", "spec", "containers") {
		if str(c, "name") == "bridge" {
			return c.(obj)
		}
	}
	t.Fatal("Deployment has no container named bridge")
	return nil
}

func checkRender(t *testing.T, render string, docs []obj) (dep obj, cfg bridgeConfig) {
	t.Helper()
	if s := byKind(docs, "Secret"); len(s) > 0 {
		t.Errorf("%s: the chart renders a Secret; secrets are by reference only", render)
	}
	dep = one(t, docs, "Deployment", render)
	pod := get(dep, "spec", "template", "spec")
	if nonRoot, _ := get(pod, "securityContext", "runAsNonRoot").(bool); !nonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", render)
	}
	if uid, _ := get(pod, "securityContext", "runAsUser").(int); uid == 0 {
		t.Errorf("%s: runAsUser %v", render, get(pod, "securityContext", "runAsUser"))
	}
	c := bridgeContainer(t, dep)
	if ro, _ := get(c, "securityContext", "readOnlyRootFilesystem").(bool); !ro {
		t.Errorf("%s: readOnlyRootFilesystem is not true", render)
	}
	if esc, ok := get(c, "securityContext", "allowPrivilegeEscalation").(bool); !ok || esc {
		t.Errorf("%s: allowPrivilegeEscalation must be false", render)
	}
	if p := str(c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("%s: liveness probe path %q, want /healthz", render, p)
	}
	if p := str(c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("%s: readiness probe path %q, want /readyz", render, p)
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if port := get(c, probe, "httpGet", "port"); port != "http" {
			t.Errorf("%s: %s port %v, want the named port http", render, probe, port)
		}
	}
	ports := list(c, "ports")
	if len(ports) < 1 || len(ports) > 2 || str(ports[0], "name") != "http" || (len(ports) == 2 && str(ports[1], "name") != "admin") {
		t.Errorf("%s: container ports %v, want http and, optionally, admin", render, ports)
	}
	for _, k := range []string{"requests", "limits"} {
		for _, r := range []string{"cpu", "memory"} {
			if get(c, "resources", k, r) == nil {
				t.Errorf("%s: resources.%s.%s is not set", render, k, r)
			}
		}
	}
	if args := strs(c, "args"); !reflect.DeepEqual(args, []string{"serve", "--config", "/etc/bridge/bridge.yaml"}) {
		t.Errorf("%s: args %v", render, args)
	}

	// Secrets: only by secretKeyRef; no literal values at all.
	env := map[string]obj{}
	for _, e := range list(c, "env") {
		m := e.(obj)
		env[str(m, "name")] = m
		if _, literal := m["value"]; literal {
			t.Errorf("%s: env %s has a literal value; only valueFrom is allowed", render, str(m, "name"))
		}
		if m["valueFrom"] == nil {
			t.Errorf("%s: env %s has no valueFrom", render, str(m, "name"))
		}
	}
	if len(list(c, "envFrom")) > 0 {
		t.Errorf("%s: envFrom is not expected", render)
	}

	// The ConfigMap: a valid bridge config, pods roll when it changes.
	cm := one(t, docs, "ConfigMap", render)
	raw := str(cm, "data", "bridge.yaml")
	var vars []string
	cfg, vars = checkBridgeConfig(t, render+": ConfigMap bridge.yaml", []byte(raw), true)
	for _, v := range vars {
		e, ok := env[v]
		if !ok {
			t.Errorf("%s: the config uses ${%s} but the container has no such env var", render, v)
			continue
		}
		if get(e, "valueFrom", "secretKeyRef", "name") == nil || get(e, "valueFrom", "secretKeyRef", "key") == nil {
			t.Errorf("%s: env %s (a secret in the config) does not come from a secretKeyRef", render, v)
		}
	}
	if !strings.HasSuffix(cfg.Listen, ":"+fmt.Sprint(get(ports[0], "containerPort"))) {
		t.Errorf("%s: config listen %q does not match containerPort %v", render, cfg.Listen, get(ports[0], "containerPort"))
	}
	// The admin listener (/readyz and /metrics in full, no token) has its
	// own port, named admin, and the config listens on it.
	adminPort := ""
	if len(ports) == 2 {
		adminPort = fmt.Sprint(get(ports[1], "containerPort"))
	}
	if (adminPort == "") != (cfg.Admin.Listen == "") || (adminPort != "" && cfg.Admin.Listen != "0.0.0.0:"+adminPort) {
		t.Errorf("%s: config admin.listen %q, container admin port %q: want 0.0.0.0:<the admin port>", render, cfg.Admin.Listen, adminPort)
	}
	if sum := str(get(dep, "spec", "template", "metadata", "annotations"), "checksum/config"); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
		t.Errorf("%s: pod annotation checksum/config = %q, want a sha256", render, sum)
	}
	vols := list(pod, "volumes")
	mounted := false
	for _, v := range vols {
		if str(v, "configMap", "name") == str(cm, "metadata", "name") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("%s: the ConfigMap %s is not mounted", render, str(cm, "metadata", "name"))
	}

	// Service and PDB select the pods.
	podLabels, _ := get(dep, "spec", "template", "metadata", "labels").(obj)
	selects := func(sel any) bool {
		m, ok := sel.(obj)
		if !ok || len(m) == 0 {
			return false
		}
		for k, v := range m {
			if podLabels[k] != v {
				return false
			}
		}
		return true
	}
	svc := one(t, docs, "Service", render)
	if !selects(get(svc, "spec", "selector")) {
		t.Errorf("%s: the Service does not select the bridge pods", render)
	}
	svcPorts := map[string]string{}
	for _, p := range list(svc, "spec", "ports") {
		svcPorts[str(p, "name")] = fmt.Sprint(get(p, "targetPort"))
	}
	if svcPorts["http"] != "http" || (adminPort != "") != (svcPorts["admin"] == "admin") {
		t.Errorf("%s: Service ports %v, want http and (with the admin listener) admin", render, svcPorts)
	}
	pdb := one(t, docs, "PodDisruptionBudget", render)
	if get(pdb, "spec", "minAvailable") != 1 {
		t.Errorf("%s: PDB minAvailable %v, want 1", render, get(pdb, "spec", "minAvailable"))
	}
	if !selects(get(pdb, "spec", "selector", "matchLabels")) {
		t.Errorf("%s: the PDB does not select the bridge pods", render)
	}
	return dep, cfg
}

func TestHelmDefault(t *testing.T) {
	dir := renders(t)
	docs := readManifests(t, filepath.Join(dir, "default.yaml"))
	dep, cfg := checkRender(t, "default.yaml", docs)
	if r := get(dep, "spec", "replicas"); r != 2 {
		t.Errorf("default replicas %v, want 2", r)
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "Ingress"} {
		if n := len(byKind(docs, kind)); n != 0 {
			t.Errorf("default render has %d %s; it is opt-in", n, kind)
		}
	}
	if !strings.HasPrefix(cfg.Redis.URL, "redis://") {
		t.Errorf("default redis.url %q", cfg.Redis.URL)
	}
}

func TestHelmEverythingEnabled(t *testing.T) {
	dir := renders(t)
	docs := readManifests(t, filepath.Join(dir, "all.yaml"))
	dep, cfg := checkRender(t, "all.yaml", docs)
	if r, ok := get(dep, "spec").(obj)["replicas"]; ok {
		t.Errorf("with the HPA on, the Deployment must not set replicas (got %v)", r)
	}
	hpa := one(t, docs, "HorizontalPodAutoscaler", "all.yaml")
	if str(hpa, "spec", "scaleTargetRef", "name") != str(dep, "metadata", "name") || str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" {
		t.Errorf("HPA targets %v", get(hpa, "spec", "scaleTargetRef"))
	}
	if m, _ := get(hpa, "spec", "minReplicas").(int); m < 2 {
		t.Errorf("HPA minReplicas %v, want at least 2", get(hpa, "spec", "minReplicas"))
	}
	sm := one(t, docs, "ServiceMonitor", "all.yaml")
	eps := list(sm, "spec", "endpoints")
	// /metrics on the http port needs an admin token; the admin port not.
	if len(eps) != 1 || str(eps[0], "path") != "/metrics" || str(eps[0], "port") != "admin" {
		t.Errorf("ServiceMonitor endpoints %v, want port admin path /metrics", eps)
	}
	if str(sm, "metadata", "labels", "release") != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v: serviceMonitor.labels must reach it", get(sm, "metadata", "labels"))
	}
	// The PrometheusRule carries deploy/prometheus/alerts.yaml's groups as
	// they are, {{ $labels }} templates included.
	pr := one(t, docs, "PrometheusRule", "all.yaml")
	if str(pr, "metadata", "labels", "release") != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v: prometheusRule.labels must reach it", get(pr, "metadata", "labels"))
	}
	alerts := readYAML(t, "prometheus/alerts.yaml")
	if !reflect.DeepEqual(get(pr, "spec", "groups"), get(alerts, "groups")) {
		t.Errorf("the PrometheusRule's groups differ from deploy/prometheus/alerts.yaml:\n%v", get(pr, "spec", "groups"))
	}
	var names []string
	for _, r := range list(list(pr, "spec", "groups")[0], "rules") {
		names = append(names, str(r, "alert"))
	}
	for _, want := range []string{"WebflowUserAccountsSunset", "WebflowTokenRejected", "MembershipQueueStuck", "MembershipPermanentFailures", "WebflowRateLimited", "BridgeRedisDown", "BridgeNotReady"} {
		if !slices.Contains(names, want) {
			t.Errorf("the PrometheusRule has no alert %s (has %v)", want, names)
		}
	}
	ing := one(t, docs, "Ingress", "all.yaml")
	svc := one(t, docs, "Service", "all.yaml")
	if b := str(list(list(ing, "spec", "rules")[0], "http", "paths")[0], "backend", "service", "name"); b != str(svc, "metadata", "name") {
		t.Errorf("Ingress backend %q, want the Service", b)
	}
	adminSvcPort := ""
	for _, p := range list(svc, "spec", "ports") {
		if str(p, "name") == "admin" {
			adminSvcPort = fmt.Sprint(get(p, "port"))
		}
	}
	for _, r := range list(ing, "spec", "rules") {
		for _, p := range list(r, "http", "paths") {
			port := get(p, "backend", "service", "port")
			if str(port, "name") == "admin" || (adminSvcPort != "" && fmt.Sprint(get(port, "number")) == adminSvcPort) {
				t.Errorf("the Ingress routes to the admin port: %v", port)
			}
		}
	}
	if cfg.Redis.URL != "${REDIS_URL}" {
		t.Errorf("with redis.existingSecret, redis.url must be ${REDIS_URL}, got %q", cfg.Redis.URL)
	}
	if len(cfg.Sites) != 2 || cfg.Workspace.WebflowSCIMToken == "" {
		t.Errorf("ci-values has two sites and the workspace: %+v", cfg)
	}
}

func TestHelmCluster(t *testing.T) {
	dir := renders(t)
	path := filepath.Join(dir, "cluster.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no cluster.yaml render")
	}
	_, cfg := checkRender(t, "cluster.yaml", readManifests(t, path))
	if cfg.Redis.URL != "redis+cluster://redis-0:6379,redis-1:6379,redis-2:6379" {
		t.Errorf("cluster redis.url %q", cfg.Redis.URL)
	}
}

// Sentinel mode: the URL names the Sentinels and the master set, for the
// bridge's own failover client; no Service pointed at the master.
func TestHelmSentinel(t *testing.T) {
	dir := renders(t)
	path := filepath.Join(dir, "sentinel.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no sentinel.yaml render")
	}
	_, cfg := checkRender(t, "sentinel.yaml", readManifests(t, path))
	if want := "redis+sentinel://redis-node-0.redis-headless:26379,redis-node-1.redis-headless:26379,redis-node-2.redis-headless:26379/mymaster?db=2"; cfg.Redis.URL != want {
		t.Errorf("sentinel redis.url %q, want %q", cfg.Redis.URL, want)
	}
}

// The chart ships the alerts as files/alerts.yaml (a chart cannot read
// outside its directory); it must be deploy/prometheus/alerts.yaml, byte
// for byte.
func TestChartAlertsAreTheAlertsFile(t *testing.T) {
	want, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("helm/webflow-scim-bridge/files/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("helm/webflow-scim-bridge/files/alerts.yaml differs from prometheus/alerts.yaml: cp deploy/prometheus/alerts.yaml deploy/helm/webflow-scim-bridge/files/alerts.yaml")
	}
}

// Every value in values.yaml carries a comment (on the key or just above it).
func TestHelmValuesDocumented(t *testing.T) {
	raw, err := os.ReadFile("helm/webflow-scim-bridge/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// A key is documented by its own comment, or, inside a Kubernetes
	// object passed through as is (resources, probes, security contexts,
	// the secrets.env map), by its parent's.
	var walk func(n *yaml.Node, path string, parentDocumented bool)
	walk = func(n *yaml.Node, path string, parentDocumented bool) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			own := k.HeadComment != "" || k.LineComment != "" || v.LineComment != ""
			documented := own || (parentDocumented && path != "" && strings.Count(p, ".") >= 1)
			if !documented && !(v.Kind == yaml.MappingNode && hasDocumentedChild(v)) {
				t.Errorf("values.yaml: %s has no comment", p)
			}
			walk(v, p, own || parentDocumented && strings.Count(p, ".") >= 1)
		}
	}
	walk(doc.Content[0], "", false)
}

func hasDocumentedChild(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].HeadComment != "" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// The shipped configs really start a bridge: the trial stack (simulator +
// two replicas on one Redis) provisions a user through one replica and reads
// it through the other; the production config starts with dummy secrets.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func bridgeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building and running the bridge")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deploy-test-bridge")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "bridge")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/bridge")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{} // closed when the process has exited
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, env []string, args ...string) proc {
	t.Helper()
	p := proc{out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	p.cmd = exec.Command(bridgeBinary(t), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = lockedWriter{p.mu, p.out}
	p.cmd.Stderr = lockedWriter{p.mu, p.out}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%v output:\n%s", args, p.output())
		}
	})
	return p
}

func waitHTTP(t *testing.T, p proc, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("the process exited before %s answered; output:\n%s", url, p.output())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200; output:\n%s", url, p.output())
}

// writeConfig applies host-specific rewrites (each must match) and writes the file.
func writeConfig(t *testing.T, text string, rewrites ...string) string {
	t.Helper()
	for i := 0; i+1 < len(rewrites); i += 2 {
		if !strings.Contains(text, rewrites[i]) {
			t.Fatalf("config has no %q to rewrite for the local run", rewrites[i])
		}
		text = strings.ReplaceAll(text, rewrites[i], rewrites[i+1])
	}
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkHealthcheckCommand runs "bridge healthcheck" (the Docker and Compose
// healthchecks and the helm test use it) when the binary has it.
func checkHealthcheckCommand(t *testing.T, url string) {
	t.Helper()
	out, err := exec.Command(bridgeBinary(t), "healthcheck", "--url", url).CombinedOutput()
	if strings.Contains(string(out), "unknown command") {
		t.Logf("bridge has no healthcheck subcommand yet (Dockerfile, Compose and the helm test use it): %s", bytes.TrimSpace(out))
		return
	}
	if err != nil {
		t.Errorf("bridge healthcheck --url %s: %v\n%s", url, err, out)
	}
	if out, err := exec.Command(bridgeBinary(t), "healthcheck", "--url", strings.Replace(url, "/healthz", "/no-such-path", 1)).CombinedOutput(); err == nil {
		t.Errorf("bridge healthcheck on a 404 exited 0: %s", out)
	}
}

func TestTrialStackRuns(t *testing.T) {
	bridgeBinary(t)
	mr := miniredis.RunT(t)

	simAddr := freeAddr(t)
	sim := start(t, nil, "webflow-sim", "--listen", simAddr, "--seed", "webflow-sim-seed.yaml")
	waitHTTP(t, sim, "http://"+simAddr+"/_sim/state")

	raw, err := os.ReadFile("compose/bridge.trial.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for range 2 {
		addr := freeAddr(t)
		path := writeConfig(t, string(raw),
			"listen: 0.0.0.0:8080", "listen: "+addr,
			"http://webflow-sim:8090", "http://"+simAddr,
			"redis://redis:6379/0", "redis://"+mr.Addr()+"/0")
		p := start(t, nil, "serve", "--config", path)
		waitHTTP(t, p, "http://"+addr+"/healthz")
		waitHTTP(t, p, "http://"+addr+"/readyz")
		addrs = append(addrs, addr)
	}
	checkHealthcheckCommand(t, "http://"+addrs[0]+"/healthz")

	base := "/sites/580e63e98c9a982ac9b8b741/scim/v2/Users"
	do := func(method, addr, path, body string) (int, obj) {
		req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer trial-scim-token")
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m obj
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, created := do("POST", addrs[0], base,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"trial@example.com","name":{"givenName":"Tri","familyName":"Al"},"active":true}`)
	if status != 201 {
		t.Fatalf("POST /Users on bridge-1: %d %v", status, created)
	}
	id := str(created, "id")
	status, got := do("GET", addrs[1], base+"/"+id, "")
	if status != 200 || str(got, "userName") != "trial@example.com" {
		t.Fatalf("GET /Users/%s on bridge-2 (shared Redis): %d %v", id, status, got)
	}
	resp, err := http.Get("http://" + simAddr + "/_sim/invites")
	if err != nil {
		t.Fatal(err)
	}
	invites, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(invites), "trial@example.com") {
		t.Errorf("the simulator sent no invite to trial@example.com: %s", invites)
	}
}

// The production Compose config starts with the variables of .env.example
// filled in (Webflow itself is not reachable here: only liveness is checked).
func TestProductionComposeConfigStarts(t *testing.T) {
	bridgeBinary(t)
	mr := miniredis.RunT(t)
	raw, err := os.ReadFile("compose/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	path := writeConfig(t, string(raw), "listen: 0.0.0.0:8080", "listen: "+addr)
	env := []string{
		"BRIDGE_PUBLIC_URL=https://scim.example.com",
		"REDIS_URL=redis://" + mr.Addr() + "/0",
		"WEBFLOW_SITE_ID=580e63e98c9a982ac9b8b741",
		"WEBFLOW_TOKEN=dummy-webflow-token",
		"SCIM_TOKEN=dummy-scim-token-0123456789abcdef",
		"BRIDGE_ADMIN_TOKEN=dummy-admin-token-0123456789abcdef",
	}
	p := start(t, env, "serve", "--config", path)
	waitHTTP(t, p, "http://"+addr+"/healthz")
	if out := p.output(); strings.Contains(out, "is not set") {
		t.Errorf("a variable of compose/bridge.yaml is missing from the test's (and .env.example's) list:\n%s", out)
	}
}

// The chart's rendered config (everything enabled) starts a bridge with the
// environment the Deployment would give it.
func TestHelmRenderedConfigStarts(t *testing.T) {
	dir := renders(t)
	bridgeBinary(t)
	docs := readManifests(t, filepath.Join(dir, "all.yaml"))
	cm := one(t, docs, "ConfigMap", "all.yaml")
	dep := one(t, docs, "Deployment", "all.yaml")
	mr := miniredis.RunT(t)
	addr := freeAddr(t)
	adminAddr := freeAddr(t)
	path := writeConfig(t, str(cm, "data", "bridge.yaml"), `"listen": "0.0.0.0:8080"`, `"listen": "`+addr+`"`,
		`"listen": "0.0.0.0:9090"`, `"listen": "`+adminAddr+`"`)
	var env []string
	for _, e := range list(bridgeContainer(t, dep), "env") {
		name := str(e, "name")
		switch {
		case name == "REDIS_URL":
			env = append(env, name+"=redis://"+mr.Addr()+"/0")
		case get(e, "valueFrom", "secretKeyRef") != nil:
			env = append(env, name+"=dummy-"+strings.ToLower(name)+"-0123456789abcdef0123456789") // tokens of 32+ characters
		}
	}
	p := start(t, env, "serve", "--config", path)
	waitHTTP(t, p, "http://"+addr+"/healthz")
	if out := p.output(); strings.Contains(out, "is not set") {
		t.Errorf("the rendered config uses a variable the Deployment does not set:\n%s", out)
	}
	// The readiness probe (http port, no token) gets 200 and the overall
	// status only; the ServiceMonitor's port (admin) serves the metrics
	// without a token; the http port does not.
	waitHTTP(t, p, "http://"+addr+"/readyz")
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != 200 || strings.Contains(body, "580e63e98c9a982ac9b8b741") || strings.Contains(body, "token") {
		t.Errorf("/readyz on the http port without a token: %d %s, want the overall status only", code, body)
	}
	waitHTTP(t, p, "http://"+adminAddr+"/metrics")
	if code, body := httpGet(t, "http://"+adminAddr+"/readyz"); code != 200 || !strings.Contains(body, "580e63e98c9a982ac9b8b741") {
		t.Errorf("/readyz on the admin port: %d %s, want every component", code, body)
	}
	if code, _ := httpGet(t, "http://"+addr+"/metrics"); code != 401 {
		t.Errorf("/metrics on the http port without a token: %d, want 401", code)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// "bridge config check" (the bridge's own validation) accepts the shipped
// configs and masks the secrets it prints.
func TestConfigCheck(t *testing.T) {
	bin := bridgeBinary(t)
	env := []string{
		"BRIDGE_PUBLIC_URL=https://scim.example.com",
		"REDIS_URL=redis://redis:6379/0",
		"WEBFLOW_SITE_ID=580e63e98c9a982ac9b8b741",
		"WEBFLOW_TOKEN=secret-webflow-token-value",
		"SCIM_TOKEN=secret-scim-token-value-0123456789",
		"BRIDGE_ADMIN_TOKEN=secret-admin-token-value-012345678",
	}
	for _, path := range []string{"compose/bridge.yaml", "compose/bridge.trial.yaml"} {
		cmd := exec.Command(bin, "config", "check", "--config", path)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("bridge config check --config %s: %v\n%s", path, err, out)
			continue
		}
		if strings.Contains(string(out), "warning:") {
			t.Errorf("%s: warnings:\n%s", path, out)
		}
		for _, secret := range []string{"secret-webflow-token-value", "secret-scim-token-value", "secret-admin-token-value", "wf-demo-site-token"} {
			if strings.Contains(string(out), secret) {
				t.Errorf("%s: config check printed a secret unmasked:\n%s", path, out)
			}
		}
	}
}
