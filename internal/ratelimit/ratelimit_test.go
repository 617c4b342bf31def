package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// allowN asks n times at the same instant and returns how many were allowed.
func allowN(l *Limiter, a netip.Addr, n int) int {
	ok := 0
	for range n {
		if allowed, _ := l.Allow(a); allowed {
			ok++
		}
	}
	return ok
}

func TestBurstThenRefused(t *testing.T) {
	clock := fakeclock.New(t0)
	l := New(Options{Rate: 30, Per: time.Minute, Burst: 20, Now: clock.Now})
	a := addr("192.0.2.1")
	if got := allowN(l, a, 25); got != 20 {
		t.Fatalf("allowed %d of 25 at once, want the burst of 20", got)
	}
	ok, wait := l.Allow(a)
	if ok {
		t.Fatal("the request after the burst was allowed")
	}
	// 30 a minute: one every 2 s.
	if wait <= 0 || wait > 2*time.Second {
		t.Errorf("retry after %v, want within (0, 2s]", wait)
	}
	// Another address has a budget of its own.
	if got := allowN(l, addr("192.0.2.2"), 20); got != 20 {
		t.Errorf("another address allowed %d of 20", got)
	}
}

func TestRefillAtRate(t *testing.T) {
	clock := fakeclock.New(t0)
	l := New(Options{Rate: 30, Per: time.Minute, Burst: 20, Now: clock.Now})
	a := addr("198.51.100.7")
	allowN(l, a, 20)
	ok, wait := l.Allow(a)
	if ok {
		t.Fatal("allowed past the burst")
	}
	clock.Advance(wait - time.Nanosecond)
	if ok, _ := l.Allow(a); ok {
		t.Fatal("allowed before the announced wait was over")
	}
	clock.Advance(time.Nanosecond)
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("refused once the announced wait was over")
	}
	// A minute refills 30 requests' worth, capped at the burst.
	clock.Advance(time.Minute)
	if got := allowN(l, a, 40); got != 20 {
		t.Errorf("after a minute allowed %d, want the burst of 20 (not 30)", got)
	}
	// Steady traffic at the rate is never refused.
	for i := range 100 {
		clock.Advance(2 * time.Second)
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("request %d at exactly the rate refused", i)
		}
	}
	// Refusals do not use the budget: a client hammering while refused
	// gets in as soon as it would have without hammering.
	allowN(l, a, 1000)
	clock.Advance(2 * time.Second)
	if ok, _ := l.Allow(a); !ok {
		t.Error("refused requests delayed the next allowed one")
	}
}

func TestIPv6GroupedBy64(t *testing.T) {
	clock := fakeclock.New(t0)
	l := New(Options{Rate: 10, Burst: 5, Now: clock.Now})
	if got := allowN(l, addr("2001:db8:1:2::1"), 3) + allowN(l, addr("2001:db8:1:2:ffff:ffff:ffff:ffff"), 3); got != 5 {
		t.Errorf("two addresses of one /64 allowed %d together, want one burst of 5", got)
	}
	if ok, _ := l.Allow(addr("2001:db8:1:2:abcd::9%eth0")); ok {
		t.Error("an address of the /64 with a zone got a budget of its own")
	}
	if got := allowN(l, addr("2001:db8:1:3::1"), 5); got != 5 {
		t.Errorf("the neighbouring /64 allowed %d, want its own burst of 5", got)
	}
	// IPv4 is limited per address, and its IPv4-mapped form is the same
	// client; ::/64 (which holds ::1) is not an IPv4 group.
	if got := allowN(l, addr("192.0.2.1"), 3) + allowN(l, addr("::ffff:192.0.2.1"), 3); got != 5 {
		t.Errorf("an IPv4 address and its mapped form allowed %d together, want 5", got)
	}
	if got := allowN(l, addr("192.0.2.2"), 5); got != 5 {
		t.Errorf("the next IPv4 address allowed %d, want its own 5", got)
	}
	if got := allowN(l, addr("::1"), 5); got != 5 {
		t.Errorf("::1 allowed %d, want its own 5", got)
	}

	for _, tc := range []struct{ in, want string }{
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"192.0.2.9", "192.0.2.9/32"},
		{"::ffff:192.0.2.9", "192.0.2.9/32"},
	} {
		if got := Group(addr(tc.in)).String(); got != tc.want {
			t.Errorf("Group(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// sameShard returns n IPv4 addresses that land in one shard.
func sameShard(n int) []netip.Addr {
	var out []netip.Addr
	want := -1
	for i := 0; len(out) < n; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s := shardOf(keyOf(a))
		if want == -1 {
			want = s
		}
		if s == want {
			out = append(out, a)
		}
	}
	return out
}

func TestMemoryBoundedLeastRecentEvicted(t *testing.T) {
	clock := fakeclock.New(t0)
	l := New(Options{Rate: 1, Per: time.Hour, Burst: 1, MaxKeys: 3 * shards, Now: clock.Now})
	// 100,000 addresses later, only MaxKeys are tracked.
	for i := range 100_000 {
		l.Allow(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}))
		l.Allow(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 15: 1}))
	}
	if n := l.Len(); n > 3*shards {
		t.Fatalf("tracking %d addresses, want at most %d", n, 3*shards)
	}

	l = New(Options{Rate: 1, Per: time.Hour, Burst: 1, MaxKeys: 3 * shards, Now: clock.Now})
	a := sameShard(4) // the shard holds 3
	for _, x := range a[:3] {
		if ok, _ := l.Allow(x); !ok {
			t.Fatalf("%s refused its first request", x)
		}
	}
	// a[0] is seen again (refused, but seen): a[1] is now the oldest.
	if ok, _ := l.Allow(a[0]); ok {
		t.Fatal("a[0] allowed twice within its hour")
	}
	l.Allow(a[3]) // evicts a[1]
	if ok, _ := l.Allow(a[0]); ok {
		t.Error("a[0], recently seen, was evicted: it got a fresh budget")
	}
	if ok, _ := l.Allow(a[2]); ok {
		t.Error("a[2] was evicted instead of the oldest")
	}
	if ok, _ := l.Allow(a[1]); !ok {
		t.Error("a[1], the least recently seen, was not the one evicted")
	}
}

func TestDisabledAndUnknownAddress(t *testing.T) {
	if l := New(Options{Rate: 0, Burst: 5}); l != nil {
		t.Fatal("Rate 0 built a limiter")
	}
	var l *Limiter
	if got := allowN(l, addr("192.0.2.1"), 1000); got != 1000 {
		t.Errorf("a disabled limiter allowed %d of 1000", got)
	}
	l = New(Options{Rate: 1, Burst: 1})
	if got := allowN(l, netip.Addr{}, 10); got != 10 {
		t.Errorf("no address: allowed %d of 10, want all (nobody to hold to account)", got)
	}
}

// TestConcurrent is for the race detector.
func TestConcurrent(t *testing.T) {
	l := New(Options{Rate: 1000, Burst: 10, MaxKeys: 64})
	done := make(chan int)
	for g := range 8 {
		go func() {
			n := 0
			for i := range 2000 {
				if ok, _ := l.Allow(netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 50)})); ok {
					n++
				}
			}
			done <- n
		}()
	}
	for range 8 {
		<-done
	}
	if n := l.Len(); n > 64 {
		t.Errorf("tracking %d, want at most 64", n)
	}
}
