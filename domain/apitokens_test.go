package domain_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// tokenEnv has a user, a manager, an admin, a pending user and a service
// account with the manager role.
type tokenEnv struct {
	*env
	alice, mgr, root, pend store.User
	svcClient              store.Client
}

func newTokenEnv(t *testing.T) *tokenEnv {
	e := newEnv(t)
	te := &tokenEnv{env: e, alice: e.user("alice", "user"), mgr: e.user("maggie", "manager"),
		root: e.user("root", "admin"), pend: e.user("penny")}
	for _, c := range []store.Client{
		{ID: "robot", Roles: []string{"manager"}},
		{ID: "plain"},
	} {
		c.TokenEndpointAuthMethod = domain.AuthClientSecretBasic
		c.GrantTypes = []string{domain.GrantClientCredentials}
		created, _, err := e.svc.CreateClient(e.ctx, admin, c)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == "robot" {
			te.svcClient = created
		}
	}
	return te
}

func userPerms(extra ...string) []string {
	out := append([]string{store.PermDashboardsRead, store.PermProfileRead, store.PermProfileWrite, store.PermTokensSelf}, extra...)
	slices.Sort(out)
	return out
}

func TestIssueAPIToken(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name       string
		issuer     func(e *tokenEnv) domain.Principal
		in         func(e *tokenEnv) domain.NewAPIToken
		wantScopes []string
		wantLife   time.Duration
		err        error
		fields     []string
	}{
		{"personal, every own permission by default",
			func(e *tokenEnv) domain.Principal { return e.principal(e.alice) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "laptop", Kind: store.TokenPersonal}
			}, userPerms(), 90 * day, nil, nil},
		{"personal, narrowed",
			func(e *tokenEnv) domain.Principal { return e.principal(e.alice) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ro", Kind: store.TokenPersonal, Scopes: []string{store.PermProfileRead}, ExpiresIn: day}
			}, []string{store.PermProfileRead}, day, nil, nil},
		{"personal, wider than the owner",
			func(e *tokenEnv) domain.Principal { return e.principal(e.alice) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "x", Kind: store.TokenPersonal, Scopes: []string{store.PermUsersRead}}
			}, nil, 0, domain.ErrForbidden, nil},
		{"personal without tokens:self",
			func(e *tokenEnv) domain.Principal { return e.principal(e.user("vic", "viewer")) },
			func(e *tokenEnv) domain.NewAPIToken { return domain.NewAPIToken{Name: "x", Kind: store.TokenPersonal} },
			nil, 0, domain.ErrForbidden, nil},
		{"personal for a service account",
			func(e *tokenEnv) domain.Principal { p, _ := e.svc.ClientPrincipal(e.ctx, e.svcClient); return p },
			func(e *tokenEnv) domain.NewAPIToken { return domain.NewAPIToken{Name: "x", Kind: store.TokenPersonal} },
			nil, 0, domain.ErrForbidden, nil},
		{"user token by a manager",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.alice.ID, Scopes: []string{store.PermProfileRead}}
			}, []string{store.PermProfileRead}, 90 * day, nil, nil},
		// Not even narrowed: acting as the admin would let the manager edit
		// the admin, decide as the admin and be audited as the admin.
		{"no user token for someone more powerful than the issuer",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.root.ID}
			}, nil, 0, domain.ErrForbidden, nil},
		{"user token wider than the issuer",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.root.ID, Scopes: []string{store.PermUsersDelete}}
			}, nil, 0, domain.ErrForbidden, nil},
		{"user token wider than the user",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.alice.ID, Scopes: []string{store.PermUsersRead}}
			}, nil, 0, domain.ErrForbidden, nil},
		{"user token without tokens:users",
			func(e *tokenEnv) domain.Principal { return e.principal(e.alice) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.alice.ID}
			}, nil, 0, domain.ErrForbidden, nil},
		{"user token for a pending user",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: e.pend.ID}
			}, nil, 0, nil, []string{"user_id"}},
		{"user token for nobody",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: "00000000-0000-0000-0000-000000000001"}
			}, nil, 0, nil, []string{"user_id"}},
		{"system token by an admin",
			func(e *tokenEnv) domain.Principal { return e.principal(e.root) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot", Scopes: []string{store.PermUsersRead}}
			}, []string{store.PermUsersRead}, 365 * day, nil, nil},
		{"system token by a manager",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot"}
			}, nil, 0, domain.ErrForbidden, nil},
		{"system token for a client without roles",
			func(e *tokenEnv) domain.Principal { return e.principal(e.root) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "plain"}
			}, nil, 0, nil, []string{"client_id"}},
		{"system token wider than the service account",
			func(e *tokenEnv) domain.Principal { return e.principal(e.root) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot", Scopes: []string{store.PermClientsWrite}}
			}, nil, 0, domain.ErrForbidden, nil},
		{"system token over a year",
			func(e *tokenEnv) domain.Principal { return e.principal(e.root) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot", ExpiresIn: 366 * day}
			}, nil, 0, nil, []string{"expires_in"}},
		{"field problems at once",
			func(e *tokenEnv) domain.Principal { return e.principal(e.alice) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: " ", Kind: store.TokenPersonal, ExpiresIn: 91 * day, Scopes: []string{"x:y"}}
			}, nil, 0, nil, []string{"name", "expires_in", "scopes"}},
		{"user token that would carry nothing",
			func(e *tokenEnv) domain.Principal { return e.principal(e.mgr) },
			func(e *tokenEnv) domain.NewAPIToken {
				bare := e.user("bare")
				if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), bare.ID, store.StatusActive); err != nil {
					e.t.Fatal(err)
				}
				return domain.NewAPIToken{Name: "job", Kind: store.TokenUser, UserID: bare.ID}
			}, nil, 0, nil, []string{"scopes"}},
		{"unknown kind and negative lifetime",
			func(e *tokenEnv) domain.Principal { return e.principal(e.root) },
			func(e *tokenEnv) domain.NewAPIToken {
				return domain.NewAPIToken{Name: "x", Kind: "forever", ExpiresIn: -time.Hour}
			}, nil, 0, nil, []string{"kind", "expires_in"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTokenEnv(t)
			p := tc.issuer(e)
			in := tc.in(e)
			before := e.lastID()
			tok, secret, err := e.svc.IssueAPIToken(e.ctx, p, in)
			switch {
			case tc.err != nil:
				wantErr(t, err, tc.err)
			case tc.fields != nil:
				if f := fieldsOf(t, err); !slices.Equal(f, tc.fields) {
					t.Fatalf("fields = %v, want %v (%v)", f, tc.fields, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(tok.Scopes, tc.wantScopes) {
					t.Fatalf("scopes = %v, want %v", tok.Scopes, tc.wantScopes)
				}
				if got := tok.ExpiresAt.Sub(e.clock.Now()); got != tc.wantLife {
					t.Fatalf("lifetime = %v, want %v", got, tc.wantLife)
				}
				if !strings.HasPrefix(secret, domain.APITokenPrefix) || len(secret) < len(domain.APITokenPrefix)+43 {
					t.Fatalf("secret %q", secret)
				}
				if tok.SecretHash != nil || tok.CreatedBy != p.Actor.String() {
					t.Fatalf("token = %+v", tok)
				}
				stored, err := e.store.GetAPIToken(e.ctx, tok.ID)
				if err != nil {
					t.Fatal(err)
				}
				digest := sha256.Sum256([]byte(secret))
				if !bytes.Equal(stored.SecretHash, digest[:]) {
					t.Fatal("the stored digest is not the SHA-256 of the secret")
				}
				entries := e.since(before)
				if len(entries) != 1 || entries[0].Action != "token.create" || entries[0].ActorID != p.Actor.ID {
					t.Fatalf("entries = %+v", entries)
				}
				if containsAny(string(entries[0].Changes), secret, secret[len(domain.APITokenPrefix):],
					hex.EncodeToString(digest[:]), base64.StdEncoding.EncodeToString(digest[:])) {
					t.Fatalf("the audit entry holds the secret or its digest: %s", entries[0].Changes)
				}
				return
			}
			if len(e.since(before)) != 0 {
				t.Fatal("a refused issue left an audit entry")
			}
		})
	}
}

