package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// DemoSCIMToken is the bearer token `bridge demo` accepts unless --token is
// given. It is a public fixture: the demo listens on loopback only.
const DemoSCIMToken = "demo-scim-token"

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
	if err := fs.Parse(args); err != nil {
		return err
	}

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

	cfg := &Config{Listen: *listenAddr}
	cfg.Log.Format = *logFormat
	cfg.Webflow.APIBaseURL = simURL + "/v2"
	cfg.Webflow.SCIMBaseURL = simURL + "/scim/v2"
	cfg.Sites = []SiteConfig{{ID: webflowsim.DemoSiteID, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{*token}}}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := newApp(ctx, cfg, log, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	a.startWorkers(ctx)

	srv := newHTTPServer(cfg.Listen, a.handler)
	return serveHTTP(ctx, srv, log, 5*time.Second, func(addr string) {
		base := "http://" + addr + "/sites/" + webflowsim.DemoSiteID + "/scim/v2"
		fmt.Fprintf(stdout, `Webflow SCIM bridge demo (embedded store, simulated Webflow in legacy mode)

  SCIM base URL : %s
  Bearer token  : %s
  Simulator     : %s  (Data API at /v2, admin at /_sim: try %s/_sim/invites)

Create a user:

  curl -sS -X POST %s/Users \
    -H 'Authorization: Bearer %s' -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"active":true}'

Press Ctrl-C to stop.
`, base, *token, simURL, simURL, base, *token)
	})
}
