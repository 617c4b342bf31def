package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newUsersCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create, list, change and delete users",
		Long: "Create, list, change and delete users. Every change goes through the same rules as the\n" +
			"resource API and leaves an audit entry with the CLI as actor. A USER argument is a user id\n" +
			"or a username.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newUsersCreateCmd(a),
		newUsersListCmd(a),
		newUsersGetCmd(a),
		newUsersUpdateCmd(a),
		newUsersStatusCmd(a, "lock", store.StatusLocked, "Lock a user: it cannot sign in, its sessions end and its tokens stop working"),
		newUsersStatusCmd(a, "unlock", store.StatusActive, "Unlock (or re-activate) a user"),
		newUsersDeleteCmd(a),
		newUsersSetPasswordCmd(a),
		newUsersResetPasswordCmd(a),
		newUsersSetRolesCmd(a),
		newUsersIPRulesCmd(a),
		newUsersResetMFACmd(a),
		// Bulk import and export (bulk.go).
		newUsersImportCmd(a),
		newUsersExportCmd(a),
	)
	// Time-boxed role grants and denied permissions (permissions.go).
	cmd.AddCommand(newUsersPermissionCmds(a)...)
	return cmd
}

// newUsersResetMFACmd removes a user's second factors (authenticator
// apps and passkeys) and recovery codes, as DELETE /api/v1/users/{id}/mfa
// does, for someone locked out by a lost phone or key (audited mfa.reset).
func newUsersResetMFACmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset-mfa USER",
		Short: "Remove a user's authenticator apps, passkeys and recovery codes (they sign in with the password again)",
		Args:  cobra.ExactArgs(1),
		RunE: a.onUser("users reset-mfa", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
			if err := svc.ResetMFA(ctx, domain.Operator(domain.CLIActor()), u.ID); err != nil {
				return failure("users reset-mfa", err, who, "")
			}
			return a.printJSON(struct {
				Reset    string `json:"mfa_reset"`
				Username string `json:"username"`
			}{u.ID, u.Username})
		}),
	}
}

type userCreateFlags struct {
	username, email, password, fullName, department, status, expiresAt string
	passwordStdin, emailVerified                                       bool
	roles, goals                                                       []string
	profile                                                            profileFlags
}

