package webflowdata_test

import (
	"context"
	"testing"

	wf "github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
)

// BenchmarkClientCall is one Webflow call through the Client against the
// simulator over loopback HTTP (keep-alive, rate limits off): the GET the
// membership worker and a PUT make, and the PATCH a deactivate or a
// membership change sends. allocs/op includes the simulator's own, which
// is the same before and after a change to the Client:
//
//	go test -run '^$' -bench ClientCall -benchmem ./internal/webflowdata/
func BenchmarkClientCall(b *testing.B) {
	ctx := context.Background()
	h := newHarness(b, webflowsim.Options{})
	c := h.client(b, webflowsim.DemoOAuthToken, wf.Config{})
	u, err := c.InviteUser(ctx, site, wf.InviteUserRequest{Email: "bench.call@example.com", AccessGroups: []string{"members"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GetUser", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetUser(ctx, site, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateUser", func(b *testing.B) {
		reqs := []wf.UpdateUserRequest{
			{Data: wf.UserData{"name": "Bench Call"}, AccessGroups: []string{"members", "premium"}},
			{Data: wf.UserData{"name": "Bench Call"}, AccessGroups: []string{"members"}},
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.UpdateUser(ctx, site, u.ID, reqs[i%2]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
