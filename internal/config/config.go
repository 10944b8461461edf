// Package config is the bridge's YAML configuration: parsing with ${VAR}
// expansion, secret files, defaults, and the one validation that both
// `bridge serve` and `bridge config check` use.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

// Config is the bridge's YAML configuration. The keys listen, publicURL,
// redis.url, webflow.*, sites[].{id,webflowToken,scimTokens,deactivation}
// and workspace.* are a contract with docs and deployments: add keys, never
// rename these.
type Config struct {
	Listen    string          `yaml:"listen"`
	PublicURL string          `yaml:"publicURL"`
	Redis     RedisConfig     `yaml:"redis"`
	Webflow   WebflowConfig   `yaml:"webflow"`
	Sites     []SiteConfig    `yaml:"sites"`
	Workspace WorkspaceConfig `yaml:"workspace"`
	Limits    LimitsConfig    `yaml:"limits"`
	// AdminTokens guard the identity lookup (GET /identity?email=…), the
	// details of /readyz and /metrics on the main listener.
	AdminTokens     []string `yaml:"adminTokens"`
	AdminTokensFile string   `yaml:"adminTokensFile"`
	// Admin is an optional listener of its own for operators: /healthz,
	// and /readyz and /metrics in full, without a token.
	Admin struct {
		Listen string `yaml:"listen"` // host:port; empty (default): none
	} `yaml:"admin"`
	// AllowWeakTokens accepts SCIM and admin tokens shorter than
	// MinTokenLength in plain text. For demos and trials only.
	AllowWeakTokens bool `yaml:"allowWeakTokens"`
	// TLS serves HTTPS directly; the certificate is reloaded when the files
	// change. Plain HTTP behind an ingress is the default.
	TLS struct {
		CertFile string `yaml:"certFile"`
		KeyFile  string `yaml:"keyFile"`
	} `yaml:"tls"`
	Log struct {
		Format string `yaml:"format"` // text (default) | json
		Level  string `yaml:"level"`  // debug | info (default) | warn | error
		// RedactEmails masks the local part of every email in logs.
		RedactEmails bool `yaml:"redactEmails"`
	} `yaml:"logging"`
	ShutdownTimeout Duration `yaml:"shutdownTimeout"` // default 20s
	// Reconcile runs a reconciliation of every site, and of the workspace
	// roles when workspace.groups is set, periodically inside serve (0 =
	// never); one replica at a time, under a lease. With apply, the
	// workspace's is `bridge reconcile --workspace --apply`.
	Reconcile struct {
		Interval Duration `yaml:"interval"`
		Apply    bool     `yaml:"apply"`
	} `yaml:"reconcile"`
}

// RedisConfig selects the state store.
type RedisConfig struct {
	URL string `yaml:"url"` // absent or empty: embedded in-process store
	// KeyPrefix namespaces every key (default "wfb"), so several bridges
	// can share one Redis.
	KeyPrefix string `yaml:"keyPrefix"`
}

// LimitsConfig bounds what one request, or one site, may cost a replica.
type LimitsConfig struct {
	// MaxPatchOperations is the most Operations one PATCH may carry, and
	// MaxMembersPerRequest the most group members one request may name;
	// more is 400 invalidValue before anything acts on the request.
	// Default 1000 each.
	MaxPatchOperations   int `yaml:"maxPatchOperations"`
	MaxMembersPerRequest int `yaml:"maxMembersPerRequest"`
	// MaxConcurrentRequestsPerSite is how many SCIM requests one site may
	// have in progress on a replica; more are answered 429 with
	// Retry-After, so one tenant's flood cannot slow the others. Default 16.
	MaxConcurrentRequestsPerSite int `yaml:"maxConcurrentRequestsPerSite"`
}

