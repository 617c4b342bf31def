package storetest

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var identityProviderTests = []subtest{
	{"ProviderCreateGetList", testProviderCreateGetList},
	{"ProviderUpdate", testProviderUpdate},
	{"ProviderDeleteTakesLinks", testProviderDeleteTakesLinks},
	{"LinkCreateGetList", testLinkCreateGetList},
	{"LinkUniquePerIssuerSubject", testLinkUniquePerIssuerSubject},
	{"LinkTouchDelete", testLinkTouchDelete},
	{"LinksGoWithTheirUser", testLinksGoWithUser},
	{"LinkOnceConcurrently", testLinkOnceConcurrently},
}

func (f *fixture) newIdentityProvider() store.IdentityProvider {
	id := uniqueID("idp") // lowercase hex and "-": a slug
	return store.IdentityProvider{
		ID:                  id,
		DisplayName:         "Upstream ✓",
		Issuer:              "https://upstream.example/" + id,
		ClientID:            "gatehouse-" + id,
		ClientSecretEnc:     append([]byte{0x01, 0x00, 0xff}, randomBytes(40)...),
		Scopes:              []string{"email", "profile"},
		UsernameClaim:       "preferred_username",
		EmailClaim:          "email",
		NameClaim:           "name",
		LinkByVerifiedEmail: true,
		NewUserStatus:       store.StatusPending,
		NewUserRoles:        []string{"viewer"},
		Enabled:             true,
		CreatedAt:           f.at(-time.Hour),
		UpdatedAt:           f.at(-time.Hour),
	}
}

func (f *fixture) createIdentityProvider() store.IdentityProvider {
	p := f.newIdentityProvider()
	f.must(f.s.CreateIdentityProvider(f.ctx, p), "CreateIdentityProvider")
	return p
}

func (f *fixture) newLink(userID, providerID string, d time.Duration) store.LinkedIdentity {
	return store.LinkedIdentity{
		ID:         uuid.NewString(),
		UserID:     userID,
		ProviderID: providerID,
		Issuer:     "https://upstream.example/" + providerID,
		Subject:    uniqueID("sub"),
		Email:      "someone@upstream.example",
		CreatedAt:  f.at(d),
	}
}

func testProviderCreateGetList(f *fixture) {
	bare := f.newIdentityProvider()
	bare.ClientSecretEnc, bare.Scopes, bare.NewUserRoles = nil, []string{}, []string{}
	bare.LinkByVerifiedEmail, bare.Enabled = false, false
	full := f.newIdentityProvider()
	f.must(f.s.CreateIdentityProvider(f.ctx, full), "CreateIdentityProvider")
	f.must(f.s.CreateIdentityProvider(f.ctx, bare), "CreateIdentityProvider without secret, scopes or roles")

	got, err := f.s.GetIdentityProvider(f.ctx, full.ID)
	f.must(err, "GetIdentityProvider")
	f.equal("provider", got, full)
	got, err = f.s.GetIdentityProvider(f.ctx, bare.ID)
	f.must(err, "GetIdentityProvider")
	f.equal("bare provider", got, bare)

	list, err := f.s.ListIdentityProviders(f.ctx)
	f.must(err, "ListIdentityProviders")
	var mine []store.IdentityProvider
	for _, p := range list {
		if p.ID == full.ID || p.ID == bare.ID {
			mine = append(mine, p)
		}
	}
	want := []store.IdentityProvider{full, bare}
	if bare.ID < full.ID {
		want = []store.IdentityProvider{bare, full}
	}
	f.equal("providers, by id", mine, want)

	dup := f.newIdentityProvider()
	dup.ID = full.ID
	f.wantErr(f.s.CreateIdentityProvider(f.ctx, dup), store.ErrConflict, "CreateIdentityProvider with a taken id")
	_, err = f.s.GetIdentityProvider(f.ctx, "nobody")
	f.wantErr(err, store.ErrNotFound, "GetIdentityProvider unknown")
	bad := f.newIdentityProvider()
	bad.NewUserStatus = store.StatusLocked
	if err := f.s.CreateIdentityProvider(f.ctx, bad); err == nil {
		f.t.Errorf("CreateIdentityProvider with new user status locked succeeded, want the constraint's refusal")
	}
}

