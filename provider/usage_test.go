package provider

import (
	"maps"
	"net/url"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// usageCounts is what the usage recorder is told.
type usageCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *usageCounts) Count(metric, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[metric+"/"+key]++
}

func (c *usageCounts) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// TestUsageCountsClientSignInsAndTokens: a code granted at the
// authorization endpoint counts a sign-in to its client, each token
// response its grant type; refusals count nothing.
func TestUsageCountsClientSignInsAndTokens(t *testing.T) {
	counts := &usageCounts{}
	e := newTestEnv(t, func(o *Options) { o.Usage = counts })
	svc := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	web := e.addClient(store.Client{ID: "web", FirstParty: true})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	for range 3 {
		if status, body := e.postForm("/oauth2/token", cc, "svc", svc); status != 200 {
			t.Fatalf("client_credentials: %d %v", status, body)
		}
	}
	if status, _ := e.postForm("/oauth2/token", cc, "svc", "wrong secret"); status != 401 {
		t.Fatalf("client_credentials with a wrong secret: %d, want 401", status)
	}
	b := e.newBrowser()
	tok, _ := e.codeFlow(b, e.oauthConfig("web", web, "openid", "offline_access"))
	if status, body := e.postForm("/oauth2/token", refreshForm(refreshToken(t, tok)), "web", web); status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	// A second authorization in the same browser session: another
	// sign-in to the client.
	e.codeFlow(b, e.oauthConfig("web", web, "openid"))

	want := map[string]int{
		store.UsageTokens + "/client_credentials": 3, store.UsageTokens + "/authorization_code": 2,
		store.UsageTokens + "/refresh_token": 1, store.UsageClientSignIns + "/web": 2,
	}
	if got := counts.get(); !maps.Equal(got, want) {
		t.Errorf("usage counted %v, want %v", got, want)
	}
}
