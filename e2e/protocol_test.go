package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
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

// TestRepeatedParameters: a parameter sent twice — in the form, in the query
// and the form, or with an empty value — is invalid_request (RFC 6749
// §3.1), at every endpoint, and nothing is done for the request: no code is
// used, no token revoked, no pushed request stored. At the authorization
// endpoint the error goes to the client's redirect URI when client_id and
// redirect_uri are unambiguous and valid, and is shown on a page otherwise.
func TestRepeatedParameters(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	auth := authOf(client)
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	tok, _, browser := rp.signIn(t, user)

	wantRefused := func(t *testing.T, r oauthResponse) {
		t.Helper()
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if !strings.Contains(r.str("error_description"), "more than once") {
			t.Errorf("error_description %q does not say a parameter was repeated", r.str("error_description"))
		}
	}

	t.Run("token", func(t *testing.T) {
		cases := []struct {
			name  string
			query string
			form  func(code, verifier string) url.Values
		}{
			{"grant_type twice, same value", "", func(code, verifier string) url.Values {
				return url.Values{"grant_type": {"authorization_code", "authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier}}
			}},
			{"empty duplicate", "", func(code, verifier string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {"", verifier}}
			}},
			{"in the query and the body", "code=elsewhere", func(code, verifier string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {verifier}}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ar := rp.newAuthRequest(t, false)
				code, _ := rp.code(t, browser, ar, nil)
				path := "/oauth2/token"
				if tc.query != "" {
					path += "?" + tc.query
				}
				wantRefused(t, ts.post(t, path, tc.form(code, ar.Verifier), auth))
				// The refusal came before the code was looked at.
				rp.exchange(t, code, ar)
			})
		}
		t.Run("refresh_token twice", func(t *testing.T) {
			wantRefused(t, ts.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken, tok.RefreshToken}}, auth))
			if !ts.isActive(t, tok.RefreshToken, rs) {
				t.Errorf("the refused request used the refresh token")
			}
		})
	})

	t.Run("introspection", func(t *testing.T) {
		wantRefused(t, ts.post(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken, tok.AccessToken}}, rs))
		wantRefused(t, ts.post(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"", "access_token"}}, rs))
	})

	t.Run("revocation", func(t *testing.T) {
		wantRefused(t, ts.post(t, "/oauth2/revoke", url.Values{"token": {tok.RefreshToken, tok.RefreshToken}}, auth))
		wantRefused(t, ts.post(t, "/oauth2/revoke?token="+url.QueryEscape(tok.RefreshToken), url.Values{"token": {tok.RefreshToken}}, auth))
		if !ts.isActive(t, tok.RefreshToken, rs) || !ts.isActive(t, tok.AccessToken, rs) {
			t.Errorf("the refused requests revoked the grant")
		}
	})

	t.Run("PAR", func(t *testing.T) {
		params := func() url.Values {
			return url.Values{
				"response_type":         {"code"},
				"redirect_uri":          {client.RedirectURIs[0]},
				"scope":                 {"openid"},
				"state":                 {"st-" + randomHex(t, 8)},
				"code_challenge":        {oauth2S256(t)},
				"code_challenge_method": {"S256"},
			}
		}
		before := parRequestCount(t, client.ID)
		p := params()
		p["scope"] = []string{"openid", "openid profile"}
		wantRefused(t, ts.post(t, "/oauth2/par", p, auth))
		p = params()
		p["state"] = append(p["state"], "")
		wantRefused(t, ts.post(t, "/oauth2/par", p, auth))
		wantRefused(t, ts.post(t, "/oauth2/par?redirect_uri="+url.QueryEscape(client.RedirectURIs[0]), params(), auth))
		if n := parRequestCount(t, client.ID); n != before {
			t.Errorf("store: %d pushed requests after the refusals, want %d", n, before)
		}
		// The same request without the repetition is accepted.
		if r := ts.post(t, "/oauth2/par", params(), auth); r.Status != http.StatusCreated {
			t.Fatalf("PAR: status %d, want 201\n%s", r.Status, r.Raw)
		}
	})

	t.Run("authorize", func(t *testing.T) {
		// with adds values to the query of a fresh authorization URL.
		with := func(t *testing.T, add url.Values) (authRequest, string) {
			t.Helper()
			ar := rp.newAuthRequest(t, false)
			u, err := url.Parse(ar.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			for k, vs := range add {
				for _, v := range vs {
					q.Add(k, v)
				}
			}
			u.RawQuery = q.Encode()
			return ar, u.String()
		}
		// toClient: the error is sent to the redirect URI, with the state.
		toClient := func(t *testing.T, resp *http.Response, state string) {
			t.Helper()
			defer closeBody(resp)
			if !isRedirect(resp.StatusCode) {
				t.Fatalf("status %d, want a redirect to the client\n%s", resp.StatusCode, snippet(readPage(t, resp).Body))
			}
			loc := location(t, resp)
			if !strings.HasPrefix(loc.String(), client.RedirectURIs[0]+"?") {
				t.Fatalf("redirected to %s, want the redirect URI %s", loc.Redacted(), client.RedirectURIs[0])
			}
			q := loc.Query()
			if q.Get("error") != "invalid_request" || q.Get("code") != "" || q.Get("state") != state {
				t.Errorf("callback %s, want error=invalid_request, no code, state %q", loc.RawQuery, state)
			}
			if !strings.Contains(q.Get("error_description"), "more than once") {
				t.Errorf("error_description %q does not say a parameter was repeated", q.Get("error_description"))
			}
		}
		// onPage: the error is shown, the browser not sent anywhere.
		onPage := func(t *testing.T, resp *http.Response) {
			t.Helper()
			pg := readPage(t, resp)
			if pg.Status != http.StatusBadRequest || pg.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want 400 and no redirect", pg.Status, pg.Header.Get("Location"))
			}
			if !strings.HasPrefix(pg.Header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q, want an HTML page", pg.Header.Get("Content-Type"))
			}
		}

		t.Run("state twice", func(t *testing.T) {
			ar, u := with(t, url.Values{"state": {"other"}})
			toClient(t, get(t, httpClient(), u), ar.State)
		})
		t.Run("scope twice", func(t *testing.T) {
			ar, u := with(t, url.Values{"scope": {"openid"}})
			toClient(t, get(t, browser, u), ar.State)
		})
		t.Run("empty nonce duplicate", func(t *testing.T) {
			ar, u := with(t, url.Values{"nonce": {""}})
			toClient(t, get(t, httpClient(), u), ar.State)
		})
		t.Run("in the query and the body", func(t *testing.T) {
			ar, u := with(t, nil)
			body := url.Values{"nonce": {"n-" + randomHex(t, 8)}}
			toClient(t, postForm(t, httpClient(), u, body, nil), ar.State)
		})
		t.Run("client_id twice", func(t *testing.T) {
			_, u := with(t, url.Values{"client_id": {client.ID}})
			onPage(t, get(t, httpClient(), u))
		})
		t.Run("redirect_uri twice", func(t *testing.T) {
			_, u := with(t, url.Values{"redirect_uri": {client.RedirectURIs[0]}})
			onPage(t, get(t, httpClient(), u))
		})
		t.Run("redirect_uri and nonce twice", func(t *testing.T) {
			_, u := with(t, url.Values{"redirect_uri": {client.RedirectURIs[0]}, "nonce": {"n-other"}})
			onPage(t, get(t, httpClient(), u))
		})
		t.Run("unknown client", func(t *testing.T) {
			u := ts.endpoint("/oauth2/auth?" + url.Values{
				"client_id": {"no-such-client"}, "response_type": {"code"}, "redirect_uri": {client.RedirectURIs[0]},
				"scope": {"openid", "openid"}, "state": {"st-x"},
			}.Encode())
			onPage(t, get(t, httpClient(), u))
		})
	})

	t.Run("audience and resource may repeat", func(t *testing.T) {
		svc := ts.createConfidentialClient(t, func(c *store.Client) {
			c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
			c.GrantTypes = []string{"client_credentials"}
			c.Scopes = []string{"reports:read"}
			c.Audience = []string{"https://a.rs.example", "https://b.rs.example"}
		})
		r := ts.token(t, url.Values{
			"grant_type": {"client_credentials"}, "scope": {"reports:read"},
			"audience": {"https://a.rs.example", "https://b.rs.example"},
			"resource": {"https://a.rs.example", "https://b.rs.example"},
		}, authOf(svc))
		if r.Status != http.StatusOK {
			t.Fatalf("client_credentials: status %d\n%s", r.Status, r.Raw)
		}
		ts.secret(r.str("access_token"))
		info := ts.introspect(t, r.str("access_token"), rs)
		aud, _ := info.JSON["aud"].([]any)
		if len(aud) != 2 {
			t.Errorf("introspection aud %v, want both audiences", info.JSON["aud"])
		}
	})
}

