package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

// TestUsersResetMFA: users reset-mfa removes the user's factors, passkeys
// and recovery codes and is audited mfa.reset.
func TestUsersResetMFA(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	var alice admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "user")
	now := time.Now()
	f := store.MFAFactor{ID: uuid.NewString(), UserID: alice.ID, Kind: store.FactorTOTP, SecretEnc: []byte{1}, CreatedAt: now, ConfirmedAt: &now}
	if err := st.CreateMFAFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := st.ReplaceRecoveryCodes(ctx, alice.ID, []string{"d1", "d2"}, now); err != nil {
		t.Fatal(err)
	}
	pk := store.WebAuthnCredential{ID: uuid.NewString(), UserID: alice.ID, CredentialID: []byte("alice-key"), PublicKey: []byte{1},
		AttestationType: "none", Transports: []string{"usb"}, Name: "Key", CreatedAt: now}
	if err := st.CreateWebAuthnCredential(ctx, pk); err != nil {
		t.Fatal(err)
	}
	e.audited(st, "mfa.reset", nil, nil, "users", "reset-mfa", "alice")
	if fs, err := st.ListMFAFactors(ctx, alice.ID); err != nil || len(fs) != 0 {
		t.Fatalf("factors after reset: %d, %v", len(fs), err)
	}
	if n, err := st.CountRecoveryCodes(ctx, alice.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after reset: %d, %v", n, err)
	}
	if pks, err := st.ListWebAuthnCredentials(ctx, alice.ID); err != nil || len(pks) != 0 {
		t.Fatalf("passkeys after reset: %d, %v", len(pks), err)
	}
	e.fails([]string{`user "nobody" not found`}, "users", "reset-mfa", "nobody")
}
