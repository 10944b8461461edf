package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Client defaults. The go-redis defaults (5 s read/write, 3 retries, 5 dial
// retries) would let a dead Redis stall a SCIM request for many seconds;
// IdPs time out long before that.
const (
	defaultDialTimeout  = 2 * time.Second
	defaultReadTimeout  = 1 * time.Second
	defaultWriteTimeout = 1 * time.Second
	defaultMaxRetries   = 1
	defaultDialRetries  = 1
	defaultProtocol     = 2 // RESP2, see applyClientDefaults
	clientName          = "webflow-scim-bridge"
	// defaultClusterReload bounds how stale a cluster's slot map gets when
	// no command fails (go-redis: 60 s). A connection error to a node
	// reloads it at once (reloadOnNodeError); this is only the backstop.
	defaultClusterReload = 10 * time.Second
	// defaultMaxRedirects is how often a cluster command is re-sent after
	// MOVED, ASK, TRYAGAIN or a node error (go-redis: 3). With the
	// backoff (10 ms doubling) 6 tries span about 0.6 s: a slot split
	// between two nodes while it is resharded (TRYAGAIN for a script
	// whose keys are on both) is waited out instead of reaching the IdP.
	defaultMaxRedirects = 6
)

// ErrInvalidURL is the error of a Redis URL that does not parse; its
// message never contains the URL.
var ErrInvalidURL = errors.New("state: invalid redis URL")

// ValidateURL reports whether rawURL is a Redis URL Open accepts, without
// any I/O: config validation calls it.
func ValidateURL(rawURL string) error {
	rdb, err := newClient(rawURL)
	if err != nil {
		return err
	}
	return rdb.Close()
}

// Open connects to Redis and pings it. Accepted forms:
//
//	redis://[user:pass@]host:port[/db][?options]     single node
//	rediss://...                                      single node over TLS
//	redis+cluster://[user:pass@]h1:p1,h2:p2[?options] Redis Cluster (also rediss+cluster)
//	redis://h1:p1,h2:p2                               several addresses also mean Cluster
//	redis+sentinel://[user:pass@]s1:p1,s2:p2/master[?db=N&options] Sentinel (also rediss+sentinel)
//
// With Sentinel the addresses are the Sentinels', the path names the master
// set, and the password authenticates to the master and replicas and to the
// Sentinels (sentinel_auth=false sends it to the data nodes only).
//
// Query options are those of redis.ParseURL / redis.ParseClusterURL. Unless
// the URL sets them, the read/write timeout is 1 s, the dial timeout 2 s and
// commands are retried once. ContextTimeoutEnabled is always on so that the
// caller's context deadline bounds socket I/O.
//
// Errors never contain the URL, because it may carry a password.
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, error) {
	rdb, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("state: ping redis: %w", err)
	}
	return rdb, nil
}

// newClient builds the client without any I/O.
func newClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	scheme, cluster := u.Scheme, false
	if base, ok := strings.CutSuffix(scheme, "+cluster"); ok {
		scheme, cluster = base, true
	}
	if base, ok := strings.CutSuffix(scheme, "+sentinel"); ok && (base == "redis" || base == "rediss") {
		u.Scheme = base
		return newSentinelClient(u)
	}
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("%w: scheme %q, want redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel", ErrInvalidURL, u.Scheme)
	}
	addrs := strings.Split(u.Host, ",")
	if len(addrs) > 1 {
		cluster = true
	}
	if !cluster {
		u.Scheme = scheme
		opt, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidURL, redact(err, u))
		}
		applyClientDefaults(&opt.ContextTimeoutEnabled, &opt.ClientName, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries, &opt.Protocol)
		opt.Dialer = lazyCheckDialer(opt.DialTimeout, opt.TLSConfig != nil, opt.Protocol, opt.MaxRetries)
		return redis.NewClient(opt), nil
	}

	// redis.ParseClusterURL wants the first address as host and the others
	// as repeated addr= parameters.
	cu := *u
	cu.Scheme = scheme
	cu.Host = strings.TrimSpace(addrs[0])
	cu.Path = "" // Cluster has only database 0
	q := cu.Query()
	for _, a := range addrs[1:] {
		if a = strings.TrimSpace(a); a != "" {
			q.Add("addr", a)
		}
	}
	cu.RawQuery = q.Encode()
	opt, err := redis.ParseClusterURL(cu.String())
	if err != nil {
		return nil, fmt.Errorf("%w (cluster): %w", ErrInvalidURL, redact(err, &cu))
	}
	applyClientDefaults(&opt.ContextTimeoutEnabled, &opt.ClientName, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries, &opt.Protocol)
	opt.Dialer = lazyCheckDialer(opt.DialTimeout, opt.TLSConfig != nil, opt.Protocol, opt.MaxRetries)
	if opt.ClusterStateReloadInterval == 0 {
		opt.ClusterStateReloadInterval = defaultClusterReload
	}
	if opt.MaxRedirects == 0 {
		opt.MaxRedirects = defaultMaxRedirects
	}
	return newClusterClient(opt), nil
}

