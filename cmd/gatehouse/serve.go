package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// shutdownGrace is how long in-flight requests may finish after SIGTERM.
const shutdownGrace = 15 * time.Second

func newServeCmd(a *app) *cobra.Command {
	var dev, devPublicIssuer, migrate bool
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server",
		Long: "Run the authorization server on GATEHOUSE_ADDR for the issuer GATEHOUSE_ISSUER.\n\n" +
			"--dev runs the embedded default: an in-memory store (unless a database URL is set),\n" +
			"a generated secret and keys, an admin user with a generated password, and demo clients,\n" +
			"all printed at start. Nothing of it survives a restart. It refuses an issuer whose host\n" +
			"is not a loopback address unless --dev-public-issuer is given as well.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := a.cfg
			if dev {
				cfg.Dev = true
			}
			if devPublicIssuer && !cfg.Dev {
				return errors.New("serve: --dev-public-issuer is only meaningful with --dev")
			}
			if addr != "" {
				cfg.Addr = addr
			}
			if cfg.Dev && cfg.Secret == "" {
				cfg.Secret = randomString(32)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			if err := checkDevIssuer(cfg, devPublicIssuer); err != nil {
				return err
			}
			return a.serve(cmd.Context(), cfg, migrate)
		},
	}
	cmd.Flags().BoolVar(&dev, "dev", false, "embedded default: in-memory store, generated secret, admin user and demo clients")
	// Only a flag, never a YAML key or GATEHOUSE_* variable: exposing dev
	// mode must be said on the command line each time, not left in a file.
	cmd.Flags().BoolVar(&devPublicIssuer, "dev-public-issuer", false, "with --dev, accept an issuer whose host is not a loopback address")
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply pending database migrations before serving")
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (overrides GATEHOUSE_ADDR)")
	return cmd
}

