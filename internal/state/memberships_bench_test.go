package state

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptTimer records how long each membership script took, client side.
type scriptTimer struct {
	sha     string
	mu      sync.Mutex
	longest time.Duration
}

func (s *scriptTimer) DialHook(next redis.DialHook) redis.DialHook { return next }
func (s *scriptTimer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (s *scriptTimer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t0 := time.Now()
		err := next(ctx, cmd)
		if args := cmd.Args(); len(args) > 1 && args[1] == s.sha {
			d := time.Since(t0)
			s.mu.Lock()
			s.longest = max(s.longest, d)
			s.mu.Unlock()
		}
		return err
	}
}

// BenchmarkLargeMembershipChange: on site A, 8 writers replace a group of
// 10,000 members by another 10,000 at once (as a reconcile, or an unlink
// with remove-members, of a large group would), while site B looks a
// user up, one lookup at a time. It reports B's lookup p50 and p99 and the
// longest membership script round trip (its queueing behind the other
// writers' scripts included), with the changes in scripts of at most 250
// flips (the default) and in one script each (the old main).
//
//	REDIS_URL=redis://127.0.0.1:6379/9 go test -run '^$' -bench LargeMembershipChange -benchtime 2x ./internal/state/
func BenchmarkLargeMembershipChange(b *testing.B) {
	if os.Getenv("REDIS_URL") == "" {
		b.Skip("REDIS_URL not set: the figures mean something on a real Redis only")
	}
	const siteB = "6f0000000000000000000001"
	for _, bc := range []struct {
		name  string
		chunk int
	}{{"chunks=250", defaultMemberChunk}, {"one-script", 1 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := realRedis(b)
			prefix := "wfbbench-" + randomHex(b, 6)
			b.Cleanup(func() { deletePrefix(b, rdb, prefix) })
			s := NewRedisStore(rdb, Options{Prefix: prefix})
			s.memberChunk = bc.chunk
			timer := &scriptTimer{sha: redis.NewScript(changeMembersScript).Hash()}
			rdb.AddHook(timer)
			ctx := context.Background()
			if err := s.CreateUser(ctx, &UserRecord{ID: "b1", SiteID: siteB, UserName: "b@example.com", Email: "b@example.com"}); err != nil {
				b.Fatal(err)
			}
			lists := [2][]string{}
			for l := range lists {
				for i := range 10000 {
					lists[l] = append(lists[l], fmt.Sprintf("%d-%05d", l, i))
				}
			}
			if _, err := s.ChangeMembers(ctx, siteA, "big", []MemberOp{{Op: "replace", IDs: lists[0]}}, ChangeOptions{Enqueue: true}); err != nil {
				b.Fatal(err)
			}
			timer.longest = 0
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				stop := make(chan struct{})
				var reader sync.WaitGroup
				reader.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						t0 := time.Now()
						if _, err := s.FindUser(ctx, siteB, IndexUserName, "b@example.com"); err != nil {
							b.Error(err)
							return
						}
						lat = append(lat, time.Since(t0))
					}
				})
				var writers sync.WaitGroup
				for w := range 8 {
					writers.Go(func() {
						if _, err := s.ChangeMembers(ctx, siteA, "big", []MemberOp{{Op: "replace", IDs: lists[w%2]}}, ChangeOptions{Enqueue: true}); err != nil {
							b.Error(err)
						}
					})
				}
				writers.Wait()
				close(stop)
				reader.Wait()
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			if len(lat) > 0 {
				b.ReportMetric(ms(lat[len(lat)/2]), "B-p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "B-p99-ms")
			}
			b.ReportMetric(ms(timer.longest), "longest-script-rtt-ms")
		})
	}
}
