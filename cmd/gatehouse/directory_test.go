package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
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
