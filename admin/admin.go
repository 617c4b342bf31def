package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/routes"
	"github.com/gatehouse/gatehouse/store"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// APIScope is the scope an OAuth 2.0 access token must carry to be accepted:
// a token a user handed to some relying party cannot be replayed here unless
// that client was allowed the scope and the user consented to it.
const APIScope = "gatehouse:api"

// AccessToken is what the API needs to know of a bearer access token that
// gatehouse issued.
type AccessToken struct {
	Subject  string
	ClientID string
	// UserID is empty for client_credentials tokens: the client acts as a
	// service account.
	UserID    string
	Scopes    []string
	ExpiresAt time.Time
	// Act is who acts through a token made by token exchange
	// (domain.Actor.String: the impersonator, or the client a token was
	// delegated to), recorded beside the subject in the audit log; "" for
	// other tokens.
	Act string
	// Audience is the token's aud (RFC 8707 resources); Options.Audiences
	// must name one of it.
	Audience []string
	// JKT is the thumbprint of the DPoP key the token is bound to (RFC
	// 9449); empty for a bearer token.
	JKT string
}

// ErrInvalidToken is what an Introspector returns (wrapped) for a token
// that is not an active access token. Any other error means the token could
// not be checked, and the request fails with 500 rather than 401.
var ErrInvalidToken = errors.New("admin: invalid access token")

// Introspector validates a bearer access token (active, unexpired, not
// revoked): ErrInvalidToken for anything else.
type Introspector func(ctx context.Context, token string) (AccessToken, error)

// Options configure the API.
type Options struct {
	Logger *slog.Logger // nil discards
	Now    func() time.Time

	// Resource indicators and protected resource metadata (RFC 8707, RFC
	// 9728). Audiences are the token audiences the API accepts (the
	// issuer, today's default, and the API's resource identifier); none:
	// any. ResourceMetadata is the URL of the API's metadata, named in
	// every challenge ("" leaves it out).
	Audiences        []string
	ResourceMetadata string
	// Issuer names the callback URL identity providers show (idp).
	Issuer string
	// DPoP verifies the proof of a request presenting a DPoP-bound token
	// (dpop.go); nil: DPoP presentations are refused.
	DPoP DPoPChecker

	// The principal cache (principalcache.go).
	// PrincipalCacheEntries bounds it; 0 turns it off. SharedStore: other
	// instances share the store and the server feeds their changes to
	// Invalidate (the cache serves nothing until the feed has connected).
	// CacheRecorder counts its hits and misses (nil: not counted).
	PrincipalCacheEntries int
	SharedStore           bool
	CacheRecorder         cache.Recorder
}

// API is the resource API under /api/v1.
type API struct {
	svc        *domain.Service
	introspect Introspector
	log        *slog.Logger
	now        func() time.Time
	// audiences and resourceMetadata: Options'.
	audiences        []string
	resourceMetadata string
	issuer           string
	dpop             DPoPChecker

	// The principal cache (principalcache.go): nil when off.
	principals  *cache.Tokens[*cachedPrincipal]
	sharedStore bool
}

