package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// The token endpoint runs, for each grant type, only the handlers of that
// grant: the others would only answer ErrUnknownRequest, each with a
// stack captured. The grant guards stay with the grants they guard.
func TestTokenDispatchRunsOnlyTheGrantsHandlers(t *testing.T) {
	e := newBenchEnv(t, memory.New(), benchOptions{alg: keys.RS256})
	want := map[string][]string{
		"authorization_code": {"*oauth2.AuthorizeExplicitGrantHandler", "*openid.OpenIDConnectExplicitHandler", "*pkce.Handler", "*provider.grantGuard"},
		"client_credentials": {"*oauth2.ClientCredentialsGrantHandler"},
		"refresh_token":      {"provider.refreshGrant", "*openid.OpenIDConnectRefreshHandler", "*provider.grantGuard"},
		grantTypeJWTBearer:   {"*rfc7523.Handler", "*provider.grantGuard"},
		// Our own handler, found by the same dispatch as fosite's.
		grantTypeTokenExchange: {"*provider.tokenExchange"},
		grantTypeDeviceCode:    {"*provider.deviceGrant"},
	}
	if len(e.p.byGrant) != len(want) {
		t.Errorf("dispatch serves %d grant types, want %d", len(e.p.byGrant), len(want))
	}
	for grant, names := range want {
		f, ok := e.p.tokenOAuth(grant).(*fosite.Fosite)
		if !ok || f == e.p.oauth {
			t.Errorf("%s: served by the full composition", grant)
			continue
		}
		var got []string
		for _, h := range f.Config.GetTokenEndpointHandlers(context.Background()) {
			got = append(got, fmt.Sprintf("%T", h))
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s: handlers %v, want %v", grant, got, names)
		}
	}
	for _, grant := range []string{"", "password", "client_credentials refresh_token"} {
		if e.p.tokenOAuth(grant) != e.p.oauth {
			t.Errorf("grant type %q: not served by the full composition", grant)
		}
	}
}

// TestTokenDispatchAnswersAsTheFullComposition sends the same token
// requests, each against fresh fixtures, to the provider as built and to a
// copy that runs every handler on every request (fosite's own dispatch, as
// before), on both stores: the answers must be the same, byte for byte for
// refusals, and the same shape (tokens aside) for successes.
func TestTokenDispatchAnswersAsTheFullComposition(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memory", func(*testing.T) store.Store { return memory.New() }},
		{"postgres", func(t *testing.T) store.Store {
			s, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatalf("postgres.New: %v", err)
			}
			t.Cleanup(s.Close)
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newBenchEnv(t, st.open(t), benchOptions{alg: keys.RS256})
			e.addClient(t, store.Client{ID: "web2", GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
				RedirectURIs: []string{"https://app.example/callback"}, Scopes: []string{"openid", "profile", "email", "offline_access"}})
			e.addClient(t, store.Client{ID: "bearer", GrantTypes: []string{grantTypeJWTBearer}, Scopes: []string{"api:read"}})
			e.addClient(t, store.Client{ID: "tv", GrantTypes: []string{grantTypeDeviceCode, "refresh_token"},
				Scopes: []string{"openid", "profile", "offline_access"}})

			old := *e.p
			old.byGrant = nil
			full := mux.NewRouter()
			old.Mount(full)

			for _, c := range e.dispatchCases(t) {
				t.Run(c.name, func(t *testing.T) {
					before := c.run(t, full)
					after := c.run(t, e.router)
					if before.Code != c.status {
						t.Errorf("full composition: status %d, want %d: %s", before.Code, c.status, before.Body)
					}
					for _, h := range []string{"Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate"} {
						if b, a := before.Header().Values(h), after.Header().Values(h); !slices.Equal(b, a) {
							t.Errorf("%s: %q before, %q after", h, b, a)
						}
					}
					b, a := before.Body.String(), after.Body.String()
					if before.Code == http.StatusOK {
						b, a = tokenShape(t, b), tokenShape(t, a)
					}
					if before.Code != after.Code || b != a {
						t.Errorf("answers differ:\nfull:     %d %s\ndispatch: %d %s", before.Code, b, after.Code, a)
					}
				})
			}
		})
	}
}

// addClient stores a confidential client_secret_basic client.
func (e *benchEnv) addClient(t *testing.T, c store.Client) {
	t.Helper()
	s, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c.Name, c.SecretHash, c.TokenEndpointAuthMethod = "Client "+c.ID, digest, "client_secret_basic"
	c.CreatedAt, c.UpdatedAt = now, now
	if err := e.st.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("create client %s: %v", c.ID, err)
	}
	e.secrets[c.ID] = s
}

