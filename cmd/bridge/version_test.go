package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 17 §4: a binary stamped at build time (as deploy/Dockerfile
// stamps it) prints its version, commit and build date, and its
// bridge_build_info carries the same.
func TestVersionStampedAtBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bridge")
	ld := "-X main.version=9.8.7 -X main.commit=0123abcd -X main.buildDate=2026-12-03T04:00:00Z"
	if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("bridge version: %v\n%s", err, out)
	}
	for _, want := range []string{"bridge 9.8.7", "commit: 0123abcd", "built:  2026-12-03T04:00:00Z", "go:     go1."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bridge version lacks %q:\n%s", want, out)
		}
	}

	ready := filepath.Join(dir, "ready.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	demo := exec.CommandContext(ctx, bin, "demo", "--listen", "127.0.0.1:0", "--ready-file", ready)
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = demo.Wait() }()
	var info map[string]string
	for ctx.Err() == nil {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, info["bridge"]+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+info["adminToken"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	want := `bridge_build_info{build_date="2026-12-03T04:00:00Z",commit="0123abcd",goversion="go1.`
	if !strings.Contains(sb.String(), want) || !strings.Contains(sb.String(), `version="9.8.7"} 1`) {
		t.Errorf("metrics lack %s…version=\"9.8.7\"", want)
	}
}
