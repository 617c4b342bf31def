package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/store"
)

const passkeyOrigin = "https://id.example.com"

// newPasskeyEnv is newEnv with a relying party for id.example.com.
func newPasskeyEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	cfg, err := domain.DefaultPasskeyConfig(passkeyOrigin)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = domain.NewService(e.store, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       e.clock.Now,
		Passkeys:  cfg,
	})
	return e
}

func optionsJSON(t *testing.T, c domain.PasskeyCeremony) []byte {
	t.Helper()
	b, err := json.Marshal(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register adds a passkey for u through the whole ceremony and returns the
// authenticator that holds it.
func (e *env) register(u store.User, name string) (*softauthn.Key, store.WebAuthnCredential) {
	e.t.Helper()
	key, err := softauthn.New(passkeyOrigin)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.svc.BeginPasskeyRegistration(e.ctx, u)
	if err != nil {
		e.t.Fatalf("BeginPasskeyRegistration: %v", err)
	}
	body, err := key.Create(optionsJSON(e.t, c))
	if err != nil {
		e.t.Fatal(err)
	}
	actor := domain.Actor{Type: store.ActorUser, ID: u.ID, IP: "192.0.2.7"}
	cred, err := e.svc.FinishPasskeyRegistration(e.ctx, actor, u.ID, c.Secret, name, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("FinishPasskeyRegistration: %v", err)
	}
	return key, cred
}

func (e *env) passkeySignIn(key *softauthn.Key) (domain.PasskeySignIn, error) {
	e.t.Helper()
	c, err := e.svc.BeginPasskeySignIn(e.ctx)
	if err != nil {
		e.t.Fatalf("BeginPasskeySignIn: %v", err)
	}
	body, err := key.Get(optionsJSON(e.t, c))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.svc.FinishPasskeySignIn(e.ctx, c.Secret, bytes.NewReader(body), "192.0.2.8")
}

func TestPasskeyRegisterAndSignIn(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	mark := e.lastID()
	key, cred := e.register(u, "  Laptop  ")
	if cred.Name != "Laptop" || cred.UserID != u.ID || !bytes.Equal(cred.CredentialID, key.ID()) {
		t.Fatalf("registered %+v, want name Laptop for %s with the key's id", cred, u.ID)
	}
	list, err := e.svc.ListPasskeys(e.ctx, u.ID)
	if err != nil || len(list) != 1 || list[0].ID != cred.ID || list[0].LastUsedAt != nil {
		t.Fatalf("ListPasskeys = %+v, %v; want the one new passkey, never used", list, err)
	}
	if !slices.Equal(list[0].Transports, []string{"internal", "hybrid"}) {
		t.Errorf("transports = %q", list[0].Transports)
	}

	e.clock.Advance(time.Minute)
	got, err := e.passkeySignIn(key)
	if err != nil {
		t.Fatalf("FinishPasskeySignIn: %v", err)
	}
	if got.User.ID != u.ID || !slices.Equal(got.AMR, []string{"hwk", "user"}) || got.ACR != "aal2" {
		t.Fatalf("sign-in = user %s amr %q acr %q; want %s, [hwk user], aal2", got.User.ID, got.AMR, got.ACR, u.ID)
	}
	list, _ = e.svc.ListPasskeys(e.ctx, u.ID)
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v, want %v", list[0].LastUsedAt, e.clock.Now())
	}
	after := e.since(mark)
	if want := []string{"passkey.registered", "signin.passkey"}; !slices.Equal(actions(after), want) {
		t.Fatalf("audit = %q, want %q", actions(after), want)
	}
	if after[1].ActorID != u.ID || after[1].TargetID != u.ID || after[1].IPAddress != "192.0.2.8" {
		t.Errorf("signin.passkey entry = %+v", after[1])
	}
	if ch := changesOf(t, after[0]); ch["name"]["after"] != "Laptop" || ch["passkey_id"]["after"] != cred.ID {
		t.Errorf("passkey.registered changes = %v", ch)
	}
}

// TestPasskeyCeremonyIsSingleUse replays a finished ceremony's answer: the
// ceremony is gone, so the replay is refused (and audited) although the
// signature is good.
func TestPasskeyCeremonyIsSingleUse(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	c, err := e.svc.BeginPasskeySignIn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, err := key.Get(optionsJSON(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskeySignIn(e.ctx, c.Secret, bytes.NewReader(body), "192.0.2.8"); err != nil {
		t.Fatalf("first finish: %v", err)
	}
	mark := e.lastID()
	_, err = e.svc.FinishPasskeySignIn(e.ctx, c.Secret, bytes.NewReader(body), "192.0.2.8")
	if !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("second finish with the same ceremony: %v, want ErrInvalidCredentials", err)
	}
	if got := actions(e.since(mark)); !slices.Equal(got, []string{"signin.passkey.failure"}) {
		t.Errorf("audit after the replay = %q", got)
	}

	// A registration ceremony is single use too, and bound to its user.
	other := e.user("bob", "viewer")
	rc, err := e.svc.BeginPasskeyRegistration(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := softauthn.New(passkeyOrigin)
	reg, err := k2.Create(optionsJSON(t, rc))
	if err != nil {
		t.Fatal(err)
	}
	actor := domain.Actor{Type: store.ActorUser, ID: other.ID}
	_, err = e.svc.FinishPasskeyRegistration(e.ctx, actor, other.ID, rc.Secret, "x", bytes.NewReader(reg))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish of ada's ceremony as bob: %v, want not found", err)
	}
	// The misdirected finish consumed it: even ada cannot use it now.
	actor.ID = u.ID
	_, err = e.svc.FinishPasskeyRegistration(e.ctx, actor, u.ID, rc.Secret, "x", bytes.NewReader(reg))
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("finish after a consumed ceremony: %v, want not found", err)
	}
}

func TestPasskeyCeremonyExpires(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	c, err := e.svc.BeginPasskeySignIn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now().Add(domain.DefaultCeremonyLifetime); !c.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt, want)
	}
	body, err := key.Get(optionsJSON(t, c))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(domain.DefaultCeremonyLifetime)
	_, err = e.svc.FinishPasskeySignIn(e.ctx, c.Secret, bytes.NewReader(body), "192.0.2.8")
	if !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("finish at the expiry: %v, want ErrInvalidCredentials", err)
	}

	// Just inside the lifetime it works.
	c, _ = e.svc.BeginPasskeySignIn(e.ctx)
	body, _ = key.Get(optionsJSON(t, c))
	e.clock.Advance(domain.DefaultCeremonyLifetime - time.Second)
	if _, err := e.svc.FinishPasskeySignIn(e.ctx, c.Secret, bytes.NewReader(body), "192.0.2.8"); err != nil {
		t.Fatalf("finish within the lifetime: %v", err)
	}
}

