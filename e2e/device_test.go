package e2e

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

const grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// userCodePattern is the user code as shown: eight of RFC 8628's
// consonants, XXXX-XXXX.
var userCodePattern = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// deviceServer is a server whose devices may poll every second, so the
// flows driven by x/oauth2's poller take seconds, not the default fives.
func deviceServer(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *config.Config) {
		c.DeviceCode.Interval = time.Second
		if mutate != nil {
			mutate(c)
		}
	})
}

// devicePublicClient is a public client (a TV app, a CLI) allowed the
// device grant and refresh.
func (ts *testServer) devicePublicClient(t *testing.T) testClient {
	t.Helper()
	return ts.createPublicClient(t, func(c *store.Client) {
		c.Name = "Living Room TV " + c.ID
		// The redirect URI is never used (the relying party's helpers
		// want one): the grant types leave out authorization_code.
		c.GrantTypes = []string{grantDeviceCode, "refresh_token"}
	})
}

// deviceConfidentialClient authenticates with client_secret_basic.
func (ts *testServer) deviceConfidentialClient(t *testing.T) testClient {
	t.Helper()
	return ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
		c.GrantTypes = []string{grantDeviceCode}
		c.Scopes = []string{"profile", "email"}
	})
}

// deviceAuth asks the device authorization endpoint for codes.
func (ts *testServer) deviceAuth(t *testing.T, auth clientAuth, scope string) oauthResponse {
	t.Helper()
	form := url.Values{}
	if scope != "" {
		form.Set("scope", scope)
	}
	r := ts.post(t, "/oauth2/device/auth", form, auth)
	ts.secret(r.str("device_code"), r.str("user_code"))
	return r
}

// pollDevice is one poll of the token endpoint with a device code.
func (ts *testServer) pollDevice(t *testing.T, deviceCode string, auth clientAuth) oauthResponse {
	t.Helper()
	r := ts.token(t, url.Values{"grant_type": {grantDeviceCode}, "device_code": {deviceCode}}, auth)
	ts.secret(r.str("access_token"), r.str("refresh_token"))
	return r
}

// openDevicePage fetches the /device page at rawURL and returns its code
// entry form, failing unless it is one.
func openDevicePage(t *testing.T, browser *http.Client, rawURL string) page {
	t.Helper()
	pg := readPage(t, get(t, browser, rawURL))
	if pg.Status != http.StatusOK || pg.Form("user_code") == nil {
		t.Fatalf("device page %s: status %d, title %q, no code form\n%s", rawURL, pg.Status, pg.Title, snippet(pg.Body))
	}
	return pg
}

// enterUserCode submits the code entry form of pg with code (empty: as
// the form is filled in) and returns the page it leads to.
func enterUserCode(t *testing.T, browser *http.Client, pg page, code string) page {
	t.Helper()
	f := pg.Form("user_code")
	if f.Fields.Get("csrf_token") == "" {
		t.Fatalf("device form has no csrf_token")
	}
	var over url.Values
	if code != "" {
		over = url.Values{"user_code": {code}}
	}
	return readPage(t, submit(t, browser, f, over))
}

// approveDevice plays the person: opens the verification link, confirms
// the code, signs in as u if asked (then confirms again, back on the
// page), and answers decision on the consent step. It returns the final
// page.
func approveDevice(t *testing.T, ts *testServer, browser *http.Client, link, clientName string, u testUser, decision string) page {
	t.Helper()
	pg := deviceConsentPage(t, browser, link, clientName, u)
	f := pg.FormWithButton("decision", decision)
	done := readPage(t, submit(t, browser, f, url.Values{"decision": {decision}}))
	if done.Status != http.StatusOK || !strings.Contains(done.Body, "return to your device") {
		t.Fatalf("after %s: status %d, title %q\n%s", decision, done.Status, done.Title, snippet(done.Body))
	}
	return done
}

