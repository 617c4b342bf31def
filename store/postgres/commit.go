package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// A transaction that revoked access tokens commits, then looks up the
// listener sessions that must acknowledge its notifications (await): two
// round trips, one after the other, on every refresh, logout and
// revocation. Sent as one simple query, "COMMIT; SELECT pid FROM
// pg_stat_activity ...", they cost one: the SELECT runs after the COMMIT
// (a statement of its own, outside the transaction), so it finds the same
// sessions as before, and it does not run if the COMMIT fails.

// listenersQuery is await's look-up as one statement with its parameter
// inlined, or "" when the listener name is not plain enough to inline
// safely (then the look-up is a query of its own, as before).
func (s *Store) listenersQuery() string {
	name := s.listenerName()
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_. ", r)) {
			return ""
		}
	}
	return `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = '` + name + `'`
}

// commitFindingListeners commits tx and reads the listener sessions in one
// round trip. ok is false when it cannot (the transaction is not one of
// the pool's own, or the name cannot be inlined): then nothing was sent.
func (s *Store) commitFindingListeners(ctx context.Context, tx *releasingTx) (pids []uint32, ok bool, err error) {
	q := s.listenersQuery()
	if q == "" || tx.c == nil || tx.done {
		return nil, false, nil
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	results, err := tx.c.Conn().PgConn().Exec(bctx, "COMMIT; "+q).ReadAll()
	// The connection is out of the transaction whatever happened (a failed
	// COMMIT rolls back); pgx's Tx must not send anything more on it.
	tx.done = true
	tx.release()
	if err == nil && len(results) != 2 {
		err = fmt.Errorf("%d results for COMMIT and the listeners' look-up, want 2", len(results))
	}
	if err != nil {
		return nil, true, s.outage(ctx, err)
	}
	if tag := results[0].CommandTag.String(); tag != "COMMIT" {
		// COMMIT of a failed transaction answers ROLLBACK.
		return nil, true, fmt.Errorf("the transaction was rolled back (%s)", tag)
	}
	for _, row := range results[1].Rows {
		pid, perr := strconv.ParseUint(string(row[0]), 10, 32)
		if perr != nil {
			// Who must acknowledge is unknown: wait for the bound.
			return []uint32{0}, true, nil
		}
		pids = append(pids, uint32(pid))
	}
	if pids == nil {
		pids = []uint32{}
	}
	return pids, true, nil
}
