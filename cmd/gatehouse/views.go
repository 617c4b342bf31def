package main

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The CLI prints the resource API's views (package admin), so a script can
// read the output of `gatehouse users get` and of GET /api/v1/users/{id}
// with the same code.

// showUser is the view of one user, with its groups and effective roles,
// as GET /api/v1/users/{id} shows it.
func showUser(ctx context.Context, svc *domain.Service, u store.User) (admin.UserView, error) {
	index, err := svc.GroupNames(ctx, u.ID)
	if err != nil {
		return admin.UserView{}, err
	}
	effective, err := svc.EffectiveRoles(ctx, u)
	if err != nil {
		return admin.UserView{}, fmt.Errorf("effective roles of %s: %w", u.Username, err)
	}
	return admin.NewUserView(u, index[u.ID], orEmpty(effective)), nil
}

// listUsers is the view of a list of users: with their groups, without the
// effective roles, as GET /api/v1/users shows them.
func listUsers(ctx context.Context, svc *domain.Service, users []store.User) ([]admin.UserView, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	index, err := svc.GroupNames(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]admin.UserView, 0, len(users))
	for _, u := range users {
		out = append(out, admin.NewUserView(u, index[u.ID], nil))
	}
	return out, nil
}

// views maps a slice of records to their views, never nil, so an empty
// list prints as [].
func views[T, V any](in []T, view func(T) V) []V {
	out := make([]V, 0, len(in))
	for _, x := range in {
		out = append(out, view(x))
	}
	return out
}
