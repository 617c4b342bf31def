package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestWrongClientSecret: a wrong secret is invalid_client with 401, however
// it is sent, and for an unknown client too.
func TestWrongClientSecret(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	basic := ts.createConfidentialClient(t, nil)
	post := ts.createConfidentialClient(t, func(c *store.Client) { c.TokenEndpointAuthMethod = "client_secret_post" })

	cases := []struct {
		name   string
		client testClient
		send   func(form url.Values) oauthResponse
	}{
		{"basic, wrong secret", basic, func(form url.Values) oauthResponse {
			return ts.token(t, form, clientAuth{ID: basic.ID, Secret: basic.Secret + "x"})
		}},
		{"post, wrong secret", post, func(form url.Values) oauthResponse {
			form.Set("client_id", post.ID)
			form.Set("client_secret", "ghs_"+randomHex(t, 32))
			return ts.token(t, form, clientAuth{})
		}},
		{"basic, no secret", basic, func(form url.Values) oauthResponse {
			return ts.token(t, form, clientAuth{ID: basic.ID})
		}},
		{"unknown client", basic, func(form url.Values) oauthResponse {
			return ts.token(t, form, clientAuth{ID: "no-such-client", Secret: basic.Secret})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := ts.newRP(t, tc.client)
			ar := rp.newAuthRequest(t, false)
			code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
			form := url.Values{
				"grant_type":    {"authorization_code"},
				"code":          {code},
				"redirect_uri":  {tc.client.RedirectURIs[0]},
				"code_verifier": {ar.Verifier},
			}
			r := tc.send(form)
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			// The code survives a failed client authentication: the right
			// client can still redeem it.
			rp.exchange(t, code, ar)
		})
	}
}

// TestUnregisteredRedirectURI: the server never redirects to a URI the
// client did not register; it shows an error page instead.
func TestUnregisteredRedirectURI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)

	signedIn := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	rp.code(t, signedIn, ar, &user)

	cases := []struct {
		name     string
		browser  *http.Client
		clientID string
		redirect string
		status   []int
	}{
		{"foreign host, signed out", httpClient(), client.ID, "https://evil.example/callback", []int{http.StatusBadRequest}},
		{"foreign host, signed in", signedIn, client.ID, "https://evil.example/callback", []int{http.StatusBadRequest}},
		{"registered host, other path", signedIn, client.ID, strings.TrimSuffix(client.RedirectURIs[0], "callback") + "other", []int{http.StatusBadRequest}},
		{"registered URI plus a query", signedIn, client.ID, client.RedirectURIs[0] + "?x=1", []int{http.StatusBadRequest}},
		// invalid_client: 401 is fosite's status for it, 400 as fine.
		{"unknown client", signedIn, "no-such-client", client.RedirectURIs[0], []int{http.StatusBadRequest, http.StatusUnauthorized}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ar := rp.newAuthRequest(t, false)
			u, _ := url.Parse(ar.URL)
			q := u.Query()
			q.Set("redirect_uri", tc.redirect)
			q.Set("client_id", tc.clientID)
			u.RawQuery = q.Encode()

			resp := get(t, tc.browser, u.String())
			pg := readPage(t, resp)
			if !containsInt(tc.status, pg.Status) {
				t.Errorf("status %d, want %v", pg.Status, tc.status)
			}
			if loc := pg.Header.Get("Location"); loc != "" {
				t.Errorf("Location %q: the error must not redirect", loc)
			}
			if ct := pg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want an HTML error page", ct)
			}
			if strings.Contains(pg.Body, "href=\"https://evil") {
				t.Errorf("error page links to the unregistered URI")
			}
		})
	}
}

// TestCodeReuse: a code redeemed twice fails the second time, and the
// tokens of the first redemption are revoked (RFC 6749 section 4.1.2).
func TestCodeReuse(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	ar := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
	tok := rp.exchange(t, code, ar)
	if !ts.isActive(t, tok.AccessToken, rs) {
		t.Fatalf("first redemption's access token inactive")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {ar.Verifier}}
	wantOAuthError(t, ts.token(t, form, authOf(client)), http.StatusBadRequest, "invalid_grant")
	if ts.isActive(t, tok.AccessToken, rs) {
		t.Errorf("access token of the first redemption still active after the code was replayed")
	}
	if ts.isActive(t, tok.RefreshToken, rs) {
		t.Errorf("refresh token of the first redemption still active after the code was replayed")
	}
	if row, err := ts.Store.GetToken(ctxT(t), store.KindAuthorizeCode, tokenSignature(t, code, "gh_ac_")); err != nil || row.Active {
		t.Errorf("store: redeemed code row: err %v active %v; want kept and inactive", err, row.Active)
	}
}

