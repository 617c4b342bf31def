package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newUsersCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create and list users",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newUsersCreateCmd(a), newUsersListCmd(a))
	return cmd
}

// userView is a user as the CLI prints it: every field but the password
// hash, which never leaves the store.
type userView struct {
	ID            string          `json:"id"`
	Username      string          `json:"username"`
	Email         string          `json:"email"`
	FullName      string          `json:"full_name"`
	Department    string          `json:"department"`
	Goals         []string        `json:"goals"`
	Preferences   json.RawMessage `json:"preferences"`
	Status        string          `json:"status"`
	Roles         []string        `json:"roles"`
	EmailVerified bool            `json:"email_verified"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	LastLoginAt   *time.Time      `json:"last_login_at,omitempty"`
	ExpiresAt     *time.Time      `json:"expires_at,omitempty"`
}

func newUserView(u store.User) userView {
	prefs := u.Preferences
	if len(prefs) == 0 {
		prefs = json.RawMessage(`{}`)
	}
	return userView{
		ID:            u.ID,
		Username:      u.Username,
		Email:         u.Email,
		FullName:      u.FullName,
		Department:    u.Department,
		Goals:         orEmpty(u.Goals),
		Preferences:   prefs,
		Status:        string(u.Status),
		Roles:         orEmpty(u.Roles),
		EmailVerified: u.EmailVerified,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
		LastLoginAt:   u.LastLoginAt,
		ExpiresAt:     u.ExpiresAt,
	}
}

type userCreateFlags struct {
	username, email, password, fullName, status string
	passwordStdin                               bool
	roles                                       []string
}

func newUsersCreateCmd(a *app) *cobra.Command {
	var f userCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user and print it",
		Example: "  gatehouse users create --username alice --email alice@example.com --password-stdin --role admin\n" +
			"  gatehouse users create --username bob --email bob@example.com --password 'correct horse battery' --status pending",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.passwordStdin {
				p, err := readPasswordLine(cmd)
				if err != nil {
					return err
				}
				f.password = p
			}
			return a.createUser(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.username, "username", "", "username: 3-50 lowercase letters, digits, '.', '_' or '-' (required)")
	fl.StringVar(&f.email, "email", "", "email address (required)")
	fl.StringVar(&f.password, "password", "", "password (visible to other local users in the process list; prefer --password-stdin)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.StringVar(&f.fullName, "full-name", "", "full name")
	fl.StringArrayVar(&f.roles, "role", nil, "role to assign (repeatable)")
	fl.StringVar(&f.status, "status", string(store.StatusActive), "initial status: active or pending")
	_ = cmd.MarkFlagRequired("username")
	_ = cmd.MarkFlagRequired("email")
	cmd.MarkFlagsOneRequired("password", "password-stdin")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
	return cmd
}

func readPasswordLine(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("users create: read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (a *app) createUser(ctx context.Context, f userCreateFlags) error {
	if err := a.cfg.ValidateFields("password"); err != nil {
		return err
	}
	passwords := domain.Passwords{BcryptCost: a.cfg.Password.BcryptCost, MinLength: a.cfg.Password.MinLength}

	status := store.UserStatus(f.status)
	if status != store.StatusActive && status != store.StatusPending {
		return fmt.Errorf("users create: --status must be active or pending, got %q", f.status)
	}
	if err := domain.ValidateUsername(f.username); err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	if err := domain.ValidateEmail(f.email); err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	if err := passwords.Validate(f.password, f.username, f.email, f.fullName); err != nil {
		return fmt.Errorf("users create: %w", err)
	}

	st, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkRolesExist(ctx, st, f.roles); err != nil {
		return fmt.Errorf("users create: %w", err)
	}

	hash, err := passwords.Hash(f.password)
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	now := a.now().UTC()
	u := store.User{
		ID:           uuid.NewString(),
		Username:     f.username,
		Email:        domain.NormalizeEmail(f.email),
		PasswordHash: hash,
		FullName:     strings.TrimSpace(f.fullName),
		Status:       status,
		Roles:        f.roles,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := st.CreateUser(ctx, u); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			return fmt.Errorf("users create: a user with username %q or email %q already exists", u.Username, u.Email)
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("users create: a role in --role does not exist: %w", err)
		}
		return fmt.Errorf("users create: %w", err)
	}
	// Print what the store holds, not what was sent: it is the truth the
	// server will act on (normalized values, database timestamps).
	created, err := st.GetUser(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("users create: read back: %w", err)
	}
	return a.printJSON(newUserView(created))
}

// checkRolesExist names the first unknown role, which the store's
// ErrNotFound on create cannot.
func checkRolesExist(ctx context.Context, st store.Roles, roles []string) error {
	for _, r := range roles {
		if _, err := st.GetRole(ctx, r); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("role %q does not exist", r)
			}
			return fmt.Errorf("look up role %q: %w", r, err)
		}
	}
	return nil
}

func newUsersListCmd(a *app) *cobra.Command {
	var filter store.UserFilter
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users ordered by username",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if filter.Limit < 1 {
				return fmt.Errorf("users list: --limit must be at least 1, got %d", filter.Limit)
			}
			filter.Status = store.UserStatus(status)
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			users, err := st.ListUsers(ctx, filter)
			if err != nil {
				return fmt.Errorf("users list: %w", err)
			}
			out := make([]userView, 0, len(users))
			for _, u := range users {
				out = append(out, newUserView(u))
			}
			return a.printJSON(out)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&filter.Limit, "limit", 100, "maximum number of users to print")
	fl.StringVar(&filter.After, "after", "", "print only users whose username sorts after this one (paging)")
	fl.StringVar(&filter.Query, "query", "", "case-insensitive substring of username, email or full name")
	fl.StringVar(&status, "status", "", "only users with this status")
	fl.StringVar(&filter.Role, "role", "", "only users with this role")
	return cmd
}
