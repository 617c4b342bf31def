package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Areas (areas): the tree of organizational units, its members, and roles
// granted within an area.

func newAreasCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "areas",
		Short: "Manage organizational areas: the tree, members, roles granted within an area",
		Long: "Areas are a tree of organizational units, each named by a code (a slug). Users are members\n" +
			"of areas and may have a default area (the area claim of the area scope). A role granted\n" +
			"within an area applies to the users of that area and every area below it only.\n" +
			"An AREA argument is an area's code; a USER argument is a user id or username.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newAreasListCmd(a),
		newAreasCreateCmd(a),
		newAreasGetCmd(a),
		newAreasMoveCmd(a),
		newAreasDeleteCmd(a),
		newAreasMemberCmd(a, true),
		newAreasMemberCmd(a, false),
		newAreasDefaultCmd(a),
		newAreasRoleCmd(a, true),
		newAreasRoleCmd(a, false),
	)
	return cmd
}

// printAreas prints areas as the API shows them, parents by code.
func (a *app) printAreas(ctx context.Context, svc *domain.Service, op string, areas ...store.Area) error {
	all, err := svc.ListAreas(ctx)
	if err != nil {
		return failure(op, err, "", "")
	}
	return a.printJSON(admin.AreaViews(areas, all))
}

func (a *app) printArea(ctx context.Context, svc *domain.Service, op string, area store.Area) error {
	all, err := svc.ListAreas(ctx)
	if err != nil {
		return failure(op, err, "", "")
	}
	return a.printJSON(admin.AreaViews([]store.Area{area}, all)[0])
}

func newAreasListCmd(a *app) *cobra.Command {
	var under string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every area by code (--under: one area's subtree)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				var areas []store.Area
				var err error
				if under != "" {
					areas, err = svc.ListSubtree(ctx, under)
				} else {
					areas, err = svc.ListAreas(ctx)
				}
				if err != nil {
					return failure("areas list", err, fmt.Sprintf("area %q", under), "")
				}
				return a.printAreas(ctx, svc, "areas list", areas...)
			})
		},
	}
	cmd.Flags().StringVar(&under, "under", "", "only this area (by code) and the areas below it")
	return cmd
}

func newAreasCreateCmd(a *app) *cobra.Command {
	var in domain.NewArea
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Create an area and print it",
		Example: "  gatehouse areas create --code emea-de --name Germany --parent emea",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				area, err := svc.CreateArea(ctx, domain.CLIActor(), in)
				if err != nil {
					return failure("areas create", err, "", "")
				}
				return a.printArea(ctx, svc, "areas create", area)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Code, "code", "", "the area's code: lowercase letters, digits, hyphens (required, unique)")
	fl.StringVar(&in.Name, "name", "", "the area's name (required)")
	fl.StringVar(&in.Parent, "parent", "", "the parent area's code (none: a root)")
	_ = cmd.MarkFlagRequired("code")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newAreasGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get AREA",
		Short: "Print an area",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				area, err := svc.GetArea(ctx, args[0])
				if err != nil {
					return failure("areas get", err, "", "")
				}
				return a.printArea(ctx, svc, "areas get", area)
			})
		},
	}
}

func newAreasMoveCmd(a *app) *cobra.Command {
	var parent string
	var root bool
	cmd := &cobra.Command{
		Use:     "move AREA (--parent PARENT | --root)",
		Short:   "Move an area with its whole subtree under another parent, or make it a root",
		Example: "  gatehouse areas move emea-de --parent europe",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if root == (parent != "") {
				return fmt.Errorf("areas move: give exactly one of --parent and --root")
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				area, err := svc.UpdateArea(ctx, domain.CLIActor(), args[0], domain.AreaPatch{Parent: &parent})
				if err != nil {
					return failure("areas move", err, "", "")
				}
				return a.printArea(ctx, svc, "areas move", area)
			})
		},
	}
	cmd.Flags().StringVar(&parent, "parent", "", "the new parent's code")
	cmd.Flags().BoolVar(&root, "root", false, "make the area a root")
	return cmd
}

func newAreasDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "delete AREA",
		Short: "Delete an area (refused while it has child areas, members or role grants)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				if err := svc.DeleteArea(ctx, domain.CLIActor(), args[0]); err != nil {
					return failure("areas delete", err, "", "")
				}
				return a.printJSON(map[string]string{"deleted": args[0]})
			})
		},
	}
}

// newAreasMemberCmd is add-member (add) or remove-member; it prints the
// user as the API shows it, with its areas.
func newAreasMemberCmd(a *app, add bool) *cobra.Command {
	use, short := "remove-member", "Remove a user from an area"
	if add {
		use, short = "add-member", "Add a user to an area"
	}
	op := "areas " + use
	return &cobra.Command{
		Use:   use + " AREA USER",
		Short: short + " and print the user",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				u, err := userRef(ctx, svc, st, op, args[1])
				if err != nil {
					return err
				}
				if add {
					err = svc.AddAreaMember(ctx, domain.CLIActor(), args[0], u.ID)
				} else {
					err = svc.RemoveAreaMember(ctx, domain.CLIActor(), args[0], u.ID)
				}
				if err != nil {
					return failure(op, err, "", "")
				}
				return a.printAreaUser(ctx, svc, op, u.ID)
			})
		},
	}
}

// printAreaUser prints the user's current view, with its areas.
func (a *app) printAreaUser(ctx context.Context, svc *domain.Service, op, id string) error {
	u, err := svc.GetUser(ctx, id)
	if err != nil {
		return failure(op, err, "", "")
	}
	return a.printUser(ctx, svc, u)
}

func newAreasDefaultCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "set-default USER [AREA]",
		Short: "Make one of the user's areas its default (no AREA: none) and print the user",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			const op = "areas set-default"
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				u, err := userRef(ctx, svc, st, op, args[0])
				if err != nil {
					return err
				}
				code := ""
				if len(args) == 2 {
					code = args[1]
				}
				if err := svc.SetDefaultArea(ctx, domain.Operator(domain.CLIActor()), u.ID, code); err != nil {
					return failure(op, err, "", "")
				}
				return a.printAreaUser(ctx, svc, op, u.ID)
			})
		},
	}
}

// newAreasRoleCmd is grant-role (grant) or revoke-role; it prints the
// user's roles within areas.
func newAreasRoleCmd(a *app, grant bool) *cobra.Command {
	use, short := "revoke-role", "Revoke a role the user holds within an area"
	if grant {
		use, short = "grant-role", "Grant the user a role within an area: it applies to that area's subtree only"
	}
	op := "areas " + use
	return &cobra.Command{
		Use:     use + " USER AREA ROLE",
		Short:   short,
		Example: "  gatehouse areas " + use + " alice emea manager",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				u, err := userRef(ctx, svc, st, op, args[0])
				if err != nil {
					return err
				}
				p := domain.Operator(domain.CLIActor())
				if grant {
					err = svc.GrantAreaRole(ctx, p, u.ID, args[1], args[2])
				} else {
					err = svc.RevokeAreaRole(ctx, p, u.ID, args[1], args[2])
				}
				if err != nil {
					return failure(op, err, "", "")
				}
				roles, err := svc.AreaRoles(ctx, u.ID)
				if err != nil {
					return failure(op, err, "", "")
				}
				return a.printJSON(map[string]any{"user_id": u.ID, "area_roles": roles})
			})
		},
	}
}
