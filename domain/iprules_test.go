package domain_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		addr        string
		ok          bool
	}{
		{name: "no rules, any address", addr: "203.0.113.9", ok: true},
		{name: "no rules, unknown address", addr: "", ok: true},
		{name: "empty allow list allows what is not denied", deny: prefixes("192.0.2.0/24"), addr: "198.51.100.1", ok: true},
		{name: "deny", deny: prefixes("192.0.2.0/24"), addr: "192.0.2.77"},
		{name: "single address denied", deny: prefixes("127.0.0.2/32"), addr: "127.0.0.2"},
		{name: "neighbour of a single denied address", deny: prefixes("127.0.0.2/32"), addr: "127.0.0.3", ok: true},
		{name: "allow list: inside", allow: prefixes("10.0.0.0/8"), addr: "10.20.30.40", ok: true},
		{name: "allow list: outside", allow: prefixes("10.0.0.0/8"), addr: "11.0.0.1"},
		{name: "deny wins over allow", allow: prefixes("10.0.0.0/8"), deny: prefixes("10.1.0.0/16"), addr: "10.1.2.3"},
		{name: "deny wins even over an exact allow", allow: prefixes("10.1.2.3/32"), deny: prefixes("10.0.0.0/8"), addr: "10.1.2.3"},
		{name: "allowed beside the denied part", allow: prefixes("10.0.0.0/8"), deny: prefixes("10.1.0.0/16"), addr: "10.2.0.1", ok: true},
		{name: "IPv6 allow", allow: prefixes("2001:db8::/32"), addr: "2001:db8:1::5", ok: true},
		{name: "IPv6 outside allow", allow: prefixes("2001:db8::/32"), addr: "2001:db9::5"},
		{name: "IPv6 deny", deny: prefixes("2001:db8::1/128"), addr: "2001:db8::1"},
		{name: "IPv6 address against IPv4 allow list", allow: prefixes("10.0.0.0/8"), addr: "2001:db8::1"},
		{name: "IPv4 against IPv6-only deny list", deny: prefixes("2001:db8::/32"), addr: "192.0.2.1", ok: true},
		{name: "IPv4-mapped address is IPv4", deny: prefixes("192.0.2.0/24"), addr: "::ffff:192.0.2.1"},
		{name: "zone ignored", allow: prefixes("fe80::/10"), addr: "fe80::1%eth0", ok: true},
		{name: "rules and an unknown address fail closed", deny: prefixes("192.0.2.0/24"), addr: ""},
		{name: "rules and garbage fail closed", allow: prefixes("0.0.0.0/0"), addr: "unknown"},
		{name: "allow everything IPv4", allow: prefixes("0.0.0.0/0"), addr: "8.8.8.8", ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.CheckAddress(store.User{IPAllow: tc.allow, IPDeny: tc.deny}, tc.addr)
			if tc.ok && err != nil {
				t.Fatalf("CheckAddress(%q) = %v, want allowed", tc.addr, err)
			}
			if !tc.ok && !errors.Is(err, domain.ErrAddressRefused) {
				t.Fatalf("CheckAddress(%q) = %v, want ErrAddressRefused", tc.addr, err)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{" 192.0.2.0/24 ", "192.0.2.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:DB8::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::/0", "::/0"},
		{"10.1.2.3/8", ""}, // bits after the length: ambiguous
		{"192.0.2.0/33", ""},
		{"fe80::1%eth0", ""},
		{"example.com", ""},
		{"", ""},
		{"192.0.2.1/", ""},
	} {
		p, err := domain.ParsePrefix(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParsePrefix(%q) = %s, want an error", tc.in, p)
		case tc.want != "" && err != nil:
			t.Errorf("ParsePrefix(%q): %v", tc.in, err)
		case tc.want != "" && p.String() != tc.want:
			t.Errorf("ParsePrefix(%q) = %s, want %s", tc.in, p, tc.want)
		}
	}
}

func TestParseIPRulesNamesEachEntry(t *testing.T) {
	_, _, err := domain.ParseIPRules(domain.IPRules{
		Allow: []string{"10.0.0.0/8", "192.0.2.1", "nope"},
		Deny:  []string{"10.1.2.3/8"},
	})
	v, ok := domain.AsValidation(err)
	if !ok {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	if v.Field("allow[2]") == "" || v.Field("deny[0]") == "" || len(v.Fields) != 2 {
		t.Fatalf("fields = %+v, want allow[2] and deny[0]", v.Fields)
	}
	allow, deny, err := domain.ParseIPRules(domain.IPRules{Allow: []string{"192.0.2.1", "192.0.2.1/32", "2001:db8::/32"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(allow) != 2 || allow[0].String() != "192.0.2.1/32" || allow[1].String() != "2001:db8::/32" || len(deny) != 0 {
		t.Fatalf("allow = %v, deny = %v: want repeats dropped, order kept", allow, deny)
	}
}
