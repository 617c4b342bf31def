package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/keys"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate and list the token signing keys",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "rotate",
			Short: "Retire the active key, promote the next one and create a new next key",
			Long: "Retire the active key, promote the next one and create a new next key.\n" +
				"The retired key stays published until every token it signed has expired.",
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.withKeys(cmd.Context(), func(ctx context.Context, m *keys.Manager) error {
					// Rotation needs an active and a next key to swap; on a
					// new database there are none yet.
					if err := m.Ensure(ctx); err != nil {
						return fmt.Errorf("keys rotate: %w", err)
					}
					if _, err := m.Rotate(ctx); err != nil {
						return fmt.Errorf("keys rotate: %w", err)
					}
					// Print the whole set: the operator needs to see the
					// retired key's verify_until as well as the new key.
					list, err := m.List(ctx)
					if err != nil {
						return fmt.Errorf("keys rotate: %w", err)
					}
					return a.printJSON(list)
				})
			},
		},
		&cobra.Command{
			Use:   "list",
			Short: "List the signing keys (without key material)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.withKeys(cmd.Context(), func(ctx context.Context, m *keys.Manager) error {
					list, err := m.List(ctx)
					if err != nil {
						return fmt.Errorf("keys list: %w", err)
					}
					if list == nil {
						list = []keys.Info{}
					}
					return a.printJSON(list)
				})
			},
		},
	)
	return cmd
}

// withKeys runs fn with a key manager configured as the server configures
// its own, so that keys made here are the ones the server would make.
func (a *app) withKeys(ctx context.Context, fn func(context.Context, *keys.Manager) error) error {
	if err := a.cfg.ValidateFields("secret", "signing_algorithm", "lifetimes"); err != nil {
		return err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := keys.NewManager(st, []byte(a.cfg.Secret), keys.Options{
		Algorithm: a.cfg.SigningAlgorithm,
		// A retired key must verify every token it signed until that token
		// expires.
		RetireAfter: max(a.cfg.Lifetimes.IDToken, a.cfg.Lifetimes.AccessToken),
	})
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return fn(ctx, m)
}
