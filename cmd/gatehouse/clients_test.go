package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestClientsConfidential(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var created admin.ClientView
	e.audited(st, "client.create", nil, &created, "clients", "create", "--id", "web", "--name", "Web app",
		"--redirect-uri", "https://app.example/cb", "--redirect-uri", "http://localhost:3000/cb",
		"--post-logout-redirect-uri", "https://app.example/bye",
		"--audience", "https://api.example", "--access-token-format", "jwt", "--id-token-alg", "ES256",
		"--access-token-lifetime", "15m", "--refresh-token-lifetime", "720h")

	want := admin.ClientView{
		ClientID:                 "web",
		ClientName:               "Web app",
		RedirectURIs:             []string{"https://app.example/cb", "http://localhost:3000/cb"},
		PostLogoutRedirectURIs:   []string{"https://app.example/bye"},
		AllowedOrigins:           []string{},
		GrantTypes:               []string{"authorization_code", "refresh_token"},
		ResponseTypes:            []string{"code"},
		Scope:                    "openid profile email offline_access",
		Audience:                 []string{"https://api.example"},
		TokenEndpointAuthMethod:  "client_secret_basic",
		AccessTokenFormat:        "jwt",
		IDTokenSignedResponseAlg: "ES256",
		Lifetimes:                admin.LifetimesView{AccessToken: "15m0s", RefreshToken: "720h0m0s"},
		Roles:                    []string{},
		Access:                   admin.ClientAccessView{Roles: []string{}, Groups: []string{}, Areas: []string{}},
	}
	secret := created.ClientSecret
	if !strings.HasPrefix(secret, "ghs_") {
		t.Fatalf("client_secret = %q, want a generated ghs_ secret", secret)
	}
	if created.CreatedAt.IsZero() || created.UpdatedAt.IsZero() {
		t.Fatalf("timestamps not printed: %+v", created)
	}
	got := created
	got.ClientSecret, got.CreatedAt, got.UpdatedAt = "", time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("clients create printed\n%+v\nwant\n%+v", got, want)
	}

	// The audit entry of the creation does not record the secret.
	for _, entry := range auditSince(t, st, 0) {
		if strings.Contains(string(entry.Changes), secret) {
			t.Fatalf("audit entry %s records the client secret", entry.Action)
		}
	}

	// Only the digest is stored, and it matches the secret printed once.
	stored, err := st.GetClient(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !domain.ClientSecretMatches(stored.SecretHash, secret) {
		t.Fatal("stored digest does not match the printed secret")
	}
	if strings.Contains(string(stored.SecretHash), secret) {
		t.Fatal("the secret itself is stored")
	}
	if stored.IDTokenSignedResponseAlg != "ES256" {
		t.Fatalf("stored id_token_signed_response_alg %q, want ES256", stored.IDTokenSignedResponseAlg)
	}
	if stored.Lifetimes.AccessToken != 15*time.Minute || stored.AccessTokenFormat != store.FormatJWT {
		t.Fatalf("stored lifetimes %+v, format %q", stored.Lifetimes, stored.AccessTokenFormat)
	}

	// get shows the same client, never the secret again.
	var fetched admin.ClientView
	r := e.ok(&fetched, "clients", "get", "web")
	if strings.Contains(r.stdout, `"client_secret":`) || strings.Contains(r.stdout, secret) {
		t.Fatalf("clients get shows the secret:\n%s", r.stdout)
	}
	fetched.CreatedAt, fetched.UpdatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(fetched, want) {
		t.Fatalf("clients get printed\n%+v\nwant\n%+v", fetched, want)
	}

	e.fails([]string{`client with id "web" already exists`}, "clients", "create", "--id", "web", "--redirect-uri", "https://app.example/cb")

	var deleted map[string]string
	e.audited(st, "client.delete", nil, &deleted, "clients", "delete", "web")
	if !reflect.DeepEqual(deleted, map[string]string{"deleted": "web"}) {
		t.Fatalf("clients delete printed %v", deleted)
	}
	if _, err := st.GetClient(ctx, "web"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient after delete: %v, want ErrNotFound", err)
	}
	e.fails([]string{`client "web" not found`}, "clients", "get", "web")
	e.fails([]string{`client "web" not found`}, "clients", "delete", "web")
}