func TestAuthenticateAPIToken(t *testing.T) {
	e := newTokenEnv(t)
	tok, secret, err := e.svc.IssueAPIToken(e.ctx, e.principal(e.alice), domain.NewAPIToken{Name: "ro", Kind: store.TokenPersonal,
		Scopes: []string{store.PermProfileRead, store.PermTokensSelf}, ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	p, err := e.svc.AuthenticateAPIToken(e.ctx, secret, "192.0.2.50")
	if err != nil {
		t.Fatal(err)
	}
	if p.APITokenID != tok.ID || p.User == nil || p.User.ID != e.alice.ID || p.Actor.IP != "192.0.2.50" || p.Actor.ID != e.alice.ID {
		t.Fatalf("principal = %+v", p)
	}
	if want := []string{store.PermProfileRead, store.PermTokensSelf}; !slices.Equal(permList(p), want) {
		t.Fatalf("permissions = %v, want %v (the token's scopes)", permList(p), want)
	}

	t.Run("the principal's current permissions count", func(t *testing.T) {
		if _, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), e.alice.ID, []string{"viewer"}); err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.AuthenticateAPIToken(e.ctx, secret, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{store.PermProfileRead}; !slices.Equal(permList(p), want) {
			t.Fatalf("permissions = %v, want %v", permList(p), want)
		}
		if _, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), e.alice.ID, []string{"user"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("last use is recorded at most once a minute", func(t *testing.T) {
		first := e.clock.Now()
		got, _ := e.store.GetAPIToken(e.ctx, tok.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(first) {
			t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, first)
		}
		e.clock.Advance(30 * time.Second)
		if _, err := e.svc.AuthenticateAPIToken(e.ctx, secret, ""); err != nil {
			t.Fatal(err)
		}
		got, _ = e.store.GetAPIToken(e.ctx, tok.ID)
		if !got.LastUsedAt.Equal(first) {
			t.Fatalf("touched again after 30s: %v", got.LastUsedAt)
		}
		e.clock.Advance(31 * time.Second)
		if _, err := e.svc.AuthenticateAPIToken(e.ctx, secret, ""); err != nil {
			t.Fatal(err)
		}
		got, _ = e.store.GetAPIToken(e.ctx, tok.ID)
		if !got.LastUsedAt.Equal(e.clock.Now()) {
			t.Fatalf("not touched after 61s: %v", got.LastUsedAt)
		}
	})

	refused := []struct {
		name   string
		secret func() string
		setup  func(t *testing.T)
	}{
		{"unknown secret", func() string { return domain.APITokenPrefix + "AAAA" }, nil},
		{"not an API token", func() string { return "ghs_something" }, nil},
		{"empty", func() string { return "" }, nil},
		{"owner locked", func() string { return secret }, func(t *testing.T) {
			if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), e.alice.ID, store.StatusLocked); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = e.svc.SetUserStatus(e.ctx, domain.Operator(admin), e.alice.ID, store.StatusActive) })
		}},
		{"expired", func() string { return secret }, func(t *testing.T) {
			e.clock.Advance(time.Hour)
			t.Cleanup(func() { e.clock.Advance(-time.Hour) })
		}},
		{"revoked", func() string { return secret }, func(t *testing.T) {
			if err := e.svc.RevokeAPIToken(e.ctx, e.principal(e.alice), tok.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			_, err := e.svc.AuthenticateAPIToken(e.ctx, tc.secret(), "")
			wantErr(t, err, domain.ErrUnauthenticated)
		})
	}
}

