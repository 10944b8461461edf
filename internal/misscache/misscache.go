// Package misscache remembers, for a short while, keys that were looked up
// and not found, so that asking again for the same unknown key costs
// nothing: no store round trip, no upstream call.
//
// It holds misses only, never values, so it can never serve stale data; a
// stale entry can only answer "not found" for a key that appeared during
// the entry's lifetime. Callers that make a key appear Forget it, and
// callers that learn the misses may all be wrong (a store rebuilt from
// elsewhere) Clear the cache.
//
// The cache is bounded: past its size it first drops expired entries, then
// an arbitrary quarter of the rest, so a flood of distinct keys costs at
// most the bound in memory and evicts other misses, nothing more.
package misscache

import (
	"sync"
	"time"
)

// Cache is a bounded set of keys with a time to live. The zero value is
// not usable; use New. It is safe for concurrent use.
type Cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	expires map[string]time.Time
}

// New returns a cache that keeps each miss for ttl and at most maxEntries
// misses. now may be nil (time.Now).
func New(ttl time.Duration, maxEntries int, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{ttl: ttl, max: max(maxEntries, 1), now: now, expires: make(map[string]time.Time)}
}

// Has reports whether key was recorded as a miss less than ttl ago.
func (c *Cache) Has(key string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.expires[key]
	if !ok {
		return false
	}
	if !c.now().Before(exp) {
		delete(c.expires, key)
		return false
	}
	return true
}

// Add records key as a miss.
func (c *Cache) Add(key string) {
	if c == nil || c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.expires[key]; !ok && len(c.expires) >= c.max {
		c.evict(now)
	}
	c.expires[key] = now.Add(c.ttl)
}

// evict makes room: expired entries first, then, if the cache is still
// full, about a quarter of the entries (map order, so arbitrary).
func (c *Cache) evict(now time.Time) {
	for k, exp := range c.expires {
		if !now.Before(exp) {
			delete(c.expires, k)
		}
	}
	if len(c.expires) < c.max {
		return
	}
	drop := max(c.max/4, 1)
	for k := range c.expires {
		if drop == 0 {
			break
		}
		delete(c.expires, k)
		drop--
	}
}

// Forget removes key: it exists now.
func (c *Cache) Forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.expires, key)
	c.mu.Unlock()
}

// Clear removes every miss.
func (c *Cache) Clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.expires)
	c.mu.Unlock()
}

// Len returns the number of entries held, expired ones included.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expires)
}
