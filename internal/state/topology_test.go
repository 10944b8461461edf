package state

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/webflowscim/bridge/internal/redistest"
)

// TestTopologyIsReal: with REDIS_TOPOLOGY set, REDIS_URL is the topology's
// and Open builds the client for it, so the suites above really ran there.
func TestTopologyIsReal(t *testing.T) {
	topo, err := redistest.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if topo == "" {
		t.Skip("REDIS_TOPOLOGY not set")
	}
	rdb := realRedis(t)
	ctx := t.Context()
	switch topo {
	case redistest.Cluster:
		cc, ok := rdb.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("Open(%s) = %T, want a ClusterClient", os.Getenv("REDIS_URL"), rdb)
		}
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_size:3") {
			t.Fatalf("CLUSTER INFO = %q, %v; want a healthy cluster of 3 masters", info, err)
		}
	case redistest.Sentinel:
		if !strings.HasPrefix(os.Getenv("REDIS_URL"), "redis+sentinel://") {
			t.Fatalf("REDIS_URL = %s", os.Getenv("REDIS_URL"))
		}
		role, err := rdb.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			t.Fatalf("ROLE through the failover client = %v, %v; want master", role, err)
		}
	}
}

// TestClusterSitesSpreadOverMasters: the keys of different sites land on
// different slots, and several sites' slots on at least 2 of the 3
// masters, so one site's traffic (and one master's failure) is not every
// site's.
func TestClusterSitesSpreadOverMasters(t *testing.T) {
	if topo, _ := redistest.FromEnv(); topo != redistest.Cluster {
		t.Skip("REDIS_TOPOLOGY=cluster not set")
	}
	rdb := realRedis(t)
	cc := rdb.(*redis.ClusterClient)
	prefix := "wfbtest-spread-" + randomHex(t, 4)
	t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
	s := NewRedisStore(rdb, Options{Prefix: prefix})
	ctx := t.Context()
	// Webflow site ids are 24 hex digits.
	sites := []string{"64f1a2b3c4d5e6f708192a3b", "650b1c2d3e4f5a6b7c8d9e0f", "6512aa34bb56cc78dd90ee12", "660c0ffee0ddba11deadbeef"}
	masters := map[string][]string{}
	slots := map[uint16]string{}
	for _, site := range sites {
		if err := s.CreateUser(ctx, user(site, "u1", "alice", "a@x")); err != nil {
			t.Fatal(err)
		}
		key := s.keysFor(site).users
		slot := redistest.Slot(key)
		if got, err := cc.ClusterKeySlot(ctx, key).Result(); err != nil || got != int64(slot) {
			t.Fatalf("CLUSTER KEYSLOT %s = %d, %v; computed %d", key, got, err, slot)
		}
		if other, dup := slots[slot]; dup {
			t.Errorf("sites %s and %s share slot %d", other, site, slot)
		}
		slots[slot] = site
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		// The record is on that master itself, not only reachable through it.
		if n, err := m.Exists(ctx, key).Result(); err != nil || n != 1 {
			t.Fatalf("site %s: key %s not on master %s: %d %v", site, key, m.Options().Addr, n, err)
		}
		addr := m.Options().Addr
		masters[addr] = append(masters[addr], site)
		for _, k := range s.keysFor(site).list() {
			if tagOf(k) != "s:"+site {
				t.Errorf("key %s of site %s has tag %q", k, site, tagOf(k))
			}
		}
	}
	t.Logf("sites per master: %v", masters)
	if len(masters) < 2 {
		t.Fatalf("the %d sites' hash tags map to %d master(s), want at least 2: %v", len(sites), len(masters), masters)
	}
}

func TestSentinelURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		ok       bool
		master   string
		db       int
		password string
		sentPass string
	}{
		{"redis+sentinel://127.0.0.1:26379/mymaster", true, "mymaster", 0, "", ""},
		{"redis+sentinel://:s3cret@h1:26379,h2:26380,h3:26381/mymaster?db=3", true, "mymaster", 3, "s3cret", "s3cret"},
		{"redis+sentinel://:s3cret@h1:26379/mymaster?sentinel_auth=false", true, "mymaster", 0, "s3cret", ""},
		{"rediss+sentinel://u:s3cret@h1:26379/m1?read_timeout=3s", true, "m1", 0, "s3cret", "s3cret"},
		{"redis+sentinel://h1:26379", false, "", 0, "", ""},
		{"redis+sentinel://h1:26379/", false, "", 0, "", ""},
		{"redis+sentinel://h1:26379/a/b", false, "", 0, "", ""},
		{"redis+sentinel://:s3cret@h1/mymaster", false, "", 0, "", ""},
		{"redis+sentinel://:s3cret@h1:26379/mymaster?db=x", false, "", 0, "", ""},
		{"redis+sentinel://:s3cret@h1:26379/mymaster?sentinel_auth=maybe", false, "", 0, "", ""},
		{"redis+sentinel://:s3cret@h1:26379/mymaster?bogus=1", false, "", 0, "", ""},
	} {
		err := ValidateURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ValidateURL(%q) = %v: want ErrInvalidURL without the password", tc.url, err)
			}
			continue
		}
		rdb, err := newClient(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := rdb.(*redis.Client)
		if !ok {
			t.Fatalf("%q: %T, want the failover *redis.Client", tc.url, rdb)
		}
		o := c.Options()
		if o.DB != tc.db || o.Password != tc.password || !o.ContextTimeoutEnabled || o.MaxRetries != 1 || o.DialTimeout != 2*time.Second {
			t.Errorf("%q: options db=%d password=%q ctx=%v retries=%d dial=%v", tc.url, o.DB, o.Password, o.ContextTimeoutEnabled, o.MaxRetries, o.DialTimeout)
		}
		_ = rdb.Close()
		p, err := NewTopologyProbe(tc.url, nil)
		if err != nil || p.topology != TopologySentinel || p.masterName != tc.master {
			t.Errorf("%q: probe %+v %v", tc.url, p, err)
		}
	}
}