// TestPasskeyCloneWarning: an assertion whose counter does not move
// forward is refused, and the credential is marked.
func TestPasskeyCloneWarning(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, err := softauthn.New(passkeyOrigin)
	if err != nil {
		t.Fatal(err)
	}
	key.Counter = 10
	c, _ := e.svc.BeginPasskeyRegistration(e.ctx, u)
	body, _ := key.Create(optionsJSON(t, c))
	if _, err := e.svc.FinishPasskeyRegistration(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, c.Secret, "Key", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.passkeySignIn(key); err != nil { // counter 11
		t.Fatalf("sign-in: %v", err)
	}
	key.Counter = 5 // the copy's counter: behind
	mark := e.lastID()
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("sign-in with a counter going back: %v, want ErrInvalidCredentials", err)
	}
	list, _ := e.svc.ListPasskeys(e.ctx, u.ID)
	if !list[0].CloneWarning || list[0].SignCount != 11 {
		t.Errorf("credential after the replay: clone warning %v, count %d; want true, 11", list[0].CloneWarning, list[0].SignCount)
	}
	entries := e.since(mark)
	if len(entries) != 1 || entries[0].Action != "signin.passkey.failure" || changesOf(t, entries[0])["reason"]["after"] != "clone_warning" {
		t.Errorf("audit = %+v", entries)
	}
}

