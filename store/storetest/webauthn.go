package storetest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var webAuthnTests = []subtest{
	{"CredentialCreateGetList", testCredentialCreateGetList},
	{"CredentialUse", testCredentialUse},
	{"CredentialDelete", testCredentialDelete},
	{"CredentialsGoWithTheirUser", testCredentialsGoWithUser},
	{"CeremonyTakeOnce", testCeremonyTakeOnce},
	{"CeremonyExpired", testCeremonyExpired},
	{"CeremonyDeleteExpired", testCeremonyDeleteExpired},
	{"SessionAMR", testSessionAMR},
	{"CeremonyTakenOnceConcurrently", testCeremonyTakenOnceConcurrently},
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (f *fixture) newCredential(userID string, created time.Duration) store.WebAuthnCredential {
	return store.WebAuthnCredential{
		ID:     uuid.NewString(),
		UserID: userID,
		// Include a zero byte and high bytes: bytea must keep them.
		CredentialID:    append([]byte{0x00, 0xff}, randomBytes(30)...),
		PublicKey:       append([]byte{0xa5, 0x01, 0x02}, randomBytes(64)...),
		SignCount:       7,
		Flags:           0x5d,
		AttestationType: "none",
		Transports:      []string{"internal", "hybrid"},
		AAGUID:          randomBytes(16),
		Name:            "Laptop ✓",
		CreatedAt:       f.at(created),
	}
}

func testCredentialCreateGetList(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	second := f.newCredential(u.ID, -time.Minute)
	first := f.newCredential(u.ID, -time.Hour)
	first.Transports, first.AAGUID = nil, nil
	f.must(f.s.CreateWebAuthnCredential(f.ctx, second), "CreateWebAuthnCredential")
	f.must(f.s.CreateWebAuthnCredential(f.ctx, first), "CreateWebAuthnCredential without transports and AAGUID")

	got, err := f.s.GetWebAuthnCredential(f.ctx, second.CredentialID)
	f.must(err, "GetWebAuthnCredential")
	f.equal("credential", got, second)
	got, err = f.s.GetWebAuthnCredential(f.ctx, first.CredentialID)
	f.must(err, "GetWebAuthnCredential")
	f.equal("bare credential", got, first)

	list, err := f.s.ListWebAuthnCredentials(f.ctx, u.ID)
	f.must(err, "ListWebAuthnCredentials")
	f.equal("credentials, oldest first", list, []store.WebAuthnCredential{first, second})
	none, err := f.s.ListWebAuthnCredentials(f.ctx, other.ID)
	f.must(err, "ListWebAuthnCredentials of a user without any")
	if none == nil || len(none) != 0 {
		f.t.Errorf("ListWebAuthnCredentials of a user without any = %#v, want empty and not nil", none)
	}

	// A credential id belongs to one user only.
	dup := f.newCredential(other.ID, 0)
	dup.CredentialID = second.CredentialID
	f.wantErr(f.s.CreateWebAuthnCredential(f.ctx, dup), store.ErrConflict, "CreateWebAuthnCredential with a taken credential id")
	sameID := f.newCredential(other.ID, 0)
	sameID.ID = second.ID
	f.wantErr(f.s.CreateWebAuthnCredential(f.ctx, sameID), store.ErrConflict, "CreateWebAuthnCredential with a taken id")
	orphan := f.newCredential(uuid.NewString(), 0)
	f.wantErr(f.s.CreateWebAuthnCredential(f.ctx, orphan), store.ErrNotFound, "CreateWebAuthnCredential for an unknown user")
	_, err = f.s.GetWebAuthnCredential(f.ctx, orphan.CredentialID)
	f.wantErr(err, store.ErrNotFound, "GetWebAuthnCredential of the refused credential")
	_, err = f.s.GetWebAuthnCredential(f.ctx, []byte{1, 2, 3})
	f.wantErr(err, store.ErrNotFound, "GetWebAuthnCredential unknown")
}

func testCredentialUse(f *fixture) {
	u := f.createUser()
	c := f.newCredential(u.ID, -time.Hour)
	f.must(f.s.CreateWebAuthnCredential(f.ctx, c), "CreateWebAuthnCredential")
	at := f.at(0)
	f.must(f.s.UpdateWebAuthnCredentialUse(f.ctx, c.ID, 12, true, 0x45, at), "UpdateWebAuthnCredentialUse")
	got, err := f.s.GetWebAuthnCredential(f.ctx, c.CredentialID)
	f.must(err, "GetWebAuthnCredential")
	want := c
	want.SignCount, want.CloneWarning, want.Flags, want.LastUsedAt = 12, true, 0x45, &at
	f.equal("used credential", got, want)
	f.wantErr(f.s.UpdateWebAuthnCredentialUse(f.ctx, uuid.NewString(), 1, false, 0, at), store.ErrNotFound, "UpdateWebAuthnCredentialUse unknown")
	f.wantErr(f.s.UpdateWebAuthnCredentialUse(f.ctx, "not-a-uuid", 1, false, 0, at), store.ErrNotFound, "UpdateWebAuthnCredentialUse malformed id")
}

func testCredentialDelete(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	c := f.newCredential(u.ID, -time.Hour)
	keep := f.newCredential(u.ID, -time.Minute)
	f.must(f.s.CreateWebAuthnCredential(f.ctx, c), "CreateWebAuthnCredential")
	f.must(f.s.CreateWebAuthnCredential(f.ctx, keep), "CreateWebAuthnCredential")
	f.wantErr(f.s.DeleteWebAuthnCredential(f.ctx, other.ID, c.ID), store.ErrNotFound, "DeleteWebAuthnCredential of another user's")
	f.must(f.s.DeleteWebAuthnCredential(f.ctx, u.ID, c.ID), "DeleteWebAuthnCredential")
	f.wantErr(f.s.DeleteWebAuthnCredential(f.ctx, u.ID, c.ID), store.ErrNotFound, "DeleteWebAuthnCredential twice")
	_, err := f.s.GetWebAuthnCredential(f.ctx, c.CredentialID)
	f.wantErr(err, store.ErrNotFound, "GetWebAuthnCredential after delete")
	list, err := f.s.ListWebAuthnCredentials(f.ctx, u.ID)
	f.must(err, "ListWebAuthnCredentials")
	f.equal("remaining credentials", list, []store.WebAuthnCredential{keep})
}

func testCredentialsGoWithUser(f *fixture) {
	u := f.createUser()
	c := f.newCredential(u.ID, -time.Hour)
	f.must(f.s.CreateWebAuthnCredential(f.ctx, c), "CreateWebAuthnCredential")
	cer := f.newCeremony(u.ID, "register")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, cer), "CreateWebAuthnCeremony")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetWebAuthnCredential(f.ctx, c.CredentialID)
	f.wantErr(err, store.ErrNotFound, "GetWebAuthnCredential of a deleted user's credential")
	_, err = f.s.TakeWebAuthnCeremony(f.ctx, cer.ID, cer.Kind, f.now)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony of a deleted user's ceremony")
}