// WebflowConfig holds upstream settings shared by every site.
type WebflowConfig struct {
	APIBaseURL         string `yaml:"apiBaseURL"`
	SCIMBaseURL        string `yaml:"scimBaseURL"`
	RateLimitPerMinute int    `yaml:"rateLimitPerMinute"`
	// MaxWait bounds how long a SCIM request waits for Webflow budget
	// before answering 429 with Retry-After (Okta gives up after 60 s).
	MaxWait Duration `yaml:"maxWait"` // default 20s
	// PendingCreateTimeout is how long the unfinished create of a bridge
	// that died (after the invite, before the record) blocks another create
	// of the same user before it is taken over with a lookup by email. A
	// create that failed ambiguously but lived marks its reservation
	// unresolved, and the next attempt takes it over at once.
	PendingCreateTimeout Duration `yaml:"pendingCreateTimeout"` // default 90s
	// MembershipSettle is how long a group membership change waits in the
	// queue before it is written, so that changes for one user close
	// together (Okta pushes one PATCH per group; a PATCH of the user
	// itself) cost one Webflow PATCH, not one each. Default 1s; set 1ms to
	// write at once.
	MembershipSettle Duration `yaml:"membershipSettle"`
	// MaxRetryAfter caps the pause a 429's Retry-After imposes on the
	// token (on every replica) and on the IdP. Webflow documents "typically
	// 60" seconds; a longer value is logged and cut to this. Default 5m.
	MaxRetryAfter Duration `yaml:"maxRetryAfter"`
}

// SiteConfig is one Webflow site served at /sites/{id}/scim/v2/.
type SiteConfig struct {
	ID               string   `yaml:"id"`
	WebflowToken     string   `yaml:"webflowToken"`
	WebflowTokenFile string   `yaml:"webflowTokenFile"` // read the token from a file (a mounted secret)
	SCIMTokens       []string `yaml:"scimTokens"`
	SCIMTokensFile   string   `yaml:"scimTokensFile"` // one token per line
	Deactivation     string   `yaml:"deactivation"`   // remove-access (default) | delete
	OnExistingUser   string   `yaml:"onExistingUser"` // link (default) | conflict
	EmailChange      string   `yaml:"emailChange"`    // reject (default) | reinvite
	RefreshAge       Duration `yaml:"refreshAge"`     // default 5m
	CustomFields     []string `yaml:"customFields"`
	// RateLimitPerMinute overrides webflow.rateLimitPerMinute for this
	// site's token. Sites sharing a token share one budget.
	RateLimitPerMinute int `yaml:"rateLimitPerMinute"`
	// GroupMappings maps an IdP group name to an existing access-group slug.
	GroupMappings       map[string]string `yaml:"groupMappings"`
	OnGroupDelete       string            `yaml:"onGroupDelete"`       // unlink (default) | remove-members
	AccessGroupsRefresh Duration          `yaml:"accessGroupsRefresh"` // default 10m
	// WebhookSecret is the OAuth app's client secret, for webhooks an OAuth
	// app registered (Webflow signs those with it). Webhooks registered
	// with `bridge webhooks register` (site token) have their own
	// secretKeys, kept in Redis; this is then not needed.
	WebhookSecret     string `yaml:"webhookSecret"`
	WebhookSecretFile string `yaml:"webhookSecretFile"`
}

