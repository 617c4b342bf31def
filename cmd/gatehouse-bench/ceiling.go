package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// cmdCeiling measures the durable single-row commit rate of the PostgreSQL
// server: that many connections (by default pgxpool's default size, which
// the server's pool has) each insert one short row per transaction, with
// synchronous_commit on, for the duration. It is the ceiling that a
// client_credentials grant committing its one row on its own could reach
// (README "The client_credentials write path"); the bench's cc rates are
// read against it, measured on the same machine in the same hour.
func cmdCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ceiling", stderr)
	var serverURL, database string
	var duration, warmup time.Duration
	var conns int
	fs.StringVar(&serverURL, "database-url", DefaultDatabaseURL, "PostgreSQL server to create the scratch database on")
	fs.fromEnv("database-url", "GATEHOUSE_BENCH_DATABASE_URL")
	fs.StringVar(&database, "database", "gatehouse_bench_ceiling", "name of the scratch database, dropped and created afresh")
	fs.DurationVar(&duration, "duration", 10*time.Second, "measured time")
	fs.fromEnv("duration", "BENCH_DURATION")
	fs.DurationVar(&warmup, "warmup", 2*time.Second, "unmeasured time before")
	fs.fromEnv("warmup", "BENCH_WARMUP")
	// pgxpool's default pool size, which gatehouse's pool keeps.
	fs.IntVar(&conns, "connections", max(4, runtime.NumCPU()), "concurrent connections, one transaction each at a time")
	fs.fromEnv("connections", "BENCH_CEILING_CONNECTIONS")
	if err := fs.parse(args); err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s: %w", redactURL(serverURL), err)
	}
	defer admin.Close(context.Background())
	ident := pgx.Identifier{database}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", database, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	}()
	dbURL, err := withDatabase(serverURL, database)
	if err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse the database URL: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = int32(conns), int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	// A short row with a primary key, as durable as the server is set up.
	if _, err := pool.Exec(ctx, `CREATE TABLE ceiling (id text PRIMARY KEY, at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	var sc string
	if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil {
		return err
	}

	var counting atomic.Bool
	var done atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, warmup+duration)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for w := range conns {
		wg.Go(func() {
			for i := 0; runCtx.Err() == nil; i++ {
				_, err := pool.Exec(runCtx, `INSERT INTO ceiling (id, at) VALUES ($1, now())`, strconv.Itoa(w)+"-"+strconv.Itoa(i))
				if err != nil {
					if runCtx.Err() == nil {
						errs[w] = err
					}
					return
				}
				if counting.Load() {
					done.Add(1)
				}
			}
		})
	}
	time.Sleep(warmup)
	counting.Store(true)
	start := time.Now()
	time.Sleep(duration)
	n := done.Load()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	fmt.Fprintf(stdout, "durable single-row commits: %.0f/s over %d connections (synchronous_commit=%s, %d rows in %s)\n",
		float64(n)/elapsed.Seconds(), conns, sc, n, elapsed.Round(time.Millisecond))
	return nil
}
