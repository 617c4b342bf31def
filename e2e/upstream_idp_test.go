package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// federation is a downstream gatehouse (PostgreSQL, a database of its own) whose
// login page offers upstream providers backed by a second gatehouse: its
// own issuer on another loopback host (so its cookies are its own) and its
// own in-memory store, so the two share no user.
type federation struct {
	up, down *testServer
	// client is the confidential client the downstream is at the upstream.
	client testClient
	// linking and plain are two providers over the same upstream: one
	// links by verified email, the other does not.
	linking, plain string
	// linkingName and plainName are their display names: unique, since
	// the login page lists every provider of the shared database.
	linkingName, plainName string
}

func startFederation(t *testing.T) *federation {
	t.Helper()
	up := startServerOn(t, serverSetup{host: "127.0.0.2", store: func(*testing.T) store.Store { return memory.New() }})
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	tag := randomHex(t, 3)
	f := &federation{up: up, linking: "up-link-" + tag, plain: "up-" + tag,
		linkingName: "Upstream Linking " + tag, plainName: "Upstream Plain " + tag}
	clientID := "downstream-" + randomHex(t, 4)
	// Both providers come from the YAML configuration's structure.
	// A database of its own: the login page lists every provider of its
	// database, and the package's is shared by tests running in parallel.
	dbURL := pgtest.NewDatabase(t)
	f.down = startServer(t, func(c *config.Config) {
		c.DatabaseURL = dbURL
		for _, p := range []config.IdentityProvider{
			{ID: f.linking, DisplayName: f.linkingName, LinkByVerifiedEmail: true},
			{ID: f.plain, DisplayName: f.plainName},
		} {
			p.Issuer, p.ClientID, p.ClientSecret = up.URL, clientID, secret
			p.Scopes = []string{"profile", "email"}
			c.IdentityProviders = append(c.IdentityProviders, p)
		}
	})
	f.down.secret(secret)
	up.secret(secret)
	// The downstream's client at the upstream, registered once both
	// callbacks are known; first party, so the upstream asks no consent.
	f.client = up.createConfidentialClient(t, func(c *store.Client) {
		c.ID, c.SecretHash, c.FirstParty = clientID, digest, true
		c.RedirectURIs = []string{f.callback(f.linking), f.callback(f.plain)}
		c.Scopes = []string{"openid", "profile", "email"}
	})
	f.client.Secret = secret
	return f
}

func (f *federation) callback(provider string) string {
	return f.down.URL + "/login/upstream/" + provider + "/callback"
}

// browser follows redirects between the two servers only (never to a
// relying party's redirect URI); stopAt, when set, makes it stop at that
// host too, so a test can hold a redirect.
type fedBrowser struct {
	*http.Client
	stopAt string
}

func (f *federation) newBrowser(t *testing.T) *fedBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &fedBrowser{}
	hosts := []string{hostOf(t, f.up.URL), hostOf(t, f.down.URL)}
	b.Client = &http.Client{Jar: jar, Timeout: requestTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !slices.Contains(hosts, req.URL.Host) || req.URL.Host == b.stopAt || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

var upstreamLink = regexp.MustCompile(`<a class="button wide" href="([^"]+)">Sign in with ([^<]+)</a>`)

// upstreamButtons are the login page's "Sign in with" links: name -> URL.
func upstreamButtons(t *testing.T, pg page) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range upstreamLink.FindAllStringSubmatch(pg.Body, -1) {
		ref, err := pg.URL.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		out[html.UnescapeString(m[2])] = ref.String()
	}
	return out
}

