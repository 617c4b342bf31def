package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/notify"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/store"
)

// Server is one gatehouse instance's HTTP surface.
type Server struct {
	handler http.Handler
	keys    *keys.Manager
	svc     *domain.Service
	prov    *provider.Provider
	store   store.Store
	logger  *slog.Logger

	// background is the context of the work New starts (the change feed
	// listener); Close cancels it and waits for done.
	background context.Context
	stop       context.CancelFunc
	done       chan struct{}
}

// New builds every component from cfg and st. It creates the signing keys
// on first start (race-safe across instances sharing st); ctx bounds that
// start only. A nil logger discards.
//
// Clients, signing keys and role definitions are cached in process. When
// st is shared by several instances (it implements store.ChangeFeed), New
// listens in the background for the changes any of them commits and drops
// what changed from the caches; Close stops it. Writes this instance makes
// through the domain invalidate its caches at once.
func New(ctx context.Context, cfg config.Config, st store.Store, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: st, logger: logger, done: make(chan struct{})}
	s.background, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	started := false
	defer func() {
		if !started {
			s.stop()
		}
	}()
	secret := []byte(cfg.Secret)
	km, err := keys.NewManager(st, secret, keys.Options{
		Algorithm: cfg.SigningAlgorithm,
		// A retired key must verify every token it signed until that token
		// expires: the longest-lived token it signs.
		RetireAfter: max(cfg.Lifetimes.IDToken, cfg.Lifetimes.AccessToken),
	})
	if err != nil {
		return nil, fmt.Errorf("server: keys: %w", err)
	}
	if err := km.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("server: keys: %w", err)
	}

	var notifier domain.Notifier // nil: no email
	emailing := cfg.SMTP.Host != ""
	if emailing {
		notifier = notify.NewSMTP(cfg.SMTP, cfg.Issuer, logger)
	}
	svc := domain.NewService(st, domain.Options{
		Passwords:        domain.Passwords{BcryptCost: cfg.Password.BcryptCost, MinLength: cfg.Password.MinLength},
		Notifier:         notifier,
		Logger:           logger,
		LockoutThreshold: cfg.Login.MaxFailures,
		LockoutDuration:  cfg.Login.Lockout,
		OnChange:         func(e store.ChangeEvent) { s.apply(s.background, e) },
	})

	pages, err := consent.New(st, svc, km, consent.Options{
		Issuer:              cfg.Issuer,
		CookieSecure:        cfg.CookieSecure(),
		SessionLifetime:     cfg.Lifetimes.LoginSession,
		CSRFKey:             keys.Derive(secret, "csrf", 32),
		RegistrationEnabled: cfg.Registration.Enabled,
		EmailNotifications:  emailing,
		Logger:              logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server: pages: %w", err)
	}

	prov, err := provider.New(st, svc, km, pages, provider.Options{
		Issuer:       cfg.Issuer,
		GlobalSecret: keys.Derive(secret, "fosite-global-secret", 32),
		BindingKey:   keys.Derive(secret, "consent-binding", 32),
		Lifetimes: store.Lifetimes{
			AuthorizationCode: cfg.Lifetimes.AuthorizationCode,
			AccessToken:       cfg.Lifetimes.AccessToken,
			IDToken:           cfg.Lifetimes.IDToken,
			RefreshToken:      cfg.Lifetimes.RefreshToken,
		},
		AccessTokenFormat: store.AccessTokenFormat(cfg.AccessTokenFormat),
		ConsentLifetime:   cfg.Lifetimes.Consent,
		Logger:            logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server: provider: %w", err)
	}

	api := admin.New(svc, func(ctx context.Context, token string) (admin.AccessToken, error) {
		ti, err := prov.IntrospectAccessToken(ctx, token)
		if errors.Is(err, provider.ErrInvalidToken) {
			return admin.AccessToken{}, fmt.Errorf("%w: %w", admin.ErrInvalidToken, err)
		}
		if err != nil {
			return admin.AccessToken{}, err
		}
		return admin.AccessToken{Subject: ti.Subject, ClientID: ti.ClientID, UserID: ti.UserID, Scopes: ti.Scopes, ExpiresAt: ti.ExpiresAt}, nil
	}, admin.Options{Logger: logger})

	s.keys, s.svc, s.prov = km, svc, prov
	r := mux.NewRouter()
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	prov.Mount(r)
	pages.Mount(r)
	api.Mount(r)

	// limitBody is outermost so that http.MaxBytesReader gets the server's
	// own ResponseWriter: only then does net/http stop reading an oversized
	// body and close the connection.
	s.handler = limitBody(cfg.HTTP.MaxBodyBytes, recoverPanics(logger, logRequests(logger, r)))

	if feed, ok := st.(store.ChangeFeed); ok {
		go s.listen(feed)
	} else {
		close(s.done)
	}
	started = true
	return s, nil
}

// Close stops the background work New started and waits for it to end. It
// does not close the store, which the caller owns. Calling it again does
// nothing.
func (s *Server) Close() {
	s.stop()
	<-s.done
}

// listen applies the feed's changes until Close.
func (s *Server) listen(feed store.ChangeFeed) {
	defer close(s.done)
	connections := 0
	err := feed.Listen(s.background, func(e store.ChangeEvent) {
		if e.Kind == store.ChangeAll {
			// Logged: an instance that keeps reconnecting is one whose
			// caches keep being flushed, and may have missed changes for
			// a moment each time.
			connections++
			if connections == 1 {
				s.logger.Debug("change feed connected")
			} else {
				s.logger.Info("change feed reconnected; caches flushed", "connections", connections)
			}
		}
		s.apply(s.background, e)
	})
	if err != nil {
		s.logger.Error("change feed stopped; other instances' changes are seen only as caches expire", "error", err)
	}
}

// apply drops what this instance caches of a changed record.
func (s *Server) apply(ctx context.Context, e store.ChangeEvent) {
	s.prov.Invalidate(e)
	s.svc.Invalidate(e)
	switch e.Kind {
	case store.ChangeSigningKey, store.ChangeAll:
		// Reloaded rather than dropped: Reload waits for a load under way,
		// which may have read the keys just before the change, and reads
		// them again after it.
		if err := s.keys.Reload(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("change feed: reload signing keys", "error", err)
		}
	}
}

// Handler returns the root handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Keys returns the signing key manager (for rotation from the CLI and tests).
func (s *Server) Keys() *keys.Manager { return s.keys }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database answers and a signing key can be
// loaded: a load balancer should not send traffic to an instance that would
// fail every token request.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "keys": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("readyz: database unreachable", "error", err)
		checks["database"], status = "unavailable", http.StatusServiceUnavailable
	}
	if _, err := s.keys.Signer(ctx); err != nil {
		s.logger.Warn("readyz: no signing key", "error", err)
		checks["keys"], status = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, status, checks)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// limitBody refuses a declared oversized body at once and caps an undeclared
// one, so no handler reads more than max bytes.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
				"error":             "invalid_request",
				"error_description": fmt.Sprintf("The request body exceeds %d bytes.", max),
			})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs method, path (never the query: it carries codes and
// tokens), status and duration.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "http request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// recoverPanics turns a handler panic into a logged 500 with no detail.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			http.Error(w, "internal server error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
