package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/migrations"
)

func newMigrateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or inspect the database migrations",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Apply every pending migration, then print the status",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				url, err := a.databaseURL()
				if err != nil {
					return err
				}
				if err := migrations.Up(cmd.Context(), url); err != nil {
					return fmt.Errorf("migrate up: %w", err)
				}
				return a.printMigrationStatus(cmd.Context(), url)
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "List the migrations and whether each is applied",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				url, err := a.databaseURL()
				if err != nil {
					return err
				}
				return a.printMigrationStatus(cmd.Context(), url)
			},
		},
	)
	return cmd
}

type migrationView struct {
	Version   int64      `json:"version"`
	Name      string     `json:"name"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

func (a *app) printMigrationStatus(ctx context.Context, url string) error {
	status, err := migrations.Status(ctx, url)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	out := make([]migrationView, 0, len(status))
	for _, m := range status {
		v := migrationView{Version: m.Version, Name: m.Name, Applied: m.Applied}
		if m.Applied {
			at := m.AppliedAt
			v.AppliedAt = &at
		}
		out = append(out, v)
	}
	return a.printJSON(out)
}
