package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/doctest"
)

// The pages whose request/response examples must run: the README and
// every docs/*.md.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../../README.md"}, pages...)
}

// TestDocExamples runs every example marked <!-- doctest --> in README.md
// and docs/*.md with bash, curl and jq against `bridge demo` (in-process),
// and compares the output with the page's expect blocks (package doctest).
// A request/response block without a marker fails the test; blocks marked
// skip are counted and listed with their reasons.
func TestDocExamples(t *testing.T) {
	requireDocTools(t)
	var run, skipped int
	var reasons []string
	for _, path := range docPages(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(path, "../../")
		d, err := doctest.Parse(name, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range d.Unmarked {
			t.Errorf("%s:%d: a request/response example without a doctest marker (run it, or mark it <!-- doctest: skip REASON -->)", name, l)
		}
		for _, s := range d.Skipped {
			reasons = append(reasons, fmt.Sprintf("%s:%d: %s", s.File, s.Line, s.Reason))
		}
		run += len(d.Examples)
		skipped += len(d.Skipped)
		if len(d.Examples) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, err := range runDocExamples(t, d.Examples) {
				t.Error(err)
			}
		})
	}
	sort.Strings(reasons)
	t.Logf("doc examples: %d run, %d marked not executable:\n  %s", run, skipped, strings.Join(reasons, "\n  "))
	if run == 0 {
		t.Fatal("no doc example ran")
	}
}

// TestDocExamplesCatchDrift feeds the harness a page with one true and two
// wrong examples: each wrong one must fail, and only those.
func TestDocExamplesCatchDrift(t *testing.T) {
	requireDocTools(t)
	page := "<!-- doctest -->\n```sh\n" +
		"B=http://127.0.0.1:8080/sites/580e63e98c9a982ac9b8b741/scim/v2; T='Authorization: Bearer demo-scim-token'\n" +
		"curl -sS \"$B/Users/010101001010101011001010101011\" -H \"$T\"\n```\n\n" +
		"<!-- doctest: expect -->\n```json\n" +
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"Resource 010101001010101011001010101011 not found.","status":"404"}` + "\n```\n\n" +
		// Wrong: a userName PATCH under emailChange: reject is refused
		// (400 mutability), not answered 200.
		"<!-- doctest -->\n```sh\n" +
		"ID=$(curl -sS -X POST \"$B/Users\" -H \"$T\" -H 'Content-Type: application/scim+json' -d '{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"drift@example.com\"}' | jq -r .id)\n" +
		"curl -sS -o /dev/null -w '%{http_code}\\n' -X PATCH \"$B/Users/$ID\" -H \"$T\" -H 'Content-Type: application/scim+json' -d '{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"other@example.com\"}]}'\n```\n\n" +
		"<!-- doctest: expect -->\n```\n200\n```\n\n" +
		// Wrong: the page shows a member the answer does not have.
		"<!-- doctest -->\n```sh\ncurl -sS \"$B/Users?count=0\" -H \"$T\" | jq -c '{totalResults}'\n```\n\n" +
		"<!-- doctest: expect -->\n```json\n{\"totalResults\":1,\"itemsPerPage\":0}\n```\n"
	d, err := doctest.Parse("drift.md", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	errs := runDocExamples(t, d.Examples)
	if len(errs) != 2 {
		t.Fatalf("want 2 failures (the two wrong examples), got %d: %v", len(errs), errs)
	}
	if !strings.Contains(errs[0].Error(), "drift.md:20") || !strings.Contains(errs[0].Error(), "400") {
		t.Errorf("the first failure does not name the wrong status example: %v", errs[0])
	}
	if !strings.Contains(errs[1].Error(), "drift.md:30") || !strings.Contains(errs[1].Error(), `"itemsPerPage" is missing`) {
		t.Errorf("the second failure does not name the missing member: %v", errs[1])
	}
}

func requireDocTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			// Not a skip: a doc that no longer matches the binary must
			// fail go test, on every machine.
			t.Fatalf("the doc examples run with bash, curl and jq; %s is missing (apt-get install %s; .ci/run does)", tool, tool)
		}
	}
}

