package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scopes the authorization code workloads ask for. The first flow of every
// user asks for all of them, so that consent for each later request is
// already remembered.
const (
	scopeAll   = "openid profile email offline_access"
	scopeLogin = "openid profile email"
)

// apiPageSize is the page the api-users workload reads (the API's default).
const apiPageSize = 50

// workloadNames lists every workload in the order they run.
var workloadNames = []string{"cc", tokenExchangeWorkload, ccDPoPWorkload, "introspect", "refresh", "authcode-login", totpWorkload, "authcode-sso", "api-users"}

// tokenExchangeWorkload is RFC 8693 delegation: the service account's
// client_credentials token exchanged for a new one, one per request.
const tokenExchangeWorkload = "token-exchange"

// totpWorkload is authcode-login for users with an authenticator app.
const totpWorkload = "authcode-login-totp"

// env is what every worker shares.
type env struct {
	t *Target
	d Discovery
	// transport is the one connection pool of the load generator.
	transport *http.Transport
	// plain is a client without cookies that never follows redirects.
	plain *http.Client
	// totp hands out the TOTP users (nil without any); shared by every
	// run, since the server remembers each user's last step across them.
	totp *totpPool
}

func newEnv(t *Target, d Discovery, transport *http.Transport) *env {
	e := &env{t: t, d: d, transport: transport,
		plain: &http.Client{Transport: transport, CheckRedirect: noRedirect, Timeout: 60 * time.Second}}
	if len(t.TOTPUsers) > 0 {
		e.totp = newTOTPPool(t.TOTPUsers, time.Now)
	}
	return e
}

// workload returns the named workload.
func (e *env) workload(name string) (Workload, error) {
	switch name {
	case "cc":
		return Workload{Name: name, Unit: "req", NewWorker: e.newCC}, nil
	case tokenExchangeWorkload:
		return Workload{Name: name, Unit: "req", NewWorker: e.newTokenExchange}, nil
	case ccDPoPWorkload:
		return Workload{Name: name, Unit: "req", NewWorker: e.newCCDPoP}, nil
	case "introspect":
		return Workload{Name: name, Unit: "req", NewWorker: e.newIntrospect}, nil
	case "refresh":
		return Workload{Name: name, Unit: "req", NewWorker: e.newRefresh}, nil
	case "authcode-login":
		return Workload{Name: name, Unit: "flow", NewWorker: e.newAuthcodeLogin}, nil
	case totpWorkload:
		return Workload{Name: name, Unit: "flow", NewWorker: e.newAuthcodeLoginTOTP}, nil
	case "authcode-sso":
		return Workload{Name: name, Unit: "flow", NewWorker: e.newAuthcodeSSO}, nil
	case "api-users":
		return Workload{Name: name, Unit: "req", NewWorker: e.newAPIUsers}, nil
	}
	return Workload{}, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(workloadNames, ", "))
}

// authorizerFor returns a browser of its own for worker i, signed in as
// its user after one whole flow (which also records consent for scopeAll),
// and the tokens of that flow.
func (e *env) authorizerFor(ctx context.Context, i int) (*authorizer, tokenResponse, error) {
	if len(e.t.Users) == 0 {
		return nil, tokenResponse{}, errors.New("no login users configured")
	}
	a := &authorizer{d: e.d, t: e.t, username: e.t.Users[i%len(e.t.Users)], browser: newBrowser(e.transport), rp: e.plain}
	tr, err := a.flow(ctx, scopeAll, true)
	if err != nil {
		return nil, tokenResponse{}, fmt.Errorf("first authorization of %s: %w", a.username, err)
	}
	if err := checkIDTokenAlg("first authorization of "+a.username, tr, e.t.WebAlg); err != nil {
		return nil, tokenResponse{}, err
	}
	return a, tr, nil
}

// cc: client_credentials, one new token per request.
type ccWorker struct{ e *env }

func (e *env) newCC(context.Context, int) (Worker, error) { return ccWorker{e}, nil }

