package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// The back-channel logout tests run each server on a database of its own:
// the queue is a table every sender of a database claims from, and another
// test's server (another issuer) must not deliver this test's logouts.

const eventBackChannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// logoutServer starts a gatehouse whose logout sender polls and retries
// fast (a 10ms backoff base), on its own database.
func logoutServer(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *config.Config) {
		c.DatabaseURL = pgtest.NewDatabase(t)
		c.BackChannelLogout.PollInterval = 20 * time.Millisecond
		c.BackChannelLogout.BackoffBase = 10 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
}

// logoutReceiver is a relying party's back-channel logout endpoint: a real
// HTTP server that answers 500 to its first failFirst requests (or to all,
// with failAlways) and 200 after, keeping every logout_token it was sent.
type logoutReceiver struct {
	srv        *httptest.Server
	failFirst  int
	failAlways bool

	mu       sync.Mutex
	requests int
	received []string // every token posted, in order
	accepted []string // those answered 200
	problems []string // malformed requests
}

func newLogoutReceiver(t *testing.T, failFirst int, failAlways bool) *logoutReceiver {
	t.Helper()
	r := &logoutReceiver{failFirst: failFirst, failAlways: failAlways}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the logout URI to register: http on 127.0.0.1, which the
// registration rule allows (a loopback host).
func (r *logoutReceiver) URL() string { return r.srv.URL + "/backchannel-logout" }

func (r *logoutReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	switch {
	case req.Method != http.MethodPost || req.URL.Path != "/backchannel-logout":
		r.problems = append(r.problems, req.Method+" "+req.URL.Path)
	case req.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		r.problems = append(r.problems, "content type "+req.Header.Get("Content-Type"))
	}
	if err := req.ParseForm(); err != nil || req.PostForm.Get("logout_token") == "" {
		r.problems = append(r.problems, fmt.Sprintf("no logout_token (%v)", err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	tok := req.PostForm.Get("logout_token")
	r.received = append(r.received, tok)
	if r.failAlways || r.requests <= r.failFirst {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.accepted = append(r.accepted, tok)
	// OIDC Back-Channel Logout section 2.8: 200 and no caching.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (r *logoutReceiver) snapshot() (requests int, received, accepted, problems []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, slices.Clone(r.received), slices.Clone(r.accepted), slices.Clone(r.problems)
}

// waitAccepted polls (with a deadline, never a fixed sleep) until the
// receiver has accepted n tokens, and returns them.
func (r *logoutReceiver) waitAccepted(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, _, accepted, problems := r.snapshot()
		if len(problems) > 0 {
			t.Fatalf("the receiver got malformed requests: %v", problems)
		}
		if len(accepted) >= n {
			return accepted
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver accepted %d logout tokens within 15s, want %d", len(accepted), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logoutClaims are a verified logout token's claims.
type logoutClaims struct {
	jwt.Claims
	Events map[string]json.RawMessage `json:"events"`
	SID    string                     `json:"sid"`
	Nonce  *string                    `json:"nonce"`
}

// jwksOf fetches the server's published keys, as a relying party does.
func jwksOf(t *testing.T, ts *testServer) jose.JSONWebKeySet {
	t.Helper()
	resp := get(t, httpClient(), ts.endpoint("/.well-known/jwks.json"))
	defer closeBody(resp)
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return set
}

// verifyLogoutToken is the relying party's check of OIDC Back-Channel
// Logout section 2.6: a JWS signed by a key of the issuer's JWKS (by kid),
// typ logout+jwt, iss the issuer, aud the client, iat and exp present and
// not expired, a jti, the back-channel logout event with an object value,
// a sid (or sub), and no nonce.
func verifyLogoutToken(set jose.JSONWebKeySet, issuer, clientID, raw string) (logoutClaims, error) {
	var c logoutClaims
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return c, fmt.Errorf("parse: %w", err)
	}
	if len(tok.Headers) != 1 {
		return c, errors.New("want exactly one signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "logout+jwt" {
		return c, fmt.Errorf("typ %q, want logout+jwt", typ)
	}
	keys := set.Key(h.KeyID)
	if h.KeyID == "" || len(keys) != 1 {
		return c, fmt.Errorf("kid %q is not one key of the JWKS", h.KeyID)
	}
	if err := tok.Claims(keys[0].Public().Key, &c); err != nil {
		return c, fmt.Errorf("signature: %w", err)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{clientID}, Time: time.Now()}, time.Minute); err != nil {
		return c, fmt.Errorf("claims: %w", err)
	}
	if c.IssuedAt == nil || c.Expiry == nil {
		return c, errors.New("iat or exp missing")
	}
	if c.ID == "" {
		return c, errors.New("jti missing")
	}
	ev, ok := c.Events[eventBackChannelLogout]
	if !ok || !strings.HasPrefix(strings.TrimSpace(string(ev)), "{") {
		return c, fmt.Errorf("events %v lack the back-channel logout event as an object", c.Events)
	}
	if c.SID == "" && c.Subject == "" {
		return c, errors.New("neither sid nor sub")
	}
	if c.Nonce != nil {
		return c, errors.New("a logout token must not carry a nonce")
	}
	return c, nil
}

// mustVerifyLogout verifies raw for client and checks it is for sid.
func mustVerifyLogout(t *testing.T, ts *testServer, clientID, sid, sub, raw string) logoutClaims {
	t.Helper()
	c, err := verifyLogoutToken(jwksOf(t, ts), ts.URL, clientID, raw)
	if err != nil {
		t.Fatalf("logout token for %s: %v", clientID, err)
	}
	if c.SID != sid {
		t.Errorf("logout token sid %q, want the ID token's %q", c.SID, sid)
	}
	if c.Subject != sub {
		t.Errorf("logout token sub %q, want %q", c.Subject, sub)
	}
	if got := c.Expiry.Time().Sub(c.IssuedAt.Time()); got != 2*time.Minute {
		t.Errorf("logout token lives %s, want 2m", got)
	}
	return c
}

// sidOf is the sid claim of a token response's ID token.
func sidOf(t *testing.T, rp *relyingParty, tok interface{ Extra(string) any }) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.Verifier.Verify(ctxT(t), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		t.Fatalf("the ID token has no sid (%v)", err)
	}
	return c.SID
}

// metric reads one sample of ts's /metrics ("name{labels}"); 0 if absent.
func metric(t *testing.T, ts *testServer, sample string) float64 {
	t.Helper()
	resp := get(t, httpClient(), ts.endpoint("/metrics"))
	defer closeBody(resp)
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %v", resp.StatusCode, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s = %q", sample, v)
			}
			return f
		}
	}
	return 0
}

func waitMetric(t *testing.T, ts *testServer, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := metric(t, ts, sample)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v within 15s, want %v", sample, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func queueDepth(t *testing.T, ts *testServer) int {
	t.Helper()
	n, err := ts.Store.CountLogouts(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackChannelLogoutRPInitiated: a browser signs in to two clients that
// registered logout URIs and one that did not; its RP-initiated logout
// sends each of the two one logout token, verified against the JWKS, with
// the sid of its ID tokens.
func TestBackChannelLogoutRPInitiated(t *testing.T) {
	t.Parallel()
	ts := logoutServer(t, nil)

	var doc struct {
		Supported        bool `json:"backchannel_logout_supported"`
		SessionSupported bool `json:"backchannel_logout_session_supported"`
	}
	d := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
	b, _ := json.Marshal(d.JSON)
	if err := json.Unmarshal(b, &doc); err != nil || !doc.Supported || !doc.SessionSupported {
		t.Fatalf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v", doc.Supported, doc.SessionSupported)
	}

	user := ts.createUser(t, "user")
	recvA, recvB := newLogoutReceiver(t, 0, false), newLogoutReceiver(t, 0, false)
	a := ts.createConfidentialClient(t, func(c *store.Client) {
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired = recvA.URL(), true
	})
	b2 := ts.createConfidentialClient(t, func(c *store.Client) { c.BackchannelLogoutURI = recvB.URL() })
	quiet := ts.createConfidentialClient(t, nil)

	rpA, rpB, rpQuiet := ts.newRP(t, a), ts.newRP(t, b2), ts.newRP(t, quiet)
	tokA, _, browser := rpA.signIn(t, user)
	sid := sidOf(t, rpA, tokA)
	// Single sign-on: the same browser session for the other two.
	arB := rpB.newAuthRequest(t, false)
	codeB, _ := rpB.code(t, browser, arB, &user)
	tokB := rpB.exchange(t, codeB, arB)
	if got := sidOf(t, rpB, tokB); got != sid {
		t.Errorf("sid %q in the second client's ID token, want the session's %q", got, sid)
	}
	arQ := rpQuiet.newAuthRequest(t, false)
	codeQ, _ := rpQuiet.code(t, browser, arQ, &user)
	rpQuiet.exchange(t, codeQ, arQ)

	// A refreshed ID token keeps the sid.
	refreshed := ts.refresh(t, tokA.RefreshToken, authOf(a))
	if refreshed.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", refreshed.Status, refreshed.Raw)
	}
	if c := decodeJWTPart(t, refreshed.str("id_token"), 1); c["sid"] != sid {
		t.Errorf("refreshed ID token sid %v, want %q", c["sid"], sid)
	}
	if _, _, got, _ := recvA.snapshot(); len(got) != 0 {
		t.Fatalf("a logout token before any logout: %v", got)
	}

	rawID, _ := tokA.Extra("id_token").(string)
	q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {a.PostLogoutRedirectURIs[0]}, "state": {"s"}}
	resp := get(t, browser, ts.endpoint("/oauth2/logout")+"?"+q.Encode())
	if !isRedirect(resp.StatusCode) {
		t.Fatalf("logout: status %d, want a redirect", resp.StatusCode)
	}
	closeBody(resp)

	gotA := recvA.waitAccepted(t, 1)
	gotB := recvB.waitAccepted(t, 1)
	ca := mustVerifyLogout(t, ts, a.ID, sid, user.ID, gotA[0])
	cb := mustVerifyLogout(t, ts, b2.ID, sid, user.ID, gotB[0])
	if ca.ID == cb.ID {
		t.Errorf("two logout tokens share the jti %q", ca.ID)
	}
	// A token for one client is refused by the other's verifier.
	if _, err := verifyLogoutToken(jwksOf(t, ts), ts.URL, b2.ID, gotA[0]); err == nil {
		t.Error("client B's verifier accepted client A's logout token")
	}
	waitMetric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="delivered"}`, 2)
	if n := queueDepth(t, ts); n != 0 {
		t.Errorf("queue holds %d after delivery, want 0", n)
	}
	if requests, _, _, _ := recvA.snapshot(); requests != 1 {
		t.Errorf("receiver A got %d requests, want 1", requests)
	}
}

// TestBackChannelLogoutAdminRevokesSession: DELETE /api/v1/sessions/{id}
// tells the session's client; the API refuses a non-loopback http logout
// URI, naming the field.
func TestBackChannelLogoutAdminRevokesSession(t *testing.T) {
	t.Parallel()
	ts := logoutServer(t, nil)
	admin := ts.createUser(t, "admin")
	token := apiTokenFor(t, ts, admin)
	user := ts.createUser(t, "user")
	recv := newLogoutReceiver(t, 0, false)
	c := ts.createConfidentialClient(t, func(c *store.Client) { c.BackchannelLogoutURI = recv.URL() })
	rp := ts.newRP(t, c)
	tok, _, _ := rp.signIn(t, user)
	sid := sidOf(t, rp, tok)

	list := apiCall(t, ts, http.MethodGet, "/api/v1/users/"+user.ID+"/sessions", token, nil)
	items, _ := list.JSON["items"].([]any)
	if list.Status != http.StatusOK || len(items) != 1 {
		t.Fatalf("sessions: %d %s", list.Status, list.Raw)
	}
	sessionID, _ := items[0].(map[string]any)["id"].(string)
	if sessionID == sid || strings.Contains(sid, sessionID) {
		t.Fatalf("the sid %q shows the session id %q", sid, sessionID)
	}
	del := apiCall(t, ts, http.MethodDelete, "/api/v1/sessions/"+sessionID, token, nil)
	if del.Status != http.StatusNoContent {
		t.Fatalf("revoke session: %d %s", del.Status, del.Raw)
	}
	got := recv.waitAccepted(t, 1)
	mustVerifyLogout(t, ts, c.ID, sid, user.ID, got[0])

	// Registration through the API: the rule, with the field named.
	for _, bad := range []string{"http://rp.example/logout", "https://rp.example/logout#x", "ftp://rp.example/x"} {
		r := apiCall(t, ts, http.MethodPost, "/api/v1/clients", token, map[string]any{
			"client_id": "bcl-" + randomHex(t, 4), "redirect_uris": []string{"https://rp.example/cb"},
			"backchannel_logout_uri": bad,
		})
		wantProblemField(t, r, "backchannel_logout_uri")
		p := apiCall(t, ts, http.MethodPatch, "/api/v1/clients/"+c.ID, token, map[string]any{"backchannel_logout_uri": bad})
		wantProblemField(t, p, "backchannel_logout_uri")
	}
	ok := apiCall(t, ts, http.MethodPost, "/api/v1/clients", token, map[string]any{
		"client_id": "bcl-" + randomHex(t, 4), "redirect_uris": []string{"https://rp.example/cb"},
		"backchannel_logout_uri": "https://rp.example/logout", "backchannel_logout_session_required": true,
	})
	if ok.Status != http.StatusCreated || ok.JSON["backchannel_logout_uri"] != "https://rp.example/logout" ||
		ok.JSON["backchannel_logout_session_required"] != true {
		t.Fatalf("create client with a logout URI: %d %s", ok.Status, ok.Raw)
	}
}

func wantProblemField(t *testing.T, r oauthResponse, field string) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", r.Status, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("content type %q, want application/problem+json", ct)
	}
	errs, _ := r.JSON["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	t.Errorf("problem %s does not name %s", r.Raw, field)
}

// TestBackChannelLogoutPasswordReset: a password reset ends the user's
// sessions, and their clients are told.
func TestBackChannelLogoutPasswordReset(t *testing.T) {
	t.Parallel()
	ts, smtp := mailServer(t, func(c *config.Config) {
		c.BackChannelLogout.PollInterval = 20 * time.Millisecond
		c.BackChannelLogout.BackoffBase = 10 * time.Millisecond
	})
	box := &mailbox{srv: smtp}
	user := ts.createUser(t, "user")
	recv := newLogoutReceiver(t, 0, false)
	c := ts.createConfidentialClient(t, func(c *store.Client) { c.BackchannelLogoutURI = recv.URL() })
	rp := ts.newRP(t, c)
	tok, _, _ := rp.signIn(t, user)
	sid := sidOf(t, rp, tok)

	forgot(t, ts, user.Username)
	link := linkIn(t, ts, box.next(t), "/password/reset")
	browser := ts.newBrowser(t)
	form := readPage(t, get(t, browser, link))
	f := form.Form("password_confirm")
	if f == nil {
		t.Fatalf("reset page: status %d\n%s", form.Status, snippet(form.Body))
	}
	pw := "new-" + randomHex(t, 10)
	ts.secret(pw)
	done := readPage(t, submit(t, browser, f, url.Values{"password": {pw}, "password_confirm": {pw}}))
	if done.Status != http.StatusOK {
		t.Fatalf("reset: status %d\n%s", done.Status, snippet(done.Body))
	}
	got := recv.waitAccepted(t, 1)
	mustVerifyLogout(t, ts, c.ID, sid, user.ID, got[0])
}

// TestBackChannelLogoutRetried: a receiver that fails twice (500, 500)
// gets the logout at the third attempt, each attempt a freshly signed token.
func TestBackChannelLogoutRetried(t *testing.T) {
	t.Parallel()
	ts := logoutServer(t, nil)
	user := ts.createUser(t, "user")
	recv := newLogoutReceiver(t, 2, false)
	c := ts.createConfidentialClient(t, func(c *store.Client) { c.BackchannelLogoutURI = recv.URL() })
	rp := ts.newRP(t, c)
	tok, _, browser := rp.signIn(t, user)
	sid := sidOf(t, rp, tok)
	logoutBrowser(t, ts, browser, c, tok)

	accepted := recv.waitAccepted(t, 1)
	requests, received, _, _ := recv.snapshot()
	if requests != 3 || len(received) != 3 {
		t.Fatalf("receiver got %d requests, want 3 (500, 500, 200)", requests)
	}
	seen := map[string]bool{}
	for _, raw := range received {
		cl := mustVerifyLogout(t, ts, c.ID, sid, user.ID, raw)
		if seen[cl.ID] {
			t.Errorf("jti %q sent twice", cl.ID)
		}
		seen[cl.ID] = true
	}
	if accepted[0] != received[2] {
		t.Error("the accepted token is not the third one")
	}
	waitMetric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="delivered"}`, 1)
	if got := metric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="failed"}`); got != 2 {
		t.Errorf("failed attempts %v, want 2", got)
	}
	if got := metric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="given_up"}`); got != 0 {
		t.Errorf("given up %v, want 0", got)
	}
}