func testProviderUpdate(f *fixture) {
	p := f.createIdentityProvider()
	up := p
	up.DisplayName, up.Issuer, up.ClientID = "Renamed", "https://other.example", "other"
	up.ClientSecretEnc = nil
	up.Scopes, up.NewUserRoles = []string{"groups"}, []string{}
	up.LinkByVerifiedEmail, up.Enabled, up.NewUserStatus = false, false, store.StatusActive
	up.UsernameClaim, up.EmailClaim, up.NameClaim = "nickname", "mail", "given_name"
	up.UpdatedAt = f.at(0)
	up.CreatedAt = f.at(time.Hour) // not stored: CreatedAt never changes
	f.must(f.s.UpdateIdentityProvider(f.ctx, up), "UpdateIdentityProvider")
	got, err := f.s.GetIdentityProvider(f.ctx, p.ID)
	f.must(err, "GetIdentityProvider")
	want := up
	want.CreatedAt = p.CreatedAt
	f.equal("updated provider", got, want)
	missing := f.newIdentityProvider()
	f.wantErr(f.s.UpdateIdentityProvider(f.ctx, missing), store.ErrNotFound, "UpdateIdentityProvider unknown")
}

func testProviderDeleteTakesLinks(f *fixture) {
	p := f.createIdentityProvider()
	keep := f.createIdentityProvider()
	u := f.createUser()
	gone := f.newLink(u.ID, p.ID, -time.Hour)
	kept := f.newLink(u.ID, keep.ID, -time.Minute)
	f.must(f.s.CreateLinkedIdentity(f.ctx, gone), "CreateLinkedIdentity")
	f.must(f.s.CreateLinkedIdentity(f.ctx, kept), "CreateLinkedIdentity")
	f.must(f.s.DeleteIdentityProvider(f.ctx, p.ID), "DeleteIdentityProvider")
	f.wantErr(f.s.DeleteIdentityProvider(f.ctx, p.ID), store.ErrNotFound, "DeleteIdentityProvider twice")
	_, err := f.s.GetIdentityProvider(f.ctx, p.ID)
	f.wantErr(err, store.ErrNotFound, "GetIdentityProvider after delete")
	_, err = f.s.GetLinkedIdentity(f.ctx, gone.Issuer, gone.Subject)
	f.wantErr(err, store.ErrNotFound, "GetLinkedIdentity of a deleted provider's link")
	list, err := f.s.ListLinkedIdentities(f.ctx, u.ID)
	f.must(err, "ListLinkedIdentities")
	f.equal("links left", list, []store.LinkedIdentity{kept})
}

func testLinkCreateGetList(f *fixture) {
	p := f.createIdentityProvider()
	u := f.createUser()
	other := f.createUser()
	second := f.newLink(u.ID, p.ID, -time.Minute)
	first := f.newLink(u.ID, p.ID, -time.Hour)
	first.Email = ""
	f.must(f.s.CreateLinkedIdentity(f.ctx, second), "CreateLinkedIdentity")
	f.must(f.s.CreateLinkedIdentity(f.ctx, first), "CreateLinkedIdentity without email")
	got, err := f.s.GetLinkedIdentity(f.ctx, second.Issuer, second.Subject)
	f.must(err, "GetLinkedIdentity")
	f.equal("link", got, second)
	list, err := f.s.ListLinkedIdentities(f.ctx, u.ID)
	f.must(err, "ListLinkedIdentities")
	f.equal("links, oldest first", list, []store.LinkedIdentity{first, second})
	none, err := f.s.ListLinkedIdentities(f.ctx, other.ID)
	f.must(err, "ListLinkedIdentities of a user without any")
	if none == nil || len(none) != 0 {
		f.t.Errorf("ListLinkedIdentities of a user without any = %#v, want empty and not nil", none)
	}
	none, err = f.s.ListLinkedIdentities(f.ctx, "not-a-uuid")
	f.must(err, "ListLinkedIdentities of a malformed id")
	if len(none) != 0 {
		f.t.Errorf("ListLinkedIdentities(malformed) = %#v, want empty", none)
	}

	// The subject is only unique within its issuer.
	otherIssuer := f.newLink(other.ID, p.ID, 0)
	otherIssuer.Issuer, otherIssuer.Subject = "https://elsewhere.example", second.Subject
	f.must(f.s.CreateLinkedIdentity(f.ctx, otherIssuer), "CreateLinkedIdentity of the same subject at another issuer")

	f.wantErr(f.s.CreateLinkedIdentity(f.ctx, f.newLink(uuid.NewString(), p.ID, 0)), store.ErrNotFound, "CreateLinkedIdentity for an unknown user")
	f.wantErr(f.s.CreateLinkedIdentity(f.ctx, f.newLink(u.ID, "nobody", 0)), store.ErrNotFound, "CreateLinkedIdentity for an unknown provider")
	sameID := f.newLink(other.ID, p.ID, 0)
	sameID.ID = first.ID
	f.wantErr(f.s.CreateLinkedIdentity(f.ctx, sameID), store.ErrConflict, "CreateLinkedIdentity with a taken id")
	_, err = f.s.GetLinkedIdentity(f.ctx, second.Issuer, "nobody")
	f.wantErr(err, store.ErrNotFound, "GetLinkedIdentity unknown subject")
}

