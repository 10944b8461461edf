// Package redistest starts real Redis topologies for tests: a 6-node Redis
// Cluster (3 masters, 3 replicas) and a Sentinel setup (1 master, 1
// replica, 3 Sentinels), each from the redis-server on PATH, on free
// loopback ports (never 6379), with its files under a directory the caller
// owns (t.TempDir). Every process is killed by Stop, and by the kernel if
// the test binary dies first (Pdeathsig).
//
// Tests opt in with REDIS_TOPOLOGY (see FromEnv): the topologies start many
// processes, so `go test ./...` leaves them out and .ci/run turns them on.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topology names, as REDIS_TOPOLOGY and /readyz spell them.
const (
	Cluster  = "cluster"
	Sentinel = "sentinel"
)

// EnvTopology is the variable that turns the topology suites on.
const EnvTopology = "REDIS_TOPOLOGY"

// FromEnv returns the topology REDIS_TOPOLOGY asks for ("" when unset) or
// an error for any other value.
func FromEnv() (string, error) {
	switch v := os.Getenv(EnvTopology); v {
	case "", Cluster, Sentinel:
		return v, nil
	default:
		return "", fmt.Errorf("%s=%q: want %q or %q", EnvTopology, v, Cluster, Sentinel)
	}
}

// Node is one redis-server (or Sentinel) process.
type Node struct {
	Addr string // 127.0.0.1:port
	Port int
	dir  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (n *Node) start() error {
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("redis-server", n.args...)
	cmd.Dir = n.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server on %s: %w", n.Addr, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	return nil
}

// Kill ends the process with SIGKILL (kill -9) and waits for it.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts a killed node again with its own files (AOF, nodes.conf).
func (n *Node) Restart() error {
	n.mu.Lock()
	running := n.cmd != nil
	n.mu.Unlock()
	if running {
		return nil
	}
	return n.start()
}

// Client is a plain client of this one node.
func (n *Node) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		MaxRetries: -1, ContextTimeoutEnabled: true})
}

// Log returns the node's log file, for a failing test's message.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
	return string(b)
}

func (n *Node) waitPing(ctx context.Context) error {
	c := n.Client()
	defer c.Close()
	return poll(ctx, 20*time.Millisecond, func() error { return c.Ping(ctx).Err() })
}

// freePorts finds count loopback ports p (and p+10000 when bus is set, the
// cluster bus) that nothing listens on, away from 6379 and the ephemeral
// range.
func freePorts(count int, bus bool) ([]int, error) {
	var out []int
	for tries := 0; len(out) < count && tries < 2000; tries++ {
		p := 20000 + rand.IntN(10000)
		if !portFree(p) || bus && !portFree(p+10000) {
			continue
		}
		dup := false
		for _, q := range out {
			dup = dup || q == p || bus && (q+10000 == p || p+10000 == q)
		}
		if !dup {
			out = append(out, p)
		}
	}
	if len(out) < count {
		return nil, errors.New("redistest: no free loopback ports")
	}
	return out, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// poll calls f every interval until it returns nil or ctx ends.
func poll(ctx context.Context, interval time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// nodeArgs are the settings every data node gets: loopback only, AOF with
// everysec (what docs/operations.md recommends), no RDB snapshots.
func nodeArgs(port int) []string {
	return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
		"--logfile", "redis.log", "--dir", "."}
}

// ---- Cluster ---------------------------------------------------------------

// RedisCluster is a running 6-node cluster.
type RedisCluster struct {
	Nodes []*Node
}

// NodeTimeout is the cluster-node-timeout of StartCluster's nodes.
const NodeTimeout = 2000 * time.Millisecond

// StartCluster starts 6 nodes with cluster-enabled yes and
// cluster-node-timeout 2000 and joins them with redis-cli --cluster create
// --cluster-replicas 1 (3 masters, 3 replicas). It returns when every node
// reports cluster_state:ok.
func StartCluster(ctx context.Context, dir string) (*RedisCluster, error) {
	ports, err := freePorts(6, true)
	if err != nil {
		return nil, err
	}
	c := &RedisCluster{}
	for i, p := range ports {
		args := append(nodeArgs(p), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout/time.Millisecond)))
		n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", p), Port: p, dir: filepath.Join(dir, fmt.Sprintf("node%d", i)), args: args}
		c.Nodes = append(c.Nodes, n)
		if err := n.start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitPing(ctx); err != nil {
			c.Stop()
			return nil, fmt.Errorf("redistest: node %s: %w", n.Addr, err)
		}
	}
	create := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", create...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w: %s", err, out)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// URL is the bridge's redis+cluster:// URL of the three first nodes.
