// Package bench is `bridge bench`: a reproducible benchmark of the bridge
// in front of the Webflow simulator, on loopback only. Every load loop is
// bounded both in time and in request count. See the README's
// "Performance" section.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/config"
	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/vclock"
	"github.com/webflowscim/bridge/internal/webflowdata"
	"github.com/webflowscim/bridge/internal/webflowdata/webflowsim"
	"github.com/webflowscim/bridge/internal/workspacegroups"
	"github.com/webflowscim/bridge/internal/workspaceroles"
)

const (
	benchUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	benchGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	benchPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	benchSCIMToken   = "bench-scim-token-0123456789abcdef" // 32+ characters: config refuses weaker ones
	benchPeerToken   = "bench-peer-token"
	// benchMaxRequests bounds every load loop in count, whatever the duration.
	benchMaxRequests = 2_000_000
)

// benchFlags are bridge bench's options.
type benchFlags struct {
	users       int
	conc        []int
	dur         time.Duration
	jsonOut     bool
	short       bool
	peer        bool
	memory      bool
	memUsers    int
	budgetUsers int
	budgetClock string // "real" or "virtual"
	peerDir     string
	cpuProfile  string
}

// Report is the whole result; --json prints it as is.
type Report struct {
	Machine    Machine        `json:"machine"`
	Settings   map[string]any `json:"settings"`
	Store      string         `json:"store"`
	Throughput []Load         `json:"throughput"`
	Peer       Peer           `json:"peer"`
	Upstream   []Upstream     `json:"upstream"`
	Budget     Budget         `json:"budget"`
	Memory     []Memory       `json:"memory"`
	Goals      []Goal         `json:"goals"`
	Notes      []string       `json:"notes,omitempty"`
	Elapsed    string         `json:"elapsed"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Model     string `json:"model"`
	MemTotal  string `json:"memTotal"`
	GoVersion string `json:"goVersion"`
	GOMAXPROC int    `json:"gomaxprocs"`
	// LoadAvg is /proc/loadavg at the start: other work on the machine
	// skews every figure.
	LoadAvg string `json:"loadAvg"`
}

// Load is one workload at one concurrency against one target.
type Load struct {
	Target      string  `json:"target"` // bridge or peer
	Workload    string  `json:"workload"`
	Users       int     `json:"users"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	ReqPerSec   float64 `json:"reqPerSec"`
	P50ms       float64 `json:"p50ms"`
	P99ms       float64 `json:"p99ms"`
	FirstError  string  `json:"firstError,omitempty"`
	// CPUPerRequestUs is the bench process's CPU time (getrusage: user +
	// system) over the run divided by the requests: the bridge, the
	// simulator and the store client, and (CPUMethod says which) either
	// not the load client, which then runs in a child process, or the
	// load client too (--short, and the in-process fallback). 0 for the
	// peer.
	CPUPerRequestUs float64 `json:"cpuPerRequestUs,omitempty"`
	CPUMethod       string  `json:"cpuMethod,omitempty"`
	// Ops breaks a mixed workload down by SCIM operation, so a slow p99
	// can be traced to the operation that causes it.
	Ops []Op `json:"ops,omitempty"`
}

// Op is one SCIM operation's share of a load run.
type Op struct {
	Operation string  `json:"operation"` // method and route, e.g. "PATCH /Users/{id}"
	Requests  int     `json:"requests"`
	P50ms     float64 `json:"p50ms"`
	P99ms     float64 `json:"p99ms"`
}

// Peer is the scimmy comparison.
type Peer struct {
	Ran     bool              `json:"ran"`
	Skipped string            `json:"skipped,omitempty"`
	Server  string            `json:"server,omitempty"`
	Ratios  []PeerRatio       `json:"ratios,omitempty"`
	Loads   []Load            `json:"-"`
	Extra   map[string]string `json:"extra,omitempty"`
}

// PeerRatio is bridge req/s over peer req/s for one workload.
type PeerRatio struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency"`
	Bridge      float64 `json:"bridgeReqPerSec"`
	Peer        float64 `json:"peerReqPerSec"`
	Ratio       float64 `json:"ratio"`
}

// Upstream is one SCIM operation's Webflow calls against its bound.
type Upstream struct {
	Operation string `json:"operation"`
	Calls     int    `json:"calls"`
	Bound     int    `json:"bound"`
	// Reads and ReadBound, for a row whose Calls are writes: the reads
	// are held to their own stated bound (Within needs both).
	Reads     int    `json:"reads,omitempty"`
	ReadBound int    `json:"readBound,omitempty"`
	Within    bool   `json:"within"`
	Detail    string `json:"detail,omitempty"`
}

// Budget is the paced bulk create through 2 replicas.
type Budget struct {
	Replicas        int    `json:"replicas"`
	Users           int    `json:"users"`
	Created         int    `json:"created"`
	Failed          int    `json:"failed"`
	BudgetPerWindow int    `json:"budgetPerWindow"`
	Window          string `json:"window"`
	PerMinuteEquiv  string `json:"compressed"`
	// Clock is "real", or "virtual" (--budget-clock): the limiters and
	// the simulator read one clock that moves only while every client
	// waits for budget, so a call admitted at t reaches the simulator at t
	// and the windows, 429s and budget used are the limiter's own. In real
	// time the compressed budget (5 ms between calls) leaves the
	// limiter's 15 ms margin as the only room for the machine's
	// scheduling delays, which a loaded machine exceeds; at Webflow's
	// real pace (1 s between calls) they are noise.
	Clock       string  `json:"clock"`
	Calls       int     `json:"webflowCalls"`
	WorstWindow int     `json:"worstWindow"`
	TooMany     int     `json:"upstream429s"`
	UsedPct     float64 `json:"budgetUsedPct"`
	Seconds     float64 `json:"seconds"`
	Store       string  `json:"store"`
}

// Memory is one store size: Redis bytes per user, bridge RSS and the
// filtered-GET rate (the scaling check).
type Memory struct {
	Users             int     `json:"users"`
	PreloadSeconds    float64 `json:"preloadSeconds"`
	KeyBytesPerUser   float64 `json:"keyBytesPerUser"`
	KeyBytesMethod    string  `json:"keyBytesMethod"`
	UsedMemoryPerUser float64 `json:"usedMemoryDeltaPerUser,omitempty"` // real Redis only
	RSSMiB            float64 `json:"rssMiB"`
	RSSIncludesStore  bool    `json:"rssIncludesStore"`
	HeapMiB           float64 `json:"heapMiB"`
	FilterReqPerSec   float64 `json:"filterReqPerSec"`
	FilterP99ms       float64 `json:"filterP99ms"`
	FilterErrors      int     `json:"filterErrors"`
}

// Goal is one of issue 10's goals.
type Goal struct {
	Goal     string `json:"goal"`
	Status   string `json:"status"` // met, not met, not measured
	Measured string `json:"measured"`
}

// Replica is one assembled bridge as the bench drives it. cmd/bridge builds
// it (NewReplica), so the bench measures exactly what `bridge serve` runs
// without importing the command.
type Replica struct {
	Handler http.Handler
	Redis   redis.UniversalClient
	Store   state.Backend
	SCIM    *scimserver.Server
	// StartWorkers starts the membership worker and health probes, as serve
	// runs them; wait returns when ctx is cancelled and they have stopped.
	StartWorkers func(ctx context.Context) (wait func())
	// DrainWorkspaceRoles applies every queued workspace role change now
	// (nil unless workspace.groups is set).
	DrainWorkspaceRoles func(ctx context.Context) error
	Close               func()
}

// NewReplica builds a bridge from cfg.
type NewReplica func(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ReplicaOptions) (*Replica, error)

// ReplicaOptions are a replica's settings beyond its configuration.
type ReplicaOptions struct {
	// RatePeriod compresses the rate budget's minute for the budget run
	// (0: a real minute).
	RatePeriod time.Duration
	// LimiterNow and LimiterSleep, if set, replace the rate limiter's clock
	// (Redis TIME) and timer: the budget run's virtual clock.
	LimiterNow   func() time.Time
	LimiterSleep func(ctx context.Context, d time.Duration) error
}