// WorkspaceConfig is the collaborator surface at /workspace/scim/v2/: a
// passthrough to Webflow's native SCIM, and (issue 15) Workspace roles and
// site access from IdP groups through the Workspace Members and Site
// Access APIs. The keys id, membersToken, defaultRole.{workspace,site},
// groups["<name>"].{workspace,site,sites,siteRoleId} and mode are a
// contract (issue 15's example): add keys, never rename these.
type WorkspaceConfig struct {
	WebflowSCIMToken     string   `yaml:"webflowSCIMToken"`
	WebflowSCIMTokenFile string   `yaml:"webflowSCIMTokenFile"`
	SCIMTokens           []string `yaml:"scimTokens"`
	SCIMTokensFile       string   `yaml:"scimTokensFile"`
	RateLimitPerMinute   int      `yaml:"rateLimitPerMinute"` // the SCIM token's own budget; default webflow.rateLimitPerMinute
	Cascade              struct {
		Sites  []string `yaml:"sites"`
		On     []string `yaml:"on"` // delete, deactivate
		DryRun bool     `yaml:"dryRun"`
	} `yaml:"cascade"`
	// Mode is where workspace users go: passthrough (the default) relays
	// /Users to Webflow's native SCIM; members serves them from the
	// Workspace Members API (invites), so webflowSCIMToken is not needed.
	Mode string `yaml:"mode"`
	// ID is the workspace id (GET /v2/workspaces lists it), for the
	// Workspace Members and Site Access APIs at webflow.apiBaseURL.
	ID string `yaml:"id"`
	// MembersToken is a workspace token with workspace_members:read/write
	// and site_access:read/write.
	MembersToken     string `yaml:"membersToken"`
	MembersTokenFile string `yaml:"membersTokenFile"`
	// DefaultRole is the role of a user in no group that sets a Workspace
	// role. Default, when groups or mode: members use it: reviewer with
	// reviewer (the least role, a free seat).
	DefaultRole WorkspaceRoleConfig `yaml:"defaultRole"`
	// Groups maps an IdP group name (matched case-insensitively) to the
	// roles its members get; several groups give the highest of each.
	Groups map[string]WorkspaceRoleConfig `yaml:"groups"`
	// SiteRoleOrder ranks the Site roles, highest first, when a user's
	// groups give several: every built-in writable role once, and each
	// custom role as "custom:<id>" where it ranks. Default site_manager,
	// designer, marketer, content_editor, reviewer; a config that uses a
	// custom role must place it.
	SiteRoleOrder []string `yaml:"siteRoleOrder"`
	// OpenSites lists the site ids (among those named under groups[…].sites
	// or defaultRole.sites) that are open to the whole workspace. Webflow's
	// API cannot tell an open site from a restricted one, so the config
	// says: on an open site the bridge never grants or revokes Site Access
	// (members have it implicitly at their default Site role); it only
	// sets per-site roles with PATCH. Any other site is taken as
	// restricted.
	OpenSites []string `yaml:"openSites"`
}

// WorkspaceRoleConfig is one role entry: workspace.defaultRole, or a group
// under workspace.groups.
type WorkspaceRoleConfig struct {
	// Workspace is admin, member or reviewer. A group may leave it out and
	// give per-site access only.
	Workspace string `yaml:"workspace"`
	// Site is the default Site role, paired with Workspace as Webflow
	// allows (admin: site_manager; member: site_manager, designer,
	// marketer, content_editor or custom; reviewer: reviewer). It may be
	// left out with admin and reviewer.
	Site string `yaml:"site"`
	// Sites gives a Site role on named sites (site id -> role).
	Sites map[string]string `yaml:"sites"`
	// SiteRoleID is the custom Site Role that "custom" in site and sites
	// means ("custom:<id>" in sites names another).
	SiteRoleID string `yaml:"siteRoleId"`
}

// RolesUsed reports whether the group engine is configured: groups, or
// mode: members (whose invites need a role).
func (w WorkspaceConfig) RolesUsed() bool { return len(w.Groups) > 0 || w.Mode == "members" }

// RoleSpec is the role configuration for workspaceroles.NewMapping.
func (w WorkspaceConfig) RoleSpec() workspaceroles.Spec {
	conv := func(r WorkspaceRoleConfig) workspaceroles.RoleSpec {
		return workspaceroles.RoleSpec{Workspace: r.Workspace, Site: r.Site, SiteRoleID: r.SiteRoleID, Sites: r.Sites}
	}
	s := workspaceroles.Spec{DefaultRole: conv(w.DefaultRole), SiteRoleOrder: w.SiteRoleOrder, OpenSites: w.OpenSites}
	if len(w.Groups) > 0 {
		s.Groups = make(map[string]workspaceroles.RoleSpec, len(w.Groups))
		for name, r := range w.Groups {
			s.Groups[name] = conv(r)
		}
	}
	return s
}

// Enabled reports whether the workspace surface is configured.
func (w WorkspaceConfig) Enabled() bool { return len(w.SCIMTokens) > 0 }

// Duration is a time.Duration written as "5m", "20s".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} with the environment's value. Only the braced
// form is expanded, so a literal "$" in a token survives. It returns the
// names of variables that were unset.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	var unset []string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := lookup(name)
		if !ok {
			unset = append(unset, name)
		}
		return v
	})
	return out, unset
}