func (c *RedisCluster) URL() string {
	return "redis+cluster://" + c.Nodes[0].Addr + "," + c.Nodes[1].Addr + "," + c.Nodes[2].Addr
}

// Stop kills every node.
func (c *RedisCluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// Node returns the node at addr.
func (c *RedisCluster) Node(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// WaitHealthy waits until every running node says cluster_state:ok and
// sees 3 masters that cover all slots.
func (c *RedisCluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		n.mu.Lock()
		running := n.cmd != nil
		n.mu.Unlock()
		if !running {
			continue
		}
		cl := n.Client()
		err := poll(ctx, 50*time.Millisecond, func() error {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				return errors.New("cluster not ok yet")
			}
			return nil
		})
		cl.Close()
		if err != nil {
			return fmt.Errorf("redistest: node %s: %w", n.Addr, err)
		}
	}
	// Every master with slots has a replica that is up, as the nodes see it.
	if err := poll(ctx, 50*time.Millisecond, func() error {
		nodes, err := c.Topology(ctx)
		if err != nil {
			return err
		}
		replicas := map[string]int{}
		for _, n := range nodes {
			if !n.Master && !n.Failed && n.MasterID != "" {
				replicas[n.MasterID]++
			}
		}
		masters := 0
		for _, n := range nodes {
			if n.Master && !n.Failed && len(n.Slots) > 0 {
				masters++
				if replicas[n.ID] == 0 {
					return fmt.Errorf("redistest: master %s has no replica yet", n.Addr)
				}
			}
		}
		if masters != 3 {
			return fmt.Errorf("redistest: %d masters serve slots, want 3", masters)
		}
		// A replica that never synced cannot take over.
		for _, n := range nodes {
			if n.Master || n.Failed {
				continue
			}
			node := c.Node(n.Addr)
			if node == nil {
				continue
			}
			cl := node.Client()
			info, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("redistest: replica %s not in sync yet", n.Addr)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return c.confirmWrites(ctx)
}

// confirmWrites writes a key on every master that serves slots and waits
// until a replica acknowledges it (WAIT). Right after the initial sync a
// replica's first acknowledgement can take longer than the bridge's WAIT
// timeout, and the first writes of a test would then fail as if a
// failover were in progress.
func (c *RedisCluster) confirmWrites(ctx context.Context) error {
	nodes, err := c.Topology(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		node := c.Node(n.Addr)
		if !n.Master || n.Failed || len(n.Slots) == 0 || node == nil {
			continue
		}
		if err := confirmWrite(ctx, node.Client(), n); err != nil {
			return fmt.Errorf("redistest: master %s: %w", n.Addr, err)
		}
	}
	return nil
}

func confirmWrite(ctx context.Context, cl *redis.Client, n ClusterNode) error {
	defer cl.Close()
	key := ""
	for i := 0; key == "" && i < 1000; i++ {
		k := "redistest:warm:" + strconv.Itoa(i)
		slot, err := cl.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			return err
		}
		if servesSlot(n.Slots, int(slot)) {
			key = k
		}
	}
	if key == "" {
		return errors.New("no key of its slots found")
	}
	conn := cl.Conn()
	defer conn.Close()
	return poll(ctx, 50*time.Millisecond, func() error {
		if err := conn.Set(ctx, key, "1", time.Minute).Err(); err != nil {
			return err
		}
		acked, err := conn.Wait(ctx, 1, time.Second).Result()
		if err != nil {
			return err
		}
		if acked < 1 {
			return errors.New("no replica acknowledged a write yet")
		}
		return nil
	})
}

// servesSlot reports whether slot is in the CLUSTER NODES slot ranges
// ("0-5460", "5461"; the "[...]" entries of a migration are not served).
func servesSlot(ranges []string, slot int) bool {
	for _, r := range ranges {
		lo, hi, isRange := strings.Cut(r, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && a <= slot && slot <= b {
			return true
		}
	}
	return false
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID, Addr, MasterID string
	Master, Failed     bool
	Slots              []string
}

// Topology reads CLUSTER NODES from the first running node that answers.
func (c *RedisCluster) Topology(ctx context.Context) ([]ClusterNode, error) {
	var last error
	for _, n := range c.Nodes {
		cl := n.Client()
		out, err := cl.ClusterNodes(ctx).Result()
		cl.Close()
		if err != nil {
			last = err
			continue
		}
		return ParseClusterNodes(out), nil
	}
	return nil, fmt.Errorf("redistest: no node answers CLUSTER NODES: %w", last)
}

// ParseClusterNodes parses the CLUSTER NODES reply.
func ParseClusterNodes(out string) []ClusterNode {
	var nodes []ClusterNode
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		flags := strings.Split(f[2], ",")
		cn := ClusterNode{ID: f[0], Addr: addr, MasterID: f[3], Slots: f[8:]}
		for _, fl := range flags {
			switch fl {
			case "master":
				cn.Master = true
			case "fail":
				cn.Failed = true
			}
		}
		if cn.MasterID == "-" {
			cn.MasterID = ""
		}
		nodes = append(nodes, cn)
	}
	return nodes
}

// MasterOf returns the address of the master serving the slot of key, as
// the cluster sees it now, and the address of one of its replicas.
func (c *RedisCluster) MasterOf(ctx context.Context, key string) (master, replica string, err error) {
	slot := int(Slot(key))
	nodes, err := c.Topology(ctx)
	if err != nil {
		return "", "", err
	}
	var masterID string
	for _, n := range nodes {
		if !n.Master || n.Failed {
			continue
		}
		for _, r := range n.Slots {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			if slot >= l && slot <= h {
				master, masterID = n.Addr, n.ID
			}
		}
	}
	if master == "" {
		return "", "", fmt.Errorf("redistest: no live master holds slot %d", slot)
	}
	for _, n := range nodes {
		if n.MasterID == masterID && !n.Failed {
			replica = n.Addr
		}
	}
	return master, replica, nil
}

// Slot is the Redis Cluster hash slot of key (CRC16 of its hash tag, mod
// 16384), computed here so tests need not ask a node.
func Slot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return crc16(key) % 16384
}

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// ---- Sentinel --------------------------------------------------------------

// MasterName is the master set StartSentinel's Sentinels monitor.
const MasterName = "wfbmaster"

// SentinelDownAfter is the Sentinels' down-after-milliseconds.
const SentinelDownAfter = 2000 * time.Millisecond

// RedisSentinel is a running master, replica and 3 Sentinels.
type RedisSentinel struct {
	Data      []*Node // the master at start, then the replica
	Sentinels []*Node
}

// StartSentinel starts 1 master, 1 replica and 3 Sentinels (quorum 2,
// down-after 2 s) and returns when every Sentinel knows the replica and the
// other two Sentinels.
func StartSentinel(ctx context.Context, dir string) (*RedisSentinel, error) {
	ports, err := freePorts(5, false)
	if err != nil {
		return nil, err
	}
	s := &RedisSentinel{}
	master := fmt.Sprintf("127.0.0.1:%d", ports[0])
	for i, p := range ports[:2] {
		args := nodeArgs(p)
		if i == 1 {
			args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(ports[0]))
		}
		n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", p), Port: p, dir: filepath.Join(dir, fmt.Sprintf("data%d", i)), args: args}
		s.Data = append(s.Data, n)
	}
	for i, p := range ports[2:] {
		d := filepath.Join(dir, fmt.Sprintf("sentinel%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		conf := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\nlogfile redis.log\ndir %s\n"+
			"sentinel resolve-hostnames no\nsentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			p, d, MasterName, ports[0], MasterName, SentinelDownAfter/time.Millisecond, MasterName, MasterName)
		if err := os.WriteFile(filepath.Join(d, "sentinel.conf"), []byte(conf), 0o644); err != nil {
			return nil, err
		}
		n := &Node{Addr: fmt.Sprintf("127.0.0.1:%d", p), Port: p, dir: d, args: []string{filepath.Join(d, "sentinel.conf"), "--sentinel"}}
		s.Sentinels = append(s.Sentinels, n)
	}
	for _, n := range append(append([]*Node{}, s.Data...), s.Sentinels...) {
		if err := n.start(); err != nil {
			s.Stop()
			return nil, err
		}
	}
	for _, n := range append(append([]*Node{}, s.Data...), s.Sentinels...) {
		if err := n.waitPing(ctx); err != nil {
			s.Stop()
			return nil, fmt.Errorf("redistest: %s: %w", n.Addr, err)
		}
	}
	if err := s.WaitSettled(ctx, master); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// URL is the bridge's redis+sentinel:// URL.
func (s *RedisSentinel) URL() string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr
	}
	return "redis+sentinel://" + strings.Join(addrs, ",") + "/" + MasterName
}

// Stop kills every process.
func (s *RedisSentinel) Stop() {
	for _, n := range append(append([]*Node{}, s.Data...), s.Sentinels...) {
		n.Kill()
	}
}

// Node returns the data node at addr.
func (s *RedisSentinel) Node(addr string) *Node {
	for _, n := range s.Data {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Master asks the Sentinels for the current master's address.
func (s *RedisSentinel) Master(ctx context.Context) (string, error) {
	var last error
	for _, n := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		addr, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		sc.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("redistest: no Sentinel names the master: %w", last)
}

// Failover sends SENTINEL FAILOVER to the first Sentinel.
func (s *RedisSentinel) Failover(ctx context.Context) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr, MaxRetries: -1})
	defer sc.Close()
	return sc.Failover(ctx, MasterName).Err()
}

