package provider

// Fuzz targets for what the OAuth endpoints parse from a stranger: the token
// endpoint's form and client authentication (HTTP Basic, client_secret_post,
// private_key_jwt), the jwt-bearer grant's assertion, and the authorization
// endpoint's parameters. Each drives the real router (provider and consent
// pages over a memory store) with httptest. `go test` runs the seeds (f.Add
// and testdata/fuzz/<Name>/); `make fuzz` mutates them.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

const (
	// fuzzIssuer is fixed so that committed assertions name the right
	// audience whatever port the test server gets.
	fuzzIssuer = "https://id.fuzz.test"
	// fuzzSecret is the secret of every confidential fuzz client, so that
	// committed seeds authenticate.
	fuzzSecret = "ghs_fuzz-secret-of-the-fuzz-tests"
	fuzzKeyID  = "fuzz-key-1"
	// fuzzPartner is the trusted issuer of jwt-bearer assertions.
	fuzzPartner  = "https://partner.fuzz.test"
	formMedia    = "application/x-www-form-urlencoded"
	assertionJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// fuzzKey is a fixed P-256 key: the private_key_jwt client's and the trusted
// issuer's. Committed seeds signed with it verify (and have expired by the
// time they run); the f.Add seeds made at start are fresh.
func fuzzKey(tb testing.TB) *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("gatehouse fuzz assertion key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

type fuzzEnv struct {
	*testEnv
	key *ecdsa.PrivateKey
	// cookie is the Cookie header of alice's login session.
	cookie string
	// refreshToken is a live refresh token of fz-web, for a seed.
	refreshToken string
}

// newFuzzEnv is a test env with the fuzz clients: fz-web (confidential,
// Basic), fz-first (first-party, client_secret_post), fz-spa (public),
// fz-pkjwt (private_key_jwt) and fz-bridge (jwt-bearer, trusting
// fuzzPartner's fuzzKey), and alice signed in.
func newFuzzEnv(f *testing.F) *fuzzEnv {
	e := newTestEnv(f, func(o *Options) { o.Issuer = fuzzIssuer })
	fe := &fuzzEnv{testEnv: e, key: fuzzKey(f)}
	pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &fe.key.PublicKey, KeyID: fuzzKeyID, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		f.Fatal(err)
	}
	all := []string{"authorization_code", "refresh_token", "client_credentials"}
	scopes := []string{"openid", "profile", "email", "offline_access", "roles", "api:read"}
	for _, c := range []store.Client{
		{ID: "fz-web", TokenEndpointAuthMethod: "client_secret_basic", GrantTypes: all, Scopes: scopes},
		{ID: "fz-first", TokenEndpointAuthMethod: "client_secret_post", GrantTypes: all, Scopes: scopes, FirstParty: true},
		{ID: "fz-spa", Public: true, Scopes: scopes},
		{ID: "fz-pkjwt", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pub, GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}},
		{ID: "fz-bridge", TokenEndpointAuthMethod: "client_secret_basic", GrantTypes: []string{grantTypeJWTBearer}, Scopes: []string{"api:read", "api:write"}},
	} {
		fe.addFuzzClient(c)
	}
	issuerKey, err := json.Marshal(jose.JSONWebKey{Key: &fe.key.PublicKey, KeyID: fuzzKeyID, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		f.Fatal(err)
	}
	if err := e.store.CreateTrustedIssuer(e.ctx, store.TrustedIssuer{
		ID: uuid.NewString(), Issuer: fuzzPartner, Subject: "partner-service", KeyID: fuzzKeyID,
		PublicKey: issuerKey, Scopes: []string{"api:read"}, ExpiresAt: time.Now().AddDate(10, 0, 0), CreatedAt: time.Now(),
	}); err != nil {
		f.Fatal(err)
	}

	// One real code flow: it signs alice in (the cookie the authorize
	// target sends) and yields a refresh token to seed with.
	b := e.newBrowser()
	tok, _ := e.codeFlow(b, e.oauthConfig("fz-web", fuzzSecret, "openid", "offline_access"))
	fe.refreshToken = refreshToken(f, tok)
	srvURL, err := url.Parse(e.srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	var cookies []string
	for _, c := range b.c.Jar.Cookies(srvURL) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) == 0 {
		f.Fatal("the code flow left no session cookie")
	}
	fe.cookie = strings.Join(cookies, "; ")
	return fe
}

// addFuzzClient stores c with the defaults of a web app and, unless it is
// public or uses private_key_jwt, fuzzSecret.
func (fe *fuzzEnv) addFuzzClient(c store.Client) {
	if c.Public {
		c.TokenEndpointAuthMethod = "none"
	} else if c.TokenEndpointAuthMethod != "private_key_jwt" {
		c.SecretHash = domain.HashClientSecret(fuzzSecret)
	}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{callbackURL}
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	c.ResponseTypes = []string{"code"}
	c.Name = "Fuzz " + c.ID
	c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	if err := fe.store.CreateClient(fe.ctx, c); err != nil {
		fe.t.Fatalf("create client %s: %v", c.ID, err)
	}
}

// assertion signs claims with fuzzKey, as a client or trusted issuer would.
func (fe *fuzzEnv) assertion(tb testing.TB, iss, sub string, iat time.Time, life time.Duration) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: fe.key, KeyID: fuzzKeyID}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := josejwt.Signed(sig).Claims(josejwt.Claims{
		Issuer: iss, Subject: sub, Audience: josejwt.Audience{fuzzIssuer + "/oauth2/token"}, ID: uuid.NewString(),
		IssuedAt: josejwt.NewNumericDate(iat), Expiry: josejwt.NewNumericDate(iat.Add(life)),
	}).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// verifiesAs reports whether raw is a JWS that fuzzKey signed, issued by
