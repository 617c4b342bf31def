package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

const loginPage = `<!doctype html><html><body><h1>Sign in</h1>
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="tok123">
<input type="hidden" name="return_to" value="/oauth2/auth?client_id=web&amp;state=x">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" required>
<input id="password" name="password" type="password" required>
<button type="submit" class="primary">Sign in</button>
</form></body></html>`

const consentPage = `<form method="post" action="/oauth2/auth/consent">
<input type="hidden" name="csrf_token" value="c1">
<input type="hidden" name="request" value="client_id=web&amp;scope=openid">
<input type="hidden" name="binding" value="b1">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</form>`

func TestLoginFormIsFilledIn(t *testing.T) {
	forms, err := parseForms([]byte(loginPage))
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 1 {
		t.Fatalf("found %d forms, want 1", len(forms))
	}
	f := forms[0]
	if !f.hasPassword() || f.allowButton() != nil {
		t.Fatalf("login form: hasPassword %v, allow button %v", f.hasPassword(), f.allowButton())
	}
	if f.action != "/login" || f.method != "post" {
		t.Errorf("action %q method %q", f.action, f.method)
	}
	got := f.loginValues("alice", "s3cret-pass")
	want := map[string]string{
		"csrf_token": "tok123",
		"return_to":  "/oauth2/auth?client_id=web&state=x", // entity decoded
		"username":   "alice",
		"password":   "s3cret-pass",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("form has %d fields, want %d: %v", len(got), len(want), got)
	}
}

func TestConsentFormPicksAllow(t *testing.T) {
	forms, err := parseForms([]byte(consentPage))
	if err != nil {
		t.Fatal(err)
	}
	if len(forms) != 1 || forms[0].hasPassword() {
		t.Fatalf("want one form without a password, got %+v", forms)
	}
	b := forms[0].allowButton()
	if b == nil || b.name != "decision" || b.value != "allow" {
		t.Fatalf("allow button = %+v, want decision=allow", b)
	}
	if h := forms[0].hiddenValues(); h.Get("binding") != "b1" || h.Get("request") != "client_id=web&scope=openid" || len(h) != 3 {
		t.Errorf("hidden values = %v", h)
	}
}

func TestParseStatCPU(t *testing.T) {
	cases := []struct {
		name string
		line string
		want time.Duration
	}{
		{"plain", "1234 (gatehouse) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 100 0 0",
			3250 * time.Millisecond},
		{"name with spaces and parentheses", "99 (a (b) c) R 1 99 99 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0",
			30 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := parseStatCPU([]byte("1 (x) S 1 2")); err == nil {
		t.Error("a short line parsed without error")
	}
}

func pgMsg(typ byte, payload string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(payload)))
	return append(b, payload...)
}

func TestCountFrontendCountsSyncAndQuery(t *testing.T) {
	var in bytes.Buffer
	// SSLRequest, then the startup message (protocol 3.0), both untyped.
	ssl := make([]byte, 8)
	binary.BigEndian.PutUint32(ssl[0:], 8)
	binary.BigEndian.PutUint32(ssl[4:], pgSSLRequest)
	in.Write(ssl)
	params := "user\x00postgres\x00\x00"
	startup := make([]byte, 8)
	binary.BigEndian.PutUint32(startup[0:], uint32(8+len(params)))
	binary.BigEndian.PutUint32(startup[4:], 196608)
	in.Write(startup)
	in.WriteString(params)
	// An extended-protocol query (Parse/Bind/Describe/Execute/Sync), a
	// simple query, and a batch of two executes with one Sync: 3 round trips.
	for _, m := range [][]byte{
		pgMsg('P', "\x00SELECT 1\x00\x00\x00"), pgMsg('B', "\x00\x00\x00\x00\x00\x00\x00\x00"),
		pgMsg('D', "P\x00"), pgMsg('E', "\x00\x00\x00\x00\x00"), pgMsg('S', ""),
		pgMsg('Q', "begin\x00"),
		pgMsg('E', "\x00\x00\x00\x00\x00"), pgMsg('E', "\x00\x00\x00\x00\x00"), pgMsg('S', ""),
		pgMsg('X', ""),
	} {
		in.Write(m)
	}
	sent := append([]byte(nil), in.Bytes()...)
	var out bytes.Buffer
	trips := 0
	err := countFrontend(bufio.NewReader(&in), &out, func() { trips++ })
	if err == nil {
		t.Fatal("want the end of input reported")
	}
	if trips != 3 {
		t.Errorf("counted %d round trips, want 3", trips)
	}
	if !bytes.Equal(out.Bytes(), sent) {
		t.Errorf("forwarded %d bytes, want the %d sent, unchanged", out.Len(), len(sent))
	}
}
