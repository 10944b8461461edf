package webflowsim

import (
	"path"
	"sync"
	"time"
)

// RequestRecord is one served request. It names the token by label only:
// the simulator never records a token.
type RequestRecord struct {
	Method     string        `json:"method"`
	Path       string        `json:"path"`
	Status     int           `json:"status"` // 0 = connection dropped
	TokenLabel string        `json:"tokenLabel,omitempty"`
	Time       time.Time     `json:"time"`
	Duration   time.Duration `json:"duration"`
}

// requestLog is a ring buffer of the latest records plus exact counters by
// method and path, so long benchmarks keep memory bounded without losing
// counts.
type requestLog struct {
	mu     sync.Mutex
	buf    []RequestRecord
	size   int // capacity of the ring
	next   int // slot to overwrite once full
	full   bool
	counts map[methodPath]int
}

type methodPath struct{ method, path string }

func newRequestLog(size int) *requestLog {
	return &requestLog{buf: make([]RequestRecord, 0, min(size, 1024)), counts: map[methodPath]int{}, size: size}
}

func (l *requestLog) add(method, p string, status int, label string, at time.Time, d time.Duration) {
	rec := RequestRecord{Method: method, Path: p, Status: status, TokenLabel: label, Time: at, Duration: d}
	l.mu.Lock()
	l.counts[methodPath{method, p}]++
	if !l.full {
		l.buf = append(l.buf, rec)
		if len(l.buf) == l.size {
			l.full = true
			l.next = 0
		}
	} else {
		l.buf[l.next] = rec
		l.next = (l.next + 1) % len(l.buf)
	}
	l.mu.Unlock()
}

func (l *requestLog) snapshot() []RequestRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]RequestRecord, 0, len(l.buf))
	if l.full {
		out = append(out, l.buf[l.next:]...)
		out = append(out, l.buf[:l.next]...)
	} else {
		out = append(out, l.buf...)
	}
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = l.buf[:0]
	l.full = false
	l.next = 0
	l.counts = map[methodPath]int{}
}

func (l *requestLog) count(method, pattern string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, c := range l.counts {
		if method != "" && k.method != method {
			continue
		}
		if pattern != "" {
			if ok, err := path.Match(pattern, k.path); err != nil || !ok {
				continue
			}
		}
		n += c
	}
	return n
}

// Requests returns the retained request log, oldest first.
func (s *Simulator) Requests() []RequestRecord { return s.log.snapshot() }

// ResetRequests clears the request log and the counters.
func (s *Simulator) ResetRequests() { s.log.reset() }

// CountRequests counts every request served since the last reset whose
// method equals method ("" = any) and whose path matches the path.Match
// glob pathPattern ("" = any). It is exact even when the log has wrapped.
func (s *Simulator) CountRequests(method, pathPattern string) int {
	return s.log.count(method, pathPattern)
}
