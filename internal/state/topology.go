package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis topologies, as /readyz names them.
const (
	TopologyStandalone = "standalone"
	TopologyCluster    = "cluster"
	TopologySentinel   = "sentinel"
	TopologyEmbedded   = "embedded"
)

// TopologyStatus is what the bridge knows of its Redis deployment: the
// topology, the current master(s), and what is degraded. Addresses only,
// never a password.
type TopologyStatus struct {
	Topology string `json:"topology"`
	// Masters are the masters serving data now (host:port); for a cluster
	// with the slot ranges they serve.
	Masters []string `json:"masters,omitempty"`
	// Degraded lists what is wrong while data is still served: a master
	// down, a failover in progress, a master without a replica.
	Degraded []string `json:"degraded,omitempty"`
	// Down is set when no master can be reached at all.
	Down bool `json:"-"`
}

// TopologyProbe reads a deployment's topology; see NewTopologyProbe.
type TopologyProbe struct {
	topology   string
	rdb        redis.UniversalClient
	addr       string   // standalone
	sentinels  []string // sentinel
	masterName string
	sentinelFn func(addr string) *redis.SentinelClient
}

// NewTopologyProbe builds the probe for the client Open(rawURL) returned
// (rawURL "" is the embedded store). It does no I/O.
func NewTopologyProbe(rawURL string, rdb redis.UniversalClient) (*TopologyProbe, error) {
	p := &TopologyProbe{rdb: rdb}
	if rawURL == "" {
		p.topology = TopologyEmbedded
		return p, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, ErrInvalidURL
	}
	switch {
	case strings.HasSuffix(u.Scheme, "+sentinel"):
		p.topology = TopologySentinel
		p.masterName = strings.Trim(u.Path, "/")
		for _, a := range strings.Split(u.Host, ",") {
			if a = strings.TrimSpace(a); a != "" {
				p.sentinels = append(p.sentinels, a)
			}
		}
		user, pw := "", ""
		if u.User != nil && u.Query().Get("sentinel_auth") != "false" {
			user = u.User.Username()
			pw, _ = u.User.Password()
		}
		p.sentinelFn = func(addr string) *redis.SentinelClient {
			return redis.NewSentinelClient(&redis.Options{Addr: addr, Username: user, Password: pw,
				DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1,
				DialerRetries: 1, ContextTimeoutEnabled: true})
		}
	case strings.HasSuffix(u.Scheme, "+cluster") || strings.Contains(u.Host, ","):
		p.topology = TopologyCluster
	default:
		p.topology = TopologyStandalone
		p.addr = u.Host
	}
	return p, nil
}

// Probe reads the topology now. An error means Redis could not be read
// at all (Down is then set too).
func (p *TopologyProbe) Probe(ctx context.Context) (TopologyStatus, error) {
	st := TopologyStatus{Topology: p.topology}
	switch p.topology {
	case TopologyCluster:
		cc, ok := p.rdb.(*redis.ClusterClient)
		if !ok {
			return st, fmt.Errorf("state: cluster probe on a %T", p.rdb)
		}
		return p.probeCluster(ctx, cc, st)
	case TopologySentinel:
		return p.probeSentinel(ctx, st)
	}
	if p.addr != "" {
		st.Masters = []string{p.addr}
	}
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		st.Down = true
		return st, fmt.Errorf("state: ping redis: %w", err)
	}
	return st, nil
}

// probeCluster reads CLUSTER NODES from the masters go-redis knows (the
// first that answers) and CLUSTER INFO's state.
func (p *TopologyProbe) probeCluster(ctx context.Context, cc *redis.ClusterClient, st TopologyStatus) (TopologyStatus, error) {
	var nodesOut, info string
	var last error
	_ = cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		if nodesOut != "" {
			return nil
		}
		out, err := c.ClusterNodes(ctx).Result()
		if err != nil {
			last = err
			return nil // another node may answer
		}
		in, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			last = err
			return nil
		}
		nodesOut, info = out, in
		return nil
	})
	if nodesOut == "" {
		st.Down = true
		if last == nil {
			last = errors.New("no node answered")
		}
		return st, fmt.Errorf("state: read cluster topology: %w", last)
	}
	nodes := parseClusterNodes(nodesOut)
	replicas := map[string]int{}
	for _, n := range nodes {
		if !n.master && !n.failed && n.masterID != "" {
			replicas[n.masterID]++
		}
	}
	for _, n := range nodes {
		switch {
		case n.master && !n.failed && len(n.slots) > 0:
			st.Masters = append(st.Masters, n.addr+" ("+strings.Join(n.slots, ",")+")")
			if replicas[n.id] == 0 {
				st.Degraded = append(st.Degraded, "master "+n.addr+" has no replica: losing it would lose its slots")
			}
		case n.master && n.failed && len(n.slots) > 0:
			st.Degraded = append(st.Degraded, "master "+n.addr+" down ("+n.flags+"): failover in progress")
		case n.failed:
			role := "replica"
			if n.master {
				role = "former master"
			}
			st.Degraded = append(st.Degraded, role+" "+n.addr+" down ("+n.flags+")")
		}
	}
	if !strings.Contains(info, "cluster_state:ok") {
		st.Degraded = append(st.Degraded, "cluster_state is fail: some slots have no master (failover in progress)")
	}
	slices.Sort(st.Masters)
	if len(st.Masters) == 0 {
		st.Down = true
		return st, errors.New("state: no cluster master serves slots")
	}
	return st, nil
}

