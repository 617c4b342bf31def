package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestImpersonate: who may act as whom. Only a caller with
// users:impersonate, never on someone more powerful, never on an inactive
// or unknown user or itself; a granted impersonation is audited with the
// caller as actor, a refused one not at all.
func TestImpersonate(t *testing.T) {
	e := newEnv(t)
	root := e.user("root", "admin")
	other := e.user("other", "admin")
	mgr := e.user("mgr", "manager")
	alice := e.user("alice", "user")
	locked := e.user("locked", "user")
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), locked.ID, store.StatusLocked); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "support", Parent: "user", Permissions: []string{store.PermUsersImpersonate}}); err != nil {
		t.Fatal(err)
	}
	agent := e.user("agent", "support")
	svcAccount := store.Client{ID: "robot", Name: "Robot", GrantTypes: []string{"client_credentials"}, Roles: []string{"admin"},
		TokenEndpointAuthMethod: "client_secret_basic", SecretHash: []byte("x")}
	if err := e.store.CreateClient(e.ctx, svcAccount); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		req      domain.ImpersonationRequest
		wantErr  error // nil: granted
		field    string
		wantUser string
	}{
		{"admin as user, by username", domain.ImpersonationRequest{CallerUserID: root.ID, Target: "alice"}, nil, "", alice.ID},
		{"admin as user, by id", domain.ImpersonationRequest{CallerUserID: root.ID, Target: alice.ID}, nil, "", alice.ID},
		{"admin as another admin", domain.ImpersonationRequest{CallerUserID: root.ID, Target: other.ID}, nil, "", other.ID},
		{"service account as user", domain.ImpersonationRequest{CallerClientID: "robot", Target: "mgr"}, nil, "", mgr.ID},
		{"support agent as user", domain.ImpersonationRequest{CallerUserID: agent.ID, Target: "alice"}, nil, "", alice.ID},
		{"manager lacks the permission", domain.ImpersonationRequest{CallerUserID: mgr.ID, Target: "alice"}, domain.ErrForbidden, "", ""},
		{"support agent as admin", domain.ImpersonationRequest{CallerUserID: agent.ID, Target: "root"}, domain.ErrForbidden, "", ""},
		{"support agent as manager", domain.ImpersonationRequest{CallerUserID: agent.ID, Target: "mgr"}, domain.ErrForbidden, "", ""},
		{"locked target", domain.ImpersonationRequest{CallerUserID: root.ID, Target: "locked"}, &domain.ValidationError{}, "requested_subject", ""},
		{"unknown target", domain.ImpersonationRequest{CallerUserID: root.ID, Target: "nobody"}, &domain.ValidationError{}, "requested_subject", ""},
		{"oneself", domain.ImpersonationRequest{CallerUserID: root.ID, Target: "root"}, &domain.ValidationError{}, "requested_subject", ""},
		{"no target", domain.ImpersonationRequest{CallerUserID: root.ID}, &domain.ValidationError{}, "requested_subject", ""},
		{"locked caller", domain.ImpersonationRequest{CallerUserID: locked.ID, Target: "alice"}, domain.ErrUnauthenticated, "", ""},
		{"unknown service account", domain.ImpersonationRequest{CallerClientID: "gone", Target: "alice"}, domain.ErrUnauthenticated, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.lastID()
			c.req.ClientID, c.req.Scopes, c.req.IP = "console", []string{"gatehouse:api"}, "192.0.2.9"
			imp, err := e.svc.Impersonate(e.ctx, c.req)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if imp.Target.ID != c.wantUser {
					t.Errorf("target %s, want %s", imp.Target.ID, c.wantUser)
				}
				entries := e.since(before)
				if len(entries) != 1 || entries[0].Action != "impersonation.start" || entries[0].TargetID != c.wantUser ||
					entries[0].ActorID != imp.Caller.ID || entries[0].IPAddress != "192.0.2.9" {
					t.Fatalf("audit %+v, want one impersonation.start of %s by %s", entries, c.wantUser, imp.Caller)
				}
				if got := changesOf(t, entries[0]); got["client_id"]["after"] != "console" || got["scope"]["after"] != "gatehouse:api" {
					t.Errorf("audited changes %v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("granted %+v, want a refusal", imp)
			}
			if c.field != "" {
				if fs := fieldsOf(t, err); !slices.Contains(fs, c.field) {
					t.Errorf("fields %v, want %s", fs, c.field)
				}
			} else {
				wantErr(t, err, c.wantErr)
			}
			if n := len(e.since(before)); n != 0 {
				t.Errorf("a refusal left %d audit entries", n)
			}
		})
	}
}

// TestImpersonationLifetime: at most 15 minutes, never past the caller's
// own token.
func TestImpersonationLifetime(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		exp  time.Time
		want time.Duration
	}{
		{"long-lived caller", now.Add(time.Hour), 15 * time.Minute},
		{"caller without expiry", time.Time{}, 15 * time.Minute},
		{"caller about to expire", now.Add(4 * time.Minute), 4 * time.Minute},
		{"caller expired", now.Add(-time.Second), -time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := domain.ImpersonationLifetime(now, c.exp); got != c.want {
				t.Errorf("lifetime %v, want %v", got, c.want)
			}
		})
	}
}

// TestNarrowerScopes: an exchange keeps or narrows scopes, never widens.
func TestNarrowerScopes(t *testing.T) {
	held := []string{"openid", "profile", "gatehouse:api"}
	for _, c := range []struct {
		name      string
		requested []string
		want      []string
	}{
		{"equal", held, nil},
		{"narrower", []string{"profile"}, nil},
		{"none", nil, nil},
		{"wider", []string{"profile", "email", "admin"}, []string{"email", "admin"}},
		{"case matters", []string{"Profile"}, []string{"Profile"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := domain.NarrowerScopes(held, c.requested); !slices.Equal(got, c.want) {
				t.Errorf("wider %v, want %v", got, c.want)
			}
		})
	}
}

// TestExchangedTokenMakesNoAPIToken: a token made by token exchange is
// short-lived by design; it cannot mint a credential that outlives it.
func TestExchangedTokenMakesNoAPIToken(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice", "user")
	p := e.principal(alice)
	p.Actor.Act, p.Exchanged = "user:00000000-0000-0000-0000-00000000a0a0", true
	_, _, err := e.svc.IssueAPIToken(e.ctx, p, domain.NewAPIToken{Name: "keep", Kind: store.TokenPersonal})
	wantErr(t, err, domain.ErrForbidden)
	p.Exchanged = false
	if _, _, err := e.svc.IssueAPIToken(e.ctx, p, domain.NewAPIToken{Name: "keep", Kind: store.TokenPersonal}); err != nil {
		t.Fatalf("the same principal without exchange: %v", err)
	}
}
