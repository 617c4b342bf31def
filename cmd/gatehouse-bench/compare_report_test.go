package main

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cell makes one measured cell: rate ops/s over 10 s, with the given CPU
// seconds (server, app, PostgreSQL, load generator).
func cell(pass int, system, workload string, c int, rate float64, cpu [4]float64) CompareCell {
	unit := "req"
	if strings.HasPrefix(workload, "authcode-sso") {
		unit = "flow"
	}
	if system == systemCeiling {
		unit = "row"
	}
	return CompareCell{Pass: pass, System: system, AppCPU: cpu[1], Result: ResultJSON{
		Workload: workload, Unit: unit, Concurrency: c, Seconds: 10, Count: uint64(rate * 10), Rate: rate,
		Latency: LatencyJSON{P50: 1000 / rate, P99: 3000 / rate}, ServerCPU: cpu[0], DBCPU: cpu[2], GenCPU: cpu[3],
	}}
}

func compareFixture() *CompareReport {
	r := &CompareReport{
		Date: time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC), Machine: Machine{CPUs: 2, CPUModel: "Test CPU", MemoryMB: 1024},
		Gatehouse: "bin/gatehouse", Hydra: "/work/hydra-build/bin/hydra", HydraVersion: "v0.0.0-test",
		PostgreSQL: "15.20", SynchronousCommit: "on", Fsync: "on", PoolConns: 4,
		Warmup: "1s", Duration: "10s", Passes: 3, Concurrency: []int{8}, Workloads: []string{"cc", "authcode-sso"},
	}
	// Passes interleaved as the command runs them; cc's gatehouse median is
	// 4000 (of 3000, 4000, 5000), Hydra's 400 (of 500, 300, 400), whatever
	// the order the cells come in.
	for i, g := range []float64{3000, 4000, 5000} {
		pass := i + 1
		h := []float64{500, 300, 400}[i]
		r.Cells = append(r.Cells,
			cell(pass, systemGatehouse, "cc", 8, g, [4]float64{g * 10 * 0.0002, 0, g * 10 * 0.0001, g * 10 * 0.00005}),
			cell(pass, systemHydra, "cc", 8, h, [4]float64{h * 10 * 0.004, 0, h * 10 * 0.0005, h * 10 * 0.0001}),
			cell(pass, systemGatehouse, "authcode-sso", 8, 400, [4]float64{400 * 10 * 0.0025, 0, 400 * 10 * 0.001, 400 * 10 * 0.0005}),
			cell(pass, systemHydra, "authcode-sso", 8, 100, [4]float64{100 * 10 * 0.010, 100 * 10 * 0.002, 100 * 10 * 0.004, 100 * 10 * 0.001}),
			cell(pass, systemCeiling, ceilingWorkload, 4, 5000+float64(pass)*100, [4]float64{0, 0, 1, 0.5}),
		)
	}
	// The same cells in another order summarize the same.
	r.Cells[0], r.Cells[5] = r.Cells[5], r.Cells[0]
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestCompareSummaryMediansRatiosAndCPU(t *testing.T) {
	cells, ceiling := compareFixture().summarize()
	if len(cells) != 2 || cells[0].Workload != "cc" || cells[1].Workload != "authcode-sso" {
		t.Fatalf("cells %+v, want cc then authcode-sso (the report's order)", cells)
	}
	cc, sso := cells[0], cells[1]
	if cc.Gatehouse.Median != 4000 || cc.Hydra.Median != 400 || !near(cc.Ratio(), 10) {
		t.Errorf("cc: gatehouse %v, hydra %v, ratio %v; want 4000, 400, 10", cc.Gatehouse.Median, cc.Hydra.Median, cc.Ratio())
	}
	if got := rates(cc.Gatehouse.Rates); got != "3000 4000 5000" {
		t.Errorf("cc gatehouse per pass %q, want pass order 3000 4000 5000", got)
	}
	// CPU per operation over all passes: each pass used 0.2 ms server CPU
	// per token, so the sum over passes gives 0.2 too.
	if g := cc.Gatehouse; !near(g.SrvMS, 0.2) || !near(g.DBMS, 0.1) || !near(g.GenMS, 0.05) || g.AppMS != 0 {
		t.Errorf("cc gatehouse CPU %+v, want 0.2 / 0.1 / 0.05 ms", g)
	}
	if h := sso.Hydra; !near(h.SrvMS, 10) || !near(h.AppMS, 2) || !near(h.DBMS, 4) || !near(h.GenMS, 1) || !near(h.TotalMS(), 17) {
		t.Errorf("sso hydra CPU %+v, want 10 + 2 / 4 / 1 = 17 ms", h)
	}
	if sso.Unit != "flow" || !near(sso.Ratio(), 4) {
		t.Errorf("sso unit %q ratio %v, want flow, 4", sso.Unit, sso.Ratio())
	}
	if ceiling == nil || ceiling.Median != 5200 {
		t.Fatalf("ceiling %+v, want median 5200", ceiling)
	}
	if f, c := ccFraction(cells, ceiling, false); !near(f, 4000.0/5200) || c != 8 {
		t.Errorf("gatehouse cc fraction %v at c=%d, want %v at 8", f, c, 4000.0/5200)
	}
	if f, _ := ccFraction(cells, ceiling, true); !near(f, 400.0/5200) {
		t.Errorf("hydra cc fraction %v, want %v", f, 400.0/5200)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

// TestComparePrintAndParse: the printed report has the figures side by
// side, and a report written as JSON and parsed back (-print) prints the
// same text.
func TestComparePrintAndParse(t *testing.T) {
	r := compareFixture()
	var out bytes.Buffer
	r.Print(&out)
	text := out.String()
	for _, want := range []string{
		"bin/gatehouse beside /work/hydra-build/bin/hydra (Hydra v0.0.0-test)",
		"synchronous_commit on, fsync on), pools of 4 connections; 3 passes, each cell 1s warm-up + 10s measured",
		"cc c=8: gatehouse 3000 4000 5000; hydra 500 300 400; gatehouse/hydra 6.0 13.3 12.5",
		"ceiling: 5100 5200 5300",
		"4 connections through pgx: 5200.0 rows/s (median)",
		"cc as a fraction of the ceiling: gatehouse 0.77 (c=8), hydra 0.08 (c=8)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	row := func(prefix string) []string {
		for line := range strings.Lines(text) {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(strings.TrimSpace(line), prefix) {
				return f
			}
		}
		t.Fatalf("no line starting %q:\n%s", prefix, text)
		return nil
	}
	// cell, c, gatehouse, hydra, ratio, p50 / p99, p50 / p99, errors.
	if f := row("cc  "); strings.Join(f[:5], " ") != "cc 8 4000.0 400.0 10.00" {
		t.Errorf("cc row %q, want cc 8 4000.0 400.0 10.00 first", f)
	}
	if f := row("authcode-sso (flows)  8  gatehouse"); strings.Join(f[3:], " ") != "gatehouse 2.500 1.000 0.500 4.000" {
		t.Errorf("sso CPU row %q", f)
	}
	if f := row("hydra  10.000"); strings.Join(f, " ") != "hydra 10.000 2.000 4.000 1.000 17.000 4.25x" {
		t.Errorf("sso hydra CPU row %q", f)
	}

	path := filepath.Join(t.TempDir(), "compare.json")
	if err := writeJSON(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := readCompareReport(path)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	back.Print(&again)
	if again.String() != text {
		t.Errorf("parsed back, the report prints\n%s\nwant\n%s", again.String(), text)
	}
	if _, err := readCompareReport(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing file parsed")
	}
	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := writeJSON(empty, Report{}); err != nil {
		t.Fatal(err)
	}
	if _, err := readCompareReport(empty); err == nil || !strings.Contains(err.Error(), "not a compare report") {
		t.Errorf("a bench report parsed as a compare report: %v", err)
	}
}

func TestCompareMarkdown(t *testing.T) {
	var out bytes.Buffer
	compareFixture().PrintMarkdown(&out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"| `cc` | 8 | 4000 | 400 | 10.00 | 0.20 / 0.10 / 0.05 | 4.00 + 0.00 / 0.50 / 0.10 |",
		"| `authcode-sso` | 8 | 400 | 100 | 4.00 | 2.50 / 1.00 / 0.50 | 10.00 + 2.00 / 4.00 / 1.00 |",
		"| PostgreSQL ceiling (single-row insert, alone) | 4 | 5200 rows/s | | | cc = 0.77 of it | cc = 0.08 of it |",
	}
	if len(lines) != 2+len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), out.String())
	}
	for i, w := range want {
		if lines[2+i] != w {
			t.Errorf("line %d\n got %s\nwant %s", 2+i, lines[2+i], w)
		}
	}

	// Without Hydra: gatehouse and the ceiling only.
	r := compareFixture()
	r.Hydra = ""
	var kept []CompareCell
	for _, c := range r.Cells {
		if c.System != systemHydra {
			kept = append(kept, c)
		}
	}
	r.Cells = kept
	out.Reset()
	r.PrintMarkdown(&out)
	if !strings.Contains(out.String(), "| `cc` | 8 | 4000 | 0.20 / 0.10 / 0.05 |") || strings.Contains(out.String(), "Hydra") {
		t.Errorf("gatehouse-only markdown:\n%s", out.String())
	}
	out.Reset()
	r.Print(&out)
	if !strings.Contains(out.String(), "alone (no BENCH_HYDRA)") || strings.Contains(out.String(), "hydra") {
		t.Errorf("gatehouse-only report:\n%s", out.String())
	}
}

