package main

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestSCIMProvisioningToken: the README's commands (SCIM 2.0
// provisioning) make a service account and a system token that carries
// scim:provision and nothing else, with the admin role's power behind it
// for the rule that nobody acts on someone with more power.
func TestSCIMProvisioningToken(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	e.ok(nil, "clients", "create", "--id", "okta-scim", "--name", "Okta provisioning",
		"--grant-type", "client_credentials", "--scope", "gatehouse:api", "--role", "admin")
	var tok admin.APITokenView
	r := e.run("tokens", "create", "--name", "okta", "--kind", "system", "--client", "okta-scim",
		"--scope", "scim:provision", "--expires-in", "8760h")
	if r.code != 0 {
		t.Fatalf("tokens create: exit %d: %s", r.code, r.stderr)
	}
	decode(t, r.stdout, &tok)
	svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: 4, MinLength: 8}})
	p, err := svc.AuthenticateAPIToken(context.Background(), tok.Token, "127.0.0.1")
	if err != nil {
		t.Fatalf("authenticate the token: %v", err)
	}
	if !p.Can(store.PermSCIMProvision) || p.Can(store.PermUsersWrite) || p.Actor.ID != "okta-scim" {
		t.Fatalf("the token's principal: actor %+v, permissions %v", p.Actor, p.Permissions)
	}
	// The built-in admin role holds scim:provision (migration 00025).
	roles, err := st.ListRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range roles {
		if role.Name == "admin" {
			held := false
			for _, perm := range role.Permissions {
				held = held || perm == store.PermSCIMProvision
			}
			if !held {
				t.Errorf("admin's permissions %v lack scim:provision", role.Permissions)
			}
		}
	}
}