// TestBackChannelLogoutGivenUp: a receiver that is down forever is given up
// after back_channel_logout.max_attempts attempts, and counted.
func TestBackChannelLogoutGivenUp(t *testing.T) {
	t.Parallel()
	ts := logoutServer(t, func(c *config.Config) { c.BackChannelLogout.MaxAttempts = 3 })
	user := ts.createUser(t, "user")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/backchannel-logout"
	down.Close() // nothing listens there any more: connection refused
	c := ts.createConfidentialClient(t, func(c *store.Client) { c.BackchannelLogoutURI = downURL })
	tok, _, browser := ts.newRP(t, c).signIn(t, user)
	logoutBrowser(t, ts, browser, c, tok)

	waitMetric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="given_up"}`, 1)
	if got := metric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="failed"}`); got != 3 {
		t.Errorf("failed attempts %v, want 3 (the bound)", got)
	}
	if got := metric(t, ts, `gatehouse_backchannel_logout_deliveries_total{result="delivered"}`); got != 0 {
		t.Errorf("delivered %v, want 0", got)
	}
	if n := queueDepth(t, ts); n != 0 {
		t.Errorf("queue holds %d after giving up, want 0", n)
	}
	waitMetric(t, ts, `gatehouse_backchannel_logout_queue_depth`, 0)
}