func newUsersCreateCmd(a *app) *cobra.Command {
	var f userCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user and print it",
		Long: "Create a user and print it. Without --status, a user given roles is active and a user\n" +
			"without roles is pending: it can sign in only to request access.",
		Example: "  gatehouse users create --username alice --email alice@example.com --password-stdin --role admin\n" +
			"  gatehouse users create --username bob --email bob@example.com --password 'correct horse battery'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.passwordStdin {
				p, err := readPasswordLine(cmd, "users create")
				if err != nil {
					return err
				}
				f.password = p
			}
			in := domain.NewUser{
				Username:      f.username,
				Email:         f.email,
				Password:      f.password,
				FullName:      f.fullName,
				Department:    f.department,
				Goals:         f.goals,
				Status:        store.UserStatus(f.status),
				Roles:         f.roles,
				EmailVerified: f.emailVerified,
			}
			f.profile.create(&in)
			if f.expiresAt != "" {
				t, err := time.Parse(time.RFC3339, f.expiresAt)
				if err != nil {
					return fmt.Errorf("users create: --expires-at must be an RFC 3339 time such as 2030-01-31T00:00:00Z, got %q", f.expiresAt)
				}
				in.ExpiresAt = &t
			}
			return a.withService(cmd.Context(), func(svc *domain.Service, _ store.Store) error {
				u, err := svc.CreateUser(cmd.Context(), domain.CLIActor(), in)
				if err != nil {
					return failure("users create", err, "a role in --role", fmt.Sprintf("a user with username %q or email %q already exists", f.username, f.email))
				}
				return a.printUser(cmd.Context(), svc, u)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.username, "username", "", "username: 3-50 lowercase letters, digits, '.', '_' or '-' (required)")
	fl.StringVar(&f.email, "email", "", "email address (required)")
	fl.StringVar(&f.password, "password", "", "password (visible to other local users in the process list; prefer --password-stdin)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.StringVar(&f.fullName, "full-name", "", "full name")
	fl.StringVar(&f.department, "department", "", "department")
	fl.StringArrayVar(&f.goals, "goal", nil, "goal (repeatable)")
	fl.StringArrayVar(&f.roles, "role", nil, "role to assign (repeatable)")
	fl.StringVar(&f.status, "status", "", "initial status: active or pending (default: active with --role, pending without)")
	fl.BoolVar(&f.emailVerified, "email-verified", false, "mark the email address as verified")
	fl.StringVar(&f.expiresAt, "expires-at", "", "RFC 3339 time after which the user can no longer sign in")
	f.profile.register(cmd, false)
	_ = cmd.MarkFlagRequired("username")
	_ = cmd.MarkFlagRequired("email")
	cmd.MarkFlagsOneRequired("password", "password-stdin")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
	return cmd
}

func readPasswordLine(cmd *cobra.Command, op string) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: read password from stdin: %w", op, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newUsersListCmd(a *app) *cobra.Command {
	var filter store.UserFilter
	var status, group, after string
	var area string // areas
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users ordered by username",
		Long: "List users ordered by username, at most --limit (capped at 200) of them. To page, pass\n" +
			"the last username printed as --after.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if filter.Limit < 1 {
				return fmt.Errorf("users list: --limit must be at least 1, got %d", filter.Limit)
			}
			filter.Status = store.UserStatus(status)
			if after != "" {
				filter.After = &store.UserKey{Username: after}
			}
			// One time for the filter and the output, as the API does.
			filter.Now = a.now()
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				if group != "" {
					g, _, err := resolveGroup(ctx, svc, group)
					if err != nil {
						return failure("users list", err, fmt.Sprintf("group %q", group), "")
					}
					filter.Group = g.ID
				}
				// Areas: the members of the area's subtree.
				if area != "" {
					ar, err := svc.GetArea(ctx, area)
					if err != nil {
						return failure("users list", err, "", "")
					}
					filter.Area = ar.ID
				}
				users, err := svc.ListUsers(ctx, filter)
				if err != nil {
					return failure("users list", err, "", "")
				}
				out, err := listUsers(ctx, svc, filter.Now, users)
				if err != nil {
					return failure("users list", err, "", "")
				}
				return a.printJSON(out)
			})
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&filter.Limit, "limit", 100, "maximum number of users to print (at most 200)")
	fl.StringVar(&after, "after", "", "print only users whose username sorts after this one (paging)")
	fl.StringVar(&filter.Query, "query", "", "case-insensitive substring of username, email or full name")
	fl.StringVar(&status, "status", "", "only users with this status: pending, active, locked, disabled or expired (past --expires-at)")
	fl.StringVar(&filter.Role, "role", "", "only users with this role")
	fl.StringVar(&group, "group", "", "only members of this group (id or name)")
	fl.StringVar(&area, "area", "", "only members of this area or an area below it (by code)")
	return cmd
}

func newUsersGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get USER",
		Short: "Print one user, by id or username",
		Args:  cobra.ExactArgs(1),
		RunE: a.onUser("users get", func(ctx context.Context, svc *domain.Service, u store.User, _ string) error {
			return a.printUser(ctx, svc, u)
		}),
	}
}

type userUpdateFlags struct {
	username, email, fullName, department, expiresAt, sessionLimit string
	goals                                                          []string
	clearGoals, emailVerified                                      bool
	profile                                                        profileFlags
}

// patch builds the partial update from the flags that were given; a flag
// left out leaves its field alone.
func (f *userUpdateFlags) patch(cmd *cobra.Command) (domain.UserPatch, error) {
	var p domain.UserPatch
	changed := cmd.Flags().Changed
	if changed("username") {
		p.Username = &f.username
	}
	if changed("email") {
		p.Email = &f.email
	}
	if changed("full-name") {
		p.FullName = &f.fullName
	}
	if changed("department") {
		p.Department = &f.department
	}
	if changed("email-verified") {
		p.EmailVerified = &f.emailVerified
	}
	if f.clearGoals && changed("goal") {
		return p, fmt.Errorf("--goal and --clear-goals cannot be combined")
	}
	if changed("goal") {
		p.Goals = &f.goals
	}
	if f.clearGoals {
		none := []string{}
		p.Goals = &none
	}
	if changed("expires-at") {
		var at *time.Time
		if f.expiresAt != "none" {
			t, err := time.Parse(time.RFC3339, f.expiresAt)
			if err != nil {
				return p, fmt.Errorf("--expires-at must be an RFC 3339 time such as 2030-01-31T00:00:00Z, or none, got %q", f.expiresAt)
			}
			at = &t
		}
		p.ExpiresAt = &at
	}
	if changed("session-limit") {
		var n *int
		if f.sessionLimit != "default" {
			v, err := strconv.Atoi(f.sessionLimit)
			if err != nil {
				return p, fmt.Errorf("--session-limit must be a number (0 for no limit) or default, got %q", f.sessionLimit)
			}
			n = &v
		}
		p.SessionLimit = &n
	}
	f.profile.patch(cmd, &p)
	if p == (domain.UserPatch{}) {
		return p, fmt.Errorf("nothing to change: give at least one of --username, --email, --full-name, --department, --goal, --clear-goals, --email-verified, --expires-at, --session-limit, " +
			"--phone-number, --phone-number-verified, --given-name, --family-name, --locale, --zoneinfo, --picture, --break-glass")
	}
	return p, nil
}