// TestPKCEErrors covers the PKCE rules: the verifier must match, and a
// public client must use PKCE.
func TestPKCEErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	t.Run("wrong verifier", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createPublicClient(t, nil)
		rp := ts.newRP(t, client)
		ar := rp.newAuthRequest(t, false)
		code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
		for _, verifier := range []string{strings.Repeat("a", 43), ""} {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}}
			if verifier != "" {
				form.Set("code_verifier", verifier)
			}
			r := ts.token(t, form, authOf(client))
			if r.Status != http.StatusBadRequest || (r.str("error") != "invalid_grant" && !(verifier == "" && r.str("error") == "invalid_request")) {
				t.Errorf("verifier %q: status %d error %q, want 400 invalid_grant", verifier, r.Status, r.str("error"))
			}
			if _, ok := r.JSON["access_token"]; ok {
				t.Fatalf("tokens issued without the right verifier")
			}
		}
	})
	t.Run("wrong verifier, confidential client", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createConfidentialClient(t, nil)
		rp := ts.newRP(t, client)
		ar := rp.newAuthRequest(t, false)
		code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {otherVerifier(ar.Verifier)}}
		wantOAuthError(t, ts.token(t, form, authOf(client)), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createPublicClient(t, nil)
		rp := ts.newRP(t, client)
		ar := rp.newAuthRequest(t, true)
		res := rp.authorize(t, ts.newBrowser(t), ar, &user)
		if got := res.Query.Get("error"); got != "invalid_request" {
			t.Errorf("error = %q (%s), want invalid_request", got, res.Query.Get("error_description"))
		}
		if res.Query.Get("code") != "" {
			t.Errorf("a code was issued to a public client without PKCE")
		}
		if res.SawLogin || res.SawConsent {
			t.Logf("note: the request was refused only after login %v / consent %v", res.SawLogin, res.SawConsent)
		}
	})
	t.Run("plain PKCE method", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createPublicClient(t, nil)
		rp := ts.newRP(t, client)
		ar := rp.newAuthRequest(t, true)
		u, _ := url.Parse(ar.URL)
		q := u.Query()
		q.Set("code_challenge", strings.Repeat("p", 43))
		q.Set("code_challenge_method", "plain")
		u.RawQuery = q.Encode()
		ar.URL = u.String()
		res := rp.authorize(t, ts.newBrowser(t), ar, &user)
		if got := res.Query.Get("error"); got != "invalid_request" {
			t.Errorf("error = %q (%s), want invalid_request", got, res.Query.Get("error_description"))
		}
	})
}

// TestExpiredCode: a code past its (client-specific, 1 s) lifetime is
// invalid_grant.
func TestExpiredCode(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.Lifetimes.AuthorizationCode = time.Second })
	rp := ts.newRP(t, client)
	ar := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
	row, err := ts.Store.GetToken(ctxT(t), store.KindAuthorizeCode, tokenSignature(t, code, "gh_ac_"))
	if err != nil {
		t.Fatalf("store: code row: %v", err)
	}
	if life := row.ExpiresAt.Sub(row.RequestedAt); life > 2*time.Second {
		t.Errorf("stored code lives %v, want the client's 1s", life)
	}
	time.Sleep(2 * time.Second)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]}, "code_verifier": {ar.Verifier}}
	wantOAuthError(t, ts.token(t, form, authOf(client)), http.StatusBadRequest, "invalid_grant")
}

