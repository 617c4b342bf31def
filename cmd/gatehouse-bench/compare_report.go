package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// CompareReport is everything a compare run measured; -json writes it and
// -print reads it back and prints the same tables.
type CompareReport struct {
	Date             time.Time `json:"date"`
	Command          string    `json:"command"`
	Machine          Machine   `json:"machine"`
	Gatehouse        string    `json:"gatehouse"`
	GatehouseVersion string    `json:"gatehouse_version,omitempty"`
	// Hydra is the hydra binary's path; "" when the run had none.
	Hydra             string `json:"hydra,omitempty"`
	HydraVersion      string `json:"hydra_version,omitempty"`
	PostgreSQL        string `json:"postgresql"`
	SynchronousCommit string `json:"synchronous_commit"`
	Fsync             string `json:"fsync"`
	// PoolConns is the connection count of gatehouse's pool, given to
	// Hydra's and to the ceiling's.
	PoolConns   int           `json:"pool_connections"`
	Warmup      string        `json:"warmup"`
	Duration    string        `json:"duration"`
	Passes      int           `json:"passes"`
	Concurrency []int         `json:"concurrency"`
	Workloads   []string      `json:"workloads"`
	Cells       []CompareCell `json:"cells"`
	// ClientAlgs is, for each cell that signs ID tokens, the algorithm
	// gatehouse's web client in it registered (refresh: RS256,
	// refresh-es256: ES256); Hydra signs as it always does.
	ClientAlgs map[string]string `json:"gatehouse_client_id_token_algs,omitempty"`
}

// CompareCell is one system at one workload and concurrency in one pass.
type CompareCell struct {
	Pass   int        `json:"pass"`
	System string     `json:"system"`
	Result ResultJSON `json:"result"`
	// AppCPU is the CPU time of Hydra's login and consent app.
	AppCPU float64 `json:"app_cpu_s,omitempty"`
}

// SystemSummary is one system's cells of one workload and concurrency
// over every pass.
type SystemSummary struct {
	// Rates are ops/s per pass, in pass order; Median is their median.
	Rates  []float64 `json:"per_second_by_pass"`
	Median float64   `json:"per_second_median"`
	// P50 and P99 are the medians over the passes of each pass's.
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Count  uint64  `json:"count"`
	Errors int64   `json:"errors"`
	// CPU milliseconds per successful operation over every pass: the
	// server process, its login and consent app (Hydra), the PostgreSQL
	// processes, the load generator.
	SrvMS float64 `json:"server_cpu_ms_per_op"`
	AppMS float64 `json:"app_cpu_ms_per_op,omitempty"`
	DBMS  float64 `json:"db_cpu_ms_per_op"`
	GenMS float64 `json:"loadgen_cpu_ms_per_op"`
}

// TotalMS is the CPU of one operation in every process that took part.
func (s *SystemSummary) TotalMS() float64 { return s.SrvMS + s.AppMS + s.DBMS + s.GenMS }

// CellSummary is one workload at one concurrency.
type CellSummary struct {
	Workload    string
	Unit        string
	Concurrency int
	Gatehouse   *SystemSummary
	// Hydra is nil when the run had no Hydra.
	Hydra *SystemSummary
}

// Ratio is gatehouse's median rate over Hydra's (0 without both).
func (c CellSummary) Ratio() float64 {
	if c.Gatehouse == nil || c.Hydra == nil || c.Hydra.Median <= 0 {
		return 0
	}
	return c.Gatehouse.Median / c.Hydra.Median
}

