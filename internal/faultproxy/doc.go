// Package faultproxy is a TCP proxy that misbehaves on request, for tests
// and the chaos run of what gatehouse does when its database stalls,
// vanishes or restarts. It sits between the server and PostgreSQL (point
// the database URL at Addr) and forwards bytes unchanged until told to:
//
//   - Freeze holds every byte in both directions (a stopped or overloaded
//     database: connections open, nothing answers); Pass delivers them.
//   - Blackhole is a partition in which nothing comes back: bytes on the
//     connections open now are dropped and those connections stay dead
//     after the partition heals; new connections are accepted and never
//     answered.
//   - Drop refuses new connections (closed at once with a reset), as a
//     database that is down does.
//   - ResetAll resets every open connection, as a database restart does.
//   - SetDelay adds latency to every chunk forwarded.
//
// It understands nothing of the protocol it carries.
package faultproxy
