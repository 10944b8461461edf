package state

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// go-redis checks every pooled connection it hands out (pool Get): it
// clears the socket's deadline and peeks at it with a non-blocking
// recvfrom(MSG_PEEK), so that a connection the server closed while it sat
// in the pool (Redis `timeout`, CLIENT KILL, a restart, a failover) is
// dropped before a command is written to it. That is two syscalls' worth
// of work per command, about 2% of the bridge's CPU, for a check that
// almost always finds the connection healthy.
//
// checkedConn makes the check lazy. The connection passes the check
// without the syscall ("trusted") until any connection of the same client
// has failed a read or a write; from then on every connection of the client
// gets the real check once before it is trusted again. So:
//
//   - A connection the server closed is used once unchecked. Redis closed
//     its end before the command arrived, so the command did not run; the
//     write lands in the socket buffer and the read answers io.EOF, which
//     go-redis retries (MaxRetries; EOF is a retryable bad-connection
//     error), and the failure has already marked every connection of the
//     client for the real check: the retry cannot draw a second dead
//     connection unchecked, whatever number of them the pool holds (a
//     restart or CLIENT KILL TYPE normal closes them all at once). The
//     caller sees one success, the command having run once;
//     TestDeadPooledConnsAreRetried pins this.
//   - A connection reset while idle fails the write instead, with nothing
//     sent: retried too (see Write).
//   - The cost is one wasted round trip on the first command after the
//     server closed connections, instead of two syscalls on every command.
//
// It is used only where this reasoning holds: a plain-TCP connection (TLS
// connections are never peeked by go-redis anyway), RESP2 (no push frames:
// with RESP3 the check also spots a push waiting on an idle connection) and
// at least one retry (with max_retries=-1 the unchecked dead connection's
// error would reach the caller).
type checkedConn struct {
	net.Conn // a *net.TCPConn
	tcp      *net.TCPConn
	health   *connHealth
	// trusted is the health epoch at which this connection last passed the
	// real check (or was dialed); while it is current, the check is skipped.
	trusted atomic.Uint64
}

// connHealth is shared by the connections of one client: its epoch moves
// whenever one of them fails an I/O, which voids the trust of all of them.
type connHealth struct{ epoch atomic.Uint64 }

func (c *checkedConn) Read(p []byte) (int, error) {
	n, err := c.tcp.Read(p)
	if err != nil {
		c.health.epoch.Add(1)
	}
	return n, err
}

// Write marks a failure like Read. A write that fails before the kernel
// took any byte (the peer reset the idle connection: a proxy or load
// balancer that resets on idle, where go-redis's check would have seen the
// reset) delivered nothing, so the command cannot have run; its error also
// wraps io.ErrUnexpectedEOF, which go-redis retries like a read's EOF
// (a plain write error it does not retry).
func (c *checkedConn) Write(p []byte) (int, error) {
	n, err := c.tcp.Write(p)
	if err != nil {
		c.health.epoch.Add(1)
		if n == 0 && len(p) > 0 && !isTimeout(err) {
			err = &unsentError{err: err}
		}
	}
	return n, err
}

// unsentError is a write error with nothing sent (see checkedConn.Write).
type unsentError struct{ err error }

func (e *unsentError) Error() string {
	return "redis connection lost before the command was sent: " + e.err.Error()
}
func (e *unsentError) Unwrap() []error { return []error{e.err, io.ErrUnexpectedEOF} }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// SyscallConn is what go-redis's health check peeks through. A trusted
// connection answers a RawConn that reports it healthy without a syscall;
// otherwise the real one, and the connection is trusted from then on (if
// the real check finds it dead, go-redis closes it).
func (c *checkedConn) SyscallConn() (syscall.RawConn, error) {
	epoch := c.health.epoch.Load()
	if c.trusted.Load() == epoch {
		return trustedRawConn{}, nil
	}
	c.trusted.Store(epoch)
	return c.tcp.SyscallConn()
}

// trustedRawConn stands for a socket known healthy: Read reports it so
// without calling f (go-redis's check treats "f not called" as no data and
// no error, i.e. healthy). Only go-redis's pool check reaches it.
type trustedRawConn struct{}

func (trustedRawConn) Control(func(fd uintptr)) error { return nil }
func (trustedRawConn) Read(func(fd uintptr) bool) error {
	return nil
}
func (trustedRawConn) Write(func(fd uintptr) bool) error { return nil }

// lazyCheckDialer returns a go-redis Dialer with go-redis's own defaults
// (redis.NewDialer: dial timeout, TCP keep-alive) whose TCP connections are
// checkedConns sharing one connHealth; nil (go-redis's default dialer) when
// the lazy check does not apply: TLS, RESP3 or no retries (see checkedConn).
func lazyCheckDialer(dialTimeout time.Duration, tls bool, protocol, maxRetries int) func(context.Context, string, string) (net.Conn, error) {
	if tls || protocol != 2 || maxRetries < 1 {
		return nil
	}
	dial := redis.NewDialer(&redis.Options{DialTimeout: dialTimeout})
	health := new(connHealth)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tcp, ok := conn.(*net.TCPConn)
		if !ok {
			return conn, nil
		}
		c := &checkedConn{Conn: tcp, tcp: tcp, health: health}
		c.trusted.Store(health.epoch.Load()) // just dialed: healthy
		return c, nil
	}
}
