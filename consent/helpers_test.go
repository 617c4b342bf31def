package consent_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

const (
	testIssuer   = "https://id.example.test"
	testPassword = "correct horse battery"
	testLifetime = 24 * time.Hour
)

// testPasswords keeps bcrypt cheap; the cost is not what these tests prove.
var testPasswords = domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8}

type env struct {
	t      testing.TB
	pages  *consent.Pages
	svc    *domain.Service
	store  store.Store
	keys   *keys.Manager
	clock  *fakeclock.Clock
	srv    *httptest.Server
	router *mux.Router
}

// envOptions adjust the pages and the domain service of a test env.
type envOptions struct {
	secure       bool
	registration bool
	email        bool
	domain       domain.Options
	// publicKeys, if set, stands between the pages and the key manager
	// (the fuzz tests add a fixed key that committed seeds are signed with).
	publicKeys func(*keys.Manager) consent.PublicKeys
}

func newEnv(t testing.TB, secure bool) *env {
	t.Helper()
	return newEnvWith(t, envOptions{secure: secure})
}

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	secure := o.secure
	ctx := context.Background()
	st := memory.New()
	t.Cleanup(st.Close)
	km, err := keys.NewManager(st, []byte(strings.Repeat("k", 32)), keys.Options{})
	if err != nil {
		t.Fatalf("keys.NewManager: %v", err)
	}
	if err := km.Ensure(ctx); err != nil {
		t.Fatalf("keys Ensure: %v", err)
	}
	clk := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	dopts := o.domain
	dopts.Passwords = testPasswords
	dopts.Now = clk.Now
	svc := domain.NewService(st, dopts)
	var pk consent.PublicKeys = km
	if o.publicKeys != nil {
		pk = o.publicKeys(km)
	}
	p, err := consent.New(svc, pk, consent.Options{
		Issuer:              testIssuer,
		CookieSecure:        secure,
		SessionLifetime:     testLifetime,
		CSRFKey:             []byte(strings.Repeat("c", 32)),
		BindingKey:          []byte(strings.Repeat("b", 32)),
		RegistrationEnabled: o.registration,
		EmailNotifications:  o.email,
		Now:                 clk.Now,
	})
	if err != nil {
		t.Fatalf("consent.New: %v", err)
	}
	r := mux.NewRouter()
	p.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &env{t: t, pages: p, svc: svc, store: st, keys: km, clock: clk, srv: srv, router: r}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see every 303.
func (e *env) browser() *http.Client {
	return formdriver.NewBrowser("", 0)
}

func (e *env) createUser(username, email string, status store.UserStatus) store.User {
	e.t.Helper()
	h, err := testPasswords.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u := store.User{
		ID:           newID(username),
		Username:     username,
		Email:        email,
		PasswordHash: h,
		Status:       status,
		CreatedAt:    e.clock.Now(),
		UpdatedAt:    e.clock.Now(),
	}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatalf("CreateUser %s: %v", username, err)
	}
	return u
}

