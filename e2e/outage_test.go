package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/faultproxy"
	"github.com/gatehouse/gatehouse/internal/formdriver"
)

// What a client sees while the database stalls, vanishes or restarts, and
// right after it comes back. Each server runs behind a fault proxy
// (internal/faultproxy) between it and PostgreSQL. Bounds on answer times
// derive from the configured query timeout with a generous slack, so that
// a loaded machine cannot fail them; the precise timings are what
// `make chaos` measures.

// outageRig is a server behind a fault proxy, with a service account and
// a user set up while the database was still there.
type outageRig struct {
	ts      *testServer
	proxy   *faultproxy.Proxy
	timeout time.Duration    // database.query_timeout
	service clientAuth       // a client_credentials admin service account
	bearer  string           // its API token, issued before the fault
	userTok string           // a user's access token (openid), for userinfo
	browser *http.Client     // holds the login page's CSRF cookie
	login   *formdriver.Form // the login form, filled in for user
}

func startOutageRig(t *testing.T, queryTimeout time.Duration) *outageRig {
	t.Helper()
	u, err := url.Parse(databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the server's cleanups, so it runs after them:
	// the server stops first.
	t.Cleanup(func() { _ = p.Close() })
	u.Host = p.Addr()
	ts := startServer(t, func(c *config.Config) {
		c.DatabaseURL = u.String()
		c.Database.QueryTimeout = queryTimeout
		c.Database.ConnectTimeout = 500 * time.Millisecond
	})
	svc := ts.serviceClient(t, []string{"gatehouse:api"}, "admin")
	auth := authOf(svc)
	tok := ts.ccToken(t, auth, "gatehouse:api")
	if tok.Status != http.StatusOK {
		t.Fatalf("token before the fault: %d %s", tok.Status, tok.Raw)
	}
	user := ts.createUser(t, "user")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
	userTok, _, _ := rp.signIn(t, user)
	browser := ts.newBrowser(t)
	pg := readPage(t, get(t, browser, ts.endpoint("/login")))
	f := loginForm(t, pg)
	f.Fields.Set("username", user.Username)
	f.Fields.Set("password", user.Password)
	return &outageRig{ts: ts, proxy: p, timeout: queryTimeout, service: auth, bearer: tok.str("access_token"),
		userTok: userTok.AccessToken, browser: browser, login: f}
}

// answerBound is how long an answer during a fault may take: the request
// may meet two statements that time out (the lookup that fails, then the
// rollback of its transaction), plus slack for a loaded machine.
func (r *outageRig) answerBound() time.Duration { return 2*r.timeout + 3*time.Second }

// faultAnswer is one response seen during or after a fault.
type faultAnswer struct {
	what    string
	status  int
	header  http.Header
	body    string
	elapsed time.Duration
	err     error
}

func (a faultAnswer) String() string {
	return fmt.Sprintf("%s: %d after %s %.200q", a.what, a.status, a.elapsed.Round(time.Millisecond), a.body)
}

func (r *outageRig) send(what string, c *http.Client, req *http.Request) faultAnswer {
	start := time.Now()
	resp, err := c.Do(req)
	a := faultAnswer{what: what, err: err}
	if err == nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		a.status, a.header, a.body = resp.StatusCode, resp.Header, string(b)
	}
	a.elapsed = time.Since(start)
	return a
}

func (r *outageRig) form(path string, form url.Values, auth clientAuth) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, r.ts.endpoint(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(auth.ID), url.QueryEscape(auth.Secret))
	return req
}

func (r *outageRig) ccRequest() *http.Request {
	return r.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}, r.service)
}