// Run is "bridge bench".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, newReplica NewReplica) error {
	if len(args) == 1 && args[0] == loadChildArg {
		return runLoadChild(ctx, os.Stdin, stdout)
	}
	if len(args) == 1 && args[0] == simChildArg {
		return runSimChild(ctx, os.Stdin, stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f benchFlags
	fs.IntVar(&f.users, "users", 10000, "users preloaded into the site for the throughput runs")
	concStr := fs.String("concurrency", "1,16", "comma-separated client concurrencies")
	fs.DurationVar(&f.dur, "duration", 10*time.Second, "duration of each load run (each is also bounded in request count)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&f.short, "short", false, "the CI variant: few users, short runs, no peer, same upstream-call checks")
	var peer benchPeerFlag
	fs.Var(&peer, "peer", "run the scimmy peer comparison (default on, off with --short; --peer=false to skip)")
	fs.BoolVar(&f.memory, "memory", false, "also measure memory and throughput with --memory-users users (default 100,000)")
	fs.IntVar(&f.memUsers, "memory-users", 100000, "store size for --memory")
	fs.IntVar(&f.budgetUsers, "budget-users", 2000, "users bulk-created for the budget check")
	fs.StringVar(&f.budgetClock, "budget-clock", "real", "clock of the budget check: real, or virtual (the limiters and the simulator on one clock that moves only while every client waits for budget: the limiter's own figures, without the machine's scheduling delays)")
	fs.StringVar(&f.peerDir, "peer-dir", "", "directory of the peer server (default: bench/peer of the source tree)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the throughput runs to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f.cpuProfile = *cpuProfile
	f.conc = nil
	for _, s := range strings.Split(*concStr, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("--concurrency: %q is not a number from 1 to 256", s)
		}
		f.conc = append(f.conc, n)
	}
	if f.users < 10 || f.users > 1_000_000 {
		return fmt.Errorf("--users must be from 10 to 1,000,000")
	}
	if f.dur <= 0 || f.dur > 10*time.Minute {
		return fmt.Errorf("--duration must be positive and at most 10m")
	}
	if f.budgetClock != "real" && f.budgetClock != "virtual" {
		return fmt.Errorf("--budget-clock must be real or virtual")
	}
	f.peer = !f.short
	if peer.set {
		f.peer = peer.on
	}
	if f.short {
		explicit := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
		if !explicit["users"] {
			f.users = 500
		}
		if !explicit["duration"] {
			f.dur = time.Second
		}
		if !explicit["budget-users"] {
			f.budgetUsers = 500
		}
	}
	return (&benchRun{f: f, stderr: stderr, redisURL: os.Getenv("REDIS_URL"), newReplica: newReplica}).run(ctx, stdout)
}

// benchPeerFlag is a boolean flag that knows whether it was given.
type benchPeerFlag struct{ set, on bool }

func (p *benchPeerFlag) IsBoolFlag() bool { return true }
func (p *benchPeerFlag) String() string {
	if p == nil || !p.set {
		return "auto"
	}
	return strconv.FormatBool(p.on)
}
func (p *benchPeerFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	p.set, p.on = true, v
	return nil
}

type benchRun struct {
	f          benchFlags
	stderr     io.Writer
	redisURL   string
	newReplica NewReplica
	rep        Report
	// simInChild: the throughput runs' simulator is a child process.
	simInChild bool
}

func (b *benchRun) progress(format string, args ...any) {
	if b.stderr != nil {
		fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
	}
}

func (b *benchRun) run(ctx context.Context, stdout io.Writer) error {
	start := time.Now()
	r := &b.rep
	r.Machine = benchMachine()
	r.Store = "embedded (miniredis, in-process)"
	if b.redisURL != "" {
		r.Store = "Redis at REDIS_URL (" + benchRedact(b.redisURL) + ")"
	}
	r.Settings = map[string]any{
		"users": b.f.users, "concurrency": b.f.conc, "duration": b.f.dur.String(), "short": b.f.short,
		"peer": b.f.peer, "memory": b.f.memory, "budgetUsers": b.f.budgetUsers,
	}

	// 3. Upstream calls per operation: first, it is the pass/fail part.
	b.progress("upstream calls per SCIM operation")
	up, err := b.upstreamCalls(ctx)
	if err != nil {
		return fmt.Errorf("upstream-call check: %w", err)
	}
	b.progress("upstream calls of a workspace group change")
	wsRow, err := b.workspaceGroupChange(ctx)
	if err != nil {
		return fmt.Errorf("workspace group check: %w", err)
	}
	b.progress("upstream calls of the members-mode user cycle")
	membersRow, err := b.workspaceMembersCycle(ctx)
	if err != nil {
		return fmt.Errorf("workspace members check: %w", err)
	}
	r.Upstream = append(up, wsRow, membersRow)

	// 1. Front-end throughput.
	b.progress("throughput: preloading %d users", b.f.users)
	loads, err := b.throughput(ctx)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	r.Throughput = loads

	// 2. Peer.
	if b.f.peer {
		b.progress("peer: scimmy + scimmy-routers")
		r.Peer = b.peer(ctx)
		r.Throughput = append(r.Throughput, r.Peer.Loads...)
	} else {
		r.Peer = Peer{Skipped: "not requested (--short or --peer=false)"}
	}

	// 4. Budget.
	b.progress("budget: bulk create of %d users through 2 replicas", b.f.budgetUsers)
	bud, err := b.budget(ctx)
	if err != nil {
		return fmt.Errorf("budget: %w", err)
	}
	r.Budget = bud

	// 5. Memory and scaling.
	sizes := []int{1000, 10000}
	if b.f.short {
		sizes = []int{200, 1000}
	}
	if b.f.memory {
		sizes = append(sizes, b.f.memUsers)
	}
	for _, n := range sizes {
		b.progress("memory and scaling: %d users", n)
		m, err := b.memory(ctx, n)
		if err != nil {
			return fmt.Errorf("memory (%d users): %w", n, err)
		}
		r.Memory = append(r.Memory, m)
	}
	r.Goals = b.goals()
	if b.redisURL == "" {
		r.Notes = append(r.Notes, "embedded store: Redis bytes are miniredis's MEMORY USAGE (a Go size estimate of each key), not a real Redis's; the RSS includes the in-process store")
	} else {
		r.Notes = append(r.Notes, "real Redis: bytes per user from MEMORY USAGE … SAMPLES 0 over the site's keys and from the INFO used_memory delta over all but the first 100 users (they also pay the fixed costs: connection buffers, the Lua script cache); the RSS is the bench process: bridge, load clients and an empty simulator")
	}
	r.Elapsed = time.Since(start).Round(time.Millisecond).String()

	if b.f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		b.printTable(stdout)
	}
	var over []string
	for _, u := range r.Upstream {
		if !u.Within {
			line := fmt.Sprintf("%s: %d calls, bound %d", u.Operation, u.Calls, u.Bound)
			if u.ReadBound > 0 {
				line += fmt.Sprintf("; %d reads, bound %d", u.Reads, u.ReadBound)
			}
			over = append(over, line)
		}
	}
	if len(over) > 0 {
		return fmt.Errorf("upstream calls above the lower bound: %s", strings.Join(over, "; "))
	}
	return nil
}

// ---- environment ----------------------------------------------------------

type benchEnv struct {
	sim    *webflowsim.Simulator // nil when the simulator runs in a child process
	simURL string
	// simUsers are the preloaded users of a simulator child, by index.
	simUsers []webflowdata.User
	apps     []*Replica
	bases    []string // SCIM base URL of each replica
	rdb      redis.UniversalClient
	prefix   string
	real     bool // a real Redis (REDIS_URL)
	closers  []func()
}

type benchEnvOpts struct {
	replicas   int
	simRate    int           // 0: off
	rateWindow time.Duration // the compressed minute, for the budget run
	clock      *vclock.Clock // the budget run's virtual clock (simulator and limiters); nil: real time
	workers    bool          // membership worker and health probes, as serve runs them
	workspace  bool          // the workspace surface with workspace.groups on the demo workspace
	members    bool          // with workspace: workspace.mode members (no native SCIM)
	maxWait    time.Duration
	// simChild runs the simulator in a child process (bridge bench
	// --sim-child) preloaded with this many users, so that the bench
	// process's CPU time is the bridge's; 0: in this process.
	simChild int
}

var benchSeq atomic.Int64

func (e *benchEnv) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

func (b *benchRun) newEnv(ctx context.Context, o benchEnvOpts) (env *benchEnv, err error) {
	e := &benchEnv{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if o.simChild > 0 {
		url, users, stop, err := startSimChild(ctx, o.simChild)
		if err == nil {
			e.simURL, e.simUsers = url, users
			e.closers = append(e.closers, stop)
		} else {
			b.progress("  the simulator child could not run (%v); running the simulator in this process", err)
		}
	}
	if e.simURL == "" {
		e.sim = newBenchSim(o.simRate, o.rateWindow, o.clock)
		e.closers = append(e.closers, e.sim.Close)
		if err := e.sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
			return nil, err
		}
		e.sim.SetRateLimit(o.simRate)
		simLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		simSrv := &http.Server{Handler: e.sim, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = simSrv.Serve(simLn) }()
		e.closers = append(e.closers, func() { _ = simSrv.Close() })
		e.simURL = "http://" + simLn.Addr().String()
	}

	redisURL := b.redisURL
	e.real = redisURL != ""
	if redisURL == "" && o.replicas > 1 {
		mr, err := miniredis.Run()
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, mr.Close)
		redisURL = "redis://" + mr.Addr()
	}
	e.prefix = fmt.Sprintf("wfbbench-%d-%d", os.Getpid(), benchSeq.Add(1))
	wctx, cancel := context.WithCancel(ctx)
	e.closers = append(e.closers, cancel)
	for range max(o.replicas, 1) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		cfg := &config.Config{Listen: ln.Addr().String(), PublicURL: "http://" + ln.Addr().String()}
		cfg.Redis.URL, cfg.Redis.KeyPrefix = redisURL, e.prefix
		cfg.Webflow.APIBaseURL = e.simURL + "/v2"
		cfg.Webflow.SCIMBaseURL = e.simURL + "/scim/v2"
		cfg.Sites = []config.SiteConfig{{ID: webflowsim.DemoSiteID, WebflowToken: webflowsim.DemoSiteToken, SCIMTokens: []string{benchSCIMToken}}}
		cfg.Webflow.RateLimitPerMinute = 1_000_000
		if o.simRate > 0 {
			cfg.Webflow.RateLimitPerMinute = o.simRate
		}
		if o.maxWait > 0 {
			cfg.Webflow.MaxWait = config.Duration(o.maxWait)
		}
		if o.workspace {
			cfg.Workspace.WebflowSCIMToken = webflowsim.DemoSCIMToken
			if o.members {
				cfg.Workspace.Mode, cfg.Workspace.WebflowSCIMToken = "members", ""
			}
			cfg.Workspace.SCIMTokens = []string{benchSCIMToken}
			cfg.Workspace.ID = webflowsim.DemoWorkspaceID
			cfg.Workspace.MembersToken = webflowsim.DemoWorkspaceToken
			cfg.Workspace.Groups = map[string]config.WorkspaceRoleConfig{
				benchWorkspaceGroup: {Workspace: "member", Site: "marketer", Sites: map[string]string{webflowsim.DemoSiteID: "marketer"}},
			}
		}
		// The bench measures capacity, not the per-site fairness limit:
		// its one site gets room for every client it runs, twice over (a
		// slot frees a moment after its client has the answer).
		for _, c := range b.f.conc {
			cfg.Limits.MaxConcurrentRequestsPerSite = max(cfg.Limits.MaxConcurrentRequestsPerSite, 2*c)
		}
		cfg.Log.Level = "error"
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			ln.Close()
			return nil, err
		}
		ropts := ReplicaOptions{RatePeriod: o.rateWindow}
		if o.clock != nil {
			ropts.LimiterNow, ropts.LimiterSleep = o.clock.Now, o.clock.Sleep
		}
		a, err := b.newReplica(ctx, cfg, slog.New(slog.DiscardHandler), ropts)
		if err != nil {
			ln.Close()
			return nil, err
		}
		if e.rdb == nil {
			e.rdb = a.Redis
		}
		srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		e.apps = append(e.apps, a)
		e.bases = append(e.bases, "http://"+ln.Addr().String()+"/sites/"+webflowsim.DemoSiteID+"/scim/v2")
		var wait func()
		if o.workers {
			wait = a.StartWorkers(wctx)
		}
		e.closers = append(e.closers, func() {
			_ = srv.Close()
			if wait != nil {
				cancel()
				wait()
			}
			if e.real && a == e.apps[0] {
				benchWipe(context.Background(), a.Redis, e.prefix)
			}
			a.Close()
		})
	}
	return e, nil
}

