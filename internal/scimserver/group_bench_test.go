package scimserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/webflowscim/bridge/internal/state"
)

// BenchmarkLargeGroup measures a group of 10,000 members as an IdP meets
// it: GET /Groups/{id} (every member with its userName, from the names
// hash in one round trip: the goal is ≤ 10 ms per GET), the same GET
// without members, and a PATCH adding one member as Okta and Entra send it
// (no query parameters: 204). Miniredis by default; a real Redis with
// REDIS_URL:
//
//	REDIS_URL=redis://127.0.0.1:6379/9 go test -run '^$' -bench LargeGroup -benchtime 200x ./internal/scimserver/
func BenchmarkLargeGroup(b *testing.B) {
	const members = 10_000
	f := newBoundsFixture(b, func(o *Options) { o.MaxMembersPerRequest = members })
	ctx := context.Background()
	ids := make([]string, members+1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(ids); i += 8 {
				id := fmt.Sprintf("%024x", i+1)
				ids[i] = id
				rec := &state.UserRecord{ID: id, SiteID: boundsSiteA, UserName: fmt.Sprintf("member.%06d@example.com", i), Email: fmt.Sprintf("member.%06d@example.com", i), Active: true}
				if err := f.store.CreateUser(ctx, rec); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	g := f.do(b, boundsSiteA, "POST", "/Groups", groupBody("Staff", nil))
	if g.status != 201 {
		b.Fatalf("POST /Groups: %d %s", g.status, g.raw)
	}
	gid, _ := g.body["id"].(string)
	if _, err := f.store.ChangeMembers(ctx, boundsSiteA, "staff", []state.MemberOp{{Op: "add", IDs: ids[:members]}}, state.ChangeOptions{}); err != nil {
		b.Fatal(err)
	}
	if a := f.do(b, boundsSiteA, "GET", "/Groups/"+gid, nil); a.status != 200 || len(a.body["members"].([]any)) != members {
		b.Fatalf("GET: %d, %d members", a.status, len(a.body["members"].([]any)))
	}
	b.Run("GET /Groups/{id} 10k members", func(b *testing.B) {
		n := 0
		for b.Loop() {
			// Not f.do: decoding 1.7 MB of JSON in the client would be
			// most of the time measured.
			status, size := f.get(b, "/Groups/"+gid)
			if status != 200 {
				b.Fatalf("status %d", status)
			}
			n = size
		}
		b.ReportMetric(float64(n), "bytes/answer")
	})
	b.Run("GET /Groups/{id}?excludedAttributes=members", func(b *testing.B) {
		for b.Loop() {
			if a := f.do(b, boundsSiteA, "GET", "/Groups/"+gid+"?excludedAttributes=members", nil); a.status != 200 {
				b.Fatalf("%d %.200s", a.status, a.raw)
			}
		}
	})
	b.Run("PATCH add one member (IdP form)", func(b *testing.B) {
		add := patchBody(map[string]any{"op": "add", "path": "members", "value": memberValues(ids[members:])})
		remove := patchBody(map[string]any{"op": "remove", "path": "members", "value": memberValues(ids[members:])})
		i := 0
		for b.Loop() {
			body := add
			if i%2 == 1 {
				body = remove
			}
			i++
			if a := f.do(b, boundsSiteA, "PATCH", "/Groups/"+gid, body); a.status != 204 {
				b.Fatalf("%d %.200s", a.status, a.raw)
			}
		}
	})
}

// get sends GET path to site A and returns the status and the body's
// size, without decoding it.
func (f *boundsFixture) get(t testing.TB, path string) (int, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", f.ts.URL+"/sites/"+boundsSiteA+"/scim/v2"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+boundsTokenA)
	res, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	n, _ := io.Copy(io.Discard, res.Body)
	return res.StatusCode, int(n)
}
