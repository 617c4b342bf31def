package provider

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/store"
)

// codecCases are requests shaped like those the provider stores, and the
// corners of the encoding: nil against empty, every kind of claim value,
// zones, a chain of act claims, a session of fosite's own type.
func codecCases() map[string]fosite.Requester {
	at := time.Date(2026, 12, 7, 23, 4, 5, 123456789, time.UTC)
	c := &client{Client: store.Client{ID: "web"}}
	full := NewSession()
	full.Subject, full.Username = "u-1", "alice"
	full.UserID, full.LoginSessionID, full.ClientID = "u-1", "ls-1", "web"
	full.ActBy, full.DPoPJKT, full.NotAfter = "user:admin", "jkt-thumb", at.Add(time.Hour)
	full.Act = &ActClaim{Subject: "admin", Act: &ActClaim{Subject: "svc", Act: &ActClaim{Subject: "root"}}}
	full.ExpiresAt = map[fosite.TokenType]time.Time{fosite.AccessToken: at.Add(time.Hour), fosite.RefreshToken: at.Add(720 * time.Hour)}
	full.Claims = &jwt.IDTokenClaims{
		JTI: "jti", Issuer: "https://id.example.com", Subject: "u-1", Audience: []string{"web", "api"},
		Nonce: "n-0S6", ExpiresAt: at.Add(time.Hour), IssuedAt: at, RequestedAt: at.Add(-time.Second),
		AuthTime:        at.In(time.FixedZone("CET", 3600)),
		AccessTokenHash: "ath", AuthenticationContextClassReference: "1",
		AuthenticationMethodsReferences: []string{"pwd", "otp"}, CodeHash: "ch",
		Extra: map[string]interface{}{
			"email": "a@example.com", "email_verified": true, "nothing": nil,
			"roles":  []string{"admin", "dev"},
			"groups": []interface{}{"ops", 3, false, []string{"x"}, map[string]interface{}{"k": "v"}},
			"area":   map[string]string{"code": "emea"}, "big": uint64(12345678901234567890), "n": int64(-7),
			"ratio": 0.125, "f32": float32(1.5), "i": 42, "number": json.Number("1e3"),
			"when": at, "act": &ActClaim{Subject: "x"}, "name": "Zoë ✓ \x00 \"quoted\"",
			"empty_list": []string{}, "nil_list": []string(nil), "empty_map": map[string]interface{}{},
			"deep": map[string]interface{}{"a": []interface{}{map[string]interface{}{"b": []interface{}{1.0}}}},
		},
	}
	full.Headers = &jwt.Headers{Extra: map[string]interface{}{"kid": "k1", "typ": "JWT"}}

	bare := &Session{} // nil claims, headers and expiries
	empty := NewSession()
	empty.ExpiresAt = map[fosite.TokenType]time.Time{}
	empty.Claims.Extra = map[string]interface{}{}
	empty.Claims.Audience = []string{}

	form := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {"https://app.example/cb?a=1&b=<2>"},
		"code": {"gh_ac_secret"}, "client_secret": {"s3cret"}, "empty": {}, "multi": {"1", "2"}}
	req := func(s fosite.Session, f url.Values) *fosite.Request {
		return &fosite.Request{ID: "req-1", RequestedAt: at, Client: c, Form: f, Session: s,
			RequestedScope: fosite.Arguments{"openid", "offline_access"}, GrantedScope: fosite.Arguments{"openid"},
			RequestedAudience: fosite.Arguments{}, GrantedAudience: fosite.Arguments{"https://api.example"}}
	}
	redirect, _ := url.Parse("https://app.example/cb?x=1")
	return map[string]fosite.Requester{
		"full session":      req(full, form),
		"bare session":      req(bare, url.Values{}),
		"empty collections": req(empty, nil),
		"no session":        &fosite.Request{ID: "req-2", Client: c},
		"fosite's session":  req(openid.NewDefaultSession(), form),
		"authorize request": &fosite.AuthorizeRequest{ResponseTypes: fosite.Arguments{"code"}, RedirectURI: redirect,
			State: "st", ResponseMode: fosite.ResponseModeQuery, DefaultResponseMode: fosite.ResponseModeFragment,
			Request: *req(full, form)},
	}
}

// intoSessions are the sessions a stored request is decoded into: a fresh
// one, and one read before, as fosite reads a code's session a second
// time into the session it set the access token's expiry on.
func intoSessions(fositeType bool) map[string]func() fosite.Session {
	if fositeType {
		return map[string]func() fosite.Session{"fresh": func() fosite.Session { return openid.NewDefaultSession() }}
	}
	return map[string]func() fosite.Session{
		"fresh": func() fosite.Session { return NewSession() },
		"read before": func() fosite.Session {
			s := NewSession()
			s.UserID, s.ActBy, s.Username = "kept-user", "kept-actor", "replaced"
			s.SetExpiresAt(fosite.AccessToken, time.Unix(1_800_000_000, 0).UTC())
			s.Claims.Extra = map[string]interface{}{"kept": "x", "email": "old"}
			s.Claims.Audience = []string{"old-audience", "two"}
			s.Headers.Extra = map[string]interface{}{"h": 1.0}
			s.Act = &ActClaim{Subject: "old", Act: &ActClaim{Subject: "older", Act: &ActClaim{Subject: "oldest"}}}
			return s
		},
	}
}

