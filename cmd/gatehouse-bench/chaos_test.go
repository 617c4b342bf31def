package main

import (
	"reflect"
	"testing"
	"time"
)

func TestAnalyzePhase(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ph := chaosPhase{name: "freeze", start: at(1000), healed: at(6000), end: at(14000)}
	tok := func(v string) []issuedToken { return []issuedToken{{kind: "access_token", value: v}} }
	ops := []chaosOp{
		{start: at(500), end: at(900), status: 200, tokens: tok("before")}, // another phase
		{start: at(900), end: at(1050), status: 503, err: "503"},           // in flight as the fault began
		{start: at(1100), end: at(3100), status: 503, err: "503"},
		{start: at(3200), end: at(4200), status: 503, err: "503"},
		{start: at(5900), end: at(6100), status: 200, tokens: tok("straddles")}, // during: begun before healing
		{start: at(6050), end: at(6300), status: 0, err: "reset"},
		{start: at(6400), end: at(6500), status: 200, tokens: tok("first")}, // first success: 500 ms
		{start: at(6450), end: at(6700), status: 200, tokens: tok("second")},
		{start: at(7000), end: at(7100), status: 500, err: "500"}, // after recovery
		{start: at(8000), end: at(8100), status: 400, err: "invalid_grant", revoked: true},
		{start: at(13900), end: at(15900), status: 503, err: "503"}, // in flight as the next fault begins
		{start: at(14000), end: at(14100), status: 503, err: "503"}, // the next phase
	}
	row := analyzePhase(ph, ops, map[string]bool{"second": true, "before": true})
	if len(row.Samples) != 1 || row.Samples[0] != ": 500" || len(row.DuringSamples) != 1 {
		t.Errorf("samples %q, during %q; want the one failure after recovery and one kind during", row.Samples, row.DuringSamples)
	}
	row.Samples, row.DuringSamples = nil, nil
	want := chaosRow{Name: "freeze", Ops: 4, Failed: 3, FailMax: 2 * time.Second, FailP99: 2 * time.Second,
		FirstOK: 500 * time.Millisecond, FirstOKSeen: true, FailAfter: 1, Lost: 1, Revoked: 1}
	if !reflect.DeepEqual(row, want) {
		t.Fatalf("row =\n%+v\nwant\n%+v", row, want)
	}
	if row.passed() {
		t.Error("a phase with failures after recovery passed")
	}
	clean := analyzePhase(ph, ops[:8], nil)
	if !clean.passed() {
		t.Errorf("clean phase did not pass: %+v", clean)
	}
	slow := analyzePhase(chaosPhase{name: "slow", start: at(1000), healed: at(3000), end: at(14000)}, ops[:8], nil)
	if slow.FirstOK != 3100*time.Millisecond || slow.passed() {
		t.Errorf("first success 3.1 s after healing: %+v, passed %v", slow, slow.passed())
	}
	none := analyzePhase(chaosPhase{name: "none", start: at(1000), healed: at(6000), end: at(6400)}, ops, nil)
	if none.FirstOKSeen || none.passed() {
		t.Errorf("no success after healing: %+v, passed %v", none, none.passed())
	}
}

func TestIssuedTokenSignature(t *testing.T) {
	if got := (issuedToken{value: "gh_at_key.sig-part"}).signature(); got != "sig-part" {
		t.Errorf("signature = %q", got)
	}
}