// iss: the only kind of assertion that may earn tokens.
func (fe *fuzzEnv) verifiesAs(raw, iss string) bool {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return false
	}
	var c josejwt.Claims
	return tok.Claims(&fe.key.PublicKey, &c) == nil && c.Issuer == iss
}

// expiryOf reads a JWT's exp without verifying it.
func expiryOf(raw string) time.Time {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return time.Time{}
	}
	var c josejwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&c) != nil || c.Expiry == nil {
		return time.Time{}
	}
	return c.Expiry.Time()
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// serve runs one request through the router.
func (fe *fuzzEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fe.srv.Config.Handler.ServeHTTP(rec, r)
	return rec
}

// postToken sends a token request; header values no HTTP server would
// accept are dropped, as they could not arrive.
func (fe *fuzzEnv) postToken(authorization, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	if authorization != "" && httpguts.ValidHeaderFieldValue(authorization) {
		r.Header.Set("Authorization", authorization)
	}
	if httpguts.ValidHeaderFieldValue(contentType) {
		r.Header.Set("Content-Type", contentType)
	}
	return fe.serve(r)
}

// tokenAnswer checks an answer of the token endpoint: a known status, JSON,
// tokens on success and an RFC 6749 §5.2 error otherwise. It returns the
// decoded body.
func tokenAnswer(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d, body is no JSON object (%v): %s", rec.Code, err, rec.Body)
	}
	if rec.Code == http.StatusOK {
		if s, _ := body["access_token"].(string); s == "" || body["token_type"] == nil {
			t.Fatalf("200 without a token: %s", rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("tokens with Cache-Control %q", cc)
		}
		return body
	}
	if s, _ := body["error"].(string); s == "" {
		t.Fatalf("status %d without an error code: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	return body
}

func FuzzTokenEndpoint(f *testing.F) {
	fe := newFuzzEnv(f)
	web := basicAuth("fz-web", fuzzSecret)
	now := time.Now()
	for _, s := range []struct{ auth, ctype, body string }{
		{web, formMedia, "grant_type=client_credentials&scope=api%3Aread"},
		{"", formMedia, "grant_type=client_credentials&client_id=fz-first&client_secret=" + url.QueryEscape(fuzzSecret)},
		{web, formMedia, "grant_type=refresh_token&refresh_token=" + url.QueryEscape(fe.refreshToken)},
		{web, formMedia, "grant_type=authorization_code&code=ory_ac_abc.def&redirect_uri=" + url.QueryEscape(callbackURL) + "&code_verifier=" + strings.Repeat("v", 43)},
		{"", formMedia, "grant_type=authorization_code&client_id=fz-spa&code=x&code_verifier=short"},
		{"", formMedia, "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(assertionJWT) +
			"&client_assertion=" + fe.assertion(f, "fz-pkjwt", "fz-pkjwt", now, 5*time.Minute)},
		{basicAuth("fz-bridge", fuzzSecret), formMedia, "grant_type=" + url.QueryEscape(grantTypeJWTBearer) + "&scope=api%3Aread&assertion=" +
			fe.assertion(f, fuzzPartner, "partner-service", now, 5*time.Minute)},
		{basicAuth("fz-web", "wrong"), formMedia, "grant_type=client_credentials"},
		{"Basic !!!not base64", formMedia, "grant_type=client_credentials"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")), formMedia, "grant_type=client_credentials"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%zz")), formMedia, "grant_type=client_credentials"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("\x00\xff:\x00")), formMedia, "grant_type=client_credentials"},
		{"Bearer abc", formMedia, "grant_type=client_credentials"},
		{web, formMedia, "grant_type=client_credentials&grant_type=refresh_token"},
		{web, formMedia, "grant_type=password&username=alice&password=x"},
		{web, formMedia, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=x"},
		{"", formMedia, "grant_type=client_credentials&client_id=%00&client_secret=%FF"},
		{"", formMedia, "%zz=1&grant_type=client_credentials;client_id=fz-web"},
		{"", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n"},
		{web, "text/plain", "grant_type=client_credentials"},
		{web, "", ""},
	} {
		f.Add(s.auth, s.ctype, s.body)
	}
	f.Fuzz(func(t *testing.T, authorization, contentType, body string) {
		answer := tokenAnswer(t, fe.postToken(authorization, contentType, body))
		if answer["access_token"] != nil && !fe.authenticates(authorization, body) {
			t.Fatalf("tokens without the client's secret or a signed assertion: Authorization %q, body %q", authorization, body)
		}
	})
}

// authenticates reports whether a token request carries what a fuzz client
// needs to be issued tokens: fuzzSecret (Basic, or anywhere in the body,
// which covers client_secret_post in any encoding the parsers accept) or a
// client assertion fuzzKey signed.
func (fe *fuzzEnv) authenticates(authorization, body string) bool {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", authorization)
	if _, secret, ok := r.BasicAuth(); ok {
		if s, err := url.QueryUnescape(secret); secret == fuzzSecret || (err == nil && s == fuzzSecret) {
			return true
		}
	}
	if strings.Contains(body, fuzzSecret) {
		return true
	}
	form, _ := url.ParseQuery(body)
	return slices.Contains(form["client_secret"], fuzzSecret) ||
		slices.ContainsFunc(form["client_assertion"], func(a string) bool { return fe.verifiesAs(a, "fz-pkjwt") })
}

func FuzzClientAssertion(f *testing.F) {
	fe := newFuzzEnv(f)
	now := time.Now()
	f.Add(fe.assertion(f, "fz-pkjwt", "fz-pkjwt", now, 5*time.Minute))
	f.Add(fe.assertion(f, "fz-pkjwt", "fz-pkjwt", now, 48*time.Hour))
	f.Add(fe.assertion(f, "fz-pkjwt", "fz-web", now, 5*time.Minute))
	f.Add(fe.assertion(f, "fz-web", "fz-web", now, 5*time.Minute))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, assertion string) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"},
			"client_assertion_type": {assertionJWT}, "client_assertion": {assertion}}
		body := tokenAnswer(t, fe.postToken("", formMedia, form.Encode()))
		if body["access_token"] != nil && !fe.verifiesAs(assertion, "fz-pkjwt") {
			t.Fatalf("tokens for an assertion fuzzKey did not sign as fz-pkjwt: %q", assertion)
		}
	})
}

