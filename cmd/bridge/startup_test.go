package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startupSite is a site block that validates; the Webflow URL answers
// nothing, so no case below can reach a real Webflow.
const startupSite = `webflow:
  apiBaseURL: http://127.0.0.1:1/v2
sites:
  - id: ` + testSite + `
    webflowToken: wf-token
    scimTokens: [` + testToken + `]
`

// busyPort holds a port for the test's duration and returns its address.
func busyPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// blackHole accepts connections and never answers: a Redis that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String()
}

// Issue 17 §1: every start-up failure ends the command at once with an
// error of one line naming its cause, instead of a process that lives on,
// listening on nothing, until a signal arrives.
func TestStartupFailuresExitAtOnce(t *testing.T) {
	closed := busyPort(t) // held below; a second port is closed for "refused"
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	hole := blackHole(t)
	cases := []struct {
		name   string
		cmd    string
		config string // for serve; args are --config FILE
		args   []string
		within time.Duration
		cause  string
	}{
		{name: "demo --listen on a busy port", cmd: "demo", args: []string{"--listen", closed},
			within: 2 * time.Second, cause: "address already in use"},
		{name: "serve: listen on a busy port", cmd: "serve", config: "listen: " + closed + "\n" + startupSite,
			within: 2 * time.Second, cause: "address already in use"},
		{name: "serve: admin.listen on a busy port", cmd: "serve", config: "listen: 127.0.0.1:0\nadmin:\n  listen: " + closed + "\n" + startupSite,
			within: 2 * time.Second, cause: "admin listener: listen tcp " + closed + ": bind: address already in use"},
		{name: "serve: TLS files missing", cmd: "serve", config: "listen: 127.0.0.1:0\ntls:\n  certFile: /nonexistent/tls.crt\n  keyFile: /dev/null\n" + startupSite,
			within: 2 * time.Second, cause: "tls.certFile /nonexistent/tls.crt does not exist"},
		{name: "serve: Redis refuses connections", cmd: "serve", config: "listen: 127.0.0.1:0\nredis:\n  url: redis://" + refused + "/0\n" + startupSite,
			within: redisStartupWait + 2*time.Second, cause: "connection refused"},
		// The URL's own timeouts would let a hung Redis stall the start for
		// minutes; the start-up wait bounds them.
		{name: "serve: Redis never answers", cmd: "serve", config: "listen: 127.0.0.1:0\nredis:\n  url: redis://" + hole + "/0?dial_timeout=60s&read_timeout=60s&write_timeout=60s\n" + startupSite,
			within: redisStartupWait + 2*time.Second, cause: "connecting to Redis: unreachable for " + redisStartupWait.String()},
		{name: "serve: config error", cmd: "serve", config: "listen: 127.0.0.1:0\nlogging:\n  format: xml\n" + startupSite,
			within: 2 * time.Second, cause: `logging.format "xml" must be text or json`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.config != "" {
				path := filepath.Join(t.TempDir(), "bridge.yaml")
				if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
				args = []string{"--config", path}
			}
			// The timeout only keeps a regression from hanging the suite;
			// the assertion is on how long the command took.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := commands()[tc.cmd](ctx, args, io.Discard, io.Discard)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("%s returned no error", tc.cmd)
			}
			if took > tc.within {
				t.Errorf("%s took %s to fail, want under %s (it waited for a signal): %v", tc.cmd, took.Round(time.Millisecond), tc.within, err)
			}
			if !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("error %q does not name the cause %q", err, tc.cause)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
