package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestDeadPooledConnsAreRetried closes, on the server side, every pooled
// connection of a client from Open (which skips go-redis's per-command
// health check while it can, see checkedConn) and checks that the next
// store operations, a read and a create script, succeed and run once on
// the server: the dead connections cost a retry, never an error and never
// a second run. It runs its own redis-server (killing clients of a shared
// one would hit other tests) and also a miniredis restart.
func TestDeadPooledConnsAreRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	srv := startRedisServer(t, bin)
	admin := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: 3})
	t.Cleanup(func() { _ = admin.Close() })

	cases := []struct {
		name  string
		close func(t *testing.T, ctx context.Context)
	}{
		{"CLIENT KILL TYPE normal", func(t *testing.T, ctx context.Context) {
			if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"idle timeout", func(t *testing.T, ctx context.Context) {
			if err := admin.ConfigSet(ctx, "timeout", "1").Err(); err != nil {
				t.Fatal(err)
			}
			waitNoBridgeClients(t, ctx, admin)
			if err := admin.ConfigSet(ctx, "timeout", "0").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"restart", func(t *testing.T, ctx context.Context) {
			if err := admin.Save(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			srv.restart(t)
		}},
	}
	// Each op runs first after a close, so that it is the one that draws a
	// dead connection unchecked.
	ops := []struct {
		name string
		run  func(ctx context.Context, s Store, n int) error
	}{
		{"read", func(ctx context.Context, s Store, n int) error {
			got, err := s.FindUser(ctx, "site1", IndexUserName, deadConnUser("site1", 0).UserName)
			if err == nil && got.ID != deadConnUser("site1", 0).ID {
				err = fmt.Errorf("found %q", got.ID)
			}
			return err
		}},
		{"create script", func(ctx context.Context, s Store, n int) error {
			// A second run would answer ErrExists.
			return s.CreateUser(ctx, deadConnUser("site1", n))
		}},
	}
	n := 0
	for i, tc := range cases {
		for _, op := range ops {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				rdb, err := Open(ctx, "redis://"+srv.addr+"/0")
				if err != nil {
					t.Fatal(err)
				}
				defer rdb.Close()
				s := NewRedisStore(rdb, Options{Prefix: fmt.Sprintf("wfbdead%d", i)})
				seed := deadConnUser("site1", 0)
				if err := s.CreateUser(ctx, seed); err != nil && !errors.Is(err, ErrExists) {
					t.Fatal(err)
				}
				warmPool(t, ctx, s, "site1", seed.UserName)
				if idle := rdb.PoolStats().IdleConns; idle < 2 {
					t.Fatalf("%d idle connections after warming, want several (a retry must be able to draw a second dead one)", idle)
				}
				// What the op runs on the server with a healthy pool.
				n++
				if err := admin.ConfigResetStat(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				if err := op.run(ctx, s, n); err != nil {
					t.Fatal(err)
				}
				want := serverCalls(t, ctx, admin)

				tc.close(t, ctx)
				waitNoBridgeClients(t, ctx, admin)
				time.Sleep(20 * time.Millisecond) // the FINs reach the client's sockets

				n++
				if err := admin.ConfigResetStat(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				if err := op.run(ctx, s, n); err != nil {
					t.Fatalf("%s after the server closed the pooled connections: %v", op.name, err)
				}
				// The attempt on a dead connection never reached the server,
				// and nothing ran twice.
				if got := serverCalls(t, ctx, admin); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("after the close the server ran %v, with a healthy pool %v", got, want)
				}
			})
		}
	}

	t.Run("miniredis restart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		mr := miniredis.RunT(t)
		rdb, err := Open(ctx, "redis://"+mr.Addr()+"/0")
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		s := NewRedisStore(rdb, Options{})
		seed := deadConnUser("site1", 0)
		if err := s.CreateUser(ctx, seed); err != nil {
			t.Fatal(err)
		}
		warmPool(t, ctx, s, "site1", seed.UserName)
		if idle := rdb.PoolStats().IdleConns; idle < 2 {
			t.Fatalf("%d idle connections after warming, want several", idle)
		}
		mr.Close() // closes every connection
		if err := mr.Restart(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if got, err := s.FindUser(ctx, "site1", IndexUserName, seed.UserName); err != nil || got.ID != seed.ID {
			t.Fatalf("read after restart: %v, %v", got, err)
		}
		fresh := deadConnUser("site1", 1)
		if err := s.CreateUser(ctx, fresh); err != nil {
			t.Fatalf("create after restart: %v", err)
		}
		if got, err := s.GetUser(ctx, "site1", fresh.ID); err != nil || got.UserName != fresh.UserName {
			t.Fatalf("created user: %v, %v", got, err)
		}
	})
}

// TestLazyCheckDialerApplies pins where Open's clients skip the per-command
// health check (plain TCP, RESP2, retries on) and where they keep it.
func TestLazyCheckDialerApplies(t *testing.T) {
	mr := miniredis.RunT(t)
	cases := []struct {
		url  string
		lazy bool
	}{
		{"redis://" + mr.Addr() + "/0", true},
		{"redis://" + mr.Addr() + "/0?max_retries=-1", false},
		{"redis://" + mr.Addr() + "/0?protocol=3", false},
		{"redis+cluster://" + mr.Addr(), true},
		{"redis+cluster://" + mr.Addr() + "?protocol=3", false},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			rdb, err := newClient(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			var dialer func(context.Context, string, string) (net.Conn, error)
			switch c := rdb.(type) {
			case *redis.Client:
				dialer = c.Options().Dialer
			case *redis.ClusterClient:
				dialer = c.Options().Dialer
			}
			if dialer == nil {
				if tc.lazy {
					t.Fatal("no dialer")
				}
				return
			}
			conn, err := dialer(context.Background(), "tcp", mr.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, lazy := conn.(*checkedConn)
			if lazy != tc.lazy {
				t.Fatalf("checkedConn: %v, want %v", lazy, tc.lazy)
			}
			if _, ok := conn.(syscall.Conn); !ok {
				t.Fatal("the connection is no syscall.Conn: go-redis would never check it")
			}
		})
	}
}

// TestCheckedConnTrust pins the trust rule: a connection skips the real
// check until any connection of its client fails an I/O, then gets it once.
func TestCheckedConnTrust(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := lazyCheckDialer(time.Second, false, 2, 1)
	ctx := context.Background()
	a, err := dial(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := dial(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	serverA, serverB := <-accepted, <-accepted
	defer serverB.Close()

	real := func(c net.Conn) bool {
		rc, err := c.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		_, trusted := rc.(trustedRawConn)
		return !trusted
	}
	if real(a) || real(b) {
		t.Fatal("fresh connections got the real check")
	}
	_ = serverA.Close()
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed peer succeeded")
	}
	if !real(b) {
		t.Fatal("after a's failed read, b was trusted without the real check")
	}
	if real(b) {
		t.Fatal("b got the real check twice")
	}

	// A peer that resets the connection while it is idle: the write fails
	// with nothing sent, which go-redis must retry (it retries EOF).
	_ = serverB.(*net.TCPConn).SetLinger(0)
	_ = serverB.Close()
	time.Sleep(20 * time.Millisecond)
	n, err := b.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	if err == nil {
		t.Fatal("write to a reset connection succeeded")
	}
	if n != 0 || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write to a reset connection: %d, %v; want 0 bytes and an error that is io.ErrUnexpectedEOF and ECONNRESET", n, err)
	}
}

func deadConnUser(site string, i int) *UserRecord {
	return &UserRecord{ID: fmt.Sprintf("id-%d", i), SiteID: site, UserName: fmt.Sprintf("user%d@example.com", i),
		Email: fmt.Sprintf("user%d@example.com", i), Active: true}
}

// warmPool runs reads concurrently until the client holds several idle
// connections.
func warmPool(t *testing.T, ctx context.Context, s Store, site, userName string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range 20 {
				if _, err := s.FindUser(ctx, site, IndexUserName, userName); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// serverCalls is how often the server ran each command successfully (INFO
// commandstats: calls less failed_calls), without the admin client's own
// commands, EVAL and EVALSHA counted together as "script" (after a restart
// the script cache is empty: EVALSHA fails with NOSCRIPT and go-redis
// sends EVAL). The commands a script calls are counted too.
func serverCalls(t *testing.T, ctx context.Context, admin *redis.Client) map[string]int {
	t.Helper()
	info, err := admin.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "cmdstat_"), ":")
		switch name {
		case "info", "config|resetstat", // the admin's
			"hello", "client|setname", "client|setinfo", "auth", "select", "ping": // a new connection's handshake
			continue
		}
		if !ok {
			continue
		}
		var n, failed int
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				n, _ = strconv.Atoi(v)
			case "failed_calls":
				failed, _ = strconv.Atoi(v)
			}
		}
		if name == "eval" || name == "evalsha" {
			name = "script"
		}
		if n -= failed; n > 0 {
			calls[name] += n
		}
	}
	return calls
}

func waitNoBridgeClients(t *testing.T, ctx context.Context, admin *redis.Client) {
	t.Helper()
	for {
		list, err := admin.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(list, "name="+clientName+" ") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the bridge's connections are still open: %s", list)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type redisServer struct {
	bin, addr, dir string
	port           int
	cmd            *exec.Cmd
}

// startRedisServer runs redis-server on a free port, without persistence
// other than an explicit SAVE (which restart loads back).
func startRedisServer(t *testing.T, bin string) *redisServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	srv := &redisServer{bin: bin, port: port, addr: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir()}
	srv.start(t)
	t.Cleanup(func() { srv.stop() })
	return srv
}

func (s *redisServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", s.dir, "--dbfilename", "dump.rdb")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s: %v", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		s.cmd = nil
	}
}

// restart stops the server (its clients' sockets see the close) and starts
// it again on the same port, from the last SAVE.
func (s *redisServer) restart(t *testing.T) {
	t.Helper()
	s.stop()
	s.start(t)
}
