package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestUsersExpiredStatus: the CLI prints the effective status, as the API
// does, and filters on it.
func TestUsersExpiredStatus(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	for _, name := range []string{"carol", "dan"} {
		e.ok(nil, "users", "create", "--username", name, "--email", name+"@example.com",
			"--password", "correct horse battery", "--role", "viewer")
	}
	carol, err := st.GetUserByUsername(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	carol.ExpiresAt = &past
	if err := st.UpdateUser(ctx, carol); err != nil {
		t.Fatal(err)
	}

	var got admin.UserView
	e.ok(&got, "users", "get", "carol")
	if got.Status != "expired" {
		t.Errorf("users get of a user past expires_at: status %q, want expired", got.Status)
	}
	var list []admin.UserView
	for _, tt := range []struct{ status, want string }{{"expired", "carol"}, {"active", "dan"}} {
		e.ok(&list, "users", "list", "--status", tt.status)
		if u := usernames(list); u != tt.want {
			t.Errorf("users list --status %s = %q, want %q", tt.status, u, tt.want)
		}
		for _, v := range list {
			if v.Status != tt.status {
				t.Errorf("users list --status %s printed %s as %s", tt.status, v.Username, v.Status)
			}
		}
	}
	e.fails([]string{"status", "expired"}, "users", "list", "--status", "gone")
}

// listenIssuer reserves a loopback port and returns it with the issuer URL
// on it, so the configuration can name the issuer before the server is
// built.
func listenIssuer(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// serveOn serves h on ln until the test ends.
func serveOn(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
}

// serverConfig is the configuration of a test server at issuer.
func serverConfig(issuer string) config.Config {
	cfg := config.Default()
	cfg.Issuer, cfg.Secret, cfg.Password.BcryptCost = issuer, testSecret, 4
	return cfg
}

// postForm posts form to url, with basic auth when user is not "", and
// decodes the JSON answer into out.
func postForm(t *testing.T, rawURL, user, password string, form url.Values, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	return doJSON(t, req, out)
}

// doJSON sends req and decodes the JSON answer into out (if not nil).
func doJSON(t *testing.T, req *http.Request, out any) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: status %d, body %s: %v", req.Method, req.URL, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

// TestClientDefaultsSameInCLIAndAPI registers the same clients with
// `gatehouse clients create` and POST /api/v1/clients, giving only what
// is required: the stored clients must be the same, defaults and all.
func TestClientDefaultsSameInCLIAndAPI(t *testing.T) {
	e, dbURL := newDBEnv(t)
	st := openTestStore(t, dbURL)
	ctx := context.Background()
	var ops admin.ClientView
	e.ok(&ops, "clients", "create", "--id", "ops", "--grant-type", "client_credentials", "--scope", "gatehouse:api", "--role", "admin")

	ln, issuer := listenIssuer(t)
	srv, err := server.New(ctx, serverConfig(issuer), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	serveOn(t, ln, srv.Handler())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := postForm(t, issuer+"/oauth2/token", "ops", ops.ClientSecret,
		url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}, &tok); code != http.StatusOK {
		t.Fatalf("client_credentials: status %d", code)
	}

	for _, tc := range []struct {
		name string
		cli  []string
		api  map[string]any
	}{
		{"web", []string{"--redirect-uri", "https://app.example/cb"}, map[string]any{"redirect_uris": []string{"https://app.example/cb"}}},
		{"spa", []string{"--public", "--redirect-uri", "https://spa.example/cb"}, map[string]any{"public": true, "redirect_uris": []string{"https://spa.example/cb"}}},
		{"batch", []string{"--grant-type", "client_credentials"}, map[string]any{"grant_types": []string{"client_credentials"}}},
		{"noscope", []string{"--grant-type", "client_credentials", "--scope", ""}, map[string]any{"grant_types": []string{"client_credentials"}, "scope": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.ok(nil, append([]string{"clients", "create", "--id", tc.name + "-cli"}, tc.cli...)...)
			tc.api["client_id"] = tc.name + "-api"
			body, _ := json.Marshal(tc.api)
			req, _ := http.NewRequest(http.MethodPost, issuer+"/api/v1/clients", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			var created map[string]any
			if code := doJSON(t, req, &created); code != http.StatusCreated {
				t.Fatalf("POST /api/v1/clients %s: status %d, %v", body, code, created)
			}

			fromCLI, err := st.GetClient(ctx, tc.name+"-cli")
			if err != nil {
				t.Fatal(err)
			}
			fromAPI, err := st.GetClient(ctx, tc.name+"-api")
			if err != nil {
				t.Fatal(err)
			}
			if (len(fromCLI.SecretHash) > 0) != (len(fromAPI.SecretHash) > 0) {
				t.Errorf("a secret from one and not the other: CLI %t, API %t", len(fromCLI.SecretHash) > 0, len(fromAPI.SecretHash) > 0)
			}
			for _, c := range []*store.Client{&fromCLI, &fromAPI} {
				c.ID, c.SecretHash, c.CreatedAt, c.UpdatedAt = "", nil, time.Time{}, time.Time{}
			}
			if !reflect.DeepEqual(fromCLI, fromAPI) {
				t.Errorf("stored clients differ:\nCLI %+v\nAPI %+v", fromCLI, fromAPI)
			}
			if tc.name == "web" {
				want := store.Client{TokenEndpointAuthMethod: "client_secret_basic",
					GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
					Scopes: []string{"openid", "profile", "email", "offline_access"}}
				if got := fromAPI; got.TokenEndpointAuthMethod != want.TokenEndpointAuthMethod || !slices.Equal(got.GrantTypes, want.GrantTypes) ||
					!slices.Equal(got.ResponseTypes, want.ResponseTypes) || !slices.Equal(got.Scopes, want.Scopes) {
					t.Errorf("defaults of a web client: %+v, want %+v", got, want)
				}
			}
		})
	}
}

// htmlForm is the first form of a page with an input (or button) named
// field: where it posts and its fields' values.
func htmlForm(t *testing.T, body, field string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) string {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val
			}
		}
		return ""
	}
	var found func(n *html.Node) (string, url.Values, bool)
	found = func(n *html.Node) (string, url.Values, bool) {
		if n.Type == html.ElementNode && n.Data == "form" {
			values, has := url.Values{}, false
			var fields func(n *html.Node)
			fields = func(n *html.Node) {
				if n.Type == html.ElementNode && (n.Data == "input" || n.Data == "button") && attr(n, "name") != "" {
					has = has || attr(n, "name") == field
					if n.Data == "input" {
						values.Add(attr(n, "name"), attr(n, "value"))
					}
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					fields(c)
				}
			}
			fields(n)
			return attr(n, "action"), values, has
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if action, values, ok := found(c); ok {
				return action, values, true
			}
		}
		return "", nil, false
	}
	action, values, ok := found(doc)
	if !ok {
		t.Fatalf("no form with %q on the page:\n%s", field, body)
	}
	return action, values
}

