// Package postgres is the production store.Store: PostgreSQL through a pgx
// connection pool, on the schema of package migrations. The database enforces
// uniqueness, referential integrity and the one-use rule of codes; this
// package maps its errors to store.ErrNotFound and store.ErrConflict.
//
// Transactions ride in the context (fosite's storage.Transactional shape):
// every query goes through Store.db, which picks the transaction BeginTx put
// in the context, or the pool when there is none.
package postgres