func (w ccWorker) Do(ctx context.Context) (string, error) {
	_, err := clientCredentials(ctx, w.e.plain, w.e.d, w.e.t)
	return "", err
}

// token-exchange: the service client exchanges its own client_credentials
// token (taken once per worker) for a new access token with the same
// scope, each request: what a gateway delegating a caller's token does.
type tokenExchangeWorker struct {
	e     *env
	token string
}

func (e *env) newTokenExchange(ctx context.Context, _ int) (Worker, error) {
	tr, err := clientCredentials(ctx, e.plain, e.d, e.t)
	if err != nil {
		return nil, err
	}
	return &tokenExchangeWorker{e: e, token: tr.AccessToken}, nil
}

func (w *tokenExchangeWorker) Do(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {w.token},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	if w.e.t.ServiceScope != "" {
		form.Set("scope", w.e.t.ServiceScope)
	}
	_, err := token(ctx, w.e.plain, w.e.d, w.e.t.ServiceID, w.e.t.ServiceSecret, form)
	return "", err
}

// introspect: RFC 7662 introspection of a live access token, by the
// service client.
type introspectWorker struct {
	e     *env
	token string
}

func (e *env) newIntrospect(ctx context.Context, _ int) (Worker, error) {
	if e.d.IntrospectionEndpoint == "" {
		return nil, errors.New("discovery lists no introspection_endpoint")
	}
	tr, err := clientCredentials(ctx, e.plain, e.d, e.t)
	if err != nil {
		return nil, err
	}
	return &introspectWorker{e: e, token: tr.AccessToken}, nil
}

func (w *introspectWorker) Do(ctx context.Context) (string, error) {
	body, status, err := postForm(ctx, w.e.plain, w.e.d.IntrospectionEndpoint, w.e.t.ServiceID, w.e.t.ServiceSecret,
		url.Values{"token": {w.token}, "token_type_hint": {"access_token"}})
	if err != nil {
		return "", fmt.Errorf("introspect: %w", err)
	}
	if status != http.StatusOK {
		return "", statusError("introspect", status, body)
	}
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("introspect: %w", err)
	}
	if !out.Active {
		return "", errors.New("introspect: live token reported inactive")
	}
	return "", nil
}

// refresh: the refresh token grant, each worker following its own rotation
// chain (every answer's refresh token is the next request's).
type refreshWorker struct {
	e       *env
	a       *authorizer
	refresh string
}

func (e *env) newRefresh(ctx context.Context, i int) (Worker, error) {
	a, tr, err := e.authorizerFor(ctx, i)
	if err != nil {
		return nil, err
	}
	if tr.RefreshToken == "" {
		return nil, errors.New("no refresh token from the authorization code grant (is offline_access allowed?)")
	}
	w := &refreshWorker{e: e, a: a, refresh: tr.RefreshToken}
	if e.t.WebAlg != "" {
		// The refresh grant signs an ID token of its own: check one before
		// the clock starts.
		if tr, err = w.next(ctx); err != nil {
			return nil, err
		}
		if err := checkIDTokenAlg("refresh", tr, e.t.WebAlg); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// next redeems the worker's refresh token and keeps the new one.
func (w *refreshWorker) next(ctx context.Context) (tokenResponse, error) {
	tr, err := token(ctx, w.e.plain, w.e.d, w.e.t.WebID, w.e.t.WebSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.refresh}})
	if err == nil && tr.RefreshToken == "" {
		err = errors.New("refresh: no new refresh token")
	}
	if err == nil {
		w.refresh = tr.RefreshToken
	}
	return tr, err
}

func (w *refreshWorker) Do(ctx context.Context) (string, error) {
	if _, err := w.next(ctx); err != nil {
		// The chain may be broken; start a new one on the existing login
		// session, outside any measurement that matters (this operation is
		// an error already).
		if ntr, ferr := w.a.flow(ctx, scopeAll, false); ferr == nil && ntr.RefreshToken != "" {
			w.refresh = ntr.RefreshToken
		}
		return "", err
	}
	return "", nil
}

