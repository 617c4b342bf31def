package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// Target is the issuer under load and the credentials the workloads use.
// Nothing in it is gatehouse-specific except APIBase and the login form's
// field names, which any form with a password input satisfies.
type Target struct {
	Issuer string
	// Service is a client_credentials client; its tokens must be accepted by
	// the resource API at APIBase (gatehouse: scope gatehouse:api and a role
	// with users:read).
	ServiceID, ServiceSecret, ServiceScope string
	// Web is a confidential authorization code client allowed the scopes
	// openid, profile, email and offline_access and the redirect URI.
	WebID, WebSecret, RedirectURI string
	// Users sign in through the login form; worker i uses Users[i%len].
	Users    []string
	Password string
	// TOTPUsers have the same password and an authenticator app; the
	// bench seeds them itself, since it must know their keys.
	TOTPUsers []TOTPUser
	// APIBase is the resource API root, e.g. http://127.0.0.1:8080/api/v1.
	APIBase string
	// WebAlg is the ID-token algorithm Web registered; the workloads
	// check the ID tokens they get against it ("": the server's default,
	// not checked).
	WebAlg string
	// WebES256ID and WebES256Secret are a second web client like Web,
	// registered with ES256 (gatehouse in compare runs; "": none).
	WebES256ID, WebES256Secret string
}

// Discovery is the part of the OpenID Provider metadata the workloads use.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// newTransport is shared by every worker: keep-alive connections, enough
// idle ones per host that no worker ever dials during a run, no compression
// (it would cost the server CPU the bench is not about), HTTP/1.1 only.
func newTransport(maxConc int) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4 * maxConc,
		MaxIdleConnsPerHost:   2 * maxConc,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// noRedirect makes a client hand every redirect back, so that each hop of a
// flow is a request of its own (and the callback is never fetched).
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func newBrowser(t http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Transport: t, Jar: jar, CheckRedirect: noRedirect, Timeout: 60 * time.Second}
}

// discover fetches the issuer's OpenID Provider metadata.
func discover(ctx context.Context, hc *http.Client, issuer string) (Discovery, error) {
	var d Discovery
	u := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	body, status, _, err := do(hc, req)
	if err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	if status != http.StatusOK {
		return d, fmt.Errorf("discovery: %s answered %d", u, status)
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	if d.TokenEndpoint == "" || d.AuthorizationEndpoint == "" {
		return d, errors.New("discovery: no token or authorization endpoint")
	}
	return d, nil
}

// do sends req and reads the whole body, so the connection goes back to the
// pool. It returns the body, the status and the Location header resolved
// against the request URL.
func do(hc *http.Client, req *http.Request) ([]byte, int, *url.URL, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, nil, err
	}
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = req.URL.Parse(l); err != nil {
			return body, resp.StatusCode, nil, fmt.Errorf("bad Location %q: %w", l, err)
		}
	}
	return body, resp.StatusCode, loc, nil
}

// statusError describes an unexpected answer, with the start of its body
// (OAuth error responses say what went wrong there; they hold no secrets).
func statusError(what string, status int, body []byte) error {
	const keep = 160
	b := string(body)
	if len(b) > keep {
		b = b[:keep] + "..."
	}
	return fmt.Errorf("%s: status %d: %s", what, status, strings.TrimSpace(b))
}

// tokenResponse is RFC 6749 section 5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// basicAuth is client_secret_basic: RFC 6749 section 2.3.1 form-encodes the
// id and secret before base64.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// postForm POSTs form to endpoint with client_secret_basic authentication.
func postForm(ctx context.Context, hc *http.Client, endpoint, clientID, secret string, form url.Values) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if clientID != "" {
		req.Header.Set("Authorization", basicAuth(clientID, secret))
	}
	body, status, _, err := do(hc, req)
	return body, status, err
}

// token calls the token endpoint and decodes a successful answer.
func token(ctx context.Context, hc *http.Client, d Discovery, clientID, secret string, form url.Values) (tokenResponse, error) {
	var tr tokenResponse
	body, status, err := postForm(ctx, hc, d.TokenEndpoint, clientID, secret, form)
	if err != nil {
		return tr, fmt.Errorf("token (%s): %w", form.Get("grant_type"), err)
	}
	if status != http.StatusOK {
		return tr, statusError("token ("+form.Get("grant_type")+")", status, body)
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, fmt.Errorf("token (%s): %w", form.Get("grant_type"), err)
	}
	if tr.AccessToken == "" {
		return tr, fmt.Errorf("token (%s): no access_token in the answer", form.Get("grant_type"))
	}
	return tr, nil
}

