package domain

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// ErrAddressRefused: the user's IP rules do not let it act from the
// address. Callers answer it exactly as any other failed sign-in (or
// invalid token): telling the client why would tell an attacker holding a
// password which addresses to try from.
var ErrAddressRefused = errors.New("address refused by the user's IP rules")

// maxIPRules bounds each list: a rule is checked at every sign-in, refresh
// and API-token use, and nobody needs thousands of them per person.
const maxIPRules = 100

// IPRules are a user's address rules as the API and CLI read and write
// them: CIDR prefixes in canonical form.
type IPRules struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
}

// IPRulesOf returns u's rules as text (never nil lists).
func IPRulesOf(u store.User) IPRules {
	return IPRules{Allow: prefixStrings(u.IPAllow), Deny: prefixStrings(u.IPDeny)}
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// CheckAddress is the one rule of per-user IP rules: nil if u may act from
// addr, ErrAddressRefused if not. A deny rule that contains addr wins over
// everything; an empty allow list allows every address not denied, a
// non-empty one only the addresses it contains. A user with no rules may act
// from anywhere, even an unknown address; a user with rules fails closed
// when the address is unknown or not an address.
func CheckAddress(u store.User, addr string) error {
	if len(u.IPAllow) == 0 && len(u.IPDeny) == 0 {
		return nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return fmt.Errorf("domain: address %q: %w", addr, ErrAddressRefused)
	}
	// An IPv4 client reached over an IPv6 socket arrives as ::ffff:a.b.c.d;
	// the rules hold it as IPv4.
	a = a.Unmap().WithZone("")
	for _, p := range u.IPDeny {
		if p.Contains(a) {
			return fmt.Errorf("domain: address %s denied by %s: %w", a, p, ErrAddressRefused)
		}
	}
	if len(u.IPAllow) == 0 {
		return nil
	}
	for _, p := range u.IPAllow {
		if p.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("domain: address %s in no allow rule: %w", a, ErrAddressRefused)
}

// ParsePrefix reads one rule: a CIDR prefix (192.0.2.0/24, 2001:db8::/32)
// or a single address (192.0.2.7 is 192.0.2.7/32, 2001:db8::1 is
// 2001:db8::1/128). An IPv4-mapped IPv6 address or prefix becomes IPv4.
// A prefix with bits set right of its length (10.1.2.3/8) is refused rather
// than masked: whether 10.0.0.0/8 or 10.1.2.3/32 was meant is a guess.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("must be a CIDR prefix or an IP address")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("must be a CIDR prefix or an IP address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("must be a CIDR prefix or an IP address")
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("has bits set after the prefix length; the network is %s", m)
	}
	return p, nil
}

// parseRules validates one list, naming each refused entry by its index
// (allow[2]); repeats are dropped, the order kept.
func (v *problems) parseRules(field string, in []string) []netip.Prefix {
	if len(in) > maxIPRules {
		v.add(field, "must list at most %d rules", maxIPRules)
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	seen := map[netip.Prefix]bool{}
	for i, s := range in {
		p, err := ParsePrefix(s)
		if err != nil {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%s", err.Error())
			continue
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// ParseIPRules validates and normalizes rules: every refused entry is a
// field problem of the ValidationError, named allow[i] or deny[i].
func ParseIPRules(in IPRules) (allow, deny []netip.Prefix, err error) {
	var v problems
	allow = v.parseRules("allow", in.Allow)
	deny = v.parseRules("deny", in.Deny)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	return allow, deny, nil
}

// ipRuleFields are the audited fields of a user's IP rules.
func ipRuleFields(u store.User) fields {
	r := IPRulesOf(u)
	return fields{"ip_allow": r.Allow, "ip_deny": r.Deny}
}

// SetIPRules replaces the user's IP rules ("user.ip_rules", with the
// before and after of each list that changed). Rules that change nothing
// write nothing and record nothing. A caller may not give itself rules that
// refuse the address it calls from (ErrForbidden): it would be locked out
// of the API it needs to undo them.
func (s *Service) SetIPRules(ctx context.Context, p Principal, id string, in IPRules) (store.User, error) {
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	allow, deny, err := ParseIPRules(in)
	if err != nil {
		return store.User{}, err
	}
	rec := s.userRecord("set IP rules")
	rec.fields = ipRuleFields
	return update(ctx, s, p.Actor, rec, id, "user.ip_rules", func(ctx context.Context, cur store.User) (store.User, error) {
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return store.User{}, err
		}
		next := cur
		next.IPAllow, next.IPDeny = allow, deny
		if p.Actor.isUser(id) && CheckAddress(next, p.Actor.IP) != nil {
			return store.User{}, forbidden("these rules refuse the address you are calling from (%s): you would lock yourself out", p.Actor.IP)
		}
		return next, nil
	}, nil)
}

// AdmitAddress applies CheckAddress to u at ip, for a sign-in, a refresh or
// an API-token use (via names which, for the audit log: "password",
// "passkey", "refresh", "api_token"). A refusal is audited as
// "signin.refused_address" (actor anonymous at ip, target the user, the
// address and via as changes) and returned wrapping both ErrAddressRefused
// and ErrUnauthenticated, so that every surface already answers it as a
// failed sign-in or an invalid token.
func (s *Service) AdmitAddress(ctx context.Context, u store.User, ip, via string) error {
	err := CheckAddress(u, ip)
	if err == nil {
		return nil
	}
	c := changes{"address": {After: ip}, "via": {After: via}}
	if aerr := s.audit(ctx, Actor{Type: store.ActorAnonymous, IP: ip}, "signin.refused_address", TargetUser, u.ID, c); aerr != nil {
		return fmt.Errorf("domain: admit address: %w", aerr)
	}
	return fmt.Errorf("%w: %w", err, ErrUnauthenticated)
}