func FuzzJWTBearerGrant(f *testing.F) {
	fe := newFuzzEnv(f)
	now := time.Now()
	f.Add(fe.assertion(f, fuzzPartner, "partner-service", now, 5*time.Minute), "api:read")
	f.Add(fe.assertion(f, fuzzPartner, "partner-service", now, 5*time.Minute), "api:write")
	f.Add(fe.assertion(f, fuzzPartner, "someone-else", now, 5*time.Minute), "api:read")
	f.Add(fe.assertion(f, fuzzPartner, "partner-service", now, 2*time.Hour), "")
	f.Add(fe.assertion(f, "https://other.fuzz.test", "partner-service", now, 5*time.Minute), "api:read")
	f.Add("a.b.c", "api:read")
	bridge := basicAuth("fz-bridge", fuzzSecret)
	f.Fuzz(func(t *testing.T, assertion, scope string) {
		form := url.Values{"grant_type": {grantTypeJWTBearer}, "assertion": {assertion}, "scope": {scope}}
		body := tokenAnswer(t, fe.postToken(bridge, formMedia, form.Encode()))
		if body["access_token"] == nil {
			return
		}
		if !fe.verifiesAs(assertion, fuzzPartner) {
			t.Fatalf("tokens for an assertion fuzzKey did not sign as %s: %q", fuzzPartner, assertion)
		}
		if granted, _ := body["scope"].(string); granted != "" && granted != "api:read" {
			t.Fatalf("granted scope %q, the issuer is trusted with api:read only", granted)
		}
		// Its jti is kept until it expires: an assertion valid for
		// longer than the grant allows would pin the row that long.
		if exp := expiryOf(assertion); exp.After(time.Now().Add(jwtBearerMaxAge + time.Minute)) {
			t.Fatalf("tokens for an assertion that expires at %s, more than %s away", exp, jwtBearerMaxAge)
		}
	})
}

