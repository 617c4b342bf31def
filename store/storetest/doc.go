// Package storetest is the conformance suite every store.Store backend must
// pass: store/memory and store/postgres each run it from a few lines of test
// code with storetest.Run. It tests the contract written on the methods of
// package store and nothing backend-specific.
//
// Run calls newStore once per subtest and expects an empty store: the four
// built-in roles of store.BuiltInRoles and nothing else. Subtests never run in
// parallel, so a backend may reuse one database and empty it in newStore.
// The store must also implement store.IAM: the IAM subtests (Groups,
// AccessRequests, APITokens, Audit, SignIns, IAMReferences) fail at once if
// it does not.
//
// Where the contract is silent, the suite settles these conventions so that
// code written against one backend behaves the same on the other:
//
//   - Times come back equal to what was stored to within one microsecond
//     (PostgreSQL keeps microseconds); their location is not compared.
//   - []string fields come back non-nil: a nil or empty list is read back as
//     an empty slice, so it encodes as [] rather than null. Order is kept,
//     except User.Roles and Group.Roles, which are sets and come back sorted
//     by name.
//   - JSON fields are compared as JSON values, not bytes (jsonb rewrites
//     whitespace and key order). An absent Client.JWKS comes back nil. A nil
//     or empty User.Preferences comes back as {}.
//   - []byte fields (SecretHash, PrivateKey) are compared by content: nil and
//     empty are the same.
//   - List methods with nothing to return may return nil or an empty slice.
//   - Text orderings (clients by id, roles by name, users by username, groups
//     by name) are byte order (COLLATE "C"), and ListUsers compares After the
//     same way, so keyset pages agree across backends.
//   - Ids that are UUIDs (users, trusted issuers, groups, access requests,
//     API tokens) are compared as UUIDs, so their uppercase spelling names the
//     same record, and come back in canonical (lowercase) spelling, also where
//     they were given in capitals. An id that does not parse is simply not
//     found (ErrNotFound), never a syntax error; a filter or list by such an
//     id (UserFilter.Group, AccessRequestFilter.UserID and Before,
//     ListAPITokens, ListGroupMembers, ListUserGroups) returns nothing.
//   - Expiry is strict: a record expires at its ExpiresAt, so it is unexpired
//     only while now is before ExpiresAt. The suite keeps clear of the
//     boundary, so backends need only agree on which side of it they are.
//   - Deleting a login session leaves the grants made in it (their refresh
//     tokens outlive the browser session); ending the session's tokens is
//     RevokeGrantsBySession's job.
//   - The header fields a token is created with (client, subject, user,
//     session, scopes, requested-at) are those of its grant; the suite only
//     reads them back from tokens created with the grant's own values.
//
// Identity and access management (store.IAM), where its contract is silent:
//
//   - UpdateUser replaces FailedLogins and LockedUntil too (every field but ID
//     and CreatedAt). RecordLoginSuccess and RecordLoginFailure change only
//     their own fields: UpdatedAt tracks edits of the record, not sign-ins.
//     RecordLoginFailure locks when the count reaches maxFailures or is past
//     it (a threshold lowered since), and a later lock overwrites LockedUntil;
//     failures while locked are counted. maxFailures below 1 turns locking
//     off: failures are only counted.
//   - DeleteRole is refused (ErrConflict) also while a group holds the role or
//     a pending access request asks for it. Decided requests do not hold it:
//     they are history and keep the role's name after it is deleted.
//     GrantedRole, DecidedBy and APIToken.CreatedBy are recorded text, not
//     references.
//   - DeleteUser removes the user's group memberships, access requests (in
//     every state) and personal and user API tokens; DeleteClient removes its
//     system API tokens; DeleteGroup its memberships. The audit log is
//     append-only and refers to nothing: no deletion touches it.
//   - Group names are unique as they are spelled ("Desk" and "desk" are two
//     groups), as role names are. UpdateGroup keeps CreatedAt and takes
//     UpdatedAt from the record it is given. ListGroupMembers and
//     ListUserGroups of a group or user that does not exist return nothing,
//     not ErrNotFound.
//   - A new access request must have Status pending, and RequestedRole must
//     name an existing role ("" is ErrNotFound). DecideAccessRequest accepts
//     only approved, denied and cancelled. Both refuse other statuses with an
//     error the suite does not name, changing nothing.
//   - Access requests and API tokens are listed newest first: CreatedAt
//     descending, ties broken by ID descending, so that the Before cursor is
//     the row comparison (created_at, id) < (cursor's created_at, cursor's
//     id). A Before that names no request returns nothing.
//   - An API token names exactly one principal: personal and user tokens a
//     UserID and no ClientID, system tokens a ClientID and no UserID. Any
//     other combination, and an unknown Kind, is refused with an error the
//     suite does not name.
//   - Audit ids are assigned in append order, and ListAudit's newest first is
//     ID descending whatever the entries' At. Ids may have gaps (a rolled-back
//     append may use one up). The Action filter is case-sensitive and literal:
//     "_" and "%" are no wildcards. Since and Until compare at microseconds.
package storetest
