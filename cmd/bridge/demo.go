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

	cfg := &config.Config{Listen: *listenAddr}
	cfg.Log.Format = *logFormat
	cfg.Webflow.APIBaseURL = simURL + "/v2"
	cfg.Webflow.SCIMBaseURL = simURL + "/scim/v2"
	cfg.Sites = []config.SiteConfig{{ID: webflowsim.DemoSiteID, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{*token}}}
	cfg.Workspace.WebflowSCIMToken = webflowsim.DemoSCIMToken
	cfg.Workspace.SCIMTokens = []string{DemoWorkspaceToken}
	cfg.Workspace.Cascade.Sites = []string{webflowsim.DemoSiteID}
	cfg.Workspace.Cascade.On = []string{"delete", "deactivate"}
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
  Simulator     : %s  (Data API at /v2, admin at /_sim: try %s/_sim/invites)

Create a user:

  curl -sS -X POST %s/Users \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"active":true}'

Press Ctrl-C to stop.
`, base, *token, addr, DemoWorkspaceToken, DemoAdminToken, addr, simURL, simURL, base, *token)
	})
}