// benchWipe deletes every key under prefix, and nothing else.
func benchWipe(ctx context.Context, rdb redis.UniversalClient, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for i := 0; i < len(keys); i += 500 {
		rdb.Del(ctx, keys[i:min(i+500, len(keys))]...)
	}
}

// benchUserName is the i-th preloaded user's userName (and email).
func benchUserName(i int) string { return fmt.Sprintf("user%06d@example.com", i) }

// preload puts n users straight into the store (and into the simulator
// when withSim), as the bridge itself would have recorded them: a
// mapping.User as SCIM, the Webflow user as snapshot, fresh, both encoded
// by the bridge's own scimserver.FillRecord.
func (e *benchEnv) preload(ctx context.Context, n int, withSim bool) error {
	return e.preloadRange(ctx, 0, n, withSim)
}

// preloadRange preloads users from to to-1.
func (e *benchEnv) preloadRange(ctx context.Context, from, to int, withSim bool) error {
	n := to
	now := time.Now()
	var next atomic.Int64
	next.Store(int64(from))
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				seed := benchSeedUser(i)
				email := seed.Email
				given, family := "User", fmt.Sprintf("N%06d", i)
				wu := webflowdata.User{
					ID: benchPreloadID(i), IsEmailVerified: true, Status: webflowdata.StatusVerified,
					CreatedOn: webflowdata.NewTime(now), LastUpdated: webflowdata.NewTime(now),
					AccessGroups: []webflowdata.AccessGroupRef{},
					Data: webflowdata.UserData{
						webflowdata.DataEmail: email, webflowdata.DataName: given + " " + family,
						webflowdata.DataAcceptPrivacy: false, webflowdata.DataAcceptCommunications: false,
					},
				}
				var err error
				switch {
				case withSim && e.sim == nil && i < len(e.simUsers):
					wu = e.simUsers[i]
				case withSim && e.sim == nil:
					err = fmt.Errorf("the simulator child preloaded %d users, not %d", len(e.simUsers), n)
				case withSim:
					wu, err = e.sim.AddUser(webflowsim.DemoSiteID, seed)
				}
				if err == nil {
					// As Okta sends a user: userName, externalId, name,
					// displayName, one work email, active.
					u := mapping.User{UserName: email, ExternalID: fmt.Sprintf("00u%017d", i), DisplayName: given + " " + family,
						Active: true, Name: mapping.Name{GivenName: given, FamilyName: family},
						Emails: []mapping.Email{{Value: email, Type: "work", Primary: true}}}
					rec := &state.UserRecord{ID: wu.ID, SiteID: webflowsim.DemoSiteID, Active: true}
					scimserver.FillRecord(rec, u, email, &wu, now)
					err = e.apps[0].Store.CreateUser(ctx, rec)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("preload user %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// ---- HTTP client and load loop ----------------------------------------------

type benchClient struct {
	hc    *http.Client
	base  string
	token string
}

func newBenchClient(base, token string) *benchClient {
	return &benchClient{
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second, DisableCompression: true,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}},
		base: base, token: token,
	}
}

func (c *benchClient) close() { c.hc.CloseIdleConnections() }

// do sends one request and returns the status, body and latency.
func (c *benchClient) do(ctx context.Context, method, path string, body any) (int, []byte, time.Duration, error) {
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	t0 := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, time.Since(t0), err
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, raw, time.Since(t0), err
}

// loadStats collects one worker's measurements.
type loadStats struct {
	lat      []time.Duration
	ops      []string // ops[i] is the operation of lat[i]
	errors   int
	firstErr string
}

// call runs one request, records it, and says whether it had the wanted status.
func (s *loadStats) call(ctx context.Context, c *benchClient, method, path string, body any, want ...int) ([]byte, bool) {
	st, raw, d, err := c.do(ctx, method, path, body)
	s.lat = append(s.lat, d)
	s.ops = append(s.ops, benchOpName(method, path))
	ok := err == nil
	if ok {
		ok = false
		for _, w := range want {
			ok = ok || st == w
		}
	}
	if !ok {
		s.errors++
		if s.firstErr == "" {
			if err != nil {
				s.firstErr = fmt.Sprintf("%s %s: %v", method, benchTrimPath(path), err)
			} else {
				s.firstErr = fmt.Sprintf("%s %s: %d %s", method, benchTrimPath(path), st, benchTrimBody(raw))
			}
		}
	}
	return raw, ok
}

// benchOpName names a request by its SCIM route: ids and queries become
// placeholders, so the names are few.
func benchOpName(method, path string) string {
	p, q, _ := strings.Cut(path, "?")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) > 1 {
		parts[1] = "{id}"
	}
	name := method + " /" + strings.Join(parts, "/")
	if strings.Contains(q, "filter=") {
		name += "?filter"
	}
	return name
}

func benchTrimPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i] + "?…"
	}
	return p
}

func benchTrimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// load runs iter on conc workers for dur (and at most benchMaxRequests
// requests), and summarises the latencies.
func load(ctx context.Context, conc int, dur time.Duration, iter func(ctx context.Context, w, k int, s *loadStats)) Load {
	ctx, cancel := context.WithTimeout(ctx, dur+30*time.Second)
	defer cancel()
	var total atomic.Int64
	stats := make([]*loadStats, conc)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := range conc {
		stats[w] = &loadStats{lat: make([]time.Duration, 0, 4096)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stats[w]
			for k := 0; time.Now().Before(deadline) && total.Load() < benchMaxRequests && ctx.Err() == nil; k++ {
				n := len(s.lat)
				iter(ctx, w, k, s)
				total.Add(int64(len(s.lat) - n))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	byOp := map[string][]time.Duration{}
	out := Load{Concurrency: conc, Seconds: elapsed.Seconds()}
	for _, s := range stats {
		all = append(all, s.lat...)
		for i, op := range s.ops {
			byOp[op] = append(byOp[op], s.lat[i])
		}
		out.Errors += s.errors
		if out.FirstError == "" {
			out.FirstError = s.firstErr
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	out.Requests = len(all)
	if len(all) > 0 {
		out.ReqPerSec = float64(len(all)) / elapsed.Seconds()
		out.P50ms = benchMs(all[len(all)/2])
		out.P99ms = benchMs(all[min(len(all)-1, len(all)*99/100)])
	}
	if len(byOp) > 1 {
		for op, lat := range byOp {
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			out.Ops = append(out.Ops, Op{Operation: op, Requests: len(lat),
				P50ms: benchMs(lat[len(lat)/2]), P99ms: benchMs(lat[min(len(lat)-1, len(lat)*99/100)])})
		}
		sort.Slice(out.Ops, func(i, j int) bool { return out.Ops[i].Operation < out.Ops[j].Operation })
	}
	return out
}

func benchMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ---- workloads ---------------------------------------------------------------

// workloadTarget is what the workloads need to know about a SCIM server.
type workloadTarget struct {
	name   string
	client *benchClient
	users  int      // preloaded users named benchUserName(0..users-1)
	group  string   // a group id to add members to
	tag    string   // makes created userNames unique per run
	pool   []string // users that largeGroup adds (not members yet)
}

func (t workloadTarget) workload(name string) func(ctx context.Context, w, k int, s *loadStats) {
	switch name {
	case wlMixedIdP:
		return t.mixedIdP
	case wlMixedOld:
		return t.mixed
	case wlLargeGroup:
		return t.largeGroup
	}
	return t.filter
}

func benchFilter(userName string) string {
	return "/Users?filter=" + url.QueryEscape(`userName eq "`+userName+`"`)
}

func benchCreateBody(userName, given, family string) map[string]any {
	return map[string]any{
		"schemas": []string{benchUserSchema}, "userName": userName, "active": true,
		"name":   map[string]any{"givenName": given, "familyName": family},
		"emails": []map[string]any{{"value": userName, "type": "work", "primary": true}},
	}
}

func benchPatch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{benchPatchSchema}, "Operations": ops}
}

// Workload names.
const (
	wlMixedIdP   = "mixed (IdP form)"
	wlMixedOld   = "mixed (excludedAttributes=members)"
	wlFilter     = "filter GET"
	wlLargeGroup = "large group: PATCH add 1 + GET"
)

// mixedIdP is the cycle as Okta and Entra send it, bytes as they send
// them: Okta's lookup (with startIndex and count), Okta's create (with
// externalId, displayName, locale and groups:[]), a GET by id, Okta's
// group PATCH adding the new user with its display (no query
// parameters: the bridge answers 204), Okta's path-less deactivate, and
// Entra's reactivate (path "active"): 6 requests.
func (t workloadTarget) mixedIdP(ctx context.Context, w, k int, s *loadStats) {
	rnd := rand.IntN(t.users)
	if raw, ok := s.call(ctx, t.client, "GET", benchFilter(benchUserName(rnd))+"&startIndex=1&count=100", nil, 200); ok && !bytes.Contains(raw, []byte(`"totalResults":1`)) {
		s.errors++
		if s.firstErr == "" {
			s.firstErr = "lookup: not exactly one result: " + benchTrimBody(raw)
		}
	}
	userName := fmt.Sprintf("idp-%s-w%02d-%06d@example.com", t.tag, w, k)
	raw, ok := s.call(ctx, t.client, "POST", "/Users", benchOktaCreateJSON(userName, "Okta", strconv.Itoa(k), fmt.Sprintf("00u%s%02d%06d", t.tag, w, k)), 201)
	if !ok {
		return
	}
	var created struct{ ID string }
	if json.Unmarshal(raw, &created) != nil || created.ID == "" {
		s.errors++
		return
	}
	s.call(ctx, t.client, "GET", "/Users/"+created.ID, nil, 200)
	s.call(ctx, t.client, "PATCH", "/Groups/"+t.group, benchOktaAddMemberJSON(created.ID, userName), 200, 204)
	s.call(ctx, t.client, "PATCH", "/Users/"+created.ID, benchActiveJSON(false), 200)
	s.call(ctx, t.client, "PATCH", "/Users/"+created.ID, benchEntraActiveJSON(true), 200)
}

// benchOktaCreateJSON is Okta's POST /Users body (idp-clients.md §1.3).
func benchOktaCreateJSON(userName, given, family, externalID string) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"userName":%q,"name":{"givenName":%q,"familyName":%q},"emails":[{"primary":true,"value":%q,"type":"work"}],"displayName":%q,"locale":"en-US","externalId":%q,"groups":[],"active":true}`,
		benchUserSchema, userName, given, family, userName, given+" "+family, externalID)
}

// benchOktaAddMemberJSON is Okta's Group Push membership PATCH.
func benchOktaAddMemberJSON(id, display string) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"Operations":[{"op":"add","path":"members","value":[{"value":%q,"display":%q}]}]}`, benchPatchSchema, id, display)
}

