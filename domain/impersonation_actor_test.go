package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestActorMayAct: the one rule for whether whoever acts through an
// exchanged token may still act, which introspection and the resource API
// both apply: an active user or an existing service account; the token's
// own user and client are not weighed again; an account's expiry is when
// the answer changes by itself.
func TestActorMayAct(t *testing.T) {
	e := newEnv(t)
	root := e.user("root", "admin")
	locked := e.user("locked", "admin")
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), locked.ID, store.StatusLocked); err != nil {
		t.Fatal(err)
	}
	expiring := e.user("expiring", "admin")
	exp := e.clock.Now().Add(time.Hour)
	expiring.ExpiresAt = &exp
	if err := e.store.UpdateUser(e.ctx, expiring); err != nil {
		t.Fatal(err)
	}
	robot := store.Client{ID: "robot", Name: "Robot", GrantTypes: []string{"client_credentials"}, Roles: []string{"admin"},
		TokenEndpointAuthMethod: "client_secret_basic", SecretHash: []byte("x")}
	if err := e.store.CreateClient(e.ctx, robot); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name          string
		act, user, cl string
		refused       bool
		until         *time.Time
	}{
		{"no actor", "", "u", "c", false, nil},
		{"active user", "user:" + root.ID, "u", "c", false, nil},
		{"locked user", "user:" + locked.ID, "u", "c", true, nil},
		{"gone user", "user:00000000-0000-4000-8000-000000000000", "u", "c", true, nil},
		{"the token's own user", "user:" + locked.ID, locked.ID, "c", false, nil},
		{"expiring user", "user:" + expiring.ID, "u", "c", false, &exp},
		{"service account", "client:robot", "u", "c", false, nil},
		{"gone service account", "client:gone", "u", "c", true, nil},
		{"the token's own client", "client:gone", "u", "gone", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			until, err := e.svc.ActorMayAct(e.ctx, c.act, c.user, c.cl)
			if c.refused {
				if !errors.Is(err, domain.ErrUnauthenticated) {
					t.Fatalf("err %v, want ErrUnauthenticated", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			switch {
			case c.until == nil && !until.IsZero():
				t.Errorf("until %v, want none", until)
			case c.until != nil && !until.Equal(*c.until):
				t.Errorf("until %v, want %v", until, *c.until)
			}
		})
	}
}
