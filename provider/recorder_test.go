package provider

import (
	"maps"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// tokenCounts is what telemetry sees of the token endpoint.
type tokenCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tokenCounts) TokenIssued(grantType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[grantType]++
}

func (c *tokenCounts) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// cacheCounts is what telemetry sees of the client cache.
type cacheCounts struct {
	mu   sync.Mutex
	hits map[string]int
	miss map[string]int
}

func (c *cacheCounts) CacheLookup(name string, hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hits == nil {
		c.hits, c.miss = map[string]int{}, map[string]int{}
	}
	if hit {
		c.hits[name]++
	} else {
		c.miss[name]++
	}
}

// Each successful token response is counted once under its grant type;
// refusals are not. The client cache reports its lookups as "clients".
func TestTokenEndpointReportsIssuedTokens(t *testing.T) {
	tokens, caches := &tokenCounts{}, &cacheCounts{}
	e := newTestEnv(t, func(o *Options) { o.Tokens, o.CacheRecorder = tokens, caches })
	svc := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	web := e.addClient(store.Client{ID: "web", FirstParty: true})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}

	for range 2 {
		if status, body := e.postForm("/oauth2/token", cc, "svc", svc); status != 200 {
			t.Fatalf("client_credentials: %d %v", status, body)
		}
	}
	if status, _ := e.postForm("/oauth2/token", cc, "svc", "wrong secret"); status != 401 {
		t.Fatalf("client_credentials with a wrong secret: %d, want 401", status)
	}
	if status, _ := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:write"}}, "svc", svc); status != 400 {
		t.Fatalf("client_credentials for a scope not allowed: %d, want 400", status)
	}
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", web, "openid", "offline_access"))
	if status, body := e.postForm("/oauth2/token", refreshForm(refreshToken(t, tok)), "web", web); status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}

	want := map[string]int{"client_credentials": 2, "authorization_code": 1, "refresh_token": 1}
	if got := tokens.get(); !maps.Equal(got, want) {
		t.Errorf("tokens issued %v, want %v", got, want)
	}
	caches.mu.Lock()
	defer caches.mu.Unlock()
	if caches.hits["clients"] == 0 || caches.miss["clients"] == 0 {
		t.Errorf("client cache hits %v, misses %v; want both under clients", caches.hits, caches.miss)
	}
}
