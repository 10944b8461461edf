package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/redistest"
)

// Failover of the Redis master that holds the site's keys, under a steady
// stream of SCIM writes from an IdP that retries (creates, then group
// membership adds) through two bridge replicas (issue 18). Each case starts
// its own topology, so killing a node disturbs no other test. Run with
// REDIS_TOPOLOGY=cluster or sentinel; .ci/run does, with -v, so the
// figures are printed.

// haTarget is the topology under test, seen from the failover test.
type haTarget interface {
	URL() string
	// master returns the master serving key now and the replica that is
	// to take over.
	master(ctx context.Context, key string) (master, replica *redistest.Node, err error)
	// gentle asks for a planned failover (CLUSTER FAILOVER from the
	// replica, SENTINEL FAILOVER).
	gentle(ctx context.Context, replica *redistest.Node) error
	// name is the topology as /readyz names it.
	name() string
}

type clusterTarget struct{ *redistest.RedisCluster }

func (c clusterTarget) master(ctx context.Context, key string) (*redistest.Node, *redistest.Node, error) {
	m, r, err := c.MasterOf(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if r == "" {
		return nil, nil, fmt.Errorf("master %s has no replica", m)
	}
	return c.Node(m), c.Node(r), nil
}

func (c clusterTarget) gentle(ctx context.Context, replica *redistest.Node) error {
	cl := replica.Client()
	defer cl.Close()
	return cl.ClusterFailover(ctx).Err()
}

func (clusterTarget) name() string { return "cluster" }

type sentinelTarget struct{ *redistest.RedisSentinel }

func (sentinelTarget) name() string { return "sentinel" }

func (s sentinelTarget) master(ctx context.Context, _ string) (*redistest.Node, *redistest.Node, error) {
	m, err := s.Master(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range s.Data {
		if n.Addr != m {
			return s.Node(m), n, nil
		}
	}
	return nil, nil, fmt.Errorf("no replica of %s", m)
}

func (s sentinelTarget) gentle(ctx context.Context, _ *redistest.Node) error { return s.Failover(ctx) }

func TestClusterFailover(t *testing.T) {
	if topo, _ := redistest.FromEnv(); topo != redistest.Cluster {
		t.Skip("REDIS_TOPOLOGY=cluster not set")
	}
	for _, kill := range []bool{true, false} {
		t.Run(map[bool]string{true: "kill -9 master", false: "CLUSTER FAILOVER"}[kill], func(t *testing.T) {
			c, err := redistest.StartCluster(t.Context(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Stop)
			runFailover(t, clusterTarget{c}, kill)
		})
	}
}

func TestSentinelFailover(t *testing.T) {
	if topo, _ := redistest.FromEnv(); topo != redistest.Sentinel {
		t.Skip("REDIS_TOPOLOGY=sentinel not set")
	}
	for _, kill := range []bool{true, false} {
		t.Run(map[bool]string{true: "kill -9 master", false: "SENTINEL FAILOVER"}[kill], func(t *testing.T) {
			s, err := redistest.StartSentinel(t.Context(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			runFailover(t, sentinelTarget{s}, kill)
		})
	}
}

// idpCall is one request of the IdP and its answer.
type idpCall struct {
	op         string // create, lookup, member
	status     int
	retryAfter bool
	detail     string // of a failure
	start, end time.Time
}

// haIdP is an IdP that provisions users and adds each to a group, through
// two replicas in turn, retrying 503 and 429 (Retry-After, capped short so
// the test measures the bridge, not the back-off) until a deadline.
type haIdP struct {
	reps  []*bridgeHarness
	group string

	mu      sync.Mutex
	calls   []idpCall
	created map[string]string // email -> SCIM id the IdP holds
	members map[string]bool   // SCIM ids whose add was acknowledged (200/204)
	gaveUp  []string
}

func (p *haIdP) send(h *bridgeHarness, op, method, path, body string) (int, map[string]any) {
	req, _ := http.NewRequest(method, h.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	c := idpCall{op: op, start: time.Now()}
	res, err := http.DefaultClient.Do(req)
	var out map[string]any
	if err == nil {
		c.status, c.retryAfter = res.StatusCode, res.Header.Get("Retry-After") != ""
		_ = decodeJSON(res, &out)
		if c.status >= 300 {
			c.detail = str(out, "detail")
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	c.end = time.Now()
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
	return c.status, out
}

// provision creates user i and adds it to the group, retrying like an IdP.
func (p *haIdP) provision(i int, deadline time.Time) {
	email := fmt.Sprintf("ha%04d@example.com", i)
	var id string
	for attempt := 0; id == "" && time.Now().Before(deadline); attempt++ {
		h := p.reps[(i+attempt)%len(p.reps)]
		st, body := p.send(h, "create", "POST", "/Users", createBody(email, fmt.Sprintf("HA %d", i)))
		switch st {
		case 201:
			id = str(body, "id")
		case 409: // an earlier attempt's create did land: find it, as Okta and Entra do
			st, body = p.send(h, "lookup", "GET", filterQ(`userName eq "`+email+`"`), "")
			if st == 200 && body["totalResults"] == 1.0 {
				id = str(body, "Resources.0.id")
			}
		}
		if id == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if id == "" {
		p.mu.Lock()
		p.gaveUp = append(p.gaveUp, email)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.created[email] = id
	p.mu.Unlock()
	addJSON, _ := json.Marshal(patch(op("add", "members", []map[string]any{{"value": id}})))
	add := string(addJSON)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		h := p.reps[(i+attempt+1)%len(p.reps)]
		if st, _ := p.send(h, "member", "PATCH", "/Groups/"+p.group+"?excludedAttributes=members", add); st == 200 || st == 204 {
			p.mu.Lock()
			p.members[id] = true
			p.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.mu.Lock()
	p.gaveUp = append(p.gaveUp, email+" (membership)")
	p.mu.Unlock()
}

// runFailover drives the traffic, fails the master over and checks what
// the IdP and Webflow saw.
// haRun is two bridge replicas on one Redis URL with the IdP's writers
// running against them.
type haRun struct {
	reps   []*bridgeHarness
	idp    *haIdP
	cancel context.CancelFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

const haPrefix = "wfbha"

// startHA starts two replicas on url, their membership workers, a group
// and 4 IdP writers.
func startHA(t *testing.T, url string) *haRun {
	ss := newSharedSim(t)
	shared := func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = url, haPrefix }
	r := &haRun{reps: []*bridgeHarness{newReplica(t, ss, shared), newReplica(t, ss, shared)}, stop: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	for _, rep := range r.reps {
		go rep.app.scim.Worker(ctx, 20*time.Millisecond)
	}
	gid := str(r.reps[0].must(201, r.reps[0].do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "members"})).Body, "id")
	r.idp = &haIdP{reps: r.reps, group: gid, created: map[string]string{}, members: map[string]bool{}}
	const writers = 4
	deadline := time.Now().Add(90 * time.Second)
	var next atomic.Int64
	for range writers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				r.idp.provision(int(next.Add(1)), deadline)
			}
		}()
	}
	return r
}

// halt stops the writers and waits for them.
func (r *haRun) halt() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
}

// haTally is what the IdP and Webflow saw.
type haTally struct {
	requests, failed          int
	statuses, details         map[string]int
	bad                       []string
	dupInvites, lost, missing int
	missingIDs                []string
	drained                   time.Duration
}

// finish stops the traffic, lets the membership queue drain and counts.
func (r *haRun) finish(t *testing.T) haTally {
	r.halt()
	reps, idp := r.reps, r.idp
	tDrain := time.Now()
	for {
		qs, err := reps[0].app.scim.QueueStats(context.Background(), testSite)
		if err == nil && qs.Pending == 0 {
			break
		}
		if time.Since(tDrain) > 60*time.Second {
			t.Fatalf("the membership queue did not drain within 60 s: %+v %v", qs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tl := haTally{statuses: map[string]int{}, details: map[string]int{}, drained: time.Since(tDrain)}
	r.cancel()
	reps[0].drain()
	idp.mu.Lock()
	defer idp.mu.Unlock()
	tl.requests = len(idp.calls)
	for _, c := range idp.calls {
		if c.status >= 200 && c.status < 300 || c.status == 409 && c.op == "create" {
			continue
		}
		tl.failed++
		key := fmt.Sprintf("%s %d", c.op, c.status)
		if c.retryAfter {
			key += " +Retry-After"
		}
		tl.statuses[key]++
		tl.details[key+": "+c.detail]++
		if c.status != 503 && !(c.status == 429 && c.retryAfter) {
			tl.bad = append(tl.bad, key)
		}
	}
	for email, id := range idp.created {
		if n := reps[0].sim.InvitesTo(email); n != 1 {
			tl.dupInvites += max(n-1, 0)
			if n == 0 {
				t.Errorf("%s: the IdP holds %s but Webflow has no invite", email, id)
			}
		}
		if r := reps[1].do("GET", "/Users/"+id, nil); r.Status != 200 {
			tl.missing++
			tl.missingIDs = append(tl.missingIDs, id)
		}
		if idp.members[id] && !strings.Contains(","+reps[0].slugs(email)+",", ",members,") {
			tl.lost++
		}
	}
	// Any invite not held by the IdP is a duplicate too (a create the IdP
	// never saw succeed).
	for _, email := range idp.gaveUp {
		if n := reps[0].sim.InvitesTo(strings.TrimSuffix(email, " (membership)")); n > 1 {
			tl.dupInvites += n - 1
		}
	}
	for d, n := range tl.details {
		t.Logf("failure: %d × %s", n, d)
	}
	return tl
}

// check asserts what must hold after any topology change: 0 duplicate
// invites, 0 lost memberships, 0 missing records, nobody given up on,
// steady traffic, and only 503 or 429 with Retry-After.
func (tl haTally) check(t *testing.T, idp *haIdP) {
	t.Helper()
	if len(tl.bad) > 0 {
		t.Errorf("IdP saw statuses other than 503 or 429 with Retry-After: %v", slices.Sorted(maps.Keys(tl.statuses)))
	}
	if tl.dupInvites != 0 {
		t.Errorf("%d duplicate invites", tl.dupInvites)
	}
	if tl.lost != 0 {
		t.Errorf("%d acknowledged memberships lost", tl.lost)
	}
	if tl.missing != 0 {
		t.Errorf("%d records the IdP holds are missing: %v", tl.missing, tl.missingIDs)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if len(idp.gaveUp) != 0 {
		t.Errorf("the IdP gave up on %v", idp.gaveUp)
	}
	if len(idp.created) < 10 {
		t.Errorf("only %d users created: the traffic was not steady", len(idp.created))
	}
}

func runFailover(t *testing.T, target haTarget, kill bool) {
	siteKey := haPrefix + ":{s:" + testSite + "}:users"
	master, replica, err := target.master(t.Context(), siteKey)
	if err != nil {
		t.Fatal(err)
	}
	run := startHA(t, target.URL())
	reps, idp := run.reps, run.idp

	// /readyz names the topology and the master serving the site.
	redisReady := func() map[string]any {
		reps[0].app.health.probeRedis(context.Background())
		_, m := reps[0].readyz()
		rm, _ := m["redis"].(map[string]any)
		return rm
	}
	mastersOf := func(rm map[string]any) string { return fmt.Sprint(rm["masters"]) }
	if rm := redisReady(); rm["topology"] != target.name() || rm["status"] != "ok" || !strings.Contains(mastersOf(rm), master.Addr) {
		t.Errorf("/readyz redis before the failover = %v; want topology %s, ok, master %s", rm, target.name(), master.Addr)
	}

	time.Sleep(2 * time.Second) // steady traffic first
	tFail := time.Now()
	if kill {
		master.Kill()
	} else if err := target.gentle(t.Context(), replica); err != nil {
		run.halt()
		t.Fatalf("planned failover: %v", err)
	}
	// Promotion: the replica answers ROLE master (watched from the
	// failure on, while /readyz is read).
	promoted := make(chan time.Time, 1)
	go func() {
		rc := replica.Client()
		defer rc.Close()
		for time.Since(tFail) < 60*time.Second {
			if role, err := rc.Do(context.Background(), "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
				promoted <- time.Now()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		promoted <- time.Time{}
	}()
	// /readyz reports the degraded state while it lasts (a kill: the
	// master is down until the replica takes over, and has no replica
	// afterwards).
	var degraded string
	if kill {
		for time.Since(tFail) < 30*time.Second && degraded == "" {
			if rm := redisReady(); rm["status"] == "degraded" {
				degraded = fmt.Sprint(rm["degraded"])
			}
			time.Sleep(50 * time.Millisecond)
		}
		if degraded == "" {
			t.Errorf("/readyz never reported Redis degraded after the master was killed")
		}
	}
	tPromo := <-promoted
	if tPromo.IsZero() {
		run.halt()
		t.Fatalf("replica %s was not promoted within 60 s", replica.Addr)
	}
	// Traffic goes on until writes have succeeded for a while after the
	// promotion (or the bound is blown).
	const bound = 30 * time.Second
	var firstOK time.Time
	for time.Since(tPromo) < bound+5*time.Second {
		firstOK = firstSuccessAfter(idp, tPromo)
		if !firstOK.IsZero() && time.Since(firstOK) > 3*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tl := run.finish(t)
	after := redisReady()
	if !strings.Contains(mastersOf(after), replica.Addr) {
		t.Errorf("/readyz redis after the failover = %v; want %s among the masters", after, replica.Addr)
	}
	t.Logf("readyz: degraded during the failover %s; after: status %v, masters %v, degraded %v", degraded, after["status"], after["masters"], after["degraded"])
	outage := time.Duration(0)
	if !firstOK.IsZero() {
		outage = firstOK.Sub(tFail)
	}
	how := "kill -9"
	if !kill {
		how = "planned failover"
	}
	idp.mu.Lock()
	created, members, gaveUp := len(idp.created), len(idp.members), len(idp.gaveUp)
	idp.mu.Unlock()
	t.Logf("figures: %s of master %s (replica %s): promoted after %s; first write success %s after promotion (%s after the failure); "+
		"%d IdP requests, %d failed %v; %d users created, %d memberships acknowledged; duplicate invites %d, memberships lost %d, records missing %d; IdP gave up on %d; queue drained %s after the traffic",
		how, master.Addr, replica.Addr, tPromo.Sub(tFail).Round(time.Millisecond), firstOK.Sub(tPromo).Round(time.Millisecond), outage.Round(time.Millisecond),
		tl.requests, tl.failed, tl.statuses, created, members, tl.dupInvites, tl.lost, tl.missing, gaveUp, tl.drained.Round(time.Millisecond))
	if firstOK.IsZero() {
		t.Fatalf("no write succeeded within %s of the promotion", bound)
	}
	if d := firstOK.Sub(tPromo); d > bound {
		t.Errorf("first success %s after the promotion, bound %s", d, bound)
	}
	tl.check(t, idp)
}

// TestClusterReshard moves the site's slot to another master while the
// IdP's writes run (MIGRATING/IMPORTING, MIGRATE in batches, then SETSLOT
// NODE, as redis-cli --cluster reshard does for each slot, which sends
// batches of 10 back to back; here 4 keys, 50 ms apart, so that traffic
// meets the split slot): the bridge follows MOVED and ASK, waits out
// TRYAGAIN, and the IdP sees no error.
func TestClusterReshard(t *testing.T) {
	if topo, _ := redistest.FromEnv(); topo != redistest.Cluster {
		t.Skip("REDIS_TOPOLOGY=cluster not set")
	}
	c, err := redistest.StartCluster(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	siteKey := haPrefix + ":{s:" + testSite + "}:users"
	slot := int(redistest.Slot(siteKey))
	from, _, err := c.MasterOf(t.Context(), siteKey)
	if err != nil {
		t.Fatal(err)
	}
	var to string
	nodes, err := c.Topology(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Master && !n.Failed && len(n.Slots) > 0 && n.Addr != from {
			to = n.Addr
			break
		}
	}
	run := startHA(t, c.URL())
	time.Sleep(2 * time.Second) // steady traffic, and keys in the slot
	t0 := time.Now()
	moved, err := c.MoveSlot(t.Context(), slot, from, to, 4, 50*time.Millisecond)
	if err != nil {
		run.halt()
		t.Fatalf("moving slot %d: %v", slot, err)
	}
	took := time.Since(t0)
	time.Sleep(2 * time.Second) // traffic on the new master
	tl := run.finish(t)
	now, _, err := c.MasterOf(t.Context(), siteKey)
	if err != nil || now != to {
		t.Errorf("slot %d is on %s (%v), want %s", slot, now, err, to)
	}
	run.idp.mu.Lock()
	created := len(run.idp.created)
	run.idp.mu.Unlock()
	t.Logf("figures: reshard of slot %d (%d keys, batches of 4, 50 ms apart) from %s to %s in %s under traffic: %d IdP requests, %d failed %v; %d users created; duplicate invites %d, memberships lost %d, records missing %d",
		slot, moved, from, to, took.Round(time.Millisecond), tl.requests, tl.failed, tl.statuses, created, tl.dupInvites, tl.lost, tl.missing)
	if tl.failed != 0 {
		t.Errorf("the IdP saw %d failed requests during the reshard: %v", tl.failed, tl.statuses)
		for _, r := range run.reps {
			for _, l := range strings.Split(r.logs.String(), "\n") {
				if strings.Contains(l, "ERROR") || strings.Contains(l, "WARN") {
					t.Log(l)
				}
			}
		}
	}
	if moved < 4 {
		t.Errorf("only %d keys moved: the slot held too little to test ASK", moved)
	}
	tl.check(t, run.idp)
}

// firstSuccessAfter is the end of the first write (create or membership)
// that succeeded and ended after t.
func firstSuccessAfter(p *haIdP, t time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, c := range p.calls {
		if c.op != "lookup" && c.status >= 200 && c.status < 300 && c.end.After(t) && (first.IsZero() || c.end.Before(first)) {
			first = c.end
		}
	}
	return first
}
