package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/logbound"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app is what every command shares: where the configuration comes from, the
// configuration itself once loaded, and the process's streams and logger.
type app struct {
	// configPath is the --config flag.
	configPath string
	// lookupEnv reads GATEHOUSE_* variables (os.LookupEnv in production).
	lookupEnv func(string) (string, bool)
	// cfg is loaded (not validated as a whole) before any command runs;
	// each command validates the parts it uses, after applying its flags.
	cfg    config.Config
	logger *slog.Logger

	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
}

func main() {
	a := &app{
		lookupEnv: os.LookupEnv,
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		now:       time.Now,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, a, os.Args[1:])
	stop()
	os.Exit(code)
}

// execute runs the command line args and returns the process exit code.
func execute(ctx context.Context, a *app, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.stderr, "gatehouse: %v\n", err)
		return 1
	}
	return 0
}

// skipConfig marks commands that must work without a usable configuration.
const skipConfig = "gatehouse/skip-config"

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "OAuth 2.0 / OpenID Connect authorization server",
		Long: "gatehouse is an OAuth 2.0 / OpenID Connect authorization server.\n\n" +
			"Configuration comes from the --config YAML file, overridden by GATEHOUSE_* environment\n" +
			"variables (GATEHOUSE_SECRET_FILE and GATEHOUSE_DATABASE_URL_FILE read secrets from files),\n" +
			"overridden by flags.",
		// Errors are printed once by execute; usage only where a flag was wrong.
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !needsConfig(cmd) {
				return nil
			}
			return a.loadConfig()
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "path of the YAML configuration file")

	root.AddCommand(
		newServeCmd(a),
		newMigrateCmd(a),
		newUsersCmd(a),
		newRolesCmd(a),
		newGroupsCmd(a),
		// Areas (areas.go).
		newAreasCmd(a),
		newTokensCmd(a),
		newAuditCmd(a),
		newClientsCmd(a),
		newKeysCmd(a),
		newJanitorCmd(a),
		newVersionCmd(a),
		// Custom permissions (permissions.go).
		newPermissionsCmd(a),
		// Usage analytics: GET /api/v1/stats from the command line (stats.go).
		newStatsCmd(a),
	)
	return root
}

// needsConfig reports whether cmd runs with the configuration loaded. Help,
// shell completion and commands marked skipConfig must work when it is
// broken, since they are how an operator finds out how to fix it.
func needsConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[skipConfig] != "" {
			return false
		}
		switch c.Name() {
		case "help", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return false
		}
	}
	return true
}

// loadConfig reads the file and environment into a.cfg and builds the
// logger, whose settings are the only ones every command needs.
func (a *app) loadConfig() error {
	cfg, err := config.Load(a.configPath, a.lookupEnv)
	if err != nil {
		return err
	}
	if err := cfg.ValidateFields("log"); err != nil {
		return err
	}
	a.cfg = cfg
	a.logger = newLogger(a.stderr, cfg.Log)
	return nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo // unreachable after validation
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	// Bounded here too, not only in server.New: net/http's own error log
	// (a TLS handshake, a malformed request) writes through this handler.
	return slog.New(logbound.New(h, logbound.Max))
}
