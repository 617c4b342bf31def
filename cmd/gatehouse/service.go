package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// openService opens the store and builds the domain service over it: the
// one place the administration commands get their rules from, so the CLI
// validates, hashes and audits exactly as the resource API does. The caller
// closes the store.
func (a *app) openService(ctx context.Context) (*domain.Service, store.Store, error) {
	// The service hashes passwords, counts sign-in failures and sends
	// decision emails with these settings, as the server does; a policy
	// weaker than the server's would let the CLI store passwords the server
	// refuses.
	if err := a.cfg.ValidateFields("password", "login", "smtp"); err != nil {
		return nil, nil, err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	return a.newService(a.cfg, st), st, nil
}

// withService runs fn with a service over a freshly opened store.
func (a *app) withService(ctx context.Context, fn func(*domain.Service, store.Store) error) error {
	svc, st, err := a.openService(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(svc, st)
}

// cliPrincipal is the CLI acting as an operator with every permission: whoever
// can run the binary against the database can change it anyway, so the
// route permissions of the API have no meaning here. The domain's own rules
// (a personal token never wider than its owner, decisions final, ...) still
// apply.
func cliPrincipal() domain.Principal {
	perms := make(map[string]bool)
	for _, p := range domain.KnownPermissions() {
		perms[p] = true
	}
	return domain.Principal{Actor: domain.CLIActor(), Permissions: perms}
}

// resolveUser finds a user by id or, failing that, by username, so every
// command that names a user accepts either. The domain looks users up by id
// only; the username lookup is a read the CLI makes on the store itself.
func resolveUser(ctx context.Context, svc *domain.Service, st store.Users, ref string) (store.User, error) {
	if _, err := uuid.Parse(ref); err == nil {
		u, err := svc.GetUser(ctx, ref)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return u, err
		}
	}
	u, err := st.GetUserByUsername(ctx, ref)
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", ref, err)
	}
	return u, nil
}

// resolveGroup finds a group by id or, failing that, by name.
func resolveGroup(ctx context.Context, svc *domain.Service, ref string) (store.Group, []string, error) {
	if _, err := uuid.Parse(ref); err == nil {
		g, members, err := svc.GetGroup(ctx, ref)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return g, members, err
		}
	}
	groups, err := svc.ListGroups(ctx)
	if err != nil {
		return store.Group{}, nil, err
	}
	for _, g := range groups {
		if g.Name == ref {
			return svc.GetGroup(ctx, g.ID)
		}
	}
	return store.Group{}, nil, fmt.Errorf("group %q: %w", ref, store.ErrNotFound)
}

// failure turns a domain or store error into the message an operator
// reads: what failed, and why in terms of the command's arguments, in the
// domain's words (`users create: username "alice" is taken`), never the
// chain of wrapped errors. notFound and conflict describe those two cases
// for this command when the domain has no message of its own. An internal
// failure (the database is unreachable) keeps its chain: that detail is what
// an operator needs to fix it.
func failure(op string, err error, notFound, conflict string) error {
	var own *domain.Error
	hasMessage := errors.As(err, &own)
	switch code := domain.ErrorCode(err); {
	case code == domain.CodeInvalid:
		return fmt.Errorf("%s: invalid input: %s", op, domain.ErrorMessage(err))
	case code == domain.CodeInternal || code == domain.CodeUnavailable:
		return fmt.Errorf("%s: %w", op, err)
	case code == domain.CodeForbidden:
		return fmt.Errorf("%s: not allowed: %s", op, domain.ErrorMessage(err))
	case hasMessage:
		return fmt.Errorf("%s: %s", op, domain.ErrorMessage(err))
	case code == domain.CodeNotFound && notFound != "":
		return fmt.Errorf("%s: %s not found", op, notFound)
	case code == domain.CodeConflict && conflict != "":
		return fmt.Errorf("%s: %s", op, conflict)
	default:
		return fmt.Errorf("%s: %s", op, domain.ErrorMessage(err))
	}
}