// summarize folds the cells of each system, workload and concurrency, in
// the order the report's workloads and concurrencies were given; ceiling
// is the insert ceiling's (nil if it never ran).
func (r *CompareReport) summarize() (cells []CellSummary, ceiling *SystemSummary) {
	type key struct {
		system, workload string
		c                int
	}
	groups := map[key][]CompareCell{}
	for _, c := range r.Cells {
		k := key{c.System, c.Result.Workload, c.Result.Concurrency}
		groups[k] = append(groups[k], c)
	}
	for _, name := range r.Workloads {
		for _, n := range r.Concurrency {
			cs := CellSummary{Workload: name, Concurrency: n,
				Gatehouse: summarizeSystem(groups[key{systemGatehouse, name, n}]),
				Hydra:     summarizeSystem(groups[key{systemHydra, name, n}])}
			if cs.Gatehouse == nil && cs.Hydra == nil {
				continue
			}
			for _, g := range groups[key{systemGatehouse, name, n}] {
				cs.Unit = g.Result.Unit
			}
			cells = append(cells, cs)
		}
	}
	for k, g := range groups {
		if k.system == systemCeiling {
			ceiling = summarizeSystem(g)
		}
	}
	return cells, ceiling
}

func summarizeSystem(cells []CompareCell) *SystemSummary {
	if len(cells) == 0 {
		return nil
	}
	cells = slices.Clone(cells)
	slices.SortFunc(cells, func(a, b CompareCell) int { return a.Pass - b.Pass })
	s := &SystemSummary{}
	var p50, p99 []float64
	var srv, app, db, gen float64
	for _, c := range cells {
		s.Rates = append(s.Rates, c.Result.Rate)
		p50 = append(p50, c.Result.Latency.P50)
		p99 = append(p99, c.Result.Latency.P99)
		s.Count += c.Result.Count
		s.Errors += c.Result.Errors
		srv += c.Result.ServerCPU
		app += c.AppCPU
		db += c.Result.DBCPU
		gen += c.Result.GenCPU
	}
	s.Median, s.P50, s.P99 = median(s.Rates), median(p50), median(p99)
	if s.Count > 0 {
		perOp := func(sec float64) float64 { return 1000 * sec / float64(s.Count) }
		s.SrvMS, s.AppMS, s.DBMS, s.GenMS = perOp(srv), perOp(app), perOp(db), perOp(gen)
	}
	return s
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ccFraction is a system's median cc rate at its best concurrency over
// the ceiling's median, and that concurrency (0, 0 without both).
func ccFraction(cells []CellSummary, ceiling *SystemSummary, hydra bool) (float64, int) {
	if ceiling == nil || ceiling.Median <= 0 {
		return 0, 0
	}
	best, at := 0.0, 0
	for _, c := range cells {
		s := c.Gatehouse
		if hydra {
			s = c.Hydra
		}
		if c.Workload == "cc" && s != nil && s.Median > best {
			best, at = s.Median, c.Concurrency
		}
	}
	return best / ceiling.Median, at
}

func (r *CompareReport) hasHydra() bool { return r.Hydra != "" }

// cellName labels a cell's rows: the workload, "flows" for a unit of
// whole flows, and the algorithm of gatehouse's client where it signs ID
// tokens.
func (r *CompareReport) cellName(c CellSummary) string {
	var notes []string
	if c.Unit == "flow" {
		notes = append(notes, "flows")
	}
	if alg := r.ClientAlgs[c.Workload]; alg != "" {
		notes = append(notes, alg+" client")
	}
	if len(notes) == 0 {
		return c.Workload
	}
	return c.Workload + " (" + strings.Join(notes, ", ") + ")"
}

// markdownName is cellName for the Markdown table: the workload as code.
func (r *CompareReport) markdownName(c CellSummary) string {
	name := "`" + c.Workload + "`"
	if alg := r.ClientAlgs[c.Workload]; alg != "" {
		name += " (" + alg + " client)"
	}
	return name
}

func rates(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, " ")
}

// passRatios are the ratios of the two systems' rates pass by pass: the
// two cells of a pass ran back to back, so they met much the same other
// load, and the spread of these says more than that of either's rates.
func passRatios(g, h []float64) string {
	if len(g) != len(h) {
		return ""
	}
	parts := make([]string, len(g))
	for i := range g {
		if h[i] <= 0 {
			return ""
		}
		parts[i] = fmt.Sprintf("%.1f", g[i]/h[i])
	}
	return strings.Join(parts, " ")
}

