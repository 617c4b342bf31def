package main

import (
	"bytes"
	"strings"
	"testing"
)

func row(workload string, c int, rate, p99 float64, errors int64) ResultJSON {
	return ResultJSON{Workload: workload, Unit: "req", Concurrency: c, Rate: rate, Latency: LatencyJSON{P99: p99}, Errors: errors}
}

func TestEvaluateTargets(t *testing.T) {
	page := func(r ResultJSON, p99 float64) ResultJSON {
		r.Ops = map[string]OpJSON{"page": {Latency: LatencyJSON{P99: p99}}, "get": {Latency: LatencyJSON{P99: 99}}}
		return r
	}
	rows := []ResultJSON{
		row("cc", 8, 5000, 10, 0), // the best rate, but cc is judged at c=32
		row("cc", 32, 3900, 12, 0),
		row("introspect", 1, 3000, 1, 0),
		row("introspect", 8, 8100, 4, 0),
		row("refresh", 8, 1200, 20, 0),
		row("refresh", 32, 1100, 60, 1), // one error anywhere misses the target
		row("authcode-sso", 8, 420, 40, 0),
		row("authcode-login", 8, 5.5, 1500, 0),
		page(row("api-users", 1, 600, 4, 0), 4.5),
		page(row("api-users", 8, 1000, 17, 0), 19.9), // get's p99 does not count
	}
	got := evaluateTargets(rows, 2, 6.0, 37)
	want := map[string]string{
		"cc":             statusMissed, // 3900 < 4000 at c=32
		"introspect":     statusMet,
		"refresh":        statusMissed,
		"authcode-sso":   statusMet,
		"authcode-login": statusMet, // 5.5 >= 0.9 * 6.0
		"api-users":      statusMet,
		"server peak":    statusMet,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d targets, want %d: %+v", len(got), len(want), got)
	}
	for _, tg := range got {
		found := false
		for prefix, status := range want {
			if strings.HasPrefix(tg.Target, prefix+" ") {
				found = true
				if tg.Status != status {
					t.Errorf("%s: %s (%s), want %s", tg.Target, tg.Status, tg.Measured, status)
				}
			}
		}
		if !found {
			t.Errorf("unexpected target %q", tg.Target)
		}
	}

	none := evaluateTargets(nil, 2, 0, 0)
	for _, tg := range none {
		if tg.Status != statusNotRun {
			t.Errorf("with no results, %s is %s, want %s", tg.Target, tg.Status, statusNotRun)
		}
	}
}

func TestPrintTableGroupsOperations(t *testing.T) {
	a := row("api-users", 1, 600, 4, 0)
	a.Ops = map[string]OpJSON{"page": {Rate: 300}, "get": {Rate: 300}}
	b := row("api-users", 8, 1000, 17, 2)
	b.Ops = map[string]OpJSON{"page": {Rate: 500}, "get": {Rate: 500, Errors: 2}}
	b.ErrorSample = []string{"user: status 500"}
	var out bytes.Buffer
	printTable(&out, []ResultJSON{row("cc", 1, 1000, 1, 0), a, b}, tableFull)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	// Header, cc, two api-users rows, then get and page for each concurrency,
	// then the error sample.
	if len(lines) != 1+1+2+4+1 {
		t.Fatalf("got %d lines:\n%s", len(lines), out.String())
	}
	for i, prefix := range []string{"workload", "cc", "api-users", "", "get", "", "page", ""} {
		if got := strings.Fields(lines[i] + " x")[0]; prefix != "" && got != prefix {
			t.Errorf("line %d starts with %q, want %q:\n%s", i, got, prefix, out.String())
		}
	}
	if !strings.Contains(lines[len(lines)-1], "api-users c=8 error: user: status 500") {
		t.Errorf("last line %q, want the error sample", lines[len(lines)-1])
	}
}

// TestEvaluateDPoPTarget: cc-dpop is judged against cc, best concurrency
// each, and only when it ran.
func TestEvaluateDPoPTarget(t *testing.T) {
	find := func(targets []TargetJSON) *TargetJSON {
		for i := range targets {
			if strings.HasPrefix(targets[i].Target, ccDPoPWorkload+" ") {
				return &targets[i]
			}
		}
		return nil
	}
	if tg := find(evaluateTargets([]ResultJSON{row("cc", 32, 4000, 10, 0)}, 2, 0, 0)); tg != nil {
		t.Fatalf("cc-dpop target without a cc-dpop run: %+v", tg)
	}
	for _, tc := range []struct {
		dpop float64
		want string
	}{{2900, statusMet}, {2700, statusMissed}} {
		rows := []ResultJSON{row("cc", 8, 4000, 10, 0), row("cc", 32, 3800, 10, 0), row(ccDPoPWorkload, 32, tc.dpop, 10, 0)}
		tg := find(evaluateTargets(rows, 2, 0, 0))
		if tg == nil || tg.Status != tc.want {
			t.Errorf("cc-dpop at %.0f against cc's best 4000: %+v, want %s", tc.dpop, tg, tc.want)
		}
	}
}
