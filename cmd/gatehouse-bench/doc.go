// Command gatehouse-bench is the load generator of make bench, make soak and
// make chaos.
//
// It speaks plain OAuth 2.0 / OpenID Connect over HTTP to an issuer found by
// discovery: client_credentials, introspection, refresh-token rotation, the
// authorization code flow with PKCE (through the login and consent forms,
// one hop at a time, with a cookie jar per worker) and the resource API's
// user directory. Each workload runs at several concurrencies for a fixed
// time after a warm-up; every latency goes into a fixed-size log-linear
// histogram, so memory stays bounded however long it runs.
//
// The chaos command runs client_credentials and refresh load while a fault
// proxy (internal/faultproxy) between the server and PostgreSQL restarts,
// freezes and partitions the database, and reports, per fault, how long
// the failures took, how soon the first request after it succeeded, and
// whatever it left behind: failures after recovery, answered tokens
// without a row, refresh families revoked.
//
// The compare command runs cc, introspection, refresh and the code flow on
// a login session against gatehouse and, given a hydra binary, against Ory
// Hydra on a database of its own on the same PostgreSQL (with a login and
// consent app of the bench's own, the login-consent-app command, as its
// child process), one cell after the other over several passes, and
// measures the single-row insert that bounds both: PostgreSQL alone.
//
// The bench, soak and chaos commands start gatehouse themselves: a fresh database,
// migrations and seeding through the CLI (plus a bulk COPY of the directory
// users, all sharing one precomputed password hash, and the users of
// authcode-login-totp, whose authenticator apps are set up through the
// domain service with the server's configuration), gatehouse serve as a
// child on a free loopback port, and /proc readings of its CPU time and peak
// RSS around each measured window. Everything they start they stop; they
// talk only to 127.0.0.1. The run command measures an issuer already
// running, given its clients and users.
package main
