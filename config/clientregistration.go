package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
)

// ClientRegistration is dynamic client registration (RFC 7591/7592) at
// <issuer>/oauth2/register: how MCP-style clients that discover everything
// register themselves. Off by default; discovery lists the endpoint only
// when it is on.
type ClientRegistration struct {
	Enabled bool `yaml:"enabled"`
	// OpenPublic lets anyone register a public client (token endpoint auth
	// method none, so PKCE), with https redirect URIs or http ones on a
	// loopback host only.
	OpenPublic bool `yaml:"open_public"`
	// InitialAccessTokens are the hex SHA-256 digests of the initial access
	// tokens (RFC 7591 §3) that admit a confidential client (presented as
	// Authorization: Bearer), or a public one when OpenPublic is off.
	InitialAccessTokens []string `yaml:"initial_access_tokens"`
	// InitialAccessTokensFile names a file of initial access tokens
	// themselves, one a line ('#' starts a comment): a mounted secret,
	// hashed when the server starts.
	InitialAccessTokensFile string `yaml:"initial_access_tokens_file"`
	// UnusedClientTTL deletes a registered client that has not got a token
	// for that long (never used: since it registered). 0 keeps them.
	UnusedClientTTL time.Duration `yaml:"unused_client_ttl"`
	// AllowedScopes are the scopes a registered client may be given.
	// gatehouse:api (the resource API) only if it is listed here.
	AllowedScopes []string `yaml:"allowed_scopes"`
	// MaxOpenClients bounds open registration: once this many registered
	// clients exist, registering without an initial access token is
	// refused until the janitor (or an operator) deletes some. 0: no bound.
	MaxOpenClients int `yaml:"max_open_clients"`
}

// defaultClientRegistration is off, with the OpenID Connect scopes for
// what it would register.
func defaultClientRegistration() ClientRegistration {
	return ClientRegistration{UnusedClientTTL: 30 * 24 * time.Hour, AllowedScopes: domain.DefaultClientScopes(),
		MaxOpenClients: 10_000}
}

// InitialAccessTokenDigests returns the SHA-256 digests of every initial
// access token: the configured ones and those of the file's tokens. Errors
// never include the file's contents.
func (r ClientRegistration) InitialAccessTokenDigests() ([][]byte, error) {
	var out [][]byte
	for i, h := range r.InitialAccessTokens {
		d, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("client_registration.initial_access_tokens[%d]: must be a hex SHA-256 digest (64 hex digits)", i)
		}
		out = append(out, d)
	}
	if r.InitialAccessTokensFile == "" {
		return out, nil
	}
	data, err := os.ReadFile(r.InitialAccessTokensFile)
	if err != nil {
		return nil, fmt.Errorf("client_registration.initial_access_tokens_file: cannot read file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		d := sha256.Sum256([]byte(line))
		out = append(out, d[:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("client_registration.initial_access_tokens_file: %w", err)
	}
	return out, nil
}

func checkClientRegistration(c Config) string {
	r := c.ClientRegistration
	if r.UnusedClientTTL < 0 {
		return fmt.Sprintf("unused_client_ttl must be 0 (keep) or positive, got %s", r.UnusedClientTTL)
	}
	if r.UnusedClientTTL > 0 && r.UnusedClientTTL < time.Hour {
		// last use is written at most once an hour.
		return fmt.Sprintf("unused_client_ttl must be at least 1h (or 0), got %s", r.UnusedClientTTL)
	}
	if r.MaxOpenClients < 0 {
		return fmt.Sprintf("max_open_clients must be 0 (no bound) or positive, got %d", r.MaxOpenClients)
	}
	for _, s := range r.AllowedScopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			return fmt.Sprintf("allowed_scopes: %q is not a scope token", s)
		}
	}
	if _, err := r.InitialAccessTokenDigests(); err != nil {
		return strings.TrimPrefix(err.Error(), "client_registration.")
	}
	return ""
}
