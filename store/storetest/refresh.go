package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The refresh token grant's own read and write (store.RefreshTokens): the
// token with its grant's user, and the rotation in one atomic write.

var refreshTests = []subtest{
	{"GetWithUser", testGetRefreshTokenWithUser},
	{"Rotate", testRotateRefreshToken},
	{"RotateRefused", testRotateRefreshTokenRefused},
	{"RotateRolledBack", testRotateRefreshTokenRolledBack},
	{"RotateOnceConcurrently", testConcurrentRotateRefreshToken},
	{"RotateOnceConcurrentlyInTx", testConcurrentRotateRefreshTokenInTx},
}

func testGetRefreshTokenWithUser(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	tok := f.createToken(store.KindRefreshToken, newGrant(c, u, f.createSession(u.ID).ID))
	got, user, err := f.s.GetRefreshToken(f.ctx, tok.Signature)
	f.must(err, "GetRefreshToken")
	f.equal("refresh token", got, tok)
	want, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	if user == nil {
		f.t.Fatalf("GetRefreshToken: no user, want %s", u.ID)
	}
	f.equal("user of the refresh token's grant", *user, want)

	// A user changed since is read as it is now.
	want.Status = store.StatusLocked
	want.UpdatedAt = f.at(time.Second)
	f.must(f.s.UpdateUser(f.ctx, want), "UpdateUser")
	_, user, err = f.s.GetRefreshToken(f.ctx, tok.Signature)
	f.must(err, "GetRefreshToken after UpdateUser")
	if user == nil || user.Status != store.StatusLocked {
		f.t.Errorf("GetRefreshToken after locking the user: user %+v, want status locked", user)
	}

	// A grant without a user of the directory (the subject is a client).
	g := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	svc := f.createToken(store.KindRefreshToken, g)
	got, user, err = f.s.GetRefreshToken(f.ctx, svc.Signature)
	f.must(err, "GetRefreshToken of a grant without user")
	f.equal("refresh token without user", got, svc)
	if user != nil {
		f.t.Errorf("GetRefreshToken of a grant without user: user %s, want none", user.ID)
	}

	// Inactive tokens are read too (reuse detection needs them).
	f.must(f.s.RotateToken(f.ctx, tok.Kind, tok.Signature, f.now), "RotateToken")
	got, _, err = f.s.GetRefreshToken(f.ctx, tok.Signature)
	f.must(err, "GetRefreshToken of a rotated token")
	if got.Active || got.RotatedAt == nil {
		f.t.Errorf("GetRefreshToken of a rotated token: active %v, rotated at %v", got.Active, got.RotatedAt)
	}

	access := f.createToken(store.KindAccessToken, newGrant(c, u, ""))
	_, _, err = f.s.GetRefreshToken(f.ctx, access.Signature)
	f.wantErr(err, store.ErrNotFound, "GetRefreshToken of an access token")
	_, _, err = f.s.GetRefreshToken(f.ctx, "no-such-signature")
	f.wantErr(err, store.ErrNotFound, "GetRefreshToken unknown")
}

// rotationOf is a rotation of old: a new access and refresh token of its
// grant.
func (f *fixture) rotationOf(old store.Token, g grant) store.RefreshRotation {
	return store.RefreshRotation{
		Signature: old.Signature,
		At:        f.at(-time.Second),
		Access:    f.newToken(store.KindAccessToken, g),
		Refresh:   f.newToken(store.KindRefreshToken, g),
	}
}

func testRotateRefreshToken(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	old := f.createToken(store.KindRefreshToken, g)
	oldAccess := f.createToken(store.KindAccessToken, g)
	other := newGrant(c, u, "")
	bystander := f.createToken(store.KindAccessToken, other)
	bystanderRefresh := f.createToken(store.KindRefreshToken, other)

	r := f.rotationOf(old, g)
	f.must(f.s.RotateRefreshToken(f.ctx, r), "RotateRefreshToken")

	wantOld := old
	wantOld.Active, wantOld.RotatedAt = false, &r.At
	f.wantToken("rotated token", wantOld)
	f.wantTokenState(oldAccess, "missing", "the grant's access token before the rotation")
	f.wantToken("new access token", r.Access)
	wantNext := r.Refresh
	wantNext.Predecessor = old.Signature
	f.wantToken("new refresh token", wantNext)
	f.wantTokenState(bystander, "active", "another grant's access token")
	f.wantTokenState(bystanderRefresh, "active", "another grant's refresh token")

	// The new token rotates in turn; the old one's rotation stays.
	r2 := f.rotationOf(r.Refresh, g)
	f.must(f.s.RotateRefreshToken(f.ctx, r2), "RotateRefreshToken of the successor")
	f.wantTokenState(r.Access, "missing", "access token of the first rotation")
	f.wantTokenState(r2.Access, "active", "access token of the second rotation")
	f.wantToken("token rotated first", wantOld)
}

