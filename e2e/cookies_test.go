package e2e

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
)

// recordingJar is a browser's cookie store that also keeps every cookie
// the server set, with its attributes as parsed from Set-Cookie. Unlike
// net/http/cookiejar it sends Secure cookies over the plain connection of
// the test: the server runs as behind a TLS-terminating proxy, so that an
// https issuer can be tested (what the browser sees is the issuer's https).
type recordingJar struct {
	mu  sync.Mutex
	set []*http.Cookie
	has map[string]string
}

func (j *recordingJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		j.set = append(j.set, c)
		if c.MaxAge < 0 {
			delete(j.has, c.Name)
		} else {
			j.has[c.Name] = c.Value
		}
	}
}

func (j *recordingJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for n, v := range j.has {
		out = append(out, &http.Cookie{Name: n, Value: v})
	}
	return out
}

func (j *recordingJar) recorded() []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*http.Cookie(nil), j.set...)
}

// plainTransport is the TLS-terminating proxy: https requests for the
// issuer's host go to the server's plain listener.
type plainTransport struct{ host string }

func (p plainTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == p.host && r.URL.Scheme == "https" {
		r = r.Clone(r.Context())
		r.URL.Scheme = "http"
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestEveryCookieOfASignIn signs in for real (login page, password,
// consent, back at the relying party), signs in again with the session
// (SSO) and signs out, once with an https issuer and once with a loopback
// http one, and checks every Set-Cookie of the whole run: only the session
// and CSRF cookies, each HttpOnly, Path=/, without Domain; Secure and
// __Host- exactly for https; SameSite=Lax for the session (the relying
// party's redirect to /oauth2/auth must carry it), Strict for CSRF; the
// session's Max-Age its lifetime, cleared at sign-out.
func TestEveryCookieOfASignIn(t *testing.T) {
	for _, scheme := range []string{"https", "http"} {
		t.Run(scheme, func(t *testing.T) {
			ts := startServer(t, func(c *config.Config) {
				if scheme == "https" {
					c.Issuer = "https://" + c.Addr
				}
			})
			if !strings.HasPrefix(ts.URL, scheme+"://") {
				t.Fatalf("issuer %s", ts.URL)
			}
			host, _, _ := net.SplitHostPort(ts.Config.Addr)
			if host != "127.0.0.1" {
				t.Fatalf("server on %s, want loopback", ts.Config.Addr)
			}
			client := ts.createConfidentialClient(t, nil)
			user := ts.createUser(t, "user")
			jar := &recordingJar{has: map[string]string{}}
			browser := &http.Client{
				Jar:       jar,
				Timeout:   requestTimeout,
				Transport: plainTransport{host: ts.Config.Addr},
				CheckRedirect: func(req *http.Request, _ []*http.Request) error {
					if req.URL.Host != ts.Config.Addr {
						return http.ErrUseLastResponse
					}
					return nil
				},
			}
			rp := &relyingParty{ts: ts, Client: client, OAuth2: oauth2.Config{
				ClientID: client.ID, RedirectURL: client.RedirectURIs[0], Scopes: []string{"openid", "profile"},
				Endpoint: oauth2.Endpoint{AuthURL: ts.URL + "/oauth2/auth"},
			}}

			res := rp.authorize(t, browser, rp.newAuthRequest(t, false), &user)
			if !res.SawLogin || !res.SawConsent || res.Query.Get("code") == "" {
				t.Fatalf("first sign-in: login %v, consent %v, query %v", res.SawLogin, res.SawConsent, res.Query)
			}
			ts.secret(res.Query.Get("code"))
			// Single sign-on: the session cookie alone suffices.
			res = rp.authorize(t, browser, rp.newAuthRequest(t, false), nil)
			if res.Query.Get("code") == "" {
				t.Fatalf("second sign-in: query %v", res.Query)
			}
			ts.secret(res.Query.Get("code"))
			pg := readPage(t, get(t, browser, ts.URL+"/logout"))
			f := pg.Form("csrf_token")
			if f == nil {
				t.Fatalf("no sign-out form (status %d)\n%s", pg.Status, snippet(pg.Body))
			}
			closeBody(submit(t, browser, f, nil))

			prefix := ""
			if scheme == "https" {
				prefix = "__Host-"
			}
			session, csrf := prefix+"gatehouse_session", prefix+"gatehouse_csrf"
			seen := map[string]int{}
			var cleared bool
			for _, c := range jar.recorded() {
				what := c.Raw
				switch c.Name {
				case session:
					if c.SameSite != http.SameSiteLaxMode {
						t.Errorf("%s: SameSite %v, want Lax", what, c.SameSite)
					}
					switch {
					case c.MaxAge < 0:
						cleared = true
					case c.MaxAge != int(ts.Config.Lifetimes.LoginSession/time.Second):
						t.Errorf("%s: Max-Age %d, want the session lifetime %s", what, c.MaxAge, ts.Config.Lifetimes.LoginSession)
					case len(c.Value) != 43:
						t.Errorf("%s: value of %d characters, want 43", what, len(c.Value))
					}
				case csrf:
					if c.SameSite != http.SameSiteStrictMode || c.MaxAge != 0 || !c.Expires.IsZero() {
						t.Errorf("%s: want SameSite=Strict, no Max-Age or Expires", what)
					}
				default:
					t.Errorf("unexpected cookie %s", what)
				}
				seen[c.Name]++
				if !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.Secure != (scheme == "https") {
					t.Errorf("%s: want HttpOnly, Path=/, no Domain, Secure %v", what, scheme == "https")
				}
				if strings.Contains(strings.ToLower(c.Raw), "samesite=none") {
					t.Errorf("%s: SameSite=None", what)
				}
			}
			// One session set at sign-in, cleared at sign-out; one CSRF
			// cookie for the whole run (the pages reuse it).
			if seen[session] != 2 || !cleared || seen[csrf] != 1 {
				t.Errorf("cookies set: %v (session cleared %v); want the session twice (set, cleared) and the CSRF cookie once", seen, cleared)
			}
		})
	}
}
