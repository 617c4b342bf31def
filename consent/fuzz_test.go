package consent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// fuzzKeyID names a fixed key the fuzz env's pages know beside the key
// manager's, so that committed seeds carry id_token_hints that verify.
const fuzzKeyID = "fuzz-hint-key"

func fuzzHintKey(tb testing.TB) *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("gatehouse fuzz id_token_hint key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// withFuzzKey is the key manager plus the fixed key, as a retired key still
// published would be.
type withFuzzKey struct {
	*keys.Manager
	key *ecdsa.PrivateKey
}

func (k withFuzzKey) PublicKey(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if kid == fuzzKeyID {
		return &jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: fuzzKeyID, Algorithm: string(jose.ES256), Use: "sig"}, nil
	}
	return k.Manager.PublicKey(ctx, kid)
}

// FuzzEndSession sends RP-initiated logout requests (id_token_hint,
// client_id, post_logout_redirect_uri, state), signed in or not. The answer
// is a page or a redirect to a post-logout URI registered for the client,
// and a signed-in session ends without asking only for a hint that
// verifies as an ID token of ours for its user.
func FuzzEndSession(f *testing.F) {
	fk := fuzzHintKey(f)
	var pk withFuzzKey
	e := newEnvWith(f, envOptions{publicKeys: func(m *keys.Manager) consent.PublicKeys {
		pk = withFuzzKey{Manager: m, key: fk}
		return pk
	}})
	alice := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createClient("web", postLogoutURI, "https://web.example/other?x=1#frag")
	e.createClient("other", "https://other.example/bye")
	registered := []string{postLogoutURI, "https://web.example/other?x=1#frag", "https://other.example/bye"}

	fixed := func(claims map[string]any) string { return signJWT(f, fk, fuzzKeyID, jose.ES256, claims) }
	seeds := []struct {
		hint, client, redirect, state string
		signedIn                      bool
	}{
		{e.hintFor(alice, "web"), "", postLogoutURI, "s1", true},
		{e.hintFor(alice, "web"), "web", "", "", false},
		{fixed(map[string]any{"iss": testIssuer, "sub": alice.ID, "aud": "web"}), "", postLogoutURI, "s2", true},
		{fixed(map[string]any{"iss": testIssuer, "sub": alice.ID, "aud": []string{"web", "other"}, "azp": "other"}), "", "https://other.example/bye", "", true},
		{fixed(map[string]any{"iss": testIssuer, "sub": alice.ID, "aud": "web"}), "other", "", "", true},
		{fixed(map[string]any{"iss": "https://evil.example", "sub": alice.ID, "aud": "web"}), "", "", "", true},
		{fixed(map[string]any{"iss": testIssuer, "aud": "web"}), "", "", "", false},
		{fixed(map[string]any{"iss": testIssuer, "sub": alice.ID, "aud": "nobody"}), "", "", "", false},
		{signJWT(f, fk, "", jose.ES256, map[string]any{"iss": testIssuer, "sub": alice.ID, "aud": "web"}), "", "", "", true},
		{"eyJhbGciOiJub25lIiwia2lkIjoiZnV6ei1oaW50LWtleSJ9.eyJzdWIiOiJ4In0.", "", "", "", true},
		{"not.a.jwt", "web", postLogoutURI, "", false},
		{"", "web", "https://web.example/other?x=1#frag", "a b&c", false},
		{"", "web", "https://evil.example/", "", true},
		{"", "nobody", "", "", false},
		{"", "", postLogoutURI, "", false},
		{"\x00", "\xff", "\x00", "\x00", true},
		{"", "", "", "", true},
		{"", "web", postLogoutURI, `"><script>alert(1)</script>`, true},
	}
	for _, s := range seeds {
		f.Add(s.hint, s.client, s.redirect, s.state, s.signedIn)
	}
	f.Fuzz(func(t *testing.T, hint, clientID, redirect, state string, signedIn bool) {
		q := url.Values{}
		for k, v := range map[string]string{"id_token_hint": hint, "client_id": clientID, "post_logout_redirect_uri": redirect, "state": state} {
			if v != "" {
				q.Set(k, v)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/oauth2/logout", nil)
		r.URL.RawQuery = q.Encode()
		var cookie string
		if signedIn {
			cookie = newSessionCookie(t, e, alice.ID)
			r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: cookie})
		}
		rec := httptest.NewRecorder()
		e.router.ServeHTTP(rec, r)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
			}
		case http.StatusSeeOther:
			loc := rec.Header().Get("Location")
			if !startsWithOneOf(loc, registered) {
				t.Fatalf("redirect to %q, which is no registered post-logout URI", loc)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if page := strings.ToLower(rec.Body.String()); strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			for _, v := range q {
				v := strings.ToLower(v[0])
				if (strings.Contains(v, "<script") || strings.Contains(v, `"><`) || strings.Contains(v, `'><`)) && strings.Contains(page, v) {
					t.Fatalf("%q appears unescaped in the page: %s", v, rec.Body)
				}
			}
		}
		if !signedIn {
			return
		}
		sess, err := e.pages.CurrentSession(withSession(cookie))
		if err != nil {
			t.Fatal(err)
		}
		if sess == nil && !hintOf(pk, hint, alice.ID) {
			t.Fatalf("the session ended without a hint for its user (status %d): hint %q", rec.Code, hint)
		}
	})
}

// newSessionCookie starts a login session for the user, as the login page
// does, and returns its cookie value.
func newSessionCookie(t *testing.T, e *env, userID string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	value := base64.RawURLEncoding.EncodeToString(b)
	u, err := e.store.GetUser(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartSession(context.Background(), domain.NewSession{ID: storeID(value), User: u, Lifetime: testLifetime}); err != nil {
		t.Fatal(err)
	}
	if s, err := e.pages.CurrentSession(withSession(value)); err != nil || s == nil {
		t.Fatalf("the new session is not current: %v", err)
	}
	return value
}

func withSession(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: cookie})
	return r
}

// hintOf reports whether raw is an ID token of ours (a known key, our
// issuer) about the user.
func hintOf(k consent.PublicKeys, raw, userID string) bool {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return false
	}
	key, err := k.PublicKey(context.Background(), tok.Headers[0].KeyID)
	if err != nil || key == nil {
		return false
	}
	var c jwt.Claims
	return tok.Claims(key.Public().Key, &c) == nil && c.Issuer == testIssuer && c.Subject == userID
}

// startsWithOneOf reports whether loc is one of the URIs, possibly with a
// state parameter added.
func startsWithOneOf(loc string, uris []string) bool {
	for _, u := range uris {
		base, _, _ := strings.Cut(u, "#")
		if loc == u || strings.HasPrefix(loc, base+"?state=") || strings.HasPrefix(loc, base+"&state=") {
			return true
		}
	}
	return false
}
