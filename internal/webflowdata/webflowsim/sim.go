// Package webflowsim is an in-process simulator of the Webflow Data API v2
// as last published before Webflow removed User Accounts on 2026-01-29,
// plus the "removed" behaviour of a current Webflow and a stand-in for
// Webflow's native SCIM endpoint for workspace collaborators.
//
// The simulator exists so the bridge can be built, tested and benchmarked
// against the exact wire contract (shared with package webflowdata) without
// a live upstream, which no longer exists for the Users API. It is an
// http.Handler; tests mount it with httptest.NewServer and point a client
// at srv.URL + "/v2".
//
// The admin API under Options.AdminPrefix has no authentication: whoever
// serves the simulator must only listen on loopback.
package webflowsim

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/webflowscim/bridge/internal/webflowdata"
)

// UsersMode selects whether the Users and access-group routes exist.
type UsersMode string

const (
	// ModeLegacy serves the Users API exactly as last published.
	ModeLegacy UsersMode = "legacy"
	// ModeRemoved answers every users/accessgroups route the way a Webflow
	// after 2026-01-29 would (RemovedStatus/RemovedCode).
	ModeRemoved UsersMode = "removed"
)

// Options configures a Simulator. The zero value is usable: every field has
// a documented default.
type Options struct {
	UsersMode     UsersMode // default ModeLegacy
	RemovedStatus int       // default 404
	RemovedCode   string    // default "resource_not_found"
	// RateLimitPerMinute is the budget per token; 0 = unlimited. Seed
	// tokens may override it with rateLimitPerMinute.
	RateLimitPerMinute int
	// RateWindow is the window the budget is counted over; default one
	// minute, as Webflow does. Tests compress time with a shorter one.
	RateWindow   time.Duration
	SCIMBasePath string // default "/scim/v2"
	// SCIMGroupsStatus is what /Groups answers; Webflow's native SCIM does
	// not support groups. Default 404.
	SCIMGroupsStatus int
	AdminPrefix      string           // default "/_sim"
	Now              func() time.Time // default time.Now
	// WebhookRetryInterval is the pause between delivery attempts; Webflow
	// uses 10 minutes, tests use milliseconds.
	WebhookRetryInterval time.Duration
	WebhookClient        *http.Client // default: 10s timeout
	MaxUsersPerSite      int          // default 20000, Webflow's per-site cap
	// RequestLogSize bounds the request log (a ring buffer), so long
	// benchmarks do not grow memory. Default 100000. Counts stay exact.
	RequestLogSize int
	// PatchDropsEcommerce makes a PATCH's accessGroups replace the whole
	// list, ecommerce groups included: an ecommerce group the body does
	// not list is removed. Whether Webflow keeps them is not documented
	// (webflow-api.md §2.6); this is the case in which a client that
	// writes from a stale copy loses what a customer bought.
	PatchDropsEcommerce bool
	// Readings answers what the Enterprise reference leaves unknown; the
	// zero value is the safe reading of each (see Readings).
	Readings Readings
}

