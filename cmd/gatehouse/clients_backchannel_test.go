package main

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
)

func TestClientsBackchannelLogout(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var created admin.ClientView
	e.audited(st, "client.create", nil, &created, "clients", "create", "--id", "bcl",
		"--redirect-uri", "https://app.example/cb",
		"--backchannel-logout-uri", "https://app.example/backchannel", "--backchannel-logout-session-required")
	if created.BackchannelLogoutURI != "https://app.example/backchannel" || !created.BackchannelLogoutSessionRequired {
		t.Fatalf("clients create printed %+v, want the back-channel fields", created)
	}

	// A non-loopback http URI is refused, naming the flag's field.
	e.fails([]string{"backchannel_logout_uri"}, "clients", "update", "bcl", "--backchannel-logout-uri", "http://app.example/bc")
	e.fails([]string{"backchannel_logout_uri"}, "clients", "create", "--id", "bcl2",
		"--redirect-uri", "https://app.example/cb", "--backchannel-logout-uri", "http://app.example/bc")
	e.fails([]string{"no change"}, "clients", "update", "bcl")

	var updated admin.ClientView
	e.audited(st, "client.update", nil, &updated, "clients", "update", "bcl",
		"--backchannel-logout-uri", "http://127.0.0.1:9000/bc", "--backchannel-logout-session-required=false")
	stored, err := st.GetClient(ctx, "bcl")
	if err != nil {
		t.Fatal(err)
	}
	if stored.BackchannelLogoutURI != "http://127.0.0.1:9000/bc" || stored.BackchannelLogoutSessionRequired {
		t.Fatalf("stored %q/%v after update, want the loopback URI and false", stored.BackchannelLogoutURI, stored.BackchannelLogoutSessionRequired)
	}
	e.ok(&updated, "clients", "update", "bcl", "--backchannel-logout-uri", "")
	if updated.BackchannelLogoutURI != "" {
		t.Fatalf("clients update with \"\" left %q", updated.BackchannelLogoutURI)
	}
}