// Load reads, expands and validates a config file.
func Load(path string) (*Config, []string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(raw, os.LookupEnv)
}

// Parse parses YAML config text; warnings name unset variables.
//
// ${VAR} is expanded inside YAML values only, after parsing: a placeholder
// in a comment is ignored, and a secret containing "#" or ": " cannot
// change the document's structure.
func Parse(raw []byte, lookup func(string) (string, bool)) (*Config, []string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("parsing config: %w", err)
	}
	var unset []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			v, u := expandEnv(n.Value, lookup)
			n.Value, unset = v, append(unset, u...)
			// Let the value resolve as if written in place (so ${RATE}
			// can fill a number); the encoder quotes what needs quoting.
			n.Tag, n.Style = "", 0
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	var warnings []string
	for _, u := range unset {
		warnings = append(warnings, "environment variable "+u+" is not set")
	}
	if errs := checkShape(&doc); len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	text, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, warnings, fmt.Errorf("parsing config: %w", err)
	}
	if len(doc.Content) == 0 {
		text = nil
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, warnings, fmt.Errorf("parsing config: %w", err)
	}
	if err := c.readSecretFiles(); err != nil {
		return nil, warnings, err
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, warnings, err
	}
	return &c, warnings, nil
}

// readSecretFiles fills each secret from its …File variant (Kubernetes
// mounts secrets as files). A file and an inline value together are an
// error: which one wins would be a guess.
func (c *Config) readSecretFiles() error {
	one := func(key, file string, dst *string) error {
		if file == "" {
			return nil
		}
		if *dst != "" {
			return fmt.Errorf("config: %s and %sFile are both set; use one", key, key)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("config: %sFile: %w", key, err)
		}
		*dst = strings.TrimSpace(string(b))
		return nil
	}
	list := func(key, file string, dst *[]string) error {
		if file == "" {
			return nil
		}
		if len(*dst) > 0 {
			return fmt.Errorf("config: %s and %sFile are both set; use one", key, key)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("config: %sFile: %w", key, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				*dst = append(*dst, line)
			}
		}
		return nil
	}
	var errs []error
	for i := range c.Sites {
		s := &c.Sites[i]
		errs = append(errs, one(fmt.Sprintf("sites[%d].webflowToken", i), s.WebflowTokenFile, &s.WebflowToken),
			list(fmt.Sprintf("sites[%d].scimTokens", i), s.SCIMTokensFile, &s.SCIMTokens),
			one(fmt.Sprintf("sites[%d].webhookSecret", i), s.WebhookSecretFile, &s.WebhookSecret))
	}
	errs = append(errs, one("workspace.webflowSCIMToken", c.Workspace.WebflowSCIMTokenFile, &c.Workspace.WebflowSCIMToken),
		one("workspace.membersToken", c.Workspace.MembersTokenFile, &c.Workspace.MembersToken),
		list("workspace.scimTokens", c.Workspace.SCIMTokensFile, &c.Workspace.SCIMTokens),
		list("adminTokens", c.AdminTokensFile, &c.AdminTokens))
	return errors.Join(errs...)
}