func (f *fixture) newCeremony(userID, kind string) store.WebAuthnCeremony {
	return store.WebAuthnCeremony{
		ID:          uniqueID("ceremony"),
		UserID:      userID,
		Kind:        kind,
		SessionData: json.RawMessage(fmt.Sprintf(`{"challenge": %q, "userVerification": "required"}`, uniqueID("challenge"))),
		ExpiresAt:   f.at(5 * time.Minute),
	}
}

func testCeremonyTakeOnce(f *fixture) {
	u := f.createUser()
	reg := f.newCeremony(u.ID, "register")
	login := f.newCeremony("", "login")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, reg), "CreateWebAuthnCeremony for a user")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, login), "CreateWebAuthnCeremony without a user")
	dup := f.newCeremony("", "login")
	dup.ID = login.ID
	f.wantErr(f.s.CreateWebAuthnCeremony(f.ctx, dup), store.ErrConflict, "CreateWebAuthnCeremony with a taken id")
	f.wantErr(f.s.CreateWebAuthnCeremony(f.ctx, f.newCeremony(uuid.NewString(), "register")), store.ErrNotFound,
		"CreateWebAuthnCeremony for an unknown user")

	// A finish of another kind does not consume the ceremony.
	_, err := f.s.TakeWebAuthnCeremony(f.ctx, reg.ID, "login", f.now)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony of another kind")
	got, err := f.s.TakeWebAuthnCeremony(f.ctx, reg.ID, "register", f.now)
	f.must(err, "TakeWebAuthnCeremony")
	f.equal("registration ceremony", got, reg)
	_, err = f.s.TakeWebAuthnCeremony(f.ctx, reg.ID, "register", f.now)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony twice")

	got, err = f.s.TakeWebAuthnCeremony(f.ctx, login.ID, "login", f.now)
	f.must(err, "TakeWebAuthnCeremony of a sign-in")
	f.equal("sign-in ceremony", got, login)
	_, err = f.s.TakeWebAuthnCeremony(f.ctx, "no-such-ceremony", "login", f.now)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony unknown")
}

