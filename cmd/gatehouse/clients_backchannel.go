package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// addBackchannelFlags adds the back-channel logout flags of clients create
// and clients update.
func addBackchannelFlags(fl *pflag.FlagSet, uri *string, sessionRequired *bool) {
	fl.StringVar(uri, "backchannel-logout-uri", "", "where logout tokens are POSTed when a session the client received tokens in ends\n"+
		"(OpenID Connect Back-Channel Logout; https, or http on a loopback host; \"\" for none)")
	fl.BoolVar(sessionRequired, "backchannel-logout-session-required", false, "the client needs sid in its logout tokens")
}

// newClientsUpdateCmd changes what a registered client may change from the
// command line; the flags given are changed, the others left alone.
func newClientsUpdateCmd(a *app) *cobra.Command {
	var uri string
	var sessionRequired bool
	var access accessUpdateFlags
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change a client's settings (the flags given; others are left alone)",
		Example: "  gatehouse clients update web --backchannel-logout-uri https://app.example/backchannel-logout\n" +
			"  gatehouse clients update web --backchannel-logout-uri \"\"\n" +
			"  gatehouse clients update web --access-role manager --access-area emea\n" +
			"  gatehouse clients update web --clear-access",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p domain.ClientPatch
			if cmd.Flags().Changed("backchannel-logout-uri") {
				p.BackchannelLogoutURI = &uri
			}
			if cmd.Flags().Changed("backchannel-logout-session-required") {
				p.BackchannelLogoutSessionRequired = &sessionRequired
			}
			if p == (domain.ClientPatch{}) && !accessFlagsGiven(cmd) {
				return fmt.Errorf("clients update: no change given (see --help for the flags)")
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				// App access rules (appaccess).
				if err := access.patch(ctx, cmd, svc, args[0], &p); err != nil {
					return failure("clients update", err, fmt.Sprintf("client %q", args[0]), "")
				}
				c, err := svc.UpdateClient(ctx, domain.CLIActor(), args[0], p)
				if err != nil {
					return failure("clients update", err, fmt.Sprintf("client %q", args[0]), "")
				}
				return a.printJSON(admin.NewClientView(c))
			})
		},
	}
	addBackchannelFlags(cmd.Flags(), &uri, &sessionRequired)
	addAccessUpdateFlags(cmd, &access)
	return cmd
}