// TestPasskeySignInStanding: a disabled user's passkey no longer signs in;
// a pending user's does (to ask for access), as with a password.
func TestPasskeySignInStanding(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	pending := e.user("pat")
	pkey, _ := e.register(pending, "Phone")

	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), u.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	mark := e.lastID()
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("disabled user's passkey: %v, want ErrInvalidCredentials", err)
	}
	entries := e.since(mark)
	if len(entries) != 1 || entries[0].TargetID != u.ID || changesOf(t, entries[0])["reason"]["after"] != "user_may_not_sign_in" {
		t.Errorf("audit = %+v", entries)
	}
	got, err := e.passkeySignIn(pkey)
	if err != nil || got.User.Status != store.StatusPending {
		t.Fatalf("pending user's passkey: %+v, %v; want the pending user", got.User, err)
	}
}

// TestPasskeySignInIPRules: a passkey does not get past the user's IP
// rules any more than a password does; the refusal is audited with the
// address, as at password sign-in.
func TestPasskeySignInIPRules(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	boss := e.user("boss", "admin")
	p := e.principal(boss)
	if _, err := e.svc.SetIPRules(e.ctx, p, u.ID, domain.IPRules{Deny: []string{"192.0.2.8"}}); err != nil {
		t.Fatal(err)
	}
	mark := e.lastID()
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("passkey from a denied address: %v, want ErrInvalidCredentials", err)
	}
	if got := actions(e.since(mark)); !slices.Equal(got, []string{"signin.refused_address", "signin.passkey.failure"}) {
		t.Fatalf("audit = %q", got)
	}
	if _, err := e.svc.SetIPRules(e.ctx, p, u.ID, domain.IPRules{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.passkeySignIn(key); err != nil {
		t.Fatalf("passkey once the rule is gone: %v", err)
	}
}

// TestPasskeyWrongSignature: an answer for another challenge, or from an
// unregistered key, is refused.
func TestPasskeyWrongSignature(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	stranger, _ := softauthn.New(passkeyOrigin)
	_, _ = stranger.Create(optionsJSON(t, mustBegin(t, e, u))) // knows the RP, never registered
	if _, err := e.passkeySignIn(stranger); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("unregistered key: %v", err)
	}
	c1, _ := e.svc.BeginPasskeySignIn(e.ctx)
	c2, _ := e.svc.BeginPasskeySignIn(e.ctx)
	body, _ := key.Get(optionsJSON(t, c1))
	if _, err := e.svc.FinishPasskeySignIn(e.ctx, c2.Secret, bytes.NewReader(body), ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("answer to another challenge: %v", err)
	}
	wrongOrigin, _ := softauthn.New("https://evil.example")
	_, _ = wrongOrigin.Create(optionsJSON(t, mustBegin(t, e, u)))
	c3, _ := e.svc.BeginPasskeyRegistration(e.ctx, u)
	reg, _ := wrongOrigin.Create(optionsJSON(t, c3))
	_, err := e.svc.FinishPasskeyRegistration(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, c3.Secret, "x", bytes.NewReader(reg))
	if v, ok := domain.AsValidation(err); !ok || v.Field("credential") == "" {
		t.Fatalf("registration from another origin: %v, want a credential validation error", err)
	}
}

