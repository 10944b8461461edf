package authguard

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func check(g *Guard, addr string, valid bool) Result {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = addr
	return g.Check(r, func() bool { return valid })
}

// Burst failures are plain 401s; the next is held for the penalty and
// answered 429 with the time until the budget allows a failure again;
// the budget refills at one failure per Every; a valid token is served
// throughout, and other addresses are not affected.
func TestBudget(t *testing.T) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	g := New(Options{Burst: 3, Every: 10 * time.Second, Penalty: 20 * time.Millisecond, Now: c.Now})
	const a = "203.0.113.7:5555"
	for i := range 3 {
		if r := check(g, a, false); r.OK || r.Limited() {
			t.Fatalf("failure %d within the burst: %+v, want a 401", i+1, r)
		}
	}
	t0 := time.Now()
	r := check(g, a, false)
	if !r.Limited() || r.RetryAfterSeconds() != 10 {
		t.Fatalf("over budget: %+v, want 429 with Retry-After 10s", r)
	}
	if held := time.Since(t0); held < 20*time.Millisecond {
		t.Errorf("an over-budget failure was answered after %v, before its penalty", held)
	}
	if r := check(g, a, true); !r.OK {
		t.Errorf("a valid token from a throttled address: %+v, want served", r)
	}
	if r := check(g, "203.0.113.8:1", false); r.OK || r.Limited() {
		t.Errorf("another address: %+v, want a 401", r)
	}
	c.Add(10 * time.Second) // one failure refilled
	if r := check(g, a, false); r.Limited() {
		t.Errorf("after Every: %+v, want a 401", r)
	}
	if r := check(g, a, false); !r.Limited() {
		t.Errorf("the refilled failure is spent: %+v, want 429", r)
	}
	c.Add(time.Minute)
	for i := range 3 {
		if r := check(g, a, false); r.Limited() {
			t.Errorf("after a minute, failure %d: %+v, want a 401", i+1, r)
		}
	}
}

// While an address has MaxHeld failures held, every further request from
// it is refused at once and its token is not even compared: the guessing
// rate per address is bounded by MaxHeld/Penalty, whatever the client's
// concurrency.
func TestHeldSlotsBoundGuessing(t *testing.T) {
	g := New(Options{Burst: 1, Every: time.Hour, Penalty: 300 * time.Millisecond, MaxHeld: 2})
	const a = "198.51.100.1:1"
	if r := check(g, a, false); r.Limited() {
		t.Fatal("the burst")
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); check(g, a, false) }()
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		g.mu.Lock()
		held := g.addrs[ClientKey(a)].held
		g.mu.Unlock()
		if held == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held %d, want 2", held)
		}
		time.Sleep(time.Millisecond)
	}
	var compared atomic.Int64
	for range 1000 {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = a
		res := g.Check(r, func() bool { compared.Add(1); return true })
		if !res.Limited() {
			t.Fatalf("a request while every slot is held: %+v, want 429", res)
		}
	}
	if n := compared.Load(); n != 0 {
		t.Errorf("%d tokens were compared while every slot was held, want 0", n)
	}
	if r := check(g, "198.51.100.2:1", true); !r.OK {
		t.Errorf("another address: %+v", r)
	}
	wg.Wait()
	if r := check(g, a, true); !r.OK {
		t.Errorf("after the penalties, a valid token: %+v, want served", r)
	}
}

// The table never holds more than MaxAddresses entries, however many
// addresses fail.
func TestBoundedMemory(t *testing.T) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	g := New(Options{MaxAddresses: 100, Now: c.Now})
	for i := range 20_000 {
		addr := fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		if i%2 == 1 {
			addr = fmt.Sprintf("[2001:db8:%x::1]:1", i)
		}
		check(g, addr, false)
		if n := g.Len(); n > 100 {
			t.Fatalf("after %d addresses the table holds %d entries, want at most 100", i+1, n)
		}
		if i%1000 == 0 {
			c.Add(time.Second)
		}
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7:5555":           "203.0.113.7",
		"[::ffff:203.0.113.7]:1":     "203.0.113.7",
		"[2001:db8:1:2:aaaa::1]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:443": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"pipe":                       "pipe",
		"":                           "",
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNilGuard(t *testing.T) {
	var g *Guard
	if r := check(g, "1.2.3.4:1", false); r.OK || r.Limited() {
		t.Errorf("nil guard, wrong token: %+v", r)
	}
	if r := check(g, "1.2.3.4:1", true); !r.OK {
		t.Errorf("nil guard, valid token: %+v", r)
	}
}
