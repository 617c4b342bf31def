package clientaddr_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
)

func TestIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name       string
		remoteAddr string
		forwarded  []string // X-Forwarded-For lines
		trusted    []netip.Prefix
		want       string
	}{
		{name: "IPv4 with port", remoteAddr: "192.0.2.1:54321", want: "192.0.2.1"},
		{name: "IPv6 with port", remoteAddr: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "IPv4-mapped IPv6 is IPv4", remoteAddr: "[::ffff:192.0.2.1]:80", want: "192.0.2.1"},
		{name: "zone dropped", remoteAddr: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "no port", remoteAddr: "192.0.2.9", want: "192.0.2.9"},
		{name: "IPv6 without port", remoteAddr: "2001:db8::2", want: "2001:db8::2"},
		{name: "not an address", remoteAddr: "pipe", want: ""},
		{name: "empty", remoteAddr: "", want: ""},

		{name: "forwarded, no proxy configured: ignored",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"198.51.100.7"}, want: "10.0.0.2"},
		{name: "forwarded from an untrusted peer: ignored",
			remoteAddr: "192.0.2.1:1000", forwarded: []string{"198.51.100.7"}, trusted: proxies, want: "192.0.2.1"},
		{name: "forwarded by a trusted proxy",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"198.51.100.7"}, trusted: proxies, want: "198.51.100.7"},
		{name: "trusted IPv6 proxy forwarding an IPv6 client",
			remoteAddr: "[2001:db8:ffff::5]:1000", forwarded: []string{"2001:db8:1::7"}, trusted: proxies, want: "2001:db8:1::7"},
		{name: "a client's own entry left of the real hop is not believed",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"203.0.113.66, 198.51.100.7"}, trusted: proxies, want: "198.51.100.7"},
		{name: "two trusted proxies",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"203.0.113.66, 198.51.100.7, 10.1.1.1"}, trusted: proxies, want: "198.51.100.7"},
		{name: "several header lines are one list",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"203.0.113.66", "198.51.100.7", "10.1.1.1"}, trusted: proxies, want: "198.51.100.7"},
		{name: "entries with ports and spaces",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{" [2001:db8:1::7]:4711 ,  10.1.1.1:80 "}, trusted: proxies, want: "2001:db8:1::7"},
		{name: "every hop trusted: the farthest one",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"10.3.3.3, 10.1.1.1"}, trusted: proxies, want: "10.3.3.3"},
		{name: "garbage ends the walk at the last believed hop",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{"198.51.100.7, unknown, 10.1.1.1"}, trusted: proxies, want: "10.1.1.1"},
		{name: "trusted proxy without the header",
			remoteAddr: "10.0.0.2:1000", trusted: proxies, want: "10.0.0.2"},
		{name: "empty header from a trusted proxy",
			remoteAddr: "10.0.0.2:1000", forwarded: []string{""}, trusted: proxies, want: "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remoteAddr
			for _, v := range tc.forwarded {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientaddr.Resolve(r, tc.trusted...); got != tc.want {
				t.Errorf("Resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIPReadsTheResolvedAddress(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:1000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := clientaddr.IP(r); got != "10.0.0.2" {
		t.Errorf("IP without a resolved address = %q, want the peer 10.0.0.2 (no proxy trusted)", got)
	}
	r = r.WithContext(clientaddr.WithIP(r.Context(), "198.51.100.7"))
	if got := clientaddr.IP(r); got != "198.51.100.7" {
		t.Errorf("IP = %q, want the resolved 198.51.100.7", got)
	}
	if got, ok := clientaddr.FromContext(r.Context()); !ok || got != "198.51.100.7" {
		t.Errorf("FromContext = %q, %v", got, ok)
	}
}
