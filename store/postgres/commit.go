package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A transaction that revoked access tokens commits, then looks up the
// listener sessions that must acknowledge its notifications (await): two
// round trips, one after the other, on every refresh, logout and
// revocation. Sent as one batch, COMMIT and then findListeners' SELECT
// cost one: the SELECT runs after the COMMIT (a statement of its own,
// outside the transaction), so it finds the same sessions as before, and
// it fails, unrun, if the COMMIT does.

// commitFindingListeners commits tx and reads the listener sessions in one
// round trip. ok is false when it cannot (the transaction is not the
// connection's own any more): then nothing was sent.
func (s *Store) commitFindingListeners(ctx context.Context, tx *releasingTx) (pids []uint32, ok bool, err error) {
	if tx.c == nil || tx.done {
		return nil, false, nil
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	b := &pgx.Batch{}
	committed := false
	b.Queue(`COMMIT`).Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			// COMMIT of a failed transaction answers ROLLBACK.
			return fmt.Errorf("the transaction was rolled back (%s)", tag)
		}
		committed = true
		return nil
	})
	b.Queue(listenersSelect, s.listenerName()).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&pids); err != nil {
			// Who must acknowledge is unknown: wait for the bound.
			pids = []uint32{0}
		}
		return nil
	})
	err = tx.c.Conn().SendBatch(bctx, b).Close()
	// The connection is out of the transaction whatever happened (a failed
	// COMMIT rolls back); pgx's Tx must not send anything more on it.
	tx.done = true
	tx.release()
	if err != nil && committed {
		// The commit is done; only the look-up failed (the connection
		// broke after COMMIT answered): who must acknowledge is unknown,
		// so wait for the bound, as findListeners does.
		return []uint32{0}, true, nil
	}
	if err != nil {
		return nil, true, s.outage(ctx, err)
	}
	if pids == nil {
		pids = []uint32{}
	}
	return pids, true, nil
}
