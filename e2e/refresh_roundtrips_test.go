package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// maxRefreshRoundTrips is the refresh_token grant's budget of round trips
// to PostgreSQL (performance issue, item 4), counted as `gatehouse-bench
// roundtrips` counts them, the listener's included: BEGIN; the token with
// its user; the rotation; COMMIT with the barrier's look-up of the
// listeners that must acknowledge the revocation of the old access token
// (store/postgres/commit.go); and that acknowledgement, on the listener's
// connection, which the answer waits for. It was 12.
const maxRefreshRoundTrips = 5

// TestRefreshRoundTrips counts, through a proxy between the server and
// PostgreSQL, the round trips one refresh costs (each Sync and simple
// Query the server sends), on the pool's connections (the request's path)
// and the change feed's listener (its acknowledgement of the revocation),
// and checks that the refresh still did everything: a new pair, the old
// refresh token and the old access token dead.
func TestRefreshRoundTrips(t *testing.T) {
	t.Parallel()
	proxy, ts := startCountedServer(t)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	tok, _, _ := ts.newRP(t, client).signIn(t, user)

	// Warm-up: the client cache, the pool's connections and their
	// prepared statements. Then each refresh is counted alone.
	rt, access := tok.RefreshToken, tok.AccessToken
	for range 3 {
		r := ts.refresh(t, rt, authOf(client))
		if r.Status != http.StatusOK {
			t.Fatalf("warm-up refresh: status %d\n%s", r.Status, r.Raw)
		}
		rt, access = r.str("refresh_token"), r.str("access_token")
	}
	for i := range 3 {
		proxy.reset()
		r := ts.refresh(t, rt, authOf(client))
		pool, listener, log := proxy.counts()
		if r.Status != http.StatusOK {
			t.Fatalf("refresh %d: status %d\n%s", i, r.Status, r.Raw)
		}
		t.Logf("refresh %d: %d round trips on the request's path, %d on the listener\n%s", i, pool, listener, log)
		if pool+listener > maxRefreshRoundTrips {
			t.Errorf("refresh %d: %d round trips (%d on the request's path, %d on the listener), want at most %d:\n%s",
				i, pool+listener, pool, listener, maxRefreshRoundTrips, log)
		}
		if listener != 1 {
			t.Errorf("refresh %d: %d round trips on the listener, want 1 (the acknowledgement of the old access token's revocation)", i, listener)
		}
		if r.str("id_token") == "" {
			t.Errorf("refresh %d: no ID token in the answer", i)
		}
		if ts.isActive(t, rt, rs) || ts.isActive(t, access, rs) {
			t.Errorf("refresh %d: the presented refresh token or the old access token is still active", i)
		}
		rt, access = r.str("refresh_token"), r.str("access_token")
		if !ts.isActive(t, access, rs) || !ts.isActive(t, rt, rs) {
			t.Errorf("refresh %d: the new pair is not active", i)
		}
	}
}

// startCountedServer starts a server on a database of its own, reached
// through a countingProxy: every server on the package database would
// otherwise have this server's listener acknowledge its revocations,
// round trips a count would blame on the request counted.
func startCountedServer(t *testing.T) (*countingProxy, *testServer) {
	t.Helper()
	proxy := startCountingProxy(t, pgtest.NewDatabase(t))
	ts := startServerOn(t, serverSetup{
		mutate: func(c *config.Config) {
			// The background queues poll the database; out of the way of
			// the count (they have nothing to do in these tests).
			c.MailQueue.PollInterval = time.Hour
			c.BackChannelLogout.PollInterval = time.Hour
			c.Webhooks.PollInterval = time.Hour
			// So do the usage counters' flush and the janitor.
			c.Usage.FlushInterval = time.Hour
			c.Janitor.Interval = time.Hour
		},
		store: func(t *testing.T) store.Store {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pg, err := postgres.New(ctx, proxy.url)
			if err != nil {
				t.Fatalf("postgres.New through the proxy: %v", err)
			}
			return pg
		},
	})
	return proxy, ts
}