// topologyError decides which errors reload a cluster's slot map: a node
// that is gone or not serving, not a command's own error.
func TestTopologyError(t *testing.T) {
	// Redis's own error replies, as go-redis returns them.
	mr, rdb := newMiniredisClient(t, false)
	reply := func(msg string) error {
		mr.SetError(msg)
		defer mr.SetError("")
		return rdb.Get(t.Context(), "k").Err()
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{context.DeadlineExceeded, true},
		{reply("CLUSTERDOWN The cluster is down"), true},
		{reply("READONLY You can't write against a read only replica."), true},
		{reply("LOADING Redis is loading the dataset in memory"), true},
		{reply("MASTERDOWN Link with MASTER is down"), true},
		{reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{redis.Nil, false},
		{redis.TxFailedErr, false},
		{reply("ERR Error running script"), false},
		{reply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
	} {
		if got := topologyError(tc.err); got != tc.want {
			t.Errorf("topologyError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A cluster client reloads its slot map when a node stops answering, not
// 60 s later: the hook is on every node it creates.
func TestClusterReloadsOnNodeError(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb, err := newClient("redis+cluster://" + mr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cc := rdb.(*redis.ClusterClient)
	if got := cc.Options().ClusterStateReloadInterval; got != defaultClusterReload {
		t.Errorf("ClusterStateReloadInterval = %v, want %v", got, defaultClusterReload)
	}
	var loads atomic.Int64
	rdb.(*redis.ClusterClient).OnNewNode(func(c *redis.Client) {
		c.AddHook(countHook{"cluster", &loads})
	})
	ctx := t.Context()
	if err := cc.Set(ctx, "{s:a}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	before := loads.Load()
	mr.SetError("CLUSTERDOWN The cluster is down")
	_ = cc.Get(ctx, "{s:a}:k").Err()
	mr.SetError("")
	deadline := time.Now().Add(2 * time.Second)
	for loads.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if loads.Load() == before {
		t.Fatal("no CLUSTER SLOTS/SHARDS after CLUSTERDOWN: the slot map was not reloaded")
	}
}

// countHook counts the commands whose name starts with prefix.
type countHook struct {
	prefix string
	n      *atomic.Int64
}

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.HasPrefix(strings.ToLower(cmd.Name()), h.prefix) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Durable writes WAIT for a replica: on REDIS_URL's Redis, which has
// replicas under REDIS_TOPOLOGY and none otherwise (CI's 6379), a create
// and a membership change are confirmed by a replica, or counted as
// unconfirmed and decided by Unreplicated.
func TestDurableWrites(t *testing.T) {
	rdb := realRedis(t)
	topo, _ := redistest.FromEnv()
	hasReplica := topo != ""
	for _, refuse := range []bool{false, true} {
		prefix := "wfbtest-durable-" + randomHex(t, 4)
		t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
		const grace = 300 * time.Millisecond
		d := Durability{Replicas: 1, Timeout: 50 * time.Millisecond, Grace: grace}
		if refuse {
			d.Unreplicated = func(context.Context, string) error { return ErrNotReplicated }
		}
		s := NewRedisStore(rdb, Options{Prefix: prefix, Durability: d})
		ctx := t.Context()
		err := s.CreateUser(ctx, user(siteA, "u1", "alice", "a@x"))
		if !hasReplica {
			// A master seen without a replica for less than the grace may
			// be the old master of a failover: its write fails (the
			// script is safe to run again) until the grace has passed.
			if !errors.Is(err, ErrNotReplicated) {
				t.Errorf("refuse=%v: first unconfirmed create = %v, want ErrNotReplicated within the grace", refuse, err)
			}
			time.Sleep(grace)
			err = s.CreateUser(ctx, user(siteA, "u2", "bob", "b@x"))
		}
		_, merr := s.ChangeMembers(ctx, siteA, "members", []MemberOp{{Op: "add", IDs: []string{"u1"}}}, ChangeOptions{Enqueue: true})
		switch {
		case hasReplica && (err != nil || merr != nil || s.Unreplicated() != 0):
			t.Errorf("refuse=%v with a replica: create %v, change %v, unconfirmed %d; want both confirmed", refuse, err, merr, s.Unreplicated())
		case !hasReplica && !refuse && (err != nil || merr != nil || s.Unreplicated() != 3):
			t.Errorf("without a replica: create %v, change %v, unconfirmed %d; want both accepted unconfirmed", err, merr, s.Unreplicated())
		case !hasReplica && refuse && !errors.Is(err, ErrNotReplicated):
			t.Errorf("without a replica, refusing: create = %v, want ErrNotReplicated", err)
		}
	}
}