// authcode-login: the whole authorization code + PKCE flow in a fresh
// browser (no cookies): authorize, login form, password POST, authorize
// again, code exchange. Consent is remembered from the set-up flow.
type loginWorker struct {
	e *env
	a *authorizer
}

func (e *env) newAuthcodeLogin(ctx context.Context, i int) (Worker, error) {
	a, _, err := e.authorizerFor(ctx, i)
	if err != nil {
		return nil, err
	}
	return &loginWorker{e: e, a: a}, nil
}

func (w *loginWorker) Do(ctx context.Context) (string, error) {
	w.a.browser = newBrowser(w.e.transport)
	_, err := w.a.flow(ctx, scopeLogin, true)
	return "", err
}

// authcode-sso: the same flow for a browser that has a login session:
// authorize (answered with the code at once), code exchange.
type ssoWorker struct{ a *authorizer }

func (e *env) newAuthcodeSSO(ctx context.Context, i int) (Worker, error) {
	a, _, err := e.authorizerFor(ctx, i)
	if err != nil {
		return nil, err
	}
	return &ssoWorker{a: a}, nil
}

func (w *ssoWorker) Do(ctx context.Context) (string, error) {
	_, err := w.a.flow(ctx, scopeLogin, false)
	return "", err
}

// api-users: the resource API's user directory, alternating a page of 50
// (following next_cursor, from the start again after the last page) and a
// single-user read of a user from the last page.
type apiUsersWorker struct {
	e      *env
	bearer string
	cursor string
	ids    []string
	n      int
	rng    *rand.Rand
	// fixed, when set, is the only operation the worker does.
	fixed string
}

func (w *apiUsersWorker) only(label string) { w.fixed = label }

func (e *env) newAPIUsers(ctx context.Context, i int) (Worker, error) {
	if e.t.APIBase == "" {
		return nil, errors.New("no resource API base URL")
	}
	tr, err := clientCredentials(ctx, e.plain, e.d, e.t)
	if err != nil {
		return nil, err
	}
	w := &apiUsersWorker{e: e, bearer: tr.AccessToken, rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))}
	// Workers start at different places of the directory, as independent
	// clients would, each with a page of ids to read.
	for range i%4 + 1 {
		if _, err := w.readPage(ctx); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *apiUsersWorker) Do(ctx context.Context) (string, error) {
	w.n++
	if w.fixed == "page" || (w.fixed == "" && w.n%2 == 1) || len(w.ids) == 0 {
		return w.readPage(ctx)
	}
	return w.readUser(ctx)
}

func (w *apiUsersWorker) get(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.bearer)
	req.Header.Set("Accept", "application/json")
	body, status, _, err := do(w.e.plain, req)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return statusError("GET "+req.URL.Path, status, body)
	}
	return json.Unmarshal(body, into)
}

func (w *apiUsersWorker) readPage(ctx context.Context) (string, error) {
	q := url.Values{"limit": {strconv.Itoa(apiPageSize)}}
	if w.cursor != "" {
		q.Set("cursor", w.cursor)
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	if err := w.get(ctx, w.e.t.APIBase+"/users?"+q.Encode(), &page); err != nil {
		return "page", fmt.Errorf("users page: %w", err)
	}
	if page.NextCursor != "" && len(page.Items) != apiPageSize {
		return "page", fmt.Errorf("users page: %d items and a next cursor, want %d", len(page.Items), apiPageSize)
	}
	w.ids = w.ids[:0]
	for _, it := range page.Items {
		w.ids = append(w.ids, it.ID)
	}
	w.cursor = page.NextCursor
	return "page", nil
}

func (w *apiUsersWorker) readUser(ctx context.Context) (string, error) {
	id := w.ids[w.rng.IntN(len(w.ids))]
	var u struct {
		ID string `json:"id"`
	}
	if err := w.get(ctx, w.e.t.APIBase+"/users/"+url.PathEscape(id), &u); err != nil {
		return "get", fmt.Errorf("user: %w", err)
	}
	if u.ID != id {
		return "get", fmt.Errorf("user: asked for %s, got %s", id, u.ID)
	}
	return "get", nil
}
