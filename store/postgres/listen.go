package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.ChangeFeed = (*Store)(nil)

// changeChannel is the channel the triggers of migrations/00003_notify.sql
// notify.
const changeChannel = "gatehouse_changes"

const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
	// listenStableAfter: a connection that lived this long was not
	// flapping, so the next failure is retried quickly again.
	listenStableAfter = time.Minute
	// listenPingInterval: an idle listener checks its connection this
	// often. A connection cut without a word (a NAT table flushed, a
	// failover) would otherwise be waited on forever while the instance
	// misses every change. It is short because until the loss is noticed
	// the introspection cache goes on answering from memory (it is
	// bypassed from then on): this bounds that window to 7 s, at one
	// round trip per 5 idle seconds.
	listenPingInterval = 5 * time.Second
	listenPingTimeout  = 2 * time.Second
	// listenerAppName names the listener's connection in pg_stat_activity
	// (with the database URL's application name, if any, before it): the
	// revocations find every instance's listener by it.
	listenerAppName = "gatehouse-listener"
)

// Listen implements store.ChangeFeed. It holds one connection of its own,
// outside the pool: a LISTEN lasts as long as its session, and a pooled
// connection would be shared with queries and given back. A lost
// connection is reconnected after a backoff (100 ms doubling to 10 s, with
// jitter so that instances do not reconnect in step after a database
// restart); each loss is announced with store.ChangeFeedLost, each
// (re)connection with store.ChangeAll.
// Listen returns nil once ctx is done, with its connection closed.
func (s *Store) Listen(ctx context.Context, fn func(store.ChangeEvent)) error {
	cfg := s.pool.Config().ConnConfig
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = s.listenerName()
	backoff := listenMinBackoff
	for {
		started := time.Now()
		// The session's error is not returned: retrying is the only
		// remedy, and the ChangeAll of the next connection tells the
		// caller that it happened.
		_ = listenSession(ctx, cfg, &s.feed, fn)
		if ctx.Err() != nil {
			return nil
		}
		// Until the next connection's ChangeAll, changes go unheard.
		fn(store.ChangeEvent{Kind: store.ChangeFeedLost})
		if time.Since(started) >= listenStableAfter {
			backoff = listenMinBackoff
		}
		wait := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil
		case <-wait.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenerName is the application name of the listener sessions, by which
// a revocation finds every instance's listener (tokenchanges.go): the
// database URL's application name, if any, with a suffix, so that no
// pooled connection bears it.
func (s *Store) listenerName() string {
	if name := s.pool.Config().ConnConfig.RuntimeParams["application_name"]; name != "" {
		return name + "-listener"
	}
	return listenerAppName
}

// listenSession connects, listens and delivers notifications until the
// connection fails (its error) or ctx is done (nil).
func listenSession(ctx context.Context, cfg *pgx.ConnConfig, b *barrier, fn func(store.ChangeEvent)) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: listen: connect: %w", err)
	}
	defer func() {
		// ctx may be done already; closing must still end the session.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+ackChannel); err != nil {
		return fmt.Errorf("postgres: listen: %w", err)
	}
	// From here every notification is received: revocations may wait for
	// theirs (tokenchanges.go). Until the loss is announced they must not
	// be released for want of it, nor after it be made to wait. Counted
	// before the flush below is announced: a revocation made by whoever
	// heard that announcement must wait for this listener (the barrier
	// test lost that race under load), and its acknowledgement is read
	// once the flush returns.
	b.connected()
	defer b.lost()
	fn(store.ChangeEvent{Kind: store.ChangeAll})
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPingInterval)
		n, err := conn.WaitForNotification(wctx)
		idle := wctx.Err() != nil
		cancel()
		switch {
		case err == nil && n.Channel == ackChannel:
			b.acked(n.Payload, n.PID)
			continue
		case err == nil:
			e, nonce := parseChange(n.Payload)
			fn(e)
			if nonce != "" {
				// After fn: the revocation waiting for it returns once
				// this instance's caches have dropped what it revoked.
				if _, err := conn.Exec(ctx, "SELECT pg_notify('"+ackChannel+"', $1)", nonce); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("postgres: listen: acknowledge: %w", err)
				}
			}
			continue
		case ctx.Err() != nil:
			return nil
		case !idle || conn.IsClosed():
			return fmt.Errorf("postgres: listen: %w", err)
		}
		pctx, cancel := context.WithTimeout(ctx, listenPingTimeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("postgres: listen: ping: %w", err)
		}
	}
}

// parseChange decodes a trigger's payload. One it cannot read (from a
// future migration, say) becomes ChangeAll: dropping every cache is never
// wrong, only slower.
// The nonce is that of a revocation waiting for it (tokenchanges.go), or "".
func parseChange(payload string) (store.ChangeEvent, string) {
	var p struct {
		Kind  string `json:"kind"`
		ID    string `json:"id"`
		Nonce string `json:"n"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil || p.Kind == "" {
		return store.ChangeEvent{Kind: store.ChangeAll}, p.Nonce
	}
	return store.ChangeEvent{Kind: store.ChangeKind(p.Kind), ID: p.ID}, p.Nonce
}