func mustBegin(t *testing.T, e *env, u store.User) domain.PasskeyCeremony {
	t.Helper()
	c, err := e.svc.BeginPasskeyRegistration(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPasskeyRemove(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	other := e.user("bob", "viewer")
	key, cred := e.register(u, "Laptop")
	bob := domain.Actor{Type: store.ActorUser, ID: other.ID}
	if err := e.svc.RemovePasskey(e.ctx, bob, other.ID, cred.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove of another user's passkey: %v, want not found", err)
	}
	mark := e.lastID()
	if err := e.svc.RemovePasskey(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	if got := actions(e.since(mark)); !slices.Equal(got, []string{"passkey.removed"}) {
		t.Errorf("audit = %q", got)
	}
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("sign-in with a removed passkey: %v", err)
	}
}

func TestPasskeyFactor(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	nokeys := e.user("bob", "viewer")
	if _, err := e.svc.BeginPasskeyFactor(e.ctx, nokeys); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("BeginPasskeyFactor without passkeys: %v, want not found", err)
	}
	key, _ := e.register(u, "Laptop")
	c, err := e.svc.BeginPasskeyFactor(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := key.Get(optionsJSON(t, c))
	// Another user cannot finish ada's second step.
	if _, err := e.svc.VerifyPasskeyFactor(e.ctx, nokeys, c.Secret, bytes.NewReader(body), ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("bob finishing ada's factor: %v", err)
	}
	c, _ = e.svc.BeginPasskeyFactor(e.ctx, u)
	body, _ = key.Get(optionsJSON(t, c))
	amr, err := e.svc.VerifyPasskeyFactor(e.ctx, u, c.Secret, bytes.NewReader(body), "")
	if err != nil || !slices.Equal(amr, []string{"hwk", "user"}) {
		t.Fatalf("VerifyPasskeyFactor = %q, %v; want [hwk user]", amr, err)
	}
	if _, err := e.svc.VerifyPasskeyFactor(e.ctx, u, c.Secret, bytes.NewReader(body), ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("factor replay: %v", err)
	}
	// Without user verification the step proves the key only.
	key.UserVerified = false
	c, _ = e.svc.BeginPasskeyFactor(e.ctx, u)
	body, _ = key.Get(optionsJSON(t, c))
	amr, err = e.svc.VerifyPasskeyFactor(e.ctx, u, c.Secret, bytes.NewReader(body), "")
	if err != nil || !slices.Equal(amr, []string{"hwk"}) {
		t.Fatalf("VerifyPasskeyFactor without UV = %q, %v; want [hwk]", amr, err)
	}
	// Passwordless sign-in requires user verification.
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("passwordless sign-in without user verification: %v", err)
	}
}

func TestPasskeysDisabled(t *testing.T) {
	e := newEnv(t)
	if e.svc.PasskeysEnabled() {
		t.Fatal("passkeys enabled without configuration")
	}
	if _, err := e.svc.BeginPasskeySignIn(e.ctx); !errors.Is(err, domain.ErrPasskeysDisabled) {
		t.Fatalf("BeginPasskeySignIn: %v", err)
	}
}

// TestPasskeyPastPasswordLockout: wrong passwords refuse the password path
// only; the owner's passkey still signs in from that address, and clears
// its refusal there.
func TestPasskeyPastPasswordLockout(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.user("ada", "viewer")
	key, _ := e.register(u, "Laptop")
	for range domain.DefaultLockoutThreshold {
		if _, err := e.svc.Authenticate(e.ctx, "ada", "wrong password!", "192.0.2.8"); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := e.svc.Authenticate(e.ctx, "ada", goodPassword, "192.0.2.8"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("right password while locked out: %v, want refused", err)
	}
	got, err := e.passkeySignIn(key)
	if err != nil || got.User.ID != u.ID {
		t.Fatalf("passkey sign-in while the password is locked out: %+v, %v", got.User, err)
	}
	after, err := e.store.GetUser(e.ctx, u.ID)
	if err != nil || after.LockedUntil != nil || after.FailedLogins != 0 {
		t.Fatalf("after the passkey sign-in: locked until %v, failures %d (%v); want the lock cleared", after.LockedUntil, after.FailedLogins, err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "ada", goodPassword, "192.0.2.8"); err != nil {
		t.Fatalf("password after the passkey cleared the lock: %v", err)
	}
}