func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Webflow.APIBaseURL == "" {
		c.Webflow.APIBaseURL = "https://api.webflow.com/v2"
	}
	if c.Webflow.SCIMBaseURL == "" {
		c.Webflow.SCIMBaseURL = "https://api.webflow.com/scim/v2"
	}
	if c.Webflow.RateLimitPerMinute == 0 {
		c.Webflow.RateLimitPerMinute = 60
	}
	if c.Webflow.MaxWait == 0 {
		c.Webflow.MaxWait = Duration(20 * time.Second)
	}
	if c.Webflow.MembershipSettle == 0 {
		c.Webflow.MembershipSettle = Duration(time.Second)
	}
	if c.Limits.MaxPatchOperations == 0 {
		c.Limits.MaxPatchOperations = 1000
	}
	if c.Limits.MaxMembersPerRequest == 0 {
		c.Limits.MaxMembersPerRequest = 1000
	}
	if c.Limits.MaxConcurrentRequestsPerSite == 0 {
		c.Limits.MaxConcurrentRequestsPerSite = 16
	}
	if c.Webflow.MaxRetryAfter == 0 {
		c.Webflow.MaxRetryAfter = Duration(5 * time.Minute)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(20 * time.Second)
	}
	if c.Workspace.Mode == "" {
		c.Workspace.Mode = "passthrough"
	}
	if c.Workspace.RolesUsed() && c.Workspace.DefaultRole.Workspace == "" && c.Workspace.DefaultRole.Site == "" &&
		c.Workspace.DefaultRole.SiteRoleID == "" && len(c.Workspace.DefaultRole.Sites) == 0 {
		d := workspaceroles.DefaultRole()
		c.Workspace.DefaultRole = WorkspaceRoleConfig{Workspace: string(d.Workspace), Site: d.Site.String()}
	}
}

// MinTokenLength is the shortest SCIM or admin token accepted in plain
// text (without allowWeakTokens): 32 random characters are beyond guessing,
// even at the rate authguard lets a client fail.
const MinTokenLength = 32

