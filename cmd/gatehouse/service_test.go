package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/notify"
	"github.com/gatehouse/gatehouse/notify/smtptest"
	"github.com/gatehouse/gatehouse/store"
)

// writeConfig replaces e's configuration file with the test defaults plus
// extra YAML.
func (e *env) writeConfig(extra string) {
	e.t.Helper()
	cfg := "secret: " + testSecret + "\npassword:\n  bcrypt_cost: 4\nlog:\n  format: text\n" + extra
	if err := os.WriteFile(e.configPath, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// TestCLIServiceHasTheServersPolicy: the service the CLI's commands run on
// is built from the same settings as the server's (server.DomainOptions),
// so the sign-in lockout and the decision emails the configuration asks for
// hold for it too (the emails queued in the outbox, as the server queues them). Before, it had only the password policy: two failures
// locked nobody, and an approval sent no email.
func TestCLIServiceHasTheServersPolicy(t *testing.T) {
	e, _ := newDBEnv(t)
	smtp := smtptest.Start(t, smtptest.Options{})
	e.writeConfig(fmt.Sprintf("login:\n  max_failures: 2\n  lockout: 1h\n  account_max_failures: 3\nsmtp:\n  host: %s\n  port: %d\n  from: gatehouse <no-reply@gatehouse.example>\n",
		smtp.Host, smtp.Port))
	var alice, bob admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "correct horse battery", "--role", "user")
	e.ok(&bob, "users", "create", "--username", "bob", "--email", "bob@example.com", "--password", "correct horse battery")

	now := time.Now().UTC().Truncate(time.Second)
	a := e.newApp(io.Discard, io.Discard)
	a.now = func() time.Time { return now }
	if err := a.loadConfig(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err := a.withService(ctx, func(svc *domain.Service, st store.Store) error {
		for i := range 2 {
			if _, err := svc.Authenticate(ctx, "alice", "wrong password", "192.0.2.1"); !errors.Is(err, domain.ErrInvalidCredentials) {
				return fmt.Errorf("failure %d: %v, want ErrInvalidCredentials", i+1, err)
			}
		}
		// login.max_failures from one address refuse that address only.
		if _, err := svc.Authenticate(ctx, "alice", "correct horse battery", "192.0.2.1"); !errors.Is(err, domain.ErrInvalidCredentials) {
			return fmt.Errorf("the right password from the refused address: %v, want ErrInvalidCredentials", err)
		}
		if _, err := svc.Authenticate(ctx, "alice", "correct horse battery", "192.0.2.2"); err != nil {
			return fmt.Errorf("the right password from another address: %v", err)
		}
		// login.account_max_failures from all addresses lock the account.
		if _, err := svc.Authenticate(ctx, "alice", "wrong password", "192.0.2.3"); !errors.Is(err, domain.ErrInvalidCredentials) {
			return fmt.Errorf("failure 3: %v, want ErrInvalidCredentials", err)
		}
		u, err := st.GetUserByUsername(ctx, "alice")
		if err != nil {
			return err
		}
		if u.LockedUntil == nil || !u.LockedUntil.Equal(now.Add(time.Hour)) {
			return fmt.Errorf("after login.account_max_failures (3) failures: locked until %v, want %v (login.lockout later)", u.LockedUntil, now.Add(time.Hour))
		}
		if _, err := svc.Authenticate(ctx, "alice", "correct horse battery", "192.0.2.2"); !errors.Is(err, domain.ErrInvalidCredentials) {
			return fmt.Errorf("the right password while locked: %v, want ErrInvalidCredentials", err)
		}

		r, err := svc.SubmitAccessRequest(ctx, domain.Actor{Type: store.ActorUser, ID: bob.ID}, bob.ID, "user", "to read the dashboards")
		if err != nil {
			return err
		}
		if _, err := svc.ApproveAccessRequest(ctx, cliPrincipal(), r.ID, "user", "welcome"); err != nil {
			return err
		}
		// The CLI queues the notice in the decision's transaction; a
		// running server's sender delivers it (one pass of it here).
		sender := notify.NewSMTP(notify.Options{Host: smtp.Host, Port: smtp.Port, From: "gatehouse <no-reply@gatehouse.example>"})
		_, err = notify.NewOutbox(st, sender, notify.OutboxOptions{}).Pass(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The verification mails of the two new addresses, and the notice.
	var notices []string
	for _, m := range smtp.WaitMessages(t, 3, 10*time.Second) {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		if subject := msg.Header.Get("Subject"); strings.Contains(strings.ToLower(subject), "approved") {
			notices = append(notices, strings.Join(m.To, ","))
		}
	}
	if len(notices) != 1 || notices[0] != "bob@example.com" {
		t.Fatalf("decision notices to %v, want one to bob@example.com", notices)
	}
}

// The CLI's service uses the login and smtp sections now, so a command
// refuses them when they are invalid, as the server would.
func TestCLIRefusesAnInvalidSignInPolicy(t *testing.T) {
	for _, tc := range []struct{ name, yaml, field string }{
		{"login", "login:\n  max_failures: 0\n", "login.max_failures"},
		{"smtp", "smtp:\n  host: mail.example.com\n", "smtp.from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t) // refused before the database is opened
			e.writeConfig(tc.yaml)
			e.fails([]string{tc.field}, "users", "list")
		})
	}
}
