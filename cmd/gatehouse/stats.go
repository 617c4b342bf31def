package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// newStatsCmd prints what GET /api/v1/stats answers: the directory's
// counts and the usage analytics over --days, from the same domain calls.
func newStatsCmd(a *app) *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the dashboard's figures: users by status, the review queue, sign-ins, active users, tokens",
		Long: "Print, as GET /api/v1/stats does, the users by status, the pending access requests, the\n" +
			"sign-ins per day, and the usage analytics of the last --days days (1 to 90): sign-ins per day\n" +
			"and per client, active users over 7 and 30 days, tokens issued per grant type. A running\n" +
			"server adds its usage counts to the database every usage.flush_interval, so the last few\n" +
			"seconds of a live server are not counted yet.",
		Example: "  gatehouse stats\n  gatehouse stats --days 7",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				use, err := svc.UsageStats(ctx, days)
				if err != nil {
					return failure(fmt.Sprintf("stats --days %d", days), err, "", "")
				}
				st, err := svc.Stats(ctx)
				if err != nil {
					return failure("stats", err, "", "")
				}
				v := admin.NewStatsView(st)
				v.Usage = admin.NewUsageView(use)
				return a.printJSON(v)
			})
		},
	}
	cmd.Flags().IntVar(&days, "days", domain.DefaultUsageDays, fmt.Sprintf("the usage range in days, 1 to %d", domain.MaxUsageDays))
	return cmd
}