// Print writes the report: the header, the rates and latencies side by
// side with the ratio per cell, the rates of each pass, the CPU split per
// operation, and the ceiling.
func (r *CompareReport) Print(w io.Writer) {
	m := r.Machine
	cells, ceiling := r.summarize()
	fmt.Fprintf(w, "gatehouse-bench compare %s  %d CPUs (%s), %d MB, Linux %s, %s, load average before %s\n",
		r.Date.Format(time.RFC3339), m.CPUs, m.CPUModel, m.MemoryMB, m.Kernel, m.GoVersion, m.LoadAvg)
	gh := r.Gatehouse
	if r.GatehouseVersion != "" {
		gh += " (" + r.GatehouseVersion + ")"
	}
	if r.hasHydra() {
		hy := r.Hydra
		if r.HydraVersion != "" {
			hy += " (Hydra " + r.HydraVersion + ")"
		}
		fmt.Fprintf(w, "%s beside %s (hydra serve all --dev), each on a database of its own\n", gh, hy)
	} else {
		fmt.Fprintf(w, "%s alone (no BENCH_HYDRA)\n", gh)
	}
	passes := "passes"
	if r.Passes == 1 {
		passes = "pass"
	}
	fmt.Fprintf(w, "PostgreSQL %s (synchronous_commit %s, fsync %s), pools of %d connections; %d %s, each cell %s warm-up + %s measured, cells interleaved\n\n",
		r.PostgreSQL, r.SynchronousCommit, r.Fsync, r.PoolConns, r.Passes, passes, r.Warmup, r.Duration)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.hasHydra() {
		fmt.Fprintf(tw, "cell\tc\tgatehouse ops/s\thydra ops/s\tgatehouse/hydra\tgatehouse p50/p99 ms\thydra p50/p99 ms\terrors g/h\t\n")
	} else {
		fmt.Fprintf(tw, "cell\tc\tgatehouse ops/s\tp50/p99 ms\terrors\t\n")
	}
	for _, c := range cells {
		g := orZero(c.Gatehouse)
		if !r.hasHydra() {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f / %.2f\t%d\t\n", r.cellName(c), c.Concurrency, g.Median, g.P50, g.P99, g.Errors)
			continue
		}
		h := orZero(c.Hydra)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.2f / %.2f\t%.2f / %.2f\t%d / %d\t\n", r.cellName(c), c.Concurrency,
			g.Median, h.Median, c.Ratio(), g.P50, g.P99, h.P50, h.P99, g.Errors, h.Errors)
	}
	tw.Flush()
	fmt.Fprintf(w, "(ops/s and latencies: medians over the passes)\n\nops/s per pass:\n")
	for _, c := range cells {
		line := fmt.Sprintf("  %s c=%d: gatehouse %s", r.cellName(c), c.Concurrency, rates(orZero(c.Gatehouse).Rates))
		if r.hasHydra() {
			line += "; hydra " + rates(orZero(c.Hydra).Rates)
			if pr := passRatios(orZero(c.Gatehouse).Rates, orZero(c.Hydra).Rates); pr != "" {
				line += "; gatehouse/hydra " + pr
			}
		}
		fmt.Fprintln(w, line)
	}
	if ceiling != nil {
		fmt.Fprintf(w, "  ceiling: %s\n", rates(ceiling.Rates))
	}

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if !r.hasHydra() {
		fmt.Fprintf(w, "\nCPU ms per operation over every pass (server process; PostgreSQL backends and background processes; the load generator):\n")
		fmt.Fprintf(tw, "cell\tc\tserver\tpostgres\tload gen\ttotal\t\n")
	} else {
		fmt.Fprintf(w, "\nCPU ms per operation over every pass (server process; Hydra's login and consent app; PostgreSQL backends and background processes; the load generator):\n")
		fmt.Fprintf(tw, "cell\tc\tsystem\tserver\tapp\tpostgres\tload gen\ttotal\tvs gatehouse\t\n")
	}
	for _, c := range cells {
		g := orZero(c.Gatehouse)
		if !r.hasHydra() {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t\n", r.cellName(c), c.Concurrency, g.SrvMS, g.DBMS, g.GenMS, g.TotalMS())
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.3f\t\t%.3f\t%.3f\t%.3f\t\t\n", r.cellName(c), c.Concurrency, systemGatehouse, g.SrvMS, g.DBMS, g.GenMS, g.TotalMS())
		h := orZero(c.Hydra)
		vs := ""
		if g.TotalMS() > 0 {
			vs = fmt.Sprintf("%.2fx", h.TotalMS()/g.TotalMS())
		}
		fmt.Fprintf(tw, "\t\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t\n", systemHydra, h.SrvMS, h.AppMS, h.DBMS, h.GenMS, h.TotalMS(), vs)
	}
	tw.Flush()

	if ceiling != nil {
		fmt.Fprintf(w, "\nPostgreSQL ceiling: a single-row INSERT in autocommit into a scratch table, alone, %d connections through pgx: %.1f rows/s (median), p50 %.2f ms, p99 %.2f ms, %d errors, PostgreSQL CPU %.3f ms/row\n",
			r.PoolConns, ceiling.Median, ceiling.P50, ceiling.P99, ceiling.Errors, ceiling.DBMS)
		gf, gc := ccFraction(cells, ceiling, false)
		line := fmt.Sprintf("cc as a fraction of the ceiling: gatehouse %.2f (c=%d)", gf, gc)
		if r.hasHydra() {
			hf, hc := ccFraction(cells, ceiling, true)
			line += fmt.Sprintf(", hydra %.2f (c=%d)", hf, hc)
		}
		fmt.Fprintln(w, line)
	}
	for _, c := range r.Cells {
		for _, s := range c.Result.ErrorSample {
			fmt.Fprintf(w, "  pass %d %s %s c=%d error: %s\n", c.Pass, c.System, c.Result.Workload, c.Result.Concurrency, s)
		}
	}
}

