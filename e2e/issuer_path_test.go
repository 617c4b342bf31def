package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// TestIssuerWithPath runs gatehouse as https://host/auth would be run: every
// route lives under /auth, both discovery documents advertise only URLs that
// answer, and a sign-in, the resource API and a logout work there.
func TestIssuerWithPath(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.Issuer += "/auth" })
	iss, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	origin := iss.Scheme + "://" + iss.Host

	t.Run("discovery", func(t *testing.T) {
		docs := map[string]string{
			"openid-configuration":                  ts.URL + "/.well-known/openid-configuration",
			"oauth-authorization-server (RFC 8414)": origin + "/.well-known/oauth-authorization-server/auth",
			"oauth-authorization-server":            ts.URL + "/.well-known/oauth-authorization-server",
		}
		for name, addr := range docs {
			doc := getJSON(t, addr)
			if doc.Status != http.StatusOK {
				t.Fatalf("%s at %s: status %d", name, addr, doc.Status)
			}
			if doc.str("issuer") != ts.URL {
				t.Errorf("%s: issuer %q, want %q", name, doc.str("issuer"), ts.URL)
			}
			checked := 0
			for key, v := range doc.JSON {
				s, ok := v.(string)
				if !ok || key == "issuer" || !strings.HasPrefix(s, "http") {
					continue
				}
				checked++
				if !strings.HasPrefix(s, ts.URL+"/") {
					t.Errorf("%s: %s = %s is not under the issuer", name, key, s)
				}
				if status := answer(t, s); status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
					t.Errorf("%s: %s = %s answers %d", name, key, s, status)
				}
			}
			if checked < 7 {
				t.Errorf("%s: only %d URLs advertised", name, checked)
			}
		}
	})

	t.Run("sign-in, resource API and logout", func(t *testing.T) {
		admin := ts.createUser(t, "admin")
		client := ts.createConfidentialClient(t, func(c *store.Client) {
			c.Scopes = []string{"openid", "profile", "gatehouse:api"}
			c.FirstParty = true
		})
		rp := ts.newRP(t, client, "openid", "profile", "gatehouse:api")
		browser := ts.newBrowser(t)
		ar := rp.newAuthRequest(t, false)

		// The login page is under the issuer's path, and so is every
		// address it links to.
		pg := readPage(t, get(t, browser, ar.URL))
		if pg.Status != http.StatusOK || pg.URL.Path != "/auth/login" {
			t.Fatalf("authorize led to %s (status %d), want the login page at /auth/login", pg.URL, pg.Status)
		}
		if !strings.Contains(pg.Body, `href="/auth/static/style.css"`) {
			t.Errorf("login page does not link /auth/static/style.css\n%s", snippet(pg.Body))
		}
		if f := loginForm(t, pg); f.Action.Path != "/auth/login" {
			t.Errorf("login form posts to %s, want /auth/login", f.Action.Path)
		}
		if css := get(t, browser, ts.URL+"/static/style.css"); css.StatusCode != http.StatusOK {
			t.Errorf("stylesheet: status %d", css.StatusCode)
		} else {
			closeBody(css)
		}

		code, flow := rp.code(t, browser, ar, &admin)
		if !flow.SawLogin {
			t.Errorf("the flow did not show the login page")
		}
		tok := rp.exchange(t, code, ar)
		rp.verifyIDToken(t, tok, ar.Nonce)
		ui := ts.userinfo(t, tok.AccessToken)
		if ui.Status != http.StatusOK || ui.str("sub") != admin.ID {
			t.Errorf("userinfo: status %d sub %q, want 200 %s", ui.Status, ui.str("sub"), admin.ID)
		}

		me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", tok.AccessToken, nil)
		if me.Status != http.StatusOK || me.str("id") != admin.ID {
			t.Fatalf("/auth/api/v1/users/me: status %d %s", me.Status, snippet(me.Raw))
		}
		created := apiCall(t, ts, http.MethodPost, "/api/v1/users", tok.AccessToken, map[string]any{
			"username": "path-" + randomHex(t, 4), "email": "p" + randomHex(t, 4) + "@example.com", "password": "a long password",
		})
		if created.Status != http.StatusCreated {
			t.Fatalf("create user: status %d %s", created.Status, snippet(created.Raw))
		}
		if loc := created.Header.Get("Location"); loc != "/auth/api/v1/users/"+created.str("id") {
			t.Errorf("Location %q, want /auth/api/v1/users/%s", loc, created.str("id"))
		}
		if got := apiCall(t, ts, http.MethodGet, created.Header.Get("Location")[len("/auth"):], tok.AccessToken, nil); got.Status != http.StatusOK {
			t.Errorf("GET the Location: status %d", got.Status)
		}
		// Nothing answers outside the issuer's path but the probes.
		outside, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, origin+"/api/v1/users/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		outside.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r := doJSON(t, httpClient(), outside); r.Status != http.StatusNotFound {
			t.Errorf("/api/v1/users/me outside the issuer's path: status %d, want 404", r.Status)
		}

		rawID, _ := tok.Extra("id_token").(string)
		var doc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := rp.Provider.Claims(&doc); err != nil {
			t.Fatal(err)
		}
		q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {client.PostLogoutRedirectURIs[0]}}
		resp := get(t, browser, doc.EndSession+"?"+q.Encode())
		if !isRedirect(resp.StatusCode) || !strings.HasPrefix(location(t, resp).String(), client.PostLogoutRedirectURIs[0]) {
			pg := readPage(t, resp)
			t.Fatalf("end session at %s: status %d, want a redirect to the RP\n%s", doc.EndSession, pg.Status, snippet(pg.Body))
		}
		closeBody(resp)
		sessions, err := ts.Store.ListLoginSessions(ctxT(t), admin.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 0 {
			t.Errorf("login sessions after logout: %d, want 0", len(sessions))
		}
	})

	t.Run("unknown paths and probes", func(t *testing.T) {
		for _, addr := range []string{ts.URL + "/no-such-page", origin + "/no-such-page", origin + "/login"} {
			pg := readPage(t, get(t, httpClient(), addr))
			if pg.Status != http.StatusNotFound || pg.Title != "Page not found · gatehouse" {
				t.Errorf("%s: status %d title %q, want 404 \"Page not found · gatehouse\"", addr, pg.Status, pg.Title)
			}
		}
		for _, probe := range []string{"/healthz", "/readyz"} {
			if status := answer(t, origin+probe); status != http.StatusOK {
				t.Errorf("%s: status %d, want 200 at the host's root", probe, status)
			}
		}
	})
}

// answer is the status an address gives a GET, or a POST of an empty form
// when it takes only POST.
func answer(t *testing.T, addr string) int {
	t.Helper()
	status := func(method string) int {
		req, err := http.NewRequestWithContext(ctxT(t), method, addr, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := httpClient().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, addr, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		closeBody(resp)
		return resp.StatusCode
	}
	if s := status(http.MethodGet); s != http.StatusMethodNotAllowed {
		return s
	}
	return status(http.MethodPost)
}
