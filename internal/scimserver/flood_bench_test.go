package scimserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/state"
)

// BenchmarkSiteFlood measures site B's lookup latency while site A is
// flooded: `flood` clients send site A, back to back, a mix of the most
// expensive requests the bounds allow (the worst 2 KiB filter, a PATCH of
// 1,000 group members, and plain lookups). Site B's client sends one
// `userName eq` lookup at a time; its p50 and p99 are reported, with the
// share of site A's requests answered 429.
//
//	go test -run '^$' -bench SiteFlood -benchtime 400x ./internal/scimserver/
//
// "limit=off" is the bridge without the per-site limit (the old main);
// "limit=16" the default; "no-flood" is site B alone.
func BenchmarkSiteFlood(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int
		flood int
	}{
		{"no-flood", DefaultMaxConcurrentRequestsPerSite, 0},
		{"limit=off/flood=128", 1 << 20, 128},
		{"limit=32/flood=128", 32, 128},
		{fmt.Sprintf("limit=%d/flood=128", DefaultMaxConcurrentRequestsPerSite), DefaultMaxConcurrentRequestsPerSite, 128},
		{"limit=8/flood=128", 8, 128},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newBoundsFixture(b, func(o *Options) { o.MaxConcurrentRequestsPerSite = bc.limit })
			ctx := context.Background()
			const members = 1000
			ids := make([]string, members)
			for i := range ids {
				ids[i] = fmt.Sprintf("flood-%06d", i)
				rec := &state.UserRecord{ID: ids[i], SiteID: boundsSiteA, UserName: ids[i] + "@example.com", Email: ids[i] + "@example.com", Active: true}
				if err := f.store.CreateUser(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.store.CreateUser(ctx, &state.UserRecord{ID: "b-user", SiteID: boundsSiteB, UserName: "b@example.com", Email: "b@example.com", Active: true}); err != nil {
				b.Fatal(err)
			}
			g := f.do(b, boundsSiteA, "POST", "/Groups", []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Staff"}`))
			gid, _ := g.body["id"].(string)
			if g.status != 201 || gid == "" {
				b.Fatalf("linking the group: %d %s", g.status, g.raw)
			}
			memberPatch := func(op string) []byte {
				vals := make([]map[string]string, len(ids))
				for i, id := range ids {
					vals[i] = map[string]string{"value": id}
				}
				body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []map[string]any{{"op": op, "path": "members", "value": vals}}})
				return body
			}
			addAll, removeAll := memberPatch("add"), memberPatch("remove")
			heavyFilter := "/Users?filter=" + url.QueryEscape(worstAcceptedFilter()) + "&count=1"
			lightA := "/Users?filter=" + url.QueryEscape(`userName eq "flood-000001@example.com"`)
			lookupB := "/Users?filter=" + url.QueryEscape(`userName eq "b@example.com"`)

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var sent, busy, served atomic.Int64
			for c := range bc.flood {
				wg.Go(func() {
					for n := c; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						var status int
						var retry string
						switch n % 4 {
						case 0:
							status, retry = f.send("GET", boundsSiteA, heavyFilter, nil)
						case 1:
							status, retry = f.send("PATCH", boundsSiteA, "/Groups/"+gid, addAll)
						case 2:
							status, retry = f.send("PATCH", boundsSiteA, "/Groups/"+gid, removeAll)
						default:
							status, retry = f.send("GET", boundsSiteA, lightA, nil)
						}
						sent.Add(1)
						switch status {
						case 429:
							// An IdP honours Retry-After (Okta and Entra do).
							busy.Add(1)
							secs, _ := strconv.Atoi(retry)
							select {
							case <-stop:
								return
							case <-time.After(time.Duration(max(secs, 1)) * time.Second):
							}
						case 200, 204:
							served.Add(1)
						}
					}
				})
			}
			if bc.flood > 0 {
				time.Sleep(500 * time.Millisecond) // let the flood build up
			}
			lat := make([]time.Duration, 0, b.N)
			failed := 0
			start := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if st, _ := f.send("GET", boundsSiteB, lookupB, nil); st != 200 {
					failed++ // e.g. 503: the Redis pool ran dry under the flood
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(failed), "B-failed")
			b.ReportMetric(float64(served.Load())/elapsed.Seconds(), "A-served/s")
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			b.ReportMetric(ms(lat[len(lat)/2]), "B-p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "B-p99-ms")
			if n := sent.Load(); n > 0 {
				b.ReportMetric(float64(busy.Load())/float64(n)*100, "A-429-%")
			}
		})
	}
}

// send is do for load generators: no testing.TB (it runs outside the
// benchmark's goroutine); 0 when the request failed.
func (f *boundsFixture) send(method, site, path string, body []byte) (status int, retryAfter string) {
	tok := boundsTokenA
	if site == boundsSiteB {
		tok = boundsTokenB
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, f.ts.URL+"/sites/"+site+"/scim/v2"+path, rd)
	if err != nil {
		return 0, ""
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := f.ts.Client().Do(req)
	if err != nil {
		return 0, ""
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}
