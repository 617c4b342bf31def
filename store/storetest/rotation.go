package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The rotation of refresh tokens and its rewind: what the reuse interval of
// the token endpoint stands on (a client whose answer was lost may present
// the rotated token again, once, soon, and get a fresh pair in place of the
// one it never saw).

var rotationTests = []subtest{
	{"FieldsRoundTrip", testRotationFieldsRoundTrip},
	{"Rotate", testRotateToken},
	{"Rewind", testRewindRotation},
	{"RewindRefused", testRewindRotationRefused},
	{"RewindOnceConcurrently", testConcurrentRewind},
	{"RewindRacesSuccessorRotation", testRewindRacesSuccessorRotation},
}

// rotation is one refresh token rotated at f.at(age) and the successor it
// was exchanged for, with an access token of the same grant.
type rotation struct {
	g                 grant
	old, next, access store.Token
}

func (f *fixture) rotate(age time.Duration) rotation {
	f.t.Helper()
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	old := f.createToken(store.KindRefreshToken, g)
	f.must(f.s.RotateToken(f.ctx, old.Kind, old.Signature, f.at(-age)), "RotateToken")
	old.Active, old.RotatedAt = false, f.atPtr(-age)
	next := f.newToken(store.KindRefreshToken, g)
	next.Predecessor = old.Signature
	f.must(f.s.CreateToken(f.ctx, next), "CreateToken of the successor")
	access := f.createToken(store.KindAccessToken, g)
	return rotation{g: g, old: old, next: next, access: access}
}

// wantToken reads tok back and compares it with want.
func (f *fixture) wantToken(what string, want store.Token) {
	f.t.Helper()
	got, err := f.s.GetToken(f.ctx, want.Kind, want.Signature)
	f.must(err, "GetToken %s", what)
	f.equal(what, got, want)
}

func testRotationFieldsRoundTrip(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	tok := f.newToken(store.KindRefreshToken, newGrant(c, u, ""))
	tok.Active = false
	tok.Predecessor = uniqueID("sig")
	tok.RotatedAt = f.atPtr(-2 * time.Second)
	tok.RewoundAt = f.atPtr(-time.Second)
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken with rotation fields")
	f.wantToken("token with rotation fields", tok)

	plain := f.createToken(store.KindRefreshToken, newGrant(c, u, ""))
	f.wantToken("token without rotation fields", plain)
}

func testRotateToken(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	tok := f.createToken(store.KindRefreshToken, g)
	other := f.createToken(store.KindRefreshToken, g)

	at := f.at(-time.Second)
	f.must(f.s.RotateToken(f.ctx, tok.Kind, tok.Signature, at), "RotateToken")
	want := tok
	want.Active, want.RotatedAt = false, &at
	f.wantToken("rotated token", want)
	f.wantTokenState(other, "active", "another token of the grant")

	// One use, as DeactivateToken: a rotated or revoked token is not
	// rotated again, and the first rotation's time stays.
	f.wantErr(f.s.RotateToken(f.ctx, tok.Kind, tok.Signature, f.now), store.ErrNotFound, "RotateToken twice")
	f.wantToken("token rotated twice", want)
	f.must(f.s.DeactivateToken(f.ctx, other.Kind, other.Signature), "DeactivateToken")
	f.wantErr(f.s.RotateToken(f.ctx, other.Kind, other.Signature, f.now), store.ErrNotFound, "RotateToken of a revoked token")
	f.wantErr(f.s.RotateToken(f.ctx, store.KindAccessToken, tok.Signature, f.now), store.ErrNotFound, "RotateToken of another kind")
	f.wantErr(f.s.RotateToken(f.ctx, tok.Kind, "no-such-signature", f.now), store.ErrNotFound, "RotateToken unknown")
}

func testRewindRotation(f *fixture) {
	r := f.rotate(time.Second)
	bystander := f.rotate(time.Second)

	f.must(f.s.RewindRotation(f.ctx, r.old.Kind, r.old.Signature, f.at(-10*time.Second), f.now), "RewindRotation")
	old := r.old
	old.Active, old.RewoundAt = true, f.atPtr(0)
	f.wantToken("rewound token", old)
	next := r.next
	next.Active = false
	f.wantToken("successor of the rewound token", next)
	// Only the successor: the grant's access tokens are the caller's to
	// drop, and other grants are untouched.
	f.wantTokenState(r.access, "active", "access token of the grant")
	f.wantTokenState(bystander.old, "inactive", "another grant's rotated token")
	f.wantTokenState(bystander.next, "active", "another grant's successor")

	// Rotated again and with a new successor, it is not rewound twice.
	f.must(f.s.RotateToken(f.ctx, old.Kind, old.Signature, f.now), "RotateToken of the rewound token")
	again := f.newToken(store.KindRefreshToken, r.g)
	again.Predecessor = old.Signature
	f.must(f.s.CreateToken(f.ctx, again), "CreateToken of the second successor")
	f.wantErr(f.s.RewindRotation(f.ctx, old.Kind, old.Signature, f.at(-10*time.Second), f.now), store.ErrNotFound, "RewindRotation twice")
	f.wantTokenState(old, "inactive", "token refused a second rewind")
	f.wantTokenState(again, "active", "successor after a refused second rewind")
}

