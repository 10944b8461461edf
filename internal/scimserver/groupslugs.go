package scimserver

import "sync"

// groupSlugs remembers the slug of every group this replica has read
// linked. A linked group's slug never changes, so a membership PATCH of a
// known group needs no read of the group: the change itself checks, in
// the same script, that the slug is still linked to the group
// (state.ChangeOptions.LinkedTo), and an unlinked group is forgotten and
// served by the full path (404). Bounded by the site's linked groups;
// emptied should it ever hold maxGroupSlugs.
type groupSlugs struct {
	mu sync.Mutex
	m  map[string]string // group id → slug
}

const maxGroupSlugs = 10_000

func (c *groupSlugs) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	slug, ok := c.m[id]
	return slug, ok
}

func (c *groupSlugs) put(id, slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[id] == slug {
		return
	}
	if c.m == nil || len(c.m) >= maxGroupSlugs {
		c.m = map[string]string{}
	}
	c.m[id] = slug
}

func (c *groupSlugs) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
