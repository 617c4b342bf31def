package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestTokens(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: 4, MinLength: 8}})

	var alice, vera admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "user")
	e.ok(&vera, "users", "create", "--username", "vera", "--email", "vera@example.com",
		"--password", "correct horse battery", "--role", "viewer")
	e.ok(nil, "clients", "create", "--id", "batch", "--grant-type", "client_credentials",
		"--scope", "gatehouse:api", "--role", "manager")
	e.ok(nil, "clients", "create", "--id", "plain", "--grant-type", "client_credentials")
	e.ok(nil, "users", "create", "--username", "pat", "--email", "pat@example.com", "--password", "correct horse battery")

	// A personal token: the secret is printed once, never stored or audited.
	var personal admin.APITokenView
	created := time.Now()
	r := e.run("tokens", "create", "--name", "laptop", "--kind", "personal", "--user", "alice",
		"--scope", "profile:read", "--scope", "tokens:self", "--expires-in", "720h")
	if r.code != 0 {
		t.Fatalf("tokens create: exit %d: %s", r.code, r.stderr)
	}
	decode(t, r.stdout, &personal)
	secret := personal.Token
	if !strings.HasPrefix(secret, domain.APITokenPrefix) {
		t.Fatalf("token = %q, want a %s... secret", secret, domain.APITokenPrefix)
	}
	if strings.Count(r.stdout, secret) != 1 {
		t.Fatalf("the secret appears %d times in the output, want once", strings.Count(r.stdout, secret))
	}
	if personal.Kind != "personal" || personal.Name != "laptop" || personal.UserID != alice.ID ||
		!slices.Equal(personal.Scopes, []string{"profile:read", "tokens:self"}) || personal.CreatedBy != "cli" {
		t.Fatalf("tokens create printed %+v", personal)
	}
	if d := personal.ExpiresAt.Sub(created); d < 719*time.Hour || d > 721*time.Hour {
		t.Fatalf("expires_at %v is not 720h from now", personal.ExpiresAt)
	}
	entries := auditSince(t, st, 0)
	last := entries[len(entries)-1]
	if last.Action != "token.create" || last.ActorType != store.ActorCLI || strings.Contains(string(last.Changes), secret) {
		t.Fatalf("last audit entry after tokens create = %+v", last)
	}
	stored, err := iamOf(t, st).GetAPIToken(ctx, personal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.SecretHash), secret) || len(stored.SecretHash) == 0 {
		t.Fatal("the store keeps the secret, or no digest of it")
	}

	// The token works until it is revoked.
	p, err := svc.AuthenticateAPIToken(ctx, secret, "127.0.0.1")
	if err != nil || p.User == nil || p.User.ID != alice.ID || !p.Can(store.PermProfileRead) || p.Can(store.PermProfileWrite) {
		t.Fatalf("AuthenticateAPIToken = %+v, %v; want alice narrowed to the token's scopes", p, err)
	}

	var userToken, system admin.APITokenView
	e.audited(st, "token.create", nil, &userToken, "tokens", "create", "--name", "reports", "--kind", "user", "--user", vera.ID)
	if userToken.Kind != "user" || userToken.UserID != vera.ID || userToken.Token == "" {
		t.Fatalf("user token printed as %+v", userToken)
	}
	e.audited(st, "token.create", nil, &system, "tokens", "create", "--name", "nightly", "--kind", "system", "--client", "batch")
	if system.Kind != "system" || system.ClientID != "batch" || system.UserID != "" || system.Token == "" {
		t.Fatalf("system token printed as %+v", system)
	}

	// list never shows a secret.
	var list []admin.APITokenView
	r = e.ok(&list, "tokens", "list")
	for _, s := range []string{secret, userToken.Token, system.Token, `"token":`} {
		if strings.Contains(r.stdout, s) {
			t.Fatalf("tokens list shows %q:\n%s", s, r.stdout)
		}
	}
	if len(list) != 3 {
		t.Fatalf("tokens list has %d tokens, want 3", len(list))
	}
	e.ok(&list, "tokens", "list", "--user", "alice")
	if len(list) != 1 || list[0].ID != personal.ID {
		t.Fatalf("tokens list --user alice = %+v, want the laptop token", list)
	}
	e.ok(&list, "tokens", "list", "--client", "batch")
	if len(list) != 1 || list[0].ID != system.ID {
		t.Fatalf("tokens list --client batch = %+v, want the nightly token", list)
	}

	var revoked map[string]string
	e.audited(st, "token.revoke", nil, &revoked, "tokens", "revoke", personal.ID)
	if revoked["revoked"] != personal.ID {
		t.Fatalf("tokens revoke printed %v", revoked)
	}
	if _, err := svc.AuthenticateAPIToken(ctx, secret, "127.0.0.1"); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("AuthenticateAPIToken after revoke: %v, want ErrUnauthenticated", err)
	}
	e.ok(&list, "tokens", "list", "--user", "alice")
	if len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("revoked token listed as %+v", list)
	}
	// Revoking again changes nothing and records nothing.
	before := lastAuditID(t, st)
	e.ok(nil, "tokens", "revoke", personal.ID)
	if n := len(auditSince(t, st, before)); n != 0 {
		t.Fatalf("revoking a revoked token left %d audit entries", n)
	}

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"revoke unknown", []string{"revoke", "0b6f3b9e-0000-4000-8000-000000000000"}, []string{"not found"}},
		{"unknown kind", []string{"create", "--name", "x", "--kind", "magic", "--user", "alice"}, []string{"--kind"}},
		{"personal without user", []string{"create", "--name", "x", "--kind", "personal"}, []string{"--user"}},
		{"system without client", []string{"create", "--name", "x", "--kind", "system"}, []string{"--client"}},
		{"system with a user", []string{"create", "--name", "x", "--kind", "system", "--client", "batch", "--user", "alice"}, []string{"--client"}},
		{"unknown user", []string{"create", "--name", "x", "--kind", "user", "--user", "nobody"}, []string{`user "nobody" not found`}},
		{"unknown client", []string{"create", "--name", "x", "--kind", "system", "--client", "nobody"}, []string{"client_id"}},
		{"client without roles", []string{"create", "--name", "x", "--kind", "system", "--client", "plain"}, []string{"client_id", "no roles"}},
		{"personal token wider than its owner", []string{"create", "--name", "x", "--kind", "personal", "--user", "alice", "--scope", "users:delete"},
			[]string{"not allowed", "users:delete"}},
		{"unknown scope", []string{"create", "--name", "x", "--kind", "user", "--user", "alice", "--scope", "magic:cast"}, []string{"invalid input", "magic:cast"}},
		{"longer than allowed", []string{"create", "--name", "x", "--kind", "user", "--user", "alice", "--expires-in", "100000h"}, []string{"invalid input", "expires_in"}},
		{"personal token for a viewer", []string{"create", "--name", "x", "--kind", "personal", "--user", "vera"}, []string{"not allowed", "tokens:self"}},
		{"personal token for a pending user", []string{"create", "--name", "x", "--kind", "personal", "--user", "pat"}, []string{`user "pat" is pending`}},
		{"negative lifetime", []string{"create", "--name", "x", "--kind", "user", "--user", "alice", "--expires-in", "-1h"}, []string{"--expires-in"}},
		{"missing name", []string{"create", "--kind", "user", "--user", "alice"}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"tokens"}, tt.args...)...)
		})
	}
}