// benchEntraActiveJSON is Entra's PATCH of active (aadOptscim062020 on).
func benchEntraActiveJSON(active bool) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"Operations":[{"op":"replace","path":"active","value":%t}]}`, benchPatchSchema, active)
}

// largeGroup changes one member of the large group as Okta sends it and
// reads the group with all its members: each worker takes members of its
// own pool out and back in, one PATCH at a time (a remove, then the add),
// so the group stays at its size.
func (t workloadTarget) largeGroup(ctx context.Context, w, k int, s *loadStats) {
	per := max(len(t.pool)/16, 1)
	id := t.pool[(w*per+(k/2)%per)%len(t.pool)]
	body := benchOktaAddMemberJSON(id, id)
	if k%2 == 0 {
		body = fmt.Appendf(nil, `{"schemas":[%q],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, benchPatchSchema, id)
	}
	s.call(ctx, t.client, "PATCH", "/Groups/"+t.group, body, 200, 204)
	s.call(ctx, t.client, "GET", "/Groups/"+t.group, nil, 200)
}

// mixed is the previous form of the cycle: a userName lookup, a create, a
// GET by id, a group add with ?excludedAttributes=members, then deactivate
// and reactivate: 6 requests.
func (t workloadTarget) mixed(ctx context.Context, w, k int, s *loadStats) {
	rnd := rand.IntN(t.users)
	if raw, ok := s.call(ctx, t.client, "GET", benchFilter(benchUserName(rnd)), nil, 200); ok && !bytes.Contains(raw, []byte(`"totalResults":1`)) {
		s.errors++
		if s.firstErr == "" {
			s.firstErr = "lookup: not exactly one result: " + benchTrimBody(raw)
		}
	}
	userName := fmt.Sprintf("mix-%s-w%02d-%06d@example.com", t.tag, w, k)
	// Bodies are written as bytes, not encoded from maps: the load
	// generator shares the cores with the bridge, so it keeps its own
	// work small (TestBenchBodies checks they equal the map forms).
	raw, ok := s.call(ctx, t.client, "POST", "/Users", benchCreateJSON(userName, "Mixed", strconv.Itoa(k)), 201)
	if !ok {
		return
	}
	var created struct{ ID string }
	if json.Unmarshal(raw, &created) != nil || created.ID == "" {
		s.errors++
		return
	}
	s.call(ctx, t.client, "GET", "/Users/"+created.ID, nil, 200)
	s.call(ctx, t.client, "PATCH", "/Groups/"+t.group+"?excludedAttributes=members", benchAddMemberJSON(created.ID), 200, 204)
	s.call(ctx, t.client, "PATCH", "/Users/"+created.ID, benchActiveJSON(false), 200)
	s.call(ctx, t.client, "PATCH", "/Users/"+created.ID, benchActiveJSON(true), 200)
}

