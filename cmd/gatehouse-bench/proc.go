package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: fixed at 100 by
// the Linux ABI whatever the kernel's internal tick.
const userHZ = 100

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("proc stat: bad utime or stime")
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// procStatusKB returns a "<key>: N kB" line of /proc/<pid>/status in bytes.
func procStatusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status %s: %w", key, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("proc status: no %s", key)
}

// resetPeakRSS sets a process's VmHWM back to its current RSS (writing 5 to
// clear_refs), so that the next reading is the peak since now.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// serverProbe measures the gatehouse process, the PostgreSQL backends
// connected to its database and the load generator itself over a window.
type serverProbe struct {
	pid    int
	dbName string
	// admin is a connection to another database of the same server, to list
	// the backends of dbName in pg_stat_activity.
	admin *pgx.Conn
	// roundTrips, when set, counts round trips to PostgreSQL.
	roundTrips func() int64

	// peakEver is the highest VmHWM seen since the server started.
	peakEver int64
	// canReset is false where clear_refs cannot be written: per-window peaks
	// are then peaks since start.
	canReset bool

	srv0, gen0 time.Duration
	db0        map[int]time.Duration
	rt0        int64
}

func newServerProbe(pid int, dbName string, admin *pgx.Conn) *serverProbe {
	p := &serverProbe{pid: pid, dbName: dbName, admin: admin}
	p.notePeak() // before the reset below loses the peak so far
	p.canReset = resetPeakRSS(pid) == nil
	return p
}

// notePeak folds the current VmHWM into peakEver.
func (p *serverProbe) notePeak() int64 {
	hwm, err := procStatusKB(p.pid, "VmHWM")
	if err == nil {
		p.peakEver = max(p.peakEver, hwm)
	}
	return hwm
}

func (p *serverProbe) backendCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	if p.admin == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := p.admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, p.dbName)
	if err != nil {
		return out
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return out
	}
	for _, pid := range pids {
		if c, err := procCPU(int(pid)); err == nil {
			out[int(pid)] = c
		}
	}
	return out
}

func (p *serverProbe) Start() error {
	p.notePeak()
	if p.canReset {
		if err := resetPeakRSS(p.pid); err != nil {
			return fmt.Errorf("reset peak RSS: %w", err)
		}
	}
	var err error
	if p.srv0, err = procCPU(p.pid); err != nil {
		return fmt.Errorf("server CPU: %w", err)
	}
	p.gen0, _ = procCPU(os.Getpid())
	p.db0 = p.backendCPU()
	if p.roundTrips != nil {
		p.rt0 = p.roundTrips()
	}
	return nil
}

func (p *serverProbe) Stop() (Usage, error) {
	srv1, err := procCPU(p.pid)
	if err != nil {
		return Usage{}, fmt.Errorf("server CPU: %w", err)
	}
	gen1, _ := procCPU(os.Getpid())
	u := Usage{ServerCPU: srv1 - p.srv0, GenCPU: gen1 - p.gen0, PeakRSS: p.notePeak()}
	// Backends that came and went inside the window are missed; the pool
	// keeps its connections, so they are few.
	for pid, c := range p.backendCPU() {
		u.DBCPU += c - p.db0[pid]
	}
	if p.roundTrips != nil {
		u.DBRoundTrips = p.roundTrips() - p.rt0
	}
	return u, nil
}
