package domain_test

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestCreateClient(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(c *store.Client)
		wantSecret bool
		fields     []string
	}{
		{"confidential gets a secret", func(c *store.Client) {}, true, nil},
		{"public gets none", func(c *store.Client) {
			c.Public = true
			c.TokenEndpointAuthMethod = domain.AuthNone
		}, false, nil},
		{"private_key_jwt gets none", func(c *store.Client) {
			c.TokenEndpointAuthMethod = domain.AuthPrivateKeyJWT
			c.JWKS = []byte(publicJWKS)
		}, false, nil},
		{"invalid registration", func(c *store.Client) { c.RedirectURIs = []string{"http://evil.example/cb"} }, false, []string{"redirect_uris"}},
		{"unknown role", func(c *store.Client) { c.Roles = []string{"wizard"} }, false, []string{"roles"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := webClient()
			in.SecretHash = []byte("caller supplied, must be ignored")
			tc.mutate(&in)
			c, secret, err := e.svc.CreateClient(e.ctx, admin, in)
			if tc.fields != nil {
				if f := fieldsOf(t, err); !slices.Equal(f, tc.fields) {
					t.Fatalf("fields = %v, want %v", f, tc.fields)
				}
				if len(e.audit()) != 0 {
					t.Fatal("a refused create left an audit entry")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSecret != (secret != "") {
				t.Fatalf("secret %q, want one: %v", secret, tc.wantSecret)
			}
			if tc.wantSecret && !domain.ClientSecretMatches(c.SecretHash, secret) {
				t.Fatal("the stored digest does not match the secret")
			}
			if !tc.wantSecret && c.SecretHash != nil {
				t.Fatalf("a client without a secret has a digest: %x", c.SecretHash)
			}
			if len(e.audit()) != 1 {
				t.Fatal("want one audit entry")
			}
		})
	}
}

func TestUpdateClient(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.CreateClient(e.ctx, admin, webClient()); err != nil {
		t.Fatal(err)
	}
	before := e.lastID()
	got, err := e.svc.UpdateClient(e.ctx, admin, webClient().ID, domain.ClientPatch{
		GrantTypes: ptr([]string{domain.GrantClientCredentials}),
		Roles:      ptr([]string{"viewer"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ResponseTypes) != 0 || !slices.Equal(got.Roles, []string{"viewer"}) {
		t.Fatalf("client = %+v", got)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "client.update" {
		t.Fatalf("entries = %+v", entries)
	}
	c := changesOf(t, entries[0])
	for _, f := range []string{"grant_types", "response_types", "roles"} {
		if _, ok := c[f]; !ok {
			t.Errorf("no change recorded for %s: %s", f, entries[0].Changes)
		}
	}
	_, err = e.svc.UpdateClient(e.ctx, admin, webClient().ID, domain.ClientPatch{RedirectURIs: ptr([]string{"ftp://x"})})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"redirect_uris"}) {
		t.Fatalf("fields = %v", f)
	}
	_, err = e.svc.UpdateClient(e.ctx, admin, "nobody", domain.ClientPatch{Name: ptr("x")})
	wantErr(t, err, store.ErrNotFound)
}

func TestRevokeSession(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	e.sessionWithToken(u, "s1")
	e.sessionWithToken(u, "s2")
	if err := e.svc.RevokeSession(e.ctx, domain.Operator(admin), "s1"); err != nil {
		t.Fatal(err)
	}
	if e.tokenActive("s1") || !e.tokenActive("s2") {
		t.Fatal("want s1's token revoked and s2's kept")
	}
	sessions, err := e.svc.ListSessions(e.ctx, u.ID)
	if err != nil || len(sessions) != 1 || sessions[0].ID != "s2" {
		t.Fatalf("sessions = %+v, %v", sessions, err)
	}
	wantErr(t, e.svc.RevokeSession(e.ctx, domain.Operator(admin), "s1"), store.ErrNotFound)
	if n := countAction(e.audit(), "session.revoke"); n != 1 {
		t.Fatalf("%d session.revoke entries", n)
	}
}

// TestConsoleClientStaysPublicAndFirstParty: the console's own client can
// be registered only as a public, first-party client, and no update turns
// it third-party; other clients may be either.
func TestConsoleClientStaysPublicAndFirstParty(t *testing.T) {
	console := func() store.Client {
		c := webClient()
		c.ID = domain.ConsoleClientID
		c.Public, c.TokenEndpointAuthMethod, c.FirstParty = true, domain.AuthNone, true
		return c
	}
	e := newEnv(t)
	confidential := console()
	confidential.Public, confidential.TokenEndpointAuthMethod = false, domain.AuthClientSecretBasic
	if _, _, err := e.svc.CreateClient(e.ctx, admin, confidential); !slices.Equal(fieldsOf(t, err), []string{"public"}) {
		t.Fatalf("confidential console client: %v, want a validation error on public", err)
	}
	thirdParty := console()
	thirdParty.FirstParty = false
	if _, _, err := e.svc.CreateClient(e.ctx, admin, thirdParty); !slices.Equal(fieldsOf(t, err), []string{"first_party"}) {
		t.Fatalf("third-party console client: %v, want a validation error on first_party", err)
	}
	if _, _, err := e.svc.CreateClient(e.ctx, admin, console()); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := e.svc.UpdateClient(e.ctx, admin, domain.ConsoleClientID, domain.ClientPatch{FirstParty: &off}); !slices.Equal(fieldsOf(t, err), []string{"first_party"}) {
		t.Fatalf("update to third-party: %v, want a validation error on first_party", err)
	}
	got, err := e.svc.GetClient(e.ctx, domain.ConsoleClientID)
	if err != nil || !got.FirstParty || !got.Public {
		t.Fatalf("after the refused update: %+v, %v", got, err)
	}
	// Any other client may be third-party.
	other := webClient()
	if _, _, err := e.svc.CreateClient(e.ctx, admin, other); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateClient(e.ctx, admin, other.ID, domain.ClientPatch{FirstParty: &off}); err != nil {
		t.Fatalf("a third-party web client: %v", err)
	}
}