func newUsersUpdateCmd(a *app) *cobra.Command {
	var f userUpdateFlags
	cmd := &cobra.Command{
		Use:   "update USER",
		Short: "Change a user's profile fields; fields not named keep their value",
		Example: "  gatehouse users update alice --department Trading --goal 'Reduce execution slippage' --goal 'Track intraday P&L'\n" +
			"  gatehouse users update alice --expires-at 2030-01-31T00:00:00Z\n" +
			"  gatehouse users update alice --expires-at none --clear-goals",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.patch(cmd)
			if err != nil {
				return fmt.Errorf("users update: %w", err)
			}
			return a.onUser("users update", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				u, err := svc.UpdateUser(ctx, domain.Operator(domain.CLIActor()), u.ID, p)
				if err != nil {
					return failure("users update", err, who, "the username or email is taken by another user")
				}
				return a.printUser(ctx, svc, u)
			})(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.username, "username", "", "new username")
	fl.StringVar(&f.email, "email", "", "new email address")
	fl.StringVar(&f.fullName, "full-name", "", "new full name")
	fl.StringVar(&f.department, "department", "", "new department")
	fl.StringArrayVar(&f.goals, "goal", nil, "goal (repeatable; replaces the whole list)")
	fl.BoolVar(&f.clearGoals, "clear-goals", false, "remove every goal")
	fl.BoolVar(&f.emailVerified, "email-verified", false, "mark the email address verified (--email-verified=false to unmark)")
	fl.StringVar(&f.expiresAt, "expires-at", "", "RFC 3339 expiry time, or none to remove it")
	fl.StringVar(&f.sessionLimit, "session-limit", "", "most live login sessions (0: no limit), or default for sessions.limit")
	f.profile.register(cmd, true)
	return cmd
}

func newUsersStatusCmd(a *app, use string, status store.UserStatus, short string) *cobra.Command {
	op := "users " + use
	return &cobra.Command{
		Use:   use + " USER",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: a.onUser(op, func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
			u, err := svc.SetUserStatus(ctx, domain.Operator(domain.CLIActor()), u.ID, status)
			if err != nil {
				return failure(op, err, who, "")
			}
			return a.printUser(ctx, svc, u)
		}),
	}
}

func newUsersDeleteCmd(a *app) *cobra.Command {
	var hard bool
	cmd := &cobra.Command{
		Use:   "delete USER",
		Short: "Disable a user (soft delete), or with --hard remove it and everything it owns",
		Long: "Without --hard the user is disabled: it cannot sign in, its sessions end, and its record\n" +
			"stays for the audit trail (unlock re-activates it). With --hard the user and its sessions,\n" +
			"grants, tokens, group memberships and access requests are removed; only the audit entry remains.",
		Args: cobra.ExactArgs(1),
		RunE: a.onUser("users delete", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
			if err := svc.DeleteUser(ctx, domain.Operator(domain.CLIActor()), u.ID, hard); err != nil {
				return failure("users delete", err, who, "")
			}
			return a.printJSON(struct {
				Deleted  string `json:"deleted"`
				Username string `json:"username"`
				Hard     bool   `json:"hard"`
			}{u.ID, u.Username, hard})
		}),
	}
	cmd.Flags().BoolVar(&hard, "hard", false, "delete permanently instead of disabling")
	return cmd
}

func newUsersSetPasswordCmd(a *app) *cobra.Command {
	var password string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "set-password USER",
		Short: "Replace a user's password (the policy applies; the audit entry records only that it changed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fromStdin {
				p, err := readPasswordLine(cmd, "users set-password")
				if err != nil {
					return err
				}
				password = p
			}
			return a.onUser("users set-password", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				if err := svc.SetPassword(ctx, domain.Operator(domain.CLIActor()), u.ID, nil, password); err != nil {
					return failure("users set-password", err, who, "")
				}
				u, err := svc.GetUser(ctx, u.ID)
				if err != nil {
					return failure("users set-password", err, who, "")
				}
				return a.printUser(ctx, svc, u)
			})(cmd, args)
		},
	}
	cmd.Flags().StringVar(&password, "password", "", "the new password (visible in the process list; prefer --password-stdin)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from the first line of standard input")
	cmd.MarkFlagsOneRequired("password", "password-stdin")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
	return cmd
}