// deviceConsentPage goes from the verification link to the consent step,
// signing in as u on the way if asked.
func deviceConsentPage(t *testing.T, browser *http.Client, link, clientName string, u testUser) page {
	t.Helper()
	pg := openDevicePage(t, browser, link)
	pg = enterUserCode(t, browser, pg, "")
	if pg.Form("password") != nil {
		pg = readPage(t, submit(t, browser, loginForm(t, pg), url.Values{"username": {u.Username}, "password": {u.Password}}))
		// Back on the device page, the code filled in: the link still
		// needs the person's confirmation.
		if pg.Form("user_code") == nil || !strings.HasSuffix(pg.URL.Path, "/device") {
			t.Fatalf("after sign-in: %s, title %q, want the device page\n%s", pg.URL, pg.Title, snippet(pg.Body))
		}
		pg = enterUserCode(t, browser, pg, "")
	}
	f := pg.FormWithButton("decision", "allow")
	if f == nil || pg.FormWithButton("decision", "deny") != f {
		t.Fatalf("no device consent form with allow and deny: status %d, title %q\n%s", pg.Status, pg.Title, snippet(pg.Body))
	}
	for _, name := range []string{"csrf_token", "user_code", "binding"} {
		if f.Fields.Get(name) == "" {
			t.Fatalf("device consent form lacks %s", name)
		}
	}
	if !strings.Contains(pg.Body, clientName) {
		t.Errorf("device consent page does not name the client %q", clientName)
	}
	return pg
}

// deviceRows reads the device code rows of a client straight from the
// database: what the store keeps, and that no code is kept in clear.
type deviceRow struct {
	Signature, UserCode, Status string
	Interval                    int
	Redeemed                    bool
}

