package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeJWT is a compact JWS whose header says alg (the signature is not
// one: the bench never verifies it).
func fakeJWT(alg string) string {
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	return base64.RawURLEncoding.EncodeToString(h) + ".e30.c2ln"
}

func TestCheckIDTokenAlg(t *testing.T) {
	for _, tc := range []struct {
		name, idToken, want, err string
	}{
		{name: "match", idToken: fakeJWT("ES256"), want: "ES256"},
		{name: "nothing registered", idToken: "", want: ""},
		{name: "other alg", idToken: fakeJWT("RS256"), want: "ES256", err: "signed RS256, the client registered ES256"},
		{name: "no ID token", idToken: "", want: "RS256", err: "no ID token"},
		{name: "not a JWS", idToken: "opaque", want: "RS256", err: "not a compact JWS"},
		{name: "bad header", idToken: "!!.e30.x", want: "RS256", err: "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkIDTokenAlg("refresh", tokenResponse{IDToken: tc.idToken}, tc.want)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}

// fakeIssuer answers the authorization code flow at once (a code for
// any authorization request) and the token endpoint with an ID token
// whose header alg is algOf(client id), and counts the grants per client.
type fakeIssuer struct {
	*httptest.Server
	algOf func(clientID string) string
	mu    sync.Mutex
	// grants counts token requests by client id and grant type.
	grants map[string]int
}

func newFakeIssuer(t *testing.T, algOf func(string) string) *fakeIssuer {
	f := &fakeIssuer{algOf: algOf, grants: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cb, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		cb.RawQuery = url.Values{"code": {"code-for-" + q.Get("client_id")}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, cb.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, _, ok := r.BasicAuth()
		if !ok {
			http.Error(w, "no client authentication", http.StatusUnauthorized)
			return
		}
		id, _ = url.QueryUnescape(id)
		f.mu.Lock()
		f.grants[id+" "+r.PostFormValue("grant_type")]++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tokenResponse{AccessToken: randomToken(8), RefreshToken: randomToken(8),
			IDToken: fakeJWT(f.algOf(id)), TokenType: "bearer", ExpiresIn: 3600})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIssuer) env(t *Target) *env {
	tr := newTransport(1)
	return newEnv(t, Discovery{Issuer: f.URL, AuthorizationEndpoint: f.URL + "/authorize", TokenEndpoint: f.URL + "/token"}, tr)
}

func (f *fakeIssuer) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.grants)
}

func benchTarget(issuer string) *Target {
	return &Target{Issuer: issuer, WebID: webClientID, WebSecret: "s1", WebAlg: "RS256", RedirectURI: benchRedirect,
		Users: []string{"u"}, Password: "p", WebES256ID: webES256ClientID, WebES256Secret: "s2"}
}

// TestVariantCellsRunThroughTheES256Client: on gatehouse a variant cell
// runs its base workload through the ES256 client under its own name; on
// Hydra (no such client) through the one web client; the plain cells keep
// the first client.
func TestVariantCellsRunThroughTheES256Client(t *testing.T) {
	f := newFakeIssuer(t, func(id string) string {
		if id == webES256ClientID {
			return "ES256"
		}
		return "RS256"
	})
	ctx := context.Background()
	gh := compareSystem{name: systemGatehouse, e: f.env(benchTarget(f.URL))}
	for _, tc := range []struct {
		cell, unit string
		grants     map[string]int
	}{
		// refresh with a registered alg refreshes once in setup to check
		// the refresh grant's ID token.
		{"refresh", "req", map[string]int{"bench-web authorization_code": 1, "bench-web refresh_token": 1}},
		{refreshES256Workload, "req", map[string]int{"bench-web-es256 authorization_code": 1, "bench-web-es256 refresh_token": 1}},
		{"authcode-sso", "flow", map[string]int{"bench-web authorization_code": 1}},
		{ssoES256Workload, "flow", map[string]int{"bench-web-es256 authorization_code": 1}},
	} {
		before := f.counts()
		wl, err := gh.workload(tc.cell)
		if err != nil {
			t.Fatalf("%s: %v", tc.cell, err)
		}
		if wl.Name != tc.cell || wl.Unit != tc.unit {
			t.Errorf("%s: workload %q unit %q, want %q %q", tc.cell, wl.Name, wl.Unit, tc.cell, tc.unit)
		}
		if _, err := wl.NewWorker(ctx, 0); err != nil {
			t.Fatalf("%s: set up: %v", tc.cell, err)
		}
		got := f.counts()
		for k, n := range before {
			if got[k] -= n; got[k] == 0 {
				delete(got, k)
			}
		}
		if !maps.Equal(got, tc.grants) {
			t.Errorf("%s: token requests %v, want %v", tc.cell, got, tc.grants)
		}
	}
	if gh.e.t.WebID != webClientID || gh.e.t.WebAlg != "RS256" {
		t.Errorf("the ES256 cells changed the shared target: %+v", gh.e.t)
	}

	// Hydra: one web client, no alg registered; the variant is its base.
	ht := &Target{Issuer: f.URL, WebID: "hydra-web", WebSecret: "s", RedirectURI: benchRedirect, Users: []string{"u"}}
	hy := compareSystem{name: systemHydra, e: f.env(ht)}
	wl, err := hy.workload(refreshES256Workload)
	if err != nil || wl.Name != refreshES256Workload {
		t.Fatalf("hydra %s: %q, %v", refreshES256Workload, wl.Name, err)
	}
	before := f.counts()["hydra-web authorization_code"]
	if _, err := wl.NewWorker(ctx, 0); err != nil {
		t.Fatalf("hydra %s: set up: %v", refreshES256Workload, err)
	}
	if got := f.counts()["hydra-web authorization_code"]; got != before+1 {
		t.Errorf("hydra %s: %d code grants of hydra-web, want %d", refreshES256Workload, got, before+1)
	}

	// gatehouse without the second client cannot run the variant.
	nt := benchTarget(f.URL)
	nt.WebES256ID = ""
	if _, err := (compareSystem{name: systemGatehouse, e: f.env(nt)}).workload(ssoES256Workload); err == nil ||
		!strings.Contains(err.Error(), "no ES256 web client") {
		t.Errorf("gatehouse without bench-web-es256: %v, want refused", err)
	}
}

// TestWorkerSetUpFailsOnAnotherAlg: a server that signs the ES256
// client's ID tokens RS256 fails the cell before the clock starts, both
// at the code grant and at the refresh grant.
func TestWorkerSetUpFailsOnAnotherAlg(t *testing.T) {
	ctx := context.Background()
	always := newFakeIssuer(t, func(string) string { return "RS256" })
	gh := compareSystem{name: systemGatehouse, e: always.env(benchTarget(always.URL))}
	for _, cell := range []string{refreshES256Workload, ssoES256Workload} {
		wl, err := gh.workload(cell)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wl.NewWorker(ctx, 0); err == nil || !strings.Contains(err.Error(), "signed RS256, the client registered ES256") {
			t.Errorf("%s: set up %v, want the alg refused", cell, err)
		}
	}

	// The code grant's ID token right, the refresh grant's wrong.
	var mu sync.Mutex
	refreshed := false
	f := newFakeIssuer(t, func(id string) string {
		mu.Lock()
		defer mu.Unlock()
		if refreshed {
			return "RS256"
		}
		refreshed = true
		return "ES256"
	})
	gh = compareSystem{name: systemGatehouse, e: f.env(benchTarget(f.URL))}
	wl, err := gh.workload(refreshES256Workload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wl.NewWorker(ctx, 0); err == nil || !strings.HasPrefix(err.Error(), "refresh: ID token signed RS256") {
		t.Errorf("refresh grant signed RS256: set up %v, want the alg refused", err)
	}
}

func TestClientVariantNames(t *testing.T) {
	if !needsLogin([]string{refreshES256Workload}) || !needsLogin([]string{ssoES256Workload}) {
		t.Error("the variant cells sign users in")
	}
	if needsES256Web([]string{"cc", "refresh", "authcode-sso"}) || !needsES256Web([]string{"cc", refreshES256Workload}) {
		t.Error("the ES256 client is registered for the variant cells only")
	}
	got := clientAlgs(compareWorkloads, "RS256")
	want := map[string]string{"refresh": "RS256", refreshES256Workload: "ES256", "authcode-sso": "RS256", ssoES256Workload: "ES256"}
	if !maps.Equal(got, want) {
		t.Errorf("clientAlgs %v, want %v", got, want)
	}
	if got := clientAlgs([]string{"cc", "introspect"}, "RS256"); got != nil {
		t.Errorf("clientAlgs of cells without ID tokens %v, want none", got)
	}

	// Only compare accepts the variants.
	rf := runFlags{workloads: "refresh," + refreshES256Workload, concurrency: "8", duration: 1, warmup: 0}
	if _, _, err := rf.parsed(); err == nil || !strings.Contains(err.Error(), `"refresh-es256"`) {
		t.Errorf("without extra: %v, want refresh-es256 unknown", err)
	}
	rf.extra = clientVariantNames
	if names, _, err := rf.parsed(); err != nil || strings.Join(names, ",") != "refresh,refresh-es256" {
		t.Errorf("compare's flags: %v, %v", names, err)
	}
}
