// Package domain holds the rules of gatehouse's identity model, in the one
// place every entry point (the pages, the resource API, the CLI) calls:
// validation of users, roles, groups and clients; password hashing and the
// sign-in lockout; the role hierarchy and effective permissions; the
// access-request state machine; API tokens; per-user IP rules
// (CheckAddress, applied by AdmitAddress wherever a user signs in or
// presents a token); login sessions' limit and lifetimes (SessionLive);
// and the audit log that every
// mutation writes in the same store transaction as the change itself.
//
// Service is the entry point; the free functions (ValidateUsername,
// ValidateClient, Passwords, NewClientSecret, ...) are the rules it applies,
// exported for callers that check input before calling it. It depends only
// on package store (and the generic package cache).
//
// Role definitions are cached in the Service: writes through it invalidate
// them at once (and are reported through Options.OnChange, for the
// process's other caches), other processes' writes through Invalidate,
// which the server calls from the store's change feed. Reads that validate
// a write bypass the cache.
//
// Audit entries name their target with one of the Target* types and an
// action from the Service method's doc comment; Changes hold the before and
// after of the fields that changed, never a password, hash, secret or token
// (a password is recorded as "changed", a client's JWKS as present or not).
package domain
