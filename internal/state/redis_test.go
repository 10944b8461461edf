package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// checkInvariants reads the raw Redis structures of a site and checks that
// records and indexes agree in both directions.
func (s *RedisStore) checkInvariants(ctx context.Context, siteID string) error {
	k := s.keysFor(siteID)
	docs, err := s.rdb.HGetAll(ctx, k.users).Result()
	if err != nil {
		return err
	}
	recs := map[string]*UserRecord{}
	for id, doc := range docs {
		rec, err := decodeRecord(siteID, id, doc)
		if err != nil {
			return fmt.Errorf("record %q: %w", id, err)
		}
		if rec.ID != id || rec.SiteID != siteID {
			return fmt.Errorf("record under field %q has id %q site %q", id, rec.ID, rec.SiteID)
		}
		var st struct {
			Ix *storedIx `json:"_ix"`
		}
		if err := json.Unmarshal([]byte(doc), &st); err != nil {
			return fmt.Errorf("record %q: %w", id, err)
		}
		// The previous format stores every index value, the compact one
		// only those the scripts cannot take from the originals.
		full := indexValues(rec)
		if rec.DisplayName != "" {
			full.DisplayName = dnHash(rec.DisplayName)
		}
		want := &full
		if strings.HasPrefix(doc, recordFormat) {
			want = compactIx(rec, full)
			if st.Ix != nil && st.Ix.DisplayName != "" {
				// Written before the dnScore index: the hash names
				// the entry in the previous one.
				w := storedIx{}
				if want != nil {
					w = *want
				}
				w.DisplayName = full.DisplayName
				want = &w
			}
		}
		if (st.Ix == nil) != (want == nil) || st.Ix != nil && *st.Ix != *want {
			return fmt.Errorf("record %q: stored _ix %+v, want %+v", id, st.Ix, want)
		}
		recs[id] = rec
	}
	for _, idx := range uniqueIndexes() {
		entries, err := s.rdb.HGetAll(ctx, k.index(idx)).Result()
		if err != nil {
			return err
		}
		for v, id := range entries {
			rec, ok := recs[id]
			if !ok {
				return fmt.Errorf("%s index %q -> %q, which does not exist", idx, v, id)
			}
			if got := normalize(idx, originalValue(rec, idx)); got != v {
				return fmt.Errorf("%s index %q -> %q, whose value is %q", idx, v, id, got)
			}
		}
		for id, rec := range recs {
			v := normalize(idx, originalValue(rec, idx))
			if idx == IndexWebflowID && v == id && strings.HasPrefix(docs[id], recordFormat) {
				// Held without an entry (scripts.go, index).
				if holder, ok := entries[v]; ok {
					return fmt.Errorf("record %q: %s %q has an entry (-> %q) although the record holds it", id, idx, v, holder)
				}
				continue
			}
			if idx == IndexEmail && v != "" && v == normalize(IndexUserName, rec.UserName) {
				// Held without an entry (scripts.go, index); records
				// written before that have one, which must be theirs.
				if holder, ok := entries[v]; ok && holder != id {
					return fmt.Errorf("record %q: %s %q indexed as %q", id, idx, v, holder)
				}
				continue
			}
			if v != "" && entries[v] != id {
				return fmt.Errorf("record %q: %s %q indexed as %q", id, idx, v, entries[v])
			}
		}
	}
	// The displayName index: records written before dnScore in the
	// previous index (theirs _ix names the member), the others in k.dn.
	members, err := s.rdb.ZRange(ctx, k.ixDisplayName, 0, -1).Result()
	if err != nil {
		return err
	}
	dn := map[string]bool{}
	for _, m := range members {
		h, id := m[:40], m[40:]
		rec, ok := recs[id]
		if !ok || rec.DisplayName == "" || dnHash(rec.DisplayName) != h || !strings.Contains(docs[id], `"displayName":"`+h+`"`) {
			return fmt.Errorf("previous displayName member %q does not match a record", m)
		}
		dn[id] = true
	}
	scored, err := s.rdb.ZRangeWithScores(ctx, k.dn, 0, -1).Result()
	if err != nil {
		return err
	}
	for _, z := range scored {
		id, _ := z.Member.(string)
		rec, ok := recs[id]
		if !ok || rec.DisplayName == "" || dnScore(rec.DisplayName) != strconv.FormatFloat(z.Score, 'f', -1, 64) {
			return fmt.Errorf("displayName entry %q (score %v) does not match a record", id, z.Score)
		}
		if dn[id] {
			return fmt.Errorf("record %q is in both displayName indexes", id)
		}
		dn[id] = true
	}
	order, err := s.rdb.ZRange(ctx, k.order, 0, -1).Result()
	if err != nil {
		return err
	}
	if len(order) != len(recs) {
		return fmt.Errorf("order has %d ids, %d records", len(order), len(recs))
	}
	for _, id := range order {
		if recs[id] == nil {
			return fmt.Errorf("order lists missing record %q", id)
		}
	}
	for id, rec := range recs {
		if rec.DisplayName != "" && !dn[id] {
			return fmt.Errorf("record %q: displayName %q not indexed", id, rec.DisplayName)
		}
	}
	// The member displays: every entry is its record's userName, and every
	// record the scripts wrote has one (a record of the previous format may
	// predate the hash).
	names, err := s.rdb.HGetAll(ctx, k.names).Result()
	if err != nil {
		return err
	}
	for id, name := range names {
		rec, ok := recs[id]
		if !ok {
			return fmt.Errorf("names has %q -> %q, which does not exist", id, name)
		}
		if name != rec.UserName {
			return fmt.Errorf("names has %q -> %q, whose userName is %q", id, name, rec.UserName)
		}
	}
	for id, rec := range recs {
		if _, ok := names[id]; !ok && strings.HasPrefix(docs[id], recordFormat) {
			return fmt.Errorf("record %q (%q) has no entry in names", id, rec.UserName)
		}
	}
	return nil
}

