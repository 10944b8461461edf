package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/state"
)

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // Okta gives up after 60 s
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// runServe is "bridge serve --config FILE".
//
// Whatever can fail at start fails before anything runs, with one line
// naming the cause: the config (one Validate, as config check), the TLS
// files, both listeners, then Redis within redisStartupWait. A bridge that
// could not bind must not live on unseen until its liveness probe kills it.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "config file (YAML; ${VAR} is expanded from the environment)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadConfigLogged(*path, stderr)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cfg.TLS.CertFile != "" {
		certs, err := newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var adminLn net.Listener
	if cfg.Admin.Listen != "" {
		if adminLn, err = listen(cfg.Admin.Listen); err != nil {
			return fmt.Errorf("admin listener: %w", err)
		}
		defer adminLn.Close()
	}
	// Cancelled when either listener stops, so that the workers stop too
	// (deferred last, it runs before waitWorkers).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := newApp(ctx, cfg, log, appOptions{Failpoint: failpointFromEnv(log)})
	if err != nil {
		return err
	}
	defer a.Close()
	waitWorkers := a.startWorkers(ctx)
	defer waitWorkers()
	defer cancel()
	srv := newHTTPServer(cfg.Listen, a.handler)
	srv.TLSConfig = tlsConfig
	shutdown := time.Duration(cfg.ShutdownTimeout)
	// The admin listener lives and dies with the main one: a bridge whose
	// scrapes cannot connect must not run on unseen.
	adminErr := make(chan error, 1)
	if adminLn == nil {
		adminErr <- nil
	} else {
		admin := newHTTPServer(cfg.Admin.Listen, a.adminHandler)
		go func() {
			adminErr <- serveOn(ctx, admin, adminLn, log, shutdown, func(addr string) {
				log.Info("admin listener: /healthz, /readyz and /metrics without a token; the status page /admin/ with an admin token", "addr", addr)
				fmt.Fprintf(stdout, "admin listening on %s\n", addr)
			})
			cancel()
		}()
	}
	err = serveOn(ctx, srv, ln, log, shutdown, func(addr string) {
		log.Info("bridge listening", "addr", addr, "public_url", cfg.PublicURL, "sites", len(cfg.Sites))
		fmt.Fprintf(stdout, "bridge listening on %s\n", addr)
	})
	cancel()
	if aerr := <-adminErr; err == nil && aerr != nil {
		err = fmt.Errorf("admin listener: %w", aerr)
	}
	return err
}

// serveOn serves srv on ln until ctx ends, then stops accepting and lets
// requests in flight finish within the shutdown timeout.
func serveOn(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, shutdown time.Duration, ready func(addr string)) error {
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new connections, finishing requests in flight", "timeout", shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// redisStartupWait bounds how long start-up waits for Redis: long enough
// for a Redis started alongside the bridge (Compose, a sidecar) to come up,
// short enough that a wrong address fails the start where it is seen.
const redisStartupWait = 5 * time.Second

// openRedis connects to Redis (state.Open), trying again every second
// until wait has passed. A URL that does not parse fails at once.
func openRedis(ctx context.Context, rawURL string, wait time.Duration) (redis.UniversalClient, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	for {
		rdb, err := state.Open(ctx, rawURL)
		if err == nil {
			return rdb, nil
		}
		if errors.Is(err, state.ErrInvalidURL) {
			return nil, err
		}
		if last == nil || ctx.Err() == nil {
			last = err // the deadline's own error says less than the last refusal
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("unreachable for %s: %w", wait, last)
		case <-time.After(time.Second):
		}
	}
}

// failpointFromEnv arms a crash point for tests of crash safety:
// BRIDGE_FAILPOINT=after-invite kills the process (SIGKILL, like kill -9)
// right after Webflow accepted an invite and before Redis recorded it.
func failpointFromEnv(log *slog.Logger) func(string) {
	want := os.Getenv("BRIDGE_FAILPOINT")
	if want == "" {
		return nil
	}
	log.Warn("failpoint armed: this process will kill itself; for crash tests only", "failpoint", want)
	return func(name string) {
		if name == want {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}
