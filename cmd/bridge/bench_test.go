package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
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

func newBenchBridge(b *testing.B) *bridgeHarness {
	var opts []harnessOpt
	if u := os.Getenv("REDIS_URL"); u != "" {
		opts = append(opts, func(c *Config) { c.Redis.URL = u })
	}
	h := newBridgeTB(b, opts...)
	if u := os.Getenv("REDIS_URL"); u != "" {
		b.Cleanup(func() {
			ctx := context.Background()
			iter := h.app.rdb.Scan(ctx, 0, "wfb:{s:"+testSite+"}*", 1000).Iterator()
			for iter.Next(ctx) {
				h.app.rdb.Del(ctx, iter.Val())
			}
		})
	}
	return h
}
