package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The CLI prints the resource API's views (package admin), so a script can
// read the output of `gatehouse users get` and of GET /api/v1/users/{id}
// with the same code.

// showUser is the view of one user, as GET /api/v1/users/{id} shows it.
func showUser(ctx context.Context, svc *domain.Service, now time.Time, u store.User) (admin.UserView, error) {
	v, err := admin.UserViews(ctx, svc, now, u)
	if err != nil {
		return admin.UserView{}, fmt.Errorf("view of %s: %w", u.Username, err)
	}
	return v[0], nil
}

// listUsers is the view of a list of users, as GET /api/v1/users shows
// them: each item as showUser shows it.
func listUsers(ctx context.Context, svc *domain.Service, now time.Time, users []store.User) ([]admin.UserView, error) {
	return admin.UserViews(ctx, svc, now, users...)
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
