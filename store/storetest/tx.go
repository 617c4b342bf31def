package storetest

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/store"
)

var txTests = []subtest{
	{"Commit", testTxCommit},
	{"Rollback", testTxRollback},
	{"NestedRollback", testTxNestedRollback},
	{"NestedCommitOuterRollback", testTxNestedCommitOuterRollback},
	{"RollbackAfterCommit", testTxRollbackAfterCommit},
	{"InTx", testInTx},
}

// clientExists reports whether the client is visible with ctx.
func (f *fixture) clientExists(ctx context.Context, id string) bool {
	f.t.Helper()
	_, err := f.s.GetClient(ctx, id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		return false
	}
	f.t.Fatalf("GetClient %s: %v", id, err)
	return false
}

func (f *fixture) wantClients(ctx context.Context, what string, present, absent []string) {
	f.t.Helper()
	for _, id := range present {
		if !f.clientExists(ctx, id) {
			f.t.Errorf("%s: client %s is missing", what, id)
		}
	}
	for _, id := range absent {
		if f.clientExists(ctx, id) {
			f.t.Errorf("%s: client %s exists, want it gone", what, id)
		}
	}
}

func testTxCommit(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	defer func() { f.wantErr(f.s.Rollback(tx), nil, "deferred Rollback after Commit") }()

	inTx := f.newClient()
	f.must(f.s.CreateClient(tx, inTx), "CreateClient in tx")
	f.wantClients(tx, "inside the tx", []string{inTx.ID}, nil)
	code := f.newToken(store.KindAuthorizeCode, newGrant(c, u, ""))
	f.must(f.s.CreateToken(tx, code), "CreateToken in tx")
	f.must(f.s.DeleteClient(tx, c.ID), "DeleteClient in tx") // cascades to the code
	f.must(f.s.Commit(tx), "Commit")

	f.wantClients(f.ctx, "after Commit", []string{inTx.ID}, []string{c.ID})
	f.wantTokenState(code, "missing", "token of a client deleted in the tx")
}

func testTxRollback(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	role := f.newRole("temp", "")

	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	inTx := f.newClient()
	f.must(f.s.CreateClient(tx, inTx), "CreateClient in tx")
	f.must(f.s.DeactivateToken(tx, code.Kind, code.Signature), "DeactivateToken in tx")
	f.must(f.s.CreateRole(tx, role), "CreateRole in tx")
	changed := u
	changed.Username += "-changed"
	changed.Roles = []string{"temp"}
	f.must(f.s.UpdateUser(tx, changed), "UpdateUser in tx")
	refresh := f.newToken(store.KindRefreshToken, newGrant(c, u, ""))
	f.must(f.s.CreateToken(tx, refresh), "CreateToken with a new grant in tx")
	f.must(f.s.DeleteClient(tx, c.ID), "DeleteClient in tx")
	f.must(f.s.Rollback(tx), "Rollback")

	f.wantClients(f.ctx, "after Rollback", []string{c.ID}, []string{inTx.ID})
	f.wantTokenState(code, "active", "code deactivated in a rolled-back tx")
	f.wantTokenState(refresh, "missing", "token created in a rolled-back tx")
	_, err = f.s.GetGrant(f.ctx, refresh.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant created in a rolled-back tx")
	_, err = f.s.GetRole(f.ctx, role.Name)
	f.wantErr(err, store.ErrNotFound, "GetRole created in a rolled-back tx")
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user updated in a rolled-back tx", got, u)
	_, err = f.s.GetUserByUsername(f.ctx, changed.Username)
	f.wantErr(err, store.ErrNotFound, "GetUserByUsername of a name set in a rolled-back tx")
	// The store is usable after a rollback.
	f.createClient()
}

func testTxNestedRollback(f *fixture) {
	outerClient, innerClient, laterClient := f.newClient(), f.newClient(), f.newClient()
	outer, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	defer func() { _ = f.s.Rollback(outer) }() // a no-op once committed

	f.must(f.s.CreateClient(outer, outerClient), "CreateClient in outer tx")
	inner, err := f.s.BeginTx(outer)
	f.must(err, "nested BeginTx")
	f.must(f.s.CreateClient(inner, innerClient), "CreateClient in nested tx")
	f.must(f.s.DeleteClient(inner, outerClient.ID), "DeleteClient in nested tx")
	f.wantClients(inner, "inside the nested tx", []string{innerClient.ID}, []string{outerClient.ID})
	f.must(f.s.Rollback(inner), "nested Rollback")

	f.wantClients(outer, "outer tx after nested Rollback", []string{outerClient.ID}, []string{innerClient.ID})
	f.must(f.s.CreateClient(outer, laterClient), "CreateClient in outer tx after nested Rollback")
	f.must(f.s.Commit(outer), "Commit")

	f.wantClients(f.ctx, "after Commit", []string{outerClient.ID, laterClient.ID}, []string{innerClient.ID})
}

func testTxNestedCommitOuterRollback(f *fixture) {
	outerClient, innerClient := f.newClient(), f.newClient()
	outer, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.CreateClient(outer, outerClient), "CreateClient in outer tx")
	inner, err := f.s.BeginTx(outer)
	f.must(err, "nested BeginTx")
	f.must(f.s.CreateClient(inner, innerClient), "CreateClient in nested tx")
	f.must(f.s.Commit(inner), "nested Commit")
	f.wantErr(f.s.Rollback(inner), nil, "nested Rollback after nested Commit")
	f.wantClients(outer, "outer tx after nested Commit", []string{outerClient.ID, innerClient.ID}, nil)
	f.must(f.s.Rollback(outer), "outer Rollback")

	f.wantClients(f.ctx, "after outer Rollback", nil, []string{outerClient.ID, innerClient.ID})
}

