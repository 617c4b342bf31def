// Package memory is the in-memory store.Store: the embedded default of
// `gatehouse serve --dev` and the fast store of unit tests. It passes the
// same conformance suite (store/storetest) as store/postgres and follows its
// conventions, so code that works here works on PostgreSQL:
//
//   - Records are copied in and out, never aliased, and requests are kept as
//     JSON bytes, so serialization bugs show up here as they would there.
//     Times are stored in UTC, truncated to microseconds.
//   - Uniqueness, referential rules and cascades are those the contract
//     states (and the database enforces).
//   - One store-wide lock stands in for row locks. A transaction holds it
//     from BeginTx to its end, so a GetToken inside a transaction serializes
//     concurrent redemptions as SELECT ... FOR UPDATE does. Operations outside
//     a transaction take it per call. Rollback replays an undo log; a nested
//     transaction is a position in that log (a savepoint). As with a
//     database connection, a transaction's context belongs to one goroutine,
//     and using it after Commit or Rollback is an error, not an unlocked write.
//
// Lookups by key are map reads; cascades, cleanups and listings scan. That
// suits development and tests, not production volumes.
package memory
