// Package ratelimit is a per-address request limiter: the generic cell rate
// algorithm (GCRA, the leaky bucket as a meter) with one int64 per tracked
// address, the theoretical arrival time of its next request. Memory is
// bounded: each of a fixed number of shards tracks at most its share of
// MaxKeys addresses and forgets the least recently seen one to make room,
// which costs that address nothing worse than a full burst. IPv6 addresses
// are grouped by /64, the block one subscriber is usually given, so that
// walking through it buys no fresh budget.
package ratelimit
