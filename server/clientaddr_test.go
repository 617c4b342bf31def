package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
)

// TestClientAddress: what every handler reads is the address resolved once,
// and X-Forwarded-For counts only when a trusted proxy sent it.
func TestClientAddress(t *testing.T) {
	var seen string
	h := clientAddress([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = clientaddr.IP(r)
	}))
	for _, tc := range []struct{ name, peer, xff, want string }{
		{"no header", "192.0.2.1:1234", "", "192.0.2.1"},
		{"spoofed by an untrusted peer", "192.0.2.1:1234", "198.51.100.9", "192.0.2.1"},
		{"from the trusted proxy", "10.0.0.5:1234", "198.51.100.9", "198.51.100.9"},
		{"a client's own entry behind the proxy", "10.0.0.5:1234", "203.0.113.1, 198.51.100.9", "198.51.100.9"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != tc.want {
			t.Errorf("%s: address = %q, want %q", tc.name, seen, tc.want)
		}
	}
}
