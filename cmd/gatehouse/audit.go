package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAuditListCmd(a), newAuditVerifyCmd(a))
	return cmd
}

// auditVerification is what audit verify prints: the store's finding and
// a status a script can test without knowing the fields.
type auditVerification struct {
	Status string `json:"status"` // "ok" or "broken"
	store.AuditVerification
}

func newAuditVerifyCmd(a *app) *cobra.Command {
	var batch int
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain",
		Long: "Walk the audit log oldest first, --batch entries per query, recomputing every entry's\n" +
			"digest from its content and the digest before it. Prints {\"status\": \"ok\", \"checked\": N,\n" +
			"\"head\": <newest digest>} or, at the first entry an edit, a deletion or an insertion broke,\n" +
			"{\"status\": \"broken\", \"break\": {\"id\": <entry>, \"reason\": ...}} and exits 1. Entries\n" +
			"written before the chain began (migration 00012) are counted as \"unchained\". Record the\n" +
			"head somewhere the database's administrators cannot write: whoever can rewrite the table\n" +
			"could recompute every digest after an edit, but not the head you kept.",
		Example: "  gatehouse audit verify\n  gatehouse audit verify --batch 5000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || batch > maxVerifyBatch {
				return fmt.Errorf("audit verify: --batch must be between 1 and %d, got %d", maxVerifyBatch, batch)
			}
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := store.VerifyAuditChain(ctx, st, batch)
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			out := auditVerification{Status: "ok", AuditVerification: v}
			if v.Break != nil {
				out.Status = "broken"
			}
			if err := a.printJSON(out); err != nil {
				return err
			}
			if v.Break != nil {
				return fmt.Errorf("audit verify: chain broken at entry %d: %s", v.Break.ID, v.Break.Reason)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&batch, "batch", 1000, fmt.Sprintf("entries read per query (at most %d)", maxVerifyBatch))
	return cmd
}

// maxVerifyBatch bounds what one query of audit verify holds in memory.
const maxVerifyBatch = 10000

func newAuditListCmd(a *app) *cobra.Command {
	var f store.AuditFilter
	var since, until string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest first",
		Long: "List audit entries, newest first, at most --limit (capped at 200) of them. To page, pass\n" +
			"the smallest id printed as --before.",
		Example: "  gatehouse audit list --action user. --since 2025-01-01T00:00:00Z\n" +
			"  gatehouse audit list --target 0b6f...-user-id --limit 20",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 1 {
				return fmt.Errorf("audit list: --limit must be at least 1, got %d", f.Limit)
			}
			if f.Before < 0 {
				return fmt.Errorf("audit list: --before must be a positive entry id, got %d", f.Before)
			}
			for _, t := range []struct {
				flag, value string
				out         **time.Time
			}{{"--since", since, &f.Since}, {"--until", until, &f.Until}} {
				if t.value == "" {
					continue
				}
				at, err := time.Parse(time.RFC3339, t.value)
				if err != nil {
					return fmt.Errorf("audit list: %s must be an RFC 3339 time such as 2025-01-31T00:00:00Z, got %q", t.flag, t.value)
				}
				*t.out = &at
			}
			// Entries show actors as user:<id> or client:<id>; either form
			// filters, as in the API.
			if typ, id, ok := strings.Cut(f.ActorID, ":"); ok && (typ == string(store.ActorUser) || typ == string(store.ActorClient)) {
				f.ActorID = id
			}
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				entries, err := svc.ListAudit(ctx, f)
				if err != nil {
					return failure("audit list", err, "", "")
				}
				return a.printJSON(views(entries, admin.NewAuditEntryView))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ActorID, "actor", "", "only entries by this actor: a user or client id, or user:<id> / client:<id>")
	fl.StringVar(&f.Action, "action", "", "only this action (user.create), or a prefix ending in '.' (user.)")
	fl.StringVar(&f.TargetID, "target", "", "only entries about this target id")
	fl.StringVar(&since, "since", "", "only entries at or after this RFC 3339 time")
	fl.StringVar(&until, "until", "", "only entries before this RFC 3339 time")
	fl.IntVar(&f.Limit, "limit", 100, "maximum number of entries to print (at most 200)")
	fl.Int64Var(&f.Before, "before", 0, "only entries with an id below this one (paging)")
	return cmd
}
