package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// Issue 15: `bridge demo` prints a group-push session, and that session,
// run against the demo, makes the collaborator a member with marketer on
// the demo site at the simulator.
func TestDemoWorkspaceGroupSession(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, []string{"--listen", "127.0.0.1:0", "--ready-file", ready, "--rate-limit", "0"}, &out, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	var info map[string]string
	for ctx.Err() == nil {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info == nil {
		t.Fatal("the demo wrote no ready file")
	}
	steps := demoWorkspaceSession(info["bridge"], info["simulator"])
	for ctx.Err() == nil && !strings.Contains(out.String(), "Press Ctrl-C") {
		time.Sleep(20 * time.Millisecond)
	}
	if banner := out.String(); !strings.Contains(banner, renderDemoSession(steps)) {
		t.Fatalf("the banner lacks the workspace session:\n%s", banner)
	}

	call := func(s demoStep, id string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, s.Method, s.URL, strings.NewReader(strings.ReplaceAll(s.Body, "$ID", id)))
		if s.Token != "" {
			req.Header.Set("Authorization", "Bearer "+s.Token)
		}
		if s.Body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	var id string
	for _, s := range steps[:len(steps)-1] {
		code, b := call(s, id)
		if code >= 300 {
			t.Fatalf("%s: %d %s", s.Title, code, b)
		}
		if s.CaptureID {
			var v struct{ ID string }
			if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
				t.Fatalf("%s: no id in %s", s.Title, b)
			}
			id = v.ID
		}
	}
	// The worker applies the push after the settle time (1s by default).
	last := steps[len(steps)-1]
	var got string
	for ctx.Err() == nil {
		code, b := call(last, id)
		var v struct {
			Members []struct {
				Email string
				Roles struct{ Workspace, Site string }
			}
		}
		if code == 200 && json.Unmarshal(b, &v) == nil && len(v.Members) == 1 {
			got = v.Members[0].Roles.Workspace + "/" + v.Members[0].Roles.Site
			if got == "member/marketer" && strings.EqualFold(v.Members[0].Email, demoEmail) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "member/marketer" {
		t.Fatalf("%s on site %s: roles %q, want member/marketer", demoEmail, webflowsim.DemoSiteID, got)
	}
}