// newClusterClient is redis.NewClusterClient that also reloads the slot map
// as soon as a node fails to answer (see reloadOnNodeError).
func newClusterClient(opt *redis.ClusterOptions) *redis.ClusterClient {
	cc := redis.NewClusterClient(opt)
	cc.OnNewNode(func(node *redis.Client) { node.AddHook(reloadOnNodeError{cc: cc}) })
	cc.AddHook(waitOutReshard{})
	return cc
}

// waitOutReshard re-sends a command (or pipeline) whose final answer,
// after go-redis's own redirects, is still TRYAGAIN, ASK or MOVED: a slot
// being resharded, whose keys are for a moment split between two nodes
// (a script needs all of them on one). go-redis follows ASK and MOVED at
// once and so spends its tries within milliseconds; this waits 20 ms,
// doubling, for up to reshardPatience, so that a reshard (redis-cli moves
// a slot's keys in batches) is invisible to the IdP.
type waitOutReshard struct{}

const reshardPatience = time.Second

func reshardError(err error) bool {
	if err == nil {
		return false
	}
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return moved || ask || redis.IsTryAgainError(err)
}

func (waitOutReshard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (waitOutReshard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		for pause, waited := 20*time.Millisecond, time.Duration(0); reshardError(err) && waited < reshardPatience; pause *= 2 {
			if sleep(ctx, pause) != nil {
				return err
			}
			waited += pause
			cmd.SetErr(nil)
			err = next(ctx, cmd)
		}
		return err
	}
}

func (waitOutReshard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for pause, waited := 20*time.Millisecond, time.Duration(0); reshardError(err) && waited < reshardPatience; pause *= 2 {
			if sleep(ctx, pause) != nil {
				return err
			}
			waited += pause
			for _, c := range cmds {
				c.SetErr(nil)
			}
			err = next(ctx, cmds)
		}
		return err
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reloadOnNodeError is a hook on every node of a ClusterClient. go-redis
// reloads the slot map on MOVED, ASK and READONLY, and otherwise only every
// ClusterStateReloadInterval: a master that died (connection refused, EOF,
// timeout) or a cluster that is re-electing (CLUSTERDOWN) kept its slots
// pointed at the dead node until the timer, 60 s by default. This asks for
// a reload on each such error; go-redis coalesces the requests (one load at
// a time, then 200 ms of cooldown), so the new master is found within a
// fraction of a second of its promotion while the errors go on.
type reloadOnNodeError struct{ cc *redis.ClusterClient }

func (h reloadOnNodeError) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			h.cc.ReloadState(ctx)
		}
		return conn, err
	}
}

func (h reloadOnNodeError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.observe(ctx, err)
		return err
	}
}

func (h reloadOnNodeError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.observe(ctx, err)
		return err
	}
}

func (h reloadOnNodeError) observe(ctx context.Context, err error) {
	if err != nil && topologyError(err) && !errors.Is(ctx.Err(), context.Canceled) {
		h.cc.ReloadState(ctx)
	}
}

// topologyError reports whether err says the node is gone or no longer
// serves its slots, rather than something about the command itself.
func topologyError(err error) bool {
	if errors.Is(err, redis.Nil) || errors.Is(err, redis.TxFailedErr) {
		return false
	}
	if redis.IsClusterDownError(err) || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsMasterDownError(err) || redis.IsTryAgainError(err) {
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return false // an answer from a live node: a script's error, WRONGTYPE, ...
	}
	return true // EOF, connection refused or reset, timeout, closed pool
}