// PrintMarkdown writes the headline table as Markdown, as the README has it.
func (r *CompareReport) PrintMarkdown(w io.Writer) {
	cells, ceiling := r.summarize()
	if r.hasHydra() {
		fmt.Fprintln(w, "| cell | c | gatehouse ops/s | Hydra ops/s | gatehouse / Hydra | CPU ms per op, gatehouse (server / PostgreSQL / load gen) | Hydra (server + login app / PostgreSQL / load gen) |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | --- | --- |")
	} else {
		fmt.Fprintln(w, "| cell | c | gatehouse ops/s | CPU ms per op (server / PostgreSQL / load gen) |")
		fmt.Fprintln(w, "| --- | ---: | ---: | --- |")
	}
	for _, c := range cells {
		g := orZero(c.Gatehouse)
		gcpu := fmt.Sprintf("%.2f / %.2f / %.2f", g.SrvMS, g.DBMS, g.GenMS)
		if !r.hasHydra() {
			fmt.Fprintf(w, "| %s | %d | %.0f | %s |\n", r.markdownName(c), c.Concurrency, g.Median, gcpu)
			continue
		}
		h := orZero(c.Hydra)
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.2f | %s | %.2f + %.2f / %.2f / %.2f |\n", r.markdownName(c), c.Concurrency,
			g.Median, h.Median, c.Ratio(), gcpu, h.SrvMS, h.AppMS, h.DBMS, h.GenMS)
	}
	if ceiling != nil {
		gf, _ := ccFraction(cells, ceiling, false)
		if r.hasHydra() {
			hf, _ := ccFraction(cells, ceiling, true)
			fmt.Fprintf(w, "| PostgreSQL ceiling (single-row insert, alone) | %d | %.0f rows/s | | | cc = %.2f of it | cc = %.2f of it |\n",
				r.PoolConns, ceiling.Median, gf, hf)
		} else {
			fmt.Fprintf(w, "| PostgreSQL ceiling (single-row insert, alone) | %d | %.0f rows/s | cc = %.2f of it |\n", r.PoolConns, ceiling.Median, gf)
		}
	}
}

func orZero(s *SystemSummary) *SystemSummary {
	if s == nil {
		return &SystemSummary{}
	}
	return s
}

// readCompareReport parses a report a compare run wrote with -json.
func readCompareReport(path string) (*CompareReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r CompareReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Cells) == 0 {
		return nil, fmt.Errorf("%s: no cells: not a compare report", path)
	}
	return &r, nil
}
