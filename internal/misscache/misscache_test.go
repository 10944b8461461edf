package misscache

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestCache(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	for _, tc := range []struct {
		name string
		run  func(c *Cache) bool // reports whether "a" is a miss at the end
		want bool
	}{
		{"unknown key", func(c *Cache) bool { return c.Has("a") }, false},
		{"added", func(c *Cache) bool { c.Add("a"); return c.Has("a") }, true},
		{"just before ttl", func(c *Cache) bool {
			c.Add("a")
			clk.t = clk.t.Add(time.Minute - time.Millisecond)
			return c.Has("a")
		}, true},
		{"at ttl", func(c *Cache) bool { c.Add("a"); clk.t = clk.t.Add(time.Minute); return c.Has("a") }, false},
		{"re-added refreshes", func(c *Cache) bool {
			c.Add("a")
			clk.t = clk.t.Add(50 * time.Second)
			c.Add("a")
			clk.t = clk.t.Add(50 * time.Second)
			return c.Has("a")
		}, true},
		{"forgotten", func(c *Cache) bool { c.Add("a"); c.Forget("a"); return c.Has("a") }, false},
		{"cleared", func(c *Cache) bool { c.Add("a"); c.Add("b"); c.Clear(); return c.Has("a") || c.Has("b") }, false},
		{"other keys", func(c *Cache) bool { c.Add("b"); return c.Has("a") }, false},
		{"case matters", func(c *Cache) bool { c.Add("A"); return c.Has("a") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(time.Minute, 100, clk.now)
			if got := tc.run(c); got != tc.want {
				t.Errorf("Has(a) = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCacheIsBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := New(time.Minute, 1000, clk.now)
	for i := range 100_000 {
		c.Add(fmt.Sprintf("%024x", i))
		if c.Len() > 1000 {
			t.Fatalf("%d entries after %d adds; the bound is 1000", c.Len(), i+1)
		}
	}
	// The newest miss is always kept.
	if !c.Has(fmt.Sprintf("%024x", 99_999)) {
		t.Error("the last miss added was evicted")
	}
	// Expired entries go first: a full cache whose other entries have
	// expired makes room without dropping the live one.
	c.Clear()
	for i := range 999 {
		c.Add(fmt.Sprintf("old%d", i))
	}
	clk.t = clk.t.Add(59 * time.Second)
	c.Add("live") // the cache is full now
	clk.t = clk.t.Add(2 * time.Second)
	c.Add("next")
	if !c.Has("live") || !c.Has("next") || c.Len() != 2 {
		t.Errorf("after the expired entries went: live %v, next %v, %d entries", c.Has("live"), c.Has("next"), c.Len())
	}
}

func TestNilAndZeroTTL(t *testing.T) {
	var c *Cache
	c.Add("a")
	c.Forget("a")
	c.Clear()
	if c.Has("a") || c.Len() != 0 {
		t.Error("a nil cache holds nothing")
	}
	z := New(0, 10, nil)
	z.Add("a")
	if z.Has("a") {
		t.Error("a zero ttl caches nothing")
	}
}