// duringFault sends, at once, one request to each surface and the
// readiness probe, and checks that each is answered 503 in its own format,
// with Retry-After, within the bound.
func (r *outageRig) duringFault(t *testing.T) {
	t.Helper()
	api, _ := http.NewRequest(http.MethodGet, r.ts.endpoint("/api/v1/users?limit=1"), nil)
	api.Header.Set("Authorization", "Bearer "+r.bearer)
	userinfo, _ := http.NewRequest(http.MethodGet, r.ts.endpoint("/oauth2/userinfo"), nil)
	userinfo.Header.Set("Authorization", "Bearer "+r.userTok)
	ready, _ := http.NewRequest(http.MethodGet, r.ts.endpoint("/readyz"), nil)
	loginPost, _ := http.NewRequest(http.MethodPost, r.login.Action.String(), strings.NewReader(r.login.Fields.Encode()))
	loginPost.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	type probe struct {
		what, contentType, oauthError string
		client                        *http.Client
		req                           *http.Request
	}
	probes := []probe{
		{"token (client_credentials)", "application/json", "temporarily_unavailable", httpClient(), r.ccRequest()},
		{"introspection", "application/json", "temporarily_unavailable", httpClient(),
			r.form("/oauth2/introspect", url.Values{"token": {r.bearer}}, r.service)},
		{"revocation", "application/json", "temporarily_unavailable", httpClient(),
			r.form("/oauth2/revoke", url.Values{"token": {"gh_at_unknown"}}, r.service)},
		{"userinfo", "application/json", "temporarily_unavailable", httpClient(), userinfo},
		{"resource API", "application/problem+json", "", httpClient(), api},
		{"login page", "text/html", "", r.browser, loginPost},
		{"readyz", "application/json", "", httpClient(), ready},
	}
	answers := make([]faultAnswer, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { answers[i] = r.send(p.what, p.client, p.req) })
	}
	wg.Wait()
	for i, a := range answers {
		p := probes[i]
		t.Logf("during the fault, %s", a)
		if a.err != nil {
			t.Errorf("%s: %v (after %s)", p.what, a.err, a.elapsed)
			continue
		}
		if a.status != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503\n%s", p.what, a.status, snippet(a.body))
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, p.contentType) {
			t.Errorf("%s: Content-Type %q, want %s", p.what, ct, p.contentType)
		}
		if a.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", p.what)
		}
		if p.oauthError != "" && !strings.Contains(a.body, `"error":"`+p.oauthError+`"`) {
			t.Errorf("%s: body %s, want error %s", p.what, snippet(a.body), p.oauthError)
		}
		if a.elapsed > r.answerBound() {
			t.Errorf("%s: answered after %s, want within %s (query timeout %s)", p.what, a.elapsed, r.answerBound(), r.timeout)
		}
	}
	if ready := answers[len(answers)-1]; !strings.Contains(ready.body, `"database":"unavailable"`) {
		t.Errorf("readyz during the fault: %s, want database unavailable", snippet(ready.body))
	}
}

// afterFault checks that the very first request once the database is back
// succeeds, within the bound, and that nothing issued before is lost.
func (r *outageRig) afterFault(t *testing.T) {
	t.Helper()
	first := r.send("first token after the fault", httpClient(), r.ccRequest())
	t.Logf("after the fault, %s", first)
	if first.err != nil || first.status != http.StatusOK {
		t.Fatalf("first token request after the fault: %v %s", first.err, first)
	}
	if first.elapsed > r.timeout+3*time.Second {
		t.Errorf("first token after the fault took %s, want within %s", first.elapsed, r.timeout+3*time.Second)
	}
	ready := getJSON(t, r.ts.endpoint("/readyz"))
	if ready.Status != http.StatusOK {
		t.Errorf("readyz after the fault: %d %s", ready.Status, ready.Raw)
	}
	if !r.ts.isActive(t, r.bearer, r.service) {
		t.Error("the token issued before the fault is no longer active")
	}
	me := apiCall(t, r.ts, http.MethodGet, "/api/v1/users?limit=1", r.bearer, nil)
	if me.Status != http.StatusOK {
		t.Errorf("resource API after the fault: %d %s", me.Status, snippet(me.Raw))
	}
	if ui := r.ts.userinfo(t, r.userTok); ui.Status != http.StatusOK {
		t.Errorf("userinfo after the fault: %d %s", ui.Status, snippet(ui.Raw))
	}
}

// A database that stops answering (connections open, nothing comes back).
func TestFrozenDatabaseIsAnswered503AndRecovers(t *testing.T) {
	r := startOutageRig(t, time.Second)
	r.proxy.Freeze()
	r.duringFault(t)
	r.proxy.Pass()
	r.afterFault(t)
}

// A partition that kills every open connection for good and swallows new
// ones: after it heals only new connections work.
func TestPartitionedDatabaseIsAnswered503AndRecovers(t *testing.T) {
	r := startOutageRig(t, config.Default().Database.QueryTimeout)
	r.proxy.Blackhole()
	r.duringFault(t)
	r.proxy.Pass()
	r.afterFault(t)
}

// A restart: every connection reset, new ones refused until it is back.
func TestRestartedDatabaseIsAnswered503AndRecovers(t *testing.T) {
	r := startOutageRig(t, time.Second)
	r.proxy.Drop()
	r.proxy.ResetAll()
	r.duringFault(t)
	r.proxy.Pass()
	r.afterFault(t)
}
