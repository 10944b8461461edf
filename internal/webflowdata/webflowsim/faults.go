package webflowsim

import (
	"math/rand"
	"net/http"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Fault makes the next Count requests matching Method and Path misbehave.
// It exists so clients can be tested against the failures Webflow really
// produces: throttling, 5xx, slow answers and dropped connections.
type Fault struct {
	Method string // "" = any
	// Path is a path.Match glob on the URL path, e.g.
	// "/v2/sites/*/users/*"; "" = any.
	Path  string
	Count int // default 1
	// Status is the status to answer (429, 500, 502, 503...). 0 with a
	// Delay means "delay, then serve normally".
	Status int
	Delay  time.Duration
	Drop   bool // hijack and close the connection without answering
	// After applies the fault once the request has been processed: the
	// change happens, the answer is lost. This is the ambiguous failure a
	// client must not blindly retry (a POST invite would invite twice).
	After      bool
	RetryAfter string // for 429; default "60"
}

// RandomFaults fails requests at random, reproducibly: the same Seed gives
// the same sequence of decisions for the same sequence of requests. The
// zero value disables it.
type RandomFaults struct {
	Seed     int64
	Rate     float64 // 0..1
	Statuses []int   // default [500]
	Method   string  // optional filter, "" = any
	Path     string  // optional glob filter, "" = any
	// DropRate is the share of faults that drop the connection instead of
	// answering a status; AfterRate the share applied after the request
	// was processed (see Fault.After).
	DropRate  float64
	AfterRate float64
}

type faultSet struct {
	active atomic.Bool // fast path: nothing configured
	mu     sync.Mutex
	list   []*Fault
	rf     RandomFaults
	rnd    *rand.Rand
}

func (f *faultSet) refresh() { f.active.Store(len(f.list) > 0 || f.rf.Rate > 0) }

func matches(method, pattern string, r *http.Request) bool {
	if method != "" && method != r.Method {
		return false
	}
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, r.URL.Path)
	return err == nil && ok
}

// next consumes and returns the fault for r, if any.
func (f *faultSet) next(r *http.Request) (Fault, bool) {
	if !f.active.Load() {
		return Fault{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ft := range f.list {
		if !matches(ft.Method, ft.Path, r) {
			continue
		}
		out := *ft
		ft.Count--
		if ft.Count <= 0 {
			f.list = append(f.list[:i:i], f.list[i+1:]...)
			f.refresh()
		}
		return out, true
	}
	if f.rf.Rate > 0 && matches(f.rf.Method, f.rf.Path, r) {
		if f.rnd.Float64() < f.rf.Rate {
			st := f.rf.Statuses
			if len(st) == 0 {
				st = []int{http.StatusInternalServerError}
			}
			ft := Fault{Status: st[f.rnd.Intn(len(st))]}
			if ft.Status == http.StatusTooManyRequests {
				ft.RetryAfter = "1"
			}
			if f.rnd.Float64() < f.rf.DropRate {
				ft.Drop = true
			}
			if f.rnd.Float64() < f.rf.AfterRate && ft.Status != http.StatusTooManyRequests {
				ft.After = true
			}
			return ft, true
		}
	}
	return Fault{}, false
}

// InjectFault queues a fault; faults are consumed in the order injected.
func (s *Simulator) InjectFault(ft Fault) {
	if ft.Count <= 0 {
		ft.Count = 1
	}
	s.faults.mu.Lock()
	s.faults.list = append(s.faults.list, &ft)
	s.faults.refresh()
	s.faults.mu.Unlock()
}

// SetRandomFaults replaces the random-fault setting; the zero value
// disables it. The generator restarts from rf.Seed.
func (s *Simulator) SetRandomFaults(rf RandomFaults) {
	s.faults.mu.Lock()
	s.faults.rf = rf
	s.faults.rnd = rand.New(rand.NewSource(rf.Seed))
	s.faults.refresh()
	s.faults.mu.Unlock()
}

// ClearFaults removes queued and random faults.
func (s *Simulator) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.list = nil
	s.faults.rf = RandomFaults{}
	s.faults.refresh()
	s.faults.mu.Unlock()
}

// applyFault serves a fault for r and reports whether the request is done.
// A fault with After first processes the request against a writer that
// throws the answer away.
func (s *Simulator) applyFault(w *recorder, r *http.Request, isSCIM bool) bool {
	ft, ok := s.faults.next(r)
	if !ok {
		return false
	}
	if ft.After {
		lost := &recorder{ResponseWriter: &discardWriter{h: http.Header{}}}
		if isSCIM {
			s.serveSCIM(lost, r)
		} else {
			s.serveAPI(lost, r)
		}
	}
	if ft.Delay > 0 {
		t := time.NewTimer(ft.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			w.status = 499
			return true
		}
	}
	if ft.Drop {
		w.status = 0 // logged as 0: no answer was sent
		if w.logNow != nil {
			w.logNow()
		}
		conn, _, err := http.NewResponseController(w.ResponseWriter).Hijack()
		if err != nil {
			// Cannot hijack (HTTP/2): abort the stream instead, which the
			// server turns into a reset without a response.
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
		return true
	}
	if ft.Status == 0 {
		return false // delay only
	}
	if isSCIM {
		writeSCIMError(w, ft.Status, "", http.StatusText(ft.Status))
		return true
	}
	s.limiter.peekHeaders(w.Header())
	if ft.Status == http.StatusTooManyRequests {
		ra := ft.RetryAfter
		if ra == "" {
			ra = "60"
		}
		writeTooMany(w, ra)
		return true
	}
	if ft.RetryAfter != "" {
		w.Header()[hdrRetryAfter] = []string{ft.RetryAfter}
	}
	code, msg := codeForStatus(ft.Status)
	if ft.Status >= 500 && ft.Status != http.StatusInternalServerError {
		msg = strconv.Itoa(ft.Status) + " " + http.StatusText(ft.Status)
	}
	writeError(w, ft.Status, code, msg)
	return true
}

// discardWriter swallows an answer that a fault will replace.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
