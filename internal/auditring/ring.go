// Package auditring keeps the last audit events a replica saw, for the
// status page: the audit log lines stay the record, this is the glance.
package auditring

import (
	"sync"
	"time"
)

// Event is one change the bridge made in Webflow, as the audit log line
// names it. It holds no token; Email is redacted by whoever shows it.
type Event struct {
	At            time.Time `json:"at"`
	Actor         string    `json:"actor"` // a SCIM token's label, the membership worker, reconcile, a cascade
	Action        string    `json:"action"`
	Site          string    `json:"site,omitempty"`
	WebflowUserID string    `json:"webflowUserId,omitempty"`
	Email         string    `json:"email,omitempty"`
	RequestID     string    `json:"requestId,omitempty"`
}

// Ring holds the last Cap events; it is safe for concurrent use.
type Ring struct {
	mu     sync.Mutex
	events []Event // circular once full
	next   int
	full   bool
}

// New returns a ring of size n (at least 1).
func New(n int) *Ring { return &Ring{events: make([]Event, max(n, 1))} }

// Add records e, dropping the oldest event once the ring is full.
func (r *Ring) Add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[r.next] = e
	r.next = (r.next + 1) % len(r.events)
	if r.next == 0 {
		r.full = true
	}
}

// Last returns the events held, newest first.
func (r *Ring) Last() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.events)
	}
	out := make([]Event, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.events[(r.next-i+len(r.events))%len(r.events)])
	}
	return out
}
