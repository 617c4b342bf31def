package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// passkeyTimeout bounds one run of passkeys.mjs, browser start included.
const passkeyTimeout = 90 * time.Second

type passkeyReport struct {
	OK             bool   `json:"ok"`
	Error          string `json:"error"`
	BrowserVersion string `json:"browserVersion"`
	Pages          []struct {
		Kind, Title, URL string
	} `json:"pages"`
	SecurityBefore           string                    `json:"securityBefore"`
	SecurityAfter            string                    `json:"securityAfter"`
	LoginButton              string                    `json:"loginButton"`
	FinalURL                 string                    `json:"finalURL"`
	MFAButton                string                    `json:"mfaButton"`
	MFAText                  string                    `json:"mfaText"`
	FinalURL2                string                    `json:"finalURL2"`
	AuthenticatorCredentials []struct{ Resident bool } `json:"authenticatorCredentials"`
	SignCountAfter           []int                     `json:"signCountAfter"`
	Widths                   map[string]map[string]int `json:"widths"`
	Screenshots              []string                  `json:"screenshots"`
	FailedRequests           []string                  `json:"failedRequests"`
	ConsoleErrors            []string                  `json:"consoleErrors"`
}

// TestBrowserPasskeys: in Chromium with a virtual authenticator, a user
// signs in with the password, adds a passkey on the security page, signs
// out, and signs in to a relying party with the passkey alone; the ID
// token the relying party gets says so (amr hwk and user, acr aal2). Then
// a password sign-in of that user asks for the second step, answered with
// the passkey: the ID token says pwd, hwk and user (aal2).
//
// WebAuthn needs a secure context and a domain as RP id: the issuer is
// http://localhost:<port>, which Chromium treats as secure, and the RP id
// is "localhost" (config's default, the issuer's host).
func TestBrowserPasskeys(t *testing.T) {
	node, chromium := requireBrowser(t)
	ts := startServer(t, func(c *config.Config) {
		c.Issuer = strings.Replace(c.Issuer, "://127.0.0.1:", "://localhost:", 1)
	})
	if got := ts.Config.PasskeyConfig().RPID; got != "localhost" {
		t.Fatalf("RP id = %q, want localhost", got)
	}
	cb := newRPCallback(t)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Name = "Acme Reports"
		c.RedirectURIs = []string{cb.redirectURI()}
	})
	rp := ts.newRP(t, client)
	user := ts.createUser(t, "user")
	ar := rp.newAuthRequest(t, false)
	ar2 := rp.newAuthRequest(t, false)
	ts.secret(user.Password)

	plan, err := json.Marshal(map[string]string{
		"issuer": ts.URL, "authURL": ar.URL, "authURL2": ar2.URL, "redirect": cb.redirectURI(), "username": user.Username,
	})
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("GATEHOUSE_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(browserDir(t), "screenshots")
	}
	shots = filepath.Join(shots, "passkeys")
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), passkeyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "passkeys.mjs")
	cmd.Dir = browserDir(t)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "GATEHOUSE_PASSKEY_PLAN="+string(plan),
		"GATEHOUSE_E2E_PASSWORD="+user.Password, "GATEHOUSE_E2E_SCREENSHOTS="+shots)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep passkeyReport
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &rep); err != nil {
		t.Fatalf("passkeys.mjs printed no report (exit: %v, timeout: %v): %v\nstdout:\n%s\nstderr:\n%s",
			runErr, errors.Is(ctx.Err(), context.DeadlineExceeded), err, snippet(stdout.String()), snippet(stderr.String()))
	}
	if strings.Contains(stdout.String(), user.Password) || strings.Contains(stderr.String(), user.Password) {
		t.Errorf("passkeys.mjs printed the password")
	}
	if runErr != nil || !rep.OK {
		t.Fatalf("passkeys.mjs failed (exit %v): %s\npages: %+v\nfailed requests: %v\nconsole: %v\nstderr:\n%s",
			runErr, rep.Error, rep.Pages, rep.FailedRequests, rep.ConsoleErrors, snippet(stderr.String()))
	}
	t.Logf("passkeys.mjs: Chromium %s, pages %+v, screenshots %v", rep.BrowserVersion, rep.Pages, rep.Screenshots)

	// The pages, as the person saw them.
	if !strings.Contains(rep.SecurityBefore, "You have no passkeys yet") {
		t.Errorf("security page before:\n%s", rep.SecurityBefore)
	}
	if !strings.Contains(rep.SecurityAfter, "Passkey added.") || !strings.Contains(rep.SecurityAfter, "Test laptop") {
		t.Errorf("security page after adding:\n%s", rep.SecurityAfter)
	}
	if rep.LoginButton != "Sign in with a passkey" {
		t.Errorf("login button %q", rep.LoginButton)
	}
	if rep.MFAButton != "Use a passkey" || strings.Contains(rep.MFAText, "Authentication code") {
		t.Errorf("second step: button %q, page:\n%s", rep.MFAButton, rep.MFAText)
	}
	if len(rep.AuthenticatorCredentials) != 1 || !rep.AuthenticatorCredentials[0].Resident {
		t.Errorf("authenticator holds %+v, want one resident (discoverable) credential", rep.AuthenticatorCredentials)
	}
	if len(rep.ConsoleErrors) > 0 {
		t.Errorf("console errors (CSP violations, script errors): %v", rep.ConsoleErrors)
	}
	for name, w := range rep.Widths {
		if w["375"] > 375 {
			t.Errorf("%s is %d px wide on a 375 px phone", name, w["375"])
		}
	}

	// The relying party's view: a code that redeems for an ID token whose
	// amr and acr tell a passkey sign-in.
	got := cb.received()
	if len(got) != 2 || got[0].Get("state") != ar.State || got[0].Get("code") == "" ||
		got[1].Get("state") != ar2.State || got[1].Get("code") == "" {
		t.Fatalf("callback received %v, want two codes with their states", got)
	}
	type amrACR struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	idToken := func(code string, ar authRequest) (string, amrACR) {
		t.Helper()
		ts.secret(code)
		tok := rp.exchange(t, code, ar)
		idt := rp.verifyIDToken(t, tok, ar.Nonce)
		var claims amrACR
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		return idt.Subject, claims
	}
	sub, claims := idToken(got[0].Get("code"), ar)
	if sub != user.ID || !slices.Contains(claims.AMR, "hwk") || !slices.Contains(claims.AMR, "user") || claims.ACR != "aal2" {
		t.Fatalf("ID token sub %q amr %q acr %q; want %s, amr with hwk and user, acr aal2", sub, claims.AMR, claims.ACR, user.ID)
	}
	// The password sign-in with the passkey as its second step.
	sub, claims = idToken(got[1].Get("code"), ar2)
	if sub != user.ID || !slices.Equal(claims.AMR, []string{"pwd", "hwk", "user"}) || claims.ACR != "aal2" {
		t.Fatalf("second-step ID token sub %q amr %q acr %q; want %s, [pwd hwk user], aal2", sub, claims.AMR, claims.ACR, user.ID)
	}

	// The server's records: the credential, its use, and the audit trail.
	creds, err := ts.Store.ListWebAuthnCredentials(ctxT(t), user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || creds[0].Name != "Test laptop" || creds[0].LastUsedAt == nil {
		t.Fatalf("stored passkeys %+v, want one named Test laptop, used", creds)
	}
	if len(rep.SignCountAfter) == 1 && int64(rep.SignCountAfter[0]) != creds[0].SignCount {
		t.Errorf("stored sign count %d, authenticator's %d", creds[0].SignCount, rep.SignCountAfter[0])
	}
	entries, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: user.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"login.success", "passkey.registered", "logout", "signin.passkey", "mfa.passkey"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit of the user %q lacks %s", actions, want)
		}
	}
}