func newMiniredisClient(t testing.TB, cluster bool) (*miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{mr.Addr()},
		IsClusterMode:         cluster,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return mr, rdb
}

func TestConformanceMiniredis(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		_, rdb := newMiniredisClient(t, false)
		return NewRedisStore(rdb, Options{})
	})
}

// TestConformanceMiniredisCluster runs the suite through a ClusterClient,
// which rejects cross-slot transactions (ListUserIDs' MULTI) client-side.
func TestConformanceMiniredisCluster(t *testing.T) {
	runConformance(t, func(t *testing.T) Store {
		_, rdb := newMiniredisClient(t, true)
		return NewRedisStore(rdb, Options{})
	})
}

// The create reservations' suite, on miniredis, through a ClusterClient
// (with every key of every command checked for one site tag) and on the
// Redis at REDIS_URL.
func TestCreateConformanceMiniredis(t *testing.T) {
	runCreateConformance(t, func(t *testing.T) Backend {
		_, rdb := newMiniredisClient(t, false)
		return NewRedisStore(rdb, Options{})
	})
}

func TestCreateConformanceMiniredisCluster(t *testing.T) {
	runCreateConformance(t, func(t *testing.T) Backend {
		_, rdb := newMiniredisClient(t, true)
		rdb.AddHook(&keyChecker{t: t})
		return NewRedisStore(rdb, Options{})
	})
}

func TestCreateConformanceRedis(t *testing.T) {
	rdb := realRedis(t)
	run := "wfbtest-c-" + randomHex(t, 6)
	var n atomic.Int64
	runCreateConformance(t, func(t *testing.T) Backend {
		prefix := fmt.Sprintf("%s-%d", run, n.Add(1))
		t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
		return NewRedisStore(rdb, Options{Prefix: prefix})
	})
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// realRedis connects to REDIS_URL or skips.
func realRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		t.Skip("REDIS_URL not set; set e.g. REDIS_URL=redis://127.0.0.1:6379/0 to run against a real Redis")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb, err := Open(ctx, raw)
	if err != nil {
		t.Fatalf("Open(REDIS_URL): %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// deletePrefix removes every key under prefix, on every master of a cluster.
func deletePrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	del := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := c.Unlink(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return del(ctx, c) })
	} else {
		err = del(ctx, rdb)
	}
	if err != nil {
		t.Errorf("cleaning keys %s:*: %v", prefix, err)
	}
}

func TestConformanceRedis(t *testing.T) {
	rdb := realRedis(t)
	run := "wfbtest-" + randomHex(t, 6)
	var n atomic.Int64
	runConformance(t, func(t *testing.T) Store {
		prefix := fmt.Sprintf("%s-%d", run, n.Add(1))
		t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
		return NewRedisStore(rdb, Options{Prefix: prefix})
	})
	// Paranoia: nothing of this run may be left behind (on any master).
	keysOn := func(ctx context.Context, c redis.Cmdable) error {
		keys, err := c.Keys(ctx, run+"*").Result()
		if err == nil && len(keys) > 0 {
			t.Errorf("left %d keys behind, e.g. %q", len(keys), keys[0])
		}
		return err
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		_ = cc.ForEachMaster(t.Context(), func(ctx context.Context, c *redis.Client) error { return keysOn(ctx, c) })
	} else {
		_ = keysOn(t.Context(), rdb)
	}
}