// New returns the API.
func New(svc *domain.Service, introspect Introspector, opts Options) *API {
	a := &API{svc: svc, introspect: introspect, log: opts.Logger, now: opts.Now,
		audiences: opts.Audiences, resourceMetadata: opts.ResourceMetadata, issuer: strings.TrimRight(opts.Issuer, "/"), dpop: opts.DPoP,
		principals: newPrincipalCache(opts), sharedStore: opts.SharedStore}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

// Route describes one operation of the API as data: the router, the OpenAPI
// test and the permission-matrix test all read this one table.
type Route struct {
	Method string
	// Path is the mux path template under Prefix, e.g. "/users/{id}"; the
	// OpenAPI document uses the same templates.
	Path string
	// Public routes need no token.
	Public bool
	// Permissions: the caller must hold at least one of them. Empty means
	// any authenticated caller (the handler or the domain decides).
	Permissions []string
	// UserOnly routes act on the caller's own user: service accounts are
	// refused with 403.
	UserOnly bool
	// Owner says who may call the route without Permissions (the owner of
	// the addressed resource), or "" if nobody may.
	Owner string
	// Status is the status of a successful response.
	Status int
	// Note documents a rule of the route beyond Permissions.
	Note string

	// Areas (areas.go).
	// InArea routes also serve a principal holding the permission only
	// through a role granted within an area: for the users of that area's
	// subtree, and as 404 for anyone else.
	InArea bool
}

// handler serves one route for an authenticated principal (nil on public
// routes). It writes the success response itself and returns any failure,
// which writeError turns into problem+json.
type handler func(a *API, w http.ResponseWriter, r *http.Request, p *domain.Principal) error

// owner reports whether p owns the resource r addresses (and so may call the
// route without its permissions).
type owner func(a *API, r *http.Request, p *domain.Principal) (bool, error)

type route struct {
	Route
	handle handler
	owns   owner
}

// routeTable is the whole API. Order matters to the router: literal
// segments (/users/me) come before the templates that would match them
// (/users/{id}).
func routeTable() []route {
	var (
		read    = []string{store.PermUsersRead}
		profile = []string{store.PermProfileRead}
		self    = []string{store.PermProfileWrite}
		tokens  = []string{store.PermTokensSelf, store.PermTokensUsers, store.PermTokensSystem}
		review  = []string{store.PermAccessRequestsReview}
		clients = []string{store.PermClientsWrite}
		groups  = []string{store.PermGroupsWrite}
		roles   = []string{store.PermRolesWrite}
		// Events and webhooks.
		hooks = []string{store.PermWebhooksWrite}
	)
	r := func(method, path string, status int, perms []string, h handler) route {
		return route{Route: Route{Method: method, Path: path, Permissions: perms, Status: status}, handle: h}
	}
	withOwner := func(rt route, who string, o owner) route {
		rt.Owner, rt.owns = who, o
		return rt
	}
	userOnly := func(rt route) route {
		rt.UserOnly = true
		return rt
	}
	note := func(rt route, n string) route {
		rt.Note = n
		return rt
	}
	inArea := func(rt route) route {
		rt.InArea = true
		return rt
	}
	areas := []string{store.PermAreasWrite}
	return []route{
		{Route: Route{Method: http.MethodGet, Path: "/openapi.json", Public: true, Status: http.StatusOK}, handle: (*API).openAPI},

		userOnly(r(http.MethodGet, "/users/me", http.StatusOK, profile, (*API).getMe)),
		userOnly(r(http.MethodPatch, "/users/me", http.StatusOK, self, (*API).patchMe)),
		userOnly(r(http.MethodPut, "/users/me/password", http.StatusNoContent, self, (*API).setMyPassword)),
		userOnly(r(http.MethodPost, "/users/me/sessions/revoke-all", http.StatusOK, profile, (*API).signOutMe)),
		userOnly(r(http.MethodGet, "/users/me/consents", http.StatusOK, profile, (*API).listMyConsents)),
		note(userOnly(r(http.MethodPost, "/users/me/email-verification", http.StatusAccepted, profile, (*API).resendMyVerification)),
			"at most one per minute per user: sooner is 429 with Retry-After"),
		userOnly(r(http.MethodDelete, "/users/me/consents/{client_id}", http.StatusNoContent, profile, (*API).revokeMyConsent)),
		r(http.MethodGet, "/users/goals/suggestions", http.StatusOK, profile, (*API).goalSuggestions),
		inArea(r(http.MethodGet, "/users", http.StatusOK, read, (*API).listUsers)),
		// Bulk export (bulk.go): before /users/{id}, which would match it.
		note(r(http.MethodGet, "/users/export", http.StatusOK, read, (*API).exportUsers),
			"streams every user as JSON lines (application/x-ndjson), never a password hash"),
		note(r(http.MethodPost, "/users", http.StatusCreated, []string{store.PermUsersWrite}, (*API).createUser),
			"roles in the body also need users:roles, status users:status"),
		inArea(r(http.MethodGet, "/users/{id}", http.StatusOK, read, (*API).getUser)),
		inArea(r(http.MethodPatch, "/users/{id}", http.StatusOK, []string{store.PermUsersWrite}, (*API).patchUser)),
		note(r(http.MethodDelete, "/users/{id}", http.StatusNoContent, []string{store.PermUsersWrite, store.PermUsersDelete}, (*API).deleteUser),
			"a soft delete needs users:write, ?hard=true users:delete"),
		r(http.MethodPut, "/users/{id}/roles", http.StatusOK, []string{store.PermUsersRoles}, (*API).setUserRoles),
		// Denied permissions and the effective-permissions view.
		r(http.MethodPut, "/users/{id}/denied-permissions", http.StatusOK, []string{store.PermUsersRoles}, (*API).setDeniedPermissions),
		withOwner(r(http.MethodGet, "/users/{id}/permissions", http.StatusOK, read, (*API).getUserPermissions),
			"the user itself", (*API).ownsUserPath),
		inArea(r(http.MethodPut, "/users/{id}/status", http.StatusOK, []string{store.PermUsersStatus}, (*API).setUserStatus)),
		r(http.MethodPut, "/users/{id}/password", http.StatusNoContent, []string{store.PermUsersWrite}, (*API).setUserPassword),
		r(http.MethodGet, "/users/{id}/ip-rules", http.StatusOK, read, (*API).getIPRules),
		r(http.MethodPut, "/users/{id}/ip-rules", http.StatusOK, []string{store.PermUsersWrite}, (*API).setIPRules),
		r(http.MethodDelete, "/users/{id}/mfa", http.StatusNoContent, []string{store.PermUsersWrite}, (*API).resetMFA),
		r(http.MethodPost, "/users/{id}/password-reset", http.StatusAccepted, []string{store.PermUsersWrite}, (*API).sendPasswordReset),
		withOwner(r(http.MethodGet, "/users/{id}/sessions", http.StatusOK, read, (*API).listSessions),
			"the user itself", (*API).ownsUserPath),
		withOwner(r(http.MethodPost, "/users/{id}/sessions/revoke-all", http.StatusOK, []string{store.PermSessionsRevoke}, (*API).signOutUser),
			"the user itself", (*API).ownsUserPath),
		withOwner(r(http.MethodDelete, "/sessions/{id}", http.StatusNoContent, []string{store.PermSessionsRevoke}, (*API).revokeSession),
			"the session's user", (*API).ownsSession),

		r(http.MethodGet, "/roles", http.StatusOK, profile, (*API).listRoles),
		r(http.MethodPost, "/roles", http.StatusCreated, roles, (*API).createRole),
		r(http.MethodGet, "/roles/{name}", http.StatusOK, profile, (*API).getRole),
		r(http.MethodPatch, "/roles/{name}", http.StatusOK, roles, (*API).patchRole),
		r(http.MethodDelete, "/roles/{name}", http.StatusNoContent, roles, (*API).deleteRole),

		// Custom permissions.
		r(http.MethodGet, "/permissions", http.StatusOK, profile, (*API).listPermissions),
		r(http.MethodPost, "/permissions", http.StatusCreated, roles, (*API).createPermission),
		r(http.MethodGet, "/permissions/{name}", http.StatusOK, profile, (*API).getPermission),
		r(http.MethodPatch, "/permissions/{name}", http.StatusOK, roles, (*API).patchPermission),
		r(http.MethodDelete, "/permissions/{name}", http.StatusNoContent, roles, (*API).deletePermission),

		r(http.MethodGet, "/groups", http.StatusOK, read, (*API).listGroups),
		r(http.MethodPost, "/groups", http.StatusCreated, groups, (*API).createGroup),
		r(http.MethodGet, "/groups/{id}", http.StatusOK, read, (*API).getGroup),
		r(http.MethodPatch, "/groups/{id}", http.StatusOK, groups, (*API).patchGroup),
		r(http.MethodDelete, "/groups/{id}", http.StatusNoContent, groups, (*API).deleteGroup),
		r(http.MethodPut, "/groups/{id}/members/{user_id}", http.StatusNoContent, groups, (*API).addGroupMember),
		r(http.MethodDelete, "/groups/{id}/members/{user_id}", http.StatusNoContent, groups, (*API).removeGroupMember),

		r(http.MethodGet, "/access-requests", http.StatusOK, review, (*API).listAccessRequests),
		note(withOwner(r(http.MethodPost, "/access-requests", http.StatusCreated, review, (*API).submitAccessRequest),
			"a user, for itself", (*API).isUser),
			"a request for another user (user_id) needs access-requests:review"),
		withOwner(r(http.MethodGet, "/access-requests/{id}", http.StatusOK, review, (*API).getAccessRequest),
			"the requesting user", (*API).ownsAccessRequest),
		r(http.MethodPost, "/access-requests/{id}/approve", http.StatusOK, review, (*API).approveAccessRequest),
		r(http.MethodPost, "/access-requests/{id}/deny", http.StatusOK, review, (*API).denyAccessRequest),

		note(r(http.MethodGet, "/tokens", http.StatusOK, tokens, (*API).listTokens),
			"lists the tokens the caller may see: its own; with tokens:users every personal and user token; with tokens:system all"),
		note(r(http.MethodPost, "/tokens", http.StatusCreated, tokens, (*API).createToken),
			"the kind decides: personal needs tokens:self, user tokens:users, system tokens:system"),
		r(http.MethodDelete, "/tokens/{id}", http.StatusNoContent, tokens, (*API).revokeToken),

		r(http.MethodGet, "/clients", http.StatusOK, clients, (*API).listClients),
		r(http.MethodPost, "/clients", http.StatusCreated, clients, (*API).createClient),
		r(http.MethodGet, "/clients/{id}", http.StatusOK, clients, (*API).getClient),
		r(http.MethodPatch, "/clients/{id}", http.StatusOK, clients, (*API).patchClient),
		r(http.MethodDelete, "/clients/{id}", http.StatusNoContent, clients, (*API).deleteClient),

		// Upstream identity providers (idp): configuring an OAuth
		// integration is the clients' trust level, hence clients:write.
		r(http.MethodGet, "/identity-providers", http.StatusOK, clients, (*API).listIdentityProviders),
		r(http.MethodPost, "/identity-providers", http.StatusCreated, clients, (*API).createIdentityProvider),
		r(http.MethodGet, "/identity-providers/{id}", http.StatusOK, clients, (*API).getIdentityProvider),
		r(http.MethodPatch, "/identity-providers/{id}", http.StatusOK, clients, (*API).patchIdentityProvider),
		r(http.MethodDelete, "/identity-providers/{id}", http.StatusNoContent, clients, (*API).deleteIdentityProvider),

		r(http.MethodGet, "/audit", http.StatusOK, []string{store.PermAuditRead}, (*API).listAudit),

		r(http.MethodGet, "/stats", http.StatusOK, read, (*API).getStats),

		// Areas (areas.go): anyone signed in reads the tree, as the roles.
		r(http.MethodGet, "/areas", http.StatusOK, profile, (*API).listAreas),
		r(http.MethodPost, "/areas", http.StatusCreated, areas, (*API).createArea),
		r(http.MethodGet, "/areas/{code}", http.StatusOK, profile, (*API).getArea),
		note(r(http.MethodPatch, "/areas/{code}", http.StatusOK, areas, (*API).patchArea),
			"a new parent moves the whole subtree; a parent in the subtree is a 422 on parent"),
		note(r(http.MethodDelete, "/areas/{code}", http.StatusNoContent, areas, (*API).deleteArea),
			"an area with child areas, members or role grants is a 409"),
		r(http.MethodPut, "/areas/{code}/members/{user_id}", http.StatusNoContent, areas, (*API).addAreaMember),
		r(http.MethodDelete, "/areas/{code}/members/{user_id}", http.StatusNoContent, areas, (*API).removeAreaMember),
		r(http.MethodGet, "/users/{id}/area-roles", http.StatusOK, read, (*API).listAreaRoles),
		r(http.MethodPut, "/users/{id}/area-roles/{area}/{role}", http.StatusNoContent, []string{store.PermUsersRoles}, (*API).grantAreaRole),
		r(http.MethodDelete, "/users/{id}/area-roles/{area}/{role}", http.StatusNoContent, []string{store.PermUsersRoles}, (*API).revokeAreaRole),
		// Events and webhooks.
		r(http.MethodGet, "/webhooks", http.StatusOK, hooks, (*API).listWebhooks),
		r(http.MethodPost, "/webhooks", http.StatusCreated, hooks, (*API).createWebhook),
		r(http.MethodGet, "/webhooks/{id}", http.StatusOK, hooks, (*API).getWebhook),
		r(http.MethodPatch, "/webhooks/{id}", http.StatusOK, hooks, (*API).patchWebhook),
		r(http.MethodDelete, "/webhooks/{id}", http.StatusNoContent, hooks, (*API).deleteWebhook),
		r(http.MethodPost, "/webhooks/{id}/rotate-secret", http.StatusOK, hooks, (*API).rotateWebhookSecret),
		r(http.MethodGet, "/webhooks/{id}/deliveries", http.StatusOK, hooks, (*API).listWebhookDeliveries),
	}
}

// Routes returns every route of the API with its permission rule.
func Routes() []Route {
	table := routeTable()
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = rt.Route
		out[i].Permissions = slices.Clone(rt.Permissions)
	}
	return out
}