// clientCredentials gets one access token for the service client.
func clientCredentials(ctx context.Context, hc *http.Client, d Discovery, t *Target) (tokenResponse, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.ServiceScope != "" {
		form.Set("scope", t.ServiceScope)
	}
	return token(ctx, hc, d, t.ServiceID, t.ServiceSecret, form)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorizer drives the authorization code flow with PKCE the way a browser
// and a confidential relying party do together: every redirect is one hop,
// the login form and (the first time) the consent form are filled in, and the
// code is exchanged at the token endpoint.
type authorizer struct {
	d        Discovery
	t        *Target
	username string
	// browser holds the cookie jar: the login session lives in it.
	browser *http.Client
	// rp is the relying party's own client (no cookies).
	rp *http.Client
	// otp is the authenticator app code for a second-step form ("": the
	// user has none).
	otp string
}

// maxHops bounds one flow: authorize, login page, login POST, authorize
// again, consent page, consent POST come to six (two more with a second
// step: its page and its POST).
const maxHops = 12

// errLoginPage reports that the flow reached a login form while it was
// expected to run on an existing session.
var errLoginPage = errors.New("login form shown: no single sign-on session")

// flow runs one authorization and returns the token response. With
// allowLogin false, meeting a login form is an error (the SSO workload must
// never pay for a password check).
func (a *authorizer) flow(ctx context.Context, scope string, allowLogin bool) (tokenResponse, error) {
	verifier := randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randomToken(16), randomToken(16)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {a.t.WebID},
		"redirect_uri":          {a.t.RedirectURI},
		"scope":                 {scope},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	next, err := url.Parse(a.d.AuthorizationEndpoint)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("authorization endpoint: %w", err)
	}
	next.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
	if err != nil {
		return tokenResponse{}, err
	}
	hops := 0
	for {
		if hops == maxHops {
			return tokenResponse{}, fmt.Errorf("authorize: no code after %d requests", hops)
		}
		body, status, loc, err := do(a.browser, req)
		hops++
		if err != nil {
			return tokenResponse{}, fmt.Errorf("authorize hop %d (%s): %w", hops, req.URL.Path, err)
		}
		switch {
		case status >= 300 && status < 400 && loc != nil:
			if strings.HasPrefix(loc.String(), a.t.RedirectURI) {
				return a.redeem(ctx, loc.Query(), state, verifier)
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		case status == http.StatusOK:
			req, err = a.submitPage(ctx, req.URL, body, allowLogin)
		default:
			return tokenResponse{}, statusError("authorize hop "+req.URL.Path, status, body)
		}
		if err != nil {
			return tokenResponse{}, err
		}
	}
}

// submitPage fills in the form of an HTML page met during the flow: a
// login form (any form with a password input), a consent form (a submit
// button whose value allows) or a second-step form (an input named code).
func (a *authorizer) submitPage(ctx context.Context, page *url.URL, body []byte, allowLogin bool) (*http.Request, error) {
	forms, err := parseForms(body)
	if err != nil {
		return nil, fmt.Errorf("page %s: %w", page.Path, err)
	}
	for _, f := range forms {
		var vals url.Values
		switch {
		case f.hasPassword():
			if !allowLogin {
				return nil, errLoginPage
			}
			vals = f.loginValues(a.username, a.t.Password)
		case f.allowButton() != nil:
			vals = f.hiddenValues()
			b := f.allowButton()
			vals.Set(b.name, b.value)
		case f.hasInput(otpField):
			if a.otp == "" {
				return nil, fmt.Errorf("page %s: asks for an authentication code, and %s has no authenticator app", page.Path, a.username)
			}
			vals = f.hiddenValues()
			vals.Set(otpField, a.otp)
		default:
			continue
		}
		action, err := page.Parse(f.action)
		if err != nil {
			return nil, fmt.Errorf("page %s: form action %q: %w", page.Path, f.action, err)
		}
		method := strings.ToUpper(f.method)
		if method == "" {
			method = http.MethodGet
		}
		if method == http.MethodGet {
			action.RawQuery = vals.Encode()
			return http.NewRequestWithContext(ctx, http.MethodGet, action.String(), nil)
		}
		req, err := http.NewRequestWithContext(ctx, method, action.String(), strings.NewReader(vals.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
	return nil, fmt.Errorf("page %s: neither a login nor a consent form", page.Path)
}

// redeem checks the callback and exchanges the code.
func (a *authorizer) redeem(ctx context.Context, cb url.Values, state, verifier string) (tokenResponse, error) {
	if e := cb.Get("error"); e != "" {
		return tokenResponse{}, fmt.Errorf("authorize: callback error %s: %s", e, cb.Get("error_description"))
	}
	if cb.Get("state") != state {
		return tokenResponse{}, errors.New("authorize: callback state does not match")
	}
	code := cb.Get("code")
	if code == "" {
		return tokenResponse{}, errors.New("authorize: callback without a code")
	}
	return token(ctx, a.rp, a.d, a.t.WebID, a.t.WebSecret, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {a.t.RedirectURI},
		"code_verifier": {verifier},
	})
}