func TestSystemTokenActsAsTheServiceAccount(t *testing.T) {
	e := newTokenEnv(t)
	_, secret, err := e.svc.IssueAPIToken(e.ctx, e.principal(e.root), domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.AuthenticateAPIToken(e.ctx, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Client == nil || p.Client.ID != "robot" || p.Actor != (domain.Actor{Type: store.ActorClient, ID: "robot", Act: "user:" + e.root.ID}) ||
		!p.Can(store.PermUsersRead) || p.Can(store.PermUsersDelete) {
		t.Fatalf("principal = %+v", p)
	}
	// Taking the roles away ends the service account, and its tokens.
	if _, err := e.svc.UpdateClient(e.ctx, admin, "robot", domain.ClientPatch{Roles: ptr([]string{})}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AuthenticateAPIToken(e.ctx, secret, "")
	wantErr(t, err, domain.ErrUnauthenticated)
}

func permList(p domain.Principal) []string {
	var out []string
	for k, ok := range p.Permissions {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestListAndRevokeAPITokens(t *testing.T) {
	e := newTokenEnv(t)
	issue := func(p domain.Principal, in domain.NewAPIToken) store.APIToken {
		t.Helper()
		tok, _, err := e.svc.IssueAPIToken(e.ctx, p, in)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, mgr, root := e.principal(e.alice), e.principal(e.mgr), e.principal(e.root)
	robot, err := e.svc.ClientPrincipal(e.ctx, e.svcClient)
	if err != nil {
		t.Fatal(err)
	}
	alicePAT := issue(alice, domain.NewAPIToken{Name: "alice", Kind: store.TokenPersonal})
	forAlice := issue(mgr, domain.NewAPIToken{Name: "for-alice", Kind: store.TokenUser, UserID: e.alice.ID})
	mgrPAT := issue(mgr, domain.NewAPIToken{Name: "maggie", Kind: store.TokenPersonal})
	system := issue(root, domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "robot"})

	tests := []struct {
		name string
		p    domain.Principal
		want []string
	}{
		{"a user sees its own", alice, []string{alicePAT.ID, forAlice.ID}},
		{"a manager sees personal and user tokens", mgr, []string{alicePAT.ID, forAlice.ID, mgrPAT.ID}},
		{"an admin sees every token", root, []string{alicePAT.ID, forAlice.ID, mgrPAT.ID, system.ID}},
		{"a service account sees its own and, as a manager, the users'", robot, []string{alicePAT.ID, forAlice.ID, mgrPAT.ID, system.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.ListAPITokens(e.ctx, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, tok := range got {
				if tok.SecretHash != nil {
					t.Fatal("a listed token carries its digest")
				}
				ids = append(ids, tok.ID)
			}
			slices.Sort(ids)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Fatalf("ids = %v, want %v", ids, want)
			}
		})
	}

	t.Run("revoking a token one may not see is not found", func(t *testing.T) {
		wantErr(t, e.svc.RevokeAPIToken(e.ctx, alice, mgrPAT.ID), store.ErrNotFound)
		wantErr(t, e.svc.RevokeAPIToken(e.ctx, mgr, system.ID), store.ErrNotFound)
	})
	t.Run("a manager revokes a user's token, once", func(t *testing.T) {
		before := e.lastID()
		if err := e.svc.RevokeAPIToken(e.ctx, mgr, alicePAT.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RevokeAPIToken(e.ctx, mgr, alicePAT.ID); err != nil {
			t.Fatalf("second revocation: %v", err)
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "token.revoke" || entries[0].TargetID != alicePAT.ID || entries[0].ActorID != e.mgr.ID {
			t.Fatalf("entries = %+v", entries)
		}
		got, _ := e.store.GetAPIToken(e.ctx, alicePAT.ID)
		if got.RevokedAt == nil {
			t.Fatal("not revoked")
		}
	})
}
