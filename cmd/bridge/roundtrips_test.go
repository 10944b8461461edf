package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// rtCounter is a go-redis hook that counts round trips: one per command,
// one per pipeline or MULTI/EXEC, whatever it holds.
type rtCounter struct {
	mu   sync.Mutex
	n    int
	cmds []string
}

func (c *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.n++
		c.cmds = append(c.cmds, rtName(cmd))
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		c.mu.Lock()
		c.n++
		c.cmds = append(c.cmds, "pipeline("+strings.Join(names, ",")+")")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// rtName names a command; a script by its first key's last part and its
// number of keys.
func rtName(cmd redis.Cmder) string {
	name := cmd.Name()
	if a := cmd.Args(); (name == "evalsha" || name == "eval") && len(a) > 3 {
		k := fmt.Sprint(a[3])
		if i := strings.LastIndex(k, "}:"); i >= 0 {
			k = k[i+2:]
		}
		name += "[" + k + "/" + fmt.Sprint(a[2]) + "]"
	}
	return name
}

func (c *rtCounter) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, cmds := c.n, c.cmds
	c.n, c.cmds = 0, nil
	return n, cmds
}

var _ redis.Hook = (*rtCounter)(nil)

// TestRedisRoundTripsPerOperation bounds the Redis round trips of the hot
// SCIM operations, as the bench bounds Webflow calls: each one is latency
// on every request. No worker runs, so only the request is counted.
//
//	filter or GET by id: the record and its groups in one script;
//	POST: reserve+uniqueness check, 2 limiter admissions (invite, name),
//	  store+release;
//	group member add: the change, which checks that the group is still
//	  linked (the replica knows its slug from the warm-up);
//	GET group with members: the group, the access-group cache and the
//	  member set (the replica knows the group's slug from the warm-up),
//	  then the members' names (HMGET), whatever the group's size;
//	a page of groups with members: the groups and the cache, the member
//	  sets, the names: 3, whatever the page's size;
//	PATCH or PUT of active false/true: the record and its view read
//	  with the lock taken in the same script, 2 admissions (the GET of
//	  what Webflow holds, the PATCH; the first false needs no PATCH: the
//	  user holds no linked group in Webflow yet, until the reactivate
//	  restores the one the group add wants), the record stored with the
//	  lock released in one script; PATCH or PUT that changes nothing: the
//	  view only (the same script, which takes no lock when the record
//	  already holds the flag asked for).
func TestRedisRoundTripsPerOperation(t *testing.T) {
	h := newBridge(t)
	cnt := &rtCounter{}
	h.app.rdb.AddHook(cnt)
	id := h.newUser("rt.one@example.com")
	g := h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "staff"}))
	gid := str(g.Body, "id")
	putBody := func(active bool) map[string]any {
		return map[string]any{"schemas": []string{userSchema}, "userName": "rt.one@example.com", "active": active}
	}
	// Warm-up: script loads (EVAL after NOSCRIPT) are not what is measured.
	warm := h.newUser("rt.warm@example.com")
	h.must(200, h.do("GET", "/Users?filter="+urlq(`userName eq "rt.warm@example.com"`), nil))
	h.must(200, h.do("GET", "/Users/"+warm, nil))
	h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": warm}}))))
	h.must(200, h.do("GET", "/Groups/"+gid, nil))
	h.must(200, h.do("PATCH", "/Users/"+warm, patch(op("replace", "", map[string]any{"active": false}))))
	h.must(200, h.do("PATCH", "/Users/"+warm, patch(op("replace", "", map[string]any{"active": true}))))
	cnt.take()

	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   any
		want   int
		max    int // round trips
	}{
		{"filter userName eq", "GET", "/Users?filter=" + urlq(`userName eq "rt.one@example.com"`), nil, 200, 1},
		{"GET by id", "GET", "/Users/" + id, nil, 200, 1},
		{"POST /Users", "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "rt.two@example.com", "active": true, "name": map[string]any{"givenName": "RT", "familyName": "Two"}}, 201, 4},
		{"group add", "PATCH", "/Groups/" + gid, patch(op("add", "members", []map[string]any{{"value": id}})), 204, 1},
		{"GET group", "GET", "/Groups/" + gid, nil, 200, 2},
		{"list groups with members", "GET", "/Groups?startIndex=1&count=10", nil, 200, 3},
		{"PATCH active false", "PATCH", "/Users/" + id, patch(op("replace", "", map[string]any{"active": false})), 200, 3},
		{"PATCH active true", "PATCH", "/Users/" + id, patch(op("Replace", "active", true)), 200, 4},
		{"PATCH no change", "PATCH", "/Users/" + id, patch(op("replace", "", map[string]any{"active": true})), 200, 1},
		{"PUT active false", "PUT", "/Users/" + id, putBody(false), 200, 4},
		{"PUT active true", "PUT", "/Users/" + id, putBody(true), 200, 4},
		{"PUT no change", "PUT", "/Users/" + id, putBody(true), 200, 1},
	} {
		r := h.do(tc.method, tc.path, tc.body)
		if r.Status != tc.want && !(tc.want == 200 && r.Status == 204) {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Raw)
		}
		n, cmds := cnt.take()
		t.Logf("%-20s %2d round trips: %s", tc.name, n, strings.Join(cmds, " "))
		if n > tc.max {
			t.Errorf("%s: %d Redis round trips, bound %d: %s", tc.name, n, tc.max, strings.Join(cmds, " "))
		}
	}

	// The membership worker, for one queued user: the due users and their
	// sequences (2), lock + view with the record, 2 admissions (the GET of
	// what Webflow holds, the PATCH), the record stored, the lock released
	// and the write marked done in one step; then the empty queue that
	// ends the drain.
	// Warm-up: the worker's scripts are loaded.
	for _, name := range []string{"rt.drainwarm@example.com", "rt.drained@example.com"} {
		h.must(204, h.do("PATCH", "/Groups/"+gid, patch(op("add", "members", []map[string]any{{"value": h.newUser(name)}}))))
		if name == "rt.drainwarm@example.com" {
			h.drain()
		}
	}
	cnt.take()
	h.drain()
	n, cmds := cnt.take()
	t.Logf("%-20s %2d round trips: %s", "worker, 1 user", n, strings.Join(cmds, " "))
	if n > 7 {
		t.Errorf("worker, 1 user: %d Redis round trips, bound 7: %s", n, strings.Join(cmds, " "))
	}
	if h.slugs("rt.drained@example.com") != "staff" {
		t.Errorf("the worker did not write the group: %q", h.slugs("rt.drained@example.com"))
	}
}
