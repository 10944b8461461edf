package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Durability makes the writes an IdP is told succeeded survive a failover.
// Redis replicates asynchronously: a write the master acknowledged can be
// missing from the replica that takes over. For the writes whose loss the
// bridge cannot repair by itself (see docs/operations.md, "Failover") it
// sends WAIT on the same connection, right after the write.
//
// Those writes are: the create reservation and the record (a create
// script), membership changes and the membership queue. The others (the
// queue's completions, locks, caches, budgets) are redone or expire.
type Durability struct {
	// Replicas is how many replicas must have the write (WAIT's
	// numreplicas); 0 turns WAIT off (standalone, embedded).
	Replicas int
	// Timeout bounds the WAIT (default 200 ms).
	Timeout time.Duration
	// Unreplicated decides a write that fewer replicas acknowledged in
	// time, given the run_id of the node written to: nil accepts it (the master has no replica in sync: nothing
	// better can be had), an error fails it with that error (a Sentinel
	// failover is in progress: the master written to may be the old one,
	// whose writes the new master will never have).
	Unreplicated func(ctx context.Context, runID string) error
	// Grace is how long a master must have gone without a replica in sync
	// before its unconfirmed writes are accepted (default lackingGrace).
	Grace time.Duration
}

// defaultWaitTimeout is how long a write waits for a replica's
// acknowledgement. On a healthy link it comes in well under a millisecond;
// the bound matters only when the replica is gone.
const defaultWaitTimeout = 200 * time.Millisecond

// ErrNotReplicated fails a write that reached a master which may be
// losing its role (a failover is in progress): the write may be lost, so
// the caller must not report success; retried, it lands on the new master.
var ErrNotReplicated = errors.New("state: the write was not replicated and a failover is in progress")

// durable runs write against the master holding key and, with Durability
// on, waits for the replicas on the same connection (WAIT counts the
// writes of its own connection). On a cluster a redirect (MOVED, ASK: a
// slot being resharded) or a node error falls back to the cluster client,
// which follows redirects, and the write then goes unconfirmed.
func (s *RedisStore) durable(ctx context.Context, key string, write func(c redis.Cmdable) error) error {
	d := s.durability
	if d.Replicas <= 0 {
		return write(s.rdb)
	}
	var node *redis.Client
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, key)
		if err != nil {
			return write(s.rdb)
		}
		node = n
	case *redis.Client:
		node = c
	default:
		return write(s.rdb)
	}
	conn := node.Conn()
	defer conn.Close()
	if err := write(conn); err != nil {
		_, moved := redis.IsMovedError(err)
		_, ask := redis.IsAskError(err)
		if cc, ok := s.rdb.(*redis.ClusterClient); ok && (moved || ask || topologyError(err)) {
			cc.ReloadState(ctx)
			return write(s.rdb) // the scripts are safe to run twice
		}
		return err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = defaultWaitTimeout
	}
	addr := node.Options().Addr
	if s.lacksReplica(addr) {
		// It had none a moment ago (a promoted master whose old master
		// has not come back): do not make every write wait the full
		// timeout for a replica that is not there.
		timeout = lackingWaitTimeout
	}
	n, err := conn.Wait(ctx, d.Replicas, timeout).Result()
	if err != nil {
		return fmt.Errorf("state: waiting for the replicas: %w", err)
	}
	s.noteReplicas(addr, int(n) >= d.Replicas)
	if int(n) < d.Replicas {
		s.unreplicated.Add(1)
		grace := d.Grace
		if grace <= 0 {
			grace = lackingGrace
		}
		if !s.shortFor(addr, grace) {
			// The replica was there a moment ago. A master that loses it
			// this suddenly may be the old one of a failover that has
			// just promoted that replica: it takes writes until it is
			// demoted, then drops them, and the Sentinels may still name
			// it for a moment. Fail the write; retried, it lands on the
			// master that keeps it. Only a master that has gone without a
			// replica for lackingGrace (a kill -9 left the new master
			// alone) has its unconfirmed writes accepted.
			return fmt.Errorf("%w (no replica confirmed the write; its master lost its replica less than %s ago)", ErrNotReplicated, grace)
		}
		if d.Unreplicated != nil {
			runID := ""
			if info, err := conn.Info(ctx, "server").Result(); err == nil {
				for _, l := range strings.Split(info, "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(l), "run_id:"); ok {
						runID = v
					}
				}
			}
			if err := d.Unreplicated(ctx, runID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unreplicated is how many durable writes fewer replicas than asked
// acknowledged in time (a master without a replica in sync), for
// /metrics.
func (s *RedisStore) Unreplicated() int64 { return s.unreplicated.Load() }

// lackingWaitTimeout is the WAIT of a master that had no replica in sync a
// moment ago (lackingFor): a replica that comes back still gets a chance.
const (
	lackingWaitTimeout = 5 * time.Millisecond
	lackingFor         = 2 * time.Second
)

// replicaState remembers, per master address, when a WAIT last came back
// short, and since when every WAIT has (the streak).
type replicaState struct {
	mu      sync.Mutex
	lacking map[string]time.Time
	streak  map[string]time.Time
}

// lackingGrace is how long a master must have gone without a replica in
// sync before the bridge accepts its unconfirmed writes.
const lackingGrace = 2 * time.Second

// shortFor reports whether every WAIT on addr has come back short for at
// least d.
func (s *RedisStore) shortFor(addr string, d time.Duration) bool {
	s.replicas.mu.Lock()
	defer s.replicas.mu.Unlock()
	at, ok := s.replicas.streak[addr]
	return ok && time.Since(at) >= d
}

func (s *RedisStore) lacksReplica(addr string) bool {
	s.replicas.mu.Lock()
	defer s.replicas.mu.Unlock()
	at, ok := s.replicas.lacking[addr]
	return ok && time.Since(at) < lackingFor
}

func (s *RedisStore) noteReplicas(addr string, ok bool) {
	s.replicas.mu.Lock()
	defer s.replicas.mu.Unlock()
	if ok {
		delete(s.replicas.lacking, addr)
		delete(s.replicas.streak, addr)
		return
	}
	if _, on := s.replicas.streak[addr]; !on {
		if s.replicas.streak == nil {
			s.replicas.streak = map[string]time.Time{}
		}
		s.replicas.streak[addr] = time.Now()
	}
	if _, seen := s.replicas.lacking[addr]; !seen || time.Since(s.replicas.lacking[addr]) >= lackingFor {
		if s.replicas.lacking == nil {
			s.replicas.lacking = map[string]time.Time{}
		}
		s.replicas.lacking[addr] = time.Now()
	}
}
