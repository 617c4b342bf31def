package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// This file holds the protocol details clients trip over: how numbers are
// written (RFC 7519 NumericDate), the 401 challenge (RFC 6749 §5.2) and
// repeated parameters (RFC 6749 §3.1).

// numericDateClaims are the claims that are NumericDates (RFC 7519 §2:
// seconds, written as a JSON number); libraries that decode them into
// integers refuse 1.8e+09.
var numericDateClaims = []string{"exp", "iat", "nbf", "auth_time", "updated_at", "rat"}

// wantIntegralNumbers decodes raw JSON keeping numbers as written and fails
// for any number, at any depth, that is not a plain integer (no fraction, no
// exponent), and for a missing required claim.
func wantIntegralNumbers(t *testing.T, what string, raw []byte, required ...string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: decode: %v\n%s", what, err, raw)
	}
	for _, k := range required {
		if _, ok := doc[k]; !ok {
			t.Errorf("%s: no %s claim in %s", what, k, raw)
		}
	}
	for _, k := range numericDateClaims {
		if v, ok := doc[k]; ok {
			if _, isNum := v.(json.Number); !isNum {
				t.Errorf("%s: %s is %T (%v), want a number", what, k, v, v)
			}
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case json.Number:
			if strings.ContainsAny(v.String(), ".eE") {
				t.Errorf("%s: %s is %s, want an integer", what, path, v)
			} else if _, err := v.Int64(); err != nil {
				t.Errorf("%s: %s is %s: %v", what, path, v, err)
			}
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk(what, doc)
}

// jwtPayload is the raw JSON text of a compact JWT's payload.
func jwtPayload(t *testing.T, raw string) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode JWT payload: %v", err)
	}
	return b
}

// TestNumericDatesAreIntegers: every NumericDate the server writes — in the
// ID token, the JWT access token, userinfo and introspection, on the code
// exchange and after a refresh (both read the grant's session back from the
// database) — is a JSON integer, not 1.796235815e+09.
func TestNumericDatesAreIntegers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUserWith(t, func(u *store.User) { u.UpdatedAt = time.Now() }, "user")
	if user.UpdatedAt.IsZero() {
		t.Fatal("the stored user has no updated_at: the test would not see the claim")
	}
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.AccessTokenFormat = store.FormatJWT })
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	tok, _, _ := rp.signIn(t, user)

	check := func(t *testing.T, idToken, accessToken, refreshToken string) {
		t.Helper()
		wantIntegralNumbers(t, "ID token", jwtPayload(t, idToken), "exp", "iat", "auth_time", "updated_at", "rat")
		wantIntegralNumbers(t, "JWT access token", jwtPayload(t, accessToken), "exp", "iat", "auth_time")
		ui := ts.userinfo(t, accessToken)
		if ui.Status != http.StatusOK {
			t.Fatalf("userinfo: status %d\n%s", ui.Status, ui.Raw)
		}
		wantIntegralNumbers(t, "userinfo", []byte(ui.Raw), "updated_at")
		for name, token := range map[string]string{"access token": accessToken, "refresh token": refreshToken} {
			info := ts.introspect(t, token, rs)
			if info.JSON["active"] != true {
				t.Fatalf("introspection of the %s: %s, want active", name, info.Raw)
			}
			wantIntegralNumbers(t, "introspection of the "+name, []byte(info.Raw), "exp", "iat")
		}
	}

	t.Run("code exchange", func(t *testing.T) {
		check(t, tok.Extra("id_token").(string), tok.AccessToken, tok.RefreshToken)
	})
	t.Run("refresh", func(t *testing.T) {
		r := ts.refresh(t, tok.RefreshToken, authOf(client))
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: status %d\n%s", r.Status, r.Raw)
		}
		ts.secret(r.str("access_token"), r.str("refresh_token"))
		wantIntegralNumbers(t, "token response", []byte(r.Raw), "expires_in")
		check(t, r.str("id_token"), r.str("access_token"), r.str("refresh_token"))
	})
}

// TestInvalidClientChallenge: every endpoint that authenticates clients
// answers a failed authentication with 401 invalid_client and a Basic
// challenge (RFC 6749 §5.2: it MUST when the client used the Authorization
// header; HTTP wants a challenge on every 401), whether the client sent its
// credentials in the header or in the form, and whether the client exists.
func TestInvalidClientChallenge(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	basic := ts.createConfidentialClient(t, nil)
	post := ts.createConfidentialClient(t, func(c *store.Client) { c.TokenEndpointAuthMethod = "client_secret_post" })
	challenge := `Basic realm="` + ts.URL + `"`

	endpoints := []struct {
		name, path string
		form       url.Values
	}{
		{"token", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"gh_rt_unknown.token"}}},
		{"introspection", "/oauth2/introspect", url.Values{"token": {"gh_at_unknown.token"}}},
		{"revocation", "/oauth2/revoke", url.Values{"token": {"gh_at_unknown.token"}}},
		{"PAR", "/oauth2/par", url.Values{"response_type": {"code"}, "redirect_uri": {post.RedirectURIs[0]}, "scope": {"openid"}}},
	}
	attempts := []struct {
		name          string
		header        bool // HTTP Basic, else client_secret_post
		id, secret    string
		noCredentials bool
	}{
		{name: "basic, wrong secret", header: true, id: basic.ID, secret: basic.Secret + "x"},
		{name: "basic, unknown client", header: true, id: "no-such-client", secret: basic.Secret},
		{name: "post, wrong secret", id: post.ID, secret: "ghs_" + randomHex(t, 32)},
		{name: "post, unknown client", id: "no-such-client", secret: post.Secret},
		{name: "no credentials", noCredentials: true},
	}
	for _, ep := range endpoints {
		for _, a := range attempts {
			t.Run(ep.name+"/"+a.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range ep.form {
					form[k] = v
				}
				var auth clientAuth
				switch {
				case a.noCredentials:
				case a.header:
					auth = clientAuth{ID: a.id, Secret: a.secret}
				default:
					form.Set("client_id", a.id)
					form.Set("client_secret", a.secret)
				}
				r := ts.post(t, ep.path, form, auth)
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
				if got := r.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
					t.Errorf("WWW-Authenticate %q, want [%s]", got, challenge)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
			})
		}
	}

	t.Run("no challenge on other errors", func(t *testing.T) {
		r := ts.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"gh_rt_unknown.token"}}, authOf(basic))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		if got := r.Header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate %q on a 400", got)
		}
	})
}
