package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// IP returns the address of the client r comes from, normalized (an
// IPv4-mapped IPv6 address as IPv4, no zone), or "" if there is no usable
// one, so that stored addresses compare equal and never hold garbage.
//
// It is the peer's address (RemoteAddr without its port) unless the peer is
// in trusted. Only then is X-Forwarded-For read, from the right: each hop a
// trusted proxy appended is believed, and the first address not in trusted
// is the client. An entry that is not an address ends the walk at the last
// hop believed. With no trusted proxies (the configuration has none today)
// the header is never read.
func IP(r *http.Request, trusted ...netip.Prefix) string {
	peer, ok := parse(r.RemoteAddr)
	if !ok {
		return ""
	}
	if !contains(trusted, peer) {
		return peer.String()
	}
	client := peer
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parse(hops[i])
		if !ok {
			break
		}
		client = a
		if !contains(trusted, a) {
			break
		}
	}
	return client.String()
}

// parse reads an address with or without a port (RemoteAddr carries one;
// some proxies write X-Forwarded-For entries with one too).
func parse(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the X-Forwarded-For hops in order; several header
// lines are one list (RFC 9110, section 5.3).
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	return hops
}