func (a *app) serve(ctx context.Context, cfg config.Config, migrate bool) error {
	// The collector's settings (runtime.*), before anything allocates much.
	gc := gcTuningFor(cfg.Runtime, os.Getenv)
	tuneGC(gc)
	if len(gc.fromEnv) > 0 {
		a.logger.Info("serve: the garbage collector follows the environment, not runtime.*", "variables", gc.fromEnv)
	}
	st, err := openServeStore(ctx, cfg, migrate)
	if err != nil {
		return err
	}
	defer st.Close()

	srv, err := server.New(ctx, cfg, st, a.logger, server.WithVersion(version))
	if err != nil {
		return err
	}
	// Deferred after st.Close, so it runs first: the change feed listener
	// stops before the store it listens to.
	defer srv.Close()
	if cfg.Dev {
		if err := a.seedDev(ctx, cfg, st, srv); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	// Expired codes, tokens, sessions and JWT ids are removed continuously,
	// so the tables stay bounded; every instance may run it.
	go janitor.New(st, janitor.Options{Interval: cfg.Janitor.Interval, BatchSize: cfg.Janitor.BatchSize, Logger: a.logger,
		Recorder: srv.Telemetry(), SignInFailureWindow: cfg.Login.Lockout,
		UnusedClientTTL: cfg.ClientRegistration.UnusedClientTTL,
		// Its own service: expiring grants reads no cache.
		RoleGrants: a.newService(cfg, st),
		// Usage analytics: the daily counters' retention.
		UsageRetention: cfg.Usage.Retention}).Run(ctx)

	servers := []*http.Server{hs}
	listeners := []net.Listener{ln}
	if cfg.Metrics.Addr != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("serve: listen on metrics.addr %s: %w", cfg.Metrics.Addr, err)
		}
		servers = append(servers, &http.Server{
			Handler:           srv.MetricsHandler(),
			ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
			ReadTimeout:       cfg.HTTP.ReadTimeout,
			WriteTimeout:      cfg.HTTP.WriteTimeout,
			IdleTimeout:       cfg.HTTP.IdleTimeout,
			MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
			ErrorLog:          hs.ErrorLog,
		})
		listeners = append(listeners, mln)
		a.logger.Info("metrics served on their own listener", "addr", mln.Addr().String(), "path", server.MetricsPath)
	}

	a.logger.Info("gatehouse serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "dev", cfg.Dev, "version", version)

	served := make(chan error, len(servers))
	for i, s := range servers {
		go func() { served <- s.Serve(listeners[i]) }()
	}
	var failed error
	select {
	case err := <-served:
		failed = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		a.logger.Info("shutting down", "grace", shutdownGrace.String())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && failed == nil {
			failed = fmt.Errorf("serve: shutdown: %w", err)
		}
	}
	if failed != nil {
		return failed
	}
	for range servers {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	return nil
}

// checkDevIssuer refuses dev mode for an issuer others may reach, unless the
// operator said so twice (--dev and --dev-public-issuer): dev mode is meant
// for one machine, and on a public address its throwaway state and the
// secrets on the terminal would be a live server's.
func checkDevIssuer(cfg config.Config, publicIssuer bool) error {
	if !cfg.Dev || publicIssuer {
		return nil
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil {
		return fmt.Errorf("serve: issuer: %w", err) // unreachable after cfg.Validate
	}
	if domain.IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("serve: dev mode refuses the issuer %s, whose host is not a loopback address (%s). "+
		"Dev mode is for one machine: its state is in memory and lost on exit (unless a database is set), "+
		"and it prints the admin password and client secrets to the terminal. "+
		"Give --dev-public-issuer as well to run it there anyway, or run without dev mode", cfg.Issuer, domain.LoopbackHosts)
}

// openServeStore picks the backend: PostgreSQL when a database URL is set,
// the in-memory store in dev mode without one.
func openServeStore(ctx context.Context, cfg config.Config, migrate bool) (store.Store, error) {
	if cfg.DatabaseURL == "" {
		if !cfg.Dev {
			return nil, errNoDatabase
		}
		return memory.New(), nil
	}
	if migrate {
		if err := migrations.Up(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("serve: migrate: %w", err)
		}
	}
	st, err := postgres.New(ctx, cfg.DatabaseURL, storeTimeouts(cfg), clientTokenCommit(cfg))
	if err != nil {
		return nil, fmt.Errorf("serve: open database: %w", err)
	}
	return st, nil
}

// seedDev creates the admin user, the persona roles and the demo clients of
// dev mode through the domain service (audited, with the system as actor),
// prints how to use them, and mounts the demo relying party at /demo under
// the issuer's path.
func (a *app) seedDev(ctx context.Context, cfg config.Config, st store.Store, srv *server.Server) error {
	svc := a.newService(cfg, st)
	system := domain.Actor{Type: store.ActorSystem}
	issuer := strings.TrimRight(cfg.Issuer, "/")
	var banner strings.Builder
	fmt.Fprintf(&banner, "\ngatehouse is running in dev mode at %s (state is lost on exit)\n\n", issuer)

	password := randomString(12)
	_, err := svc.CreateUser(ctx, system, domain.NewUser{
		Username: "admin", Email: "admin@localhost.localdomain", FullName: "Administrator",
		Password: password, Status: store.StatusActive, Roles: []string{"admin"}, EmailVerified: true,
	})
	switch {
	case err == nil:
		fmt.Fprintf(&banner, "  admin login    username: admin   password: %s\n", password)
	case errors.Is(err, store.ErrConflict):
		fmt.Fprintf(&banner, "  admin login    username: admin   (exists already; password unchanged)\n")
	default:
		return fmt.Errorf("serve: dev admin: %w", err)
	}

	if err := a.importPersonaRoles(ctx, svc); err != nil {
		return err
	}

	demoSecret, err := createDevClient(ctx, svc, system, store.Client{
		ID: "demo", Name: "Demo web app", TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:           []string{demo.RedirectURL(issuer)},
		PostLogoutRedirectURIs: []string{issuer + "/demo"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		ResponseTypes:          []string{"code"},
		// gatehouse:api lets a person get a token of its own for the
		// resource API through the demo client (the banner says how).
		Scopes: []string{"openid", "profile", "email", "roles", "offline_access", admin.APIScope},
	})
	if err != nil {
		return err
	}
	// The service account is an admin, so the README's resource API
	// walk-through works with its token out of the box.
	serviceSecret, err := createDevClient(ctx, svc, system, store.Client{
		ID: "demo-service", Name: "Demo service", TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"},
		Scopes:     []string{"gatehouse:api"},
		Roles:      []string{"admin"},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(&banner, "  demo client    client_id: demo   client_secret: %s\n", orExisting(demoSecret))
	fmt.Fprintf(&banner, "                 redirect_uri: %s\n", demo.RedirectURL(issuer))
	fmt.Fprintf(&banner, "  service client client_id: demo-service   client_secret: %s   (an admin service account)\n\n", orExisting(serviceSecret))
	fmt.Fprintf(&banner, "  admin console:                 %s/console/\n", issuer)
	fmt.Fprintf(&banner, "  sign in through the demo app:  %s/demo\n", issuer)
	fmt.Fprintf(&banner, "  discovery:                     %s/.well-known/openid-configuration\n\n", issuer)
	writeUserTokenSteps(&banner, issuer, demoSecret)
	fmt.Fprint(a.stdout, banner.String())

	rp := demo.New(demo.Options{
		Issuer: issuer, ClientID: "demo", ClientSecret: demoSecret,
		Key: keys.Derive([]byte(cfg.Secret), "demo-rp", 32),
	})
	// Without the secret (the client existed already) the demo could not
	// redeem a code.
	if demoSecret != "" {
		srv.Mount("/demo", rp)
	}
	return nil
}

// writeUserTokenSteps prints how a person gets an access token of its own
// for the resource API: the code flow through the demo client with the
// gatehouse:api scope, by hand. The demo app itself does not ask for the
// scope, so its callback leaves the code unused for the person to exchange.
func writeUserTokenSteps(w io.Writer, issuer, demoSecret string) {
	redirect := demo.RedirectURL(issuer)
	authorize := issuer + "/oauth2/auth?" + url.Values{
		"client_id": {"demo"}, "response_type": {"code"}, "scope": {"openid " + admin.APIScope},
		"redirect_uri": {redirect}, "state": {"api-walkthrough"},
	}.Encode()
	secret := demoSecret
	if secret == "" {
		secret = "DEMO_SECRET"
	}
	fmt.Fprintf(w, "  a user's token for the resource API (%s):\n", admin.APIScope)
	fmt.Fprintf(w, "    1. open   %s\n", authorize)
	fmt.Fprintf(w, "    2. sign in, allow, and copy the code the demo callback shows, then\n")
	fmt.Fprintf(w, "       curl -s -u demo:%s -d grant_type=authorization_code -d code=CODE -d redirect_uri=%s %s/oauth2/token\n", secret, redirect, issuer)
	fmt.Fprintf(w, "    3. curl -s -H \"Authorization: Bearer ACCESS_TOKEN\" %s%s/users/me\n\n", issuer, admin.Prefix)
}

// newService is the domain service every command (and dev seeding) goes
// through, with the server's settings from cfg (server.DomainOptions) and
// the app's clock.
func (a *app) newService(cfg config.Config, st store.Store) *domain.Service {
	opts := server.DomainOptions(cfg, a.logger)
	opts.Now = a.now
	return domain.NewService(st, opts)
}

// createDevClient registers c and returns its generated secret, or "" if a
// client of that id exists already (its secret is not known).
func createDevClient(ctx context.Context, svc *domain.Service, actor domain.Actor, c store.Client) (string, error) {
	_, secret, err := svc.CreateClient(ctx, actor, c)
	if errors.Is(err, store.ErrConflict) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("serve: dev client %s: %w", c.ID, err)
	}
	return secret, nil
}

func orExisting(secret string) string {
	if secret == "" {
		return "(exists already; secret unchanged)"
	}
	return secret
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS random source failing is unrecoverable
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