// tagOf returns the hash tag Redis Cluster would hash for key: the content of
// the first {...} with a non-empty body, or "" if the whole key is hashed.
func tagOf(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}

// keyChecker is a go-redis hook that fails the test when one command (or a
// MULTI/EXEC block) addresses keys of more than one slot tag. Single-node
// Redis and miniredis never report CROSSSLOT, so this is how the unit tests
// see it.
type keyChecker struct {
	t    *testing.T
	seen atomic.Int64
}

func (h *keyChecker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *keyChecker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *keyChecker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.check(cmds)
		return next(ctx, cmds)
	}
}

// keysOf returns the keys of the commands this package sends.
func keysOf(cmd redis.Cmder) []string {
	args := cmd.Args()
	name := strings.ToLower(cmd.Name())
	str := func(a any) string { s, _ := a.(string); return s }
	switch name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		var n int
		fmt.Sscan(fmt.Sprint(args[2]), &n)
		var keys []string
		for _, a := range args[3 : 3+n] {
			keys = append(keys, str(a))
		}
		return keys
	case "hget", "hmget", "hlen", "zcard", "zrange", "zrangebylex", "zrangebyscore", "hgetall":
		return []string{str(args[1])}
	}
	return nil
}

func (h *keyChecker) check(cmds []redis.Cmder) {
	tags := map[string]bool{}
	for _, cmd := range cmds {
		for _, k := range keysOf(cmd) {
			h.seen.Add(1)
			tag := tagOf(k)
			if !strings.HasPrefix(tag, "s:") {
				h.t.Errorf("%s key %q has hash tag %q, want {s:<site>}", cmd.Name(), k, tag)
			}
			tags[tag] = true
		}
		if len(tags) > 1 && len(cmds) == 1 {
			h.t.Errorf("%s touches several slots: %v", cmd.Name(), tags)
		}
		if cmds[0].Name() != "multi" {
			clear(tags) // a plain pipeline may span slots; only MULTI blocks may not
		}
	}
	if len(tags) > 1 {
		h.t.Errorf("MULTI block touches several slots: %v", tags)
	}
}

