package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
)

// WebAuthn configures passkeys (the WebAuthn relying party).
type WebAuthn struct {
	// Enabled offers passkeys on the security page and the login page.
	Enabled bool `yaml:"enabled"`
	// RPID is the relying party id passkeys are bound to: the issuer's
	// host (the default) or a registrable suffix of it. Changing it later
	// makes every registered passkey useless.
	RPID string `yaml:"rp_id"`
	// RPName is the name authenticators show when asking the user.
	RPName string `yaml:"rp_name"`
	// Origins are the origins ceremonies may come from (default: the
	// issuer's origin). In the environment: a comma-separated list.
	Origins []string `yaml:"origins"`
}

// PasskeyConfig is the relying party the domain runs: rp_id and origins
// default to the issuer's host and origin; zero when passkeys are off.
func (c Config) PasskeyConfig() domain.PasskeyConfig {
	if !c.WebAuthn.Enabled {
		return domain.PasskeyConfig{}
	}
	pc, err := domain.DefaultPasskeyConfig(c.Issuer)
	if err != nil {
		return domain.PasskeyConfig{}
	}
	if c.WebAuthn.RPID != "" {
		pc.RPID = c.WebAuthn.RPID
	} else if domain.ValidatePasskeyConfig(pc) != nil {
		// The issuer's host cannot be an RP id (an IP address, a single
		// label): WebAuthn needs a domain, so passkeys are off unless
		// rp_id names one.
		return domain.PasskeyConfig{}
	}
	if len(c.WebAuthn.Origins) > 0 {
		pc.Origins = append([]string(nil), c.WebAuthn.Origins...)
	}
	pc.RPDisplayName = c.WebAuthn.RPName
	return pc
}

// checkWebAuthn holds rp_id to what browsers accept for the issuer's
// pages (the host itself or a parent domain of it) and each origin to an
// http(s) origin.
func checkWebAuthn(c Config) string {
	if !c.WebAuthn.Enabled {
		return ""
	}
	iss, err := url.Parse(c.Issuer)
	if err != nil || iss.Hostname() == "" {
		return "" // the issuer's own check reports it
	}
	host := strings.ToLower(iss.Hostname())
	if id := strings.ToLower(c.WebAuthn.RPID); id != "" && host != id && !strings.HasSuffix(host, "."+id) {
		return fmt.Sprintf("rp_id %q must be the issuer's host %q or a parent domain of it", c.WebAuthn.RPID, host)
	}
	for _, o := range c.WebAuthn.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Sprintf("origins: %q is not an origin such as https://id.example.com", o)
		}
	}
	if err := domain.ValidatePasskeyConfig(c.PasskeyConfig()); err != nil {
		return err.Error()
	}
	return ""
}