// oauth2S256 is a PKCE S256 challenge of a fresh verifier.
func oauth2S256(t *testing.T) string {
	t.Helper()
	return oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
}

// TestRepeatedParametersMultipartAndLargeBodies: a multipart form is
// checked like an urlencoded one, and a form body too large to check
// (over 1 MiB, on a server that allows larger bodies) is refused.
func TestRepeatedParametersMultipartAndLargeBodies(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = 4 << 20 })
	svc := ts.serviceClient(t, []string{"reports:read"})

	multipartPost := func(t *testing.T, fields [][2]string) oauthResponse {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, f := range fields {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, ts.endpoint("/oauth2/token"), &body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.SetBasicAuth(url.QueryEscape(svc.ID), url.QueryEscape(svc.Secret))
		return doJSON(t, httpClient(), req)
	}
	t.Run("multipart", func(t *testing.T) {
		r := multipartPost(t, [][2]string{{"grant_type", "client_credentials"}, {"scope", "reports:read"}})
		if r.Status != http.StatusOK {
			t.Fatalf("multipart client_credentials: status %d, want 200\n%s", r.Status, r.Raw)
		}
		ts.secret(r.str("access_token"))
		r = multipartPost(t, [][2]string{{"grant_type", "client_credentials"}, {"scope", "reports:read"}, {"scope", ""}})
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("body over 1 MiB", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}, "padding": {strings.Repeat("x", 3<<19)}}
		r := ts.token(t, form, authOf(svc))
		wantOAuthError(t, r, http.StatusRequestEntityTooLarge, "invalid_request")
		if _, ok := r.JSON["access_token"]; ok {
			t.Errorf("a token was issued")
		}
	})
}
