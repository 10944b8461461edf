package webflowsim

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

func TestFaultStatus(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	user := "/v2/sites/" + siteID + "/users/" + sim.Users(siteID)[0].ID
	sim.InjectFault(Fault{Method: "GET", Path: "/v2/sites/*/users/*", Count: 2, Status: 500})
	sim.InjectFault(Fault{Path: "/v2/sites/*/users/*", Status: 429})
	sim.InjectFault(Fault{Path: "/v2/sites", Status: 503, RetryAfter: "7"})
	for i := 0; i < 2; i++ {
		resp, body := call(t, srv, "GET", user, "", nil) // faults come before auth
		if resp.StatusCode != 500 {
			t.Fatalf("try %d: %d", i, resp.StatusCode)
		}
		assertEnvelope(t, body, webflowdata.CodeInternalError)
	}
	resp, body := call(t, srv, "GET", user, siteTok, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("429 fault: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	assertEnvelope(t, body, webflowdata.CodeTooManyRequests)
	resp, _ = call(t, srv, "GET", "/v2/sites", siteTok, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("503 fault: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := call(t, srv, "GET", user, siteTok, nil); resp.StatusCode != 200 {
		t.Fatalf("faults must be used up: %d", resp.StatusCode)
	}
	if n := sim.CountRequests("GET", "/v2/sites/*/users/*"); n != 4 {
		t.Errorf("CountRequests = %d, want 4", n)
	}
}

func TestFaultDelay(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	sim.InjectFault(Fault{Path: "/v2/sites", Delay: 150 * time.Millisecond})
	start := time.Now()
	resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil)
	if d := time.Since(start); d < 150*time.Millisecond || resp.StatusCode != 200 {
		t.Fatalf("delay fault: %v %d", d, resp.StatusCode)
	}
}

func TestFaultDrop(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	sim.InjectFault(Fault{Path: "/v2/sites", Drop: true})
	req, _ := http.NewRequest("GET", srv.URL+"/v2/sites", nil)
	req.Header.Set("Authorization", "Bearer "+siteTok)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr}).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 200 {
		t.Fatalf("after drop: %d", resp.StatusCode)
	}
	// The dropped request is logged before its connection is closed, so
	// both are in the log, whichever handler returned first.
	var statuses []int
	for _, r := range sim.Requests() {
		statuses = append(statuses, r.Status)
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{0, 200}) {
		t.Errorf("logged statuses %v, want the dropped request as 0 and the next as 200", statuses)
	}
}

func TestRandomFaultsReproducible(t *testing.T) {
	run := func() []int {
		sim, srv := newDemo(t, Options{})
		sim.SetRandomFaults(RandomFaults{Seed: 42, Rate: 0.3, Statuses: []int{500, 502, 429}})
		var out []int
		for i := 0; i < 60; i++ {
			resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil)
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("run differs at %d: %v vs %v", i, a, b)
		}
		if a[i] != 200 {
			fails++
		}
	}
	if fails < 5 || fails > 40 {
		t.Errorf("%d failures of 60 at rate 0.3", fails)
	}
	sim, srv := newDemo(t, Options{})
	sim.SetRandomFaults(RandomFaults{Seed: 1, Rate: 1})
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 500 {
		t.Fatalf("rate 1: %d", resp.StatusCode)
	}
	sim.SetRandomFaults(RandomFaults{})
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 200 {
		t.Fatalf("disabled: %d", resp.StatusCode)
	}
}

func TestFaultOnSCIM(t *testing.T) {
	sim, srv := newDemo(t, Options{})
	sim.InjectFault(Fault{Path: "/scim/v2/Users", Status: 502})
	resp, body := call(t, srv, "GET", "/scim/v2/Users", scimTok, nil)
	if resp.StatusCode != 502 || decode(t, body)["status"] != "502" {
		t.Fatalf("scim fault: %d %s", resp.StatusCode, body)
	}
	sim.InjectFault(Fault{Status: 500})
	sim.ClearFaults()
	if resp, _ := call(t, srv, "GET", "/scim/v2/Users", scimTok, nil); resp.StatusCode != 200 {
		t.Fatalf("after clear: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sim := New(Options{RateLimitPerMinute: 3, Now: clock.Now})
	defer sim.Close()
	if err := sim.LoadSeed(DemoSeed()); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, sim)
	for i := 3; i > 0; i-- {
		resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(i-1) {
			t.Fatalf("req %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	clock.Advance(15 * time.Second)
	resp, body := call(t, srv, "GET", "/v2/token/introspect", siteTok, nil) // even no-scope routes count
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "45" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("over limit: %d %v", resp.StatusCode, resp.Header)
	}
	assertEnvelope(t, body, webflowdata.CodeTooManyRequests)
	// Budgets are per token.
	if resp, _ := call(t, srv, "GET", "/v2/sites", readTok, nil); resp.StatusCode != 200 {
		t.Fatalf("other token: %d", resp.StatusCode)
	}
	clock.Advance(45 * time.Second)
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 200 {
		t.Fatalf("after window: %d", resp.StatusCode)
	}
	sim.SetRateLimit(0)
	resp, _ = call(t, srv, "GET", "/v2/sites", siteTok, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != strconv.Itoa(UnlimitedHeaderValue) || resp.Header.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("unlimited: %d %v", resp.StatusCode, resp.Header)
	}
	sim.SetTokenRateLimit("site-token", 1)
	call(t, srv, "GET", "/v2/sites", siteTok, nil)
	if resp, _ := call(t, srv, "GET", "/v2/sites", siteTok, nil); resp.StatusCode != 429 {
		t.Fatalf("per-token limit: %d", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/v2/sites", readTok, nil); resp.StatusCode != 200 {
		t.Fatalf("other token unlimited: %d", resp.StatusCode)
	}
}

func TestRequestLogBounded(t *testing.T) {
	sim := New(Options{RequestLogSize: 5})
	defer sim.Close()
	_ = sim.LoadSeed(DemoSeed())
	srv := newServer(t, sim)
	for i := 0; i < 12; i++ {
		call(t, srv, "GET", "/v2/sites", siteTok, nil)
	}
	call(t, srv, "GET", "/v2/nope", readTok, nil)
	call(t, srv, "GET", "/_sim/state", "", nil) // admin: not logged
	recs := sim.Requests()
	if len(recs) != 5 {
		t.Fatalf("log size %d", len(recs))
	}
	last := recs[4]
	if last.Path != "/v2/nope" || last.Status != 404 || last.TokenLabel != "read-token" {
		t.Errorf("last record = %+v", last)
	}
	if n := sim.CountRequests("GET", "/v2/sites"); n != 12 {
		t.Errorf("exact count = %d", n)
	}
	if n := sim.CountRequests("", ""); n != 13 {
		t.Errorf("total = %d", n)
	}
	sim.ResetRequests()
	if len(sim.Requests()) != 0 || sim.CountRequests("", "") != 0 {
		t.Errorf("reset failed")
	}
}