func testTxRollbackAfterCommit(f *fixture) {
	c := f.newClient()
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.CreateClient(tx, c), "CreateClient in tx")
	f.must(f.s.Commit(tx), "Commit")
	f.wantErr(f.s.Rollback(tx), nil, "Rollback after Commit")
	f.wantErr(f.s.Rollback(tx), nil, "second Rollback after Commit")
	f.wantClients(f.ctx, "after Rollback following Commit", []string{c.ID}, nil)

	// The store takes new transactions afterwards.
	c2 := f.newClient()
	tx, err = f.s.BeginTx(f.ctx)
	f.must(err, "second BeginTx")
	f.must(f.s.CreateClient(tx, c2), "CreateClient in second tx")
	f.must(f.s.Rollback(tx), "Rollback")
	f.wantClients(f.ctx, "after second tx", []string{c.ID}, []string{c2.ID})
}

func testInTx(f *fixture) {
	committed := f.newClient()
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		return f.s.CreateClient(ctx, committed)
	})
	f.must(err, "InTx")
	f.wantClients(f.ctx, "after InTx returned nil", []string{committed.ID}, nil)

	failed := f.newClient()
	boom := errors.New("boom")
	err = store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if err := f.s.CreateClient(ctx, failed); err != nil {
			return err
		}
		if err := f.s.DeleteClient(ctx, committed.ID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		f.t.Errorf("InTx = %v, want the function's error", err)
	}
	f.wantClients(f.ctx, "after InTx returned an error", []string{committed.ID}, []string{failed.ID})

	// A store error inside InTx is returned as such and undoes earlier work.
	dup := f.newClient()
	dup.ID = committed.ID
	before := f.newClient()
	err = store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if err := f.s.CreateClient(ctx, before); err != nil {
			return err
		}
		return f.s.CreateClient(ctx, dup)
	})
	f.wantErr(err, store.ErrConflict, "InTx with a conflicting insert")
	f.wantClients(f.ctx, "after InTx with a conflict", []string{committed.ID}, []string{before.ID})
}
