package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/console"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/logbound"
	"github.com/gatehouse/gatehouse/internal/routes"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/scim"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/telemetry"
	"github.com/gatehouse/gatehouse/usage"
)

// Server is one gatehouse instance's HTTP surface.
type Server struct {
	handler http.Handler
	base    *mux.Router // the issuer's path, where every route but the probes lives
	keys    *keys.Manager
	svc     *domain.Service
	prov    *provider.Provider
	store   store.Store
	logger  *slog.Logger
	tel     *telemetry.Telemetry

	// background is the context of the work New starts (the change feed
	// listener); Close cancels it and waits for done.
	background context.Context
	stop       context.CancelFunc
	done       chan struct{}
	// mailDone is closed when the mail outbox's sender has stopped.
	mailDone chan struct{}
	// logoutDone is closed when the back-channel logout sender has stopped.
	logoutDone chan struct{}
	// webhooksDone is closed when the webhook delivery worker has stopped.
	webhooksDone chan struct{}

	// Usage analytics: the recorder, and usageDone, closed when its last
	// flush is done.
	usage     *usage.Recorder
	usageDone chan struct{}
	// api is the resource API, whose principal cache apply invalidates.
	api *admin.API
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
func New(ctx context.Context, cfg config.Config, st store.Store, logger *slog.Logger, opts ...Option) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Requests put their own bytes into log values (an id they sent, an
	// error echoing a parameter): none may make a line longer than a bound.
	logger = slog.New(logbound.New(logger.Handler(), logbound.Max))
	s := &Server{store: st, logger: logger, done: make(chan struct{})}
	s.background, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	started := false
	defer func() {
		if !started {
			s.stop()
		}
	}()
	tel, err := newTelemetry(ctx, cfg, st, logger, opts)
	if err != nil {
		return nil, fmt.Errorf("server: telemetry: %w", err)
	}
	s.tel = tel
	defer func() {
		if !started {
			_ = tel.Shutdown(context.WithoutCancel(ctx))
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

	dopts := DomainOptions(cfg, logger)
	dopts.OnChange = func(e store.ChangeEvent) { s.apply(s.background, e) }
	dopts.SignIns, dopts.CacheRecorder = tel, tel
	// Events and webhooks: the drops at enqueue are counted with the
	// worker's results.
	webhookMetrics, err := tel.Webhooks()
	if err != nil {
		return nil, fmt.Errorf("server: webhook metrics: %w", err)
	}
	dopts.Webhooks.Recorder = webhookMetrics
	// Usage analytics: sign-ins are counted in memory, flushed in batches.
	s.newUsage(cfg, st)
	dopts.Usage = s.usage
	svc := domain.NewService(st, dopts)
	// The file's identity providers, written at every start (idp).
	if err := svc.ApplyConfiguredIdentityProviders(ctx, domain.Actor{Type: store.ActorSystem},
		cfg.IdentityProviderInputs()); err != nil {
		return nil, fmt.Errorf("server: identity providers: %w", err)
	}

	pages, err := consent.New(svc, km, consent.Options{
		Issuer:              cfg.Issuer,
		CookieSecure:        cfg.CookieSecure(),
		SessionLifetime:     cfg.Lifetimes.LoginSession,
		CSRFKey:             keys.Derive(secret, "csrf", 32),
		BindingKey:          keys.Derive(secret, "consent-binding", 32),
		RegistrationEnabled: cfg.Registration.Enabled,
		EmailNotifications:  cfg.SMTP.Host != "",
		Logger:              logger,
		FederationKey:       keys.Derive(secret, "upstream-login-state", 32),
	})
	if err != nil {
		return nil, fmt.Errorf("server: pages: %w", err)
	}

	registration, err := registrationPolicy(cfg.ClientRegistration, svc)
	if err != nil {
		return nil, err
	}
	prov, err := provider.New(st, svc, km, pages, provider.Options{
		Issuer:       cfg.Issuer,
		GlobalSecret: keys.Derive(secret, "fosite-global-secret", 32),
		Lifetimes: store.Lifetimes{
			AuthorizationCode: cfg.Lifetimes.AuthorizationCode,
			AccessToken:       cfg.Lifetimes.AccessToken,
			IDToken:           cfg.Lifetimes.IDToken,
			RefreshToken:      cfg.Lifetimes.RefreshToken,
		},
		AccessTokenFormat: store.AccessTokenFormat(cfg.AccessTokenFormat),
		Logger:            logger,
		Tokens:            tel,
		CacheRecorder:     tel,

		RefreshReuseInterval: cfg.RefreshToken.ReuseInterval,

		IntrospectionCacheEntries: cfg.Cache.IntrospectionEntries,
		SharedStore:               isChangeFeed(st),

		Registration:       registration,
		DeviceCodeLifetime: cfg.DeviceCode.Lifetime,
		DeviceCodeInterval: cfg.DeviceCode.Interval,
		DPoP: provider.DPoPOptions{
			ProofWindow: cfg.DPoP.ProofWindow, RequireNonce: cfg.DPoP.RequireNonce, NonceLifetime: cfg.DPoP.NonceLifetime,
		},

		Usage: s.usage,
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
		return admin.AccessToken{Subject: ti.Subject, ClientID: ti.ClientID, UserID: ti.UserID, Scopes: ti.Scopes,
			ExpiresAt: ti.ExpiresAt, Act: ti.Act, Audience: ti.Audience, JKT: ti.JKT}, nil
	}, admin.Options{Logger: logger, Issuer: cfg.Issuer,
		Audiences: []string{cfg.Issuer, prov.ResourceAPI()}, ResourceMetadata: prov.ResourceMetadataURL(),
		DPoP: func(r *http.Request, token string) (string, error) {
			jkt, err := prov.CheckResourceProof(r, token)
			if errors.Is(err, provider.ErrInvalidDPoPProof) {
				return "", fmt.Errorf("%w: %w", admin.ErrInvalidDPoPProof, err)
			}
			return jkt, err
		},
		PrincipalCacheEntries: cfg.Cache.PrincipalEntries, SharedStore: isChangeFeed(st), CacheRecorder: tel,
	})
	if o, ok := st.(store.TokenObserver); ok {
		api.ObserveStore(o)
	}

	// SCIM 2.0 provisioning: the resource API's authentication, SCIM's
	// language.
	provisioning := scim.New(svc, api, scim.Options{Issuer: cfg.Issuer, Logger: logger})

	s.keys, s.svc, s.prov, s.api = km, svc, prov, api
	// After the fields are set: the registration's change reaches s.apply.
	con, err := console.New(ctx, svc, console.Options{Issuer: cfg.Issuer, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("server: console: %w", err)
	}
	base, err := basePath(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	root := mux.NewRouter()
	// Probes stay at the root whatever the issuer's path: a load balancer
	// checks the instance, not one of the issuers it could serve.
	root.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	root.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	// Every other route lives under the issuer's path, mounted here once:
	// the packages register paths relative to it.
	s.base = root
	if base != "" {
		s.base = root.PathPrefix(base).Subrouter()
	}
	prov.MountWellKnown(root)
	prov.Mount(s.base)
	pages.Mount(s.base)
	api.Mount(s.base)
	con.Mount(s.base)
	// SCIM 2.0 provisioning.
	provisioning.Mount(s.base)
	unmatched := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed := routes.Allowed(root, r); allowed != "" {
			w.Header().Set("Allow", allowed)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		pages.NotFound(w, r)
	})
	root.NotFoundHandler, s.base.NotFoundHandler = unmatched, unmatched
	root.MethodNotAllowedHandler, s.base.MethodNotAllowedHandler = unmatched, unmatched
	s.mountTelemetry(root, cfg)

	// The telemetry middleware (metrics, request log, request id, trace)
	// is outermost but for the client address, resolved once before
	// anything reads it, so that it sees every answer, refused bodies and
	// panics included; HSTS goes on every answer too. Input that is not
	// text is refused after the body limit, which bounds its reading.
	faces := surfaces{base: base, pages: pages}
	s.handler = clientAddress(cfg.HTTP.TrustedProxyPrefixes(), s.tel.Middleware(securityHeaders(cfg.Issuer, retryAfter(faces.rateLimit(cfg.RateLimits, s.tel,
		faces.limitBody(cfg.HTTP.MaxBodyBytes, faces.plainText(faces.recoverPanics(logger, root))))))))

	if err := s.startMail(cfg, st); err != nil {
		return nil, err
	}
	if err := s.startBackChannel(cfg, st); err != nil {
		s.stop()
		<-s.mailDone
		return nil, err
	}
	s.startWebhooks(cfg, st, svc, webhookMetrics)
	s.startUsage()
	if feed, ok := st.(store.ChangeFeed); ok {
		go s.listen(feed)
	} else {
		close(s.done)
	}
	started = true
	return s, nil
}

// Close stops the background work New started and waits for it to end,
// then flushes the spans not yet exported (when tracing is on): call it
// after the HTTP server has stopped. It does not close the store, which the
// caller owns. Calling it again does nothing.
func (s *Server) Close() {
	s.stop()
	<-s.done
	<-s.mailDone
	<-s.logoutDone
	<-s.webhooksDone
	<-s.usageDone
	s.closeTelemetry()
}

// isChangeFeed reports whether st is shared through a change feed (New
// listens to it).
func isChangeFeed(st store.Store) bool {
	_, ok := st.(store.ChangeFeed)
	return ok
}

// listen applies the feed's changes until Close.
func (s *Server) listen(feed store.ChangeFeed) {
	defer close(s.done)
	connections, lost := 0, false
	err := feed.Listen(s.background, func(e store.ChangeEvent) {
		if e.Kind == store.ChangeFeedLost && !lost {
			// Once per loss: the feed announces one per failed attempt.
			lost = true
			s.logger.Warn("change feed lost; introspection is answered from the database until it reconnects")
		}
		if e.Kind == store.ChangeAll {
			lost = false
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
	// After the service: a principal is read with its role definitions.
	if s.api != nil {
		s.api.Invalidate(e)
	}
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

// Mount serves h at path (and below it) under the issuer's path, for a
// handler built after the server, such as the dev-mode demo app. h sees the
// request's full path.
func (s *Server) Mount(path string, h http.Handler) {
	s.base.Handle(path, h)
	s.base.PathPrefix(path + "/").Handler(h)
}

// basePath is the issuer's path without a trailing slash, "" for an issuer
// at the root of its host.
func basePath(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("server: issuer: %w", err)
	}
	return strings.TrimRight(u.Path, "/"), nil
}

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
