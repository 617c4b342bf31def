package provider

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// ccStatus asks for a client_credentials token and returns the status.
func (e *testEnv) ccStatus(clientID, secret string) int {
	e.t.Helper()
	status, _ := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, clientID, secret)
	return status
}

// setSecret replaces the client's secret in the store directly, as another
// instance would: the provider is not told.
func (e *testEnv) setSecret(id string) string {
	e.t.Helper()
	c, err := e.store.GetClient(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	c.SecretHash, c.UpdatedAt = digest, time.Now()
	if err := e.store.UpdateClient(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// The client is read from the store once and served from the cache until
// Invalidate names it (or every client).
func TestClientsAreCachedUntilInvalidated(t *testing.T) {
	e := newTestEnv(t)
	old := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	if got := e.ccStatus("svc", old); got != http.StatusOK {
		t.Fatalf("token with the secret: %d", got)
	}

	for _, tc := range []struct {
		name string
		// ignored must leave the cached client alone; dropping must not.
		ignored, dropping store.ChangeEvent
	}{
		{"one client", store.ChangeEvent{Kind: store.ChangeClient, ID: "other"}, store.ChangeEvent{Kind: store.ChangeClient, ID: "svc"}},
		{"every client", store.ChangeEvent{Kind: store.ChangeRole}, store.ChangeEvent{Kind: store.ChangeClient}},
		{"everything", store.ChangeEvent{Kind: store.ChangeSigningKey, ID: "svc"}, store.ChangeEvent{Kind: store.ChangeAll}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh := e.setSecret("svc")
			e.p.Invalidate(tc.ignored)
			if got := e.ccStatus("svc", fresh); got != http.StatusUnauthorized {
				t.Errorf("new secret before invalidation: %d, want 401 (the client is not cached)", got)
			}
			if got := e.ccStatus("svc", old); got != http.StatusOK {
				t.Errorf("old secret before invalidation: %d, want 200 from the cached client", got)
			}
			e.p.Invalidate(tc.dropping)
			if got := e.ccStatus("svc", fresh); got != http.StatusOK {
				t.Errorf("new secret after Invalidate(%+v): %d, want 200", tc.dropping, got)
			}
			if got := e.ccStatus("svc", old); got != http.StatusUnauthorized {
				t.Errorf("old secret after Invalidate(%+v): %d, want 401", tc.dropping, got)
			}
			old = fresh
		})
	}
}

// An unknown client is not cached: one registered a moment later (on
// another instance) is usable at once.
func TestUnknownClientIsNotCached(t *testing.T) {
	e := newTestEnv(t)
	if got := e.ccStatus("late", "whatever"); got != http.StatusUnauthorized {
		t.Fatalf("unknown client: %d, want 401", got)
	}
	secret := e.addClient(store.Client{ID: "late", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	if got := e.ccStatus("late", secret); got != http.StatusOK {
		t.Errorf("client registered after a miss: %d, want 200", got)
	}
}

// The allowed origins follow client changes when told of them, not on a
// timer.
func TestAllowedOriginsFollowInvalidation(t *testing.T) {
	e := newTestEnv(t)
	e.addClient(store.Client{ID: "spa", Public: true, AllowedOrigins: []string{"https://a.example"}})
	allowed := func(origin string) bool {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodOptions, e.issuer+"/oauth2/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin") == origin
	}
	if !allowed("https://a.example") || allowed("https://b.example") {
		t.Fatal("initial origins wrong")
	}
	c, err := e.store.GetClient(e.ctx, "spa")
	if err != nil {
		t.Fatal(err)
	}
	c.AllowedOrigins = []string{"https://b.example"}
	if err := e.store.UpdateClient(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	if allowed("https://b.example") {
		t.Fatal("an origin added behind the provider's back was allowed at once: the origins are not cached")
	}
	e.p.Invalidate(store.ChangeEvent{Kind: store.ChangeClient, ID: "spa"})
	if !allowed("https://b.example") || allowed("https://a.example") {
		t.Error("after Invalidate: want b.example allowed and a.example no longer")
	}
}
