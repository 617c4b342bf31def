// Command gatehouse-bench is the load generator of make bench and make soak.
//
// It speaks plain OAuth 2.0 / OpenID Connect over HTTP to an issuer found by
// discovery: client_credentials, introspection, refresh-token rotation, the
// authorization code flow with PKCE (through the login and consent forms,
// one hop at a time, with a cookie jar per worker) and the resource API's
// user directory. Each workload runs at several concurrencies for a fixed
// time after a warm-up; every latency goes into a fixed-size log-linear
// histogram, so memory stays bounded however long it runs.
//
// The bench and soak commands start gatehouse themselves: a fresh database,
// migrations and seeding through the CLI (plus a bulk COPY of the directory
// users, all sharing one precomputed password hash), gatehouse serve as a
// child on a free loopback port, and /proc readings of its CPU time and peak
// RSS around each measured window. Everything they start they stop; they
// talk only to 127.0.0.1. The run command measures an issuer already
// running, given its clients and users.
package main
