package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Time-boxed role grants, denied permissions and custom permissions: the
// CLI's side of admin/permissions.go. Every change goes through the domain
// as the operator (audited with the CLI as actor).

// newUsersPermissionCmds are the users subcommands of this feature.
func newUsersPermissionCmds(a *app) []*cobra.Command {
	return []*cobra.Command{
		newUsersGrantRoleCmd(a),
		newUsersRevokeRoleCmd(a),
		newUsersGrantsCmd(a),
		newUsersDenyCmd(a),
		newUsersPermissionsCmd(a),
	}
}

// parseExpiresIn reads a grant's lifetime: whole days ("7d") or a Go
// duration ("36h", "90m"); it must be positive.
func parseExpiresIn(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("--expires-in must be whole days such as 7d or a duration such as 36h, got %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("--expires-in must be whole days such as 7d or a duration such as 36h, got %q", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("--expires-in must be positive, got %q", s)
	}
	return d, nil
}

// grantExpiry is the instant of --expires-in or --expires-at (nil for
// neither: for good).
func grantExpiry(now time.Time, in, at string) (*time.Time, error) {
	switch {
	case in != "":
		d, err := parseExpiresIn(in)
		if err != nil {
			return nil, err
		}
		t := now.Add(d).UTC()
		return &t, nil
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, fmt.Errorf("--expires-at must be an RFC 3339 time such as 2030-01-31T00:00:00Z, got %q", at)
		}
		return &t, nil
	}
	return nil, nil
}

func newUsersGrantRoleCmd(a *app) *cobra.Command {
	var role, expiresIn, expiresAt string
	cmd := &cobra.Command{
		Use:   "grant-role USER",
		Short: "Give a user one more role, for good or until an expiry; its other roles are kept",
		Long: "Give a user one more role, keeping its other roles and their expiries. With --expires-in or\n" +
			"--expires-at the assignment stops counting at that instant (the janitor then removes it and\n" +
			"audits user.role.expire); without, it is for good, and a time-boxed assignment of the role\n" +
			"becomes permanent. Prints the user, whose role_grants show each expiry.",
		Example: "  gatehouse users grant-role alice --role manager --expires-in 7d\n" +
			"  gatehouse users grant-role alice --role manager --expires-at 2030-01-31T00:00:00Z\n" +
			"  gatehouse users grant-role alice --role trader",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			until, err := grantExpiry(a.now(), expiresIn, expiresAt)
			if err != nil {
				return fmt.Errorf("users grant-role: %w", err)
			}
			return a.onUser("users grant-role", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				// The roles held stay as they are (a grant without an
				// expiry keeps the one it has); role is the one change.
				var grants []domain.RoleGrant
				for _, r := range svc.HeldRoles(u) {
					if r != role {
						grants = append(grants, domain.RoleGrant{Role: r})
					}
				}
				grants = append(grants, domain.RoleGrant{Role: role, ExpiresAt: until, Permanent: until == nil})
				u, err := svc.SetUserRoleGrants(ctx, domain.Operator(domain.CLIActor()), u.ID, grants)
				if err != nil {
					return failure("users grant-role", err, who, "")
				}
				return a.printUser(ctx, svc, u)
			})(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&role, "role", "", "the role to grant (required)")
	fl.StringVar(&expiresIn, "expires-in", "", "how long the grant lasts: whole days (7d) or a duration (36h)")
	fl.StringVar(&expiresAt, "expires-at", "", "RFC 3339 instant the grant stops counting")
	_ = cmd.MarkFlagRequired("role")
	cmd.MarkFlagsMutuallyExclusive("expires-in", "expires-at")
	return cmd
}