// countingProxy forwards connections to PostgreSQL and counts the round
// trips the client asks for (Sync messages and simple Queries) on each,
// telling the change feed's listener (by its application_name) from the
// pool's connections. It also keeps the statements' first words, so that
// a failed count says what the round trips were.
type countingProxy struct {
	url string

	mu       sync.Mutex
	pool     int
	listener int
	log      []string
	// statements maps prepared statements' names to their SQL.
	statements map[string]string
}

func startCountingProxy(t *testing.T, dbURL string) *countingProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	upstream := u.Host
	if u.Port() == "" {
		upstream = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.Host = ln.Addr().String()
	p := &countingProxy{url: u.String(), statements: map[string]string{}}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		_ = ln.Close()
		conns.Range(func(c, _ any) bool { _ = c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			conns.Store(c, true)
			conns.Store(up, true)
			wg.Go(func() {
				_, _ = io.Copy(c, up)
				_ = c.Close()
			})
			wg.Go(func() {
				_ = p.forward(up, c)
				_ = up.Close()
			})
		}
	})
	return p
}

func (p *countingProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pool, p.listener, p.log = 0, 0, nil
}

func (p *countingProxy) counts() (pool, listener int, log string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pool, p.listener, strings.Join(p.log, "\n")
}

// forward copies the client's messages to up, counting as it goes.
func (p *countingProxy) forward(up io.Writer, client io.Reader) error {
	r := bufio.NewReader(client)
	listener := false
	// Untyped messages first: SSL or GSS encryption requests, then the
	// startup message with its parameters.
	for {
		var head [8]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(head[:4]))
		if n < 8 {
			return errors.New("proxy: bad startup length")
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		if _, err := up.Write(append(head[:], body...)); err != nil {
			return err
		}
		code := binary.BigEndian.Uint32(head[4:])
		if code == 80877103 || code == 80877104 {
			continue // SSLRequest, GSSENCRequest: answered "no" with sslmode=disable
		}
		params := strings.Split(string(body), "\x00")
		for i := 0; i+1 < len(params); i += 2 {
			if params[i] == "application_name" && strings.HasSuffix(params[i+1], "listener") {
				listener = true
			}
		}
		break
	}
	var pending []string
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(head[1:]))
		if n < 4 {
			return errors.New("proxy: bad message length")
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		switch head[0] {
		case 'P': // Parse: statement name, then the SQL
			if i := strings.IndexByte(string(body), 0); i >= 0 {
				sql := firstWords(strings.TrimRight(string(body[i+1:]), "\x00"))
				if i > 0 {
					p.mu.Lock()
					p.statements[string(body[:i])] = sql
					p.mu.Unlock()
				}
				pending = append(pending, "prepare "+sql)
			}
		case 'B': // Bind: portal, then the statement's name
			if i := strings.IndexByte(string(body), 0); i >= 0 {
				rest := string(body[i+1:])
				if j := strings.IndexByte(rest, 0); j >= 0 {
					p.mu.Lock()
					sql := p.statements[rest[:j]]
					p.mu.Unlock()
					pending = append(pending, sql)
				}
			}
		case 'Q', 'S':
			if head[0] == 'Q' {
				pending = append(pending, "query "+firstWords(strings.TrimRight(string(body), "\x00")))
			}
			p.mu.Lock()
			who := "pool"
			if listener {
				p.listener++
				who = "listener"
			} else {
				p.pool++
			}
			p.log = append(p.log, fmt.Sprintf("  %s: %s", who, strings.Join(pending, "; ")))
			p.mu.Unlock()
			pending = nil
		}
		if _, err := up.Write(append(head[:], body...)); err != nil {
			return err
		}
	}
}

// firstWords is the start of a statement, on one line.
func firstWords(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 60 {
		sql = sql[:60] + "…"
	}
	return sql
}