func testRotateRefreshTokenRefused(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	old := f.createToken(store.KindRefreshToken, g)
	access := f.createToken(store.KindAccessToken, g)
	f.must(f.s.RotateRefreshToken(f.ctx, f.rotationOf(old, g)), "RotateRefreshToken")

	// Once: a second rotation of the same token writes nothing.
	again := f.rotationOf(old, g)
	f.wantErr(f.s.RotateRefreshToken(f.ctx, again), store.ErrNotFound, "RotateRefreshToken twice")
	f.wantTokenState(again.Access, "missing", "access token of a refused rotation")
	f.wantTokenState(again.Refresh, "missing", "refresh token of a refused rotation")

	// Nor of a revoked token, of another grant's, of an unknown one.
	revoked := f.createToken(store.KindRefreshToken, g)
	f.must(f.s.DeactivateToken(f.ctx, revoked.Kind, revoked.Signature), "DeactivateToken")
	f.wantErr(f.s.RotateRefreshToken(f.ctx, f.rotationOf(revoked, g)), store.ErrNotFound, "RotateRefreshToken of a revoked token")
	live := f.createToken(store.KindRefreshToken, g)
	otherGrant := newGrant(c, u, "")
	f.createToken(store.KindRefreshToken, otherGrant)
	f.wantErr(f.s.RotateRefreshToken(f.ctx, f.rotationOf(live, otherGrant)), store.ErrNotFound, "RotateRefreshToken as another grant's")
	f.wantTokenState(live, "active", "token refused as another grant's")
	unknown := f.newToken(store.KindRefreshToken, g)
	f.wantErr(f.s.RotateRefreshToken(f.ctx, f.rotationOf(unknown, g)), store.ErrNotFound, "RotateRefreshToken unknown")
	f.wantTokenState(access, "missing", "the grant's access token, gone with the first rotation")
}

func testRotateRefreshTokenRolledBack(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	old := f.createToken(store.KindRefreshToken, g)
	access := f.createToken(store.KindAccessToken, g)
	r := f.rotationOf(old, g)
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.RotateRefreshToken(tx, r), "RotateRefreshToken in a transaction")
	f.must(f.s.Rollback(tx), "Rollback")
	f.wantTokenState(old, "active", "token of a rolled back rotation")
	f.wantTokenState(access, "active", "access token of a rolled back rotation")
	f.wantTokenState(r.Access, "missing", "new access token of a rolled back rotation")
	f.wantTokenState(r.Refresh, "missing", "new refresh token of a rolled back rotation")
}

// Without a transaction the write alone decides: of n concurrent
// rotations of one token exactly one writes its pair.
func testConcurrentRotateRefreshToken(f *fixture) {
	const n = 8
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	old := f.createToken(store.KindRefreshToken, g)
	rs := make([]store.RefreshRotation, n)
	for i := range rs {
		rs[i] = f.rotationOf(old, g)
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return f.s.RotateRefreshToken(ctx, rs[i])
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			f.wantTokenState(rs[i].Access, "active", "access token of the winning rotation")
			f.wantTokenState(rs[i].Refresh, "active", "refresh token of the winning rotation")
		case errors.Is(err, store.ErrNotFound):
			f.wantTokenState(rs[i].Access, "missing", "access token of losing rotation %d", i)
			f.wantTokenState(rs[i].Refresh, "missing", "refresh token of losing rotation %d", i)
		default:
			f.t.Errorf("rotation %d: %v", i, err)
		}
	}
	if won != 1 {
		f.t.Errorf("%d of %d concurrent rotations succeeded, want 1", won, n)
	}
}

// As the token endpoint does it: read (locking) in a transaction, rotate
// if active, commit. The others wait for the lock and read the token
// inactive.
func testConcurrentRotateRefreshTokenInTx(f *fixture) {
	const n = 8
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	old := f.createToken(store.KindRefreshToken, g)
	rs := make([]store.RefreshRotation, n)
	for i := range rs {
		rs[i] = f.rotationOf(old, g)
	}
	rotated := make([]bool, n)
	sawInactive := make([]bool, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		tx, err := f.s.BeginTx(ctx)
		if err != nil {
			return fmt.Errorf("BeginTx: %w", err)
		}
		defer func() { _ = f.s.Rollback(tx) }()
		tok, user, err := f.s.GetRefreshToken(tx, old.Signature)
		if err != nil {
			return fmt.Errorf("GetRefreshToken: %w", err)
		}
		if user == nil || user.ID != u.ID {
			return fmt.Errorf("GetRefreshToken: user %v, want %s", user, u.ID)
		}
		if tok.Active {
			time.Sleep(holdWindow)
			if err := f.s.RotateRefreshToken(tx, rs[i]); err != nil {
				return fmt.Errorf("RotateRefreshToken: %w", err)
			}
			rotated[i] = true
		} else {
			sawInactive[i] = true
		}
		return f.s.Commit(tx)
	})
	nRotated, nInactive := 0, 0
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("goroutine %d: %v", i, err)
		}
		if rotated[i] {
			nRotated++
		}
		if sawInactive[i] {
			nInactive++
		}
	}
	if nRotated != 1 || nInactive != n-1 {
		f.t.Errorf("%d goroutines rotated and %d saw the token inactive, want 1 and %d", nRotated, nInactive, n-1)
	}
	for i, r := range rs {
		want := "missing"
		if rotated[i] {
			want = "active"
		}
		f.wantTokenState(r.Refresh, want, "new refresh token of goroutine %d", i)
	}
}
