package e2e

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// cacheHits reads the introspection cache's hits from ts's /metrics.
func (ts *testServer) cacheHits(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get(ts.endpoint("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `gatehouse_cache_requests_total{cache="introspection",result="hit"} `) {
			v, err := strconv.ParseFloat(strings.Fields(line)[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// A token revoked on instance A is never reported active by instance B
// once A has answered the revocation, though B had it cached: the
// revocation is announced in the revoking statement itself, and A holds
// it out of its own cache from the moment it is written. B is asked in a
// tight loop from the moment A answers.
func TestIntrospectionCacheRevokedOnOneInstanceInactiveOnTheOther(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	rs := a.resourceServer(t)
	svc := a.serviceClient(t, []string{"api:read"})
	user := a.createUser(t, "user")
	web := a.createConfidentialClient(t, nil)
	// Let the clients' notifications pass.
	time.Sleep(propagation)

	const rounds = 20
	hitsBefore := b.cacheHits(t)
	check := func(t *testing.T, token string) {
		t.Helper()
		// Fill both caches, and prove B answers from its cache.
		for range 3 {
			if !b.isActive(t, token, authOf(rs)) || !a.isActive(t, token, authOf(rs)) {
				t.Fatal("a fresh token is not active")
			}
		}
	}
	loop := func(t *testing.T, token, what string) {
		t.Helper()
		deadline := time.Now().Add(100 * time.Millisecond)
		for n := 0; time.Now().Before(deadline) || n < 20; n++ {
			if b.isActive(t, token, authOf(rs)) {
				t.Fatalf("B reported the token active %d introspections after A answered the %s", n, what)
			}
			if a.isActive(t, token, authOf(rs)) {
				t.Fatalf("A reported the token active %d introspections after it answered the %s", n, what)
			}
		}
	}

	t.Run("revocation endpoint", func(t *testing.T) {
		for range rounds {
			at := a.ccToken(t, authOf(svc), "api:read").str("access_token")
			check(t, at)
			a.revoke(t, at, authOf(svc))
			loop(t, at, "revocation")
		}
	})

	t.Run("refresh rotation", func(t *testing.T) {
		tok, _, _ := a.newRP(t, web).signIn(t, user)
		access, refresh := tok.AccessToken, tok.RefreshToken
		for range 5 {
			check(t, access)
			r := a.refresh(t, refresh, authOf(web))
			if r.Status != http.StatusOK {
				t.Fatalf("refresh at A: %d %s", r.Status, r.Raw)
			}
			loop(t, access, "refresh")
			access, refresh = r.str("access_token"), r.str("refresh_token")
			a.secret(access, refresh)
			b.secret(access, refresh)
		}
	})

	// As an administrator's revocation, a password reset or a logout
	// write them (domain calls these store methods).
	for _, tc := range []struct {
		name   string
		revoke func(t *testing.T, access string)
	}{
		{"the user's grants revoked", func(t *testing.T, _ string) {
			if _, err := a.Store.RevokeGrantsByUser(ctxT(t), user.ID, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"the login session's grants revoked", func(t *testing.T, access string) {
			row := a.storedToken(t, store.KindAccessToken, access, "gh_at_")
			if row.LoginSessionID == "" {
				t.Fatal("the grant names no login session")
			}
			if _, err := a.Store.RevokeGrantsBySession(ctxT(t), row.LoginSessionID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, _ := a.newRP(t, web).signIn(t, user)
			a.secret(tok.AccessToken, tok.RefreshToken)
			b.secret(tok.AccessToken, tok.RefreshToken)
			check(t, tok.AccessToken)
			tc.revoke(t, tok.AccessToken)
			loop(t, tok.AccessToken, "revocation")
		})
	}

	if hits := b.cacheHits(t) - hitsBefore; hits < rounds {
		t.Errorf("B served %v introspections from its cache, want at least %d: the test did not exercise the cache", hits, rounds)
	}
}