// The compact encoding decodes to what the JSON encoding decoded to, the
// session included, deep-equal, into a fresh session and into one that
// holds values already: nothing that reads a stored request can tell
// which encoding wrote it.
func TestCompactRequestDecodesAsJSONDid(t *testing.T) {
	for name, r := range codecCases() {
		_, fositeType := r.GetSession().(*openid.DefaultSession)
		for into, newSession := range intoSessions(fositeType) {
			t.Run(name+"/into "+into, func(t *testing.T) {
				viaJSON, err := marshalRequest(r)
				if err != nil {
					t.Fatal(err)
				}
				compact, err := encodeRequest(r)
				if err != nil {
					t.Fatal(err)
				}
				if compact[0] != compactV1 {
					t.Fatalf("first byte %#x, want the version %#x", compact[0], compactV1)
				}
				js := newSession()
				jsr, err := decodeRequest(viaJSON, js)
				if err != nil {
					t.Fatal(err)
				}
				jsr.Session = nil
				cs := newSession()
				csr, err := decodeRequest(compact, cs)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(csr, jsr) {
					t.Errorf("request:\ncompact %+v\njson    %+v", csr, jsr)
				}
				if !reflect.DeepEqual(cs, js) {
					cj, _ := json.Marshal(cs)
					jj, _ := json.Marshal(js)
					t.Errorf("session:\ncompact %s\njson    %s", cj, jj)
				}
				if len(compact) > len(viaJSON) {
					t.Errorf("compact encoding of %d bytes, JSON %d", len(compact), len(viaJSON))
				}
				t.Logf("%d bytes, JSON %d", len(compact), len(viaJSON))
				for _, secret := range []string{"gh_ac_secret", "s3cret"} {
					if bytes.Contains(compact, []byte(secret)) {
						t.Errorf("the stored request holds the secret parameter %q", secret)
					}
				}
			})
		}
	}
}

// Rows written before the compact encoding (JSON) are still read.
func TestStoredJSONRequestsStillRead(t *testing.T) {
	r := codecCases()["full session"]
	raw, err := marshalRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	sr, err := decodeRequest(raw, s)
	if err != nil {
		t.Fatal(err)
	}
	if sr.ID != "req-1" || s.UserID != "u-1" || s.Act.Act.Act.Subject != "root" || s.IDTokenClaims().Extra["email"] != "a@example.com" {
		t.Errorf("JSON row read as %+v, session %+v", sr, s)
	}
}

// A damaged or hostile row is an error, never a panic nor a partial
// request taken for whole.
func TestCompactRequestRefusesDamage(t *testing.T) {
	good, err := encodeRequest(codecCases()["full session"])
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(good); i++ {
		if _, err := decodeCompact(good[:i], NewSession()); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(good))
		}
	}
	if _, err := decodeCompact(append(bytes.Clone(good), 0), NewSession()); err == nil {
		t.Error("a byte left over: no error")
	}
	if _, err := decodeCompact([]byte{0x02}, NewSession()); err == nil || !strings.Contains(err.Error(), "unknown encoding") {
		t.Errorf("unknown version: %v", err)
	}
	deep := NewSession()
	link := &deep.Act
	for range maxActDepth + 1 {
		*link = &ActClaim{Subject: "s"}
		link = &(*link).Act
	}
	if _, err := encodeRequest(&fosite.Request{ID: "r", Client: &client{}, Session: deep}); err == nil {
		t.Error("act claims deeper than the bound encoded")
	}
}

func FuzzDecodeCompact(f *testing.F) {
	for _, r := range codecCases() {
		b, err := encodeRequest(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || b[0] != compactV1 {
			return
		}
		s := NewSession()
		sr, err := decodeCompact(b, s)
		if err != nil {
			return
		}
		// What decoded encodes again to the same bytes' meaning.
		again, err := encodeRequest(&fosite.Request{ID: sr.ID, RequestedAt: sr.RequestedAt, Client: &client{Client: store.Client{ID: sr.ClientID}},
			RequestedScope: sr.RequestedScopes, GrantedScope: sr.GrantedScopes, RequestedAudience: sr.RequestedAudience,
			GrantedAudience: sr.GrantedAudience, Form: sr.Form, Session: s})
		if err != nil {
			return
		}
		if _, err := decodeCompact(again, NewSession()); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
	})
}