func TestCheckCompareWorkloads(t *testing.T) {
	if err := checkCompareWorkloads(compareWorkloads); err != nil {
		t.Errorf("the compare workloads: %v", err)
	}
	if !slices.Contains(compareWorkloads, refreshES256Workload) || !slices.Contains(compareWorkloads, ssoES256Workload) {
		t.Errorf("compare's default cells %v lack the ES256 client's", compareWorkloads)
	}
	if err := checkCompareWorkloads([]string{"cc", "api-users"}); err == nil || !strings.Contains(err.Error(), `"api-users"`) {
		t.Errorf("api-users: %v, want refused by name", err)
	}
}

// clientAlgFixture is a run of refresh and authcode-sso through both of
// gatehouse's web clients: the ES256 cells faster and cheaper on
// gatehouse, Hydra's the same workload in each pair of cells.
func clientAlgFixture() *CompareReport {
	r := compareFixture()
	r.Passes = 2
	r.Workloads = []string{"refresh", refreshES256Workload, "authcode-sso", ssoES256Workload}
	r.ClientAlgs = clientAlgs(r.Workloads, "RS256")
	r.Cells = nil
	for pass := 1; pass <= 2; pass++ {
		p := float64(pass)
		r.Cells = append(r.Cells,
			cell(pass, systemGatehouse, "refresh", 8, 600*p, [4]float64{600 * p * 10 * 0.0016, 0, 600 * p * 10 * 0.001, 0}),
			cell(pass, systemHydra, "refresh", 8, 100*p, [4]float64{100 * p * 10 * 0.012, 0, 100 * p * 10 * 0.002, 0}),
			cell(pass, systemGatehouse, refreshES256Workload, 8, 1000*p, [4]float64{1000 * p * 10 * 0.001, 0, 1000 * p * 10 * 0.001, 0}),
			cell(pass, systemHydra, refreshES256Workload, 8, 90*p, [4]float64{90 * p * 10 * 0.012, 0, 90 * p * 10 * 0.002, 0}),
			cell(pass, systemGatehouse, "authcode-sso", 8, 300, [4]float64{300 * 10 * 0.0027, 0, 0, 0}),
			cell(pass, systemHydra, "authcode-sso", 8, 50, [4]float64{50 * 10 * 0.028, 0, 0, 0}),
			cell(pass, systemGatehouse, ssoES256Workload, 8, 500, [4]float64{500 * 10 * 0.002, 0, 0, 0}),
			cell(pass, systemHydra, ssoES256Workload, 8, 50, [4]float64{50 * 10 * 0.028, 0, 0, 0}),
		)
	}
	return r
}

