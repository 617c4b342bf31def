package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserCrossSiteSignIn: the CSRF cookie is SameSite=Strict, and a
// sign-in that starts at a relying party on another site still works in a
// real browser. The relying party's page is at localhost, gatehouse at
// 127.0.0.1: different sites. The browser already holds a CSRF cookie from
// an earlier visit; following the relying party's link, the login page's
// request does not carry it (the navigation is cross-site), the page sets
// a new one, and the POST of the form (same-site) carries that one.
func TestBrowserCrossSiteSignIn(t *testing.T) {
	s := newBrowserSetup(t)
	s.callback.mu.Lock()
	s.callback.signIn = s.ar.URL
	s.callback.mu.Unlock()
	start := strings.Replace(s.callback.URL, "127.0.0.1", "localhost", 1) + "/start"
	if !strings.HasPrefix(s.ar.URL, "http://127.0.0.1:") {
		t.Fatalf("authorization URL %s is not at 127.0.0.1", s.ar.URL)
	}
	rep := runFlow(t, "cross-site", s.ar.URL, s.callback.redirectURI(), s.user, "--start="+start)

	if rep.CSRFSameSite != "Strict" {
		t.Errorf("CSRF cookie SameSite %q in the browser, want Strict", rep.CSRFSameSite)
	}
	if rep.CrossSiteLoginHadCSRF {
		t.Errorf("the cross-site navigation to the login page carried the CSRF cookie: the navigation was not cross-site, or the cookie not Strict")
	}
	if !rep.CSRFRotated {
		t.Errorf("the login page reached cross-site did not set a new CSRF cookie")
	}
	if rep.LoginStatus != http.StatusSeeOther {
		t.Errorf("POST /login answered %d, want 303", rep.LoginStatus)
	}
	got := s.callback.received()
	if len(got) != 1 || got[0].Get("state") != s.ar.State || got[0].Get("code") == "" {
		t.Fatalf("callback received %v, want one request with the state and a code", got)
	}
	code := got[0].Get("code")
	s.ts.secret(code)
	tok := s.rp.exchange(t, code, s.ar)
	if idt := s.rp.verifyIDToken(t, tok, s.ar.Nonce); idt.Subject != s.user.ID {
		t.Errorf("sub = %q, want %q", idt.Subject, s.user.ID)
	}
}