// WaitSettled waits until every Sentinel names master, sees a replica that
// is up and knows the two other Sentinels, so a failover can happen.
func (s *RedisSentinel) WaitSettled(ctx context.Context, master string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, n := range s.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		err := poll(ctx, 50*time.Millisecond, func() error {
			m, err := sc.Master(ctx, MasterName).Result()
			if err != nil {
				return err
			}
			if got := net.JoinHostPort(m["ip"], m["port"]); got != master {
				return fmt.Errorf("master is %s, want %s", got, master)
			}
			if m["num-other-sentinels"] != "2" || m["num-slaves"] == "0" || strings.Contains(m["flags"], "down") {
				return fmt.Errorf("not settled: %v", m)
			}
			reps, err := sc.Replicas(ctx, MasterName).Result()
			if err != nil {
				return err
			}
			for _, r := range reps {
				if r["flags"] == "slave" && r["master-link-status"] == "ok" {
					return nil
				}
			}
			return fmt.Errorf("no replica up: %v", reps)
		})
		sc.Close()
		if err != nil {
			return fmt.Errorf("redistest: Sentinel %s: %w", n.Addr, err)
		}
	}
	return nil
}

// ---- test binaries ---------------------------------------------------------

// Topology is a running cluster or Sentinel setup.
type Topology interface {
	URL() string
	Stop()
}

