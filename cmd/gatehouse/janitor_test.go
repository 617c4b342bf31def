package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

func TestJanitorDeletesExpiredOnce(t *testing.T) {
	e, url := newDBEnv(t)
	ctx := context.Background()
	st, err := postgres.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	if err := st.CreateClient(ctx, store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(-time.Minute), now.Add(time.Hour)} {
		if err := st.CreateToken(ctx, store.Token{Kind: store.KindAccessToken, Signature: string(rune('a' + i)),
			RequestID: "req-" + string(rune('a'+i)), ClientID: "svc", Subject: "svc", RequestedAt: now,
			ExpiresAt: exp, Active: true, Request: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}

	var res janitor.Result
	e.ok(&res, "janitor")
	if res.Tokens != 2 {
		t.Fatalf("janitor deleted %d tokens, want the 2 expired ones (%+v)", res.Tokens, res)
	}
	if _, err := st.GetToken(ctx, store.KindAccessToken, "c"); err != nil {
		t.Fatalf("the live token is gone: %v", err)
	}
	e.ok(&res, "janitor")
	if res != (janitor.Result{}) {
		t.Fatalf("second run deleted %+v, want nothing", res)
	}
}