func testCeremonyExpired(f *fixture) {
	c := f.newCeremony("", "login")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, c), "CreateWebAuthnCeremony")
	_, err := f.s.TakeWebAuthnCeremony(f.ctx, c.ID, c.Kind, c.ExpiresAt)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony at its expiry")
	// The expired take consumed it: it is gone even for an earlier clock.
	_, err = f.s.TakeWebAuthnCeremony(f.ctx, c.ID, c.Kind, f.now)
	f.wantErr(err, store.ErrNotFound, "TakeWebAuthnCeremony after an expired take")
}

func testCeremonyDeleteExpired(f *fixture) {
	var expired []store.WebAuthnCeremony
	for range 3 {
		c := f.newCeremony("", "login")
		c.ExpiresAt = f.at(-time.Minute)
		f.must(f.s.CreateWebAuthnCeremony(f.ctx, c), "CreateWebAuthnCeremony expired")
		expired = append(expired, c)
	}
	live := f.newCeremony("", "login")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, live), "CreateWebAuthnCeremony live")
	n, err := f.s.DeleteExpiredWebAuthnCeremonies(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredWebAuthnCeremonies")
	f.equal("deleted with limit 2", n, 2)
	n, err = f.s.DeleteExpiredWebAuthnCeremonies(f.ctx, f.now, 10)
	f.must(err, "DeleteExpiredWebAuthnCeremonies")
	f.equal("deleted the rest", n, 1)
	n, err = f.s.DeleteExpiredWebAuthnCeremonies(f.ctx, f.now, 0)
	f.must(err, "DeleteExpiredWebAuthnCeremonies with limit 0")
	f.equal("deleted with limit 0", n, 0)
	_, err = f.s.TakeWebAuthnCeremony(f.ctx, live.ID, live.Kind, f.now)
	f.must(err, "TakeWebAuthnCeremony of the live ceremony")
}

// testSessionAMR: how a session's user authenticated round-trips, and a
// session without it reads back with an empty (not nil) list.
func testSessionAMR(f *fixture) {
	u := f.createUser()
	s := f.newSession(u.ID)
	s.AMR, s.ACR = []string{"hwk", "user"}, "aal2"
	f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession with amr and acr")
	got, err := f.s.GetLoginSession(f.ctx, s.ID, f.now)
	f.must(err, "GetLoginSession")
	f.equal("login session with amr", got, s)
	list, err := f.s.ListLoginSessions(f.ctx, u.ID, f.now)
	f.must(err, "ListLoginSessions")
	f.equal("listed login session with amr", list, []store.LoginSession{s})

	bare := f.createSession(u.ID)
	got, err = f.s.GetLoginSession(f.ctx, bare.ID, f.now)
	f.must(err, "GetLoginSession")
	if got.AMR == nil || len(got.AMR) != 0 || got.ACR != "" {
		f.t.Errorf("session without amr reads back amr %#v acr %q, want [] and \"\"", got.AMR, got.ACR)
	}
}

// testCeremonyTakenOnceConcurrently: finishes racing for one ceremony, in
// transactions held open a moment, get it exactly once.
func testCeremonyTakenOnceConcurrently(f *fixture) {
	c := f.newCeremony("", "login")
	f.must(f.s.CreateWebAuthnCeremony(f.ctx, c), "CreateWebAuthnCeremony")
	const n = 8
	errs := f.concurrently(n, func(ctx context.Context, _ int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			if _, err := f.s.TakeWebAuthnCeremony(ctx, c.ID, c.Kind, f.now); err != nil {
				return err
			}
			time.Sleep(holdWindow)
			return nil
		})
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			f.t.Errorf("finish %d: %v, want success or ErrNotFound", i, err)
		}
	}
	if won != 1 {
		f.t.Errorf("%d of %d concurrent finishes took the ceremony, want exactly 1", won, n)
	}
}
