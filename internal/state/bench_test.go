package state

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

const benchUsers = 10_000

// seedUsers creates n users in site concurrently, because one create per
// round trip would dominate the benchmark's set-up time.
func seedUsers(b *testing.B, s Store, site string, n int) {
	b.Helper()
	ctx := context.Background()
	const workers = 16
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				rec := &UserRecord{ID: fmt.Sprintf("id-%05d", i), SiteID: site, UserName: fmt.Sprintf("User%05d@Example.com", i),
					Email: fmt.Sprintf("user%05d@example.com", i), ExternalID: fmt.Sprintf("ext-%05d", i),
					WebflowUserID: fmt.Sprintf("wf-%05d", i), DisplayName: fmt.Sprintf("User %d", i%100), Active: true,
					SCIM: []byte(`{"name":{"givenName":"Some","familyName":"User"},"title":"Engineer","locale":"en-US"}`)}
				if err := s.CreateUser(ctx, rec); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
}

func benchFind(b *testing.B, s Store) {
	seedUsers(b, s, "bench", benchUsers)
	ctx := context.Background()
	names := make([]string, benchUsers)
	for i := range names {
		names[i] = strings.ToLower(fmt.Sprintf("User%05d@Example.com", i)) // case differs from stored
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	cpu := processCPU()
	for b.Loop() {
		rec, err := s.FindUser(ctx, "bench", IndexUserName, names[i%benchUsers])
		if err != nil {
			b.Fatal(err)
		}
		if rec.ID != fmt.Sprintf("id-%05d", i%benchUsers) {
			b.Fatalf("got %q", rec.ID)
		}
		i++
	}
	// The client's CPU per lookup (the Redis server's is not in it).
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkFindUserByUserName measures the one-round-trip index → record
// lookup the SCIM filter `userName eq "..."` uses, over 10,000 users.
func BenchmarkFindUserByUserName(b *testing.B) {
	b.Run("miniredis", func(b *testing.B) {
		_, rdb := newMiniredisClient(b, false)
		benchFind(b, NewRedisStore(rdb, Options{}))
	})
	b.Run("redis", func(b *testing.B) {
		rdb := realRedis(b)
		prefix := "wfbbench-" + randomHex(b, 6)
		b.Cleanup(func() { deletePrefix(b, rdb, prefix) })
		benchFind(b, NewRedisStore(rdb, Options{Prefix: prefix}))
	})
}