func deviceRows(t *testing.T, clientID string) []deviceRow {
	t.Helper()
	conn, err := pgx.Connect(ctxT(t), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctxT(t), `SELECT signature, user_code, status, interval_seconds, redeemed_at IS NOT NULL
		FROM device_codes WHERE client_id = $1 ORDER BY requested_at`, clientID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (deviceRow, error) {
		var d deviceRow
		return d, row.Scan(&d.Signature, &d.UserCode, &d.Status, &d.Interval, &d.Redeemed)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeviceFlow is RFC 8628 end to end: x/oauth2's device flow polls
// while the person approves on the /device page; the tokens work, the ID
// token verifies with go-oidc, and the device code is one-use.
func TestDeviceFlow(t *testing.T) {
	ts := deviceServer(t, nil)
	c := ts.devicePublicClient(t)
	u := ts.createUser(t)
	rp := ts.newRP(t, c, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess)
	if got, want := rp.OAuth2.Endpoint.DeviceAuthURL, ts.endpoint("/oauth2/device/auth"); got != want {
		t.Fatalf("discovered device authorization endpoint %q, want %q", got, want)
	}

	da, err := rp.OAuth2.DeviceAuth(ctxT(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	ts.secret(da.DeviceCode, da.UserCode)
	if !userCodePattern.MatchString(da.UserCode) {
		t.Errorf("user code %q is not XXXX-XXXX of the consonant alphabet", da.UserCode)
	}
	if !strings.HasPrefix(da.DeviceCode, "gh_dc_") || len(da.DeviceCode) < 40 {
		t.Errorf("device code %.8q... lacks the gh_dc_ prefix or entropy", da.DeviceCode)
	}
	if da.VerificationURI != ts.endpoint("/device") {
		t.Errorf("verification_uri = %q, want %q", da.VerificationURI, ts.endpoint("/device"))
	}
	if want := ts.endpoint("/device") + "?user_code=" + url.QueryEscape(da.UserCode); da.VerificationURIComplete != want {
		t.Errorf("verification_uri_complete = %q, want %q", da.VerificationURIComplete, want)
	}
	if da.Interval != 1 || da.Expiry.IsZero() {
		t.Errorf("interval %d, expiry %v; want 1 and an expiry", da.Interval, da.Expiry)
	}
	rows := deviceRows(t, c.ID)
	if len(rows) != 1 || rows[0].Status != "pending" || rows[0].Signature == da.DeviceCode ||
		strings.Contains(rows[0].Signature+rows[0].UserCode, strings.ReplaceAll(da.UserCode, "-", "")) {
		t.Fatalf("stored device codes %+v: want one pending row holding digests only", rows)
	}

	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	// The poller's deadline is the code's expiry (10 minutes) and this
	// bound, far above the few intervals the flow takes.
	pollCtx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	go func() {
		tok, err := rp.OAuth2.DeviceAccessToken(pollCtx, da)
		polled <- result{tok, err}
	}()

	browser := ts.newBrowser(t)
	// The link alone shows the code filled in, and decides nothing.
	pg := openDevicePage(t, browser, da.VerificationURIComplete)
	if got := pg.Form("user_code").Fields.Get("user_code"); got != da.UserCode {
		t.Errorf("device page from the link: code field %q, want %q", got, da.UserCode)
	}
	// (Read from the database: a poll of our own would crowd the poller's.)
	if rows := deviceRows(t, c.ID); len(rows) != 1 || rows[0].Status != "pending" {
		t.Fatalf("after opening the link: %+v, want the code still pending", rows)
	}
	approveDevice(t, ts, browser, da.VerificationURIComplete, c.Name, u, "allow")

	res := <-polled
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	tok := res.tok
	ts.secret(tok.AccessToken, tok.RefreshToken)
	if !strings.HasPrefix(tok.AccessToken, "gh_at_") || !strings.HasPrefix(tok.RefreshToken, "gh_rt_") {
		t.Fatalf("tokens %.8q... / %.8q...: want an access and a refresh token", tok.AccessToken, tok.RefreshToken)
	}
	if tok.TokenType != "bearer" && tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q", tok.TokenType)
	}
	idt := rp.verifyIDToken(t, tok, "")
	if idt.Subject != u.ID {
		t.Errorf("ID token sub = %q, want %q", idt.Subject, u.ID)
	}
	var claims struct {
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Username != u.Username || claims.Email != u.Email {
		t.Errorf("ID token claims %+v (%v), want %s %s", claims, err, u.Username, u.Email)
	}

	// The access token is the user's, at userinfo and introspection.
	if info := ts.userinfo(t, tok.AccessToken); info.Status != http.StatusOK || info.str("sub") != u.ID {
		t.Fatalf("userinfo: %d %s", info.Status, info.Raw)
	}
	rs := ts.createConfidentialClient(t, nil)
	in := ts.introspect(t, tok.AccessToken, authOf(rs))
	if in.JSON["active"] != true || in.str("client_id") != c.ID || in.str("sub") != u.ID ||
		!strings.Contains(in.str("scope"), "offline_access") {
		t.Fatalf("introspection: %s", in.Raw)
	}

	// One-use: the same device code again is invalid_grant, and issues
	// nothing.
	wantOAuthError(t, ts.pollDevice(t, da.DeviceCode, authOf(c)), http.StatusBadRequest, "invalid_grant")
	if rows := deviceRows(t, c.ID); len(rows) != 1 || rows[0].Status != "approved" || !rows[0].Redeemed {
		t.Errorf("stored device code after redemption: %+v, want approved and redeemed", rows)
	}

	// The tokens belong to a grant like any other: refresh rotates,
	// revocation ends them.
	r := ts.refresh(t, tok.RefreshToken, authOf(c))
	if r.Status != http.StatusOK || r.str("access_token") == "" || r.str("id_token") == "" {
		t.Fatalf("refresh of the device grant: %d %s", r.Status, r.Raw)
	}
	ts.secret(r.str("access_token"), r.str("refresh_token"))
	ts.revoke(t, r.str("refresh_token"), authOf(c))
	if ts.isActive(t, r.str("access_token"), authOf(rs)) {
		t.Errorf("access token still active after its grant's refresh token was revoked")
	}
}

// TestDeviceFlowRefusals: every way a device authorization can end other
// than tokens, each with its RFC 8628 or RFC 6749 error.
func TestDeviceFlowRefusals(t *testing.T) {
	ts := deviceServer(t, nil)
	conf := ts.deviceConfidentialClient(t)
	u := ts.createUser(t)

	t.Run("confidential client, pending then slow_down, across instances", func(t *testing.T) {
		da := ts.deviceAuth(t, authOf(conf), "profile")
		if da.Status != http.StatusOK || !userCodePattern.MatchString(da.str("user_code")) || da.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("device authorization: %d %s (Cache-Control %q)", da.Status, da.Raw, da.Header.Get("Cache-Control"))
		}
		code := da.str("device_code")
		wantOAuthError(t, ts.pollDevice(t, code, authOf(conf)), http.StatusBadRequest, "authorization_pending")
		// At once again, on another instance: the poll record is shared.
		other := deviceServer(t, nil)
		wantOAuthError(t, other.pollDevice(t, code, authOf(conf)), http.StatusBadRequest, "slow_down")
		wantOAuthError(t, ts.pollDevice(t, code, authOf(conf)), http.StatusBadRequest, "slow_down")
		// Each slow_down grew the interval by 5 s (RFC 8628 §3.5).
		if rows := deviceRows(t, conf.ID); len(rows) != 1 || rows[0].Interval != 11 {
			t.Errorf("stored interval after two slow_downs: %+v, want 11 s", rows)
		}
		// The client's secret is required, as at the token endpoint.
		wantOAuthError(t, ts.pollDevice(t, code, clientAuth{ID: conf.ID, Secret: "wrong"}), http.StatusUnauthorized, "invalid_client")
		// Another client cannot redeem it.
		other2 := ts.deviceConfidentialClient(t)
		wantOAuthError(t, ts.pollDevice(t, code, authOf(other2)), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("denied", func(t *testing.T) {
		c := ts.devicePublicClient(t)
		da := ts.deviceAuth(t, authOf(c), "openid profile")
		browser := ts.newBrowser(t)
		done := approveDevice(t, ts, browser, da.str("verification_uri_complete"), c.Name, u, "deny")
		if !strings.Contains(done.Body, "denied") {
			t.Errorf("page after denying does not say so:\n%s", snippet(done.Body))
		}
		wantOAuthError(t, ts.pollDevice(t, da.str("device_code"), authOf(c)), http.StatusBadRequest, "access_denied")
		// The answer is final: the code is no longer accepted on the page.
		pg := enterUserCode(t, browser, openDevicePage(t, browser, ts.endpoint("/device")), da.str("user_code"))
		if pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, `role="alert"`) {
			t.Errorf("answered code entered again: %d\n%s", pg.Status, snippet(pg.Body))
		}
	})

	t.Run("concurrent redemptions issue once", func(t *testing.T) {
		da := ts.deviceAuth(t, authOf(conf), "profile email")
		approveDevice(t, ts, ts.newBrowser(t), da.str("verification_uri_complete"), conf.Name, u, "allow")
		const n = 8
		results := make(chan oauthResponse, n)
		for range n {
			go func() {
				req := ts.newFormRequest(t, "/oauth2/token", url.Values{"grant_type": {grantDeviceCode}, "device_code": {da.str("device_code")}}, authOf(conf))
				results <- doJSONNoFatal(httpClient(), req)
			}()
		}
		issued, refused := 0, 0
		for range n {
			r := <-results
			ts.secret(r.str("access_token"))
			switch {
			case r.Err != nil:
				t.Errorf("poll: %v", r.Err)
			case r.Status == http.StatusOK && r.str("access_token") != "":
				issued++
				if r.str("refresh_token") != "" || r.str("id_token") != "" {
					t.Errorf("tokens without offline_access or openid: %s", r.Raw)
				}
			case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
				refused++
			default:
				t.Errorf("poll: %d %s", r.Status, r.Raw)
			}
		}
		if issued != 1 || refused != n-1 {
			t.Errorf("%d concurrent redemptions: %d issued, %d invalid_grant; want 1 and %d", n, issued, refused, n-1)
		}
	})

	t.Run("the user's address rules refuse the device", func(t *testing.T) {
		owner := ts.createUser(t)
		da := ts.deviceAuth(t, authOf(conf), "profile")
		approveDevice(t, ts, ts.newBrowser(t), da.str("verification_uri_complete"), conf.Name, owner, "allow")
		ts.setIPRules(t, owner.ID, nil, []string{"127.0.0.1/32"})
		wantOAuthError(t, ts.pollDevice(t, da.str("device_code"), authOf(conf)), http.StatusBadRequest, "invalid_grant")
		if got := ts.auditOf(t, "signin.refused_address", owner.ID); len(got) != 1 || !strings.Contains(string(got[0].Changes), "device_code") {
			t.Errorf("refusal audited as %+v, want one entry via device_code", got)
		}
		// The code was not spent: from an admitted address it redeems.
		ts.setIPRules(t, owner.ID, nil, nil)
		if r := ts.pollDevice(t, da.str("device_code"), authOf(conf)); r.Status != http.StatusOK {
			t.Fatalf("poll once admitted: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("consent form of another sign-in", func(t *testing.T) {
		c := ts.devicePublicClient(t)
		da := ts.deviceAuth(t, authOf(c), "profile")
		mine := deviceConsentPage(t, ts.newBrowser(t), da.str("verification_uri_complete"), c.Name, u)
		// Someone else, signed in in their own browser, posts my form with
		// their own CSRF token: the binding to my sign-in refuses it.
		thief := ts.createUser(t)
		other := ts.newBrowser(t)
		theirs := deviceConsentPage(t, other, da.str("verification_uri_complete"), c.Name, thief)
		f := mine.FormWithButton("decision", "allow")
		resp := submit(t, other, f, url.Values{"decision": {"allow"}, "csrf_token": {theirs.FormWithButton("decision", "allow").Fields.Get("csrf_token")}})
		if pg := readPage(t, resp); pg.Status != http.StatusBadRequest {
			t.Errorf("another sign-in's consent form: %d, want 400\n%s", pg.Status, snippet(pg.Body))
		}
		wantOAuthError(t, ts.pollDevice(t, da.str("device_code"), authOf(c)), http.StatusBadRequest, "authorization_pending")
	})

	t.Run("wrong user codes on the page", func(t *testing.T) {
		browser := ts.newBrowser(t)
		for _, code := range []string{"BBBB-BBBB", "bcdf ghjk", "hello", "AAAA-AAAA", ""} {
			pg := openDevicePage(t, browser, ts.endpoint("/device"))
			f := pg.Form("user_code")
			resp := submit(t, browser, f, url.Values{"user_code": {code}})
			got := readPage(t, resp)
			if got.Status != http.StatusBadRequest || !strings.Contains(got.Body, `role="alert"`) || got.Form("user_code") == nil {
				t.Errorf("code %q: status %d, want 400 with an alert and the form again\n%s", code, got.Status, snippet(got.Body))
			}
		}
		// The form without its CSRF token is refused.
		pg := openDevicePage(t, browser, ts.endpoint("/device"))
		resp := submit(t, browser, pg.Form("user_code"), url.Values{"user_code": {"BCDF-GHJK"}, "csrf_token": {"forged"}})
		if got := readPage(t, resp); got.Status != http.StatusForbidden {
			t.Errorf("device form with a forged CSRF token: %d, want 403", got.Status)
		}
	})

	t.Run("client not allowed the grant", func(t *testing.T) {
		web := ts.createConfidentialClient(t, nil)
		wantOAuthError(t, ts.deviceAuth(t, authOf(web), "openid"), http.StatusBadRequest, "unauthorized_client")
		wantOAuthError(t, ts.pollDevice(t, "gh_dc_whatever", authOf(web)), http.StatusBadRequest, "unauthorized_client")
	})

	t.Run("bad requests", func(t *testing.T) {
		wantOAuthError(t, ts.deviceAuth(t, authOf(conf), "openid"), http.StatusBadRequest, "invalid_scope")
		wantOAuthError(t, ts.deviceAuth(t, clientAuth{}, "profile"), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, ts.deviceAuth(t, clientAuth{ID: conf.ID, Secret: "wrong"}, "profile"), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, ts.pollDevice(t, "gh_dc_unknown", authOf(conf)), http.StatusBadRequest, "invalid_grant")
		wantOAuthError(t, ts.token(t, url.Values{"grant_type": {grantDeviceCode}}, authOf(conf)), http.StatusBadRequest, "invalid_request")
	})
}

// TestDeviceCodeExpires: a code nobody answers ends in expired_token, and
// the page no longer takes it. The lifetime is the shortest allowed; the
// test polls until the server answers otherwise than "pending", with a
// deadline far above it, and asserts what the answer is, not when.
func TestDeviceCodeExpires(t *testing.T) {
	ts := deviceServer(t, func(c *config.Config) { c.DeviceCode.Lifetime = time.Second })
	c := ts.devicePublicClient(t)
	da := ts.deviceAuth(t, authOf(c), "profile")
	if da.Status != http.StatusOK || da.JSON["expires_in"] != float64(1) {
		t.Fatalf("device authorization: %d %s", da.Status, da.Raw)
	}
	deadline := time.Now().Add(30 * time.Second)
	var r oauthResponse
	for {
		r = ts.pollDevice(t, da.str("device_code"), authOf(c))
		if e := r.str("error"); e != "authorization_pending" && e != "slow_down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending after 30 s with a 1 s lifetime")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantOAuthError(t, r, http.StatusBadRequest, "expired_token")

	browser := ts.newBrowser(t)
	pg := enterUserCode(t, browser, openDevicePage(t, browser, da.str("verification_uri_complete")), "")
	if pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, "expired") {
		t.Errorf("expired code on the page: %d\n%s", pg.Status, snippet(pg.Body))
	}
}

// TestDeviceFlowUnderIssuerPath: with the issuer at /auth, the endpoint,
// the verification URI, the page's forms and the return from sign-in all
// stay under it.
func TestDeviceFlowUnderIssuerPath(t *testing.T) {
	ts := deviceServer(t, func(c *config.Config) { c.Issuer += "/auth" })
	c := ts.devicePublicClient(t)
	u := ts.createUser(t)
	da := ts.deviceAuth(t, authOf(c), "openid")
	if da.Status != http.StatusOK || da.str("verification_uri") != ts.URL+"/device" {
		t.Fatalf("device authorization at %s: %d %s", ts.endpoint("/oauth2/device/auth"), da.Status, da.Raw)
	}
	approveDevice(t, ts, ts.newBrowser(t), da.str("verification_uri_complete"), c.Name, u, "allow")
	if r := ts.pollDevice(t, da.str("device_code"), authOf(c)); r.Status != http.StatusOK || r.str("id_token") == "" {
		t.Fatalf("poll: %d %s", r.Status, r.Raw)
	}
}
