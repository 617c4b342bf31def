package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// resetPasswordResult is what users reset-password prints: the address the
// link was queued for, or, when SMTP is off, the link itself.
type resetPasswordResult struct {
	UserID string `json:"user_id"`
	// SentTo is the address the link was queued for (SMTP on); a running
	// server's outbox sender delivers it.
	SentTo string `json:"sent_to,omitempty"`
	// Link is the reset link (SMTP off): hand it to the user yourself.
	Link string `json:"link,omitempty"`
}

func newUsersResetPasswordCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password USER",
		Short: "Send a user a single-use password-reset link (or print it when SMTP is off)",
		Long: "Send a user a single-use password-reset link, valid recovery.ticket_lifetime. With SMTP\n" +
			"configured the link is queued in the mail outbox, which a running server sends, and the\n" +
			"output names the address. Without SMTP the output carries the link itself, for the operator\n" +
			"to hand over: it is a secret until used. Either way the audit log records that a link was\n" +
			"made (password.reset_send or password.reset_link), never the link.",
		Args: cobra.ExactArgs(1),
		RunE: a.onUser("users reset-password", func(ctx context.Context, svc *domain.Service, u store.User, what string) error {
			op := domain.Operator(domain.CLIActor())
			if svc.MailEnabled() {
				if err := svc.SendPasswordReset(ctx, op, u.ID); err != nil {
					return failure("users reset-password", err, what, "")
				}
				return a.printJSON(resetPasswordResult{UserID: u.ID, SentTo: u.Email})
			}
			link, err := svc.PasswordResetLink(ctx, op, u.ID)
			if err != nil {
				return failure("users reset-password", err, what, "")
			}
			return a.printJSON(resetPasswordResult{UserID: u.ID, Link: link})
		}),
	}
}