// logoutBrowser signs the browser out by RP-initiated logout, with the
// ID token of tok (issued to c) as the hint.
func logoutBrowser(t *testing.T, ts *testServer, browser *http.Client, c testClient, tok interface{ Extra(string) any }) {
	t.Helper()
	rawID, _ := tok.Extra("id_token").(string)
	q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {c.PostLogoutRedirectURIs[0]}}
	resp := get(t, browser, ts.endpoint("/oauth2/logout")+"?"+q.Encode())
	closeBody(resp)
	if !isRedirect(resp.StatusCode) {
		t.Fatalf("logout: status %d, want a redirect", resp.StatusCode)
	}
}

// TestLogoutTokenVerifierRefusesForgeries: the receiver's verifier (the
// one the tests above pass real tokens through) refuses tokens signed by
// another key, for another audience, with a nonce, of another type or
// without the event, and accepts a correct token made the same way: the
// checks are real, and the server's token shape is the one they require.
func TestLogoutTokenVerifierRefusesForgeries(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	set := jwksOf(t, ts)
	km, err := keys.NewManager(ts.Store, []byte(packageSecret), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	real, err := km.Signer(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const aud = "rp-1"
	now := time.Now()
	claims := func() map[string]any {
		return map[string]any{
			"iss": ts.URL, "aud": aud, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": uuid.NewString(), "sid": "sid-1", "sub": "user-1",
			"events": map[string]any{eventBackChannelLogout: map[string]any{}},
		}
	}
	sign := func(key any, kid, typ string, c map[string]any) string {
		t.Helper()
		opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if _, err := verifyLogoutToken(set, ts.URL, aud, sign(real.Private, real.ID, "logout+jwt", claims())); err != nil {
		t.Fatalf("a correct token was refused: %v", err)
	}
	withNonce := claims()
	withNonce["nonce"] = "n-1"
	noEvent := claims()
	delete(noEvent, "events")
	expired := claims()
	expired["exp"] = now.Add(-time.Hour).Unix()
	otherIss := claims()
	otherIss["iss"] = "https://evil.example"
	forgeries := []struct {
		name, raw string
	}{
		{"another key", sign(other, real.ID, "logout+jwt", claims())},
		{"unknown kid", sign(other, "nope", "logout+jwt", claims())},
		{"another audience", sign(real.Private, real.ID, "logout+jwt", func() map[string]any { c := claims(); c["aud"] = "rp-2"; return c }())},
		{"a nonce", sign(real.Private, real.ID, "logout+jwt", withNonce)},
		{"an ID token's type", sign(real.Private, real.ID, "JWT", claims())},
		{"no event", sign(real.Private, real.ID, "logout+jwt", noEvent)},
		{"expired", sign(real.Private, real.ID, "logout+jwt", expired)},
		{"another issuer", sign(real.Private, real.ID, "logout+jwt", otherIss)},
	}
	for _, f := range forgeries {
		if _, err := verifyLogoutToken(set, ts.URL, aud, f.raw); err == nil {
			t.Errorf("a token with %s was accepted", f.name)
		}
	}
}
