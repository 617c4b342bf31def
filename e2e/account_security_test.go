package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/store"
)

// fromAddress returns a transport whose connections leave from ip (any
// 127.0.0.0/8 address reaches the server's 127.0.0.1 listener on Linux), so
// that the server sees the request come from ip.
func fromAddress(ip string) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
}

// browserFrom is a new browser whose requests come from ip.
func (ts *testServer) browserFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	b := ts.newBrowser(t)
	b.Transport = fromAddress(ip)
	return b
}

// clientFrom is httpClient (no redirects) with its requests coming from ip.
func clientFrom(ip string) *http.Client {
	c := httpClient()
	c.Transport = fromAddress(ip)
	return c
}

// signInFrom runs the authorization code flow for u in a browser at ip and
// returns the code exchange's tokens (the exchange itself from 127.0.0.1,
// as a relying party's back end would).
func (rp *relyingParty) signInFrom(t *testing.T, ip string, u testUser) (map[string]any, *http.Client) {
	t.Helper()
	browser := rp.ts.browserFrom(t, ip)
	ar := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, browser, ar, &u)
	tok := rp.exchange(t, code, ar)
	return map[string]any{"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken}, browser
}

// setIPRules stores u's rules as the API would leave them.
func (ts *testServer) setIPRules(t *testing.T, id string, allow, deny []string) {
	t.Helper()
	u, err := ts.Store.GetUser(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	u.IPAllow, u.IPDeny = nil, nil
	for _, s := range allow {
		u.IPAllow = append(u.IPAllow, netip.MustParsePrefix(s))
	}
	for _, s := range deny {
		u.IPDeny = append(u.IPDeny, netip.MustParsePrefix(s))
	}
	if err := ts.Store.UpdateUser(ctxT(t), u); err != nil {
		t.Fatal(err)
	}
}

// loginFrom posts u's password on the login page in a fresh browser at ip
// and returns the status and the page's alert text ("" if none).
func (ts *testServer) loginFrom(t *testing.T, ip, username, password string) (int, string) {
	t.Helper()
	browser := ts.browserFrom(t, ip)
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
	resp := get(t, browser, rp.newAuthRequest(t, false).URL)
	pg := readPage(t, resp)
	resp = submit(t, browser, loginForm(t, pg), url.Values{"username": {username}, "password": {password}})
	after := readPage(t, resp)
	alert := ""
	if i := strings.Index(after.Body, `role="alert">`); i >= 0 {
		alert = after.Body[i:]
		alert = alert[len(`role="alert">`):strings.Index(alert, "<")]
	}
	return after.Status, alert
}

// refreshFrom redeems a refresh token from ip.
func (ts *testServer) refreshFrom(t *testing.T, ip, refreshToken string, auth clientAuth) oauthResponse {
	t.Helper()
	req := ts.newFormRequest(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, auth)
	return doJSON(t, clientFrom(ip), req)
}

// apiFrom GETs an API path with a bearer token from ip.
func (ts *testServer) apiFrom(t *testing.T, ip, path, token string) oauthResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, ts.endpoint(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return doJSON(t, clientFrom(ip), req)
}

// auditOf returns the entries with action for target, oldest first.
func (ts *testServer) auditOf(t *testing.T, action, target string) []store.AuditEntry {
	t.Helper()
	out, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{Action: action, TargetID: target, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestIPRules: a user denied 127.0.0.2 cannot sign in from there (the
// answer is the wrong password's) but can from 127.0.0.3; a refresh from a
// denied address is refused once the rule exists; an API token is refused
// from the denied address and works from another; every refusal is audited
// with the address.
func TestIPRules(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	alice := ts.createUser(t, "user")
	ts.setIPRules(t, alice.ID, nil, []string{"127.0.0.2/32"})

	wrongStatus, wrongAlert := ts.loginFrom(t, "127.0.0.3", alice.Username, "not the password")
	status, alert := ts.loginFrom(t, "127.0.0.2", alice.Username, alice.Password)
	if status != http.StatusUnauthorized || status != wrongStatus || alert == "" || alert != wrongAlert {
		t.Fatalf("right password from the denied address: %d %q; a wrong password: %d %q; want the same refusal", status, alert, wrongStatus, wrongAlert)
	}
	refused := ts.auditOf(t, "signin.refused_address", alice.ID)
	if len(refused) != 1 || refused[0].IPAddress != "127.0.0.2" || !strings.Contains(string(refused[0].Changes), `"127.0.0.2"`) {
		t.Fatalf("refusal audited as %+v, want one entry from 127.0.0.2", refused)
	}

	// From 127.0.0.3 the whole flow works, with a refresh token.
	c := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, c)
	tok, _ := rp.signInFrom(t, "127.0.0.3", alice)
	refresh := tok["refresh_token"].(string)
	r := ts.refreshFrom(t, "127.0.0.4", refresh, authOf(c))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh from an allowed address: %d %s", r.Status, r.Raw)
	}
	refresh = r.str("refresh_token")
	ts.secret(refresh, r.str("access_token"))

	// A deny rule added later refuses the refresh from that address,
	// as an invalid grant, and leaves the token usable elsewhere.
	ts.setIPRules(t, alice.ID, nil, []string{"127.0.0.2/32", "127.0.0.4/32"})
	wantOAuthError(t, ts.refreshFrom(t, "127.0.0.4", refresh, authOf(c)), http.StatusBadRequest, "invalid_grant")
	if got := ts.auditOf(t, "signin.refused_address", alice.ID); len(got) != 2 || got[1].IPAddress != "127.0.0.4" ||
		!strings.Contains(string(got[1].Changes), `"refresh"`) {
		t.Fatalf("refused refresh audited as %+v", got)
	}
	if r := ts.refreshFrom(t, "127.0.0.5", refresh, authOf(c)); r.Status != http.StatusOK {
		t.Fatalf("refresh from an allowed address after a refused one: %d %s", r.Status, r.Raw)
	}

	// An API token of alice's: refused from the denied address, as an
	// unknown token is; accepted from another.
	api := ts.newRP(t, ts.createConfidentialClient(t, func(c *store.Client) {
		c.Scopes = []string{"openid", "gatehouse:api"}
		c.FirstParty = true
	}), oidc.ScopeOpenID, "gatehouse:api")
	at, _ := api.signInFrom(t, "127.0.0.3", alice)
	created := apiCallFrom(t, ts, "127.0.0.3", http.MethodPost, "/api/v1/tokens", at["access_token"].(string), map[string]any{"name": "script", "expires_in": 3600})
	if created.Status != http.StatusCreated {
		t.Fatalf("create API token: %d %s", created.Status, created.Raw)
	}
	pat := created.str("token")
	ts.secret(pat)
	if r := ts.apiFrom(t, "127.0.0.3", "/api/v1/users/me", pat); r.Status != http.StatusOK {
		t.Fatalf("API token from an allowed address: %d %s", r.Status, r.Raw)
	}
	denied := ts.apiFrom(t, "127.0.0.2", "/api/v1/users/me", pat)
	unknown := ts.apiFrom(t, "127.0.0.2", "/api/v1/users/me", "gh_pat_unknown")
	if denied.Status != http.StatusUnauthorized || denied.Header.Get("WWW-Authenticate") != unknown.Header.Get("WWW-Authenticate") ||
		denied.str("detail") != unknown.str("detail") {
		t.Fatalf("API token from the denied address: %d %q %s; unknown token: %q %s", denied.Status,
			denied.Header.Get("WWW-Authenticate"), denied.Raw, unknown.Header.Get("WWW-Authenticate"), unknown.Raw)
	}
	if got := ts.auditOf(t, "signin.refused_address", alice.ID); len(got) != 3 || got[2].IPAddress != "127.0.0.2" ||
		!strings.Contains(string(got[2].Changes), `"api_token"`) {
		t.Fatalf("refused API token audited as %+v", got)
	}

	// An allow list admits only what it lists.
	ts.setIPRules(t, alice.ID, []string{"127.0.0.3/32"}, nil)
	if status, _ := ts.loginFrom(t, "127.0.0.6", alice.Username, alice.Password); status != http.StatusUnauthorized {
		t.Fatalf("sign-in from outside the allow list: %d, want 401", status)
	}
	if r := ts.apiFrom(t, "127.0.0.3", "/api/v1/users/me", pat); r.Status != http.StatusOK {
		t.Fatalf("API token from the allowed address: %d %s", r.Status, r.Raw)
	}
}

// apiCallFrom is apiCall from ip.
func apiCallFrom(t *testing.T, ts *testServer, ip, method, path, token string, body any) oauthResponse {
	t.Helper()
	return apiCallWith(t, ts, clientFrom(ip), method, path, token, body)
}

// TestTrustedProxy: X-Forwarded-For names the client only when the peer is
// a configured trusted proxy; from anyone else it is ignored, so a denied
// client cannot pass for another address, and an allowed one cannot be
// framed.
func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.10/32"} })
	alice := ts.createUser(t, "user")
	ts.setIPRules(t, alice.ID, nil, []string{"198.51.100.0/24"})

	loginVia := func(peer, forwarded string) int {
		t.Helper()
		browser := ts.browserFrom(t, peer)
		rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
		pg := readPage(t, get(t, browser, rp.newAuthRequest(t, false).URL))
		f := loginForm(t, pg)
		req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, f.Action.String(), strings.NewReader(mergeForm(f, alice).Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		return resp.StatusCode
	}

	// Through the proxy, the client it names is the one the rules judge.
	if got := loginVia("127.0.0.10", "198.51.100.7"); got != http.StatusUnauthorized {
		t.Fatalf("denied client through the trusted proxy: %d, want 401", got)
	}
	refused := ts.auditOf(t, "signin.refused_address", alice.ID)
	if len(refused) != 1 || refused[0].IPAddress != "198.51.100.7" {
		t.Fatalf("audited %+v, want the forwarded client 198.51.100.7", refused)
	}
	// A client's own entry left of the proxy's is not believed.
	if got := loginVia("127.0.0.10", "203.0.113.5, 198.51.100.7"); got != http.StatusUnauthorized {
		t.Fatalf("prepended entry through the proxy: %d, want 401", got)
	}
	// Signed in, the browser follows the redirect to the consent page.
	if got := loginVia("127.0.0.10", "203.0.113.5"); got != http.StatusOK {
		t.Fatalf("allowed client through the trusted proxy: %d, want 200", got)
	}
	// From an untrusted peer the header is ignored: a spoofed allowed
	// address does not help, and a spoofed denied one does not hurt.
	ts.setIPRules(t, alice.ID, nil, []string{"127.0.0.11/32"})
	if got := loginVia("127.0.0.11", "203.0.113.5"); got != http.StatusUnauthorized {
		t.Fatalf("denied peer claiming another address: %d, want 401", got)
	}
	if got := ts.auditOf(t, "signin.refused_address", alice.ID); got[len(got)-1].IPAddress != "127.0.0.11" {
		t.Fatalf("spoofed request audited from %q, want the peer 127.0.0.11", got[len(got)-1].IPAddress)
	}
	if got := loginVia("127.0.0.12", "127.0.0.11"); got != http.StatusOK {
		t.Fatalf("allowed peer claiming a denied address: %d, want 200", got)
	}
	success := ts.auditOf(t, "login.success", alice.ID)
	if last := success[len(success)-1]; last.IPAddress != "127.0.0.12" {
		t.Fatalf("sign-in audited from %q, want the peer 127.0.0.12", last.IPAddress)
	}
}

// mergeForm is f's fields with u's credentials.
func mergeForm(f *formdriver.Form, u testUser) url.Values {
	v := url.Values{}
	for k, vs := range f.Fields {
		v[k] = vs
	}
	v.Set("username", u.Username)
	v.Set("password", u.Password)
	return v
}

// TestSessionLimit: with a limit of 2, a third sign-in ends the first
// session, and the refresh token of a grant made in it is inactive; the
// second session and its token live on.
func TestSessionLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.Sessions.Limit = 2 })
	alice := ts.createUser(t, "user")
	c := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, c)

	tok1, _, b1 := rp.signIn(t, alice)
	tok2, _, b2 := rp.signIn(t, alice)
	if !ts.isActive(t, tok1.RefreshToken, authOf(c)) {
		t.Fatal("first refresh token inactive before the limit was reached")
	}
	_, _, b3 := rp.signIn(t, alice)

	if ts.isActive(t, tok1.RefreshToken, authOf(c)) {
		t.Fatal("the first session's refresh token is still active after a third sign-in, limit 2")
	}
	wantOAuthError(t, ts.refresh(t, tok1.RefreshToken, authOf(c)), http.StatusBadRequest, "invalid_grant")
	if !ts.isActive(t, tok2.RefreshToken, authOf(c)) {
		t.Fatal("the second session's refresh token was ended too")
	}
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), alice.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 2 {
		t.Fatalf("%d live sessions, want 2", len(sessions))
	}
	evicted := ts.auditOf(t, "session.evicted", "")
	var mine []store.AuditEntry
	for _, a := range evicted {
		if strings.Contains(string(a.Changes), alice.ID) {
			mine = append(mine, a)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("session.evicted entries for alice: %+v, want 1", mine)
	}

	// The first browser must sign in again; the others are still signed in.
	signedIn := func(b *http.Client) bool {
		t.Helper()
		resp := get(t, b, rp.newAuthRequest(t, false).URL)
		pg := readPage(t, resp)
		return pg.Form("password") == nil
	}
	if signedIn(b1) {
		t.Error("the evicted browser is still signed in")
	}
	if !signedIn(b2) || !signedIn(b3) {
		t.Error("a browser within the limit was signed out")
	}

	// The user's own limit wins over the default: 1 leaves one session.
	u, err := ts.Store.GetUser(ctxT(t), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	one := 1
	u.SessionLimit = &one
	if err := ts.Store.UpdateUser(ctxT(t), u); err != nil {
		t.Fatal(err)
	}
	rp.signIn(t, alice)
	if sessions, _ := ts.Store.ListLoginSessions(ctxT(t), alice.ID, time.Now()); len(sessions) != 1 {
		t.Fatalf("%d live sessions with the user's limit 1", len(sessions))
	}
}

// TestIdleTimeout: a browser session unused for longer than
// sessions.idle_timeout no longer signs the user in; one in use does.
// The harness has no clock of its own, so the timeout is short.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 1200 * time.Millisecond
	ts := startServer(t, func(c *config.Config) { c.Sessions.IdleTimeout = idle })
	alice := ts.createUser(t, "user")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
	_, _, idleBrowser := rp.signIn(t, alice)
	_, _, busyBrowser := rp.signIn(t, alice)

	sawLogin := func(b *http.Client) bool {
		t.Helper()
		pg := readPage(t, get(t, b, rp.newAuthRequest(t, false).URL))
		return pg.Form("password") != nil
	}
	// The busy browser is used every 500ms (LastSeenAt is touched at a
	// quarter of the timeout), for longer than the timeout in all.
	deadline := time.Now().Add(idle + 600*time.Millisecond)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if sawLogin(busyBrowser) {
			t.Fatal("a session in use was taken for idle")
		}
	}
	if !sawLogin(idleBrowser) {
		t.Fatalf("a session unused for more than %s still signs the user in", idle)
	}
}