// TestTokenEndpointBadRequests: unknown grant types and missing parameters
// get their exact RFC 6749 errors.
func TestTokenEndpointBadRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, nil)
	cases := []struct {
		name   string
		form   url.Values
		status int
		error  string
	}{
		{"unknown grant type", url.Values{"grant_type": {"urn:example:unknown"}}, http.StatusBadRequest, "unsupported_grant_type"},
		{"password grant (not offered)", url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, http.StatusBadRequest, "unsupported_grant_type"},
		{"implicit is no grant type", url.Values{"grant_type": {"implicit"}}, http.StatusBadRequest, "unsupported_grant_type"},
		{"missing grant_type", url.Values{"code": {"gh_ac_x.y"}}, http.StatusBadRequest, "invalid_request"},
		{"empty body", url.Values{}, http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.token(t, tc.form, authOf(client))
			wantOAuthError(t, r, tc.status, tc.error)
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		r := getJSON(t, ts.endpoint("/oauth2/token?grant_type=client_credentials"))
		if r.Status != http.StatusBadRequest && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("GET token endpoint: status %d, want 400 or 405", r.Status)
		}
	})
}

// TestOversizedBody: a 2 MiB POST to the token endpoint is refused without
// the server reading it all, whether its length is declared or not. The
// request goes over a raw connection that sends only part of the body and
// then stops: the server can only answer if it does not wait for the rest.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, nil)
	const size = 2 << 20
	limit := ts.Config.HTTP.MaxBodyBytes
	if limit <= 0 || limit+512<<10 >= size {
		t.Fatalf("max body %d leaves no room to prove the body is not read in full", limit)
	}

	cases := []struct {
		name    string
		chunked bool
		// sendAtMost is how many body bytes the client sends before it
		// stops writing (without finishing the body or closing).
		sendAtMost int64
		status     []int
	}{
		// A declared length over the limit is refused before any body is read.
		{"declared Content-Length", false, 64 << 10, []int{http.StatusRequestEntityTooLarge}},
		// Chunked, the server finds out by reading past the limit. Go's
		// server may then drain up to 256 KiB more before it answers, so
		// the client sends that much beyond the limit and then stops.
		{"chunked", true, limit + 512<<10, []int{http.StatusRequestEntityTooLarge, http.StatusBadRequest}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, sent := postPartialBody(t, ts, "/oauth2/token", size, tc.sendAtMost, tc.chunked, authOf(client))
			if sent >= size {
				t.Fatalf("sent %d bytes, the whole body", sent)
			}
			var r map[string]any
			_ = json.Unmarshal(body, &r)
			if !containsInt(tc.status, status) || r["error"] != "invalid_request" {
				t.Errorf("status %d error %v, want %v invalid_request\n%s", status, r["error"], tc.status, snippet(string(body)))
			}
		})
	}
}

