package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/scrape"
)

// freeAddr returns a loopback address nothing listens on (a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve --dev with metrics.addr serves /metrics on that listener only: the
// main listener answers 404 there. The page carries the build's version and
// the janitor's runs, which serve wires itself.
func TestServeMetricsOnTheirOwnListener(t *testing.T) {
	e := newEnv(t)
	mainAddr, metricsAddr := freeAddr(t), freeAddr(t)
	e.vars["GATEHOUSE_ADDR"] = mainAddr
	e.vars["GATEHOUSE_METRICS_ADDR"] = metricsAddr
	e.vars["GATEHOUSE_JANITOR_INTERVAL"] = "100ms"

	var stdout, stderr bytes.Buffer
	a := &app{
		lookupEnv: func(k string) (string, bool) { v, ok := e.vars[k]; return v, ok },
		stdin:     strings.NewReader(""), stdout: &stdout, stderr: &stderr, now: time.Now,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- execute(ctx, a, []string{"--config", e.configPath, "serve", "--dev"}) }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + mainAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not come up: %v\nstderr: %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	resp, err := http.Get("http://" + mainAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("main listener GET /metrics: %d, want 404", resp.StatusCode)
	}
	var m scrape.Families
	for {
		m = scrape.Fetch(t, "http://"+metricsAddr+"/metrics")
		if v, _ := m.Value("gatehouse_janitor_runs_total", "result", "ok"); v >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no janitor run counted; series %v", m.Series("gatehouse_janitor_runs_total"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, ok := m.Value("gatehouse_build_info", "version", version); !ok || v != 1 {
		t.Errorf("build info for version %q: %v %v; series %v", version, v, ok, m.Series("gatehouse_build_info"))
	}
	if v, ok := m.Value("gatehouse_http_requests_total", "route", "/healthz", "status", "200"); !ok || v < 1 {
		t.Errorf("the main listener's /healthz was not counted: %v", m.Series("gatehouse_http_requests_total"))
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("serve exited %d\nstderr: %s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := net.Dial("tcp", metricsAddr); err == nil {
		t.Error("the metrics listener is still open after serve returned")
	}
}
