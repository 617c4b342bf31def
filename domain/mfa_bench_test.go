package domain_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store/memory"
)

// BenchmarkSignIn compares a whole sign-in by password alone (Authenticate,
// StartSession) with one that adds the authenticator-app step
// (StartMFAChallenge, VerifyTOTPChallenge) at gatehouse's bcrypt cost: the
// hash should dominate both, the second step adding a few percent at most.
// The clock moves one TOTP step per sign-in, so every code is fresh.
func BenchmarkSignIn(b *testing.B) {
	for _, totpStep := range []bool{false, true} {
		name := "password"
		if totpStep {
			name = "password+totp"
		}
		b.Run(fmt.Sprintf("%s/cost=%d", name, domain.DefaultPasswords.BcryptCost), func(b *testing.B) {
			ctx := context.Background()
			clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
			st := memory.New(memory.WithClock(clock.Now))
			svc := domain.NewService(st, domain.Options{
				Passwords: domain.DefaultPasswords, Now: clock.Now, MFAKey: bytes.Repeat([]byte{1}, 32),
			})
			u, err := svc.CreateUser(ctx, domain.CLIActor(), domain.NewUser{
				Username: "bench", Email: "bench@example.com", Password: benchPassword, Roles: []string{"viewer"},
			})
			if err != nil {
				b.Fatal(err)
			}
			var secret string
			if totpStep {
				en, err := svc.BeginTOTPEnrolment(ctx, u)
				if err != nil {
					b.Fatal(err)
				}
				code := totpCode(b, en.Secret, clock.Now())
				if _, err := svc.ConfirmTOTPEnrolment(ctx, domain.CLIActor(), u.ID, en.FactorID, code); err != nil {
					b.Fatal(err)
				}
				secret = en.Secret
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clock.Advance(30 * time.Second)
				got, err := svc.Authenticate(ctx, "bench", benchPassword, "192.0.2.1")
				if err != nil {
					b.Fatal(err)
				}
				amr := []string(nil)
				if totpStep {
					id := fmt.Sprintf("bench-challenge-%d", i)
					if _, err := svc.StartMFAChallenge(ctx, domain.NewMFAChallenge{ID: id, User: got}); err != nil {
						b.Fatal(err)
					}
					res, err := svc.VerifyTOTPChallenge(ctx, id, totpCode(b, secret, clock.Now()), "192.0.2.1")
					if err != nil {
						b.Fatal(err)
					}
					amr = res.AMR
				}
				ls, err := svc.StartSession(ctx, domain.NewSession{ID: fmt.Sprintf("bench-session-%d", i), User: got,
					Lifetime: time.Hour, AMR: amr})
				if err != nil {
					b.Fatal(err)
				}
				if want := map[bool]string{false: domain.ACRPassword, true: domain.ACRMultiFactor}[totpStep]; ls.ACR != want {
					b.Fatalf("acr %q, want %q", ls.ACR, want)
				}
			}
		})
	}
}

// BenchmarkSecondStep is what the authenticator-app step adds to a
// sign-in, alone: recording the pending step and checking a code (three
// HMAC-SHA1s, an AES-GCM open, the step's compare-and-swap). Compare with
// BenchmarkPasswordVerify/cost=12, which every sign-in pays.
func BenchmarkSecondStep(b *testing.B) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: 4, MinLength: 8}, Now: clock.Now, MFAKey: bytes.Repeat([]byte{1}, 32),
	})
	u, err := svc.CreateUser(ctx, domain.CLIActor(), domain.NewUser{
		Username: "bench", Email: "bench@example.com", Password: benchPassword, Roles: []string{"viewer"},
	})
	if err != nil {
		b.Fatal(err)
	}
	en, err := svc.BeginTOTPEnrolment(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.ConfirmTOTPEnrolment(ctx, domain.CLIActor(), u.ID, en.FactorID, totpCode(b, en.Secret, clock.Now())); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clock.Advance(30 * time.Second)
		code := totpCode(b, en.Secret, clock.Now())
		b.StartTimer()
		id := fmt.Sprintf("bench-challenge-%d", i)
		if _, err := svc.StartMFAChallenge(ctx, domain.NewMFAChallenge{ID: id, User: u}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.VerifyTOTPChallenge(ctx, id, code, "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}
