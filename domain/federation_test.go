package domain_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

const upstreamIssuer = "https://sso.example"

// newFedEnv is newEnv with the key that seals providers' secrets.
func newFedEnv(t *testing.T) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords:           domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:                 c.Now,
		IdentityProviderKey: bytes.Repeat([]byte{7}, 32),
	})
	return &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
}

func (e *env) provider(id string, mutate func(*domain.IdentityProviderInput)) store.IdentityProvider {
	e.t.Helper()
	in := domain.IdentityProviderInput{ID: id, DisplayName: "SSO " + id, Issuer: upstreamIssuer, ClientID: "gh", ClientSecret: "s3cret-" + id}
	if mutate != nil {
		mutate(&in)
	}
	p, err := e.svc.CreateIdentityProvider(e.ctx, admin, in)
	if err != nil {
		e.t.Fatalf("create provider %s: %v", id, err)
	}
	return p
}

func upstream(provider, sub, email string, verified bool) domain.UpstreamIdentity {
	return domain.UpstreamIdentity{ProviderID: provider, Issuer: upstreamIssuer, Subject: sub, Email: email,
		EmailVerified: verified, Username: strings.Split(email, "@")[0], Name: "Upstream Person"}
}

func TestDeriveUsername(t *testing.T) {
	for _, c := range []struct{ claim, email, want string }{
		{"alice", "", "alice"},
		{"Alice.Smith", "", "alice.smith"},
		{"Jöhn Doe", "", "j-hn-doe"},
		{"", "bob@example.com", "bob"},
		{"@@@", "carol+x@example.com", "carol-x"},
		{"", "", "user"},
		{"x", "", "x--"},
		{strings.Repeat("a", 70), "", strings.Repeat("a", 50)},
	} {
		got := domain.DeriveUsername(c.claim, c.email)
		if got != c.want {
			t.Errorf("DeriveUsername(%q, %q) = %q, want %q", c.claim, c.email, got, c.want)
		}
		if err := domain.ValidateUsername(got); err != nil {
			t.Errorf("DeriveUsername(%q, %q) = %q, not a valid username: %v", c.claim, c.email, got, err)
		}
	}
}

func TestValidIssuerURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://sso.example": true, "https://sso.example/realms/x": true, "http://127.0.0.1:8080": true,
		"http://localhost:9000": true, "http://[::1]:80": true,
		"http://sso.example": false, "ftp://sso.example": false, "sso.example": false, "": false,
		"https://sso.example/?q=1": false, "https://sso.example/#f": false, "https://user@sso.example": false,
	} {
		if got := domain.ValidIssuerURL(raw) == ""; got != ok {
			t.Errorf("ValidIssuerURL(%q) ok = %v, want %v", raw, got, ok)
		}
	}
}