// startAt opens the relying party's authorization request in b and clicks
// "Sign in with <name>", then signs in at the upstream as u; it returns the
// response that ends the journey (a page, or a redirect leaving both
// servers or, with stopAt, reaching it).
func (f *federation) signIn(t *testing.T, b *fedBrowser, startURL, name string, u testUser) *http.Response {
	t.Helper()
	login := readPage(t, get(t, b.Client, startURL))
	if login.Form("password") == nil {
		t.Fatalf("no login page at the start: %d %s\n%s", login.Status, login.URL, snippet(login.Body))
	}
	link, ok := upstreamButtons(t, login)[name]
	if !ok {
		t.Fatalf("the login page has no %q link: %v\n%s", name, upstreamButtons(t, login), snippet(login.Body))
	}
	resp := get(t, b.Client, link)
	pg := readPage(t, resp)
	if pg.URL.Host != hostOf(t, f.up.URL) || pg.Form("password") == nil {
		t.Fatalf("the link did not lead to the upstream's login page: %d %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	return submit(t, b.Client, loginForm(t, pg), url.Values{"username": {u.Username}, "password": {u.Password}})
}

func (f *federation) link(t *testing.T, sub string) (store.LinkedIdentity, bool) {
	t.Helper()
	l, err := f.down.Store.GetLinkedIdentity(ctxT(t), f.up.URL, sub)
	if errors.Is(err, store.ErrNotFound) {
		return store.LinkedIdentity{}, false
	}
	if err != nil {
		t.Fatalf("GetLinkedIdentity: %v", err)
	}
	return l, true
}

func (f *federation) auditActions(t *testing.T, userID string) []string {
	t.Helper()
	entries, err := f.down.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: userID, Limit: 100})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
		if strings.Contains(string(e.Changes), f.client.Secret) {
			t.Errorf("audit entry %s holds the client secret", e.Action)
		}
	}
	return out
}

