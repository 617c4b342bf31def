package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestUpdateUserIfVersion(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	op := domain.Operator(admin)
	// The test clock stands still: versions must tell edits apart by what
	// they changed, not only by when.
	read := domain.UserVersion(u)

	first, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{Department: ptr("Trading")}, read)
	if err != nil {
		t.Fatalf("an edit based on the current version: %v", err)
	}
	if domain.UserVersion(first) == read {
		t.Fatal("an edit left the version as it was")
	}

	t.Run("an edit based on an older version changes nothing", func(t *testing.T) {
		before := e.lastID()
		_, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{Department: ptr("Sales")}, read)
		if !errors.Is(err, domain.ErrStale) || domain.ErrorCode(err) != domain.CodeStale {
			t.Fatalf("err = %v (code %q), want ErrStale", err, domain.ErrorCode(err))
		}
		if msg := domain.ErrorMessage(err); msg != "the user changed since you read it: read it again and reapply your change" {
			t.Errorf("message %q", msg)
		}
		got, _ := e.svc.GetUser(e.ctx, u.ID)
		if got.Department != "Trading" {
			t.Errorf("department = %q, want the first edit's Trading", got.Department)
		}
		if len(e.since(before)) != 0 {
			t.Error("a refused edit was audited")
		}
	})

	t.Run("even when it would change nothing", func(t *testing.T) {
		_, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{Department: ptr("Trading")}, read)
		wantErr(t, err, domain.ErrStale)
	})

	t.Run("any one of several versions will do", func(t *testing.T) {
		got, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{Department: ptr("Risk")}, "other", domain.UserVersion(first))
		if err != nil || got.Department != "Risk" {
			t.Fatalf("got %q, %v", got.Department, err)
		}
	})

	t.Run("without a version the edit is unconditional", func(t *testing.T) {
		if _, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{Department: ptr("Ops")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a stale version of an unknown user is not found", func(t *testing.T) {
		_, err := e.svc.UpdateUser(e.ctx, op, "00000000-0000-0000-0000-000000000001", domain.UserPatch{}, read)
		wantErr(t, err, store.ErrNotFound)
	})
}

func TestUserVersion(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	op := domain.Operator(admin)
	v0 := domain.UserVersion(u)
	if v0 == "" || v0 != domain.UserVersion(u) {
		t.Fatalf("version %q is empty or unstable", v0)
	}
	other := e.user("bob", "user")
	if domain.UserVersion(other) == v0 {
		t.Error("two users share a version")
	}

	// Every kind of edit makes the version change.
	roles, err := e.svc.SetUserRoles(e.ctx, op, u.ID, []string{"manager"})
	if err != nil {
		t.Fatal(err)
	}
	v1 := domain.UserVersion(roles)
	locked, err := e.svc.SetUserStatus(e.ctx, op, u.ID, store.StatusLocked)
	if err != nil {
		t.Fatal(err)
	}
	v2 := domain.UserVersion(locked)
	e.clock.Advance(time.Second)
	if err := e.svc.SetPassword(e.ctx, op, u.ID, nil, "another correct horse"); err != nil {
		t.Fatal(err)
	}
	pw, _ := e.svc.GetUser(e.ctx, u.ID)
	v3 := domain.UserVersion(pw)
	seen := map[string]bool{}
	for _, v := range []string{v0, v1, v2, v3} {
		if seen[v] {
			t.Fatalf("versions %v repeat", []string{v0, v1, v2, v3})
		}
		seen[v] = true
	}

	// A sign-in is not an edit.
	if err := e.store.RecordLoginSuccess(e.ctx, u.ID, e.clock.Now(), ""); err != nil {
		t.Fatal(err)
	}
	signedIn, _ := e.svc.GetUser(e.ctx, u.ID)
	if domain.UserVersion(signedIn) != v3 {
		t.Error("a sign-in changed the version")
	}
}
