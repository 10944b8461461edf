package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
)

// BenchmarkFilteredGETUserName measures GET /Users?filter=userName eq "…"
// on a site with 10,000 users, over loopback HTTP, with 16 concurrent
// clients. It reports requests per second, p50/p99 latency and Webflow
// calls per request (the goal is 0). The store is the embedded one, or the
// Redis at REDIS_URL when set.
func BenchmarkFilteredGETUserName(b *testing.B) {
	const users = 10000
	h := newBenchBridge(b)
	ctx := context.Background()
	for i := range users {
		u := mapping.User{UserName: fmt.Sprintf("user%05d@example.com", i), Active: true, Name: mapping.Name{GivenName: "U", FamilyName: fmt.Sprint(i)}}
		raw, _ := json.Marshal(u)
		rec := &state.UserRecord{ID: fmt.Sprintf("%024x", i+1), SiteID: testSite, WebflowUserID: fmt.Sprintf("%024x", i+1), UserName: u.UserName, Email: u.UserName, Active: true, SCIM: raw, SyncedAt: time.Now()}
		if err := h.app.store.CreateUser(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	h.sim.ResetRequests()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			n := seq.Add(1) % users
			q := url.QueryEscape(fmt.Sprintf(`userName eq "user%05d@example.com"`, n))
			req, _ := http.NewRequest("GET", h.base+"/Users?filter="+q, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var body struct{ TotalResults int }
			_ = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			local = append(local, time.Since(t0))
			if res.StatusCode != 200 || body.TotalResults != 1 {
				b.Errorf("status %d total %d", res.StatusCode, body.TotalResults)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	b.ReportMetric(float64(h.calls())/float64(max(len(lat), 1)), "webflow-calls/op")
}

func newBenchBridge(b *testing.B) *bridgeHarness { return newBridgeTB(b) }

// BenchmarkMembershipChange reports Webflow calls per affected user when a
// group PATCH adds (or removes) 10 users and the queue drains: 1 GET (what
// Webflow holds now, read under the user's lock, however fresh the
// bridge's copy) + 1 PATCH.
func BenchmarkMembershipChange(b *testing.B) {
	h := newBenchBridge(b)
	const batch = 10
	var ids []string
	for i := range batch * 20 {
		ids = append(ids, h.newUser(fmt.Sprintf("mb%04d@example.com", i)))
	}
	gid := str(h.must(201, h.do("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Premium"})).Body, "id")
	h.sim.ResetRequests()
	b.ResetTimer()
	users := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		chunk := ids[(i*batch)%len(ids) : (i*batch)%len(ids)+batch]
		op := "add"
		if (i/20)%2 == 1 {
			op = "remove"
		}
		var ms []map[string]any
		for _, id := range chunk {
			ms = append(ms, map[string]any{"value": id})
		}
		b.StartTimer()
		h.must(204, h.do("PATCH", "/Groups/"+gid+"?excludedAttributes=members", patch(map[string]any{"op": op, "path": "members", "value": ms})))
		h.drain()
		users += batch
	}
	b.StopTimer()
	patches := float64(h.sim.CountRequests("PATCH", "/v2/sites/*/users/*")) / float64(users)
	gets := float64(h.sim.CountRequests("GET", "/v2/sites/*/users/*")) / float64(users)
	b.ReportMetric(patches, "PATCH/user")
	b.ReportMetric(gets, "GET/user")
	if patches != 1 || gets != 1 {
		b.Errorf("a membership change costs %.2f GET + %.2f PATCH per user, want 1 + 1", gets, patches)
	}
}
