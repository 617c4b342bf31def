package clientaddr

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// ctxKey is the context key of the resolved address.
type ctxKey struct{}

// WithIP returns a copy of ctx carrying ip as the request's client address.
// The server's outermost middleware calls it once per request with Resolve's
// answer, so that every consumer (audit, sessions, IP rules, rate limits)
// reads the same value.
func WithIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ctxKey{}, ip)
}

// FromContext returns the address WithIP stored in ctx, and whether there
// was one; for code that has the request's context but not the request
// (fosite's token handlers).
func FromContext(ctx context.Context) (string, bool) {
	ip, ok := ctx.Value(ctxKey{}).(string)
	return ip, ok
}

// IP returns the address of the client r comes from: the one the server
// resolved for the request (WithIP), or else the peer's address, with no
// proxy trusted (for handlers run without the server's middleware, as in
// package tests).
func IP(r *http.Request) string {
	if ip, ok := FromContext(r.Context()); ok {
		return ip
	}
	return Resolve(r)
}

// Resolve returns the address of the client r comes from, normalized (an
// IPv4-mapped IPv6 address as IPv4, no zone), or "" if there is no usable
// one, so that stored addresses compare equal and never hold garbage.
//
// It is the peer's address (RemoteAddr without its port) unless the peer is
// in trusted. Only then is X-Forwarded-For read, from the right: each hop a
// trusted proxy appended is believed, and the first address not in trusted
// is the client. An entry that is not an address ends the walk at the last
// hop believed. With no trusted proxies (http.trusted_proxies empty, the
// default) the header is never read.
func Resolve(r *http.Request, trusted ...netip.Prefix) string {
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