// tokenShape is a token response with the tokens' values replaced by
// their presence, and expires_in rounded to the minute (the two answers
// are a moment apart).
func tokenShape(t *testing.T, body string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("token response %q: %v", body, err)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v, ok := m[k].(string); ok && v != "" {
			m[k] = "<set>"
		}
	}
	if v, ok := m["expires_in"].(float64); ok {
		m["expires_in"] = int(v+30) / 60
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

type dispatchCase struct {
	name   string
	status int // the full composition's status, as a check of the case
	// run prepares the case's fixtures and sends the request to h.
	run func(t *testing.T, h http.Handler) *httptest.ResponseRecorder
}

func sendToken(h http.Handler, form, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, benchIssuer+"/oauth2/token", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// newCode stores an authorization code of alice's for the web client,
// with its OpenID Connect session, as the authorize endpoint would.
func (e *benchEnv) newCode(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	r := e.request(e.client(t, "web"), "openid", "profile", "email", "offline_access")
	r.Form.Set("redirect_uri", "https://app.example/callback")
	code, sig, err := e.tokens.GenerateAuthorizeCode(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fs.CreateAuthorizeCodeSession(ctx, sig, r); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.CreateOpenIDConnectSession(ctx, code, r); err != nil {
		t.Fatal(err)
	}
	return code
}

// newDeviceCode stores a device code of the tv client, answered by alice
// as status says (pending: not yet), and returns it.
func (e *benchEnv) newDeviceCode(t *testing.T, status store.DeviceCodeStatus) string {
	t.Helper()
	ctx := context.Background()
	code, err := newDeviceCode()
	if err != nil {
		t.Fatal(err)
	}
	userCode, err := newUserCode()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	scopes := []string{"openid", "profile", "offline_access"}
	err = e.st.CreateDeviceCode(ctx, store.DeviceCode{
		Signature: e.p.deviceCodeSignature(code), UserCode: e.p.userCodeDigest(userCode), ClientID: "tv", Scopes: scopes,
		Status: store.DevicePending, Interval: 5 * time.Second, RequestedAt: now, ExpiresAt: now.Add(time.Minute),
	}, now, maxLiveDeviceCodes)
	if err != nil {
		t.Fatal(err)
	}
	if status == store.DevicePending {
		return code
	}
	sess, err := json.Marshal(e.request(e.client(t, "tv"), scopes...).Session)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.DecideDeviceCode(ctx, e.p.userCodeDigest(userCode), status, e.user.ID, sess, now); err != nil {
		t.Fatal(err)
	}
	return code
}

func (e *benchEnv) dispatchCases(t *testing.T) []dispatchCase {
	web, web2, svc, bearer := e.basicAuth("web"), e.basicAuth("web2"), e.basicAuth("svc"), e.basicAuth("bearer")
	tv := e.basicAuth("tv")
	poll := func(code string) string {
		return "grant_type=" + url.QueryEscape(grantTypeDeviceCode) + "&device_code=" + url.QueryEscape(code)
	}
	wrongSecret := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:not-the-secret"))
	unknown := "Basic " + base64.StdEncoding.EncodeToString([]byte("nobody:secret"))
	fixed := func(name string, status int, form, auth string) dispatchCase {
		return dispatchCase{name, status, func(_ *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, form, auth)
		}}
	}
	refreshToken := func(t *testing.T) string {
		rt, err := e.newRefreshToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	refresh := func(rt string) string { return "grant_type=refresh_token&refresh_token=" + url.QueryEscape(rt) }
	redeem := func(code string) string {
		return "grant_type=authorization_code&redirect_uri=" + url.QueryEscape("https://app.example/callback") + "&code=" + url.QueryEscape(code)
	}
	// rotate refreshes rt once and returns its successor.
	rotate := func(t *testing.T, h http.Handler, rt string) string {
		w := sendToken(h, refresh(rt), web)
		tr, err := readTokens(w)
		if err != nil || tr.RefreshToken == "" {
			t.Fatalf("refresh: %v %s", err, w.Body)
		}
		return tr.RefreshToken
	}
	return []dispatchCase{
		fixed("empty body", http.StatusBadRequest, "", svc),
		fixed("missing grant_type", http.StatusBadRequest, "scope=api%3Aread", svc),
		fixed("empty grant_type", http.StatusBadRequest, "grant_type=&scope=api%3Aread", svc),
		fixed("unsupported grant_type", http.StatusBadRequest, "grant_type=password&username=alice&password=x", svc),
		fixed("two grant types", http.StatusBadRequest, "grant_type=client_credentials+refresh_token", svc),
		fixed("no client", http.StatusUnauthorized, "grant_type=client_credentials", ""),
		fixed("wrong secret", http.StatusUnauthorized, "grant_type=client_credentials", wrongSecret),
		fixed("unknown client", http.StatusUnauthorized, "grant_type=client_credentials", unknown),

		fixed("client_credentials", http.StatusOK, "grant_type=client_credentials&scope=api%3Aread", svc),
		fixed("client_credentials without scope", http.StatusOK, "grant_type=client_credentials", svc),
		fixed("client_credentials, scope not allowed", http.StatusBadRequest, "grant_type=client_credentials&scope=api%3Awrite", svc),
		fixed("client_credentials, audience not allowed", http.StatusBadRequest, "grant_type=client_credentials&audience=https%3A%2F%2Fother.example", svc),
		fixed("client_credentials by a client without the grant", http.StatusBadRequest, "grant_type=client_credentials", web),

		{"refresh_token", http.StatusOK, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, refresh(refreshToken(t)), web)
		}},
		{"refresh_token, another client", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, refresh(refreshToken(t)), web2)
		}},
		{"refresh_token, client without the grant", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, refresh(refreshToken(t)), svc)
		}},
		fixed("refresh_token, unknown token", http.StatusBadRequest, refresh("ory_rt_unknown.unknown"), web),
		fixed("refresh_token, no token", http.StatusBadRequest, "grant_type=refresh_token", web),
		{"refresh_token reused", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			rt := refreshToken(t)
			rotate(t, h, rt)
			return sendToken(h, refresh(rt), web)
		}},
		{"refresh_token, successor of a reused one", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			rt := refreshToken(t)
			next := rotate(t, h, rt)
			sendToken(h, refresh(rt), web)
			return sendToken(h, refresh(next), web)
		}},
		{"refresh_token, user gone", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			rt := refreshToken(t)
			u := e.user
			u.Status = store.StatusDisabled
			if err := e.st.UpdateUser(context.Background(), u); err != nil {
				t.Fatalf("disable user: %v", err)
			}
			defer func() {
				if err := e.st.UpdateUser(context.Background(), e.user); err != nil {
					t.Fatalf("enable user: %v", err)
				}
			}()
			return sendToken(h, refresh(rt), web)
		}},

		{"authorization_code", http.StatusOK, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, redeem(e.newCode(t)), web)
		}},
		{"authorization_code, another client", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, redeem(e.newCode(t)), web2)
		}},
		{"authorization_code, another redirect_uri", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, "grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp.example%2Fother&code="+url.QueryEscape(e.newCode(t)), web)
		}},
		{"authorization_code used twice", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			code := e.newCode(t)
			if w := sendToken(h, redeem(code), web); w.Code != http.StatusOK {
				t.Fatalf("first redemption: %d %s", w.Code, w.Body)
			}
			return sendToken(h, redeem(code), web)
		}},
		fixed("authorization_code, unknown code", http.StatusBadRequest, redeem("ory_ac_unknown.unknown"), web),
		fixed("authorization_code, client without the grant", http.StatusBadRequest, redeem("ory_ac_unknown.unknown"), svc),

		fixed("jwt-bearer, no assertion", http.StatusBadRequest, "grant_type="+url.QueryEscape(grantTypeJWTBearer), bearer),
		fixed("jwt-bearer, not a JWT", http.StatusBadRequest, "grant_type="+url.QueryEscape(grantTypeJWTBearer)+"&assertion=not.a.jwt", bearer),
		fixed("jwt-bearer, client without the grant", http.StatusBadRequest, "grant_type="+url.QueryEscape(grantTypeJWTBearer)+"&assertion=x", svc),

		{"device_code", http.StatusOK, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, poll(e.newDeviceCode(t, store.DeviceApproved)), tv)
		}},
		{"device_code, pending", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, poll(e.newDeviceCode(t, store.DevicePending)), tv)
		}},
		{"device_code, denied", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, poll(e.newDeviceCode(t, store.DeviceDenied)), tv)
		}},
		{"device_code used twice", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			code := e.newDeviceCode(t, store.DeviceApproved)
			if w := sendToken(h, poll(code), tv); w.Code != http.StatusOK {
				t.Fatalf("first redemption: %d %s", w.Code, w.Body)
			}
			return sendToken(h, poll(code), tv)
		}},
		{"device_code, client without the grant", http.StatusBadRequest, func(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
			return sendToken(h, poll(e.newDeviceCode(t, store.DeviceApproved)), web2)
		}},
		fixed("device_code, unknown code", http.StatusBadRequest, poll("gh_dc_unknown"), tv),
		fixed("device_code, no code", http.StatusBadRequest, "grant_type="+url.QueryEscape(grantTypeDeviceCode), tv),
	}
}
