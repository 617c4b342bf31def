package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/faultproxy"
)

// patience bounds every wait for something that must happen; quiet is how
// long a test listens for something that must not. A slow machine can
// only make a test that waits for silence pass when it should not fail,
// never fail when it should pass.
const (
	patience = 10 * time.Second
	quiet    = 150 * time.Millisecond
)

// echoServer answers every line with the same line, upper-cased so that a
// reply is told apart from the request.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, strings.ToUpper(line)); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, p *faultproxy.Proxy) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), patience)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s+"\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read waits up to d for a line.
func (c *client) read(d time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	line, err := c.r.ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func (c *client) wantReply(want string) {
	c.t.Helper()
	got, err := c.read(patience)
	if err != nil || got != want {
		c.t.Fatalf("reply = %q, %v; want %q", got, err, want)
	}
}

// wantSilence checks that nothing arrives for a while, without closing.
func (c *client) wantSilence() {
	c.t.Helper()
	got, err := c.read(quiet)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("read = %q, %v; want nothing (a timeout)", got, err)
	}
}

// wantClosed checks that the connection ends (reset or EOF) without a reply.
func (c *client) wantClosed() {
	c.t.Helper()
	got, err := c.read(patience)
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		c.t.Fatalf("read = %q, %v; want the connection closed", got, err)
	}
}

func TestPassForwards(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	c.send("hello")
	c.wantReply("HELLO")
	if p.Mode() != faultproxy.Pass {
		t.Errorf("mode = %s, want pass", p.Mode())
	}
}

func TestFreezeHoldsBytesUntilPass(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	c.send("before")
	c.wantReply("BEFORE")

	p.Freeze()
	c.send("held")
	c.wantSilence()
	// A connection opened while frozen is accepted and held as well.
	late := dial(t, p)
	late.send("late")
	late.wantSilence()

	p.Pass()
	c.wantReply("HELD")
	late.wantReply("LATE")
}

func TestBlackholeKillsOpenConnectionsForGood(t *testing.T) {
	p := newProxy(t)
	idle := dial(t, p)
	idle.send("warm")
	idle.wantReply("WARM")
	busy := dial(t, p)
	busy.send("warm")
	busy.wantReply("WARM")

	p.Blackhole()
	busy.send("lost")
	busy.wantSilence()
	// Accepted, never answered.
	during := dial(t, p)
	during.send("anyone?")
	during.wantSilence()

	p.Pass()
	// What was sent into the hole is gone, and every connection the
	// partition saw stays dead, even one that was idle throughout.
	busy.wantSilence()
	for _, c := range []*client{idle, busy, during} {
		c.send("again")
		c.wantSilence()
	}
	// New connections work.
	after := dial(t, p)
	after.send("fresh")
	after.wantReply("FRESH")
}

func TestDropRefusesNewConnections(t *testing.T) {
	p := newProxy(t)
	open := dial(t, p)
	open.send("one")
	open.wantReply("ONE")

	p.Drop()
	wantRefused(t, p)
	// Drop leaves open connections alone.
	open.send("two")
	open.wantReply("TWO")

	p.Pass()
	back := dial(t, p)
	back.send("three")
	back.wantReply("THREE")
}

func TestResetAllResetsOpenConnections(t *testing.T) {
	p := newProxy(t)
	a, b := dial(t, p), dial(t, p)
	a.send("x")
	a.wantReply("X")
	b.send("y")
	b.wantReply("Y")
	waitOpen(t, p, 2)

	p.ResetAll()
	for _, c := range []*client{a, b} {
		_, err := c.read(patience)
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
			t.Errorf("read after reset: %v, want a reset", err)
		}
	}
	waitOpen(t, p, 0)
	// The proxy itself keeps accepting.
	c := dial(t, p)
	c.send("z")
	c.wantReply("Z")
}

func TestResetAllEndsFrozenConnections(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	c.send("a")
	c.wantReply("A")
	p.Freeze()
	c.send("held")
	c.wantSilence()
	p.ResetAll()
	c.wantClosed()
	waitOpen(t, p, 0)
}

func TestDelayDelaysEveryChunk(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	const d = 100 * time.Millisecond
	p.SetDelay(d)
	start := time.Now()
	c.send("slow")
	c.wantReply("SLOW")
	// Both directions wait: a lower bound only, which load cannot break.
	if got := time.Since(start); got < 2*d {
		t.Errorf("reply after %s, want at least %s", got, 2*d)
	}
	p.SetDelay(0)
	c.send("quick")
	c.wantReply("QUICK")
}

func TestUpstreamDownClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	wantRefused(t, p)
}

// wantRefused checks that a new connection is ended without a reply:
// either at once (the reset may beat the end of connect on loopback) or at
// the first read.
func wantRefused(t *testing.T, p *faultproxy.Proxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), patience)
	if err != nil {
		return
	}
	defer c.Close()
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	cl.wantClosed()
}

func TestCloseEndsEverything(t *testing.T) {
	p, err := faultproxy.New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	idle := dial(t, p)
	idle.send("x")
	idle.wantReply("X")
	held := dial(t, p)
	p.Freeze()
	held.send("y")
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Close did not return")
	}
	held.wantClosed()
	idle.wantClosed()
	if c, err := net.DialTimeout("tcp", p.Addr(), patience); err == nil {
		c.Close()
		t.Error("the proxy still accepts connections after Close")
	}
}

func TestModeNames(t *testing.T) {
	for m, want := range map[faultproxy.Mode]string{
		faultproxy.Pass: "pass", faultproxy.Freeze: "freeze", faultproxy.Blackhole: "blackhole", faultproxy.Drop: "drop",
	} {
		if m.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(m), m.String(), want)
		}
	}
}

// waitOpen waits until the proxy holds n connections.
func waitOpen(t *testing.T, p *faultproxy.Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for p.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("open connections = %d, want %d", p.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