// TestUpstreamFirstSignInCreatesPendingUserAndSecondReusesLink: a person
// known only upstream signs in through the downstream's login page: the
// downstream makes a pending user linked by (issuer, subject) and shows the
// access-request page; the second sign-in finds the link (no new user);
// once the user is active the relying party gets an ID token with amr fed.
// The only way in of that user cannot be unlinked.
func TestUpstreamFirstSignInCreatesPendingUserAndSecondReusesLink(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	upUser := f.up.createUser(t, "user")
	if _, err := f.down.Store.GetUserByEmail(ctxT(t), upUser.Email); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the upstream's user exists downstream before any sign-in: %v", err)
	}
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")

	// 1. First sign-in: a new pending user, linked, on the access page.
	b := f.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	pg := readPage(t, f.signIn(t, b, ar.URL, f.plainName, upUser))
	if pg.Status != http.StatusOK || pg.URL.Host != hostOf(t, f.down.URL) || pg.URL.Path != "/access/request" {
		t.Fatalf("after the first upstream sign-in: %d at %s, want the access-request page\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	if rt := pg.URL.Query().Get("return_to"); !strings.Contains(rt, "client_id="+client.ID) {
		t.Errorf("the access page does not resume the authorization request: return_to=%q", rt)
	}
	l, ok := f.link(t, upUser.ID)
	if !ok {
		t.Fatal("no link for (upstream issuer, subject) after the first sign-in")
	}
	if l.ProviderID != f.plain || l.Issuer != f.up.URL || l.LastUsedAt == nil {
		t.Errorf("link = %+v", l)
	}
	made, err := f.down.Store.GetUser(ctxT(t), l.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if made.Status != store.StatusPending || len(made.Roles) != 0 || made.Username != upUser.Username ||
		made.Email != upUser.Email || made.PasswordHash != "" || !made.EmailVerified || made.ID == upUser.ID {
		t.Errorf("made user = %+v, want pending, no roles, the upstream's username and verified email, no password, an id of its own", made)
	}
	actions := f.auditActions(t, made.ID)
	for _, a := range []string{"user.create", "identity.link", "login.success"} {
		if !slices.Contains(actions, a) {
			t.Errorf("audit of the first sign-in lacks %s: %v", a, actions)
		}
	}
	entries, _ := f.down.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: made.ID, Action: "login.success"})
	if len(entries) != 1 || !strings.Contains(string(entries[0].Changes), `"fed"`) {
		t.Errorf("login.success entries %+v, want one with method fed", entries)
	}

	// 2. The only way in cannot be unlinked.
	sec := readPage(t, get(t, b.Client, f.down.URL+"/security"))
	form := sec.FormWithButton("unlink", l.ID)
	if sec.Status != http.StatusOK || form == nil {
		t.Fatalf("security page: %d, no Unlink button for %s\n%s", sec.Status, l.ID, snippet(sec.Body))
	}
	if !strings.Contains(sec.Body, f.plainName) {
		t.Errorf("security page does not name the provider")
	}
	refused := readPage(t, submit(t, b.Client, form, url.Values{"unlink": {l.ID}}))
	if refused.Status != http.StatusConflict || !strings.Contains(refused.Body, "only way to sign in") {
		t.Errorf("unlinking the only way in: %d\n%s", refused.Status, snippet(refused.Body))
	}
	if _, ok := f.link(t, upUser.ID); !ok {
		t.Fatal("the only link was removed")
	}

	// 3. Second sign-in, another browser: the link, not a new user.
	b2 := f.newBrowser(t)
	pg = readPage(t, f.signIn(t, b2, rp.newAuthRequest(t, false).URL, f.plainName, upUser))
	if pg.URL.Path != "/access/request" {
		t.Fatalf("second sign-in ended at %s (%d)", pg.URL, pg.Status)
	}
	again, _ := f.link(t, upUser.ID)
	if again.ID != l.ID || again.UserID != made.ID {
		t.Errorf("second sign-in link %+v, want the first one %+v", again, l)
	}
	links, _ := f.down.Store.ListLinkedIdentities(ctxT(t), made.ID)
	if len(links) != 1 {
		t.Errorf("%d links after two sign-ins, want 1", len(links))
	}
	if _, err := f.down.Store.GetUserByUsername(ctxT(t), upUser.Username+"-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the second sign-in made another user: %v", err)
	}

	// 4. Once an administrator lets the user in, the relying party gets
	// its code and an ID token saying how the person signed in.
	made.Status, made.Roles = store.StatusActive, []string{"user"}
	if err := f.down.Store.UpdateUser(ctxT(t), made); err != nil {
		t.Fatal(err)
	}
	b3 := f.newBrowser(t)
	ar = rp.newAuthRequest(t, false)
	resp := f.signIn(t, b3, ar.URL, f.plainName, upUser)
	if !isRedirect(resp.StatusCode) {
		pg := readPage(t, resp)
		t.Fatalf("an active user's upstream sign-in did not reach the relying party: %d %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	cb := location(t, resp)
	closeBody(resp)
	if !strings.HasPrefix(cb.String(), client.RedirectURIs[0]) || cb.Query().Get("state") != ar.State {
		t.Fatalf("redirected to %s", cb.Redacted())
	}
	tok := rp.exchange(t, cb.Query().Get("code"), ar)
	idt := rp.verifyIDToken(t, tok, ar.Nonce)
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != made.ID || !slices.Contains(claims.AMR, domain.AMRFederated) || slices.Contains(claims.AMR, domain.AMRPassword) {
		t.Errorf("ID token sub %q amr %v, want %q and [fed]", idt.Subject, claims.AMR, made.ID)
	}
}

// TestUpstreamLinkByVerifiedEmail: an upstream account whose verified email
// is an existing user's is linked to it only by the provider that links by
// verified email; an unverified email is refused, and so is the same email
// through the provider that does not link.
func TestUpstreamLinkByVerifiedEmail(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	refusedEmail := func(what string, resp *http.Response) {
		t.Helper()
		pg := readPage(t, resp)
		if pg.Status != http.StatusForbidden || !strings.Contains(pg.Body, "email address is missing, not verified, or belongs to another account") {
			t.Errorf("%s: %d at %s, want the refusal page\n%s", what, pg.Status, pg.URL, snippet(pg.Body))
		}
	}

	// Same email both sides, verified upstream.
	local := f.down.createUser(t, "user")
	upVerified := f.up.createUserWith(t, func(u *store.User) { u.Email = local.Email }, "user")

	// Through the provider that does not link: refused, nothing linked.
	refusedEmail("no linking", f.signIn(t, f.newBrowser(t), rp.newAuthRequest(t, false).URL, f.plainName, upVerified))
	if _, ok := f.link(t, upVerified.ID); ok {
		t.Fatal("linked through a provider that does not link by email")
	}

	// Through the linking provider: linked to the existing user, who
	// (active) goes on to the relying party.
	b := f.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	resp := f.signIn(t, b, ar.URL, f.linkingName, upVerified)
	if !isRedirect(resp.StatusCode) || !strings.HasPrefix(location(t, resp).String(), client.RedirectURIs[0]) {
		pg := readPage(t, resp)
		t.Fatalf("link by verified email: %d %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	closeBody(resp)
	l, ok := f.link(t, upVerified.ID)
	if !ok || l.UserID != local.ID || l.ProviderID != f.linking {
		t.Fatalf("link = %+v (found %v), want one to %s through %s", l, ok, local.ID, f.linking)
	}
	if actions := f.auditActions(t, local.ID); !slices.Contains(actions, "identity.link") {
		t.Errorf("no identity.link audit entry: %v", actions)
	}

	// An unverified upstream email never links.
	other := f.down.createUser(t, "user")
	upUnverified := f.up.createUserWith(t, func(u *store.User) { u.Email, u.EmailVerified = other.Email, false }, "user")
	refusedEmail("unverified email", f.signIn(t, f.newBrowser(t), rp.newAuthRequest(t, false).URL, f.linkingName, upUnverified))
	if _, ok := f.link(t, upUnverified.ID); ok {
		t.Fatal("an unverified email was linked")
	}
	if links, _ := f.down.Store.ListLinkedIdentities(ctxT(t), other.ID); len(links) != 0 {
		t.Errorf("the unverified email's user has links %v", links)
	}

	// The linked user has a password: unlinking is allowed, audited.
	sec := readPage(t, get(t, b.Client, f.down.URL+"/security"))
	form := sec.FormWithButton("unlink", l.ID)
	if form == nil {
		t.Fatalf("no Unlink button\n%s", snippet(sec.Body))
	}
	resp = submit(t, b.Client, form, url.Values{"unlink": {l.ID}})
	done := readPage(t, resp)
	if done.URL.Path != "/security" || !strings.Contains(done.Body, "Linked account removed.") {
		t.Errorf("unlink: %d at %s\n%s", done.Status, done.URL, snippet(done.Body))
	}
	if _, ok := f.link(t, upVerified.ID); ok {
		t.Error("still linked after unlink")
	}
	if actions := f.auditActions(t, local.ID); !slices.Contains(actions, "identity.unlink") {
		t.Errorf("no identity.unlink audit entry: %v", actions)
	}
}

// TestUpstreamCallbackRefusals: a forged state, an upstream error, a
// replayed callback (without and with the flow cookie) and a callback
// without any flow each get a fixed error page, never a 500, and sign in
// nobody.
func TestUpstreamCallbackRefusals(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	upUser := f.up.createUser(t, "user")
	downHost := hostOf(t, f.down.URL)

	// held runs a sign-in up to the upstream's redirect to our callback
	// and returns that callback URL, not yet followed.
	held := func(b *fedBrowser) *url.URL {
		t.Helper()
		b.stopAt = ""
		login := readPage(t, get(t, b.Client, rp.newAuthRequest(t, false).URL))
		link := upstreamButtons(t, login)[f.plainName]
		pg := readPage(t, get(t, b.Client, link))
		b.stopAt = downHost
		resp := submit(t, b.Client, loginForm(t, pg), url.Values{"username": {upUser.Username}, "password": {upUser.Password}})
		if !isRedirect(resp.StatusCode) {
			t.Fatalf("upstream sign-in did not redirect: %d", resp.StatusCode)
		}
		cb := location(t, resp)
		closeBody(resp)
		if !strings.HasPrefix(cb.String(), f.callback(f.plain)+"?") || cb.Query().Get("code") == "" {
			t.Fatalf("upstream redirected to %s", cb.Redacted())
		}
		f.down.secret(cb.Query().Get("code"))
		b.stopAt = ""
		return cb
	}
	wantRefused := func(what string, b *fedBrowser, u string, status int, msg string) {
		t.Helper()
		pg := readPage(t, get(t, b.Client, u))
		if pg.Status != status || pg.URL.Path != "/login/upstream/"+f.plain+"/callback" || !strings.Contains(pg.Body, msg) {
			t.Errorf("%s: %d at %s, want %d with %q\n%s", what, pg.Status, pg.URL.Path, status, msg, snippet(pg.Body))
		}
		if strings.Contains(pg.Body, "goroutine") || strings.Contains(pg.Body, "<script>") {
			t.Errorf("%s: the page shows internals or reflects input", what)
		}
	}
	noLink := func(what string) {
		t.Helper()
		if _, ok := f.link(t, upUser.ID); ok {
			t.Fatalf("%s: someone was signed in (a link exists)", what)
		}
	}

	// A forged state: refused, and the flow is spent.
	b := f.newBrowser(t)
	cb := held(b)
	forged := *cb
	q := forged.Query()
	q.Set("state", "forged-"+randomHex(t, 8))
	forged.RawQuery = q.Encode()
	wantRefused("forged state", b, forged.String(), http.StatusBadRequest, "expired or was started in another browser")
	wantRefused("the real callback after a forged one", b, cb.String(), http.StatusBadRequest, "expired or was started in another browser")
	noLink("forged state")

	// A flow cookie altered by one character does not open (AES-GCM).
	b = f.newBrowser(t)
	cb = held(b)
	downURL, _ := url.Parse(f.down.URL)
	var altered []*http.Cookie
	for _, c := range b.Jar.Cookies(downURL) {
		if c.Name == "gatehouse_upstream" {
			// A middle character: every one of its bits counts.
			i := len(c.Value) / 2
			swap := byte('A')
			if c.Value[i] == 'A' {
				swap = 'B'
			}
			c.Value = c.Value[:i] + string(swap) + c.Value[i+1:]
		}
		altered = append(altered, c)
	}
	b.Jar.SetCookies(downURL, altered)
	wantRefused("altered flow cookie", b, cb.String(), http.StatusBadRequest, "expired or was started in another browser")
	noLink("altered flow cookie")

	// A callback in a browser that started nothing.
	wantRefused("no flow", f.newBrowser(t), cb.String(), http.StatusBadRequest, "expired or was started in another browser")

	// The upstream answers an error: its words are not shown.
	b = f.newBrowser(t)
	login := readPage(t, get(t, b.Client, rp.newAuthRequest(t, false).URL))
	b.stopAt = hostOf(t, f.up.URL)
	resp := get(t, b.Client, upstreamButtons(t, login)[f.plainName])
	authz := location(t, resp)
	closeBody(resp)
	b.stopAt = ""
	if authz.Query().Get("code_challenge_method") != "S256" || authz.Query().Get("code_challenge") == "" || authz.Query().Get("nonce") == "" {
		t.Errorf("the upstream authorization request lacks PKCE S256 or a nonce: %s", authz.Redacted())
	}
	errURL := f.callback(f.plain) + "?" + url.Values{"state": {authz.Query().Get("state")}, "error": {"access_denied"},
		"error_description": {"<script>alert(1)</script>"}}.Encode()
	wantRefused("upstream error", b, errURL, http.StatusBadRequest, "did not complete")
	noLink("upstream error")

	// A replayed callback: the first use signs in, the second is refused,
	// even with the flow cookie put back (the upstream's code is spent).
	b = f.newBrowser(t)
	cb = held(b)
	cookieURL, _ := url.Parse(f.down.URL)
	flowCookies := b.Jar.Cookies(cookieURL)
	pg := readPage(t, get(t, b.Client, cb.String()))
	if pg.URL.Path != "/access/request" {
		t.Fatalf("the first use of the callback: %d at %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	l, ok := f.link(t, upUser.ID)
	if !ok {
		t.Fatal("no link after the callback's first use")
	}
	wantRefused("replay", b, cb.String(), http.StatusBadRequest, "expired or was started in another browser")
	thief := f.newBrowser(t)
	thief.Jar.SetCookies(cookieURL, flowCookies)
	wantRefused("replay with the flow cookie", thief, cb.String(), http.StatusBadGateway, "did not complete")
	if after, _ := f.link(t, upUser.ID); after.ID != l.ID {
		t.Errorf("link changed by a replay")
	}
	entries, _ := f.down.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: l.UserID, Action: "login.success"})
	if len(entries) != 1 {
		t.Errorf("%d login.success entries, want the first use's only", len(entries))
	}
}

// TestUpstreamNonceMismatchRefused: a flow whose nonce is not the one the
// upstream's ID token carries is refused after the code exchange. The test
// holds the server secret, so it can open the flow cookie, change only the
// nonce and seal it again: what an attacker who could plant a flow would
// try.
func TestUpstreamNonceMismatchRefused(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	upUser := f.up.createUser(t, "user")

	b := f.newBrowser(t)
	login := readPage(t, get(t, b.Client, rp.newAuthRequest(t, false).URL))
	pg := readPage(t, get(t, b.Client, upstreamButtons(t, login)[f.plainName]))
	b.stopAt = hostOf(t, f.down.URL)
	resp := submit(t, b.Client, loginForm(t, pg), url.Values{"username": {upUser.Username}, "password": {upUser.Password}})
	cb := location(t, resp)
	closeBody(resp)
	b.stopAt = ""

	down, _ := url.Parse(f.down.URL)
	aead := flowCipher(t)
	var found bool
	var cookies []*http.Cookie
	for _, c := range b.Jar.Cookies(down) {
		if c.Name == "gatehouse_upstream" {
			found = true
			raw, err := base64.RawURLEncoding.DecodeString(c.Value)
			if err != nil {
				t.Fatal(err)
			}
			n := aead.NonceSize()
			plain, err := aead.Open(nil, raw[:n], raw[n:], []byte("gatehouse upstream flow v1"))
			if err != nil {
				t.Fatalf("open the flow cookie: %v", err)
			}
			var flow map[string]any
			if err := json.Unmarshal(plain, &flow); err != nil {
				t.Fatal(err)
			}
			flow["n"] = "another-nonce-" + randomHex(t, 8)
			plain, _ = json.Marshal(flow)
			nonce := make([]byte, n)
			_, _ = rand.Read(nonce)
			c.Value = base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte("gatehouse upstream flow v1")))
		}
		cookies = append(cookies, c)
	}
	if !found {
		t.Fatal("no flow cookie")
	}
	b.Jar.SetCookies(down, cookies)
	refused := readPage(t, get(t, b.Client, cb.String()))
	if refused.Status != http.StatusBadRequest || !strings.Contains(refused.Body, "did not complete") {
		t.Errorf("nonce mismatch: %d at %s\n%s", refused.Status, refused.URL, snippet(refused.Body))
	}
	if _, ok := f.link(t, upUser.ID); ok {
		t.Fatal("signed in despite the nonce mismatch")
	}
}

// flowCipher is the downstream's flow-cookie cipher, from the package's
// secret as the server derives it.
func flowCipher(t *testing.T) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(keys.Derive([]byte(packageSecret), "upstream-login-state", 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// TestUpstreamSignInAsksForTheSecondFactor: an upstream sign-in of a user
// with an authenticator app is the first step only: the second step comes
// next, and the ID token says both (amr fed+otp, acr aal2).
func TestUpstreamSignInAsksForTheSecondFactor(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	local := f.down.createUser(t, "user")
	upUser := f.up.createUserWith(t, func(u *store.User) { u.Email = local.Email }, "user")

	// Linked by verified email; then the person sets up an app.
	b := f.newBrowser(t)
	resp := f.signIn(t, b, rp.newAuthRequest(t, false).URL, f.linkingName, upUser)
	if !isRedirect(resp.StatusCode) {
		t.Fatalf("first sign-in: %d", resp.StatusCode)
	}
	closeBody(resp)
	secret, _ := enrolThroughPage(t, f.down, b.Client)

	code := totpAt(t, secret, time.Now().Add(30*time.Second))
	f.down.secret(code)
	b = f.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	pg := readPage(t, f.signIn(t, b, ar.URL, f.linkingName, upUser))
	if pg.URL.Path != "/login/mfa" || pg.Form("code") == nil {
		t.Fatalf("after the upstream sign-in: %d at %s, want the second step\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	tok := rp.exchange(t, finishAuthorize(t, b.Client, rp, ar, submitCode(t, b.Client, pg, "code", code)), ar)
	wantAuth(t, "upstream + TOTP", rp.verifyIDToken(t, tok, ar.Nonce), []string{"fed", "otp"}, "aal2")
}

// TestUpstreamProviderFromTheAPI: a provider added through the resource API
// (never showing its secret back, not even to an admin) signs people in
// like a configured one; disabled, it leaves the login page and its start
// is refused.
func TestUpstreamProviderFromTheAPI(t *testing.T) {
	t.Parallel()
	f := startFederation(t)
	tok := apiTokenFor(t, f.down, f.down.createUser(t, "admin"))
	id, name := "api-"+randomHex(t, 3), "Upstream API "+randomHex(t, 3)
	r := apiCall(t, f.down, http.MethodPost, "/api/v1/identity-providers", tok, map[string]any{
		"id": id, "display_name": name, "issuer": f.up.URL, "client_id": f.client.ID,
		"client_secret": f.client.Secret, "scopes": []string{"profile", "email"}})
	if r.Status != http.StatusCreated || r.JSON["client_secret_set"] != true || r.JSON["callback_url"] != f.callback(id) {
		t.Fatalf("POST /identity-providers: %d %s", r.Status, r.Raw)
	}
	for _, path := range []string{"/api/v1/identity-providers", "/api/v1/identity-providers/" + id, "/api/v1/identity-providers/" + f.plain} {
		got := apiCall(t, f.down, http.MethodGet, path, tok, nil)
		if got.Status != http.StatusOK || strings.Contains(got.Raw, f.client.Secret) || strings.Contains(got.Raw, `"client_secret"`) {
			t.Errorf("GET %s: %d shows the secret or fails: %s", path, got.Status, got.Raw)
		}
	}
	// A manager may not see them.
	mgr := apiTokenFor(t, f.down, f.down.createUser(t, "manager"))
	if got := apiCall(t, f.down, http.MethodGet, "/api/v1/identity-providers", mgr, nil); got.Status != http.StatusForbidden {
		t.Errorf("manager: %d, want 403", got.Status)
	}

	c := f.client.Client
	c.RedirectURIs = append(c.RedirectURIs, f.callback(id))
	if err := f.up.Store.UpdateClient(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	client := f.down.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true })
	rp := f.down.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	upUser := f.up.createUser(t, "user")
	pg := readPage(t, f.signIn(t, f.newBrowser(t), rp.newAuthRequest(t, false).URL, name, upUser))
	if pg.URL.Path != "/access/request" {
		t.Fatalf("sign-in through the API's provider: %d at %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	if l, ok := f.link(t, upUser.ID); !ok || l.ProviderID != id {
		t.Errorf("link %+v %v", l, ok)
	}

	r = apiCall(t, f.down, http.MethodPatch, "/api/v1/identity-providers/"+id, tok, map[string]any{"enabled": false})
	if r.Status != http.StatusOK || r.JSON["enabled"] != false {
		t.Fatalf("PATCH enabled=false: %d %s", r.Status, r.Raw)
	}
	b := f.newBrowser(t)
	login := readPage(t, get(t, b.Client, rp.newAuthRequest(t, false).URL))
	if _, listed := upstreamButtons(t, login)[name]; listed {
		t.Error("a disabled provider is still on the login page")
	}
	refused := readPage(t, get(t, b.Client, f.down.URL+"/login/upstream/"+id))
	if refused.Status != http.StatusNotFound {
		t.Errorf("start of a disabled provider: %d", refused.Status)
	}
}
