package webflowsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGetUser serves GET /v2/sites/{id}/users/{user_id} over real
// loopback HTTP with keep-alive and rate limits off, and reports req/s.
func BenchmarkGetUser(b *testing.B) {
	sim := New(Options{})
	defer sim.Close()
	if err := sim.LoadSeed(DemoSeed()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if _, err := sim.AddUser(siteID, SeedUser{Email: "bench" + strconv.Itoa(i) + "@example.com", Data: map[string]any{"country": "NZ"}}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	url := srv.URL + "/v2/sites/" + siteID + "/users/" + sim.Users(siteID)[500].ID
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+siteTok)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