func newUsersRevokeRoleCmd(a *app) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "revoke-role USER",
		Short: "Take one directly assigned role from a user; its other roles and their expiries are kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onUser("users revoke-role", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				held := svc.HeldRoles(u)
				if !slices.Contains(held, role) {
					return fmt.Errorf("users revoke-role: %s does not hold the role %q directly", who, role)
				}
				grants := []domain.RoleGrant{}
				for _, r := range held {
					if r != role {
						grants = append(grants, domain.RoleGrant{Role: r})
					}
				}
				u, err := svc.SetUserRoleGrants(ctx, domain.Operator(domain.CLIActor()), u.ID, grants)
				if err != nil {
					return failure("users revoke-role", err, who, "")
				}
				return a.printUser(ctx, svc, u)
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "the role to take away (required)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newUsersGrantsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "grants USER",
		Short: "List a user's directly assigned roles that count now, each with its expiry (null: for good)",
		Args:  cobra.ExactArgs(1),
		RunE: a.onUser("users grants", func(ctx context.Context, svc *domain.Service, u store.User, _ string) error {
			v, err := showUser(ctx, svc, a.now(), u)
			if err != nil {
				return err
			}
			return a.printJSON(v.RoleGrants)
		}),
	}
}

// deniedView is what the deny commands print.
type deniedView struct {
	UserID            string   `json:"user_id"`
	Username          string   `json:"username"`
	DeniedPermissions []string `json:"denied_permissions"`
}

func newUsersDenyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deny",
		Short: "List, add to or remove from a user's denied permissions (they win over every role and group)",
		Args:  cobra.NoArgs,
	}
	show := func(u store.User) error {
		return a.printJSON(deniedView{UserID: u.ID, Username: u.Username, DeniedPermissions: orEmptyList(u.DeniedPermissions)})
	}
	change := func(use, short string, edit func(cur, perms []string) []string) *cobra.Command {
		op := "users deny " + use
		return &cobra.Command{
			Use:   use + " USER PERMISSION...",
			Short: short,
			Args:  cobra.MinimumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.onUser(op, func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
					u, err := svc.SetDeniedPermissions(ctx, domain.Operator(domain.CLIActor()), u.ID, edit(u.DeniedPermissions, args[1:]))
					if err != nil {
						return failure(op, err, who, "")
					}
					return show(u)
				})(cmd, args)
			},
		}
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list USER",
			Short: "Print a user's denied permissions",
			Args:  cobra.ExactArgs(1),
			RunE: a.onUser("users deny list", func(_ context.Context, _ *domain.Service, u store.User, _ string) error {
				return show(u)
			}),
		},
		change("add", "Deny a user permissions (built-in or custom), whatever its roles grant",
			func(cur, perms []string) []string { return append(slices.Clone(cur), perms...) }),
		change("remove", "Take permissions off a user's deny list",
			func(cur, perms []string) []string {
				return slices.DeleteFunc(slices.Clone(cur), func(p string) bool { return slices.Contains(perms, p) })
			}),
	)
	return cmd
}

func newUsersPermissionsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "permissions USER",
		Short: "Print a user's effective permissions, each with where it comes from and whether it is denied",
		Long: "Print a user's effective permissions as GET /api/v1/users/{id}/permissions does: every\n" +
			"permission a role (own, time-boxed or through a group, with its ancestors) gives and every\n" +
			"denied one, with granted, denied and its sources.",
		Args: cobra.ExactArgs(1),
		RunE: a.onUser("users permissions", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
			u, acc, err := svc.UserAccess(ctx, domain.Operator(domain.CLIActor()), u.ID)
			if err != nil {
				return failure("users permissions", err, who, "")
			}
			return a.printJSON(admin.NewEffectivePermissionsView(u.ID, acc))
		}),
	}
}

func newPermissionsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "permissions",
		Short: "Define, list and delete custom permissions",
		Long: "Custom permissions (resource:action) are names relying parties check, delivered in the\n" +
			"permissions claim; roles carry them like built-in ones (roles update --add-permission).",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newPermissionsListCmd(a), newPermissionsCreateCmd(a), newPermissionsDeleteCmd(a))
	return cmd
}