func TestClusterHashTags(t *testing.T) {
	mr, rdb := newMiniredisClient(t, true)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", rdb)
	}
	hook := &keyChecker{t: t}
	rdb.AddHook(hook)
	s := NewRedisStore(rdb, Options{Prefix: "tagtest"})
	ctx := t.Context()
	sites := []string{"site-a", "S_2", strings.Repeat("x", 64)}
	for _, site := range sites {
		for i, v := range []string{"plain", "{s:evil}", "a}b{c", "x:y"} {
			rec := &UserRecord{ID: v, SiteID: site, UserName: "u" + v, Email: "e" + v, ExternalID: "x" + v,
				WebflowUserID: "w" + v, DisplayName: "{d}" + v}
			if err := s.CreateUser(ctx, rec); err != nil {
				t.Fatal(err)
			}
			rec.UserName += "2"
			if err := s.ReplaceUser(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FindUser(ctx, site, IndexUserName, rec.UserName); err != nil {
				t.Fatal(err)
			}
			if _, err := s.LookupUserIDs(ctx, site, IndexDisplayName, rec.DisplayName); err != nil {
				t.Fatal(err)
			}
			if i == 3 {
				if err := s.DeleteUser(ctx, site, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, _, err := s.ListUserIDs(ctx, site, 0, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUsers(ctx, site, []string{"plain", "x:y"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CountUsers(ctx, site); err != nil {
			t.Fatal(err)
		}
	}
	if hook.seen.Load() == 0 {
		t.Fatal("hook saw no keys")
	}

	keys := mr.Keys()
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	perSite := map[string]int{}
	for _, k := range keys {
		var site string
		for _, s := range sites {
			if strings.HasPrefix(k, "tagtest:{s:"+s+"}:") {
				site = s
			}
		}
		if site == "" {
			t.Errorf("key %q does not start with tagtest:{s:<site>}:", k)
			continue
		}
		if got := tagOf(k); got != "s:"+site {
			t.Errorf("key %q hashes on tag %q, want s:%s", k, got, site)
		}
		if len(k) > 200 {
			t.Errorf("key %q is unbounded", k)
		}
		perSite[site]++
	}
	for _, site := range sites {
		if perSite[site] != 9 {
			t.Errorf("site %s has %d keys, want 9 (users, 5 indexes, order, seq, names): %v", site, perSite[site], keys)
		}
	}

	// Key() for other packages' state lands in the same slot, even for ids
	// that ValidateSiteID rejects.
	if got := tagOf(s.Key("site-a", "groups", "g{1}")); got != "s:site-a" {
		t.Errorf("Key tag = %q", got)
	}
	for _, bad := range []string{"{evil}", "a}b", "", "x:y"} {
		k := s.Key(bad, "p")
		if tag := tagOf(k); !strings.HasPrefix(tag, "s:!") || strings.ContainsAny(tag[2:], "{}:") {
			t.Errorf("Key(%q) = %q, tag %q", bad, k, tag)
		}
	}
}

func TestKey(t *testing.T) {
	s := NewRedisStore(nil, Options{})
	if got := s.Key("site-a", "groups", "g1"); got != "wfb:{s:site-a}:groups:g1" {
		t.Fatalf("Key = %q", got)
	}
	if got := NewRedisStore(nil, Options{Prefix: "p1"}).Key("s"); got != "p1:{s:s}" {
		t.Fatalf("Key = %q", got)
	}
	if s.Key("a}b") == s.Key("A}B") {
		t.Fatal("hashed invalid site ids must stay distinct")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, p := range []string{"", "wfb", "wfb-prod", "a:b"} {
		if err := (Options{Prefix: p}).Validate(); err != nil {
			t.Errorf("Prefix %q rejected: %v", p, err)
		}
	}
	for _, p := range []string{"{x}", "a}", "a*", "a b"} {
		if err := (Options{Prefix: p}).Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Prefix %q accepted", p)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewRedisStore accepted a prefix with {")
		}
	}()
	NewRedisStore(nil, Options{Prefix: "{x}"})
}

// TestScriptsIdempotent replays a write script with identical arguments, as
// go-redis does when a reply is lost (io.EOF) after the script ran.
func TestScriptsIdempotent(t *testing.T) {
	_, rdb := newMiniredisClient(t, false)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewRedisStore(rdb, Options{Now: func() time.Time { return now }})
	ctx := t.Context()
	rec := &UserRecord{ID: "u1", SiteID: siteA, UserName: "a", Email: "a@x", DisplayName: "A", Version: 1, Created: now, Modified: now}
	args, err := writeArgs(rec)
	if err != nil {
		t.Fatal(err)
	}
	keys := s.keysFor(siteA).list()
	for i := range 2 {
		res, err := s.scripts.create.Run(ctx, rdb, keys, args...).Result()
		if err != nil || scriptResult(res, rec) != nil {
			t.Fatalf("create run %d: %v %v", i, res, err)
		}
	}
	next := *rec
	next.Version, next.UserName = 2, "b"
	args, _ = writeArgs(&next)
	args = append(args, int64(1))
	for i := range 2 {
		res, err := s.scripts.replace.Run(ctx, rdb, keys, args...).Result()
		if err != nil || scriptResult(res, rec) != nil {
			t.Fatalf("replace run %d: %v %v", i, res, err)
		}
	}
	ids, total, err := s.ListUserIDs(ctx, siteA, 0, 10)
	if err != nil || total != 1 || !slices.Equal(ids, []string{"u1"}) {
		t.Fatalf("list = %v %d %v", ids, total, err)
	}
	if seq, _ := rdb.Get(ctx, s.keysFor(siteA).seq).Int(); seq != 1 {
		t.Fatalf("seq = %d, want 1 (replayed create must not allocate)", seq)
	}
	if err := s.checkInvariants(ctx, siteA); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetUser(ctx, siteA, "u1")
	if got.Version != 2 || got.UserName != "b" {
		t.Fatalf("got %+v", got)
	}
}

// TestRedisErrorsPropagate: a failing Redis surfaces as a wrapped Redis error,
// never as ErrNotFound (which the SCIM layer would turn into a 404).
func TestRedisErrorsPropagate(t *testing.T) {
	mr, rdb := newMiniredisClient(t, false)
	s := NewRedisStore(rdb, Options{})
	ctx := t.Context()
	mr.SetError("LOADING Redis is loading the dataset in memory")
	_, err := s.GetUser(ctx, siteA, "u1")
	if err == nil || errors.Is(err, ErrNotFound) || !redis.IsLoadingError(errors.Unwrap(err)) {
		t.Fatalf("GetUser during LOADING = %v", err)
	}
	_, err = s.FindUser(ctx, siteA, IndexUserName, "a")
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("FindUser during LOADING = %v", err)
	}
	if err := s.CreateUser(ctx, user(siteA, "u1", "a", "a@x")); err == nil {
		t.Fatal("CreateUser during LOADING succeeded")
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping during LOADING succeeded")
	}
}

func TestNewEmbedded(t *testing.T) {
	rdb, closeFn, err := NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	s := NewRedisStore(rdb, Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), user(siteA, "u1", "a", "a@x")); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx := t.Context()
	for _, tc := range []struct {
		url     string
		cluster bool
	}{
		{"redis://" + mr.Addr() + "/0", false},
		{"redis://" + mr.Addr() + "?read_timeout=3s", false},
		{"redis+cluster://" + mr.Addr(), true},
		{"redis://" + mr.Addr() + "," + mr.Addr(), true},
	} {
		rdb, err := Open(ctx, tc.url)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		_, isCluster := rdb.(*redis.ClusterClient)
		if isCluster != tc.cluster {
			t.Errorf("Open(%q) = %T", tc.url, rdb)
		}
		if c, ok := rdb.(*redis.Client); ok {
			o := c.Options()
			wantRead := time.Second
			if strings.Contains(tc.url, "read_timeout") {
				wantRead = 3 * time.Second
			}
			if !o.ContextTimeoutEnabled || o.ReadTimeout != wantRead || o.WriteTimeout != time.Second ||
				o.DialTimeout != 2*time.Second || o.MaxRetries != 1 {
				t.Errorf("Open(%q) options: ctx=%v read=%v write=%v dial=%v retries=%d", tc.url,
					o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout, o.DialTimeout, o.MaxRetries)
			}
		}
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			o := cc.Options()
			if !o.ContextTimeoutEnabled || o.ReadTimeout != time.Second || o.DialTimeout != 2*time.Second || o.MaxRetries != 1 {
				t.Errorf("Open(%q) cluster options: %+v", tc.url, o)
			}
		}
		if err := NewRedisStore(rdb, Options{}).CreateUser(ctx, user(siteA, tc.url, tc.url, tc.url)); err != nil {
			t.Errorf("CreateUser via %q: %v", tc.url, err)
		}
		_ = rdb.Close()
	}

	for _, bad := range []string{"http://x", "redis://u:s3cret@%zz", "redis://u:s3cret@127.0.0.1:1/x/y", "redis://h:1?bogus=1&pw=s3cret"} {
		_, err := Open(ctx, bad)
		if err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error leaks the password: %v", bad, err)
		}
	}

	// A dead server fails fast and does not leak the password either.
	dead := miniredis.RunT(t)
	addr := dead.Addr()
	dead.Close()
	start := time.Now()
	_, err := Open(ctx, "redis://u:s3cret@"+addr)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open(dead) = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open(dead) took %v", d)
	}
}

