package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeHydraAdmin answers the login and consent requests of Hydra's admin
// API from a table, and records what each accept was sent.
type fakeHydraAdmin struct {
	mu       sync.Mutex
	requests map[string]loginRequest // by challenge
	accepted map[string]map[string]any
}

func (f *fakeHydraAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind, accept := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/admin/oauth2/auth/requests/"), "/accept")
	ch := r.URL.Query().Get(kind + "_challenge")
	req, ok := f.requests[kind+":"+ch]
	switch {
	case !ok:
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	case !accept && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(req)
	case accept && r.Method == http.MethodPut:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.accepted[kind+":"+ch] = body
		_ = json.NewEncoder(w).Encode(redirectTo{RedirectTo: "http://127.0.0.1:1/oauth2/auth?" + kind + "_verifier=v-" + ch})
	default:
		http.Error(w, "bad method", http.StatusMethodNotAllowed)
	}
}

func startLoginApp(t *testing.T) (*fakeHydraAdmin, *httptest.Server, *http.Client) {
	t.Helper()
	admin := &fakeHydraAdmin{accepted: map[string]map[string]any{}, requests: map[string]loginRequest{
		"login:fresh":        {},
		"login:session":      {Skip: true, Subject: "hydra-login-03"},
		"consent:first":      {Subject: "hydra-login-01", RequestedScope: []string{"openid", "offline_access"}, RequestedAudience: []string{"aud1"}},
		"consent:remembered": {Skip: true, Subject: "hydra-login-01", RequestedScope: []string{"openid"}},
	}}
	as := httptest.NewServer(admin)
	t.Cleanup(as.Close)
	app := &loginApp{admin: as.URL, hc: as.Client()}
	srv := httptest.NewServer(app.routes())
	t.Cleanup(srv.Close)
	return admin, srv, newBrowser(http.DefaultTransport)
}

func TestLoginAppSignsInThroughTheForm(t *testing.T) {
	admin, srv, b := startLoginApp(t)
	page, err := url.Parse(srv.URL + "/login?login_challenge=fresh")
	if err != nil {
		t.Fatal(err)
	}
	body, status, _, err := do(b, mustGet(t, page.String()))
	if err != nil || status != http.StatusOK {
		t.Fatalf("login page: %d %v", status, err)
	}
	// The bench's own form driver fills it in, as it does gatehouse's.
	forms, err := parseForms(body)
	if err != nil || len(forms) != 1 || !forms[0].hasPassword() {
		t.Fatalf("login page forms %+v, %v: want one with a password input", forms, err)
	}
	vals := forms[0].loginValues("hydra-login-07", "pw")
	if vals.Get("login_challenge") != "fresh" {
		t.Errorf("hidden login_challenge %q, want fresh", vals.Get("login_challenge"))
	}
	action, _ := page.Parse(forms[0].action)
	req, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, status, loc, err := do(b, req)
	if err != nil || status != http.StatusFound || loc == nil || loc.Query().Get("login_verifier") != "v-fresh" {
		t.Fatalf("login POST: %d %v %v, want 302 to Hydra with the verifier", status, loc, err)
	}
	got := admin.accepted["login:fresh"]
	if got["subject"] != "hydra-login-07" || got["remember"] != true || got["remember_for"] != float64(3600) {
		t.Errorf("login accepted with %v, want the username, remembered for an hour", got)
	}
}

func TestLoginAppSkipsOnASession(t *testing.T) {
	admin, srv, b := startLoginApp(t)
	_, status, loc, err := do(b, mustGet(t, srv.URL+"/login?login_challenge=session"))
	if err != nil || status != http.StatusFound || loc.Query().Get("login_verifier") != "v-session" {
		t.Fatalf("skipped login: %d %v %v, want 302 at once", status, loc, err)
	}
	if got := admin.accepted["login:session"]; len(got) != 1 || got["subject"] != "hydra-login-03" {
		t.Errorf("skipped login accepted with %v, want only Hydra's subject", got)
	}
}

func TestLoginAppConsents(t *testing.T) {
	admin, srv, b := startLoginApp(t)
	for _, ch := range []string{"first", "remembered"} {
		_, status, loc, err := do(b, mustGet(t, srv.URL+"/consent?consent_challenge="+ch))
		if err != nil || status != http.StatusFound || loc.Query().Get("consent_verifier") != "v-"+ch {
			t.Fatalf("consent %s: %d %v %v, want 302", ch, status, loc, err)
		}
	}
	first := admin.accepted["consent:first"]
	if !slices.Equal(strSlice(first["grant_scope"]), []string{"openid", "offline_access"}) ||
		!slices.Equal(strSlice(first["grant_access_token_audience"]), []string{"aud1"}) || first["remember"] != true {
		t.Errorf("first consent accepted with %v, want what was asked, remembered", first)
	}
	idt, _ := first["session"].(map[string]any)["id_token"].(map[string]any)
	if idt["email"] != "hydra-login-01@example.com" {
		t.Errorf("ID token claims %v, want the subject's email", idt)
	}
	if again := admin.accepted["consent:remembered"]; again["remember"] != nil {
		t.Errorf("a skipped consent was remembered again: %v", again)
	}
}

func TestLoginAppRefusesBadRequests(t *testing.T) {
	_, srv, b := startLoginApp(t)
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/login", "", http.StatusBadRequest},
		{http.MethodGet, "/login?login_challenge=unknown", "", http.StatusBadGateway},
		{http.MethodPost, "/login", "login_challenge=fresh", http.StatusBadRequest},
		{http.MethodPost, "/login", "username=a&login_challenge=" + strings.Repeat("x", maxLoginForm), http.StatusBadRequest},
		{http.MethodGet, "/consent", "", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func strSlice(v any) []string {
	xs, _ := v.([]any)
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