func newPermissionsListCmd(a *app) *cobra.Command {
	var customOnly bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in and custom permissions by name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				custom, err := svc.ListPermissions(ctx)
				if err != nil {
					return failure("permissions list", err, "", "")
				}
				out := []admin.PermissionView{}
				if !customOnly {
					for _, name := range domain.KnownPermissions() {
						out = append(out, admin.PermissionView{Name: name, BuiltIn: true})
					}
				}
				for _, p := range custom {
					out = append(out, admin.NewPermissionView(p))
				}
				slices.SortFunc(out, func(x, y admin.PermissionView) int { return strings.Compare(x.Name, y.Name) })
				return a.printJSON(out)
			})
		},
	}
	cmd.Flags().BoolVar(&customOnly, "custom", false, "list only the custom permissions")
	return cmd
}

func newPermissionsCreateCmd(a *app) *cobra.Command {
	var p store.Permission
	cmd := &cobra.Command{
		Use:     "create",
		Short:   "Define a custom permission and print it",
		Example: "  gatehouse permissions create --name models:use --description 'Call the models'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				created, err := svc.CreatePermission(ctx, domain.CLIActor(), p)
				if err != nil {
					return failure("permissions create", err, "", fmt.Sprintf("a permission named %q already exists", p.Name))
				}
				return a.printJSON(admin.NewPermissionView(created))
			})
		},
	}
	cmd.Flags().StringVar(&p.Name, "name", "", "resource:action, lowercase (required)")
	cmd.Flags().StringVar(&p.Description, "description", "", "what holding it allows")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newPermissionsDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a custom permission (refused while a role carries it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if domain.IsBuiltInPermission(name) {
				return fmt.Errorf("permissions delete: %s is a built-in permission: it cannot be deleted", name)
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				if err := svc.DeletePermission(ctx, domain.CLIActor(), name); err != nil {
					return failure("permissions delete", err, fmt.Sprintf("permission %q", name), "")
				}
				return a.printJSON(struct {
					Deleted string `json:"deleted"`
				}{name})
			})
		},
	}
}

// newRolesUpdateCmd changes a role's permissions (and description), so that
// custom permissions can be attached to roles that exist.
func newRolesUpdateCmd(a *app) *cobra.Command {
	var add, remove, replace []string
	var description string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a role's permissions or description and print it",
		Long: "Change a role's own permissions: --add-permission and --remove-permission edit the list,\n" +
			"--permission replaces it. The built-in roles' permissions cannot be changed.",
		Example: "  gatehouse roles update analyst --add-permission models:use\n" +
			"  gatehouse roles update analyst --remove-permission models:use",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			if !changed("add-permission") && !changed("remove-permission") && !changed("permission") && !changed("description") {
				return fmt.Errorf("roles update: nothing to change: give --add-permission, --remove-permission, --permission or --description")
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				cur, err := svc.GetRole(ctx, args[0])
				if err != nil {
					return failure("roles update", err, fmt.Sprintf("role %q", args[0]), "")
				}
				var patch domain.RolePatch
				if changed("add-permission") || changed("remove-permission") || changed("permission") {
					perms := slices.Clone(cur.Permissions)
					if changed("permission") {
						perms = replace
					}
					perms = append(perms, add...)
					perms = slices.DeleteFunc(perms, func(p string) bool { return slices.Contains(remove, p) })
					slices.Sort(perms)
					perms = slices.Compact(perms)
					if perms == nil {
						perms = []string{}
					}
					patch.Permissions = &perms
				}
				if changed("description") {
					patch.Description = &description
				}
				r, err := svc.UpdateRole(ctx, domain.CLIActor(), cur.Name, patch)
				if err != nil {
					return failure("roles update", err, fmt.Sprintf("role %q", args[0]), "")
				}
				return a.printJSON(admin.NewRoleView(r))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&add, "add-permission", nil, "permission to add, built-in or custom (repeatable)")
	fl.StringArrayVar(&remove, "remove-permission", nil, "permission to take off (repeatable)")
	fl.StringArrayVar(&replace, "permission", nil, "the role's whole list of own permissions (repeatable)")
	fl.StringVar(&description, "description", "", "new description")
	cmd.MarkFlagsMutuallyExclusive("permission", "add-permission")
	return cmd
}

func orEmptyList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
