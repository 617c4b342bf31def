package domain_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

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

// TestIPRulesAtSignIn: the rules an administrator sets are audited with
// before and after, and a right password from a refused address fails as a
// wrong one would, audited with the address and not counted toward the
// lockout.
func TestIPRulesAtSignIn(t *testing.T) {
	e := newEnv(t)
	boss := e.user("boss", "admin")
	alice := e.user("alice", "user")
	p := e.principal(boss)
	p.Actor.IP = "192.0.2.1"

	_, err := e.svc.SetIPRules(e.ctx, p, alice.ID, domain.IPRules{Allow: []string{"10.0.0.0/8", "bogus"}})
	if got := fieldsOf(t, err); len(got) != 1 || got[0] != "allow[1]" {
		t.Fatalf("fields = %v, want [allow[1]]", got)
	}

	before := e.lastID()
	u, err := e.svc.SetIPRules(e.ctx, p, alice.ID, domain.IPRules{Allow: []string{"10.0.0.0/8", "2001:db8::/32"}, Deny: []string{"10.9.9.9"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := domain.IPRulesOf(u); !slices.Equal(r.Allow, []string{"10.0.0.0/8", "2001:db8::/32"}) || !slices.Equal(r.Deny, []string{"10.9.9.9/32"}) {
		t.Fatalf("rules = %+v", r)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "user.ip_rules" || entries[0].TargetID != alice.ID {
		t.Fatalf("audit = %+v, want one user.ip_rules for alice", entries)
	}
	c := changesOf(t, entries[0])
	if fmt.Sprint(c["ip_allow"]["after"]) != "[10.0.0.0/8 2001:db8::/32]" || fmt.Sprint(c["ip_deny"]["before"]) != "[]" ||
		fmt.Sprint(c["ip_deny"]["after"]) != "[10.9.9.9/32]" {
		t.Fatalf("changes = %v", c)
	}
	// The same rules again change nothing and record nothing.
	before = e.lastID()
	if _, err := e.svc.SetIPRules(e.ctx, p, alice.ID, domain.IPRules{Allow: []string{"10.0.0.0/8", "2001:db8::/32"}, Deny: []string{"10.9.9.9/32"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.since(before); len(got) != 0 {
		t.Fatalf("unchanged rules recorded %+v", got)
	}

	for _, tc := range []struct {
		ip string
		ok bool
	}{{"10.1.2.3", true}, {"2001:db8::7", true}, {"10.9.9.9", false}, {"192.0.2.50", false}, {"", false}} {
		before := e.lastID()
		_, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, tc.ip)
		if tc.ok {
			if err != nil {
				t.Errorf("sign-in from %q: %v", tc.ip, err)
			}
			continue
		}
		if !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("sign-in from %q: %v, want ErrInvalidCredentials", tc.ip, err)
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "signin.refused_address" || entries[0].IPAddress != tc.ip ||
			changesOf(t, entries[0])["address"]["after"] != tc.ip || changesOf(t, entries[0])["via"]["after"] != "password" {
			t.Fatalf("sign-in from %q audited %+v", tc.ip, entries)
		}
	}
	got, err := e.svc.GetUser(e.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FailedLogins != 0 || got.LockedUntil != nil {
		t.Fatalf("refused addresses counted toward the lockout: %d failures", got.FailedLogins)
	}
	// Nor toward the refusal of an address: the attempt counted before the
	// hash is taken back once the rule refuses it.
	for _, ip := range []string{"10.9.9.9", "192.0.2.50"} {
		if f, _, err := e.store.CountSignInFailures(e.ctx, alice.ID, ip, e.clock.Now().Add(-time.Hour)); err != nil || f.Count != 0 {
			t.Fatalf("failures from %s = %+v, %v; want none", ip, f, err)
		}
	}

	// Nobody locks themselves out by mistake.
	p.Actor.IP = "192.0.2.1"
	_, err = e.svc.SetIPRules(e.ctx, p, boss.ID, domain.IPRules{Deny: []string{"192.0.2.0/24"}})
	wantErr(t, err, domain.ErrForbidden)
	if _, err := e.svc.SetIPRules(e.ctx, p, boss.ID, domain.IPRules{Allow: []string{"192.0.2.0/24"}}); err != nil {
		t.Fatalf("rules that admit the caller: %v", err)
	}
}

// BenchmarkCheckAddress: the cost the rules add to a sign-in, refresh or
// API call, for a user with none and for one with the most allowed.
func BenchmarkCheckAddress(b *testing.B) {
	var many []netip.Prefix
	for i := range 100 {
		many = append(many, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	for _, bc := range []struct {
		name string
		u    store.User
	}{
		{"no rules", store.User{}},
		{"100 allow and 100 deny, IPv6 address in none", store.User{IPAllow: many, IPDeny: many}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_ = domain.CheckAddress(bc.u, "2001:db8::1")
			}
		})
	}
}