// TestCompareReportLabelsClientAlgorithms: the rows of the cells that
// sign ID tokens say which algorithm gatehouse's client registered, in
// the table, the per-pass lines, the CPU split and the Markdown, each
// variant with its own ratio against Hydra's run of the same workload.
func TestCompareReportLabelsClientAlgorithms(t *testing.T) {
	r := clientAlgFixture()
	cells, _ := r.summarize()
	if len(cells) != 4 || cells[1].Workload != refreshES256Workload || !near(cells[1].Ratio(), 1500.0/135) {
		t.Fatalf("cells %+v, want refresh-es256 second with ratio 1500/135", cells)
	}
	var out bytes.Buffer
	r.Print(&out)
	text := out.String()
	for _, want := range []string{
		"  refresh (RS256 client) c=8: gatehouse 600 1200; hydra 100 200; gatehouse/hydra 6.0 6.0",
		"  refresh-es256 (ES256 client) c=8: gatehouse 1000 2000; hydra 90 180; gatehouse/hydra 11.1 11.1",
		"  authcode-sso (flows, RS256 client) c=8: gatehouse 300 300; hydra 50 50; gatehouse/hydra 6.0 6.0",
		"  authcode-sso-es256 (flows, ES256 client) c=8: gatehouse 500 500; hydra 50 50; gatehouse/hydra 10.0 10.0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	fields := func(prefix string) []string {
		for line := range strings.Lines(text) {
			if strings.HasPrefix(strings.TrimSpace(line), prefix) {
				return strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), prefix))
			}
		}
		t.Fatalf("no line starting %q:\n%s", prefix, text)
		return nil
	}
	// c, gatehouse, hydra, ratio first.
	if f := fields("refresh (RS256 client)  "); strings.Join(f[:4], " ") != "8 900.0 150.0 6.00" {
		t.Errorf("refresh row %q", f)
	}
	if f := fields("refresh-es256 (ES256 client)  "); strings.Join(f[:4], " ") != "8 1500.0 135.0 11.11" {
		t.Errorf("refresh-es256 row %q", f)
	}
	if f := fields("authcode-sso-es256 (flows, ES256 client)  "); strings.Join(f[:4], " ") != "8 500.0 50.0 10.00" {
		t.Errorf("authcode-sso-es256 row %q", f)
	}
	// The CPU split: server CPU per refresh, RS256 1.6 ms, ES256 1.0 ms.
	if f := fields("refresh (RS256 client)  8  gatehouse"); f[0] != "1.600" {
		t.Errorf("refresh CPU row %q, want server 1.600", f)
	}
	if f := fields("refresh-es256 (ES256 client)  8  gatehouse"); f[0] != "1.000" {
		t.Errorf("refresh-es256 CPU row %q, want server 1.000", f)
	}

	out.Reset()
	r.PrintMarkdown(&out)
	md := out.String()
	for _, want := range []string{
		"| `refresh` (RS256 client) | 8 | 900 | 150 | 6.00 | 1.60 / 1.00 / 0.00 | 12.00 + 0.00 / 2.00 / 0.00 |",
		"| `refresh-es256` (ES256 client) | 8 | 1500 | 135 | 11.11 | 1.00 / 1.00 / 0.00 | 12.00 + 0.00 / 2.00 / 0.00 |",
		"| `authcode-sso` (RS256 client) | 8 | 300 | 50 | 6.00 |",
		"| `authcode-sso-es256` (ES256 client) | 8 | 500 | 50 | 10.00 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	// Written and read back (-print), the labels stay.
	path := filepath.Join(t.TempDir(), "compare.json")
	if err := writeJSON(path, r); err != nil {
		t.Fatal(err)
	}
	back, err := readCompareReport(path)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	back.Print(&out)
	if out.String() != text {
		t.Errorf("parsed back, the report prints\n%s\nwant\n%s", out.String(), text)
	}
}