func testRewindRotationRefused(f *fixture) {
	since := f.at(-10 * time.Second)
	for _, tc := range []struct {
		name string
		// setup makes the rotation ineligible and returns what to rewind.
		setup func(r *rotation) store.Token
	}{
		{"rotated before since", func(r *rotation) store.Token {
			*r = f.rotate(11 * time.Second)
			return r.old
		}},
		{"successor rotated itself", func(r *rotation) store.Token {
			f.must(f.s.RotateToken(f.ctx, r.next.Kind, r.next.Signature, f.now), "RotateToken of the successor")
			r.next.Active, r.next.RotatedAt = false, f.atPtr(0)
			return r.old
		}},
		{"successor revoked", func(r *rotation) store.Token {
			f.must(f.s.RevokeGrant(f.ctx, r.g.requestID), "RevokeGrant")
			r.next.Active = false
			r.access.Active = false
			return r.old
		}},
		{"successor deleted", func(r *rotation) store.Token {
			f.must(f.s.DeleteToken(f.ctx, r.next.Kind, r.next.Signature), "DeleteToken of the successor")
			return r.old
		}},
		{"revoked, never rotated", func(r *rotation) store.Token {
			tok := f.createToken(store.KindRefreshToken, r.g)
			f.must(f.s.DeactivateToken(f.ctx, tok.Kind, tok.Signature), "DeactivateToken")
			succ := f.newToken(store.KindRefreshToken, r.g)
			succ.Predecessor = tok.Signature
			f.must(f.s.CreateToken(f.ctx, succ), "CreateToken")
			tok.Active = false
			return tok
		}},
		{"active", func(r *rotation) store.Token { return r.next }},
		{"no successor", func(r *rotation) store.Token {
			tok := f.createToken(store.KindRefreshToken, r.g)
			f.must(f.s.RotateToken(f.ctx, tok.Kind, tok.Signature, f.now), "RotateToken")
			tok.Active, tok.RotatedAt = false, f.atPtr(0)
			return tok
		}},
		{"another kind", func(r *rotation) store.Token {
			tok := r.old
			tok.Kind = store.KindAccessToken
			return tok
		}},
	} {
		r := f.rotate(time.Second)
		tok := tc.setup(&r)
		err := f.s.RewindRotation(f.ctx, tok.Kind, tok.Signature, since, f.now)
		f.wantErr(err, store.ErrNotFound, "RewindRotation, %s", tc.name)
		if tok.Kind == store.KindRefreshToken {
			f.wantToken(tc.name+": the token", tok)
		}
		f.wantToken(tc.name+": the rotated token", r.old)
		if r.next.Signature != "" && f.tokenState(r.next) != "missing" {
			f.wantToken(tc.name+": the successor", r.next)
		}
		f.wantToken(tc.name+": the access token", r.access)
	}
	f.wantErr(f.s.RewindRotation(f.ctx, store.KindRefreshToken, "no-such-signature", since, f.now), store.ErrNotFound, "RewindRotation unknown")
}

// Retries of one lost answer racing each other, each in the transaction of
// its token request: exactly one rewinds.
func testConcurrentRewind(f *fixture) {
	const n = 8
	r := f.rotate(time.Second)
	errs := f.concurrently(n, func(ctx context.Context, _ int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			if _, err := f.s.GetToken(ctx, r.old.Kind, r.old.Signature); err != nil {
				return fmt.Errorf("GetToken: %w", err)
			}
			return f.s.RewindRotation(ctx, r.old.Kind, r.old.Signature, f.at(-10*time.Second), f.now)
		})
	})
	ok, notFound := f.countErrors("RewindRotation", errs, store.ErrNotFound)
	if ok != 1 || notFound != n-1 {
		f.t.Errorf("%d concurrent rewinds: %d succeeded and %d got ErrNotFound, want 1 and %d", n, ok, notFound, n-1)
	}
	f.wantTokenState(r.old, "active", "rewound token")
	f.wantTokenState(r.next, "inactive", "successor")
}

// A rewind of the old token racing the rotation of its successor (a thief
// replaying the old token while the client uses the new one): one of them
// wins, never both, or two pairs of the family would live on.
func testRewindRacesSuccessorRotation(f *fixture) {
	const rounds = 5
	for round := range rounds {
		r := f.rotate(time.Second)
		third := f.newToken(store.KindRefreshToken, r.g)
		third.Predecessor = r.next.Signature
		var rewound, rotated bool
		errs := f.concurrently(2, func(ctx context.Context, i int) error {
			return store.InTx(ctx, f.s, func(ctx context.Context) error {
				if i == 0 {
					if _, err := f.s.GetToken(ctx, r.old.Kind, r.old.Signature); err != nil {
						return fmt.Errorf("GetToken: %w", err)
					}
					err := f.s.RewindRotation(ctx, r.old.Kind, r.old.Signature, f.at(-10*time.Second), f.now)
					rewound = err == nil
					return ignoreNotFound(err)
				}
				tok, err := f.s.GetToken(ctx, r.next.Kind, r.next.Signature)
				if err != nil {
					return fmt.Errorf("GetToken: %w", err)
				}
				if !tok.Active {
					return nil
				}
				time.Sleep(holdWindow)
				if err := f.s.RotateToken(ctx, r.next.Kind, r.next.Signature, f.now); err != nil {
					return fmt.Errorf("RotateToken: %w", err)
				}
				rotated = true
				return f.s.CreateToken(ctx, third)
			})
		})
		for i, err := range errs {
			if err != nil {
				f.t.Errorf("round %d, goroutine %d: %v", round, i, err)
			}
		}
		if rewound == rotated {
			f.t.Errorf("round %d: rewound %v and successor rotated %v, want exactly one", round, rewound, rotated)
		}
		live := 0
		for _, tok := range []store.Token{r.old, r.next, third} {
			if f.tokenState(tok) == "active" {
				live++
			}
		}
		if live != 1 {
			f.t.Errorf("round %d: %d live refresh tokens in the family, want 1", round, live)
		}
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