func TestClientsPublicAndMachine(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var spa admin.ClientView
	r := e.ok(&spa, "clients", "create", "--id", "spa", "--public", "--first-party",
		"--redirect-uri", "https://spa.example/cb", "--allowed-origin", "https://spa.example", "--scope", "openid profile")
	if strings.Contains(r.stdout, `"client_secret":`) {
		t.Fatalf("public client printed a secret:\n%s", r.stdout)
	}
	if !spa.Public || !spa.FirstParty || spa.TokenEndpointAuthMethod != "none" || spa.Scope != "openid profile" ||
		!reflect.DeepEqual(spa.AllowedOrigins, []string{"https://spa.example"}) {
		t.Fatalf("public client printed as %+v", spa)
	}
	stored, err := st.GetClient(ctx, "spa")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.SecretHash) != 0 || !stored.Public {
		t.Fatalf("public client stored with secret digest %x, public %v", stored.SecretHash, stored.Public)
	}

	var machine admin.ClientView
	e.ok(&machine, "clients", "create", "--id", "batch", "--grant-type", "client_credentials",
		"--scope", "gatehouse:api", "--role", "admin", "--auth-method", "client_secret_post")
	if machine.ClientSecret == "" || machine.TokenEndpointAuthMethod != "client_secret_post" ||
		len(machine.ResponseTypes) != 0 || !reflect.DeepEqual(machine.Roles, []string{"admin"}) {
		t.Fatalf("machine client printed as %+v", machine)
	}

	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",`+
		`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var pkj admin.ClientView
	r = e.ok(&pkj, "clients", "create", "--id", "signed", "--grant-type", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-file", jwks)
	if strings.Contains(r.stdout, `"client_secret":`) || pkj.TokenEndpointAuthMethod != "private_key_jwt" || len(pkj.JWKS) == 0 {
		t.Fatalf("private_key_jwt client printed as %s", r.stdout)
	}

	var list []admin.ClientView
	r = e.ok(&list, "clients", "list")
	if strings.Contains(r.stdout, `"client_secret":`) {
		t.Fatalf("clients list shows secrets:\n%s", r.stdout)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ClientID)
	}
	if strings.Join(ids, ",") != "batch,signed,spa" {
		t.Fatalf("clients list ids = %v, want batch,signed,spa", ids)
	}
}

func TestClientsCreateRejects(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"redirect with fragment", []string{"--id", "x", "--redirect-uri", "https://app.example/cb#frag"}, []string{"redirect_uris", "fragment"}},
		{"plain http redirect", []string{"--id", "x", "--redirect-uri", "http://app.example/cb"}, []string{"redirect_uris", "https"}},
		{"relative redirect", []string{"--id", "x", "--redirect-uri", "/cb"}, []string{"redirect_uris"}},
		{"no redirect for the code grant", []string{"--id", "x"}, []string{"redirect_uris"}},
		{"bad client id", []string{"--id", "my client", "--redirect-uri", "https://app.example/cb"}, []string{"client_id"}},
		{"unknown grant", []string{"--id", "x", "--grant-type", "password"}, []string{"grant_types", "password"}},
		{"public client_credentials", []string{"--id", "x", "--public", "--grant-type", "client_credentials"}, []string{"grant_types", "public"}},
		{"public with a secret method", []string{"--id", "x", "--public", "--redirect-uri", "https://a.example/cb", "--auth-method", "client_secret_basic"},
			[]string{"token_endpoint_auth_method"}},
		{"private_key_jwt without jwks", []string{"--id", "x", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt"}, []string{"jwks"}},
		{"missing jwks file", []string{"--id", "x", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-file", "/nonexistent/jwks.json"},
			[]string{"--jwks-file"}},
		{"origin with path", []string{"--id", "x", "--redirect-uri", "https://a.example/cb", "--allowed-origin", "https://a.example/app"}, []string{"allowed_origins"}},
		{"unknown token format", []string{"--id", "x", "--redirect-uri", "https://a.example/cb", "--access-token-format", "paseto"}, []string{"access_token_format"}},
		{"unknown id token alg", []string{"--id", "x", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"}, []string{"id_token_signed_response_alg", "HS256"}},
		{"malformed lifetime", []string{"--id", "x", "--redirect-uri", "https://a.example/cb", "--access-token-lifetime", "soon"}, []string{"access-token-lifetime"}},
		{"unknown role", []string{"--id", "x", "--grant-type", "client_credentials", "--role", "wizard"}, []string{"wizard"}},
		{"missing id", []string{"--redirect-uri", "https://a.example/cb"}, []string{"id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"clients", "create"}, tt.args...)...)
		})
	}
	clients, err := st.ListClients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 0 {
		t.Fatalf("store holds %d clients after only failed creates", len(clients))
	}
}

func TestClientViewRoundTrip(t *testing.T) {
	c := store.Client{
		ID:                      "web",
		Name:                    "Web",
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{"https://a.example/cb"},
		PostLogoutRedirectURIs:  []string{"https://a.example/bye"},
		AllowedOrigins:          []string{"https://a.example"},
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "email"},
		Audience:                []string{"api"},
		FirstParty:              true,
		AccessTokenFormat:       store.FormatJWT,
		Lifetimes:               store.Lifetimes{AuthorizationCode: time.Minute, AccessToken: time.Hour, IDToken: 2 * time.Hour, RefreshToken: 720 * time.Hour},
		Roles:                   []string{"viewer"},
		Access:                  store.ClientAccess{Roles: []string{"manager"}, Areas: []string{"emea"}},
	}
	back, err := admin.NewClientView(c).ToClient()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", back, c)
	}

	v := admin.NewClientView(c)
	v.Lifetimes.IDToken = "an hour"
	_, err = v.ToClient()
	if ve, ok := domain.AsValidation(err); !ok || ve.Field("lifetimes.id_token") == "" {
		t.Fatalf("ToClient with a bad lifetime = %v, want a validation error on lifetimes.id_token", err)
	}
}

// TestClientsDPoPBound: --dpop-bound-access-tokens registers a client that
// must send a DPoP proof with every token request; the audit entry says so.
func TestClientsDPoPBound(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	var created admin.ClientView
	entry := e.audited(st, "client.create", nil, &created, "clients", "create", "--id", "bound",
		"--grant-type", "client_credentials", "--scope", "api:read", "--dpop-bound-access-tokens")
	if !created.DPoPBoundAccessTokens {
		t.Fatalf("clients create printed %+v, want dpop_bound_access_tokens", created)
	}
	stored, err := st.GetClient(context.Background(), "bound")
	if err != nil || !stored.DPoPBoundAccessTokens {
		t.Fatalf("stored %v (err %v), want DPoPBoundAccessTokens", stored.DPoPBoundAccessTokens, err)
	}
	if !strings.Contains(string(entry.Changes), `"dpop_bound_access_tokens"`) {
		t.Errorf("audit entry %s does not record dpop_bound_access_tokens", entry.Changes)
	}
	var plain admin.ClientView
	e.ok(&plain, "clients", "create", "--id", "plain", "--grant-type", "client_credentials", "--scope", "api:read")
	if plain.DPoPBoundAccessTokens {
		t.Fatalf("client without the flag printed %+v", plain)
	}
}
