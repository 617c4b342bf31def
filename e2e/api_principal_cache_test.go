package e2e

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// cacheCount reads a cache's hits or misses from ts's /metrics.
func (ts *testServer) cacheCount(t *testing.T, cache, result string) float64 {
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
	prefix := `gatehouse_cache_requests_total{cache="` + cache + `",result="` + result + `"} `
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(strings.Fields(line)[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// wantRefused fails unless r is the API's 401 invalid_token (refusedAs
// 401) or 403 (refusedAs 403, a permission the principal lacks).
func wantRefused(t *testing.T, r oauthResponse, refusedAs int, what string, n int) {
	t.Helper()
	if r.Status != refusedAs {
		t.Fatalf("answered %d %s %d requests after the %s, want %d", r.Status, snippet(r.Raw), n, what, refusedAs)
	}
	if refusedAs == http.StatusUnauthorized && !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("401 without invalid_token: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
}

// The resource API caches a token's principal (its user with its effective
// permissions) on each instance; a change made through instance A reaches
// B's cache before A answers it. So B, asked in a tight loop from the
// moment A answers, never lets the old principal through: a locked user,
// a revoked token, a role taken away, a group's role taken away. Each
// round first proves that B answers from its cache (its hits grow).
func TestAPIPrincipalCacheInvalidatedAcrossInstances(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	ops := a.serviceClient(t, []string{"gatehouse:api"}, "admin")
	web := a.createConfidentialClient(t, func(c *store.Client) {
		c.Scopes = []string{"openid", "gatehouse:api"}
		c.FirstParty = true
	})
	// Let the clients' notifications pass.
	time.Sleep(propagation)
	admin := a.ccToken(t, authOf(ops), "gatehouse:api").str("access_token")

	// warm fills B's cache with the token's principal and proves that B
	// serves it from there.
	warm := func(t *testing.T, token, path string) {
		t.Helper()
		before := b.cacheCount(t, "api_principal", "hit")
		for range 3 {
			if r := apiCall(t, b, http.MethodGet, path, token, nil); r.Status != http.StatusOK {
				t.Fatalf("B before the change: %d %s", r.Status, snippet(r.Raw))
			}
		}
		if after := b.cacheCount(t, "api_principal", "hit"); after < before+2 {
			t.Fatalf("B's principal cache hits went from %v to %v over 3 requests: the test does not exercise the cache", before, after)
		}
	}
	loop := func(t *testing.T, token, path string, refusedAs int, what string) {
		t.Helper()
		deadline := time.Now().Add(100 * time.Millisecond)
		for n := 0; time.Now().Before(deadline) || n < 20; n++ {
			wantRefused(t, apiCall(t, b, http.MethodGet, path, token, nil), refusedAs, what, n)
		}
	}
	onA := func(t *testing.T, method, path string, body any, want int) {
		t.Helper()
		if r := apiCall(t, a, method, path, admin, body); r.Status != want {
			t.Fatalf("A: %s %s: %d %s", method, path, r.Status, snippet(r.Raw))
		}
	}

	t.Run("user locked", func(t *testing.T) {
		u := a.createUser(t, "manager")
		for range 3 {
			// A lock also ends the user's sessions, and so the token:
			// a new one each round.
			token := apiTokenFor(t, a, u)
			warm(t, token, "/api/v1/users/me")
			onA(t, http.MethodPut, "/api/v1/users/"+u.ID+"/status", map[string]string{"status": "locked"}, http.StatusOK)
			loop(t, token, "/api/v1/users/me", http.StatusUnauthorized, "lock")
			onA(t, http.MethodPut, "/api/v1/users/"+u.ID+"/status", map[string]string{"status": "active"}, http.StatusOK)
		}
	})

	// A profile edit changes nothing the cache holds: it is not announced,
	// B keeps answering from its cache (hits, no miss) and shows the edit
	// where it reads the user (/users/me), and then a lock still refuses
	// the token on B at once.
	t.Run("profile edited, then locked", func(t *testing.T) {
		u := a.createUser(t, "manager")
		token := apiTokenFor(t, a, u)
		for i := range 3 {
			warm(t, token, "/api/v1/users/me")
			name := "Edited Name " + strconv.Itoa(i)
			onA(t, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"full_name": name, "locale": "de-DE"}, http.StatusOK)
			hits, misses := b.cacheCount(t, "api_principal", "hit"), b.cacheCount(t, "api_principal", "miss")
			for range 3 {
				r := apiCall(t, b, http.MethodGet, "/api/v1/users/me", token, nil)
				if r.Status != http.StatusOK || r.str("full_name") != name {
					t.Fatalf("B after the profile edit: %d %s, want 200 with full_name %q", r.Status, snippet(r.Raw), name)
				}
			}
			if h, m := b.cacheCount(t, "api_principal", "hit")-hits, b.cacheCount(t, "api_principal", "miss")-misses; h != 3 || m != 0 {
				t.Fatalf("B after the profile edit: %v hits and %v misses over 3 requests, want 3 and 0", h, m)
			}
		}
		onA(t, http.MethodPut, "/api/v1/users/"+u.ID+"/status", map[string]string{"status": "locked"}, http.StatusOK)
		loop(t, token, "/api/v1/users/me", http.StatusUnauthorized, "lock after the profile edits")
	})

	t.Run("token revoked", func(t *testing.T) {
		u := a.createUser(t, "manager")
		for range 3 {
			tok, _, _ := a.newRP(t, web, oidc.ScopeOpenID, "gatehouse:api").signIn(t, u)
			token := tok.AccessToken
			a.secret(token, tok.RefreshToken)
			warm(t, token, "/api/v1/users/me")
			a.revoke(t, token, authOf(web))
			loop(t, token, "/api/v1/users/me", http.StatusUnauthorized, "revocation")
		}
	})

	t.Run("role taken away", func(t *testing.T) {
		u := a.createUser(t, "manager")
		token := apiTokenFor(t, a, u)
		for range 3 {
			warm(t, token, "/api/v1/users?limit=1")
			onA(t, http.MethodPut, "/api/v1/users/"+u.ID+"/roles", map[string][]string{"roles": {"viewer"}}, http.StatusOK)
			loop(t, token, "/api/v1/users?limit=1", http.StatusForbidden, "role change")
			onA(t, http.MethodPut, "/api/v1/users/"+u.ID+"/roles", map[string][]string{"roles": {"manager"}}, http.StatusOK)
		}
	})

	t.Run("group's role taken away", func(t *testing.T) {
		u := a.createUser(t, "viewer")
		g := store.Group{ID: uuid.NewString(), Name: "readers-" + randomHex(t, 4), Roles: []string{"manager"}}
		if err := a.Store.CreateGroup(ctxT(t), g); err != nil {
			t.Fatal(err)
		}
		if err := a.Store.AddGroupMember(ctxT(t), g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		token := apiTokenFor(t, a, u)
		for range 3 {
			warm(t, token, "/api/v1/users?limit=1")
			onA(t, http.MethodPatch, "/api/v1/groups/"+g.ID, map[string][]string{"roles": {}}, http.StatusOK)
			loop(t, token, "/api/v1/users?limit=1", http.StatusForbidden, "group change")
			onA(t, http.MethodPatch, "/api/v1/groups/"+g.ID, map[string][]string{"roles": {"manager"}}, http.StatusOK)
		}
		// And the membership itself.
		warm(t, token, "/api/v1/users?limit=1")
		onA(t, http.MethodDelete, "/api/v1/groups/"+g.ID+"/members/"+u.ID, nil, http.StatusNoContent)
		loop(t, token, "/api/v1/users?limit=1", http.StatusForbidden, "membership removal")
	})
}

// A time-boxed role grant stops counting at its expiry on an instance that
// has the principal cached, whatever the cache's TTL: the entry lives at
// most until the earliest grant expiry. The grant is made to expire two
// seconds away (after the sign-in, which may take a while on a busy
// machine); the first request after the expiry must be refused. The
// grant is written through instance A and the API asked on B, whose cache
// hears of the write through the change feed (A holds the user out of its
// own cache for a while after writing it).
func TestAPIPrincipalCacheEndsAtGrantExpiry(t *testing.T) {
	a := startServer(t, nil)
	ts := startServer(t, nil)
	u := a.createUser(t, "viewer", "manager")
	token := apiTokenFor(t, a, u)
	cur, err := a.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(2 * time.Second).UTC().Truncate(time.Millisecond)
	cur.RoleExpiry = map[string]time.Time{"manager": expires}
	if err := a.Store.UpdateUser(ctxT(t), cur); err != nil {
		t.Fatal(err)
	}
	before := ts.cacheCount(t, "api_principal", "hit")
	for range 3 {
		if r := apiCall(t, ts, http.MethodGet, "/api/v1/users?limit=1", token, nil); r.Status != http.StatusOK {
			t.Fatalf("before the grant's expiry: %d %s", r.Status, snippet(r.Raw))
		}
	}
	if hits := ts.cacheCount(t, "api_principal", "hit") - before; hits < 2 {
		t.Fatalf("%v cache hits over 3 requests: the test does not exercise the cache", hits)
	}
	time.Sleep(time.Until(expires))
	for !time.Now().After(expires) {
		time.Sleep(time.Millisecond)
	}
	wantRefused(t, apiCall(t, ts, http.MethodGet, "/api/v1/users?limit=1", token, nil), http.StatusForbidden, "grant's expiry", 0)
	// The viewer role, not time-boxed, still holds.
	if r := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", token, nil); r.Status != http.StatusOK {
		t.Fatalf("after the grant's expiry, /users/me: %d %s", r.Status, snippet(r.Raw))
	}
}