// newSentinelClient builds a go-redis failover client from
// redis+sentinel://[user:pass@]s1:p1,s2:p2/master[?db=N&options] (the
// scheme already cut to redis or rediss).
func newSentinelClient(u *url.URL) (redis.UniversalClient, error) {
	master := strings.Trim(u.Path, "/")
	if master == "" || strings.Contains(master, "/") {
		return nil, fmt.Errorf("%w (sentinel): the path must name the master set, as in redis+sentinel://host1:26379,host2:26379/mymaster", ErrInvalidURL)
	}
	var sentinels []string
	for _, a := range strings.Split(u.Host, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		h, p, err := net.SplitHostPort(a)
		if err != nil || h == "" || p == "" {
			return nil, fmt.Errorf("%w (sentinel): Sentinel address %q is not host:port", ErrInvalidURL, a)
		}
		sentinels = append(sentinels, a)
	}
	if len(sentinels) == 0 {
		return nil, fmt.Errorf("%w (sentinel): no Sentinel address", ErrInvalidURL)
	}
	q := u.Query()
	sentinelAuth := true
	if v := q.Get("sentinel_auth"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w (sentinel): sentinel_auth=%q is not a boolean", ErrInvalidURL, v)
		}
		sentinelAuth = b
		q.Del("sentinel_auth")
	}
	// go-redis's own form: the first Sentinel as host, the others as addr=,
	// the master set as master_name=; the credentials are set below.
	fu := url.URL{Scheme: u.Scheme, Host: sentinels[0]}
	for _, a := range sentinels[1:] {
		q.Add("addr", a)
	}
	q.Set("master_name", master)
	fu.RawQuery = q.Encode()
	opt, err := redis.ParseFailoverURL(fu.String())
	if err != nil {
		return nil, fmt.Errorf("%w (sentinel): %w", ErrInvalidURL, redact(err, u))
	}
	if opt.DB < 0 {
		return nil, fmt.Errorf("%w (sentinel): db must be 0 or more", ErrInvalidURL)
	}
	opt.SentinelUsername, opt.SentinelPassword = "", ""
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
		if sentinelAuth {
			opt.SentinelUsername, opt.SentinelPassword = opt.Username, opt.Password
		}
	}
	applyClientDefaults(&opt.ContextTimeoutEnabled, &opt.ClientName, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries, &opt.Protocol)
	// The dialer serves the Sentinels too (their pub/sub and queries), for
	// which the lazy check is as good as for the master.
	opt.Dialer = lazyCheckDialer(opt.DialTimeout, opt.TLSConfig != nil, opt.Protocol, opt.MaxRetries)
	return redis.NewFailoverClient(opt), nil
}

// applyClientDefaults sets the same bounds on a single-node and a cluster
// client's options (two go-redis types with the same fields): context
// deadlines honoured, short timeouts, few retries, unless the URL set them.
//
// The protocol is RESP2 unless the URL asks for protocol=3: go-redis's
// default, RESP3, runs its push-notification machinery on every command
// (a push check before each reply, one when the connection goes back to
// the pool) and makes the pool's health check necessary for push frames
// on idle connections (see checkedConn). The bridge uses nothing RESP3
// brings: no pub/sub, no client-side caching, no RESP3-only reply types
// (its scripts reply alike under both). What RESP2 gives up is go-redis's
// maintenance notifications (Redis Enterprise / Cloud announcing a node
// move, for a hand-off without errors); without them a moved node is a
// dead connection, which the retry and, for a cluster, the slot map reload
// already cover. protocol=3 in the URL brings them back.
func applyClientDefaults(ctxTimeout *bool, name *string, dial, read, write *time.Duration, retries, dialRetries, protocol *int) {
	*ctxTimeout = true
	if *protocol == 0 {
		*protocol = defaultProtocol
	}
	*name = clientName
	*dial = orDefault(*dial, defaultDialTimeout)
	*read = orDefault(*read, defaultReadTimeout)
	*write = orDefault(*write, defaultWriteTimeout)
	if *retries == 0 {
		*retries = defaultMaxRetries
	}
	if *dialRetries == 0 {
		*dialRetries = defaultDialRetries
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// redact removes the password from an error that might quote the URL.
func redact(err error, u *url.URL) error {
	if u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// NewEmbedded starts an in-process miniredis and a client for it, for the
// "embedded store" mode (single replica, demos, local development). Nothing
// survives a restart, which the caller must make loud: every SCIM id handed
// to an IdP is forgotten. The returned func closes the client and the server.
func NewEmbedded() (redis.UniversalClient, func(), error) {
	mr, err := miniredis.Run()
	if err != nil {
		return nil, nil, fmt.Errorf("state: start embedded redis: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:                  mr.Addr(),
		ClientName:            clientName,
		DialTimeout:           defaultDialTimeout,
		ReadTimeout:           defaultReadTimeout,
		WriteTimeout:          defaultWriteTimeout,
		MaxRetries:            defaultMaxRetries,
		DialerRetries:         defaultDialRetries,
		ContextTimeoutEnabled: true,
		Protocol:              defaultProtocol,
		Dialer:                lazyCheckDialer(defaultDialTimeout, false, defaultProtocol, defaultMaxRetries),
	})
	closeFn := func() {
		_ = rdb.Close()
		mr.Close()
	}
	return rdb, closeFn, nil
}
