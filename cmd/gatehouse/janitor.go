package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/janitor"
)

// newJanitorCmd runs one janitor pass: what every `serve` does in the
// background every janitor.interval, for operators who want it now (after a
// bulk revocation) or from a scheduler instead.
func newJanitorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "janitor",
		Short: "Delete expired codes, tokens, PAR requests, login sessions, JWT ids, old sign-in failure counts and retired keys once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.cfg.ValidateFields("janitor"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := janitor.New(st, janitor.Options{BatchSize: a.cfg.Janitor.BatchSize, Now: a.now, Logger: a.logger,
				SignInFailureWindow: a.cfg.Login.Lockout, UnusedClientTTL: a.cfg.ClientRegistration.UnusedClientTTL,
				RoleGrants: a.newService(a.cfg, st)}).RunOnce(cmd.Context())
			if err != nil {
				return err
			}
			return a.printJSON(res)
		},
	}
}
