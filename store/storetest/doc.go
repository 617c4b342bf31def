// Package storetest is the conformance suite every store.Store backend must
// pass: store/memory and store/postgres each run it from a few lines of test
// code with storetest.Run. It tests the contract written on the methods of
// package store and nothing backend-specific.
//
// Run calls newStore once per subtest and expects an empty store: the four
// built-in roles of store.BuiltInRoles and nothing else. Subtests never run in
// parallel, so a backend may reuse one database and empty it in newStore.
//
// Where the contract is silent, the suite settles these conventions so that
// code written against one backend behaves the same on the other:
//
//   - Times come back equal to what was stored to within one microsecond
//     (PostgreSQL keeps microseconds); their location is not compared.
//   - []string fields come back non-nil: a nil or empty list is read back as
//     an empty slice, so it encodes as [] rather than null. Order is kept,
//     except User.Roles, which is a set and comes back sorted by name.
//   - JSON fields are compared as JSON values, not bytes (jsonb rewrites
//     whitespace and key order). An absent Client.JWKS comes back nil. A nil
//     or empty User.Preferences comes back as {}.
//   - []byte fields (SecretHash, PrivateKey) are compared by content: nil and
//     empty are the same.
//   - List methods with nothing to return may return nil or an empty slice.
//   - Text orderings (clients by id, roles by name, users by username) are
//     byte order (COLLATE "C"), and ListUsers compares After the same way,
//     so keyset pages agree across backends.
//   - Ids that are UUIDs (users, trusted issuers) are compared as UUIDs, so
//     their uppercase spelling names the same record; an id that does not
//     parse is simply not found (ErrNotFound), never a syntax error.
//   - Expiry is strict: a record expires at its ExpiresAt, so it is unexpired
//     only while now is before ExpiresAt. The suite keeps clear of the
//     boundary, so backends need only agree on which side of it they are.
//   - Deleting a login session leaves the grants made in it (their refresh
//     tokens outlive the browser session); ending the session's tokens is
//     RevokeGrantsBySession's job.
//   - The header fields a token is created with (client, subject, user,
//     session, scopes, requested-at) are those of its grant; the suite only
//     reads them back from tokens created with the grant's own values.
package storetest