// probeSentinel asks the Sentinels (the first that answers) for the master
// and its state, and checks the master answers.
func (p *TopologyProbe) probeSentinel(ctx context.Context, st TopologyStatus) (TopologyStatus, error) {
	var m map[string]string
	var reps []map[string]string
	answered := 0
	var last error
	for _, a := range p.sentinels {
		sc := p.sentinelFn(a)
		mm, err := sc.Master(ctx, p.masterName).Result()
		if err == nil && m == nil {
			m = mm
			reps, _ = sc.Replicas(ctx, p.masterName).Result()
		}
		_ = sc.Close()
		if err != nil {
			last = err
			continue
		}
		answered++
	}
	if m == nil {
		st.Down = true
		return st, fmt.Errorf("state: no Sentinel answered: %w", last)
	}
	if answered < len(p.sentinels) {
		st.Degraded = append(st.Degraded, fmt.Sprintf("%d of %d Sentinels answer", answered, len(p.sentinels)))
	}
	master := net.JoinHostPort(m["ip"], m["port"])
	st.Masters = []string{master}
	flags := m["flags"]
	switch {
	case strings.Contains(flags, "failover_in_progress"):
		st.Degraded = append(st.Degraded, "master "+master+": failover in progress")
	case strings.Contains(flags, "o_down"), strings.Contains(flags, "s_down"):
		st.Degraded = append(st.Degraded, "master "+master+" down ("+flags+"): failover pending")
	}
	up := 0
	for _, r := range reps {
		if !strings.Contains(r["flags"], "down") && r["master-link-status"] == "ok" {
			up++
		} else {
			st.Degraded = append(st.Degraded, "replica "+net.JoinHostPort(r["ip"], r["port"])+" down ("+r["flags"]+")")
		}
	}
	if up == 0 {
		st.Degraded = append(st.Degraded, "master "+master+" has no replica in sync: losing it would lose the data")
	}
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		st.Down = true
		return st, fmt.Errorf("state: ping the Sentinel master: %w", err)
	}
	return st, nil
}

type clusterNodeLine struct {
	id, addr, masterID, flags string
	master, failed            bool
	slots                     []string
}

func parseClusterNodes(out string) []clusterNodeLine {
	var nodes []clusterNodeLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNodeLine{id: f[0], addr: addr, masterID: strings.TrimPrefix(f[3], "-"), flags: f[2]}
		for _, fl := range strings.Split(f[2], ",") {
			switch fl {
			case "master":
				n.master = true
			case "fail", "fail?":
				n.failed = true
			}
		}
		for _, s := range f[8:] {
			if !strings.HasPrefix(s, "[") { // a slot being migrated
				n.slots = append(n.slots, s)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// ForEachKey calls fn, one key at a time, with every key matching pattern:
// on a cluster, of every master (SCAN on a ClusterClient reads one node
// only).
func ForEachKey(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func(key string) error) error {
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		return fmt.Errorf("state: scan %s: %w", pattern, err)
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// Topology is the probe's topology (TopologyStandalone, ...).
func (p *TopologyProbe) Topology() string { return p.topology }

// Durability is the Durability a store on this topology should use: WAIT
// for one replica on Cluster and Sentinel (their point is to survive a
// master's loss), nothing on a single Redis or the embedded store. On
// Sentinel a write no replica confirmed fails while the Sentinels report
// the master down or being failed over (see FailoverInProgress).
func (p *TopologyProbe) Durability() Durability {
	switch p.topology {
	case TopologyCluster:
		return Durability{Replicas: 1}
	case TopologySentinel:
		return Durability{Replicas: 1, Unreplicated: p.FailoverInProgress}
	}
	return Durability{}
}

// FailoverInProgress returns ErrNotReplicated when a Sentinel reports the
// master set down or being failed over, or when no Sentinel answers: a
// write no replica confirmed may then have gone to the old master (Sentinel
// promotes the replica before it turns the old master into a replica, and
// the old master's writes of that window are dropped when it resyncs).
//
// It also fails when runID (the node the write went to) is not the master
// the Sentinels name: the client may still write to the old master for a
// moment after the switch.
func (p *TopologyProbe) FailoverInProgress(ctx context.Context, runID string) error {
	if p.topology != TopologySentinel {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	// Every Sentinel: only the leader of a failover flags it.
	answered := 0
	for _, a := range p.sentinels {
		sc := p.sentinelFn(a)
		m, err := sc.Master(ctx, p.masterName).Result()
		_ = sc.Close()
		if err != nil {
			continue
		}
		answered++
		if f := m["flags"]; strings.Contains(f, "failover_in_progress") || strings.Contains(f, "o_down") || strings.Contains(f, "s_down") {
			return fmt.Errorf("%w (Sentinel: master %s)", ErrNotReplicated, f)
		}
		if runID == "" || m["runid"] != "" && m["runid"] != runID {
			return fmt.Errorf("%w (the node written to is not the master the Sentinels name)", ErrNotReplicated)
		}
	}
	if answered == 0 {
		return fmt.Errorf("%w (no Sentinel answered)", ErrNotReplicated)
	}
	return nil
}
