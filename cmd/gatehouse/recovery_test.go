package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

// TestUsersResetPassword: without SMTP the command prints a working link
// (its ticket stored only as a digest); with SMTP it queues the mail and
// prints the address instead. Both audited, neither with the link.
func TestUsersResetPassword(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	var alice admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "user")

	var out resetPasswordResult
	r := e.audited(st, "password.reset_link", nil, &out, "users", "reset-password", "alice")
	prefix := "http://localhost:8080/password/reset?ticket="
	if out.UserID != alice.ID || out.SentTo != "" || !strings.HasPrefix(out.Link, prefix) {
		t.Fatalf("reset-password without SMTP printed %+v", out)
	}
	token := strings.TrimPrefix(out.Link, prefix)
	if strings.Contains(string(r.Changes), token) {
		t.Errorf("the audit entry holds the link: %s", r.Changes)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("ticket %q is not 32 random bytes", token)
	}
	digest := sha256.Sum256(raw)
	tk, err := st.GetTicket(ctx, store.TicketPasswordReset, digest[:], time.Now())
	if err != nil || tk.UserID != alice.ID {
		t.Fatalf("the printed link's ticket is not stored by its digest: %+v, %v", tk, err)
	}
	if until := time.Until(tk.ExpiresAt); until < 59*time.Minute || until > time.Hour {
		t.Errorf("ticket expires in %s, want recovery.ticket_lifetime (1h)", until)
	}
	if n, _ := st.CountMail(ctx); n != 0 {
		t.Errorf("%d mails queued without SMTP", n)
	}

	e.vars["GATEHOUSE_SMTP_HOST"] = "127.0.0.1"
	e.vars["GATEHOUSE_SMTP_FROM"] = "gatehouse <no-reply@example.com>"
	out = resetPasswordResult{}
	e.audited(st, "password.reset_send", nil, &out, "users", "reset-password", "alice")
	if out.SentTo != "alice@example.com" || out.Link != "" {
		t.Fatalf("reset-password with SMTP printed %+v, want the address and no link", out)
	}
	ms, err := st.ClaimMail(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].Recipient != "alice@example.com" || !strings.Contains(ms[0].Body, "/password/reset?ticket=") {
		t.Fatalf("outbox = %+v, %v; want the reset mail", ms, err)
	}

	e.unaudited(st, []string{"nobody"}, "users", "reset-password", "nobody")
}