func newUsersSetRolesCmd(a *app) *cobra.Command {
	var roles []string
	var none bool
	cmd := &cobra.Command{
		Use:     "set-roles USER",
		Short:   "Replace a user's directly assigned roles",
		Example: "  gatehouse users set-roles alice --role manager --role trader\n  gatehouse users set-roles alice --none",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if none {
				roles = []string{}
			}
			return a.onUser("users set-roles", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				u, err := svc.SetUserRoles(ctx, domain.Operator(domain.CLIActor()), u.ID, roles)
				if err != nil {
					return failure("users set-roles", err, who+" or a role in --role", "")
				}
				return a.printUser(ctx, svc, u)
			})(cmd, args)
		},
	}
	cmd.Flags().StringArrayVar(&roles, "role", nil, "role (repeatable; the list replaces the current one)")
	cmd.Flags().BoolVar(&none, "none", false, "remove every directly assigned role")
	cmd.MarkFlagsOneRequired("role", "none")
	cmd.MarkFlagsMutuallyExclusive("role", "none")
	return cmd
}

func newUsersIPRulesCmd(a *app) *cobra.Command {
	var allow, deny []string
	var clearAll bool
	cmd := &cobra.Command{
		Use:   "ip-rules USER",
		Short: "Print or replace a user's IP allow and deny rules",
		Long: "Print or replace a user's IP allow and deny rules (CIDR prefixes or single addresses, IPv4\n" +
			"or IPv6). A deny rule wins; an empty allow list allows every address not denied. Without flags\n" +
			"the rules are printed. --allow replaces the allow list and --deny the deny list (the other one\n" +
			"is kept); --clear removes both first.",
		Example: "  gatehouse users ip-rules alice\n" +
			"  gatehouse users ip-rules alice --allow 10.0.0.0/8 --allow 2001:db8::/32 --deny 10.9.9.9\n" +
			"  gatehouse users ip-rules alice --clear",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			return a.onUser("users ip-rules", func(ctx context.Context, svc *domain.Service, u store.User, who string) error {
				rules := domain.IPRulesOf(u)
				if !clearAll && !changed("allow") && !changed("deny") {
					return a.printJSON(rules)
				}
				if clearAll {
					rules = domain.IPRules{Allow: []string{}, Deny: []string{}}
				}
				if changed("allow") {
					rules.Allow = allow
				}
				if changed("deny") {
					rules.Deny = deny
				}
				u, err := svc.SetIPRules(ctx, domain.Operator(domain.CLIActor()), u.ID, rules)
				if err != nil {
					return failure("users ip-rules", err, who, "")
				}
				return a.printJSON(domain.IPRulesOf(u))
			})(cmd, args)
		},
	}
	cmd.Flags().StringArrayVar(&allow, "allow", nil, "CIDR prefix or address the user may act from (repeatable; replaces the allow list)")
	cmd.Flags().StringArrayVar(&deny, "deny", nil, "CIDR prefix or address the user may never act from (repeatable; replaces the deny list)")
	cmd.Flags().BoolVar(&clearAll, "clear", false, "remove every rule (before applying --allow and --deny)")
	return cmd
}

// onUser is the RunE of a users command whose argument is one USER: it
// resolves args[0] (userRef, which reports a user not found) and runs act
// on the user; who names it for act's own failure messages.
func (a *app) onUser(op string, act func(ctx context.Context, svc *domain.Service, u store.User, who string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		return a.withService(ctx, func(svc *domain.Service, st store.Store) error {
			u, err := userRef(ctx, svc, st, op, args[0])
			if err != nil {
				return err
			}
			return act(ctx, svc, u, fmt.Sprintf("user %q", args[0]))
		})
	}
}

// userRef is used by commands of other groups that take a user argument.
func userRef(ctx context.Context, svc *domain.Service, st store.Users, op, ref string) (store.User, error) {
	u, err := resolveUser(ctx, svc, st, ref)
	if err != nil {
		return store.User{}, failure(op, err, fmt.Sprintf("user %q", ref), "")
	}
	return u, nil
}

// printUser prints one user as GET /api/v1/users/{id} shows it.
func (a *app) printUser(ctx context.Context, svc *domain.Service, u store.User) error {
	v, err := showUser(ctx, svc, a.now(), u)
	if err != nil {
		return err
	}
	return a.printJSON(v)
}
