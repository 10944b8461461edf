package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// DemoSCIMToken is the bearer token `bridge demo` accepts unless --token is
// given. It is a public fixture: the demo listens on loopback only.
const DemoSCIMToken = "demo-scim-token"

// Demo tokens for the workspace surface and the identity lookup; public
// fixtures like DemoSCIMToken.
const (
	DemoWorkspaceToken = "demo-workspace-token"
	DemoAdminToken     = "demo-admin-token"
)

// runDemo is "bridge demo": the bridge on the embedded store, in front of
// an in-process Webflow simulator (legacy mode) with a demo site.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listenAddr := fs.String("listen", "127.0.0.1:8080", "address for the bridge")
	simAddr := fs.String("sim-listen", "127.0.0.1:0", "address for the Webflow simulator")
	token := fs.String("token", DemoSCIMToken, "SCIM bearer token the demo site accepts")
	rate := fs.Int("rate-limit", 120, "simulated Webflow requests per minute per token (0 = unlimited)")
	logFormat := fs.String("log-format", "text", "text or json")
	readyFile := fs.String("ready-file", "", "write the demo's addresses and tokens as JSON to this file once it serves (for scripts and tests)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// The bridge's address first: a busy port ends the demo at once, with
	// its cause, before anything else starts.
	ln, err := listen(*listenAddr)
	if err != nil {
		return err
	}
	defer ln.Close()

	sim := webflowsim.New(webflowsim.Options{UsersMode: webflowsim.ModeLegacy, RateLimitPerMinute: *rate})
	defer sim.Close()
	if err := sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		return fmt.Errorf("demo seed: %w", err)
	}
	sim.SetRateLimit(*rate)
	simLn, err := net.Listen("tcp", *simAddr)
	if err != nil {
		return fmt.Errorf("simulator listen: %w", err)
	}
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	simURL := "http://" + simLn.Addr().String()

	// The address bound, not the flag: with --listen 127.0.0.1:0 the
	// answers' locations (meta.location, $ref) name the real port.
	cfg := &config.Config{Listen: ln.Addr().String()}
	cfg.Log.Format = *logFormat
	cfg.Webflow.APIBaseURL = simURL + "/v2"
	cfg.Webflow.SCIMBaseURL = simURL + "/scim/v2"
	cfg.Sites = []config.SiteConfig{{ID: webflowsim.DemoSiteID, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{*token}}}
	cfg.Workspace.WebflowSCIMToken = webflowsim.DemoSCIMToken
	cfg.Workspace.SCIMTokens = []string{DemoWorkspaceToken}
	cfg.Workspace.Cascade.Sites = []string{webflowsim.DemoSiteID}
	cfg.Workspace.Cascade.On = []string{"delete", "deactivate"}
	// Workspace roles from IdP groups (issue 15) on the simulator's demo
	// workspace, so that the banner's group push shows a role change.
	cfg.Workspace.ID = webflowsim.DemoWorkspaceID
	cfg.Workspace.MembersToken = webflowsim.DemoWorkspaceToken
	cfg.Workspace.Groups = demoWorkspaceGroups()
	cfg.AdminTokens = []string{DemoAdminToken}
	// The demo's tokens are public fixtures, short to type, on loopback.
	cfg.AllowWeakTokens = true
	cfg.Webflow.RateLimitPerMinute = *rate
	if *rate <= 0 {
		cfg.Webflow.RateLimitPerMinute = 1_000_000
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Cancelled on any return, so that the workers stop with the listener.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := newApp(ctx, cfg, log, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	waitWorkers := a.startWorkers(ctx)
	defer waitWorkers()
	defer cancel()

	srv := newHTTPServer(cfg.Listen, a.handler)
	return serveOn(ctx, srv, ln, log, 5*time.Second, func(addr string) {
		base := "http://" + addr + "/sites/" + webflowsim.DemoSiteID + "/scim/v2"
		if *readyFile != "" {
			info, _ := json.Marshal(map[string]string{
				"bridge": "http://" + addr, "scimBase": base, "scimToken": *token, "siteId": webflowsim.DemoSiteID,
				"workspaceBase": "http://" + addr + workspacePrefix, "workspaceToken": DemoWorkspaceToken,
				"adminToken": DemoAdminToken, "simulator": simURL,
			})
			if err := os.WriteFile(*readyFile, info, 0o600); err != nil {
				log.Error("writing the ready file", "error", err)
			}
		}
		fmt.Fprintf(stdout, `Webflow SCIM bridge demo (embedded store, simulated Webflow in legacy mode)

  SCIM base URL : %s
  Bearer token  : %s
  Workspace     : http://%s/workspace/scim/v2  (token %s; passthrough to the simulated native SCIM,
                  deprovisioning a collaborator cascades to the demo site's Membership user)
  Identity      : curl -H 'Authorization: Bearer %s' 'http://%s/identity?email=jane@example.com'
  Workspace roles: IdP groups "Webflow Admins" (admin), "Marketing" (member, marketer on the demo site)
                  and "Agency reviewers" (reviewer), pushed to http://%s/workspace/scim/v2/Groups
  Simulator     : %s  (Data API at /v2, admin at /_sim: try %s/_sim/invites)

Create a user:

  curl -sS -X POST %s/Users \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"active":true}'

Make someone a Marketer on the demo site with a group push (Webflow locks the
roles of members its native SCIM created, workspace_member_managed_by_scim; the
demo lifts that lock at the simulator in step 2 — a demo choice, not Webflow's
behaviour):

%s
Press Ctrl-C to stop.
`, base, *token, addr, DemoWorkspaceToken, DemoAdminToken, addr, addr, simURL, simURL, base, *token,
			renderDemoSession(demoWorkspaceSession("http://"+addr, simURL)))
	})
}

// demoWorkspaceGroups are the demo's workspace.groups, on the simulator's
// demo workspace and site.
func demoWorkspaceGroups() map[string]config.WorkspaceRoleConfig {
	return map[string]config.WorkspaceRoleConfig{
		"Webflow Admins":   {Workspace: "admin"},
		"Marketing":        {Workspace: "member", Site: "marketer", Sites: map[string]string{webflowsim.DemoSiteID: "marketer"}},
		"Agency reviewers": {Workspace: "reviewer"},
	}
}

// demoEmail is the collaborator the banner's session creates.
const demoEmail = "maya.marketer@example.com"

// demoStep is one HTTP call of the banner's workspace session; the demo
// test runs the same steps, so the printed session is the tested one.
type demoStep struct {
	Title  string
	Method string
	URL    string
	Token  string // bearer token, "" for the simulator's admin API
	Body   string // "$ID" stands for the id captured by an earlier step
	// CaptureID stores the response's "id" as $ID.
	CaptureID bool
}

// demoWorkspaceSession is the banner's curl session: create a collaborator
// through the workspace passthrough, lift the simulator's SCIM lock on it,
// push a "Marketing" group with it as member, and read its role at the
// simulator's Site Access API.
func demoWorkspaceSession(bridge, sim string) []demoStep {
	ws := bridge + workspacePrefix
	return []demoStep{
		{Title: "1. create a collaborator (native SCIM through the bridge); keep its id",
			Method: http.MethodPost, URL: ws + "/Users", Token: DemoWorkspaceToken, CaptureID: true,
			Body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + demoEmail + `","name":{"givenName":"Maya","familyName":"Marketer"},"emails":[{"primary":true,"value":"` + demoEmail + `","type":"work"}],"active":true}`},
		{Title: "2. demo only: lift the SCIM lock the simulator, like Webflow, puts on that member",
			Method: http.MethodPut, URL: sim + "/_sim/workspace/members/" + demoEmail + "/scim-lock", Body: `{"locked":false}`},
		{Title: "3. push the \"Marketing\" group with the collaborator as member (as Okta's Group Push does)",
			Method: http.MethodPost, URL: ws + "/Groups", Token: DemoWorkspaceToken,
			Body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Marketing","members":[{"value":"$ID"}]}`},
		{Title: "4. a second later: the role at Webflow (roles.workspace member, roles.site marketer)",
			Method: http.MethodGet, URL: sim + "/v2/sites/" + webflowsim.DemoSiteID + "/members?email=" + demoEmail, Token: webflowsim.DemoWorkspaceToken},
	}
}

// renderDemoSession prints the steps as a shell session.
func renderDemoSession(steps []demoStep) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "  # %s\n  ", s.Title)
		if s.CaptureID {
			b.WriteString("ID=$(")
		}
		fmt.Fprintf(&b, "curl -sS -X %s '%s'", s.Method, s.URL)
		if s.Token != "" {
			fmt.Fprintf(&b, " \\\n    -H 'Authorization: Bearer %s'", s.Token)
		}
		if s.Body != "" {
			ct := "application/json"
			if s.Token != "" {
				ct = "application/scim+json"
			}
			body := strings.ReplaceAll(s.Body, "$ID", `'"$ID"'`)
			fmt.Fprintf(&b, " -H 'Content-Type: %s' \\\n    -d '%s'", ct, body)
		}
		if s.CaptureID {
			b.WriteString(` | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)`)
		}
		b.WriteString("\n\n")
	}
	return b.String()
}
