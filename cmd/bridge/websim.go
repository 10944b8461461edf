package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// runWebflowSim serves the Webflow simulator until ctx is cancelled. It is
// `bridge webflow-sim`: a stand-in for api.webflow.com for demos and for
// running the bridge end to end without Webflow. Its admin API has no
// authentication, so the default listen address is loopback.
func runWebflowSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webflow-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on (keep it on loopback: the admin API is unauthenticated)")
	seedPath := fs.String("seed", "", "seed file (YAML or JSON); default: the built-in demo workspace")
	usersMode := fs.String("users-mode", string(webflowsim.ModeLegacy), "legacy (Users API as last published) or removed (as Webflow answers since 2026-01-29)")
	rateLimit := fs.Int("rate-limit", 60, "default requests per minute per token (0 = unlimited); seed tokens may override")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode := webflowsim.UsersMode(*usersMode)
	if mode != webflowsim.ModeLegacy && mode != webflowsim.ModeRemoved {
		return fmt.Errorf("webflow-sim: --users-mode must be legacy or removed, not %q", *usersMode)
	}

	demo := *seedPath == ""
	seed := webflowsim.DemoSeed()
	if !demo {
		var err error
		if seed, err = webflowsim.LoadSeedFile(*seedPath); err != nil {
			return fmt.Errorf("webflow-sim: %w", err)
		}
	}
	opts := webflowsim.Options{UsersMode: mode, RateLimitPerMinute: *rateLimit}
	sim := webflowsim.New(opts)
	defer sim.Close()
	if err := sim.LoadSeed(seed); err != nil {
		return fmt.Errorf("webflow-sim: load seed: %w", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("webflow-sim: listen: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "webflow-sim listening: Data API %s/v2, native SCIM %s/scim/v2, admin %s/_sim (loopback only)\n", base, base, base)
	fmt.Fprintf(stdout, "users mode: %s; rate limit: %d/min per token (0 = unlimited)\n", mode, *rateLimit)
	labels := make([]string, 0, len(seed.Tokens))
	for _, t := range seed.Tokens {
		if demo {
			// The demo tokens are public fixtures, documented in DemoSeed.
			labels = append(labels, fmt.Sprintf("%s (token %s, sites %v)", t.Label, t.Token, t.Sites))
		} else {
			labels = append(labels, fmt.Sprintf("%s (sites %v)", t.Label, t.Sites))
		}
	}
	sort.Strings(labels)
	for _, l := range labels {
		fmt.Fprintf(stdout, "token: %s\n", l)
	}
	if demo {
		for _, t := range seed.SCIM.Tokens {
			fmt.Fprintf(stdout, "scim token: %s\n", t)
		}
	} else {
		fmt.Fprintf(stdout, "scim tokens: %d configured\n", len(seed.SCIM.Tokens))
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("webflow-sim: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("webflow-sim: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webflow-sim: serve: %w", err)
	}
	return nil
}