// newID derives a stable UUID-shaped id from a name.
func newID(name string) string {
	d := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(d[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

func (e *env) createClient(id string, postLogout ...string) store.Client {
	e.t.Helper()
	c := store.Client{
		ID:                      id,
		Name:                    "App " + id,
		TokenEndpointAuthMethod: "none",
		Public:                  true,
		RedirectURIs:            []string{"https://" + id + ".example/cb"},
		PostLogoutRedirectURIs:  postLogout,
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid"},
		CreatedAt:               e.clock.Now(),
		UpdatedAt:               e.clock.Now(),
	}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatalf("CreateClient: %v", err)
	}
	return c
}

// createGrant stores an access token of a grant made in the login session.
func (e *env) createGrant(clientID string, u store.User, sessionID, signature string) {
	e.t.Helper()
	now := e.clock.Now()
	err := e.store.CreateToken(context.Background(), store.Token{
		Kind:           store.KindAccessToken,
		Signature:      signature,
		RequestID:      "req-" + signature,
		ClientID:       clientID,
		Subject:        u.ID,
		UserID:         u.ID,
		LoginSessionID: sessionID,
		GrantedScopes:  []string{"openid"},
		RequestedAt:    now,
		ExpiresAt:      now.Add(time.Hour),
		Active:         true,
		Request:        []byte(`{}`),
	})
	if err != nil {
		e.t.Fatalf("CreateToken: %v", err)
	}
}

func (e *env) tokenActive(signature string) bool {
	e.t.Helper()
	tok, err := e.store.GetToken(context.Background(), store.KindAccessToken, signature)
	if err != nil {
		e.t.Fatalf("GetToken: %v", err)
	}
	return tok.Active
}

// idToken signs an ID token with the manager's active key.
func (e *env) idToken(claims map[string]any) string {
	e.t.Helper()
	sk, err := e.keys.Signer(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return signJWT(e.t, sk.Private, sk.ID, jose.SignatureAlgorithm(sk.Algorithm), claims)
}

func signJWT(t testing.TB, key any, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) url(path string) string { return e.srv.URL + path }

func (e *env) get(c *http.Client, path string) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Get(e.url(path))
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func (e *env) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "consent-test/1.0")
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(e.t, resp)
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hiddenFields returns the hidden inputs of a page's forms, unescaped.
func hiddenFields(body string) map[string][]string {
	pg, err := formdriver.Parse(nil, []byte(body))
	if err != nil {
		return nil
	}
	return pg.Hidden()
}

func csrfFrom(t testing.TB, body string) string {
	t.Helper()
	v := hiddenFields(body)["csrf_token"]
	if len(v) != 1 || v[0] == "" {
		t.Fatalf("want one non-empty csrf_token, got %q in\n%s", v, body)
	}
	return v[0]
}

// login signs in through the login form, as served for returnTo with its
// hidden fields, and returns the final response.
func (e *env) login(c *http.Client, username, password, returnTo string) (*http.Response, string) {
	e.t.Helper()
	_, body := e.get(c, "/login?return_to="+url.QueryEscape(returnTo))
	csrfFrom(e.t, body)
	pg, err := formdriver.Parse(nil, []byte(body))
	if err != nil {
		e.t.Fatal(err)
	}
	f := pg.Form("password")
	if f == nil {
		e.t.Fatalf("no login form in\n%s", body)
	}
	if got := f.Fields.Get("return_to"); got != returnTo {
		e.t.Fatalf("login form carries return_to %q, want %q", got, returnTo)
	}
	return e.post(c, f.Action.String(), f.Values(url.Values{"username": {username}, "password": {password}}))
}

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie returns the session cookie the jar holds for the server.
func (e *env) sessionCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(e.srv.URL)
	return cookieNamed(c.Jar.Cookies(u), "gatehouse_session")
}

func storeID(cookieValue string) string {
	d := sha256.Sum256([]byte(cookieValue))
	return hex.EncodeToString(d[:])
}

// currentSession asks the pages for the session of a request carrying the
// given session cookie value.
func (e *env) currentSession(value string) *consent.Session {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if value != "" {
		r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: value})
	}
	s, err := e.pages.CurrentSession(r)
	if err != nil {
		e.t.Fatalf("CurrentSession: %v", err)
	}
	return s
}

// signIn logs u in with a new browser and returns it with the store id of
// its session.
func (e *env) signIn(u store.User) (*http.Client, string) {
	e.t.Helper()
	c := e.browser()
	resp, _ := e.login(c, u.Username, testPassword, "/")
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d", u.Username, resp.StatusCode)
	}
	sc := e.sessionCookie(c)
	if sc == nil {
		e.t.Fatalf("login %s: no session cookie", u.Username)
	}
	return c, storeID(sc.Value)
}

func (e *env) sessionExists(id string) bool {
	e.t.Helper()
	_, err := e.store.GetLoginSession(context.Background(), id, e.clock.Now())
	if err == nil {
		return true
	}
	if !isNotFound(err) {
		e.t.Fatalf("GetLoginSession: %v", err)
	}
	return false
}