func testLinkUniquePerIssuerSubject(f *fixture) {
	p := f.createIdentityProvider()
	u := f.createUser()
	other := f.createUser()
	l := f.newLink(u.ID, p.ID, -time.Hour)
	f.must(f.s.CreateLinkedIdentity(f.ctx, l), "CreateLinkedIdentity")
	dup := f.newLink(other.ID, p.ID, 0)
	dup.Issuer, dup.Subject = l.Issuer, l.Subject
	f.wantErr(f.s.CreateLinkedIdentity(f.ctx, dup), store.ErrConflict, "CreateLinkedIdentity of a linked (issuer, subject) for another user")
	dup.UserID = u.ID
	f.wantErr(f.s.CreateLinkedIdentity(f.ctx, dup), store.ErrConflict, "CreateLinkedIdentity of a linked (issuer, subject) again")
	got, err := f.s.GetLinkedIdentity(f.ctx, l.Issuer, l.Subject)
	f.must(err, "GetLinkedIdentity")
	f.equal("first link stays", got, l)
}

func testLinkTouchDelete(f *fixture) {
	p := f.createIdentityProvider()
	u := f.createUser()
	other := f.createUser()
	l := f.newLink(u.ID, p.ID, -time.Hour)
	f.must(f.s.CreateLinkedIdentity(f.ctx, l), "CreateLinkedIdentity")
	at := f.at(0)
	f.must(f.s.TouchLinkedIdentity(f.ctx, l.ID, at), "TouchLinkedIdentity")
	got, err := f.s.GetLinkedIdentity(f.ctx, l.Issuer, l.Subject)
	f.must(err, "GetLinkedIdentity")
	want := l
	want.LastUsedAt = &at
	f.equal("used link", got, want)
	f.wantErr(f.s.TouchLinkedIdentity(f.ctx, uuid.NewString(), at), store.ErrNotFound, "TouchLinkedIdentity unknown")
	f.wantErr(f.s.TouchLinkedIdentity(f.ctx, "nope", at), store.ErrNotFound, "TouchLinkedIdentity malformed id")

	f.wantErr(f.s.DeleteLinkedIdentity(f.ctx, other.ID, l.ID), store.ErrNotFound, "DeleteLinkedIdentity of another user's")
	f.must(f.s.DeleteLinkedIdentity(f.ctx, u.ID, l.ID), "DeleteLinkedIdentity")
	f.wantErr(f.s.DeleteLinkedIdentity(f.ctx, u.ID, l.ID), store.ErrNotFound, "DeleteLinkedIdentity twice")
	_, err = f.s.GetLinkedIdentity(f.ctx, l.Issuer, l.Subject)
	f.wantErr(err, store.ErrNotFound, "GetLinkedIdentity after delete")
	// Once unlinked, the upstream account may be linked again.
	again := l
	again.ID, again.UserID = uuid.NewString(), other.ID
	f.must(f.s.CreateLinkedIdentity(f.ctx, again), "CreateLinkedIdentity after unlink")
}

func testLinksGoWithUser(f *fixture) {
	p := f.createIdentityProvider()
	u := f.createUser()
	l := f.newLink(u.ID, p.ID, -time.Hour)
	f.must(f.s.CreateLinkedIdentity(f.ctx, l), "CreateLinkedIdentity")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetLinkedIdentity(f.ctx, l.Issuer, l.Subject)
	f.wantErr(err, store.ErrNotFound, "GetLinkedIdentity of a deleted user's link")
	_, err = f.s.GetIdentityProvider(f.ctx, p.ID)
	f.must(err, "GetIdentityProvider after its user went")
}

// testLinkOnceConcurrently: two first sign-ins of one upstream account at
// once link it once.
func testLinkOnceConcurrently(f *fixture) {
	p := f.createIdentityProvider()
	subject := uniqueID("sub")
	const n = 6
	users := make([]store.User, n)
	for i := range users {
		users[i] = f.createUser()
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			l := f.newLink(users[i].ID, p.ID, 0)
			l.Subject = subject
			if err := f.s.CreateLinkedIdentity(ctx, l); err != nil {
				return err
			}
			time.Sleep(holdWindow)
			return nil
		})
	})
	ok, _ := f.countErrors("concurrent links", errs, store.ErrConflict)
	if ok != 1 {
		f.t.Errorf("%d of %d concurrent links succeeded, want exactly 1", ok, n)
	}
}