func FuzzAuthorize(f *testing.F) {
	fe := newFuzzEnv(f)
	valid := func(client string, extra ...string) string {
		q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {callbackURL},
			"scope": {"openid profile"}, "state": {"state-123456"}, "nonce": {"nonce-123456"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(strings.Repeat("v", 43))}, "code_challenge_method": {"S256"}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q.Encode()
	}
	for _, s := range []struct {
		query, form string
		signedIn    bool
	}{
		{valid("fz-web"), "", false},
		{valid("fz-web"), "", true},
		{valid("fz-first"), "", true},
		{valid("fz-spa"), "", true},
		{valid("fz-spa", "code_challenge", ""), "", true},
		{valid("fz-web", "prompt", "none"), "", false},
		{valid("fz-web", "prompt", "login consent"), "", true},
		{valid("fz-web", "max_age", "0"), "", true},
		{valid("fz-web", "max_age", "-1"), "", true},
		{valid("fz-web", "response_mode", "form_post"), "", false},
		{valid("fz-web", "response_mode", "fragment", "scope", "admin"), "", false},
		{valid("fz-web", "redirect_uri", "https://evil.example/cb"), "", false},
		{valid("fz-web", "redirect_uri", "http://localhost:8080/callback"), "", false},
		{valid("fz-web", "request", "a.b.c"), "", false},
		{valid("fz-web", "request_uri", "urn:ietf:params:oauth:request_uri:nope"), "", false},
		{valid("fz-web") + "&client_id=fz-spa", "", false},
		{valid("fz-web") + "&state=2", "", false},
		{"", valid("fz-web"), true},
		{"client_id=%00&redirect_uri=%ff", "", false},
		{"client_id=fz-web&response_type=token", "", false},
		{"%zz", "", false},
		{"", "", false},
	} {
		f.Add(s.query, s.form, s.signedIn)
	}
	f.Fuzz(func(t *testing.T, query, form string, signedIn bool) {
		method := http.MethodGet
		if form != "" {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/oauth2/auth", strings.NewReader(form))
		r.URL.RawQuery = query
		r.RequestURI = r.URL.RequestURI()
		if form != "" {
			r.Header.Set("Content-Type", formMedia)
		}
		if signedIn {
			r.Header.Set("Cookie", fe.cookie)
		}
		rec := fe.serve(r)
		authorizeAnswer(t, rec)
		params, _ := url.ParseQuery(query)
		if body, _ := url.ParseQuery(form); form != "" {
			for k, vs := range body {
				params[k] = append(params[k], vs...)
			}
		}
		noMarkupEchoed(t, rec, params)
	})
}

// noMarkupEchoed fails if an HTML answer carries, unescaped, a parameter
// value that would break out of an attribute or open a script.
func noMarkupEchoed(t *testing.T, rec *httptest.ResponseRecorder, params url.Values) {
	t.Helper()
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		return
	}
	body := strings.ToLower(rec.Body.String())
	for k, vs := range params {
		for _, v := range vs {
			v = strings.ToLower(v)
			if (strings.Contains(v, "<script") || strings.Contains(v, `"><`) || strings.Contains(v, `'><`)) && strings.Contains(body, v) {
				t.Fatalf("parameter %s=%q appears unescaped in the page: %s", k, v, rec.Body)
			}
		}
	}
}

// authorizeAnswer checks an answer of the authorization endpoint: a page
// (consent, error, form_post), a redirect to one of our own pages, or a
// redirect to the registered callback carrying a code or an error.
func authorizeAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("status %d with Content-Type %q: %s", rec.Code, ct, rec.Body)
		}
		return
	case http.StatusFound, http.StatusSeeOther:
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("redirect to an unparsable Location %q: %v", loc, err)
	}
	if u.Scheme == "" && u.Host == "" {
		// One of our pages: a path, never one a browser reads as another
		// host ("//evil", "/\evil").
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Fatalf("redirect to %q", loc)
		}
		return
	}
	cb, _ := url.Parse(callbackURL)
	if u.Scheme != cb.Scheme || u.Hostname() != cb.Hostname() || u.Path != cb.Path || u.User != nil {
		t.Fatalf("redirect to %q, which is no registered redirect URI", loc)
	}
	params := u.Query()
	if frag, err := url.ParseQuery(u.Fragment); err == nil && u.Fragment != "" {
		params = frag
	}
	if !slices.ContainsFunc([]string{"code", "error"}, params.Has) {
		t.Fatalf("redirect to the client without a code or an error: %q", loc)
	}
}