// postPartialBody POSTs to path announcing a body of size bytes (declared,
// or chunked) but sends at most sendAtMost of them, and returns the status
// and body of the response and how many body bytes were written. It fails
// if no response comes: the server is waiting for the rest of the body.
func postPartialBody(t *testing.T, ts *testServer, path string, size, sendAtMost int64, chunked bool, auth clientAuth) (int, []byte, int64) {
	t.Helper()
	conn, host := ts.dialRaw(t)

	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n", path, host)
	fmt.Fprintf(&head, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(auth.ID+":"+auth.Secret)))
	if chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", size)
	}

	var sent atomic.Int64
	go func() {
		if _, err := io.WriteString(conn, head.String()); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("a"), 32<<10)
		for sent.Load()+int64(len(chunk)) <= sendAtMost {
			var err error
			if chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = conn.Write(chunk)
			}
			if err != nil {
				return // the server closed the connection: expected
			}
			sent.Add(int64(len(chunk)))
		}
	}()

	type answer struct {
		status int
		body   []byte
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		answered <- answer{resp.StatusCode, b, err}
	}()
	select {
	case a := <-answered:
		if a.err != nil {
			t.Fatalf("reading the response after %d body bytes: %v", sent.Load(), a.err)
		}
		return a.status, a.body, sent.Load()
	case <-time.After(requestTimeout):
		t.Fatalf("no response after %d of %d body bytes: the server waits for the rest of an oversized body", sent.Load(), size)
		return 0, nil, 0
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestLoginFailures: a wrong password and an unknown user get the same
// page, status and message; nothing tells them apart but the echoed name.
func TestLoginFailures(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	locked := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusLocked }, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	browser := ts.newBrowser(t)

	ar := rp.newAuthRequest(t, false)
	first := readPage(t, get(t, browser, ar.URL))
	loginURL := first.URL.String()
	form := loginForm(t, first)
	if rt := form.Fields.Get("return_to"); !strings.HasPrefix(rt, "/oauth2/auth?") {
		t.Errorf("return_to = %q, want the authorization request", rt)
	}

	attempt := func(username, password string) page {
		t.Helper()
		return readPage(t, login(t, browser, loginURL, username, password))
	}
	unknownName := "nobody-" + randomHex(t, 4)
	wrong := attempt(user.Username, user.Password+"x")
	unknown := attempt(unknownName, user.Password)
	lockedPage := attempt(locked.Username, locked.Password)

	for name, pg := range map[string]page{"wrong password": wrong, "unknown user": unknown, "locked user": lockedPage} {
		if pg.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, pg.Status)
		}
		if pg.Form("password") == nil {
			t.Errorf("%s: the login form is not shown again", name)
		}
		if !strings.Contains(pg.Body, "Invalid username or password.") {
			t.Errorf("%s: the page lacks the message \"Invalid username or password.\"", name)
		}
		for _, leak := range []string{"unknown user", "no such user", "not found", "wrong password", "locked", "does not exist"} {
			if strings.Contains(strings.ToLower(pg.Body), leak) {
				t.Errorf("%s: the page says %q", name, leak)
			}
		}
		if f := pg.Form("password"); f != nil && f.Fields.Get("password") != "" {
			t.Errorf("%s: the password is echoed back", name)
		}
	}
	// Identical bodies but for the echoed username.
	norm := func(pg page, username string) string { return strings.ReplaceAll(pg.Body, username, "USERNAME") }
	if a, b := norm(wrong, user.Username), norm(unknown, unknownName); a != b {
		t.Errorf("wrong-password and unknown-user pages differ beyond the username:\n%s\n----\n%s", a, b)
	}
	if a, b := norm(wrong, user.Username), norm(lockedPage, locked.Username); a != b {
		t.Errorf("wrong-password and locked-user pages differ beyond the username")
	}

	for _, u := range []testUser{user, locked} {
		sessions, err := ts.Store.ListLoginSessions(ctxT(t), u.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 0 {
			t.Errorf("%s: %d login sessions after failed logins, want 0", u.Username, len(sessions))
		}
	}
	if hasCookie(browser, ts.URL, "gatehouse_session") {
		t.Errorf("a session cookie was set by a failed login")
	}

	// The right password still works in the same browser afterwards.
	res := rp.authorize(t, browser, ar, &user)
	if res.Query.Get("code") == "" {
		t.Errorf("correct login after failures did not complete: %v", res.Query)
	}
}