// Start starts the named topology with its files under dir.
func Start(ctx context.Context, name, dir string) (Topology, error) {
	switch name {
	case Cluster:
		return StartCluster(ctx, dir)
	case Sentinel:
		return StartSentinel(ctx, dir)
	}
	return nil, fmt.Errorf("redistest: unknown topology %q", name)
}

// Main is a TestMain body: with REDIS_TOPOLOGY set it starts that topology,
// points REDIS_URL at it for the whole package (so every suite that honours
// REDIS_URL runs there), runs the tests and stops it. Without it the tests
// run as they are.
func Main(m interface{ Run() int }) int {
	name, err := FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if name == "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "redistest-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	start := time.Now()
	topo, err := Start(ctx, name, dir)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: starting %s: %v\n", name, err)
		return 2
	}
	defer topo.Stop()
	fmt.Fprintf(os.Stderr, "redistest: %s up in %s at %s\n", name, time.Since(start).Round(time.Millisecond), topo.URL())
	if err := os.Setenv("REDIS_URL", topo.URL()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return m.Run()
}

// NodeID is the cluster node id of the node at addr.
func (c *RedisCluster) NodeID(ctx context.Context, addr string) (string, error) {
	nodes, err := c.Topology(ctx)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if n.Addr == addr {
			return n.ID, nil
		}
	}
	return "", fmt.Errorf("redistest: no node %s", addr)
}

// MoveSlot reshards one slot from its master to the master at to, the way
// redis-cli --cluster reshard moves each slot: IMPORTING on the target,
// MIGRATING on the source, MIGRATE of the keys in batches of batch (with
// pause between batches, so that traffic meets ASK redirects and
// TRYAGAIN while the slot is split), then SETSLOT NODE on every master.
func (c *RedisCluster) MoveSlot(ctx context.Context, slot int, from, to string, batch int, pause time.Duration) (moved int, err error) {
	fromID, err := c.NodeID(ctx, from)
	if err != nil {
		return 0, err
	}
	toID, err := c.NodeID(ctx, to)
	if err != nil {
		return 0, err
	}
	src, dst := c.Node(from).Client(), c.Node(to).Client()
	defer src.Close()
	defer dst.Close()
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err(); err != nil {
		return 0, fmt.Errorf("redistest: IMPORTING: %w", err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err(); err != nil {
		return 0, fmt.Errorf("redistest: MIGRATING: %w", err)
	}
	host, port, _ := net.SplitHostPort(to)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, batch).Result()
		if err != nil {
			return moved, fmt.Errorf("redistest: GETKEYSINSLOT: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil && !errors.Is(err, redis.Nil) && !strings.Contains(err.Error(), "NOKEY") {
			return moved, fmt.Errorf("redistest: MIGRATE: %w", err)
		}
		moved += len(keys)
		time.Sleep(pause)
	}
	for _, n := range c.Nodes {
		cl := n.Client()
		_ = cl.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err() // dead or replica nodes learn it by gossip
		cl.Close()
	}
	return moved, nil
}
