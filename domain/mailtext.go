package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The texts of the mails the domain queues. Plain text, with the link on a
// line of its own; notify adds the headers and encodes the body.

func greeting(u store.User) string {
	name := strings.Join(strings.Fields(u.FullName), " ")
	if name == "" {
		name = u.Username
	}
	return "Hello " + name + ",\n\n"
}

func lifetimeText(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0 && d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0 && d >= time.Minute:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func resetMail(u store.User, link string, life time.Duration) (string, string) {
	var b strings.Builder
	b.WriteString(greeting(u))
	b.WriteString("Someone asked to reset the password of your account (" + u.Username + ").\n")
	b.WriteString("To choose a new password, open this link within " + lifetimeText(life) + ":\n\n")
	b.WriteString(link + "\n\n")
	b.WriteString("The link works once. If you did not ask for it, ignore this email: your password stays as it is.\n")
	b.WriteString("\n-- \ngatehouse\n")
	return "Reset your password", b.String()
}

func passwordChangedMail(u store.User, issuer string) (string, string) {
	var b strings.Builder
	b.WriteString(greeting(u))
	b.WriteString("The password of your account (" + u.Username + ") was just changed, and every session of it was signed out.\n\n")
	b.WriteString("If this was not you, tell your administrator at once.\n")
	b.WriteString("\nSign in: " + issuer + "\n")
	b.WriteString("\n-- \ngatehouse\n")
	return "Your password was changed", b.String()
}

func verificationMail(u store.User, link string, life time.Duration) (string, string) {
	var b strings.Builder
	b.WriteString(greeting(u))
	b.WriteString("Please confirm that " + u.Email + " is your email address by opening this link within " + lifetimeText(life) + ":\n\n")
	b.WriteString(link + "\n\n")
	b.WriteString("If you did not create an account or change your address, ignore this email.\n")
	b.WriteString("\n-- \ngatehouse\n")
	return "Verify your email address", b.String()
}