// TestSessionLimitConcurrent: sign-ins of one user at the same moment
// cannot all find room under the limit: afterwards at most the limit's
// sessions are live.
func TestSessionLimitConcurrent(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.Sessions.Limit = 2 })
	alice := ts.createUser(t, "user")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
	const n = 6
	type pending struct {
		browser *http.Client
		form    *formdriver.Form
	}
	var ready []pending
	for i := range n {
		// One address each: attempts in flight count toward an address's
		// login.max_failures until they succeed (counted before the hash),
		// so six at once from one address would meet that rule, not this one.
		b := ts.browserFrom(t, fmt.Sprintf("127.0.0.%d", 20+i))
		pg := readPage(t, get(t, b, rp.newAuthRequest(t, false).URL))
		ready = append(ready, pending{b, loginForm(t, pg)})
	}
	statuses := make(chan int, n)
	start := make(chan struct{})
	for _, p := range ready {
		go func() {
			<-start
			resp, err := p.form.Submit(ctxT(t), p.browser, url.Values{"username": {alice.Username}, "password": {alice.Password}})
			if err != nil {
				statuses <- 0
				return
			}
			closeBody(resp)
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	for range n {
		if s := <-statuses; s != http.StatusOK {
			t.Errorf("a concurrent sign-in ended with status %d, want 200 (the consent page)", s)
		}
	}
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), alice.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 2 {
		t.Fatalf("%d live sessions after %d concurrent sign-ins, limit 2", len(sessions), n)
	}
}
