package provider

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// tokenReads is the memory store counting the access tokens read from it:
// the provider's one way to the token rows.
type tokenReads struct {
	*memory.Store
	n atomic.Int64
}

func (r *tokenReads) GetToken(ctx context.Context, kind store.TokenKind, signature string) (store.Token, error) {
	if kind == store.KindAccessToken {
		r.n.Add(1)
	}
	return r.Store.GetToken(ctx, kind, signature)
}

func (e *testEnv) ccToken(clientID, secret string) string {
	e.t.Helper()
	status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, clientID, secret)
	if status != http.StatusOK {
		e.t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

// A token introspected once is answered from the cache afterwards: no
// read of the store, by the endpoint or by IntrospectAccessToken.
func TestIntrospectionHitReadsNoToken(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	rsID, rsSecret := e.resourceServer()
	at := e.ccToken("svc", secret)

	if got := e.introspect(at, rsID, rsSecret); got["active"] != true {
		t.Fatalf("introspect: %v", got)
	}
	before := e.reads.n.Load()
	for range 5 {
		if got := e.introspect(at, rsID, rsSecret); got["active"] != true || got["client_id"] != "svc" || got["scope"] != "api:read" {
			t.Fatalf("introspect from the cache: %v", got)
		}
		if info, err := e.p.IntrospectAccessToken(e.ctx, at); err != nil || info.ClientID != "svc" {
			t.Fatalf("IntrospectAccessToken from the cache: %+v %v", info, err)
		}
	}
	if n := e.reads.n.Load() - before; n != 0 {
		t.Errorf("%d token reads for 10 introspections of a cached token, want 0", n)
	}

	// Off: every introspection reads.
	off := newTestEnv(t, func(o *Options) { o.IntrospectionCacheEntries = 0 })
	secret = off.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	rsID, rsSecret = off.resourceServer()
	at = off.ccToken("svc", secret)
	before = off.reads.n.Load()
	for range 3 {
		off.introspect(at, rsID, rsSecret)
	}
	if n := off.reads.n.Load() - before; n != 3 {
		t.Errorf("cache off: %d token reads for 3 introspections, want 3", n)
	}
}

// Every way of revoking a cached token makes the very next introspection
// answer inactive.
func TestRevokedTokenIsInactiveOnTheNextIntrospection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		revoke func(e *testEnv, at, refresh, secret string)
	}{
		{"revocation endpoint, access token", func(e *testEnv, at, _, secret string) {
			if status, body := e.postForm("/oauth2/revoke", url.Values{"token": {at}}, "web", secret); status != http.StatusOK {
				e.t.Fatalf("revoke: %d %v", status, body)
			}
		}},
		{"revocation endpoint, refresh token", func(e *testEnv, _, refresh, secret string) {
			if status, body := e.postForm("/oauth2/revoke", url.Values{"token": {refresh}}, "web", secret); status != http.StatusOK {
				e.t.Fatalf("revoke: %d %v", status, body)
			}
		}},
		{"refresh rotation", func(e *testEnv, _, refresh, secret string) {
			if status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, "web", secret); status != http.StatusOK {
				e.t.Fatalf("refresh: %d %v", status, body)
			}
		}},
		{"the user's grants revoked", func(e *testEnv, _, _, _ string) {
			if _, err := e.store.RevokeGrantsByUser(e.ctx, e.user.ID, ""); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"the user deleted", func(e *testEnv, _, _, _ string) {
			if err := e.store.DeleteUser(e.ctx, e.user.ID); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"the login session's grants revoked", func(e *testEnv, _, _, _ string) {
			sessions, err := e.store.ListLoginSessions(e.ctx, e.user.ID, time.Now())
			if err != nil || len(sessions) == 0 {
				e.t.Fatalf("sessions: %v %v", sessions, err)
			}
			for _, s := range sessions {
				if _, err := e.store.RevokeGrantsBySession(e.ctx, s.ID); err != nil {
					e.t.Fatal(err)
				}
			}
		}},
		{"the client changed elsewhere", func(e *testEnv, _, _, _ string) {
			if err := e.store.DeleteClient(e.ctx, "web"); err != nil {
				e.t.Fatal(err)
			}
			e.p.Invalidate(store.ChangeEvent{Kind: store.ChangeClient, ID: "web"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			secret := e.addClient(store.Client{ID: "web", FirstParty: true})
			rsID, rsSecret := e.resourceServer()
			tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid", "offline_access"))
			at := tok.AccessToken
			for range 2 {
				if got := e.introspect(at, rsID, rsSecret); got["active"] != true {
					t.Fatalf("before the revocation: %v", got)
				}
			}
			tc.revoke(e, at, refreshToken(t, tok), secret)
			if got := e.introspect(at, rsID, rsSecret); got["active"] != false {
				t.Errorf("introspection right after the revocation: %v, want inactive", got)
			}
			if _, err := e.p.IntrospectAccessToken(e.ctx, at); err == nil {
				t.Error("IntrospectAccessToken right after the revocation accepted the token")
			}
		})
	}
}

// With a shared store the cache serves only while the change feed is
// connected: nothing before its first ChangeAll, nothing from its loss
// until it reconnects, since revocations made elsewhere meanwhile would go
// unheard.
func TestIntrospectionCacheFollowsTheFeed(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.SharedStore = true })
	secret := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	rsID, rsSecret := e.resourceServer()
	at := e.ccToken("svc", secret)
	reads := func(n int) int64 {
		t.Helper()
		before := e.reads.n.Load()
		for range n {
			if got := e.introspect(at, rsID, rsSecret); got["active"] != true {
				t.Fatalf("introspect: %v", got)
			}
		}
		return e.reads.n.Load() - before
	}
	if n := reads(3); n != 3 {
		t.Errorf("before the feed connected: %d reads for 3 introspections, want 3", n)
	}
	e.p.Invalidate(store.ChangeEvent{Kind: store.ChangeAll})
	if n := reads(3); n != 1 {
		t.Errorf("feed connected: %d reads for 3 introspections, want 1", n)
	}
	e.p.Invalidate(store.ChangeEvent{Kind: store.ChangeFeedLost})
	if n := reads(3); n != 3 {
		t.Errorf("feed lost: %d reads for 3 introspections, want 3", n)
	}
	e.p.Invalidate(store.ChangeEvent{Kind: store.ChangeAll})
	if n := reads(3); n != 1 {
		t.Errorf("feed reconnected: %d reads for 3 introspections, want 1", n)
	}
	// A revocation this instance writes is held out of the cache even
	// before its notification comes back.
	status, body := e.postForm("/oauth2/revoke", url.Values{"token": {at}}, "svc", secret)
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if got := e.introspect(at, rsID, rsSecret); got["active"] != false {
		t.Errorf("revoked, before any notification: %v", got)
	}
}
