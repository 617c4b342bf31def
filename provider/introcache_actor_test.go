package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// An impersonation token is cached like any other, with its impersonator:
// a change to someone else leaves it cached and active, the impersonator's
// lock (written to the store, its sessions kept) makes the very next
// introspection, by the endpoint and by IntrospectAccessToken, inactive;
// without the cache, the same answers.
func TestImpersonationIsInactiveOnceTheImpersonatorIsLocked(t *testing.T) {
	for _, entries := range []int{1000, 0} {
		t.Run(fmt.Sprintf("cache of %d", entries), func(t *testing.T) {
			testImpersonatorLocked(t, newTestEnv(t, func(o *Options) { o.IntrospectionCacheEntries = entries }), entries > 0)
		})
	}
}

func testImpersonatorLocked(t *testing.T, e *testEnv, cache bool) {
	caller := e.user
	caller.Roles = []string{"admin"}
	if err := e.store.UpdateUser(e.ctx, caller); err != nil {
		t.Fatal(err)
	}
	target := e.addUser("bob", "user")
	bystander := e.addUser("carol", "user")
	secret := e.addClient(store.Client{ID: "web", FirstParty: true,
		GrantTypes: []string{"authorization_code", "refresh_token", grantTypeTokenExchange}})
	rsID, rsSecret := e.resourceServer()
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid"))
	status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {grantTypeTokenExchange},
		"subject_token": {tok.AccessToken}, "subject_token_type": {tokenTypeAccessToken},
		"requested_subject": {target.ID}}, "web", secret)
	if status != http.StatusOK {
		t.Fatalf("impersonation: %d %v", status, body)
	}
	imp := body["access_token"].(string)

	if got := e.introspect(imp, rsID, rsSecret); got["active"] != true || got["sub"] != target.ID {
		t.Fatalf("introspect: %v", got)
	}
	cached := func(what string) {
		t.Helper()
		before := e.reads.n.Load()
		if got := e.introspect(imp, rsID, rsSecret); got["active"] != true {
			t.Fatalf("introspect after %s: %v", what, got)
		}
		if n := e.reads.n.Load() - before; cache && n != 0 {
			t.Errorf("%d token reads after %s, want 0 (answered from the cache)", n, what)
		}
	}
	cached("the first introspection")
	bystander.Status = store.StatusLocked
	if err := e.store.UpdateUser(e.ctx, bystander); err != nil {
		t.Fatal(err)
	}
	cached("another user's lock")

	caller.Status = store.StatusLocked
	if err := e.store.UpdateUser(e.ctx, caller); err != nil {
		t.Fatal(err)
	}
	if got := e.introspect(imp, rsID, rsSecret); got["active"] != false {
		t.Errorf("introspection right after the impersonator's lock: %v, want inactive", got)
	}
	if _, err := e.p.IntrospectAccessToken(e.ctx, imp); err == nil {
		t.Error("IntrospectAccessToken right after the impersonator's lock accepted the token")
	}

	// Unlocked, it acts again: the refusal was not cached either.
	caller.Status = store.StatusActive
	if err := e.store.UpdateUser(e.ctx, caller); err != nil {
		t.Fatal(err)
	}
	if got := e.introspect(imp, rsID, rsSecret); got["active"] != true {
		t.Fatalf("introspect after the unlock: %v", got)
	}
}
