package admin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// A profile edit (the user's own or an administrator's), a password the
// user changes itself: none of them changes what the principal cache holds,
// so none invalidates it, and the next requests with the user's token are
// answered from the cache (hits, no miss) while /users/me shows the edit
// (it reads the user again). A lock, and an administrator's password
// reset (which revokes the user's grants), refuse the token at once.
func TestPrincipalCacheAndProfileEditsMemory(t *testing.T) {
	testPrincipalCacheAndProfileEdits(t, newMemoryEnv(t))
}

func TestPrincipalCacheAndProfileEditsPostgres(t *testing.T) {
	testPrincipalCacheAndProfileEdits(t, newPostgresEnv(t))
}

// principalCacheCount reads the API principal cache's hits or misses from
// the server's /metrics.
func (e *env) principalCacheCount(t *testing.T, result string) float64 {
	t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	prefix := `gatehouse_cache_requests_total{cache="api_principal",result="` + result + `"} `
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

func testPrincipalCacheAndProfileEdits(t *testing.T, e *env) {
	adm := e.createUser(t, "admin")
	admTok := e.signIn(t, adm)
	u := e.createUser(t, "user")
	tok := e.signIn(t, u)

	// warm asks until two requests in a row are answered from the cache
	// (on PostgreSQL the cache serves once the change feed is connected).
	warm := func(t *testing.T, token string) {
		t.Helper()
		inRow := 0
		for n := 0; n < 50 && inRow < 2; n++ {
			before := e.principalCacheCount(t, "hit")
			want(t, e.do(t, "GET", "/users/me", token, nil), 200, "GET /users/me")
			if e.principalCacheCount(t, "hit") > before {
				inRow++
			} else {
				inRow = 0
			}
		}
		if inRow < 2 {
			t.Fatal("the principal cache never answered: the test does not exercise it")
		}
	}
	warm(t, admTok)
	warm(t, tok)

	// The user's own edits: profile fields, preferences merged twice (each
	// into what is stored, not into the cached user), its password.
	r := e.do(t, "PATCH", "/users/me", tok, map[string]any{"full_name": "Renamed Person", "preferences": map[string]any{"a": 1}})
	want(t, r, 200, "self profile edit")
	r = e.do(t, "PATCH", "/users/me", tok, map[string]any{"locale": "de-DE", "preferences": map[string]any{"b": 2}})
	want(t, r, 200, "second self profile edit")
	var prefs map[string]any
	if err := json.Unmarshal(mustJSON(t, r.JSON["preferences"]), &prefs); err != nil || prefs["a"] != float64(1) || prefs["b"] != float64(2) {
		t.Fatalf("preferences after two merges: %v, want a and b", r.JSON["preferences"])
	}
	r = e.do(t, "PUT", "/users/me/password", tok, map[string]string{"current_password": u.Password, "password": "Another-Long-Passphrase-7"})
	want(t, r, 204, "self password change")
	// An administrator's profile edit.
	r = e.do(t, "PATCH", "/users/"+u.ID, admTok, map[string]any{"phone_number": "+14155550123", "picture": "https://example.com/p.png"})
	want(t, r, 200, "admin profile edit")

	hits, misses := e.principalCacheCount(t, "hit"), e.principalCacheCount(t, "miss")
	for range 3 {
		r := e.do(t, "GET", "/users/me", tok, nil)
		want(t, r, 200, "GET /users/me after the profile edits")
		if r.JSON["full_name"] != "Renamed Person" || r.JSON["phone_number"] != "+14155550123" || r.JSON["locale"] != "de-DE" {
			t.Fatalf("/users/me after the edits: %s", r.Raw)
		}
	}
	if h, m := e.principalCacheCount(t, "hit")-hits, e.principalCacheCount(t, "miss")-misses; h != 3 || m != 0 {
		t.Errorf("after profile and password edits, 3 requests made %v hits and %v misses, want 3 and 0: the edits invalidated the cached principal", h, m)
	}

	// A lock refuses the cached token at once.
	r = e.do(t, "PUT", "/users/"+u.ID+"/status", admTok, map[string]string{"status": string(store.StatusLocked)})
	want(t, r, 200, "lock")
	r = e.do(t, "GET", "/users/me", tok, nil)
	want(t, r, 401, "the locked user's cached token")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("401 without invalid_token: %q", r.Header.Get("WWW-Authenticate"))
	}

	// An administrator's password reset revokes the user's grants, and so
	// refuses its token at once too (ChangeUserTokens). (Not necessarily
	// from the cache: on a shared store this instance holds the user out
	// of it for a while after the unlock it wrote.)
	r = e.do(t, "PUT", "/users/"+u.ID+"/status", admTok, map[string]string{"status": string(store.StatusActive)})
	want(t, r, 200, "unlock")
	u.Password = "Another-Long-Passphrase-7"
	tok = e.signIn(t, u)
	want(t, e.do(t, "GET", "/users/me", tok, nil), 200, "the new token before the reset")
	r = e.do(t, "PUT", "/users/"+u.ID+"/password", admTok, map[string]string{"password": "Third-Long-Passphrase-42"})
	want(t, r, 204, "admin password reset")
	want(t, e.do(t, "GET", "/users/me", tok, nil), 401, "the token after an administrator's password reset")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
