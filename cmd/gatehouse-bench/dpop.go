package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/dpoptest"
)

// ccDPoPWorkload is cc with a DPoP proof (RFC 9449) on every request: the
// token comes back bound to the worker's key. The proof is signed here
// (ES256, as most DPoP clients sign) and its one-time use costs the server
// an insert of its replay record, which is what this workload measures
// next to cc.
const ccDPoPWorkload = "cc-dpop"

type ccDPoPWorker struct {
	e   *env
	key *dpoptest.Key
}

func (e *env) newCCDPoP(context.Context, int) (Worker, error) {
	return ccDPoPWorker{e: e, key: dpoptest.MustES256()}, nil
}

func (w ccDPoPWorker) Do(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if w.e.t.ServiceScope != "" {
		form.Set("scope", w.e.t.ServiceScope)
	}
	endpoint := w.e.d.TokenEndpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", basicAuth(w.e.t.ServiceID, w.e.t.ServiceSecret))
	req.Header.Set("DPoP", w.key.Proof(http.MethodPost, endpoint, ""))
	body, status, _, err := do(w.e.plain, req)
	if err != nil {
		return "", fmt.Errorf("token (dpop): %w", err)
	}
	if status != http.StatusOK {
		return "", statusError("token (dpop)", status, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", fmt.Errorf("token (dpop): %w", err)
	}
	if tr.AccessToken == "" || tr.TokenType != "DPoP" {
		return "", fmt.Errorf("token (dpop): token_type %q, want a DPoP-bound access token", tr.TokenType)
	}
	return "", nil
}