// TestSignInUpstreamNewUserThenLink: a first sign-in makes a pending user
// without roles, its username unique; the second finds the link.
func TestSignInUpstreamNewUserThenLink(t *testing.T) {
	e := newFedEnv(t)
	e.provider("sso", nil)
	e.user("alice", "user") // takes the username the upstream suggests

	before := e.lastID()
	res, err := e.svc.SignInUpstream(e.ctx, upstream("sso", "sub-1", "Alice@Corp.example", true), "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	u := res.User
	if !res.Created || !res.Linked || u.Status != store.StatusPending || len(u.Roles) != 0 ||
		u.Username != "alice-2" || u.Email != "alice@corp.example" || !u.EmailVerified || u.PasswordHash != "" || u.FullName != "Upstream Person" {
		t.Errorf("first sign-in: %+v %+v", res, u)
	}
	got := actions(e.since(before))
	if strings.Join(got, ",") != "user.create,identity.link,login.success" {
		t.Errorf("audit %v", got)
	}
	for _, a := range e.since(before) {
		if a.Action == "login.success" && changesOf(t, a)["method"]["after"] != "fed" {
			t.Errorf("login.success changes %s", a.Changes)
		}
	}

	again, err := e.svc.SignInUpstream(e.ctx, upstream("sso", "sub-1", "changed@corp.example", false), "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Linked || again.User.ID != u.ID {
		t.Errorf("second sign-in: %+v, want the linked user %s", again, u.ID)
	}
	// The same subject at another issuer is another person.
	other := upstream("sso", "sub-1", "x@corp.example", true)
	other.Issuer = "https://elsewhere.example"
	_, err = e.svc.SignInUpstream(e.ctx, other, "")
	wantErr(t, err, domain.ErrInvalidCredentials)
}

func TestSignInUpstreamLinkByEmail(t *testing.T) {
	e := newFedEnv(t)
	e.provider("nolink", nil)
	e.provider("link", func(in *domain.IdentityProviderInput) { in.LinkByVerifiedEmail = true })
	bob := e.user("bob", "user")

	_, err := e.svc.SignInUpstream(e.ctx, upstream("nolink", "b-1", bob.Email, true), "")
	wantErr(t, err, domain.ErrFederatedEmail)
	_, err = e.svc.SignInUpstream(e.ctx, upstream("link", "b-2", bob.Email, false), "")
	wantErr(t, err, domain.ErrFederatedEmail)
	links, _ := e.svc.ListLinkedIdentities(e.ctx, bob.ID)
	if len(links) != 0 {
		t.Fatalf("links %v after refused sign-ins", links)
	}
	res, err := e.svc.SignInUpstream(e.ctx, upstream("link", "b-3", strings.ToUpper(bob.Email), true), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Created || !res.Linked || res.User.ID != bob.ID {
		t.Errorf("link by verified email: %+v", res)
	}
	// A locked user is neither linked nor signed in.
	carol := e.user("carol", "user")
	carol.Status = store.StatusLocked
	if err := e.store.UpdateUser(e.ctx, carol); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.SignInUpstream(e.ctx, upstream("link", "c-1", carol.Email, true), "")
	wantErr(t, err, domain.ErrInvalidCredentials)
	if links, _ := e.svc.ListLinkedIdentities(e.ctx, carol.ID); len(links) != 0 {
		t.Errorf("a locked user was linked: %v", links)
	}
}

func TestSignInUpstreamRefusals(t *testing.T) {
	e := newFedEnv(t)
	e.provider("off", func(in *domain.IdentityProviderInput) { in.Enabled = ptr(false) })
	e.provider("on", func(in *domain.IdentityProviderInput) {
		in.NewUserStatus, in.NewUserRoles = store.StatusActive, []string{"viewer"}
	})
	_, err := e.svc.SignInUpstream(e.ctx, upstream("off", "s", "a@x.example", true), "")
	wantErr(t, err, domain.ErrProviderUnavailable)
	_, err = e.svc.SignInUpstream(e.ctx, upstream("nobody", "s", "a@x.example", true), "")
	wantErr(t, err, domain.ErrProviderUnavailable)
	_, err = e.svc.SignInUpstream(e.ctx, upstream("on", "s", "", true), "")
	wantErr(t, err, domain.ErrFederatedEmail)
	_, err = e.svc.SignInUpstream(e.ctx, upstream("on", "", "a@x.example", true), "")
	wantErr(t, err, domain.ErrInvalidCredentials)

	// The provider's status and roles for new users.
	res, err := e.svc.SignInUpstream(e.ctx, upstream("on", "s", "dave@x.example", false), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Status != store.StatusActive || len(res.User.Roles) != 1 || res.User.EmailVerified {
		t.Errorf("new user %+v, want active viewer, email unverified", res.User)
	}
	// Locked later: the link no longer signs in.
	u := res.User
	u.Status = store.StatusLocked
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	before := e.lastID()
	_, err = e.svc.SignInUpstream(e.ctx, upstream("on", "s", "dave@x.example", false), "")
	wantErr(t, err, domain.ErrInvalidCredentials)
	if got := actions(e.since(before)); len(got) != 1 || got[0] != "login.failure" {
		t.Errorf("refused sign-in audited as %v", got)
	}
}

func TestUnlinkIdentityKeepsAWayIn(t *testing.T) {
	e := newFedEnv(t)
	e.provider("a", nil)
	e.provider("b", nil)
	res, err := e.svc.SignInUpstream(e.ctx, upstream("a", "s-a", "erin@x.example", true), "")
	if err != nil {
		t.Fatal(err)
	}
	u := res.User
	self := domain.Actor{Type: store.ActorUser, ID: u.ID}
	links, _ := e.svc.ListLinkedIdentities(e.ctx, u.ID)
	wantErr(t, e.svc.UnlinkIdentity(e.ctx, self, u.ID, links[0].ID), domain.ErrLastSignInMethod)

	// A second link: either may go, then not the last.
	second := store.LinkedIdentity{ID: "6f1c1f6e-5d0a-4b8e-9a59-3d3c1f0b1a2b", UserID: u.ID, ProviderID: "b",
		Issuer: upstreamIssuer, Subject: "s-b", CreatedAt: e.clock.Now()}
	if err := e.store.CreateLinkedIdentity(e.ctx, second); err != nil {
		t.Fatal(err)
	}
	before := e.lastID()
	if err := e.svc.UnlinkIdentity(e.ctx, self, u.ID, links[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := actions(e.since(before)); len(got) != 1 || got[0] != "identity.unlink" {
		t.Errorf("unlink audited as %v", got)
	}
	wantErr(t, e.svc.UnlinkIdentity(e.ctx, self, u.ID, second.ID), domain.ErrLastSignInMethod)
	if err := e.svc.UnlinkIdentity(e.ctx, self, u.ID, links[0].ID); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("unlink twice: %v, want not found", err)
	}

	// With a password, the last link may go.
	withPW := e.user("frank", "user")
	l := store.LinkedIdentity{ID: "0c9e7f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", UserID: withPW.ID, ProviderID: "a",
		Issuer: upstreamIssuer, Subject: "s-f", CreatedAt: e.clock.Now()}
	if err := e.store.CreateLinkedIdentity(e.ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.UnlinkIdentity(e.ctx, domain.Actor{Type: store.ActorUser, ID: withPW.ID}, withPW.ID, l.ID); err != nil {
		t.Errorf("unlink with a password: %v", err)
	}
	// Nobody unlinks another's link.
	if err := e.svc.UnlinkIdentity(e.ctx, self, u.ID, l.ID); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Errorf("unlink of another user's link: %v", err)
	}
}

// TestApplyConfiguredIdentityProviders: the file's providers are created,
// then replaced; the same file again changes and audits nothing; the
// secret is sealed, opens again, and is never in the audit log.
func TestApplyConfiguredIdentityProviders(t *testing.T) {
	e := newFedEnv(t)
	system := domain.Actor{Type: store.ActorSystem}
	in := []domain.IdentityProviderInput{{ID: "corp", DisplayName: "Corp", Issuer: upstreamIssuer, ClientID: "gh",
		ClientSecret: "first-secret", Scopes: []string{"email profile"}}}
	if err := e.svc.ApplyConfiguredIdentityProviders(e.ctx, system, in); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.GetIdentityProvider(e.ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := e.svc.IdentityProviderSecret(p); err != nil || secret != "first-secret" {
		t.Errorf("secret = %q, %v", secret, err)
	}
	if bytes.Contains(p.ClientSecretEnc, []byte("first-secret")) {
		t.Error("secret stored in the clear")
	}
	before := e.lastID()
	if err := e.svc.ApplyConfiguredIdentityProviders(e.ctx, system, in); err != nil {
		t.Fatal(err)
	}
	if got := e.since(before); len(got) != 0 {
		t.Errorf("the same file again audited %v", actions(got))
	}
	in[0].ClientSecret, in[0].DisplayName = "second-secret", "Corp SSO"
	if err := e.svc.ApplyConfiguredIdentityProviders(e.ctx, system, in); err != nil {
		t.Fatal(err)
	}
	p, _ = e.svc.GetIdentityProvider(e.ctx, "corp")
	if secret, _ := e.svc.IdentityProviderSecret(p); secret != "second-secret" || p.DisplayName != "Corp SSO" {
		t.Errorf("after the second file: %q %q", secret, p.DisplayName)
	}
	for _, a := range e.audit() {
		if bytes.Contains(a.Changes, []byte("secret-")) || bytes.Contains(a.Changes, []byte("first-secret")) || bytes.Contains(a.Changes, []byte("second-secret")) {
			t.Errorf("audit entry %s holds the secret: %s", a.Action, a.Changes)
		}
	}
	// A bad entry names its field.
	bad := []domain.IdentityProviderInput{{ID: "x", DisplayName: "X", Issuer: "http://sso.example", ClientID: ""}}
	err = e.svc.ApplyConfiguredIdentityProviders(e.ctx, system, bad)
	var v *domain.ValidationError
	if !errors.As(err, &v) || v.Field("issuer") == "" || v.Field("client_id") == "" {
		t.Errorf("bad entry: %v", err)
	}
}

// TestSignInUpstreamConcurrentFirstSignIns: first sign-ins of one upstream
// account at once make one user and one link; each either signs in as that
// user or is refused.
func TestSignInUpstreamConcurrentFirstSignIns(t *testing.T) {
	e := newFedEnv(t)
	e.provider("sso", nil)
	const n = 8
	type result struct {
		res domain.FederatedSignIn
		err error
	}
	out := make(chan result, n)
	for range n {
		go func() {
			res, err := e.svc.SignInUpstream(e.ctx, upstream("sso", "same-sub", "gina@x.example", true), "")
			out <- result{res, err}
		}()
	}
	ids := map[string]bool{}
	for range n {
		r := <-out
		switch {
		case r.err == nil:
			ids[r.res.User.ID] = true
		case !errors.Is(r.err, domain.ErrInvalidCredentials):
			t.Errorf("concurrent sign-in: %v", r.err)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d users signed in, want 1", len(ids))
	}
	u, err := e.store.GetUserByEmail(e.ctx, "gina@x.example")
	if err != nil || !ids[u.ID] {
		t.Fatalf("the user with the email: %v %v", u.ID, err)
	}
	if _, err := e.store.GetUserByUsername(e.ctx, "gina-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second user was made: %v", err)
	}
}
