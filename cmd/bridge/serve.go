package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
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
	if cfg.TLS.CertFile != "" {
		certs, err := newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	shutdown := time.Duration(cfg.ShutdownTimeout)
	// The admin listener lives and dies with the main one: a bridge whose
	// scrapes cannot connect must not run on unseen.
	adminErr := make(chan error, 1)
	if cfg.Admin.Listen == "" {
		adminErr <- nil
	} else {
		admin := newHTTPServer(cfg.Admin.Listen, a.adminHandler)
		go func() {
			adminErr <- serveHTTP(ctx, admin, log, shutdown, func(addr string) {
				log.Info("admin listener: /healthz, /readyz and /metrics without a token", "addr", addr)
				fmt.Fprintf(stdout, "admin listening on %s\n", addr)
			})
			cancel()
		}()
	}
	err = serveHTTP(ctx, srv, log, shutdown, func(addr string) {
		log.Info("bridge listening", "addr", addr, "public_url", cfg.PublicURL, "sites", len(cfg.Sites))
		fmt.Fprintf(stdout, "bridge listening on %s\n", addr)
	})
	cancel()
	if aerr := <-adminErr; err == nil && aerr != nil {
		err = fmt.Errorf("admin listener: %w", aerr)
	}
	return err
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
