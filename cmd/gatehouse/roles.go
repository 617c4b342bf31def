package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/examples"
	"github.com/gatehouse/gatehouse/store"
)

func newRolesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "List, create and import roles",
		Long: "Roles are named, carry permissions and suggested goals, and may inherit one parent.\n" +
			"The built-in roles are admin > manager > user > viewer.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newRolesListCmd(a), newRolesCreateCmd(a), newRolesImportCmd(a))
	// Custom permissions on roles (permissions.go).
	cmd.AddCommand(newRolesUpdateCmd(a))
	return cmd
}

func newRolesListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every role by name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				roles, err := svc.ListRoles(ctx)
				if err != nil {
					return failure("roles list", err, "", "")
				}
				return a.printJSON(views(roles, admin.NewRoleView))
			})
		},
	}
}

func newRolesCreateCmd(a *app) *cobra.Command {
	var r store.Role
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a custom role and print it",
		Example: "  gatehouse roles create --name auditor --parent viewer --permission audit:read \\\n" +
			"      --description 'Reads the audit log' --goal 'Review every role change weekly'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				created, err := svc.CreateRole(ctx, domain.CLIActor(), r)
				if err != nil {
					return failure("roles create", err, fmt.Sprintf("parent role %q", r.Parent), fmt.Sprintf("a role named %q already exists", r.Name))
				}
				return a.printJSON(admin.NewRoleView(created))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&r.Name, "name", "", "role name: 2-50 of a-z, 0-9, '_' and '-' (required)")
	fl.StringVar(&r.Parent, "parent", "", "the role this one inherits from")
	fl.StringArrayVar(&r.Permissions, "permission", nil, "permission of its own, e.g. audit:read (repeatable)")
	fl.StringVar(&r.Description, "description", "", "what the role is for")
	fl.StringArrayVar(&r.SuggestedGoals, "goal", nil, "suggested goal for its holders (repeatable)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newRolesImportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update the roles of a YAML file (- reads standard input)",
		Long: "Create or update the roles of a YAML file, parents before children, in one transaction:\n\n" +
			"  roles:\n" +
			"    - name: trader\n" +
			"      description: Trades on the desk\n" +
			"      parent: user\n" +
			"      permissions: []\n" +
			"      suggested_goals: [Reduce execution slippage]\n\n" +
			"examples/roles.yaml holds the business personas; serve --dev imports it at start.",
		Example: "  gatehouse roles import examples/roles.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readFileOrStdin(cmd, args[0])
			if err != nil {
				return fmt.Errorf("roles import: %w", err)
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				created, updated, err := svc.ImportRoles(ctx, domain.CLIActor(), doc)
				if err != nil {
					return failure("roles import", err, "a parent role", "")
				}
				return a.printJSON(importResult{Created: created, Updated: updated})
			})
		},
	}
}

type importResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

func readFileOrStdin(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}

// importPersonaRoles loads the example business personas into st, so that a
// dev server shows realistic roles and goal suggestions. The system, not
// the CLI, is the actor: no operator asked for it. Roles already there are
// updated to the shipped definitions.
func (a *app) importPersonaRoles(ctx context.Context, svc *domain.Service) error {
	created, updated, err := svc.ImportRoles(ctx, domain.Actor{Type: store.ActorSystem}, examples.Roles())
	if err != nil {
		return fmt.Errorf("serve: import persona roles: %w", err)
	}
	a.logger.InfoContext(ctx, "persona roles imported", "created", created, "updated", updated)
	return nil
}
