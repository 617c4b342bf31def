package provider

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

func TestSessionRoundTripsThroughJSON(t *testing.T) {
	s := NewSession()
	s.Subject = "u1"
	s.Username = "alice"
	s.UserID = "u1"
	s.LoginSessionID = "ls1"
	s.ClientID = "web"
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s.IDTokenClaims().Subject = "u1"
	s.IDTokenClaims().AuthTime = at
	s.IDTokenClaims().Extra = map[string]interface{}{"email": "a@example.com", "roles": []string{"user"}}
	s.SetExpiresAt(fosite.AccessToken, at.Add(time.Hour))

	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got := NewSession()
	if err := json.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	if got.GetSubject() != "u1" || got.GetUsername() != "alice" || got.UserID != "u1" || got.LoginSessionID != "ls1" || got.ClientID != "web" {
		t.Errorf("fields lost: %+v", got)
	}
	if !got.IDTokenClaims().AuthTime.Equal(at) || got.IDTokenClaims().Extra["email"] != "a@example.com" {
		t.Errorf("claims lost: %+v", got.IDTokenClaims())
	}
	if !got.GetExpiresAt(fosite.AccessToken).Equal(at.Add(time.Hour)) {
		t.Errorf("expiry lost: %v", got.GetExpiresAt(fosite.AccessToken))
	}

	// Clone keeps the type and does not share maps.
	c, ok := s.Clone().(*Session)
	if !ok || c.UserID != "u1" || c.LoginSessionID != "ls1" {
		t.Fatalf("clone %T %+v", s.Clone(), c)
	}
	c.IDTokenClaims().Extra["email"] = "changed"
	if s.IDTokenClaims().Extra["email"] != "a@example.com" {
		t.Error("clone shares the claims map")
	}
}

func TestStoredRequestsHoldNoSecrets(t *testing.T) {
	form := url.Values{
		"client_id": {"web"}, "redirect_uri": {callbackURL}, "scope": {"openid"},
		"client_secret": {"ghs_secret"}, "client_assertion": {"eyJ.assertion"}, "code": {"gh_ac_code"},
		"code_verifier": {"verifier-value"}, "refresh_token": {"gh_rt_refresh"}, "password": {"hunter2"},
		"assertion": {"eyJ.grant"},
	}
	r := &fosite.Request{ID: "req1", RequestedAt: time.Now(), Client: &client{Client: store.Client{ID: "web"}},
		Form: form, Session: NewSession(), GrantedScope: fosite.Arguments{"openid"}}
	raw, err := marshalRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"ghs_secret", "eyJ.assertion", "gh_ac_code", "verifier-value", "gh_rt_refresh", "hunter2", "eyJ.grant"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("stored request contains %q: %s", secret, raw)
		}
	}
	var sr storedRequest
	if err := json.Unmarshal(raw, &sr); err != nil {
		t.Fatal(err)
	}
	if sr.Form.Get("redirect_uri") != callbackURL || sr.ClientID != "web" || !slices.Equal(sr.GrantedScopes, []string{"openid"}) {
		t.Errorf("stored request lost data: %+v", sr)
	}
	if form.Get("client_secret") == "" {
		t.Error("marshalRequest changed the live request's form")
	}
}

func TestNewValidatesOptions(t *testing.T) {
	e := newTestEnv(t)
	good := Options{Issuer: "https://id.example.com", GlobalSecret: make([]byte, 32)}
	cases := []struct {
		name string
		mod  func(*Options)
	}{
		{"trailing slash", func(o *Options) { o.Issuer += "/" }},
		{"relative issuer", func(o *Options) { o.Issuer = "id.example.com" }},
		{"short global secret", func(o *Options) { o.GlobalSecret = make([]byte, 16) }},
		{"unknown format", func(o *Options) { o.AccessTokenFormat = "paseto" }},
		{"negative lifetime", func(o *Options) { o.Lifetimes.AccessToken = -time.Second }},
	}
	if _, err := New(e.store, e.p.svc, e.keys, e.p.pages, good); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
	if _, err := New(e.store, nil, e.keys, e.p.pages, good); err == nil {
		t.Error("nil domain service accepted")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.mod(&o)
			if _, err := New(e.store, e.p.svc, e.keys, e.p.pages, o); err == nil {
				t.Error("accepted")
			}
		})
	}
}