// TestForgedCSRF: a login or consent POST whose csrf_token does not match
// the browser's cookie is refused with 403 and changes nothing.
func TestForgedCSRF(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	t.Run("login", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
		browser := ts.newBrowser(t)
		ar := rp.newAuthRequest(t, false)
		pg := readPage(t, get(t, browser, ar.URL))
		f := loginForm(t, pg)
		cases := map[string]url.Values{
			"forged token":  {"csrf_token": {"forged-" + randomHex(t, 16)}},
			"missing token": {"csrf_token": {""}},
		}
		for name, override := range cases {
			override.Set("username", user.Username)
			override.Set("password", user.Password)
			resp := submit(t, browser, f, override)
			got := readPage(t, resp)
			if got.Status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", name, got.Status)
			}
			if got.Header.Get("Location") != "" {
				t.Errorf("%s: redirected to %s", name, got.Header.Get("Location"))
			}
			for _, c := range resp.Cookies() {
				if strings.Contains(c.Name, "session") && c.Value != "" {
					t.Errorf("%s: session cookie %s set", name, c.Name)
				}
			}
		}
		// A token minted for another browser's cookie is just as useless.
		other := ts.newBrowser(t)
		otherForm := loginForm(t, readPage(t, get(t, other, ar.URL)))
		resp := submit(t, browser, f, url.Values{"csrf_token": {otherForm.Fields.Get("csrf_token")}, "username": {user.Username}, "password": {user.Password}})
		if got := readPage(t, resp); got.Status != http.StatusForbidden {
			t.Errorf("another browser's token: status %d, want 403", got.Status)
		}
		sessions, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) != 0 {
			t.Errorf("%d login sessions after forged logins, want 0", len(sessions))
		}
	})

	t.Run("consent", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createConfidentialClient(t, nil)
		rp := ts.newRP(t, client)
		browser := ts.newBrowser(t)
		ar := rp.newAuthRequest(t, false)
		pg := readPage(t, login(t, browser, readPage(t, get(t, browser, ar.URL)).URL.String(), user.Username, user.Password))
		f := consentForm(t, pg)
		cases := []struct {
			name     string
			override url.Values
			status   int
		}{
			{"forged csrf_token", url.Values{"csrf_token": {"forged-" + randomHex(t, 16)}}, http.StatusForbidden},
			{"missing csrf_token", url.Values{"csrf_token": {""}}, http.StatusForbidden},
			{"forged binding", url.Values{"binding": {"forged-" + randomHex(t, 16)}}, 0},
			{"request swapped", url.Values{"request": {f.Fields.Get("request") + "x"}}, 0},
		}
		for _, tc := range cases {
			tc.override.Set("decision", "allow")
			resp := submit(t, browser, f, tc.override)
			if isRedirect(resp.StatusCode) {
				loc := location(t, resp)
				closeBody(resp)
				t.Errorf("%s: redirected to %s; want refusal", tc.name, loc.Redacted())
				continue
			}
			got := readPage(t, resp)
			if tc.status != 0 && got.Status != tc.status {
				t.Errorf("%s: status %d, want %d", tc.name, got.Status, tc.status)
			}
			if got.Status < 400 || got.Status >= 500 {
				t.Errorf("%s: status %d, want a client error", tc.name, got.Status)
			}
		}
		if _, err := ts.Store.GetConsent(ctxT(t), user.ID, client.ID, time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("consent stored after forged submissions (err %v)", err)
		}
		// The genuine form still works.
		resp := submit(t, browser, f, url.Values{"decision": {"allow"}})
		if !isRedirect(resp.StatusCode) {
			t.Fatalf("genuine consent: status %d, want a redirect", resp.StatusCode)
		}
		loc := location(t, resp)
		closeBody(resp)
		if loc.Query().Get("code") == "" || loc.Query().Get("state") != ar.State {
			t.Errorf("genuine consent: callback %v", loc.Query())
		}
		ts.secret(loc.Query().Get("code"))
	})
}

// TestConsentDeny: deny sends access_denied to the client and stores nothing.
func TestConsentDeny(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	browser := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	pg := readPage(t, login(t, browser, readPage(t, get(t, browser, ar.URL)).URL.String(), user.Username, user.Password))
	resp := consent(t, browser, pg, "deny")
	if !isRedirect(resp.StatusCode) {
		t.Fatalf("deny: status %d, want a redirect to the client", resp.StatusCode)
	}
	loc := location(t, resp)
	closeBody(resp)
	if !strings.HasPrefix(loc.String(), client.RedirectURIs[0]) {
		t.Fatalf("deny redirected to %s", loc.Redacted())
	}
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != ar.State || q.Get("code") != "" {
		t.Errorf("deny callback: %v, want error=access_denied with the state and no code", q)
	}
	if _, err := ts.Store.GetConsent(ctxT(t), user.ID, client.ID, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consent stored after deny (err %v)", err)
	}
}

// TestUserinfoRejectsBadTokens: userinfo answers 401 with a Bearer challenge
// for missing or unknown tokens.
func TestUserinfoRejectsBadTokens(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for _, tok := range []string{"", "gh_at_unknown.token", "garbage"} {
		t.Run(fmt.Sprintf("token %q", tok), func(t *testing.T) {
			r := ts.userinfo(t, tok)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", r.Status)
			}
			if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", h)
			}
		})
	}
}

// hasCookie reports whether the jar holds a non-empty cookie named name for
// rawURL.
func hasCookie(c *http.Client, rawURL, name string) bool {
	u, _ := url.Parse(rawURL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name && ck.Value != "" {
			return true
		}
	}
	return false
}

// otherVerifier is a valid PKCE verifier that differs from v: its first
// character changed (to another one than it was, so that it never comes out
// the same).
func otherVerifier(v string) string {
	first := byte('x')
	if v[0] == first {
		first = 'y'
	}
	return string(first) + v[1:]
}
