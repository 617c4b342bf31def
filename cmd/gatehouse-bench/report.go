package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryMB  int64  `json:"memory_mb"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg's 1-minute figure before the runs: anything
	// else busy on the machine shows here.
	LoadAvg string `json:"load_avg_before"`
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if n, err := procMeminfoKB("MemTotal"); err == nil {
		m.MemoryMB = n / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.LoadAvg = f[0]
		}
	}
	return m
}

func procMeminfoKB(key string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			var n int64
			_, err := fmt.Sscan(rest, &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("meminfo: no %s", key)
}

// Report is everything a bench run found; BENCH_JSON writes it as JSON.
type Report struct {
	Date        time.Time `json:"date"`
	Command     string    `json:"command"`
	Machine     Machine   `json:"machine"`
	Issuer      string    `json:"issuer"`
	Warmup      string    `json:"warmup"`
	Duration    string    `json:"duration"`
	Concurrency []int     `json:"concurrency"`
	Users       int       `json:"users,omitempty"`
	BcryptCost  int       `json:"bcrypt_cost,omitempty"`
	BcryptCheck float64   `json:"bcrypt_check_ms,omitempty"`
	// BcryptRate is password checks per second with every CPU busy: the
	// bound on sign-ins per second.
	BcryptRate float64      `json:"bcrypt_checks_per_s,omitempty"`
	Results    []ResultJSON `json:"results"`
	// PeakRSSMB is the server's peak resident set over the whole bench.
	PeakRSSMB float64      `json:"server_peak_rss_mb,omitempty"`
	Targets   []TargetJSON `json:"targets,omitempty"`
	// TOTP compares authcode-login-totp with authcode-login when both ran.
	TOTP *TOTPComparison `json:"totp_vs_login,omitempty"`
}

// ResultJSON is one row of the table.
type ResultJSON struct {
	Workload    string            `json:"workload"`
	Unit        string            `json:"unit"`
	Concurrency int               `json:"concurrency"`
	Seconds     float64           `json:"seconds"`
	Count       uint64            `json:"count"`
	Rate        float64           `json:"per_second"`
	Latency     LatencyJSON       `json:"latency_ms"`
	Errors      int64             `json:"errors"`
	ErrorSample []string          `json:"error_samples,omitempty"`
	ServerCPU   float64           `json:"server_cpu_s"`
	DBCPU       float64           `json:"db_cpu_s"`
	GenCPU      float64           `json:"loadgen_cpu_s"`
	PeakRSSMB   float64           `json:"server_peak_rss_mb"`
	RoundTrips  float64           `json:"db_round_trips_per_op,omitempty"`
	Ops         map[string]OpJSON `json:"ops,omitempty"`
	// Waits and WaitedS: workers waiting for something their workload
	// rations (authcode-login-totp: a user whose code of this time step is
	// unused), in the measured window.
	Waits   int64   `json:"waits,omitempty"`
	WaitedS float64 `json:"waited_s,omitempty"`
}

// OpJSON is one labelled operation of a mixed workload.
type OpJSON struct {
	Count   uint64      `json:"count"`
	Rate    float64     `json:"per_second"`
	Errors  int64       `json:"errors"`
	Latency LatencyJSON `json:"latency_ms"`
}

// LatencyJSON holds percentiles in milliseconds.
type LatencyJSON struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func latencyOf(h *Histogram) LatencyJSON {
	return LatencyJSON{P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func resultJSON(r *Result) ResultJSON {
	out := ResultJSON{
		Workload: r.Workload, Unit: r.Unit, Concurrency: r.Concurrency, Seconds: r.Elapsed.Seconds(),
		Count: r.All.Count(), Rate: r.Rate(), Latency: latencyOf(r.All), Errors: r.Errors, ErrorSample: r.ErrorSamples,
		ServerCPU: r.Usage.ServerCPU.Seconds(), DBCPU: r.Usage.DBCPU.Seconds(), GenCPU: r.Usage.GenCPU.Seconds(),
		PeakRSSMB: mb(r.Usage.PeakRSS), Waits: r.Waits, WaitedS: r.Waited.Seconds(),
	}
	if r.Usage.DBRoundTrips > 0 && r.All.Count()+uint64(r.Errors) > 0 {
		out.RoundTrips = float64(r.Usage.DBRoundTrips) / float64(r.All.Count()+uint64(r.Errors))
	}
	if len(r.Ops) > 0 {
		out.Ops = map[string]OpJSON{}
		for _, l := range r.Labels() {
			h := r.Ops[l]
			out.Ops[l] = OpJSON{Count: h.Count(), Rate: r.OpRate(l), Errors: r.OpErrors[l], Latency: latencyOf(h)}
		}
	}
	return out
}

// tableMode selects the columns of printTable.
type tableMode int

const (
	// tableFull has latencies and the CPU and RSS columns of a probed run.
	tableFull tableMode = iota
	// tableLatency has no CPU and RSS columns (nothing was probed).
	tableLatency
	// tableRoundTrips has database round trips per operation.
	tableRoundTrips
)

// printTable writes one row per workload and concurrency, then for a mixed
// workload one row per operation and concurrency.
func printTable(w io.Writer, rows []ResultJSON, mode tableMode) {
	roundTrips := mode == tableRoundTrips
	type line struct {
		name string
		r    ResultJSON
		op   *OpJSON
	}
	var lines []line
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Workload == rows[i].Workload {
			j++
		}
		group := rows[i:j]
		name := group[0].Workload
		if group[0].Unit == "flow" {
			name += " (flows)"
		}
		for k, r := range group {
			if k > 0 {
				name = ""
			}
			lines = append(lines, line{name: name, r: r})
		}
		if roundTrips {
			// The roundtrips command measures each operation in a run of its own.
			i = j
			continue
		}
		for _, l := range slices.Sorted(maps.Keys(group[0].Ops)) {
			for k, r := range group {
				o := r.Ops[l]
				name := ""
				if k == 0 {
					name = "  " + l
				}
				lines = append(lines, line{name: name, r: r, op: &o})
			}
		}
		i = j
	}
	width := len("workload")
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	switch mode {
	case tableRoundTrips:
		fmt.Fprintf(tw, "%-*s\tc\tops/s\tp50 ms\tp99 ms\terrors\tdb round trips/op\t\n", width, "workload")
	case tableLatency:
		fmt.Fprintf(tw, "%-*s\tc\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t\n", width, "workload")
	default:
		fmt.Fprintf(tw, "%-*s\tc\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tsrv cpu s\tdb cpu s\tgen cpu s\tsrv cpu ms/op\tsrv rss MB\t\n", width, "workload")
	}
	for _, l := range lines {
		r := l.r
		switch {
		case roundTrips:
			fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%.2f\t%.2f\t%d\t%.2f\t\n", width, l.name, r.Concurrency, r.Rate, r.Latency.P50, r.Latency.P99, r.Errors, r.RoundTrips)
		case l.op != nil || mode == tableLatency:
			o := &OpJSON{Rate: r.Rate, Errors: r.Errors, Latency: r.Latency}
			if l.op != nil {
				o = l.op
			}
			if mode == tableLatency {
				fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n",
					width, l.name, r.Concurrency, o.Rate, o.Latency.P50, o.Latency.P90, o.Latency.P99, o.Latency.Max, o.Errors)
				continue
			}
			fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\t\t\t\t\t\n",
				width, l.name, r.Concurrency, o.Rate, o.Latency.P50, o.Latency.P90, o.Latency.P99, o.Latency.Max, o.Errors)
		default:
			perOp := 0.0
			if r.Count > 0 {
				perOp = r.ServerCPU * 1000 / float64(r.Count)
			}
			fmt.Fprintf(tw, "%-*s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.2f\t%.3f\t%.1f\t\n",
				width, l.name, r.Concurrency, r.Rate, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.Errors,
				r.ServerCPU, r.DBCPU, r.GenCPU, perOp, r.PeakRSSMB)
		}
	}
	tw.Flush()
	for _, r := range rows {
		for _, s := range r.ErrorSample {
			fmt.Fprintf(w, "  %s c=%d error: %s\n", r.Workload, r.Concurrency, s)
		}
	}
	for _, r := range rows {
		if r.Waits > 0 {
			fmt.Fprintf(w, "  %s c=%d: %d waits for a free user (every one's code of this time step used), %.1f s of worker time\n",
				r.Workload, r.Concurrency, r.Waits, r.WaitedS)
		}
	}
}

// TOTPComparison sets authcode-login-totp beside authcode-login: the
// ratio of their best rates (the throughput targets' rule), and of their
// rates at each concurrency both ran at.
type TOTPComparison struct {
	Ratio float64         `json:"ratio"`
	TOTP  float64         `json:"totp_per_second"`
	Login float64         `json:"login_per_second"`
	ByC   map[int]float64 `json:"ratio_by_concurrency,omitempty"`
	// TOTPCPUms and LoginCPUms are server CPU milliseconds per flow over
	// every run of each: the cost of the second step itself, which other
	// load on the machine (it moves the rates from one run to the next)
	// hardly changes.
	TOTPCPUms  float64 `json:"totp_server_cpu_ms_per_flow"`
	LoginCPUms float64 `json:"login_server_cpu_ms_per_flow"`
	// Users is the size of the TOTP user pool; Waits counts the waits for
	// a free one over every run.
	Users int   `json:"users"`
	Waits int64 `json:"waits"`
}

// compareTOTP returns the comparison, or nil unless both workloads ran.
func compareTOTP(rows []ResultJSON, users int) *TOTPComparison {
	best := map[string]float64{}
	at := map[string]map[int]float64{}
	cpu, count := map[string]float64{}, map[string]uint64{}
	var waits int64
	for _, r := range rows {
		if r.Workload != "authcode-login" && r.Workload != totpWorkload {
			continue
		}
		best[r.Workload] = max(best[r.Workload], r.Rate)
		cpu[r.Workload] += r.ServerCPU
		count[r.Workload] += r.Count
		if at[r.Workload] == nil {
			at[r.Workload] = map[int]float64{}
		}
		at[r.Workload][r.Concurrency] = r.Rate
		if r.Workload == totpWorkload {
			waits += r.Waits
		}
	}
	if at["authcode-login"] == nil || at[totpWorkload] == nil || best["authcode-login"] <= 0 {
		return nil
	}
	c := &TOTPComparison{Ratio: best[totpWorkload] / best["authcode-login"], TOTP: best[totpWorkload],
		Login: best["authcode-login"], ByC: map[int]float64{}, Users: users, Waits: waits}
	if count[totpWorkload] > 0 && count["authcode-login"] > 0 {
		c.TOTPCPUms = 1000 * cpu[totpWorkload] / float64(count[totpWorkload])
		c.LoginCPUms = 1000 * cpu["authcode-login"] / float64(count["authcode-login"])
	}
	for n, login := range at["authcode-login"] {
		if totp, ok := at[totpWorkload][n]; ok && login > 0 {
			c.ByC[n] = totp / login
		}
	}
	return c
}

// printTOTPComparison writes the ratio line, e.g.
// "authcode-login-totp / authcode-login = 0.97 (best 6.4 / 6.6 flows/s; c=1 0.98, c=8 0.97)".
func printTOTPComparison(w io.Writer, c *TOTPComparison) {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(c.ByC)) {
		parts = append(parts, fmt.Sprintf("c=%d %.2f", n, c.ByC[n]))
	}
	fmt.Fprintf(w, "%s / authcode-login = %.2f (best %.1f / %.1f flows/s; %s); %d TOTP users, %d waits for a free one\n",
		totpWorkload, c.Ratio, c.TOTP, c.Login, strings.Join(parts, ", "), c.Users, c.Waits)
	if c.LoginCPUms > 0 {
		fmt.Fprintf(w, "server CPU per flow: %s %.1f ms, authcode-login %.1f ms (%.2f)\n",
			totpWorkload, c.TOTPCPUms, c.LoginCPUms, c.TOTPCPUms/c.LoginCPUms)
	}
}

// TargetJSON is one of issue 4's targets beside what was measured.
type TargetJSON struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Status is met, missed or not run.
	Status string `json:"status"`
}

const (
	statusMet    = "met"
	statusMissed = "missed"
	statusNotRun = "not run"
)

// evaluateTargets compares the results with the targets of issue 4. The
// throughput targets take each workload's best concurrency; cc's is stated
// at c=32; the api-users latency target must hold at every concurrency run.
// bcryptRate is password checks per second at the server's cost with every
// CPU of this machine busy.
func evaluateTargets(rows []ResultJSON, cpus int, bcryptRate float64, peakRSS float64) []TargetJSON {
	by := map[string][]ResultJSON{}
	for _, r := range rows {
		by[r.Workload] = append(by[r.Workload], r)
	}
	best := func(name string) (ResultJSON, bool) {
		var b ResultJSON
		ok := false
		for _, r := range by[name] {
			if !ok || r.Rate > b.Rate {
				b, ok = r, true
			}
		}
		return b, ok
	}
	status := func(ok bool) string {
		if ok {
			return statusMet
		}
		return statusMissed
	}
	var out []TargetJSON

	t := TargetJSON{Target: "cc >= 4,000 req/s with p99 <= 50 ms at c=32", Status: statusNotRun}
	for _, r := range by["cc"] {
		if r.Concurrency == 32 {
			t.Measured = fmt.Sprintf("%.0f req/s, p99 %.1f ms", r.Rate, r.Latency.P99)
			t.Status = status(r.Rate >= 4000 && r.Latency.P99 <= 50)
		}
	}
	out = append(out, t)

	if _, ok := by[tokenExchangeWorkload]; ok {
		t = TargetJSON{Target: tokenExchangeWorkload + " >= 70% of cc", Status: statusNotRun}
		if x, ok := best(tokenExchangeWorkload); ok {
			if cc, ok := best("cc"); ok && cc.Rate > 0 {
				t.Measured = fmt.Sprintf("%.0f / %.0f req/s = %.2f", x.Rate, cc.Rate, x.Rate/cc.Rate)
				t.Status = status(x.Rate >= 0.7*cc.Rate)
			}
		}
		out = append(out, t)
	}
	// cc-dpop: a proof's replay record is one insert more than cc's work.
	if d, ok := best(ccDPoPWorkload); ok {
		t = TargetJSON{Target: ccDPoPWorkload + " >= 70% of cc (best concurrency each)", Status: statusNotRun}
		if c, ok := best("cc"); ok && c.Rate > 0 {
			t.Measured = fmt.Sprintf("%.0f / %.0f req/s = %.2f", d.Rate, c.Rate, d.Rate/c.Rate)
			t.Status = status(d.Rate >= 0.7*c.Rate)
		}
		out = append(out, t)
	}

	t = TargetJSON{Target: "introspect >= 8,000 req/s", Status: statusNotRun}
	if r, ok := best("introspect"); ok {
		t.Measured = fmt.Sprintf("%.0f req/s (c=%d)", r.Rate, r.Concurrency)
		t.Status = status(r.Rate >= 8000)
	}
	out = append(out, t)

	t = TargetJSON{Target: "refresh >= 1,000 req/s with no errors", Status: statusNotRun}
	if r, ok := best("refresh"); ok {
		var errs int64
		for _, x := range by["refresh"] {
			errs += x.Errors
		}
		t.Measured = fmt.Sprintf("%.0f req/s (c=%d), %d errors", r.Rate, r.Concurrency, errs)
		t.Status = status(r.Rate >= 1000 && errs == 0)
	}
	out = append(out, t)

	t = TargetJSON{Target: "authcode-sso >= 400 flows/s", Status: statusNotRun}
	if r, ok := best("authcode-sso"); ok {
		t.Measured = fmt.Sprintf("%.0f flows/s (c=%d)", r.Rate, r.Concurrency)
		t.Status = status(r.Rate >= 400)
	}
	out = append(out, t)

	t = TargetJSON{Target: "authcode-login within 10% of the password hash bound", Status: statusNotRun}
	if r, ok := best("authcode-login"); ok && bcryptRate > 0 {
		t.Target = fmt.Sprintf("authcode-login >= 90%% of %.1f bcrypt checks/s on %d CPUs = %.1f flows/s", bcryptRate, cpus, 0.9*bcryptRate)
		t.Measured = fmt.Sprintf("%.1f flows/s (c=%d), %.0f%% of the bound", r.Rate, r.Concurrency, 100*r.Rate/bcryptRate)
		t.Status = status(r.Rate >= 0.9*bcryptRate)
	}
	out = append(out, t)

	if _, ok := by[totpWorkload]; ok {
		t = TargetJSON{Target: totpWorkload + " >= 95% of authcode-login", Status: statusNotRun}
		if c := compareTOTP(rows, 0); c != nil {
			t.Measured = fmt.Sprintf("%.1f / %.1f flows/s = %.2f", c.TOTP, c.Login, c.Ratio)
			t.Status = status(c.Ratio >= 0.95)
		}
		out = append(out, t)
	}

	t = TargetJSON{Target: fmt.Sprintf("api-users p99 <= 20 ms for a page of %d", apiPageSize), Status: statusNotRun}
	var parts []string
	worst := 0.0
	for _, r := range by["api-users"] {
		if p, ok := r.Ops["page"]; ok {
			parts = append(parts, fmt.Sprintf("c=%d %.1f ms", r.Concurrency, p.Latency.P99))
			worst = max(worst, p.Latency.P99)
		}
	}
	if len(parts) > 0 {
		t.Measured = strings.Join(parts, ", ")
		t.Status = status(worst <= 20)
	}
	out = append(out, t)

	t = TargetJSON{Target: "server peak RSS <= 150 MB", Status: statusNotRun}
	if peakRSS > 0 {
		t.Measured = fmt.Sprintf("%.0f MB", peakRSS)
		t.Status = status(peakRSS <= 150)
	}
	out = append(out, t)
	return out
}

func printTargets(w io.Writer, targets []TargetJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\t\t")
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", t.Target, t.Measured, t.Status)
	}
	tw.Flush()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
