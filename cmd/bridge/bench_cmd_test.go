package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/bench"
)

// TestBenchCmdShort runs "bridge bench --short --json" in-process, as CI
// does: every SCIM operation stays within its Webflow-call lower bound,
// and the JSON report has every section. The budget run is on the virtual
// clock (--budget-clock=virtual), where its windows are the limiter's:
// in real time, at the compressed 200 calls a second, the scheduling
// delay between an admission and its arrival at the simulator counts
// against a 15 ms margin, and under -race on a loaded machine the worst
// window reached 199 of 200 (the limiter admits at most 196).
func TestBenchCmdShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	err := bench.Run(ctx, []string{"--short", "--json", "--budget-clock=virtual"}, &out, &errb, newBenchReplica)
	if err != nil {
		t.Fatalf("bridge bench --short: %v\n%s", err, errb.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, out.String())
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(out.Bytes(), &raw)
	for _, k := range []string{"machine", "settings", "store", "throughput", "peer", "upstream", "budget", "memory", "goals"} {
		if len(raw[k]) == 0 || string(raw[k]) == "null" {
			t.Errorf("the report has no %q section", k)
		}
	}

	// The lower-bound table of the README, operation by operation.
	want := map[string]int{
		"create with a name (POST /Users)":            2,
		"filter userName eq (warm)":                   0,
		"filter on a preloaded user":                  0,
		"GET /Users/{id} (warm)":                      0,
		"PUT that changes nothing":                    0,
		"PATCH that changes nothing":                  0,
		"name change (PATCH name.givenName)":          1,
		"group add, 6 users, drained":                 12, // 1 GET + 1 PATCH per user
		"3 group changes, 6 users, one drained batch": 12,
		"deactivate (PATCH active false)":             2, // 1 GET + 1 PATCH
		"reactivate (PATCH active true)":              2,
		"DELETE /Users/{id}":                          1,
		// workspaceroles.LowerBound: 1 bulk role update (20 ≤ 100 ids)
		// + 1 demo-site grant per member.
		"workspace group push, 20 members, drained": 21,
		// workspace.mode members, every Webflow call at the simulator:
		// lookup 0, POST 1 (invite), lookup 0, deactivate 1 (bulk remove
		// of the pending invite), reactivate 1 (invite), PUT once accepted
		// 1 (list by email), DELETE 1 (remove the member).
		"workspace members mode: lookup, POST, deactivate, reactivate, PUT, DELETE": 5,
	}
	readBounds := map[string]int{"workspace group push, 20 members, drained": 2}
	seen := map[string]bool{}
	for _, u := range rep.Upstream {
		seen[u.Operation] = true
		bound, ok := want[u.Operation]
		if !ok {
			t.Errorf("unexpected operation %q", u.Operation)
			continue
		}
		if u.Bound != bound || u.Calls > bound || !u.Within {
			t.Errorf("%s: %d Webflow calls, bound %d (reported bound %d)", u.Operation, u.Calls, bound, u.Bound)
		}
		// Rows whose calls are writes state a read bound too:
		// workspaceroles.ReadBound, 1 page of the workspace list (20
		// users are more than are looked up one by one) + 1 List Site
		// Members of the demo site.
		if wantReads, ok := readBounds[u.Operation]; ok && (u.ReadBound != wantReads || u.Reads == 0 || u.Reads > u.ReadBound) {
			t.Errorf("%s: %d reads, bound %d (reported bound %d)", u.Operation, u.Reads, wantReads, u.ReadBound)
		}
	}
	for op := range want {
		if !seen[op] {
			t.Errorf("operation %q not measured", op)
		}
	}

	// The other sections measured something, without errors.
	if len(rep.Throughput) != 7 {
		t.Errorf("throughput rows: %d, want 7 (mixed in IdP form, mixed in the previous form and filter at concurrency 1 and 16; the large group at 1)", len(rep.Throughput))
	}
	rows := map[string]bool{}
	for _, l := range rep.Throughput {
		rows[fmt.Sprintf("%s c=%d", l.Workload, l.Concurrency)] = true
		if l.Requests == 0 || l.Errors > 0 {
			t.Errorf("%s %s c=%d: %d requests, %d errors (%s)", l.Target, l.Workload, l.Concurrency, l.Requests, l.Errors, l.FirstError)
		}
		if l.CPUPerRequestUs <= 0 || l.CPUMethod == "" {
			t.Errorf("%s c=%d: no CPU per request (%v, %q)", l.Workload, l.Concurrency, l.CPUPerRequestUs, l.CPUMethod)
		}
	}
	for _, want := range []string{"mixed (IdP form) c=1", "mixed (IdP form) c=16", "large group: PATCH add 1 + GET c=1"} {
		if !rows[want] {
			t.Errorf("no %s row: %v", want, rows)
		}
	}
	if rep.Peer.Ran || rep.Peer.Skipped == "" {
		t.Errorf("--short must skip the peer: %+v", rep.Peer)
	}
	if b := rep.Budget; b.Clock != "virtual" || b.Created != b.Users || b.Calls == 0 || b.TooMany != 0 || b.WorstWindow > b.BudgetPerWindow {
		t.Errorf("budget run: %+v", b)
	}
	if len(rep.Memory) == 0 || rep.Memory[0].KeyBytesPerUser <= 0 || rep.Memory[0].RSSMiB <= 0 {
		t.Errorf("memory: %+v", rep.Memory)
	}
	if len(rep.Goals) < 14 {
		t.Errorf("goals: %d, want 14 (issue 10's and issue 16's)", len(rep.Goals))
	}
}
