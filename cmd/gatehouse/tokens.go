package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newTokensCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Issue, list and revoke API tokens for the resource API",
		Long: "API tokens (gh_pat_...) are named, scoped, expiring bearer tokens for scripts and services:\n" +
			"personal (a user for itself, never wider than its own permissions), user (made for a user\n" +
			"by an operator) and system (bound to a service account: a client_credentials client with\n" +
			"roles). The secret is printed once, by create; only its digest is stored.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTokensCreateCmd(a), newTokensListCmd(a), newTokensRevokeCmd(a))
	return cmd
}

type tokenCreateFlags struct {
	name, kind, user, client string
	scopes                   []string
	expiresIn                time.Duration
}

func newTokensCreateCmd(a *app) *cobra.Command {
	var f tokenCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Issue an API token and print it with its secret (shown only this once)",
		Example: "  gatehouse tokens create --name laptop --kind personal --user alice --scope users:read --expires-in 720h\n" +
			"  gatehouse tokens create --name nightly-sync --kind system --client batch",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := domain.NewAPIToken{
				Name:      f.name,
				Kind:      store.APITokenKind(f.kind),
				Scopes:    f.scopes,
				ExpiresIn: f.expiresIn,
			}
			switch in.Kind {
			case store.TokenPersonal, store.TokenUser:
				if f.user == "" || f.client != "" {
					return fmt.Errorf("tokens create: a %s token needs --user (and no --client)", f.kind)
				}
			case store.TokenSystem:
				if f.client == "" || f.user != "" {
					return fmt.Errorf("tokens create: a system token needs --client (and no --user)")
				}
			default:
				return fmt.Errorf("tokens create: --kind must be personal, user or system, got %q", f.kind)
			}
			if f.expiresIn < 0 {
				return fmt.Errorf("tokens create: --expires-in must not be negative, got %s", f.expiresIn)
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				p := cliPrincipal()
				if f.user != "" {
					u, err := userRef(ctx, svc, st, "tokens create", f.user)
					if err != nil {
						return err
					}
					in.UserID = u.ID
					if in.Kind == store.TokenPersonal {
						// A personal token is the user's own, so it is
						// issued as the user would issue it: limited by
						// the user's own permissions (tokens:self among
						// them), not by the CLI's. Only the actor stays
						// the CLI, for the audit log.
						if p, err = svc.UserPrincipal(ctx, u); err != nil {
							if errors.Is(err, domain.ErrUnauthenticated) {
								return fmt.Errorf("tokens create: user %q is %s, not active: it cannot have a personal token", f.user, u.Status)
							}
							return failure("tokens create", err, fmt.Sprintf("user %q", f.user), "")
						}
						p.Actor = domain.CLIActor()
					}
				}
				in.ClientID = f.client
				t, secret, err := svc.IssueAPIToken(ctx, p, in)
				if err != nil {
					return failure("tokens create", err, "the user or client", fmt.Sprintf("token %q could not be stored", f.name))
				}
				return a.printJSON(admin.NewAPITokenView(t, secret))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "what the token is for (required)")
	fl.StringVar(&f.kind, "kind", string(store.TokenPersonal), "personal, user or system")
	fl.StringVar(&f.user, "user", "", "the user a personal or user token acts as (id or username)")
	fl.StringVar(&f.client, "client", "", "the service account (client id) a system token acts as")
	fl.StringArrayVar(&f.scopes, "scope", nil, "permission the token may use, e.g. users:read (repeatable; default all of its principal's)")
	fl.DurationVar(&f.expiresIn, "expires-in", 0, "lifetime, e.g. 720h (default and maximum: 90 days, 365 days for system tokens)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTokensListCmd(a *app) *cobra.Command {
	var user, client string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens, newest first (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
				userID := ""
				if user != "" {
					u, err := userRef(ctx, svc, st, "tokens list", user)
					if err != nil {
						return err
					}
					userID = u.ID
				}
				all, err := svc.ListAPITokens(ctx, cliPrincipal())
				if err != nil {
					return failure("tokens list", err, "", "")
				}
				out := make([]admin.APITokenView, 0, len(all))
				for _, t := range all {
					if (userID == "" || t.UserID == userID) && (client == "" || t.ClientID == client) {
						out = append(out, admin.NewAPITokenView(t, ""))
					}
				}
				return a.printJSON(out)
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "only the tokens acting as this user (id or username)")
	cmd.Flags().StringVar(&client, "client", "", "only the system tokens of this client")
	return cmd
}

func newTokensRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token; the next request made with it is refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				if err := svc.RevokeAPIToken(ctx, cliPrincipal(), args[0]); err != nil {
					return failure("tokens revoke", err, fmt.Sprintf("token %q (or it is already revoked)", args[0]), "")
				}
				return a.printJSON(map[string]string{"revoked": args[0]})
			})
		},
	}
}