// benchCreateJSON is benchCreateBody, encoded.
func benchCreateJSON(userName, given, family string) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"userName":%q,"active":true,"name":{"givenName":%q,"familyName":%q},"emails":[{"value":%q,"type":"work","primary":true}]}`,
		benchUserSchema, userName, given, family, userName)
}

// benchAddMemberJSON is the PATCH that adds one member to a group.
func benchAddMemberJSON(id string) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, benchPatchSchema, id)
}

// benchActiveJSON is the path-less PATCH that sets active.
func benchActiveJSON(active bool) []byte {
	return fmt.Appendf(nil, `{"schemas":[%q],"Operations":[{"op":"replace","value":{"active":%t}}]}`, benchPatchSchema, active)
}

// filter is GET /Users?filter=userName eq "…" over the preloaded users.
func (t workloadTarget) filter(ctx context.Context, w, k int, s *loadStats) {
	raw, ok := s.call(ctx, t.client, "GET", benchFilter(benchUserName(rand.IntN(t.users))), nil, 200)
	if ok && !bytes.Contains(raw, []byte(`"totalResults":1`)) {
		s.errors++
		if s.firstErr == "" {
			s.firstErr = "filter: not exactly one result: " + benchTrimBody(raw)
		}
	}
}

func (b *benchRun) runWorkloads(ctx context.Context, t workloadTarget) []Load {
	var out []Load
	for _, wl := range []string{wlMixedIdP, wlMixedOld, wlFilter} {
		for _, c := range b.f.conc {
			b.progress("  %s %s c=%d for %v", t.name, wl, c, b.f.dur)
			tt := t
			tt.tag = fmt.Sprintf("%s%d%s", t.name[:1], c, map[string]string{wlMixedIdP: "i", wlMixedOld: "o"}[wl])
			l := b.runLoad(ctx, tt, wl, c)
			l.Target, l.Workload, l.Users = t.name, wl, t.users
			out = append(out, l)
		}
	}
	return out
}

// runLoad runs one workload. For the bridge (in this process) it measures
// the process's CPU time over the run: with the load client in a child
// process (bridge bench --load-child, the same binary) unless --short or
// the child cannot run, so that the figure is the bridge's own.
func (b *benchRun) runLoad(ctx context.Context, t workloadTarget, wl string, c int) Load {
	if t.name != "bridge" {
		return load(ctx, c, b.f.dur, t.workload(wl))
	}
	if !b.f.short {
		before := benchCPU()
		l, err := runLoadInChild(ctx, loadSpec{Base: t.client.base, Token: t.client.token, Users: t.users, Group: t.group, Tag: t.tag, Pool: t.pool, Workload: wl, Conc: c, Duration: b.f.dur})
		if err == nil {
			if l.Requests > 0 {
				l.CPUPerRequestUs = float64((benchCPU() - before).Microseconds()) / float64(l.Requests)
				l.CPUMethod = "bench process (bridge, simulator, store client); load client in a child process"
				if b.simInChild && b.redisURL != "" {
					l.CPUMethod = "bench process = the bridge alone (bridge and its Redis client; load client and Webflow simulator in child processes)"
				} else if b.simInChild {
					l.CPUMethod = "bench process: the bridge and the embedded miniredis (load client and Webflow simulator in child processes)"
				}
			}
			return l
		}
		b.progress("  the load child could not run (%v); running the load in this process", err)
	}
	before := benchCPU()
	l := load(ctx, c, b.f.dur, t.workload(wl))
	if l.Requests > 0 {
		l.CPUPerRequestUs = float64((benchCPU() - before).Microseconds()) / float64(l.Requests)
		l.CPUMethod = "bench process including the load client"
	}
	return l
}

// benchCPU is the process's user + system CPU time so far.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadChildArg runs bench as the load client of runLoadInChild: the spec
// on stdin, the Load as JSON on stdout.
const loadChildArg = "--load-child"

// loadSpec is one load run for a child process.
type loadSpec struct {
	Base, Token, Group, Tag, Workload string
	Users, Conc                       int
	Pool                              []string
	Duration                          time.Duration
}

func runLoadInChild(ctx context.Context, spec loadSpec) (Load, error) {
	exe, err := os.Executable()
	if err != nil {
		return Load{}, err
	}
	in, _ := json.Marshal(spec)
	cmd := exec.CommandContext(ctx, exe, "bench", loadChildArg)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Load{}, fmt.Errorf("%w: %s", err, benchTrimBody(errb.Bytes()))
	}
	var l Load
	if err := json.Unmarshal(out.Bytes(), &l); err != nil {
		return Load{}, fmt.Errorf("the load child's answer: %w: %s", err, benchTrimBody(out.Bytes()))
	}
	return l, nil
}

// runLoadChild is the child side of runLoadInChild.
func runLoadChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var spec loadSpec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		return fmt.Errorf("load child: reading the spec: %w", err)
	}
	if spec.Conc < 1 || spec.Conc > 256 || spec.Duration <= 0 || spec.Duration > 10*time.Minute || spec.Users < 1 {
		return fmt.Errorf("load child: bad spec %+v", spec)
	}
	c := newBenchClient(spec.Base, spec.Token)
	defer c.close()
	t := workloadTarget{name: "bridge", client: c, users: spec.Users, group: spec.Group, tag: spec.Tag, pool: spec.Pool}
	return json.NewEncoder(stdout).Encode(load(ctx, spec.Conc, spec.Duration, t.workload(spec.Workload)))
}

// simChildArg runs bench as the Webflow simulator of startSimChild: the
// number of users to preload on stdin, one JSON line on stdout (its URL and
// the preloaded users), then it serves until stdin closes.
const simChildArg = "--sim-child"

// simChildSpec is what a simulator child preloads.
type simChildSpec struct{ Users int }

// simChildReady is the simulator child's first line on stdout.
type simChildReady struct {
	URL   string
	Users []webflowdata.User
}

// newBenchSim is the bench's simulator: legacy Users API, room for any
// preload, the given rate limit (0: off).
func newBenchSim(rate int, window time.Duration, clock *vclock.Clock) *webflowsim.Simulator {
	o := webflowsim.Options{UsersMode: webflowsim.ModeLegacy, RateLimitPerMinute: rate, RateWindow: window, MaxUsersPerSite: 100_000_000}
	if clock != nil {
		o.Now = clock.Now
	}
	return webflowsim.New(o)
}

// benchSeedUser is preloaded user i as the simulator holds it.
func benchSeedUser(i int) webflowsim.SeedUser {
	return webflowsim.SeedUser{ID: benchPreloadID(i), Email: benchUserName(i), Name: fmt.Sprintf("User N%06d", i)}
}

// startSimChild starts bridge bench --sim-child (the same binary) with
// users preloaded and rate limits off; stop ends it.
func startSimChild(ctx context.Context, users int) (url string, preloaded []webflowdata.User, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", simChildArg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, nil, err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop = func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	in, _ := json.Marshal(simChildSpec{Users: users})
	if _, err := stdin.Write(append(in, '\n')); err != nil {
		stop()
		return "", nil, nil, fmt.Errorf("the simulator child's spec: %w", err)
	}
	var ready simChildReady
	if err := json.NewDecoder(stdout).Decode(&ready); err != nil {
		stop()
		return "", nil, nil, fmt.Errorf("the simulator child's answer: %w: %s", err, benchTrimBody(errb.Bytes()))
	}
	return ready.URL, ready.Users, stop, nil
}

// runSimChild is the child side of startSimChild.
func runSimChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	rd := bufio.NewReader(stdin)
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("simulator child: reading the spec: %w", err)
	}
	var spec simChildSpec
	if err := json.Unmarshal(line, &spec); err != nil || spec.Users < 0 || spec.Users > 1_000_000 {
		return fmt.Errorf("simulator child: bad spec %q: %v", line, err)
	}
	sim := newBenchSim(0, 0, nil)
	defer sim.Close()
	if err := sim.LoadSeed(webflowsim.DemoSeed()); err != nil {
		return fmt.Errorf("simulator child: %w", err)
	}
	sim.SetRateLimit(0)
	ready := simChildReady{Users: make([]webflowdata.User, spec.Users)}
	for i := range ready.Users {
		if ready.Users[i], err = sim.AddUser(webflowsim.DemoSiteID, benchSeedUser(i)); err != nil {
			return fmt.Errorf("simulator child: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("simulator child: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	ready.URL = "http://" + ln.Addr().String()
	if err := json.NewEncoder(stdout).Encode(ready); err != nil {
		return fmt.Errorf("simulator child: %w", err)
	}
	// Serve until the parent closes stdin (or ends).
	_, _ = io.Copy(io.Discard, rd)
	return nil
}

// ---- 1. throughput ---------------------------------------------------------

func (b *benchRun) throughput(ctx context.Context) ([]Load, error) {
	o := benchEnvOpts{replicas: 1, workers: true}
	if !b.f.short {
		o.simChild = b.f.users
	}
	e, err := b.newEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	b.simInChild = e.sim == nil
	t0 := time.Now()
	if err := e.preload(ctx, b.f.users, true); err != nil {
		return nil, err
	}
	b.progress("  preloaded %d users in %v", b.f.users, time.Since(t0).Round(time.Millisecond))
	c := newBenchClient(e.bases[0], benchSCIMToken)
	defer c.close()
	st, raw, _, err := c.do(ctx, "POST", "/Groups", map[string]any{"schemas": []string{benchGroupSchema}, "displayName": "Members"})
	if err != nil || st != 201 {
		return nil, fmt.Errorf("linking the Members group: %d %s %v", st, benchTrimBody(raw), err)
	}
	var g struct{ ID string }
	_ = json.Unmarshal(raw, &g)
	if b.f.cpuProfile != "" {
		pf, err := os.Create(b.f.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	loads := b.runWorkloads(ctx, workloadTarget{name: "bridge", client: c, users: b.f.users, group: g.ID})

	// The large group: Premium with the first 10,000 preloaded users
	// (fewer with fewer users), written straight into the store.
	st, raw, _, err = c.do(ctx, "POST", "/Groups", map[string]any{"schemas": []string{benchGroupSchema}, "displayName": "Premium"})
	if err != nil || st != 201 {
		return nil, fmt.Errorf("linking the Premium group: %d %s %v", st, benchTrimBody(raw), err)
	}
	var big struct{ ID string }
	_ = json.Unmarshal(raw, &big)
	n := min(benchLargeGroup, b.f.users)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = benchPreloadID(i)
	}
	if _, err := e.apps[0].Store.ChangeMembers(ctx, webflowsim.DemoSiteID, "premium", []state.MemberOp{{Op: "add", IDs: ids}}, state.ChangeOptions{}); err != nil {
		return nil, fmt.Errorf("filling the large group: %w", err)
	}
	b.progress("  bridge %s (%d members) c=1 for %v", wlLargeGroup, n, b.f.dur)
	t := workloadTarget{name: "bridge", client: c, users: n, group: big.ID, tag: "bg", pool: ids[:min(len(ids), 160)]}
	l := b.runLoad(ctx, t, wlLargeGroup, 1)
	l.Target, l.Workload, l.Users = "bridge", wlLargeGroup, n
	return append(loads, l), nil
}

// benchLargeGroup is the member count of the large-group row.
const benchLargeGroup = 10_000

// benchPreloadID is the SCIM id (= the Webflow id) of preloaded user i.
func benchPreloadID(i int) string { return fmt.Sprintf("%024x", i+1) }

// ---- 2. peer ---------------------------------------------------------------

func (b *benchRun) peerDir() (string, error) {
	if b.f.peerDir != "" {
		return b.f.peerDir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bench", "peer")
		if _, err := os.Stat(filepath.Join(p, "server.js")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/peer/server.js not found above the working directory (run from the source tree, or pass --peer-dir)")
		}
		dir = parent
	}
}

func (b *benchRun) peer(ctx context.Context) Peer {
	p := Peer{}
	dir, err := b.peerDir()
	if err != nil {
		p.Skipped = err.Error()
		return p
	}
	node, err := exec.LookPath("node")
	if err != nil {
		p.Skipped = "node is not installed (the peer needs Node.js 18+): " + err.Error()
		return p
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "scimmy-routers")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			p.Skipped = "bench/peer/node_modules is missing and npm is not installed; run: npm ci --prefix bench/peer"
			return p
		}
		b.progress("  npm ci --prefix %s", dir)
		ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		out, err := exec.CommandContext(ictx, npm, "ci", "--no-audit", "--no-fund", "--prefix", dir).CombinedOutput()
		cancel()
		if err != nil {
			p.Skipped = fmt.Sprintf("npm ci --prefix %s failed: %v: %s", dir, err, benchTrimBody(out))
			return p
		}
	}
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=0", "PEER_USERS="+strconv.Itoa(b.f.users), "PEER_TOKEN="+benchPeerToken)
	cmd.Stderr = b.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.Skipped = err.Error()
		return p
	}
	if err := cmd.Start(); err != nil {
		p.Skipped = "starting node server.js: " + err.Error()
		return p
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(60 * time.Second):
		p.Skipped = "the peer did not start within 60 s"
		return p
	}
	// "listening <port> users <n> groups <id>,<id>,…"
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "listening" {
		p.Skipped = "unexpected peer start line: " + line
		return p
	}
	version := func(pkg string) string {
		raw, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
		if err != nil {
			return "?"
		}
		var v struct{ Version string }
		_ = json.Unmarshal(raw, &v)
		return v.Version
	}
	nodeVer, _ := exec.Command(node, "--version").Output()
	p.Server = fmt.Sprintf("scimmy %s + scimmy-routers %s on express %s, node %s, in-memory arrays", version("scimmy"), version("scimmy-routers"), version("express"), strings.TrimSpace(string(nodeVer)))
	c := newBenchClient("http://127.0.0.1:"+fields[1]+"/scim/v2", benchPeerToken)
	defer c.close()
	group := strings.Split(fields[5], ",")[0]
	p.Loads = b.runWorkloads(ctx, workloadTarget{name: "peer", client: c, users: b.f.users, group: group})
	p.Ran = true
	for _, pl := range p.Loads {
		for _, bl := range b.rep.Throughput {
			if bl.Target == "bridge" && bl.Workload == pl.Workload && bl.Concurrency == pl.Concurrency && pl.ReqPerSec > 0 {
				p.Ratios = append(p.Ratios, PeerRatio{Workload: pl.Workload, Concurrency: pl.Concurrency, Bridge: bl.ReqPerSec, Peer: pl.ReqPerSec, Ratio: bl.ReqPerSec / pl.ReqPerSec})
			}
		}
	}
	return p
}

// ---- 3. upstream calls per operation ------------------------------------------

func (b *benchRun) upstreamCalls(ctx context.Context) ([]Upstream, error) {
	e, err := b.newEnv(ctx, benchEnvOpts{replicas: 1})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if err := e.preload(ctx, 100, true); err != nil {
		return nil, err
	}
	c := newBenchClient(e.bases[0], benchSCIMToken)
	defer c.close()
	var rows []Upstream
	var failure error
	must := func(want int, method, path string, body any) []byte {
		if failure != nil {
			return nil
		}
		st, raw, _, err := c.do(ctx, method, path, body)
		if err != nil || st != want {
			failure = fmt.Errorf("%s %s: %d, want %d: %s %v", method, benchTrimPath(path), st, want, benchTrimBody(raw), err)
		}
		return raw
	}
	idOf := func(raw []byte) string {
		var v struct{ ID string }
		_ = json.Unmarshal(raw, &v)
		return v.ID
	}
	drain := func() {
		if failure == nil {
			if err := e.apps[0].SCIM.Drain(ctx); err != nil {
				failure = fmt.Errorf("draining the membership queue: %w", err)
			}
		}
	}
	measure := func(op string, bound int, detail string, fn func()) {
		if failure != nil {
			return
		}
		e.sim.ResetRequests()
		fn()
		calls := e.sim.CountRequests("", "")
		if failure != nil {
			return
		}
		rows = append(rows, Upstream{Operation: op, Calls: calls, Bound: bound, Within: calls <= bound, Detail: detail})
	}

	// Arrange: two linked groups (this also warms the access-group
	// cache) and five users who will change groups.
	members := idOf(must(201, "POST", "/Groups", map[string]any{"schemas": []string{benchGroupSchema}, "displayName": "Members"}))
	premium := idOf(must(201, "POST", "/Groups", map[string]any{"schemas": []string{benchGroupSchema}, "displayName": "Premium"}))
	var batch []string
	for i := range 5 {
		batch = append(batch, idOf(must(201, "POST", "/Users", benchCreateBody(fmt.Sprintf("batch%d@example.com", i), "Batch", fmt.Sprint(i)))))
	}

	body := benchCreateBody("jane.bench@example.com", "Jane", "Doe")
	var id string
	measure("create with a name (POST /Users)", 2, "invite + name PATCH", func() { id = idOf(must(201, "POST", "/Users", body)) })
	measure("filter userName eq (warm)", 0, "from the indexes", func() { must(200, "GET", benchFilter("jane.bench@example.com"), nil) })
	measure("filter on a preloaded user", 0, "", func() { must(200, "GET", benchFilter(benchUserName(42)), nil) })
	measure("GET /Users/{id} (warm)", 0, "from the store", func() { must(200, "GET", "/Users/"+id, nil) })
	measure("PUT that changes nothing", 0, "same body again", func() { must(200, "PUT", "/Users/"+id, body) })
	measure("PATCH that changes nothing", 0, "givenName to its own value", func() {
		must(200, "PATCH", "/Users/"+id, benchPatch(map[string]any{"op": "replace", "path": "name.givenName", "value": "Jane"}))
	})
	measure("name change (PATCH name.givenName)", 1, "", func() {
		must(200, "PATCH", "/Users/"+id, benchPatch(map[string]any{"op": "replace", "path": "name.givenName", "value": "Janet"}))
	})
	all := append([]string{id}, batch...)
	var ms []map[string]any
	for _, u := range all {
		ms = append(ms, map[string]any{"value": u})
	}
	// Every full-list write reads the user first, under its lock (what
	// Webflow holds now, not the bridge's copy): 1 GET + 1 PATCH per user.
	measure(fmt.Sprintf("group add, %d users, drained", len(all)), 2*len(all), "1 GET + 1 PATCH per affected user", func() {
		must(204, "PATCH", "/Groups/"+members, benchPatch(map[string]any{"op": "add", "path": "members", "value": ms}))
		drain()
	})
	measure(fmt.Sprintf("3 group changes, %d users, one drained batch", len(all)), 2*len(all), "remove from one group, add to another, add again: 1 GET + 1 PATCH per user", func() {
		must(204, "PATCH", "/Groups/"+members, benchPatch(map[string]any{"op": "remove", "path": "members", "value": ms}))
		must(204, "PATCH", "/Groups/"+premium, benchPatch(map[string]any{"op": "add", "path": "members", "value": ms}))
		must(204, "PATCH", "/Groups/"+members, benchPatch(map[string]any{"op": "add", "path": "members", "value": ms}))
		drain()
	})
	measure("deactivate (PATCH active false)", 2, "1 GET + 1 PATCH: linked groups removed", func() {
		must(200, "PATCH", "/Users/"+id, benchPatch(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
	})
	measure("reactivate (PATCH active true)", 2, "1 GET + 1 PATCH: linked groups restored", func() {
		must(200, "PATCH", "/Users/"+id, benchPatch(map[string]any{"op": "replace", "value": map[string]any{"active": true}}))
	})
	measure("DELETE /Users/{id}", 1, "", func() { must(204, "DELETE", "/Users/"+id, nil) })
	if failure != nil {
		return nil, failure
	}
	return rows, nil
}

// benchWorkspaceGroup is the group of the workspace row: member with
// marketer, and marketer on the demo site.
const benchWorkspaceGroup = "Marketing"

// benchWorkspaceMembers is how many collaborators the workspace row pushes.
const benchWorkspaceMembers = 20

// workspaceGroupChange pushes a group of benchWorkspaceMembers new
// collaborators (Okta's Group Push: POST /Groups with members), drains the
// roles queue, and counts the role and Site Access writes at the
// simulator against workspaceroles.LowerBound: each member moves from the
// role native SCIM gave them to member/marketer (bulk updates of up to
// MaxBulkIDs) and gets one grant on the demo site. Reads (the member and
// site lists the worker takes) are held to workspaceroles.ReadBound: 20
// users are more than the worker looks up one by one, so one page of the
// workspace list, plus one List Site Members of the managed site.
func (b *benchRun) workspaceGroupChange(ctx context.Context) (Upstream, error) {
	e, err := b.newEnv(ctx, benchEnvOpts{replicas: 1, workspace: true})
	if err != nil {
		return Upstream{}, err
	}
	defer e.Close()
	a := e.apps[0]
	if a.DrainWorkspaceRoles == nil {
		return Upstream{}, errors.New("the replica has no workspace roles worker")
	}
	c := newBenchClient(strings.TrimSuffix(e.bases[0], "/sites/"+webflowsim.DemoSiteID+"/scim/v2")+"/workspace/scim/v2", benchSCIMToken)
	defer c.close()
	var ms []map[string]any
	for i := range benchWorkspaceMembers {
		email := fmt.Sprintf("ws%03d@example.com", i)
		body := benchCreateBody(email, "Ws", fmt.Sprint(i))
		body["emails"] = []map[string]any{{"primary": true, "value": email, "type": "work"}}
		st, raw, _, err := c.do(ctx, "POST", "/Users", body)
		if err != nil || st != 201 {
			return Upstream{}, fmt.Errorf("POST /Users %s: %d %s %v", email, st, benchTrimBody(raw), err)
		}
		var v struct{ ID string }
		_ = json.Unmarshal(raw, &v)
		ms = append(ms, map[string]any{"value": v.ID})
		// Webflow locks the roles of members its native SCIM created; the
		// row measures the writes of members it does not lock.
		if err := e.sim.SetSCIMLock(email, false); err != nil {
			return Upstream{}, err
		}
	}
	e.sim.ResetRequests()
	// What the worker will read: the workspace, and the managed site.
	snap := e.sim.Workspace()
	var siteEntries []int
	for _, s := range snap.Sites {
		if s.ID == webflowsim.DemoSiteID {
			siteEntries = append(siteEntries, len(s.Members))
		}
	}
	readBound := workspaceroles.ReadBound(benchWorkspaceMembers, workspacegroups.DefaultFindLimit, len(snap.Members), len(snap.Invites), siteEntries)
	st, raw, _, err := c.do(ctx, "POST", "/Groups", map[string]any{"schemas": []string{benchGroupSchema}, "displayName": benchWorkspaceGroup, "members": ms})
	if err != nil || st != 201 {
		return Upstream{}, fmt.Errorf("POST /Groups: %d %s %v", st, benchTrimBody(raw), err)
	}
	if err := a.DrainWorkspaceRoles(ctx); err != nil {
		return Upstream{}, fmt.Errorf("draining the workspace roles queue: %w", err)
	}
	var writes, reads int
	for _, r := range e.sim.Requests() {
		if !strings.Contains(r.Path, "/members") || !(strings.HasPrefix(r.Path, "/v2/workspaces/") || strings.HasPrefix(r.Path, "/v2/sites/")) {
			continue
		}
		if r.Method == http.MethodGet {
			reads++
		} else {
			writes++
		}
	}
	pair := workspaceroles.Pair{Workspace: workspaceroles.WorkspaceMember, Site: workspaceroles.Builtin(workspaceroles.SiteMarketer)}
	bound := workspaceroles.LowerBound(map[workspaceroles.Pair]int{pair: benchWorkspaceMembers}, benchWorkspaceMembers)
	// A row that wrote nothing measured nothing: the members' roles did
	// not change.
	if writes == 0 {
		return Upstream{}, fmt.Errorf("the group push made no role or site write (%d reads)", reads)
	}
	return Upstream{
		Operation: fmt.Sprintf("workspace group push, %d members, drained", benchWorkspaceMembers),
		Calls:     writes, Bound: bound, Reads: reads, ReadBound: readBound, Within: writes <= bound && reads <= readBound,
		Detail: fmt.Sprintf("role and Site Access writes: ⌈n/%d⌉ bulk role updates + 1 site grant per member (workspaceroles.LowerBound); reads %d, bound %d (workspaceroles.ReadBound: 1 page of List Workspace Members + 1 List Site Members)", workspaceroles.MaxBulkIDs, reads, readBound),
	}, nil
}

// benchMembersCycleOperation names the members-mode row.
const benchMembersCycleOperation = "workspace members mode: lookup, POST, deactivate, reactivate, PUT, DELETE"

// benchMembersStep is one SCIM call of the members-mode row and the
// Webflow calls it may cost (docs/workspace-roles.md, Members mode).
type benchMembersStep struct {
	name   string
	bound  int
	method string
	path   string
	body   any
	status int
	before func() error // at the simulator, not counted
}

// workspaceMembersCycle runs one user through /workspace/scim/v2/Users in
// workspace.mode: members and counts every Webflow call at the simulator,
// step by step, against its lower bound: Okta's lookup 0 (the Redis
// indexes), POST 1 (the invite), the lookup again 0, deactivate of the
// pending invite 1 (bulk remove), reactivate 1 (a new invite), a PUT once
// the person has accepted 1 (the list by email that notices acceptance),
// DELETE of the member 1 (Remove Workspace Member). The row is within
// its bound only if every step is; the calls are all the simulator
// served, reads included.
func (b *benchRun) workspaceMembersCycle(ctx context.Context) (Upstream, error) {
	e, err := b.newEnv(ctx, benchEnvOpts{replicas: 1, workspace: true, members: true})
	if err != nil {
		return Upstream{}, err
	}
	defer e.Close()
	c := newBenchClient(strings.TrimSuffix(e.bases[0], "/sites/"+webflowsim.DemoSiteID+"/scim/v2")+"/workspace/scim/v2", benchSCIMToken)
	defer c.close()
	const email = "members.cycle@example.com"
	body := benchCreateBody(email, "Mia", "Cycle")
	body["emails"] = []map[string]any{{"primary": true, "value": email, "type": "work"}}
	renamed := benchCreateBody(email, "Mia-Renamed", "Cycle")
	renamed["emails"] = body["emails"]
	var id string
	steps := []benchMembersStep{
		{name: "lookup", bound: 0, method: "GET", path: benchFilter(email), status: 200},
		{name: "POST", bound: 1, method: "POST", path: "/Users", body: body, status: 201},
		{name: "lookup", bound: 0, method: "GET", path: benchFilter(email), status: 200},
		{name: "deactivate", bound: 1, method: "PATCH", path: "/Users/{id}", body: benchPatch(map[string]any{"op": "replace", "value": map[string]any{"active": false}}), status: 200},
		{name: "reactivate", bound: 1, method: "PATCH", path: "/Users/{id}", body: benchPatch(map[string]any{"op": "replace", "value": map[string]any{"active": true}}), status: 200},
		{name: "PUT after acceptance", bound: 1, method: "PUT", path: "/Users/{id}", body: renamed, status: 200, before: func() error {
			_, err := e.sim.AcceptInvite(email, "Mia", "Cycle")
			return err
		}},
		{name: "DELETE", bound: 1, method: "DELETE", path: "/Users/{id}", status: 204},
	}
	var calls, bound int
	within := true
	var detail []string
	for _, s := range steps {
		if s.before != nil {
			if err := s.before(); err != nil {
				return Upstream{}, fmt.Errorf("before %s: %w", s.name, err)
			}
		}
		path := strings.ReplaceAll(s.path, "{id}", id)
		e.sim.ResetRequests()
		st, raw, _, err := c.do(ctx, s.method, path, s.body)
		if err != nil || st != s.status {
			return Upstream{}, fmt.Errorf("%s %s: %d, want %d: %s %v", s.method, benchTrimPath(path), st, s.status, benchTrimBody(raw), err)
		}
		n := e.sim.CountRequests("", "")
		if s.method == "POST" {
			var v struct{ ID string }
			_ = json.Unmarshal(raw, &v)
			id = v.ID
		}
		calls += n
		bound += s.bound
		within = within && n <= s.bound
		detail = append(detail, fmt.Sprintf("%s %d/%d", s.name, n, s.bound))
	}
	// A row whose writes did not happen measured nothing.
	if n := e.sim.WorkspaceInvitesTo(email); n != 2 {
		return Upstream{}, fmt.Errorf("the cycle sent %d invitations, want 2 (POST and reactivate)", n)
	}
	if _, ok := e.sim.MemberByEmail(email); ok {
		return Upstream{}, errors.New("the DELETEd member is still in the workspace")
	}
	return Upstream{
		Operation: benchMembersCycleOperation, Calls: calls, Bound: bound, Within: within,
		Detail: "Webflow calls per step, calls/bound (every step within its own): " + strings.Join(detail, ", ") +
			"; lookups from the Redis indexes, 1 invite per POST and reactivate, 1 removal per deactivate (bulk remove of the pending invite) and DELETE (of the member), 1 list by email when a PUT notices an accepted invite",
	}, nil
}

// ---- 4. budget ---------------------------------------------------------------

func (b *benchRun) budget(ctx context.Context) (Budget, error) {
	// Time-compressed: 200 calls per 1 s window (the pace of 12,000 per
	// minute), so 2,000 creates take about 10 s instead of 33 minutes at 60/min.
	const budget, window = 200, time.Second
	out := Budget{Replicas: 2, Users: b.f.budgetUsers, BudgetPerWindow: budget, Window: window.String(),
		PerMinuteEquiv: "200 per 1 s window (12,000/min pace)", Clock: b.f.budgetClock}
	now := time.Now
	var clock *vclock.Clock
	if b.f.budgetClock == "virtual" {
		clock = vclock.New(time.Now())
		now = clock.Now
	}
	e, err := b.newEnv(ctx, benchEnvOpts{replicas: 2, simRate: budget, rateWindow: window, maxWait: 30 * time.Second, clock: clock})
	if err != nil {
		return out, err
	}
	defer e.Close()
	out.Store = "shared miniredis"
	if e.real {
		out.Store = "shared Redis (REDIS_URL)"
	}
	clients := []*benchClient{newBenchClient(e.bases[0], benchSCIMToken), newBenchClient(e.bases[1], benchSCIMToken)}
	defer clients[0].close()
	defer clients[1].close()
	e.sim.ResetRequests()
	var next, created, failed atomic.Int64
	start := time.Now()
	deadline := now().Add(time.Duration(b.f.budgetUsers/budget+30) * window)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		if clock != nil {
			clock.Join()
		}
		go func() {
			defer wg.Done()
			if clock != nil {
				defer clock.Leave()
			}
			for now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1))
				if i > b.f.budgetUsers {
					return
				}
				st, _, _, err := clients[w%2].do(ctx, "POST", "/Users", map[string]any{"schemas": []string{benchUserSchema}, "userName": fmt.Sprintf("bulk%05d@example.com", i), "active": true})
				if err == nil && st == 201 {
					created.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	out.Seconds = time.Since(start).Seconds()
	out.Created, out.Failed = int(created.Load()), int(failed.Load())
	var times []time.Time
	for _, rq := range e.sim.Requests() {
		if rq.Status == 429 {
			out.TooMany++
		}
		times = append(times, rq.Time)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= window {
			j++
		}
		out.WorstWindow = max(out.WorstWindow, i-j+1)
	}
	out.Calls = len(times)
	if len(times) > 1 {
		// Whole windows in the middle of the run, while every client had work waiting.
		from, to := times[0].Add(window), times[len(times)-1].Add(-window)
		if to.After(from) {
			mid := 0
			for _, tm := range times {
				if !tm.Before(from) && tm.Before(to) {
					mid++
				}
			}
			out.UsedPct = 100 * float64(mid) / (float64(budget) * to.Sub(from).Seconds() / window.Seconds())
		}
	}
	return out, nil
}

// ---- 5. memory and scaling ------------------------------------------------------

func benchRSS() (rss, heap float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapInuse) / (1 << 20)
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, heap
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024, heap
			}
		}
	}
	return 0, heap
}

func benchUsedMemory(ctx context.Context, rdb redis.UniversalClient) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// benchMemoryWarmUsers are preloaded before the used_memory delta starts.
const benchMemoryWarmUsers = 100

func (b *benchRun) memory(ctx context.Context, n int) (Memory, error) {
	out := Memory{Users: n}
	e, err := b.newEnv(ctx, benchEnvOpts{replicas: 1, workers: true})
	if err != nil {
		return out, err
	}
	defer e.Close()
	t0 := time.Now()
	// Straight into the store: the simulator stays empty, so that the RSS
	// is the bridge's (reads with a warm cache never call Webflow). The
	// first users also pay fixed costs that INFO counts: the preload's
	// connections (their buffers) and the Lua scripts Redis caches on
	// first use. The used_memory delta is taken after them, so it is the
	// cost of one more user.
	warm := min(benchMemoryWarmUsers, n/2)
	if err := e.preload(ctx, warm, false); err != nil {
		return out, err
	}
	before := int64(-1)
	if e.real {
		before = benchUsedMemory(ctx, e.rdb)
	}
	if err := e.preloadRange(ctx, warm, n, false); err != nil {
		return out, err
	}
	out.PreloadSeconds = time.Since(t0).Seconds()
	if e.real && before >= 0 {
		if after := benchUsedMemory(ctx, e.rdb); after >= 0 {
			out.UsedMemoryPerUser = float64(after-before) / float64(n-warm)
		}
	}
	// Every key of the site: the record hash, the indexes, the order.
	var total int64
	_ = state.ForEachKey(ctx, e.rdb, e.prefix+":*", func(k string) error {
		var sz int64
		var err error
		if e.real {
			sz, err = e.rdb.MemoryUsage(ctx, k, 0).Result() // SAMPLES 0: every element
		} else {
			sz, err = e.rdb.MemoryUsage(ctx, k).Result()
		}
		if err == nil {
			total += sz
		}
		return nil
	})
	out.KeyBytesPerUser = float64(total) / float64(n)
	out.KeyBytesMethod = "miniredis MEMORY USAGE (Go size estimate) over the site's keys / users"
	if e.real {
		out.KeyBytesMethod = "MEMORY USAGE … SAMPLES 0 over the site's keys / users"
	}
	out.RSSMiB, out.HeapMiB = benchRSS()
	out.RSSIncludesStore = !e.real
	c := newBenchClient(e.bases[0], benchSCIMToken)
	defer c.close()
	t := workloadTarget{name: "bridge", client: c, users: n}
	conc := b.f.conc[len(b.f.conc)-1]
	l := load(ctx, conc, b.f.dur, t.filter)
	out.FilterReqPerSec, out.FilterP99ms, out.FilterErrors = l.ReqPerSec, l.P99ms, l.Errors
	return out, nil
}

// ---- goals and output -------------------------------------------------------------

func (b *benchRun) goals() []Goal {
	r := &b.rep
	var g []Goal
	add := func(goal string, measured bool, met bool, figure string) {
		s := "not met"
		switch {
		case !measured:
			s = "not measured"
		case met:
			s = "met"
		}
		g = append(g, Goal{Goal: goal, Status: s, Measured: figure})
	}
	// ≥ 5× the peer.
	if r.Peer.Ran {
		worst, fig := 0.0, ""
		for i, x := range r.Peer.Ratios {
			if i == 0 || x.Ratio < worst {
				worst = x.Ratio
			}
			fig += fmt.Sprintf("%s c=%d %.1f×; ", x.Workload, x.Concurrency, x.Ratio)
		}
		add("≥ 5× the scimmy peer's req/s", len(r.Peer.Ratios) > 0, worst >= 5, strings.TrimSuffix(fig, "; "))
	} else {
		add("≥ 5× the scimmy peer's req/s", false, false, r.Peer.Skipped)
	}
	maxC := b.f.conc[len(b.f.conc)-1]
	worstP99, fig := 0.0, ""
	for _, l := range r.Throughput {
		if l.Target == "bridge" && l.Concurrency == maxC {
			worstP99 = max(worstP99, l.P99ms)
			fig += fmt.Sprintf("%s %.1f ms; ", l.Workload, l.P99ms)
		}
	}
	add(fmt.Sprintf("p99 ≤ 20 ms at concurrency %d", maxC), fig != "", worstP99 <= 20, strings.TrimSuffix(fig, "; "))
	best := 0.0
	for _, l := range r.Throughput {
		if l.Target == "bridge" && l.Workload == "filter GET" {
			best = max(best, l.ReqPerSec)
		}
	}
	add("filtered GET ≥ 5,000 req/s", best > 0, best >= 5000, fmt.Sprintf("%.0f req/s (best concurrency)", best))
	above, equal := 0, 0
	for _, u := range r.Upstream {
		if !u.Within {
			above++
		}
		if u.Calls == u.Bound {
			equal++
		}
	}
	add("upstream calls = lower bound for every operation", len(r.Upstream) > 0, above == 0,
		fmt.Sprintf("%d operations: %d above the bound, %d at it, %d below", len(r.Upstream), above, equal, len(r.Upstream)-above-equal))
	add("budget ≥ 95% used with 0 upstream 429s", r.Budget.Calls > 0, r.Budget.UsedPct >= 95 && r.Budget.TooMany == 0,
		fmt.Sprintf("%.1f%% used, %d 429s", r.Budget.UsedPct, r.Budget.TooMany))
	maxKB := 0.0
	for _, m := range r.Memory {
		maxKB = max(maxKB, m.KeyBytesPerUser, m.UsedMemoryPerUser)
	}
	add("≤ 1 KiB of Redis per user", len(r.Memory) > 0, maxKB <= 1024, fmt.Sprintf("%.0f bytes per user (largest figure)", maxKB))
	var big *Memory
	for i := range r.Memory {
		if r.Memory[i].Users >= 100000 {
			big = &r.Memory[i]
		}
	}
	if big != nil {
		note := ""
		if big.RSSIncludesStore {
			note = " (includes the embedded store)"
		}
		add("bridge RSS ≤ 64 MiB at 100,000 users", true, big.RSSMiB <= 64, fmt.Sprintf("%.1f MiB%s", big.RSSMiB, note))
	} else {
		add("bridge RSS ≤ 64 MiB at 100,000 users", false, false, "run with --memory")
	}
	var at1k, atBig *Memory
	for i := range r.Memory {
		if r.Memory[i].Users == 1000 {
			at1k = &r.Memory[i]
		}
		if r.Memory[i].Users >= 100000 {
			atBig = &r.Memory[i]
		}
	}
	if at1k != nil && atBig != nil && at1k.FilterReqPerSec > 0 {
		ratio := atBig.FilterReqPerSec / at1k.FilterReqPerSec
		add("req/s at 100,000 users within 20% of 1,000", true, ratio >= 0.8 && ratio <= 1.2,
			fmt.Sprintf("%.0f vs %.0f req/s (%.0f%%)", atBig.FilterReqPerSec, at1k.FilterReqPerSec, ratio*100))
	} else {
		add("req/s at 100,000 users within 20% of 1,000", false, false, "run with --memory")
	}

	// Issue 16: the mixed workload in IdP form, its CPU, the large group.
	find := func(target, wl string, c int) *Load {
		for i := range r.Throughput {
			if l := &r.Throughput[i]; l.Target == target && l.Workload == wl && l.Concurrency == c {
				return l
			}
		}
		return nil
	}
	for _, want := range []struct {
		c     int
		ratio float64
	}{{1, 4}, {16, 8}} {
		goal := fmt.Sprintf("mixed (IdP form) at c=%d ≥ %.0f× scimmy's req/s", want.c, want.ratio)
		bl, pl := find("bridge", wlMixedIdP, want.c), find("peer", wlMixedIdP, want.c)
		switch {
		case bl == nil:
			add(goal, false, false, fmt.Sprintf("not run at c=%d", want.c))
		case pl == nil || pl.ReqPerSec == 0:
			add(goal, false, false, "peer not run: "+r.Peer.Skipped)
		default:
			x := bl.ReqPerSec / pl.ReqPerSec
			add(goal, true, x >= want.ratio, fmt.Sprintf("%.0f vs %.0f req/s (%.1f×)", bl.ReqPerSec, pl.ReqPerSec, x))
		}
	}
	if l := find("bridge", wlMixedIdP, 16); l != nil {
		add("mixed (IdP form) p99 ≤ 15 ms at c=16", true, l.P99ms <= 15, fmt.Sprintf("%.1f ms", l.P99ms))
	} else {
		add("mixed (IdP form) p99 ≤ 15 ms at c=16", false, false, "not run at c=16")
	}
	if l := find("bridge", wlFilter, 16); l != nil {
		add("filtered GET ≥ 10,000 req/s at c=16", true, l.ReqPerSec >= 10000, fmt.Sprintf("%.0f req/s", l.ReqPerSec))
	} else {
		add("filtered GET ≥ 10,000 req/s at c=16", false, false, "not run at c=16")
	}
	cpuFig, cpuMet, cpuMeasured := "", true, false
	for _, l := range r.Throughput {
		if l.Target == "bridge" && l.Workload == wlMixedIdP && l.CPUPerRequestUs > 0 {
			cpuMeasured = true
			cpuMet = cpuMet && l.CPUPerRequestUs <= 150 && !strings.Contains(l.CPUMethod, "including")
			cpuFig += fmt.Sprintf("c=%d %.0f µs; ", l.Concurrency, l.CPUPerRequestUs)
		}
	}
	if cpuMeasured {
		for _, l := range r.Throughput {
			if l.Target == "bridge" && l.Workload == wlMixedIdP && l.CPUMethod != "" {
				cpuFig += "(" + l.CPUMethod + ")"
				break
			}
		}
	}
	add("bridge CPU ≤ 150 µs per request, mixed (IdP form)", cpuMeasured, cpuMeasured && cpuMet, strings.TrimSuffix(cpuFig, "; "))
	large := "not run"
	largeMet, largeMeasured := false, false
	for _, l := range r.Throughput {
		if l.Workload != wlLargeGroup {
			continue
		}
		for _, op := range l.Ops {
			if op.Operation == "GET /Groups/{id}" {
				largeMeasured, largeMet = l.Users >= benchLargeGroup, op.P50ms <= 10
				large = fmt.Sprintf("%d members: GET p50 %.1f ms, p99 %.1f ms", l.Users, op.P50ms, op.P99ms)
			}
		}
	}
	add("GET /Groups/{id} of 10,000 members ≤ 10 ms (p50)", largeMeasured, largeMet, large)
	return g
}

func (b *benchRun) printTable(w io.Writer) {
	r := &b.rep
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "machine: %d CPUs, %s, %s RAM, %s, load average at start %s; store: %s\n\n", r.Machine.CPUs, r.Machine.Model, r.Machine.MemTotal, r.Machine.GoVersion, r.Machine.LoadAvg, r.Store)
	fmt.Fprintln(tw, "THROUGHPUT\ttarget\tworkload\tusers\tconc\trequests\treq/s\tp50 ms\tp99 ms\terrors\tCPU µs/req\t")
	cpuNote := ""
	for _, l := range r.Throughput {
		cpu := "-"
		if l.CPUPerRequestUs > 0 {
			cpu = fmt.Sprintf("%.0f", l.CPUPerRequestUs)
			cpuNote = l.CPUMethod
		}
		fmt.Fprintf(tw, "\t%s\t%s\t%d\t%d\t%d\t%.0f\t%.2f\t%.2f\t%d\t%s\t\n", l.Target, l.Workload, l.Users, l.Concurrency, l.Requests, l.ReqPerSec, l.P50ms, l.P99ms, l.Errors, cpu)
	}
	if cpuNote != "" {
		fmt.Fprintf(tw, "\tCPU µs/req: getrusage of the %s, over the run / requests\n", cpuNote)
	}
	for _, l := range r.Throughput {
		for _, op := range l.Ops {
			fmt.Fprintf(tw, "\t%s\t  %s\t\t%d\t%d\t\t%.2f\t%.2f\t\t\n", l.Target, op.Operation, l.Concurrency, op.Requests, op.P50ms, op.P99ms)
		}
	}
	for _, l := range r.Throughput {
		if l.FirstError != "" {
			fmt.Fprintf(tw, "\tfirst error (%s %s c=%d): %s\n", l.Target, l.Workload, l.Concurrency, l.FirstError)
		}
	}
	fmt.Fprintln(tw)
	if r.Peer.Ran {
		fmt.Fprintf(tw, "PEER\t%s\n", r.Peer.Server)
		fmt.Fprintln(tw, "\tworkload\tconc\tbridge req/s\tpeer req/s\tbridge/peer\t")
		for _, x := range r.Peer.Ratios {
			fmt.Fprintf(tw, "\t%s\t%d\t%.0f\t%.0f\t%.1f×\t\n", x.Workload, x.Concurrency, x.Bridge, x.Peer, x.Ratio)
		}
	} else {
		fmt.Fprintf(tw, "PEER\tskipped: %s\n", r.Peer.Skipped)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "UPSTREAM CALLS\toperation\tcalls\tbound\tresult\t")
	for _, u := range r.Upstream {
		res := "ok"
		if !u.Within {
			res = "ABOVE BOUND"
		}
		fmt.Fprintf(tw, "\t%s\t%d\t%d\t%s\t\n", u.Operation, u.Calls, u.Bound, res)
	}
	fmt.Fprintln(tw)
	bu := r.Budget
	fmt.Fprintln(tw, "BUDGET\treplicas\tusers\tcreated\tbudget\twebflow calls\tworst window\t429s\tbudget used\tseconds\tclock\t")
	fmt.Fprintf(tw, "\t%d\t%d\t%d\t%d per %s\t%d\t%d\t%d\t%.1f%%\t%.1f\t%s\t\n", bu.Replicas, bu.Users, bu.Created, bu.BudgetPerWindow, bu.Window, bu.Calls, bu.WorstWindow, bu.TooMany, bu.UsedPct, bu.Seconds, bu.Clock)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MEMORY/SCALING\tusers\tpreload s\tkey bytes/user\tused_memory Δ/user\tRSS MiB\theap MiB\tfilter req/s\tfilter p99 ms\terrors\t")
	for _, m := range r.Memory {
		um := "n/a (embedded)"
		if m.UsedMemoryPerUser != 0 {
			um = fmt.Sprintf("%.0f", m.UsedMemoryPerUser)
		}
		fmt.Fprintf(tw, "\t%d\t%.1f\t%.0f\t%s\t%.1f\t%.1f\t%.0f\t%.2f\t%d\t\n", m.Users, m.PreloadSeconds, m.KeyBytesPerUser, um, m.RSSMiB, m.HeapMiB, m.FilterReqPerSec, m.FilterP99ms, m.FilterErrors)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "GOALS\tgoal\tstatus\tmeasured\t")
	for _, g := range r.Goals {
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t\n", g.Goal, g.Status, g.Measured)
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "elapsed: %s\n", r.Elapsed)
}

func benchMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), GOMAXPROC: runtime.GOMAXPROCS(0), Model: "unknown", MemTotal: "unknown"}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					m.MemTotal = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	return m
}

// benchRedact drops any password from a Redis URL.
func benchRedact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "redis"
	}
	if p.User != nil {
		p.User = url.User("***")
	}
	return p.String()
}
