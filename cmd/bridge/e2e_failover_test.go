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

type sentinelTarget struct{ *redistest.RedisSentinel }

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
func runFailover(t *testing.T, target haTarget, kill bool) {
	ss := newSharedSim(t)
	prefix := "wfbha"
	shared := func(c *config.Config) { c.Redis.URL, c.Redis.KeyPrefix = target.URL(), prefix }
	reps := []*bridgeHarness{newReplica(t, ss, shared), newReplica(t, ss, shared)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, r := range reps {
		go r.app.scim.Worker(ctx, 20*time.Millisecond)
	}
	gid := str(reps[0].must(201, reps[0].do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "members"})).Body, "id")
	siteKey := prefix + ":{s:" + testSite + "}:users"
	master, replica, err := target.master(t.Context(), siteKey)
	if err != nil {
		t.Fatal(err)
	}

	idp := &haIdP{reps: reps, group: gid, created: map[string]string{}, members: map[string]bool{}}
	const writers = 4
	deadline := time.Now().Add(90 * time.Second)
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				idp.provision(int(next.Add(1)), deadline)
			}
		}()
	}

	time.Sleep(2 * time.Second) // steady traffic first
	tFail := time.Now()
	if kill {
		master.Kill()
	} else if err := target.gentle(t.Context(), replica); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("planned failover: %v", err)
	}
	// Promotion: the replica answers ROLE master.
	rc := replica.Client()
	var tPromo time.Time
	for time.Since(tFail) < 60*time.Second {
		if role, err := rc.Do(t.Context(), "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
			tPromo = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rc.Close()
	if tPromo.IsZero() {
		close(stop)
		wg.Wait()
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
	close(stop)
	wg.Wait()

	// Let the membership queue drain, then read what Webflow holds.
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
	drained := time.Since(tDrain)
	cancel()
	reps[0].drain()

	idp.mu.Lock()
	defer idp.mu.Unlock()
	statuses := map[string]int{}
	details := map[string]int{}
	var bad []string
	failed := 0
	for _, c := range idp.calls {
		if c.status >= 200 && c.status < 300 || c.status == 409 && c.op == "create" {
			continue
		}
		failed++
		key := fmt.Sprintf("%s %d", c.op, c.status)
		if c.retryAfter {
			key += " +Retry-After"
		}
		statuses[key]++
		details[key+": "+c.detail]++
		if c.status != 503 && !(c.status == 429 && c.retryAfter) {
			bad = append(bad, key)
		}
	}
	dupInvites, missing, lost := 0, 0, 0
	var missingIDs []string
	for email, id := range idp.created {
		if n := reps[0].sim.InvitesTo(email); n != 1 {
			dupInvites += max(n-1, 0)
			if n == 0 {
				t.Errorf("%s: the IdP holds %s but Webflow has no invite", email, id)
			}
		}
		r := reps[1].do("GET", "/Users/"+id, nil)
		if r.Status != 200 {
			missing++
			missingIDs = append(missingIDs, id)
		}
		if idp.members[id] && !strings.Contains(","+reps[0].slugs(email)+",", ",members,") {
			lost++
		}
	}
	// Any invite not held by the IdP is a duplicate too (a create the IdP
	// never saw succeed).
	for _, email := range idp.gaveUp {
		if n := reps[0].sim.InvitesTo(strings.TrimSuffix(email, " (membership)")); n > 1 {
			dupInvites += n - 1
		}
	}
	outage := time.Duration(0)
	if !firstOK.IsZero() {
		outage = firstOK.Sub(tFail)
	}
	how := "kill -9"
	if !kill {
		how = "planned failover"
	}
	t.Logf("figures: %s of master %s (replica %s): promoted after %s; first write success %s after promotion (%s after the failure); "+
		"%d IdP requests, %d failed %v; %d users created, %d memberships acknowledged; duplicate invites %d, memberships lost %d, records missing %d; IdP gave up on %d; queue drained %s after the traffic",
		how, master.Addr, replica.Addr, tPromo.Sub(tFail).Round(time.Millisecond), firstOK.Sub(tPromo).Round(time.Millisecond), outage.Round(time.Millisecond),
		len(idp.calls), failed, statuses, len(idp.created), len(idp.members), dupInvites, lost, missing, len(idp.gaveUp), drained.Round(time.Millisecond))

	for d, n := range details {
		t.Logf("failure: %d × %s", n, d)
	}
	if len(bad) > 0 {
		t.Errorf("IdP saw statuses other than 503 or 429 with Retry-After: %v", slices.Sorted(maps.Keys(statuses)))
	}
	if firstOK.IsZero() {
		t.Fatalf("no write succeeded within %s of the promotion", bound)
	}
	if d := firstOK.Sub(tPromo); d > bound {
		t.Errorf("first success %s after the promotion, bound %s", d, bound)
	}
	if dupInvites != 0 {
		t.Errorf("%d duplicate invites", dupInvites)
	}
	if lost != 0 {
		t.Errorf("%d acknowledged memberships lost", lost)
	}
	if missing != 0 {
		t.Errorf("%d records the IdP holds are missing: %v", missing, missingIDs)
	}
	if len(idp.gaveUp) != 0 {
		t.Errorf("the IdP gave up on %v", idp.gaveUp)
	}
	if len(idp.created) < 10 {
		t.Errorf("only %d users created: the traffic was not steady", len(idp.created))
	}
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
