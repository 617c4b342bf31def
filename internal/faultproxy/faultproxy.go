package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how the proxy treats traffic.
type Mode int

const (
	// Pass forwards every byte as it comes.
	Pass Mode = iota
	// Freeze holds every byte until the mode changes.
	Freeze
	// Blackhole drops every byte, and the connections it touched never
	// forward again.
	Blackhole
	// Drop refuses new connections; open ones are left as they are.
	Drop
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Freeze:
		return "freeze"
	case Blackhole:
		return "blackhole"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// dialTimeout bounds the proxy's own connection to the upstream: a
// database that is really down is refused at once, and one that hangs must
// not pin the proxy's goroutines forever.
const dialTimeout = 5 * time.Second

// chunk is how much a pump reads at a time.
const chunk = 32 << 10

// Proxy forwards the connections accepted on its listener to the upstream
// address. Its methods are safe for concurrent use.
type Proxy struct {
	ln       net.Listener
	upstream string
	wg       sync.WaitGroup
	accepted atomic.Int64

	mu    sync.Mutex
	mode  Mode
	delay time.Duration
	// changed is closed, and replaced, whenever mode or delay changes:
	// a pump holding bytes waits on it.
	changed chan struct{}
	links   map[*link]struct{}
	closed  bool
}

// link is one proxied connection: the client's side and, unless the
// connection was black-holed at accept, the upstream's.
type link struct {
	client, server net.Conn
	// dead links drop every byte from now on.
	dead atomic.Bool
	done chan struct{}
	once sync.Once
}

// close ends both sides. With reset, the peers see a reset instead of an
// orderly end of stream.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		for _, c := range []net.Conn{l.client, l.server} {
			if c == nil {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok && reset {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
		close(l.done)
	})
}

// New starts a proxy to upstream (host:port) on a free loopback port, in
// mode Pass.
func New(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, upstream: upstream, changed: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Open counts the connections open now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Pass forwards again. Bytes held by Freeze are delivered; connections
// black-holed stay dead.
func (p *Proxy) Pass() { p.set(Pass) }

// Freeze holds every byte, in both directions, of every connection open
// now or accepted while frozen, until the next mode change.
func (p *Proxy) Freeze() { p.set(Freeze) }

// Blackhole drops every byte from now on: the connections open now never
// forward again, and those accepted meanwhile are never answered. After
// Pass only new connections work.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	for l := range p.links {
		l.dead.Store(true)
	}
	p.mu.Unlock()
	p.set(Blackhole)
}

// Drop refuses new connections (accepted and reset at once) until the
// next mode change. ResetAll as well is what a database going down does.
func (p *Proxy) Drop() { p.set(Drop) }

// ResetAll resets every open connection, whatever the mode.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(true)
	}
}

// SetDelay makes every chunk wait d before it is forwarded (0: none).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = max(d, 0)
	p.broadcast()
}

func (p *Proxy) set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.broadcast()
}

// broadcast wakes the pumps waiting for a change; call with p.mu held.
func (p *Proxy) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) state() (Mode, time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.delay, p.changed
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.wg.Go(func() { p.serve(c) })
	}
}

// track adds l to the open links, or reports false once the proxy is
// closed (Close may already have reset the links it knew of).
func (p *Proxy) track(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) untrack(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

func (p *Proxy) serve(c net.Conn) {
	l := &link{client: c, done: make(chan struct{})}
	defer l.close(false)
	mode, _, _ := p.state()
	switch mode {
	case Drop:
		l.close(true)
		return
	case Blackhole:
		// Accepted, never answered: the client waits for a reply that
		// will not come, as behind a partition whose far side is lost.
		l.dead.Store(true)
		if !p.track(l) {
			return
		}
		defer p.untrack(l)
		p.pump(l, c, nil)
		return
	}
	server, err := net.DialTimeout("tcp", p.upstream, dialTimeout)
	if err != nil {
		l.close(true)
		return
	}
	l.server = server
	if !p.track(l) {
		l.close(true)
		return
	}
	defer p.untrack(l)
	var wg sync.WaitGroup
	// When one direction ends, the whole connection does, as a TCP proxy
	// that does not support half-close behaves.
	wg.Go(func() { p.pump(l, server, c); l.close(false) })
	p.pump(l, c, server)
	l.close(false)
	wg.Wait()
}

// pump copies src to dst (nil: nowhere) chunk by chunk, each as the mode
// allows, until either side fails or the link is closed.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	buf := make([]byte, chunk)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(l, dst, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward delivers b to dst when the mode allows it, reporting false when
// the link ended meanwhile or the write failed.
func (p *Proxy) forward(l *link, dst net.Conn, b []byte) bool {
	for {
		if l.dead.Load() || dst == nil {
			return true // dropped; keep reading so the sender never blocks
		}
		mode, delay, changed := p.state()
		switch mode {
		case Freeze:
			select {
			case <-changed:
				continue
			case <-l.done:
				return false
			}
		case Blackhole:
			l.dead.Store(true)
			continue
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return false
			}
		}
		_, err := dst.Write(b)
		return err == nil
	}
}
