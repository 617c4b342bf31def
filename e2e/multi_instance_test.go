package e2e

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// propagation is how soon a change made through one instance must be in
// force on the others: the requirement of DESIGN.md section 9 (caches
// invalidated through LISTEN/NOTIFY), not a performance threshold.
const propagation = time.Second

// within polls check until it holds, failing the test if that takes longer
// than propagation, and returns how long it took.
func within(t *testing.T, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > propagation {
			t.Fatalf("%s: not seen within %v", what, propagation)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// serviceClient stores a client_credentials client allowed scopes (and
// roles, for a service account of the resource API).
func (ts *testServer) serviceClient(t *testing.T, scopes []string, roles ...string) testClient {
	t.Helper()
	return ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
		c.GrantTypes = []string{"client_credentials"}
		c.Scopes = scopes
		c.Roles = roles
	})
}

// ccToken asks ts for a client_credentials token.
func (ts *testServer) ccToken(t *testing.T, auth clientAuth, scope string) oauthResponse {
	t.Helper()
	r := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, auth)
	ts.secret(r.str("access_token"))
	return r
}

// jwksBody is the raw JWKS a server publishes.
func (ts *testServer) jwksBody(t *testing.T) string {
	t.Helper()
	r := getJSON(t, ts.endpoint("/oauth2/jwks"))
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: status %d", r.Status)
	}
	return strings.TrimSpace(r.Raw)
}