// TestInvariantCheckerDetectsDrift proves the concurrency test's raw check
// is not vacuous: each kind of drift between records and indexes is caught.
func TestInvariantCheckerDetectsDrift(t *testing.T) {
	corruptions := map[string]func(ctx context.Context, rdb redis.UniversalClient, k siteKeys){
		"orphan unique entry": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.HSet(ctx, k.ixEmail, "ghost@x", "ghost")
		},
		"missing unique entry": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.HDel(ctx, k.ixUserName, "alice")
		},
		"entry points elsewhere": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.HSet(ctx, k.ixExternalID, "e1", "u2")
		},
		"orphan displayName": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.ZAdd(ctx, k.dn, redis.Z{Member: "ghost", Score: 7})
		},
		"displayName entry with another score": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.ZAdd(ctx, k.dn, redis.Z{Member: "u2", Score: 7})
		},
		"orphan previous displayName": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.ZAdd(ctx, k.ixDisplayName, redis.Z{Member: dnHash("x") + "u1"})
		},
		"missing displayName": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.ZRem(ctx, k.dn, "u1")
		},
		"missing order": func(ctx context.Context, rdb redis.UniversalClient, k siteKeys) {
			rdb.ZRem(ctx, k.order, "u1")
		},
	}
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			_, rdb := newMiniredisClient(t, false)
			s := NewRedisStore(rdb, Options{})
			ctx := t.Context()
			mustCreate(t, s, &UserRecord{ID: "u1", SiteID: siteA, UserName: "Alice", Email: "a@x", ExternalID: "e1", DisplayName: "Alice"})
			mustCreate(t, s, &UserRecord{ID: "u2", SiteID: siteA, UserName: "bob", Email: "b@x"})
			if err := s.checkInvariants(ctx, siteA); err != nil {
				t.Fatalf("clean store: %v", err)
			}
			corrupt(ctx, rdb, s.keysFor(siteA))
			if err := s.checkInvariants(ctx, siteA); err == nil {
				t.Fatal("corruption not detected")
			}
		})
	}
}