var docBlockMark = regexp.MustCompile(`(?m)^@@doctest-block (\d+)@@$`)

// runDocExamples runs examples in order: one bash session and one demo
// per run of examples, a fresh demo (with its flags) where an example asks
// for one. It returns one error per example that does not match its page.
func runDocExamples(t *testing.T, examples []doctest.Example) []error {
	t.Helper()
	var errs []error
	for start := 0; start < len(examples); {
		end := start + 1
		for end < len(examples) && !examples[end].NewDemo {
			end++
		}
		errs = append(errs, runDocSegment(t, examples[start:end])...)
		start = end
	}
	return errs
}

func runDocSegment(t *testing.T, examples []doctest.Example) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bridge, sim, stop := startDocDemo(ctx, t, examples[0].DemoFlags)
	defer stop()
	bridgeHost, simHost := strings.TrimPrefix(bridge, "http://"), strings.TrimPrefix(sim, "http://")

	// The pages address the demo at its default 127.0.0.1:8080 and the
	// standalone simulator at 127.0.0.1:8090; the harness serves both on
	// free ports and rewrites the addresses both ways. curl's answer gets a
	// newline, so that every answer is a line of its own.
	var script strings.Builder
	script.WriteString("curl() { command curl --max-time 30 \"$@\"; local rc=$?; printf '\\n'; return $rc; }\n")
	for i, ex := range examples {
		fmt.Fprintf(&script, "printf '\\n@@doctest-block %d@@\\n'\n", i)
		s := strings.ReplaceAll(ex.Script, "127.0.0.1:8080", bridgeHost)
		script.WriteString(strings.ReplaceAll(s, "127.0.0.1:8090", simHost))
		script.WriteString("\n")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc")
	cmd.Stdin = strings.NewReader(script.String())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LC_ALL=C.UTF-8", "SIM=" + sim}
	if err := cmd.Run(); err != nil && ctx.Err() != nil {
		return []error{fmt.Errorf("%s:%d: the examples did not finish: %w\n%s", examples[0].File, examples[0].Line, err, stderr.String())}
	}
	out := strings.ReplaceAll(stdout.String(), bridgeHost, "127.0.0.1:8080")
	out = strings.ReplaceAll(out, simHost, "127.0.0.1:8090")

	outputs := make([]string, len(examples))
	marks := docBlockMark.FindAllStringSubmatchIndex(out, -1)
	for k, m := range marks {
		var i int
		fmt.Sscan(out[m[2]:m[3]], &i)
		endAt := len(out)
		if k+1 < len(marks) {
			endAt = marks[k+1][0]
		}
		if i < len(outputs) {
			outputs[i] = out[m[1]:endAt]
		}
	}
	var errs []error
	for i, ex := range examples {
		if k := len(marks); i >= k {
			errs = append(errs, fmt.Errorf("%s:%d: the example never ran (the shell stopped before it)\n%s", ex.File, ex.Line, stderr.String()))
			continue
		}
		if err := doctest.Check(ex, outputs[i]); err != nil {
			if stderr.Len() > 0 {
				err = fmt.Errorf("%w\n(stderr of the session: %s)", err, strings.TrimSpace(stderr.String()))
			}
			errs = append(errs, err)
		}
	}
	return errs
}

// startDocDemo runs `bridge demo` in-process on free ports, with flags,
// and returns the bridge's and the simulator's base URLs.
func startDocDemo(ctx context.Context, t *testing.T, flags []string) (bridge, sim string, stop func()) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	args := append([]string{"--listen", "127.0.0.1:0", "--ready-file", ready}, flags...)
	go func() { done <- runDemo(ctx, args, io.Discard, io.Discard) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("bridge demo %v: %v", flags, err)
		}
	}
	var info map[string]string
	for ctx.Err() == nil {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &info) == nil {
			return info["bridge"], info["simulator"], stop
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("bridge demo %v stopped: %v", flags, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	t.Fatal("the demo wrote no ready file")
	return "", "", nil
}
