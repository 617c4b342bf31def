package server_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/server"
)

func TestDomainOptions(t *testing.T) {
	cfg := config.Default()
	cfg.Password.BcryptCost, cfg.Password.MinLength = 11, 12
	cfg.Login.MaxFailures, cfg.Login.Lockout = 3, 2*time.Hour

	o := server.DomainOptions(cfg, nil)
	if o.Passwords.BcryptCost != 11 || o.Passwords.MinLength != 12 {
		t.Errorf("Passwords = %+v, want cost 11, minimum length 12", o.Passwords)
	}
	if o.LockoutThreshold != 3 || o.LockoutDuration != 2*time.Hour {
		t.Errorf("lockout = %d for %v, want 3 for 2h", o.LockoutThreshold, o.LockoutDuration)
	}
	if o.AccountLockoutThreshold != 100 {
		t.Errorf("AccountLockoutThreshold = %d, want the default 100", o.AccountLockoutThreshold)
	}
	cfg.Login.AccountMaxFailures = 0
	if o := server.DomainOptions(cfg, nil); o.AccountLockoutThreshold >= 0 {
		t.Errorf("login.account_max_failures 0 gave AccountLockoutThreshold %d, want negative (off)", o.AccountLockoutThreshold)
	}
	if o.Recovery.MailEnabled {
		t.Errorf("mail on without smtp.host")
	}
	// What is the caller's own is left to it.
	if o.Now != nil || o.OnChange != nil {
		t.Errorf("Now or OnChange set: they belong to the caller")
	}

	cfg.SMTP.Host, cfg.SMTP.From = "mail.example.com", "gatehouse <no-reply@example.com>"
	if o := server.DomainOptions(cfg, nil); !o.Recovery.MailEnabled || o.Recovery.Issuer != cfg.Issuer {
		t.Errorf("smtp.host set: Recovery = %+v, want mail on with the issuer's links", o.Recovery)
	}
}
