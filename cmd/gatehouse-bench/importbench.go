package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// cmdImport times `gatehouse users import` of a generated JSON lines file
// on a fresh database: the first run creates every user, the second finds
// them all unchanged. Half the rows carry one bcrypt hash and half one
// argon2id hash, each computed once: hashing passwords is not the import's
// work, checking and storing hashes is.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	var gatehouse, serverURL, database string
	var rows int
	var keep bool
	fs.StringVar(&gatehouse, "gatehouse", "bin/gatehouse", "gatehouse binary (make build)")
	fs.StringVar(&serverURL, "database-url", DefaultDatabaseURL, "PostgreSQL server to create the bench database on")
	fs.fromEnv("database-url", "GATEHOUSE_BENCH_DATABASE_URL")
	fs.StringVar(&database, "database", "gatehouse_bench_import", "name of the database, dropped and created afresh")
	fs.IntVar(&rows, "rows", 100_000, "users in the generated file")
	fs.fromEnv("rows", "BENCH_IMPORT_ROWS")
	fs.BoolVar(&keep, "keep-database", false, "keep the database at the end")
	if err := fs.parse(args); err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) }

	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s: %w", redactURL(serverURL), err)
	}
	defer admin.Close(context.Background())
	dbURL, err := withDatabase(serverURL, database)
	if err != nil {
		return err
	}
	ident := pgx.Identifier{database}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", database, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	if !keep {
		defer func() {
			if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
				logf("drop database %s: %v", database, err)
			}
		}()
	}
	env := childEnv([]string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_SECRET=" + randomToken(48), "GATEHOUSE_LOG_LEVEL=warn"})
	cli := func(args ...string) ([]byte, time.Duration, error) {
		cmd := exec.CommandContext(ctx, gatehouse, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return nil, 0, fmt.Errorf("gatehouse %v: %w: %s", args[:min(2, len(args))], err, bytes.TrimSpace(errOut.Bytes()))
		}
		return out.Bytes(), time.Since(start), nil
	}
	logf("migrating %s", database)
	if _, _, err := cli("migrate", "up"); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "gatehouse-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.jsonl")
	logf("writing %d users to %s", rows, path)
	if err := writeImportFile(path, rows); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "%-28s %10s %10s %12s\n", "users import", "rows", "seconds", "rows/s")
	for _, run := range []struct{ label, want string }{
		{"first run (all created)", "created"},
		{"second run (all unchanged)", "unchanged"},
	} {
		out, took, err := cli("users", "import", path)
		if err != nil {
			return err
		}
		var sum map[string]any
		if err := json.Unmarshal(out, &sum); err != nil {
			return fmt.Errorf("users import printed no summary: %w", err)
		}
		if n, _ := sum[run.want].(float64); int(n) != rows {
			return fmt.Errorf("%s: summary %v, want %d %s", run.label, sum, rows, run.want)
		}
		fmt.Fprintf(stdout, "%-28s %10d %10.2f %12.0f\n", run.label, rows, took.Seconds(), float64(rows)/took.Seconds())
	}
	return nil
}

// writeImportFile writes n users as JSON lines, with two hashes reused.
func writeImportFile(path string, n int) error {
	bh, err := bcrypt.GenerateFromPassword([]byte("bench password"), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	salt := []byte(randomToken(16))[:16]
	sum := argon2.IDKey([]byte("bench password"), salt, 3, 64<<10, 2, 32)
	b64 := base64.RawStdEncoding
	argon := "$argon2id$v=19$m=65536,t=3,p=2$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(sum)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for i := range n {
		hash := string(bh)
		if i%2 == 1 {
			hash = argon
		}
		rec := map[string]any{
			"username": fmt.Sprintf("imported-%06d", i), "email": fmt.Sprintf("imported-%06d@bench.example", i),
			"full_name": fmt.Sprintf("Imported User %d", i), "department": []string{"Trading", "Research", "Operations"}[i%3],
			"roles": []string{"user"}, "goals": []string{"Track intraday P&L"}, "password_hash": hash,
		}
		if err := enc.Encode(rec); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
