package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// pgProxy forwards TCP connections to PostgreSQL and counts the client's
// round trips: each Sync message (end of an extended-protocol exchange) and
// each simple Query is one wait for the server. It exists only for the
// roundtrips command, because copying every byte costs CPU the timed runs
// should not pay.
type pgProxy struct {
	ln       net.Listener
	upstream string
	trips    atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func startPGProxy(dbURL string) (*pgProxy, error) {
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("proxy: the database URL must name host:port")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &pgProxy{ln: ln, upstream: host, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *pgProxy) Addr() string { return p.ln.Addr().String() }

// RoundTrips is the count so far.
func (p *pgProxy) RoundTrips() int64 { return p.trips.Load() }

func (p *pgProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *pgProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	p.track(client, true)
	p.track(server, true)
	defer p.track(client, false)
	defer p.track(server, false)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(client, server)
		client.Close()
		close(done)
	}()
	_ = countFrontend(bufio.NewReader(client), server, func() { p.trips.Add(1) })
	server.Close()
	<-done
}

// Close stops accepting and ends every open connection.
func (p *pgProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Startup-phase request codes (PostgreSQL protocol, "Message Formats").
const (
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
	pgCancelRequest = 80877102
)

// countFrontend copies the client's side of a PostgreSQL connection to w,
// calling trip for every Sync ('S') and Query ('Q') message. The startup
// phase has untyped messages (length first); SSL and GSS encryption
// requests come before the startup message, so the proxy only works with
// sslmode=disable or a server that declines them.
func countFrontend(r *bufio.Reader, w io.Writer, trip func()) error {
	var hdr [8]byte
	// Untyped messages until the startup message itself.
	for {
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:8])
		if n < 8 {
			return errors.New("proxy: bad startup length")
		}
		if _, err := w.Write(hdr[:8]); err != nil {
			return err
		}
		if _, err := io.CopyN(w, r, int64(n-8)); err != nil {
			return err
		}
		if code != pgSSLRequest && code != pgGSSENCRequest {
			if code == pgCancelRequest {
				return nil
			}
			break
		}
	}
	for {
		if _, err := io.ReadFull(r, hdr[:5]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:5]))
		if n < 4 {
			return errors.New("proxy: bad message length")
		}
		if hdr[0] == 'S' || hdr[0] == 'Q' {
			trip()
		}
		if _, err := w.Write(hdr[:5]); err != nil {
			return err
		}
		if _, err := io.CopyN(w, r, int64(n-4)); err != nil {
			return err
		}
	}
}
