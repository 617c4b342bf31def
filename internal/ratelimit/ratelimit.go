package ratelimit

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// Options configure a Limiter. Rate 0 disables it: Allow always allows.
type Options struct {
	// Rate requests per Per (default a minute) are allowed in the long run.
	Rate int
	Per  time.Duration
	// Burst requests may come at once after a quiet spell (default 1, and
	// at least 1).
	Burst int
	// MaxKeys bounds the addresses tracked (default 100,000), about 100
	// bytes each.
	MaxKeys int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultMaxKeys is MaxKeys when Options leave it zero.
const DefaultMaxKeys = 100_000

// shards spreads the keys over this many locks, so that concurrent requests
// seldom wait on one another.
const shards = 16

// Limiter is safe for concurrent use.
type Limiter struct {
	interval  int64 // nanoseconds between requests at Rate
	tolerance int64 // how far ahead of now an address's arrival time may run: interval*Burst
	now       func() time.Time
	shards    [shards]shard
}

// key is an address group: an IPv4 address in its IPv4-mapped IPv6 form,
// or an IPv6 /64 with the interface half zeroed. Two words hash and compare
// faster than a netip.Prefix.
type key struct{ hi, lo uint64 }

type shard struct {
	mu    sync.Mutex
	max   int
	index map[key]int32
	// slots is a doubly linked list in recency order, by index; head is
	// the most recently seen, tail the next to be evicted.
	slots      []slot
	head, tail int32
}

type slot struct {
	k          key
	tat        int64 // theoretical arrival time, Unix nanoseconds
	prev, next int32
}

const none = -1

// New returns a limiter, or nil when opts.Rate is 0 (a nil Limiter allows
// everything).
func New(opts Options) *Limiter {
	if opts.Rate <= 0 {
		return nil
	}
	if opts.Per <= 0 {
		opts.Per = time.Minute
	}
	if opts.Burst < 1 {
		opts.Burst = 1
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	interval := max(int64(opts.Per)/int64(opts.Rate), 1)
	l := &Limiter{interval: interval, tolerance: interval * int64(opts.Burst), now: opts.Now}
	perShard := max((opts.MaxKeys+shards-1)/shards, 1)
	for i := range l.shards {
		l.shards[i] = shard{max: perShard, index: make(map[key]int32), head: none, tail: none}
	}
	return l
}

// Group is the key an address is limited under: itself for IPv4 (and
// IPv4-mapped IPv6), its /64 for IPv6.
func Group(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

func keyOf(a netip.Addr) key {
	// IPv4 as ::ffff:a.b.c.d, so never equal to an IPv6 /64's words.
	b := Group(a).Addr().As16()
	return key{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// Allow reports whether a request from a may go ahead now and, when it may
// not, how long until one would. An invalid address (none known) is not
// limited: it names no client to hold to account.
func (l *Limiter) Allow(a netip.Addr) (bool, time.Duration) {
	if l == nil || !a.IsValid() {
		return true, 0
	}
	k := keyOf(a)
	now := l.now().UnixNano()
	s := &l.shards[shardOf(k)]
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.touch(k)
	tat := max(s.slots[i].tat, now)
	next := tat + l.interval
	if wait := next - now - l.tolerance; wait > 0 {
		return false, time.Duration(wait)
	}
	s.slots[i].tat = next
	return true, 0
}

// shardOf mixes both words (Fibonacci hashing) and takes the top bits:
// neighbouring addresses land in different shards.
func shardOf(k key) int {
	return int(((k.hi ^ k.lo) * 0x9e3779b97f4a7c15) >> 60)
}

// touch returns k's slot, moved to the head; a new key gets a fresh slot
// (arrival time 0, a full burst), taking the tail's when the shard is full.
func (s *shard) touch(k key) int32 {
	if i, ok := s.index[k]; ok {
		if i != s.head {
			s.unlink(i)
			s.pushHead(i)
		}
		return i
	}
	var i int32
	if len(s.slots) < s.max {
		i = int32(len(s.slots))
		s.slots = append(s.slots, slot{})
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.index, s.slots[i].k)
	}
	s.slots[i] = slot{k: k, prev: none, next: none}
	s.index[k] = i
	s.pushHead(i)
	return i
}

func (s *shard) unlink(i int32) {
	sl := &s.slots[i]
	if sl.prev != none {
		s.slots[sl.prev].next = sl.next
	} else {
		s.head = sl.next
	}
	if sl.next != none {
		s.slots[sl.next].prev = sl.prev
	} else {
		s.tail = sl.prev
	}
	sl.prev, sl.next = none, none
}

func (s *shard) pushHead(i int32) {
	s.slots[i].prev, s.slots[i].next = none, s.head
	if s.head != none {
		s.slots[s.head].prev = i
	}
	s.head = i
	if s.tail == none {
		s.tail = i
	}
}

// Len is the number of addresses tracked (for tests and the README's
// memory figure).
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}
