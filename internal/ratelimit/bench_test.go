package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkAllow is the bookkeeping one request costs: 10,000 addresses
// (IPv4 and IPv6) in turn against a limiter at its default size, from
// several goroutines at once as a server calls it.
func BenchmarkAllow(b *testing.B) {
	l := New(Options{Rate: 1200, Burst: 300})
	addrs := make([]netip.Addr, 10_000)
	for i := range addrs {
		if i%2 == 0 {
			addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		} else {
			addrs[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i), 15: 1})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(addrs[i%len(addrs)])
			i++
		}
	})
}

// BenchmarkAllowEvicting: every request from an address never seen, at a
// full limiter, so each one evicts (a flood from spoofed-looking sources).
func BenchmarkAllowEvicting(b *testing.B) {
	l := New(Options{Rate: 1200, Burst: 300, MaxKeys: 4096, Now: time.Now})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.Allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
}
