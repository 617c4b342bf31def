package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestResetMFAThroughAPI: DELETE /users/{id}/mfa removes every factor and
// recovery code of the user, is audited, and follows the permission and
// power rules.
func TestResetMFAThroughAPI(t *testing.T) {
	e := newMemoryEnv(t)
	root := e.createUser(t, "admin")
	admin := e.signIn(t, root)
	// The sessions list says how each sign-in authenticated.
	r := e.do(t, http.MethodGet, "/users/"+root.ID+"/sessions", admin, nil)
	want(t, r, http.StatusOK, "list sessions")
	var sessions struct {
		Items []struct {
			AMR []string `json:"amr"`
			ACR string   `json:"acr"`
		} `json:"items"`
	}
	r.decode(t, &sessions)
	if len(sessions.Items) != 1 || !slices.Equal(sessions.Items[0].AMR, []string{"pwd"}) || sessions.Items[0].ACR != "aal1" {
		t.Fatalf("sessions: %s", r.Raw)
	}
	viewer := e.signIn(t, e.createUser(t, "viewer"))
	u := e.createUser(t, "viewer")
	ctx := ctxT(t)
	now := time.Now()
	for range 2 {
		f := store.MFAFactor{ID: newUUID(t), UserID: u.ID, Kind: store.FactorTOTP, SecretEnc: []byte{1, 2, 3}, CreatedAt: now, ConfirmedAt: &now}
		if err := e.Store.CreateMFAFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Store.ReplaceRecoveryCodes(ctx, u.ID, []string{"a", "b", "c"}, now); err != nil {
		t.Fatal(err)
	}
	// A passkey is a factor too.
	pk := store.WebAuthnCredential{ID: newUUID(t), UserID: u.ID, CredentialID: []byte(u.ID), PublicKey: []byte{1},
		AttestationType: "none", Transports: []string{"internal"}, Name: "Phone", CreatedAt: now}
	if err := e.Store.CreateWebAuthnCredential(ctx, pk); err != nil {
		t.Fatal(err)
	}

	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"/mfa", viewer, nil), http.StatusForbidden, "reset by a viewer")
	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"/mfa", "", nil), http.StatusUnauthorized, "reset without a token")
	if fs, _ := e.Store.ListMFAFactors(ctx, u.ID); len(fs) != 2 {
		t.Fatalf("a refused reset removed factors: %d left", len(fs))
	}

	before := e.lastAuditID(t)
	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"/mfa", admin, nil), http.StatusNoContent, "reset by an admin")
	fs, err := e.Store.ListMFAFactors(ctx, u.ID)
	if err != nil || len(fs) != 0 {
		t.Fatalf("factors after reset: %d, %v", len(fs), err)
	}
	if n, err := e.Store.CountRecoveryCodes(ctx, u.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after reset: %d, %v", n, err)
	}
	if pks, err := e.Store.ListWebAuthnCredentials(ctx, u.ID); err != nil || len(pks) != 0 {
		t.Fatalf("passkeys after reset: %d, %v", len(pks), err)
	}
	entries := e.auditSince(t, before)
	found := false
	for _, a := range entries {
		if a.Action == "mfa.reset" && a.TargetID == u.ID {
			found = true
			for _, w := range []string{`"passkeys":{"before":1,"after":0}`, `"factors":{"before":2,"after":0}`, `"recovery_codes":{"before":3,"after":0}`} {
				if !strings.Contains(string(a.Changes), w) {
					t.Errorf("mfa.reset changes %s lack %s", a.Changes, w)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no mfa.reset entry for the user: %+v", entries)
	}
	r = e.do(t, http.MethodDelete, "/users/"+newUUID(t)+"/mfa", admin, nil)
	want(t, r, http.StatusNotFound, "reset of an unknown user")
	if r.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("404 content type %q", r.Header.Get("Content-Type"))
	}
}