// newSecret stores a fresh secret for the client straight in the
// database (as another instance or the CLI would) and returns it.
func newSecret(t *testing.T, st store.Store, id string) string {
	t.Helper()
	c, err := st.GetClient(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	c.SecretHash, c.UpdatedAt = digest, time.Now()
	if err := st.UpdateClient(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestTwoInstancesOneDatabase: two servers on one database, with one
// secret, act as one: a token minted by either is introspected, refreshed
// and revoked through the other; a client or key change made through one
// is in force on the other within a second; both publish the same JWKS.
//
// Not parallel: it rotates the signing keys of the package's database.
func TestTwoInstancesOneDatabase(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	rs := a.resourceServer(t)
	secretChanged := a.serviceClient(t, []string{"api:read"})
	deleted := a.serviceClient(t, []string{"api:read"})
	ops := a.serviceClient(t, []string{"gatehouse:api"}, "admin")
	// Let the clients' creation notifications pass, so that what B drops
	// from its cache below is dropped for the change under test.
	time.Sleep(propagation)

	t.Run("same JWKS", func(t *testing.T) {
		within(t, "identical JWKS", func() bool { return a.jwksBody(t) == b.jwksBody(t) })
	})

	t.Run("client_credentials token from A introspects at B", func(t *testing.T) {
		svc := a.serviceClient(t, []string{"api:read"})
		r := a.ccToken(t, authOf(svc), "api:read")
		if r.Status != http.StatusOK {
			t.Fatalf("token at A: %d %s", r.Status, r.Raw)
		}
		got := b.introspect(t, r.str("access_token"), authOf(rs))
		if got.JSON["active"] != true || got.str("client_id") != svc.ID || got.str("scope") != "api:read" {
			t.Errorf("introspection at B: %s, want active, client %s, scope api:read", got.Raw, svc.ID)
		}
	})

	t.Run("refreshed at B, revoked at A", func(t *testing.T) {
		user := a.createUser(t, "user")
		client := a.createConfidentialClient(t, nil)
		tok, _, _ := a.newRP(t, client).signIn(t, user)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token from A")
		}
		r := b.refresh(t, tok.RefreshToken, authOf(client))
		if r.Status != http.StatusOK {
			t.Fatalf("refresh at B: %d %s", r.Status, r.Raw)
		}
		access, refresh := r.str("access_token"), r.str("refresh_token")
		a.secret(access, refresh)
		b.secret(access, refresh)
		if access == "" || refresh == "" || refresh == tok.RefreshToken {
			t.Fatalf("refresh at B did not rotate the pair: %s", r.Raw)
		}
		if !a.isActive(t, access, authOf(rs)) {
			t.Error("access token refreshed at B is not active at A")
		}
		if a.isActive(t, tok.RefreshToken, authOf(rs)) {
			t.Error("the refresh token B rotated is still active at A")
		}

		a.revoke(t, refresh, authOf(client))
		if b.isActive(t, refresh, authOf(rs)) {
			t.Error("refresh token revoked at A is active at B")
		}
		if b.isActive(t, access, authOf(rs)) {
			t.Error("access token of the grant revoked at A is active at B")
		}
	})

	t.Run("client secret changed elsewhere is in force at B", func(t *testing.T) {
		svc := secretChanged
		if r := b.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusOK {
			t.Fatalf("token at B before the change: %d %s", r.Status, r.Raw)
		}
		fresh := newSecret(t, a.Store, svc.ID)
		a.secret(fresh)
		b.secret(fresh)
		took := within(t, "new secret accepted at B", func() bool {
			return b.ccToken(t, clientAuth{ID: svc.ID, Secret: fresh}, "api:read").Status == http.StatusOK
		})
		if r := b.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusUnauthorized {
			t.Errorf("old secret at B after the change: %d, want 401", r.Status)
		}
		t.Logf("B saw the new secret after %v", took)
	})

	t.Run("client deleted through A's API is gone at B", func(t *testing.T) {
		opsTok := a.ccToken(t, authOf(ops), "gatehouse:api")
		if opsTok.Status != http.StatusOK {
			t.Fatalf("ops token: %d %s", opsTok.Status, opsTok.Raw)
		}
		svc := deleted
		for _, ts := range []*testServer{a, b} {
			if r := ts.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusOK {
				t.Fatalf("token at %s before the deletion: %d %s", ts.URL, r.Status, r.Raw)
			}
		}
		if r := apiCall(t, a, http.MethodDelete, "/api/v1/clients/"+svc.ID, opsTok.str("access_token"), nil); r.Status != http.StatusNoContent {
			t.Fatalf("DELETE client at A: %d %s", r.Status, r.Raw)
		}
		// A's own write is in force at A for the very next request.
		if r := a.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusUnauthorized {
			t.Errorf("token at A right after A deleted the client: %d, want 401", r.Status)
		}
		took := within(t, "deleted client refused at B", func() bool {
			return b.ccToken(t, authOf(svc), "api:read").Status == http.StatusUnauthorized
		})
		t.Logf("B refused the deleted client after %v", took)
	})

	t.Run("key rotated at A is published by B", func(t *testing.T) {
		info, err := a.Server.Keys().Rotate(ctxT(t))
		if err != nil {
			t.Fatalf("rotate at A: %v", err)
		}
		took := within(t, "new active key in B's JWKS", func() bool {
			set := fetchJWKS(t, b)
			return len(set.Key(info.ID)) == 1
		})
		t.Logf("B published the new key after %v", took)
		within(t, "identical JWKS after the rotation", func() bool { return a.jwksBody(t) == b.jwksBody(t) })
		// B signs with the key A made active: its ID tokens carry the new kid.
		signer, err := b.Server.Keys().Signer(ctxT(t))
		if err != nil || signer.ID != info.ID {
			t.Errorf("B signs with %q (%v), want the key A made active, %q", signer.ID, err, info.ID)
		}
	})
}

// TestInstanceCachesClients shows that B answers from its cache, so that
// the propagation above is the notification's doing: a change that fires
// no trigger (session_replication_role = replica) is not seen by B, and the
// next change that does notify brings B up to date.
//
// Not parallel: the silent change must not be followed by another that
// makes B reload every client.
func TestInstanceCachesClients(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	svc := a.serviceClient(t, []string{"api:read"})
	// The creation's notification must not reach B after B cached the
	// client: it would drop it.
	time.Sleep(propagation)
	if r := b.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusOK {
		t.Fatalf("token at B: %d %s", r.Status, r.Raw)
	}

	conn, err := pgx.Connect(ctxT(t), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	silent, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	b.secret(silent)
	// Replica mode skips ordinary triggers: the row changes, nobody is told.
	if _, err := conn.Exec(ctxT(t), `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(ctxT(t), `UPDATE clients SET secret_hash = $1 WHERE id = $2`, digest, svc.ID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("silent update: %v, %d rows", err, tag.RowsAffected())
	}
	// Anything B does now is decided by what it holds: wait as long as a
	// notification would have been allowed to take.
	time.Sleep(propagation)
	if r := b.ccToken(t, authOf(svc), "api:read"); r.Status != http.StatusOK {
		t.Errorf("old secret at B after a silent change: %d, want 200 from B's cache", r.Status)
	}
	if r := b.ccToken(t, clientAuth{ID: svc.ID, Secret: silent}, "api:read"); r.Status != http.StatusUnauthorized {
		t.Errorf("silently stored secret at B: %d, want 401 (B read the client again)", r.Status)
	}
	// A client that was never cached is read from the database: the
	// silent secret works at A, which had not used the client.
	if r := a.ccToken(t, clientAuth{ID: svc.ID, Secret: silent}, "api:read"); r.Status != http.StatusOK {
		t.Errorf("silently stored secret at A (never cached there): %d, want 200", r.Status)
	}

	fresh := newSecret(t, a.Store, svc.ID)
	b.secret(fresh)
	within(t, "a notified change at B", func() bool {
		return b.ccToken(t, clientAuth{ID: svc.ID, Secret: fresh}, "api:read").Status == http.StatusOK
	})
	for _, old := range []string{svc.Secret, silent} {
		if r := b.ccToken(t, clientAuth{ID: svc.ID, Secret: old}, "api:read"); r.Status != http.StatusUnauthorized {
			t.Errorf("a superseded secret at B: %d, want 401", r.Status)
		}
	}
	if slices.Contains([]string{svc.Secret, silent}, fresh) {
		t.Fatal("secrets repeat")
	}
}
