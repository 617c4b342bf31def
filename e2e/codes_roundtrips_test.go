package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// TestAuthorizeCodeStoreRoundTrips counts, through countingProxy, the round
// trips of the code flow's store methods (store.AuthorizeCodes) on
// PostgreSQL once the connection's statements are prepared: one each, in a
// transaction and outside one. It drives the store alone, so that nothing
// else of the server is counted.
func TestAuthorizeCodeStoreRoundTrips(t *testing.T) {
	t.Parallel()
	proxy := startCountingProxy(t, pgtest.NewDatabase(t))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pg, err := postgres.New(ctx, proxy.url)
	if err != nil {
		t.Fatalf("postgres.New through the proxy: %v", err)
	}
	t.Cleanup(pg.Close)

	now := time.Now()
	client := store.Client{
		ID: "codes-roundtrips", Name: "Round trips", TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs: []string{"https://app.example/cb"}, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "offline_access"}, CreatedAt: now, UpdatedAt: now,
	}
	if err := pg.CreateClient(ctx, client); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	user := store.User{
		ID: uuid.NewString(), Username: "codes-roundtrips", Email: "codes-roundtrips@example.com",
		PasswordHash: "x", Status: store.StatusActive, Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now,
	}
	if err := pg.CreateUser(ctx, user); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	token := func(kind store.TokenKind, requestID, signature string) store.Token {
		return store.Token{
			Kind: kind, Signature: signature, RequestID: requestID, ClientID: client.ID, Subject: user.ID, UserID: user.ID,
			GrantedScopes: []string{"openid", "offline_access"}, RequestedAt: now, ExpiresAt: now.Add(time.Hour),
			Active: true, Request: []byte(`{"id": "` + requestID + `"}`),
		}
	}
	// count runs fn and returns the round trips it cost on the pool's
	// connections, with what they were, failing the test if fn does.
	type cost struct {
		n   int
		log string
	}
	count := func(what string, fn func() error) cost {
		t.Helper()
		proxy.reset()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		pool, _, log := proxy.counts()
		return cost{pool, log}
	}

	// The code flow as the provider runs it: the authorize endpoint's
	// records, then the token endpoint's read and redemption outside a
	// transaction and inside one. The first rounds prepare the statements.
	for i := range 5 {
		warm := i < 2
		requestID, sig := uuid.NewString(), uuid.NewString()
		records := []store.Token{
			token(store.KindAuthorizeCode, requestID, sig),
			token(store.KindPKCE, requestID, sig),
			token(store.KindOpenIDSession, requestID, sig),
		}
		steps := map[string]cost{}
		steps["CreateTokens"] = count("CreateTokens", func() error { return pg.CreateTokens(ctx, records) })
		var got store.AuthorizeCode
		steps["GetAuthorizeCode"] = count("GetAuthorizeCode", func() (err error) {
			got, err = pg.GetAuthorizeCode(ctx, sig)
			return err
		})
		if !got.Code.Active || got.PKCE == nil || got.OpenID == nil || got.User == nil || got.User.ID != user.ID {
			t.Fatalf("round %d: GetAuthorizeCode = %+v, want the active code with PKCE, OpenID and user", i, got)
		}
		tx, err := pg.BeginTx(ctx)
		if err != nil {
			t.Fatalf("BeginTx: %v", err)
		}
		steps["GetAuthorizeCode in a transaction"] = count("GetAuthorizeCode in a transaction", func() (err error) {
			got, err = pg.GetAuthorizeCode(tx, sig)
			return err
		})
		issued := []store.Token{token(store.KindAccessToken, requestID, uuid.NewString()), token(store.KindRefreshToken, requestID, uuid.NewString())}
		steps["RedeemAuthorizeCode in a transaction"] = count("RedeemAuthorizeCode in a transaction", func() error {
			return pg.RedeemAuthorizeCode(tx, sig, issued)
		})
		if err := pg.Commit(tx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		for _, tok := range issued {
			if got, err := pg.GetToken(ctx, tok.Kind, tok.Signature); err != nil || !got.Active {
				t.Fatalf("round %d: %s of the redemption: %+v, %v; want it active", i, tok.Kind, got, err)
			}
		}
		// Outside a transaction, a second code of the grant.
		code2 := token(store.KindAuthorizeCode, requestID, uuid.NewString())
		if err := pg.CreateToken(ctx, code2); err != nil {
			t.Fatalf("CreateToken: %v", err)
		}
		steps["RedeemAuthorizeCode"] = count("RedeemAuthorizeCode", func() error {
			return pg.RedeemAuthorizeCode(ctx, code2.Signature, []store.Token{token(store.KindAccessToken, requestID, uuid.NewString())})
		})
		if got, err := pg.GetToken(ctx, code2.Kind, code2.Signature); err != nil || got.Active {
			t.Fatalf("round %d: redeemed code: %+v, %v; want it inactive", i, got, err)
		}
		if warm {
			continue
		}
		for what, c := range steps {
			if c.n != 1 {
				t.Errorf("round %d: %s cost %d round trips, want 1:\n%s", i, what, c.n, c.log)
			}
		}
		if i == 4 {
			for what, c := range steps {
				t.Logf("%s: %d round trip(s)", what, c.n)
			}
		}
	}
}
