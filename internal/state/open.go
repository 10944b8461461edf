package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
	clientName          = "webflow-scim-bridge"
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
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("%w: scheme %q, want redis, rediss, redis+cluster or rediss+cluster", ErrInvalidURL, u.Scheme)
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
		applyClientDefaults(&opt.ContextTimeoutEnabled, &opt.ClientName, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries)
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
	applyClientDefaults(&opt.ContextTimeoutEnabled, &opt.ClientName, &opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.MaxRetries, &opt.DialerRetries)
	return redis.NewClusterClient(opt), nil
}

// applyClientDefaults sets the same bounds on a single-node and a cluster
// client's options (two go-redis types with the same fields): context
// deadlines honoured, short timeouts, few retries, unless the URL set them.
func applyClientDefaults(ctxTimeout *bool, name *string, dial, read, write *time.Duration, retries, dialRetries *int) {
	*ctxTimeout = true
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
	})
	closeFn := func() {
		_ = rdb.Close()
		mr.Close()
	}
	return rdb, closeFn, nil
}