func (c *Config) Validate() error {
	var errs []error
	weak := func(key string, tokens []string) {
		if c.AllowWeakTokens {
			return
		}
		for j, t := range tokens {
			t = strings.TrimSpace(t)
			if t == "" || strings.HasPrefix(t, "sha256:") {
				continue // empty is refused elsewhere; a digest's strength is unknown
			}
			if n := utf8.RuneCountInString(t); n < MinTokenLength {
				errs = append(errs, fmt.Errorf("config: %s[%d] has %d characters, fewer than %d: use a random token (e.g. openssl rand -hex 32) or give its sha256: digest; allowWeakTokens: true accepts it (demos only)", key, j, n, MinTokenLength))
			}
		}
	}
	if len(c.Sites) == 0 && len(c.Workspace.SCIMTokens) == 0 {
		errs = append(errs, errors.New("config: no sites and no workspace configured"))
	}
	if c.Webflow.RateLimitPerMinute < 0 {
		errs = append(errs, errors.New("config: webflow.rateLimitPerMinute must be positive"))
	}
	if c.Webflow.MembershipSettle < 0 || c.Webflow.MembershipSettle > Duration(time.Minute) {
		errs = append(errs, errors.New("config: webflow.membershipSettle must be from 1ms to 1m"))
	}
	if n := c.Limits.MaxPatchOperations; n < 1 || n > 100000 {
		errs = append(errs, errors.New("config: limits.maxPatchOperations must be from 1 to 100000"))
	}
	if n := c.Limits.MaxMembersPerRequest; n < 1 || n > 100000 {
		errs = append(errs, errors.New("config: limits.maxMembersPerRequest must be from 1 to 100000"))
	}
	if n := c.Limits.MaxConcurrentRequestsPerSite; n < 1 || n > 10000 {
		errs = append(errs, errors.New("config: limits.maxConcurrentRequestsPerSite must be from 1 to 10000"))
	}
	if c.Webflow.MaxRetryAfter < Duration(time.Second) || c.Webflow.MaxRetryAfter > Duration(time.Hour) {
		errs = append(errs, errors.New("config: webflow.maxRetryAfter must be from 1s to 1h"))
	}
	for _, u := range []struct{ key, value, example string }{
		{"publicURL", c.PublicURL, "https://scim.example.com"},
		{"webflow.apiBaseURL", c.Webflow.APIBaseURL, "https://api.webflow.com/v2"},
		{"webflow.scimBaseURL", c.Webflow.SCIMBaseURL, "https://api.webflow.com/scim/v2"},
	} {
		if err := absoluteHTTPURL(u.value); err != nil {
			errs = append(errs, fmt.Errorf("config: %s %q %v (e.g. %s)", u.key, u.value, err, u.example))
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("config: listen %q must be host:port (e.g. 0.0.0.0:8080)", c.Listen))
	}
	if c.Redis.URL != "" {
		if err := state.ValidateURL(c.Redis.URL); err != nil {
			errs = append(errs, fmt.Errorf("config: redis.url: %w", err)) // never the URL: it may hold a password
		}
	}
	if err := (state.Options{Prefix: c.Redis.KeyPrefix}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config: redis.keyPrefix: %w", err))
	}
	for _, f := range []struct{ key, path string }{{"tls.certFile", c.TLS.CertFile}, {"tls.keyFile", c.TLS.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("config: %s %s does not exist", f.key, f.path))
		} else if err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %w", f.key, err))
		}
	}
	seen := map[string]bool{}
	for i, s := range c.Sites {
		where := fmt.Sprintf("config: sites[%d]", i)
		if s.ID == "" {
			errs = append(errs, errors.New(where+".id is required"))
		}
		// The policies and the id as the SCIM server checks them: one
		// answer for config check and serve.
		if err := s.scim().Validate(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s.%w", where, e))
			}
		}
		if seen[s.ID] {
			errs = append(errs, fmt.Errorf("%s: site %s is listed twice", where, s.ID))
		}
		if c.Workspace.Mode == "members" && c.Workspace.ID != "" && s.ID == state.WorkspaceKeyspace(c.Workspace.ID) {
			errs = append(errs, fmt.Errorf("%s.id %q is where workspace.mode: members keeps the workspace's users; no Webflow site has such an id", where, s.ID))
		}
		seen[s.ID] = true
		if strings.TrimSpace(s.WebflowToken) == "" {
			errs = append(errs, errors.New(where+".webflowToken is empty"))
		}
		if len(s.SCIMTokens) == 0 {
			errs = append(errs, errors.New(where+".scimTokens needs at least one token"))
		}
		for j, t := range s.SCIMTokens {
			if strings.TrimSpace(t) == "" {
				errs = append(errs, fmt.Errorf("%s.scimTokens[%d] is empty", where, j))
			}
		}
		weak(fmt.Sprintf("sites[%d].scimTokens", i), s.SCIMTokens)
	}
	weak("workspace.scimTokens", c.Workspace.SCIMTokens)
	weak("adminTokens", c.AdminTokens)
	if c.Admin.Listen != "" {
		_, port, err := net.SplitHostPort(c.Admin.Listen)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("config: admin.listen %q must be host:port (e.g. 0.0.0.0:9090)", c.Admin.Listen))
		} else if _, lport, err := net.SplitHostPort(c.Listen); err == nil && n != 0 && lport == port {
			errs = append(errs, fmt.Errorf("config: admin.listen %q uses the port of listen %q; the admin listener needs a port of its own", c.Admin.Listen, c.Listen))
		}
	}
	errs = append(errs, c.Workspace.validate()...)
	for _, on := range c.Workspace.Cascade.On {
		if on != "delete" && on != "deactivate" {
			errs = append(errs, fmt.Errorf("config: workspace.cascade.on: %q must be delete or deactivate", on))
		}
	}
	for _, sid := range c.Workspace.Cascade.Sites {
		if !seen[sid] {
			errs = append(errs, fmt.Errorf("config: workspace.cascade.sites: %s is not one of the configured sites", sid))
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("config: tls.certFile and tls.keyFile go together"))
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("config: logging.format %q must be text or json", c.Log.Format))
	}
	return errors.Join(errs...)
}

// scim is the site as the SCIM server takes it, without its Webflow
// client: what SiteConfig.Validate checks.
func (s SiteConfig) scim() scimserver.SiteConfig {
	return scimserver.SiteConfig{
		ID: s.ID, SCIMTokens: s.SCIMTokens, Deactivation: s.Deactivation, OnExistingUser: s.OnExistingUser,
		EmailChange: s.EmailChange, RefreshAge: time.Duration(s.RefreshAge), CustomFields: s.CustomFields,
		GroupMappings: s.GroupMappings, OnGroupDelete: s.OnGroupDelete, AccessGroupsRefresh: time.Duration(s.AccessGroupsRefresh),
	}
}

// unjoin lists the errors of an errors.Join, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// absoluteHTTPURL reports why s is not an absolute http(s) URL with a host.
func absoluteHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	return nil
}