func (o *Options) defaults() {
	if o.UsersMode == "" {
		o.UsersMode = ModeLegacy
	}
	if o.RemovedStatus == 0 {
		o.RemovedStatus = http.StatusNotFound
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.RemovedCode == "" {
		o.RemovedCode = webflowdata.CodeResourceNotFound
	}
	if o.SCIMBasePath == "" {
		o.SCIMBasePath = "/scim/v2"
	}
	o.SCIMBasePath = "/" + strings.Trim(o.SCIMBasePath, "/")
	if o.SCIMGroupsStatus == 0 {
		o.SCIMGroupsStatus = http.StatusNotFound
	}
	if o.AdminPrefix == "" {
		o.AdminPrefix = "/_sim"
	}
	o.AdminPrefix = "/" + strings.Trim(o.AdminPrefix, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.WebhookRetryInterval == 0 {
		o.WebhookRetryInterval = 10 * time.Minute
	}
	if o.WebhookClient == nil {
		o.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxUsersPerSite == 0 {
		o.MaxUsersPerSite = 20000
	}
	if o.RequestLogSize <= 0 {
		o.RequestLogSize = 100000
	}
}

// Simulator is the fake Webflow. All state is behind its locks; it is safe
// for concurrent use.
type Simulator struct {
	opts Options // immutable after New except through the setters below

	mu        sync.RWMutex // guards the Webflow state below
	usersMode UsersMode
	dropEcom  bool // PATCH replaces ecommerce groups too (Options.PatchDropsEcommerce)
	removedSt int
	removedCd string
	workspace seedWorkspaceState
	sites     map[string]*siteState
	siteOrder []string
	tokens    map[string]*token // by bearer value
	scimTok   map[string]bool
	webhooks  map[string]*webhookState
	invites   []Invite
	inviteCnt map[string]int // by lower-cased email
	scim      *scimStore
	ids       *idGen
	ent       *entState // workspace members, invites, site access
	readings  Readings

	limiter *limiter
	faults  *faultSet
	log     *requestLog

	deliv     *deliveries
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// seedWorkspaceState is the workspace every site belongs to.
type seedWorkspaceState struct {
	ID   string
	Name string
}

// New returns an empty simulator; load state with LoadSeed.
func New(opts Options) *Simulator {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Simulator{
		opts:      opts,
		usersMode: opts.UsersMode,
		dropEcom:  opts.PatchDropsEcommerce,
		removedSt: opts.RemovedStatus,
		removedCd: opts.RemovedCode,
		sites:     map[string]*siteState{},
		tokens:    map[string]*token{},
		scimTok:   map[string]bool{},
		webhooks:  map[string]*webhookState{},
		inviteCnt: map[string]int{},
		ids:       newIDGen(),
		ent:       newEntState(),
		readings:  opts.Readings.normalized(),
		limiter:   newLimiter(opts.RateLimitPerMinute),
		faults:    &faultSet{},
		log:       newRequestLog(opts.RequestLogSize),
		deliv:     &deliveries{},
		ctx:       ctx,
		cancel:    cancel,
	}
	s.scim = newSCIMStore()
	s.workspace = seedWorkspaceState{ID: s.ids.objectID(opts.Now()), Name: "Workspace"}
	return s
}

func (s *Simulator) now() time.Time { return s.opts.Now() }

// Close stops webhook delivery goroutines and waits for them.
func (s *Simulator) Close() {
	s.closeOnce.Do(func() {
		s.deliv.mu.Lock()
		s.deliv.closed = true
		s.deliv.mu.Unlock()
		s.cancel()
		s.wg.Wait()
	})
}

// SetUsersMode switches between legacy and removed behaviour at runtime.
func (s *Simulator) SetUsersMode(m UsersMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == "" {
		m = ModeLegacy
	}
	s.usersMode = m
}

// SetPatchDropsEcommerce switches Options.PatchDropsEcommerce at runtime.
func (s *Simulator) SetPatchDropsEcommerce(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropEcom = drop
}

// SetRemovedAnswer sets what users/accessgroups routes answer in removed
// mode; zero values keep the current setting.
func (s *Simulator) SetRemovedAnswer(status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status != 0 {
		s.removedSt = status
	}
	if code != "" {
		s.removedCd = code
	}
}

// UsersModeNow reports the current mode.
func (s *Simulator) UsersModeNow() UsersMode {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.usersMode
}

// ServeHTTP routes to the admin API, the native SCIM endpoint or the Data
// API. Faults apply to everything but the admin API, before auth and rate
// limiting, because real outages do not care who is asking.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == s.opts.AdminPrefix || strings.HasPrefix(p, s.opts.AdminPrefix+"/") {
		s.serveAdmin(w, r)
		return
	}
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	logged := false
	rec.logNow = func() {
		if !logged {
			logged = true
			s.log.add(r.Method, p, rec.status, rec.label, s.now(), time.Since(start))
		}
	}
	isSCIM := p == s.opts.SCIMBasePath || strings.HasPrefix(p, s.opts.SCIMBasePath+"/")
	if s.applyFault(rec, r, isSCIM) {
		rec.logNow()
		return
	}
	if isSCIM {
		s.serveSCIM(rec, r)
	} else {
		s.serveAPI(rec, r)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	s.log.add(r.Method, p, rec.status, rec.label, s.now(), time.Since(start))
}

// recorder captures the status and the token label for the request log.
type recorder struct {
	// logNow logs the request at once (once): a dropped connection is
	// logged before it is closed, so a client that saw the drop always
	// finds it in the log.
	logNow func()
	http.ResponseWriter
	status int
	label  string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