// TestDevDemoClientGetsUserAPIToken follows the dev banner's steps for a
// person's resource API token: authorize with the seeded demo client and
// gatehouse:api, sign in as the seeded admin, allow, exchange the code the
// demo callback shows, call GET /api/v1/users/me.
func TestDevDemoClientGetsUserAPIToken(t *testing.T) {
	ctx := context.Background()
	ln, issuer := listenIssuer(t)
	cfg := serverConfig(issuer)
	cfg.Dev = true
	st := memory.New()
	srv, err := server.New(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	var banner bytes.Buffer
	a := &app{stdout: &banner, now: time.Now, logger: slog.New(slog.DiscardHandler)}
	if err := a.seedDev(ctx, cfg, st, srv); err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, srv.Handler())

	find := func(re string) string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(banner.String())
		if m == nil {
			t.Fatalf("banner lacks %s:\n%s", re, banner.String())
		}
		return m[1]
	}
	password := find(`username: admin\s+password: (\S+)`)
	secret := find(`client_id: demo\s+client_secret: (\S+)`)
	authorize := find(`open\s+(\S+/oauth2/auth\?\S+)`)
	find(`curl -s -u demo:(\S+) -d grant_type=authorization_code`)
	find(`curl -s -H "Authorization: Bearer ACCESS_TOKEN" (\S+/api/v1/users/me)`)
	if console := find(`admin console:\s+(\S+)`); console != issuer+"/console/" {
		t.Errorf("banner names the console at %q, want %s/console/", console, issuer)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/demo/callback" {
			return http.ErrUseLastResponse // stop where the code is
		}
		return nil
	}}
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	submit := func(body, field string, set url.Values) (*http.Response, string) {
		t.Helper()
		action, values := htmlForm(t, body, field)
		for k, v := range set {
			values[k] = v
		}
		target, err := url.Parse(issuer)
		if err != nil {
			t.Fatal(err)
		}
		return read(browser.PostForm(target.ResolveReference(&url.URL{Path: action}).String(), values))
	}

	_, body := read(browser.Get(authorize))
	_, body = submit(body, "password", url.Values{"username": {"admin"}, "password": {password}})
	resp, _ := submit(body, "decision", url.Values{"decision": {"allow"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after consent: status %d, want 303 to the demo callback", resp.StatusCode)
	}
	callback, err := resp.Location()
	if err != nil || callback.Path != "/demo/callback" || callback.Query().Get("code") == "" {
		t.Fatalf("after consent: Location %v (%v), want the demo callback with a code", callback, err)
	}
	code := callback.Query().Get("code")

	// The demo app shows a code it did not ask for, unused.
	resp, page := read(browser.Get(callback.String()))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "code="+code) {
		t.Fatalf("demo callback of a hand-started flow: status %d\n%s", resp.StatusCode, page)
	}

	var tok struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if status := postForm(t, issuer+"/oauth2/token", "demo", secret, url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {demo.RedirectURL(issuer)}}, &tok); status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token exchange: status %d, %+v", status, tok)
	}
	if !slices.Contains(strings.Fields(tok.Scope), admin.APIScope) {
		t.Errorf("token scope %q lacks %s", tok.Scope, admin.APIScope)
	}
	req, _ := http.NewRequest(http.MethodGet, issuer+admin.Prefix+"/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var me admin.UserView
	if status := doJSON(t, req, &me); status != http.StatusOK || me.Username != "admin" {
		t.Fatalf("GET /api/v1/users/me: status %d, %+v", status, me)
	}
}