// validate checks the workspace block; errors name the key.
func (w WorkspaceConfig) validate() []error {
	var errs []error
	members := w.Mode == "members"
	switch w.Mode {
	case "", "passthrough", "members":
	default:
		errs = append(errs, fmt.Errorf("config: workspace.mode %q must be passthrough or members", w.Mode))
	}
	if w.Enabled() && !members && strings.TrimSpace(w.WebflowSCIMToken) == "" {
		errs = append(errs, errors.New("config: workspace.scimTokens is set but workspace.webflowSCIMToken is empty"))
	}
	if w.ID != "" && !workspaceroles.IsObjectID(w.ID) {
		errs = append(errs, fmt.Errorf("config: workspace.id %q is not a workspace id (24 lower-case hex digits, from GET /v2/workspaces; not the slug)", w.ID))
	}
	// Both modes write roles through the Workspace Members and Site Access
	// APIs; the IdP reaches them through /workspace/scim/v2/.
	need := ""
	switch {
	case members:
		need = "workspace.mode: members"
	case len(w.Groups) > 0:
		need = "workspace.groups"
	}
	if need != "" {
		if w.ID == "" {
			errs = append(errs, fmt.Errorf("config: %s needs workspace.id", need))
		}
		if strings.TrimSpace(w.MembersToken) == "" {
			errs = append(errs, fmt.Errorf("config: %s needs workspace.membersToken (workspace_members:read/write, site_access:read/write)", need))
		}
		if !w.Enabled() {
			errs = append(errs, fmt.Errorf("config: %s needs workspace.scimTokens, for the IdP to reach /workspace/scim/v2/", need))
		}
	} else {
		// Set but unused would look like it acts.
		if w.DefaultRole.Workspace != "" || w.DefaultRole.Site != "" || w.DefaultRole.SiteRoleID != "" || len(w.DefaultRole.Sites) > 0 {
			errs = append(errs, errors.New("config: workspace.defaultRole is set, but neither workspace.groups nor workspace.mode: members uses it"))
		}
		if len(w.SiteRoleOrder) > 0 {
			errs = append(errs, errors.New("config: workspace.siteRoleOrder is set, but neither workspace.groups nor workspace.mode: members uses it"))
		}
	}
	if _, err := workspaceroles.NewMapping(w.RoleSpec()); err != nil {
		var kes workspaceroles.KeyErrors
		if errors.As(err, &kes) {
			for _, e := range kes {
				errs = append(errs, fmt.Errorf("config: workspace.%w", e))
			}
		} else {
			errs = append(errs, fmt.Errorf("config: workspace: %w", err))
		}
	}
	return errs
}

const masked = "********"

// Masked returns the effective config with every secret replaced, for
// `bridge config check`.
func (c Config) Masked() Config {
	m := c
	m.Sites = make([]SiteConfig, len(c.Sites))
	for i, s := range c.Sites {
		s.WebflowToken = maskOne(s.WebflowToken)
		s.SCIMTokens = maskList(s.SCIMTokens)
		s.WebhookSecret = maskOne(s.WebhookSecret)
		m.Sites[i] = s
	}
	m.Workspace.WebflowSCIMToken = maskOne(c.Workspace.WebflowSCIMToken)
	m.Workspace.SCIMTokens = maskList(c.Workspace.SCIMTokens)
	m.Workspace.MembersToken = maskOne(c.Workspace.MembersToken)
	m.AdminTokens = maskList(c.AdminTokens)
	m.Redis.URL = maskRedisURL(c.Redis.URL)
	return m
}

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// maskRedisURL hides the password of a Redis URL. A URL that does not
// parse keeps only its scheme: where its password is cannot be known.
func maskRedisURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if scheme := urlScheme.FindString(s); scheme != "" {
			return scheme + masked
		}
		return maskOne(s)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

func maskOne(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

func maskList(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		if strings.HasPrefix(s, "sha256:") {
			out[i] = s // a digest is not a secret
		} else {
			out[i] = maskOne(s)
		}
	}
	return out
}

// MarshalYAML prints durations as "20s", not nanoseconds.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
