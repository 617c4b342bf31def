package console

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// stores runs fn on the in-memory store and on PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, st store.Store, svc *domain.Service)) {
	t.Run("memory", func(t *testing.T) {
		st := memory.New()
		fn(t, st, domain.NewService(st, domain.Options{}))
	})
	t.Run("postgres", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := postgres.New(ctx, pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		fn(t, st, domain.NewService(st, domain.Options{}))
	})
}

func audits(t *testing.T, st store.Store) []store.AuditEntry {
	t.Helper()
	entries, err := st.ListAudit(context.Background(), store.AuditFilter{TargetID: ClientID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func checkConsoleClient(t *testing.T, c store.Client, issuers ...string) {
	t.Helper()
	if !c.Public || c.TokenEndpointAuthMethod != domain.AuthNone || !c.FirstParty || len(c.SecretHash) != 0 {
		t.Errorf("client: public %v auth %q first-party %v secret %v; want a public first-party client without a secret",
			c.Public, c.TokenEndpointAuthMethod, c.FirstParty, len(c.SecretHash) != 0)
	}
	for _, iss := range issuers {
		if !slices.Contains(c.RedirectURIs, iss+"/console/callback") || !slices.Contains(c.PostLogoutRedirectURIs, iss+"/console/") {
			t.Errorf("client lacks %s's addresses: redirect %v, post-logout %v", iss, c.RedirectURIs, c.PostLogoutRedirectURIs)
		}
	}
	for _, s := range Scopes {
		if !slices.Contains(c.Scopes, s) {
			t.Errorf("client scopes %v lack %s", c.Scopes, s)
		}
	}
	for _, g := range []string{"authorization_code", "refresh_token"} {
		if !slices.Contains(c.GrantTypes, g) {
			t.Errorf("client grants %v lack %s", c.GrantTypes, g)
		}
	}
}

// TestEnsureClientCreatesOnce: the first start registers the client (one
// audit entry, by the system); later starts change and record nothing.
func TestEnsureClientCreatesOnce(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store, svc *domain.Service) {
		ctx := context.Background()
		const issuer = "https://id.example/auth"
		for range 2 {
			if err := EnsureClient(ctx, svc, issuer, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
		}
		c, err := st.GetClient(ctx, ClientID)
		if err != nil {
			t.Fatal(err)
		}
		checkConsoleClient(t, c, issuer)
		entries := audits(t, st)
		if len(entries) != 1 || entries[0].Action != "client.create" || entries[0].ActorType != store.ActorSystem {
			t.Fatalf("audit entries %+v, want one client.create by the system", entries)
		}
	})
}

// TestEnsureClientRepairs: a third-party console client missing scopes
// and addresses is repaired, keeping what an operator added; a
// confidential one is registered again as public.
func TestEnsureClientRepairs(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store, _ *domain.Service) {
		ctx := context.Background()
		// Written to the store directly: the domain refuses both shapes.
		broken := store.Client{
			ID: ClientID, Name: "hand-made", Public: true, TokenEndpointAuthMethod: domain.AuthNone,
			RedirectURIs: []string{"https://other.example/console/callback"},
			GrantTypes:   []string{"authorization_code"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "email"},
		}
		if err := st.CreateClient(ctx, broken); err != nil {
			t.Fatal(err)
		}
		svc := domain.NewService(st, domain.Options{})
		const issuer = "https://id.example"
		if err := EnsureClient(ctx, svc, issuer, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		c, err := st.GetClient(ctx, ClientID)
		if err != nil {
			t.Fatal(err)
		}
		checkConsoleClient(t, c, issuer)
		if !slices.Contains(c.RedirectURIs, "https://other.example/console/callback") || !slices.Contains(c.Scopes, "email") {
			t.Errorf("repair dropped what was there: redirect %v scopes %v", c.RedirectURIs, c.Scopes)
		}

		if err := st.DeleteClient(ctx, ClientID); err != nil {
			t.Fatal(err)
		}
		confidential := broken
		confidential.Public, confidential.TokenEndpointAuthMethod, confidential.SecretHash = false, domain.AuthClientSecretBasic, []byte("digest")
		if err := st.CreateClient(ctx, confidential); err != nil {
			t.Fatal(err)
		}
		if err := EnsureClient(ctx, svc, issuer, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		c, err = st.GetClient(ctx, ClientID)
		if err != nil {
			t.Fatal(err)
		}
		checkConsoleClient(t, c, issuer)
	})
}

// TestEnsureClientConcurrentStarts: instances of one issuer starting at
// once end with one client (the others' creates conflict and re-read), and
// an instance of another issuer starting later adds its addresses to it.
func TestEnsureClientConcurrentStarts(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store, svc *domain.Service) {
		ctx := context.Background()
		const issuer = "https://id.example"
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = EnsureClient(ctx, svc, issuer, slog.New(slog.DiscardHandler))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := EnsureClient(ctx, svc, "http://127.0.0.1:8080", slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		c, err := st.GetClient(ctx, ClientID)
		if err != nil {
			t.Fatal(err)
		}
		checkConsoleClient(t, c, issuer, "http://127.0.0.1:8080")
		var creates int
		for _, e := range audits(t, st) {
			if e.Action == "client.create" {
				creates++
			}
		}
		if creates != 1 {
			t.Errorf("%d client.create entries, want 1", creates)
		}
	})
}

// TestEnsureClientDifferentIssuersAtOnce: instances of eight issuers
// sharing one database start at once; every one's addresses are kept (the
// repair is a compare-and-swap: a repair computed from a stale read is
// refused and done again, not written over another's).
func TestEnsureClientDifferentIssuersAtOnce(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store, svc *domain.Service) {
		ctx := context.Background()
		if err := EnsureClient(ctx, svc, "https://first.example", slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		issuers := make([]string, 8)
		errs := make([]error, len(issuers))
		var wg sync.WaitGroup
		for i := range issuers {
			issuers[i] = fmt.Sprintf("http://127.0.0.%d:8080", i+2)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = EnsureClient(ctx, svc, issuers[i], slog.New(slog.DiscardHandler))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		c, err := st.GetClient(ctx, ClientID)
		if err != nil {
			t.Fatal(err)
		}
		checkConsoleClient(t, c, append(issuers, "https://first.example")...)
	})
}

// TestEnsureClientRefusedIssuer: an issuer the domain refuses as a
// redirect URI is logged and the server starts without the console's
// client.
func TestEnsureClientRefusedIssuer(t *testing.T) {
	st := memory.New()
	svc := domain.NewService(st, domain.Options{})
	if err := EnsureClient(context.Background(), svc, "http://gatehouse.internal", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("EnsureClient: %v, want it logged, not returned", err)
	}
	if _, err := st.GetClient(context.Background(), ClientID); err == nil {
		t.Fatal("a client with a plain-http redirect URI on a public host was registered")
	}
}