// Mount registers every /api/v1 route on r.
func (a *API) Mount(r *mux.Router) {
	sub := r.PathPrefix(Prefix).Subrouter()
	for _, rt := range routeTable() {
		sub.Handle(rt.Path, a.serve(rt)).Methods(rt.Method)
	}
	// Unknown paths and methods under the prefix answer in the API's own
	// error format, not the router's plain text. mux loses track of a
	// method mismatch when later routes share the subrouter's prefix, so
	// both cases probe the other methods themselves.
	unmatched := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed := routes.Allowed(sub, r); allowed != "" {
			w.Header().Set("Allow", allowed)
			a.writeError(w, r, problemf(http.StatusMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		a.writeError(w, r, problemf(http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path))
	})
	sub.NotFoundHandler = unmatched
	sub.MethodNotAllowedHandler = unmatched
}

// serve authenticates the caller, applies the route's permission rule and
// runs its handler.
func (a *API) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		// Handlers read the query with URL.Query, which drops what it cannot
		// parse: refuse it here rather than ignore a filter silently.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			a.writeError(w, r, badField("", "the query string is malformed"))
			return
		}
		if rt.Public {
			if err := rt.handle(a, w, r, nil); err != nil {
				a.writeError(w, r, err)
			}
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := a.authorize(rt, r, &p); err != nil {
			a.writeError(w, r, err)
			return
		}
		if err := rt.handle(a, w, r, &p); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// authorize applies the route's permission rule to p.
func (a *API) authorize(rt route, r *http.Request, p *domain.Principal) error {
	if rt.UserOnly && p.User == nil {
		return problemf(http.StatusForbidden, "this route acts on the caller's own user; a service account has none")
	}
	if len(rt.Permissions) == 0 || canAny(p, rt.Permissions) {
		return nil
	}
	if rt.InArea {
		// Areas: a role granted within an area (areas.go).
		if ok, err := a.authorizeInArea(rt, r, p); err != nil || ok {
			return err
		}
	}
	if rt.owns != nil {
		ok, err := rt.owns(a, r, p)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return forbidden(rt.Permissions)
}

func canAny(p *domain.Principal, perms []string) bool {
	for _, perm := range perms {
		if p.Can(perm) {
			return true
		}
	}
	return false
}

// Owner checks.

func (a *API) isUser(_ *http.Request, p *domain.Principal) (bool, error) {
	return p.User != nil, nil
}

func (a *API) ownsUserPath(r *http.Request, p *domain.Principal) (bool, error) {
	return p.User != nil && mux.Vars(r)["id"] == p.User.ID, nil
}

func (a *API) ownsSession(r *http.Request, p *domain.Principal) (bool, error) {
	if p.User == nil {
		return false, nil
	}
	s, err := a.svc.GetSession(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return false, err
	}
	return s.UserID == p.User.ID, nil
}

func (a *API) ownsAccessRequest(r *http.Request, p *domain.Principal) (bool, error) {
	if p.User == nil {
		return false, nil
	}
	req, err := a.svc.GetAccessRequest(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return false, err
	}
	return req.UserID == p.User.ID, nil
}
