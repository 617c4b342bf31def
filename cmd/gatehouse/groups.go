package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newGroupsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Manage groups: their roles and members",
		Long: "A group holds users and roles: its members get its roles. A GROUP argument is a group id\n" +
			"or name; a USER argument is a user id or username.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newGroupsListCmd(a),
		newGroupsCreateCmd(a),
		newGroupsGetCmd(a),
		newGroupsDeleteCmd(a),
		newGroupsMemberCmd(a, true),
		newGroupsMemberCmd(a, false),
	)
	return cmd
}

func newGroupsListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every group by name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				groups, err := svc.ListGroups(ctx)
				if err != nil {
					return failure("groups list", err, "", "")
				}
				return a.printJSON(views(groups, func(g store.Group) admin.GroupView { return admin.NewGroupView(g, nil) }))
			})
		},
	}
}

func newGroupsCreateCmd(a *app) *cobra.Command {
	var in domain.NewGroup
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create a group and print it",
		Example: "  gatehouse groups create --name trading-desk --description 'Equities desk' --role trader",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				g, err := svc.CreateGroup(ctx, domain.CLIActor(), in)
				if err != nil {
					return failure("groups create", err, "a role in --role", fmt.Sprintf("a group named %q already exists", in.Name))
				}
				return a.printJSON(admin.NewGroupView(g, []string{}))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Name, "name", "", "group name (required, unique)")
	fl.StringVar(&in.Description, "description", "", "what the group is for")
	fl.StringArrayVar(&in.Roles, "role", nil, "role its members get (repeatable)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newGroupsGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get GROUP",
		Short: "Print a group with its member user ids",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				g, members, err := resolveGroup(ctx, svc, args[0])
				if err != nil {
					return failure("groups get", err, fmt.Sprintf("group %q", args[0]), "")
				}
				return a.printJSON(admin.NewGroupView(g, orEmpty(members)))
			})
		},
	}
}

func newGroupsDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group (its members lose the roles they had through it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				g, _, err := resolveGroup(ctx, svc, args[0])
				if err != nil {
					return failure("groups delete", err, fmt.Sprintf("group %q", args[0]), "")
				}
				if err := svc.DeleteGroup(ctx, domain.CLIActor(), g.ID); err != nil {
					return failure("groups delete", err, fmt.Sprintf("group %q", args[0]), "")
				}
				return a.printJSON(map[string]string{"deleted": g.ID, "name": g.Name})
			})
		},
	}
}

// newGroupsMemberCmd is add-member (add) or remove-member.
func newGroupsMemberCmd(a *app, add bool) *cobra.Command {
	use, short := "remove-member", "Remove a user from a group"
	if add {
		use, short = "add-member", "Add a user to a group"
	}
	op := "groups " + use
	return &cobra.Command{
		Use:   use + " GROUP USER",
		Short: short + " and print the group with its members",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				g, _, err := resolveGroup(ctx, svc, args[0])
				if err != nil {
					return failure(op, err, fmt.Sprintf("group %q", args[0]), "")
				}
				u, err := userRef(ctx, svc, st, op, args[1])
				if err != nil {
					return err
				}
				if add {
					err = svc.AddGroupMember(ctx, domain.CLIActor(), g.ID, u.ID)
				} else {
					err = svc.RemoveGroupMember(ctx, domain.CLIActor(), g.ID, u.ID)
				}
				if err != nil {
					return failure(op, err, fmt.Sprintf("membership of %q in group %q", args[1], args[0]), "")
				}
				g, members, err := svc.GetGroup(ctx, g.ID)
				if err != nil {
					return failure(op, err, fmt.Sprintf("group %q", args[0]), "")
				}
				return a.printJSON(admin.NewGroupView(g, orEmpty(members)))
			})
		},
	}
}
