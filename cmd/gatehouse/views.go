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
	index, err := groupIndex(ctx, svc)
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
	index, err := groupIndex(ctx, svc)
	if err != nil {
		return nil, err
	}
	out := make([]admin.UserView, 0, len(users))
	for _, u := range users {
		out = append(out, admin.NewUserView(u, index[u.ID], nil))
	}
	return out, nil
}

// groupIndex maps user ids to the names of their groups. The domain has no
// per-user lookup of groups, so it reads every group's members, as the
// API does.
func groupIndex(ctx context.Context, svc *domain.Service) (map[string][]string, error) {
	groups, err := svc.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	index := map[string][]string{}
	for _, g := range groups {
		_, members, err := svc.GetGroup(ctx, g.ID)
		if err != nil {
			return nil, fmt.Errorf("members of group %s: %w", g.Name, err)
		}
		for _, m := range members {
			index[m] = append(index[m], g.Name)
		}
	}
	return index, nil
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
