package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/routes"
	"github.com/gatehouse/gatehouse/store"
)

// Prefix is where the SCIM service is mounted, under the issuer's path.
const Prefix = "/scim/v2"

// MediaType is SCIM's (RFC 7644 section 8.1), of every answer.
const MediaType = "application/scim+json"

// Schema and message URNs (RFC 7643, RFC 7644).
const (
	schemaUser           = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaEnterprise     = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	schemaListResponse   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError          = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaPatchOp        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaServiceConfig  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResourceType   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchemaResource = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

const (
	// DefaultMaxBodyBytes bounds a request body: a user or a group with a
	// few thousand members' ids fits; the server's own limit may be lower.
	DefaultMaxBodyBytes = 1 << 20
	// maxCount bounds a page (ServiceProviderConfig filter.maxResults).
	maxCount = 200
	// defaultCount is a page's size when the request names none.
	defaultCount = 100
	// maxOperations bounds a PATCH's operations.
	maxOperations = 1000
)

// Authenticator authenticates a request's bearer token exactly as the
// resource API does (admin.API implements it), and says how a refusal is
// answered.
type Authenticator interface {
	Authenticate(r *http.Request) (domain.Principal, error)
	AuthFailure(err error) (status int, challenge, detail string, ok bool)
}

// Directory is what SCIM needs of the domain (domain.Service implements
// it). Every change goes through it, so that validation, the power rules
// and the audit log apply exactly as to the resource API's changes.
type Directory interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error)
	CreateUser(ctx context.Context, a domain.Actor, in domain.NewUser) (store.User, error)
	UpdateUser(ctx context.Context, by domain.Principal, id string, p domain.UserPatch, ifVersion ...string) (store.User, error)
	SetUserStatus(ctx context.Context, p domain.Principal, id string, status store.UserStatus) (store.User, error)
	SetPassword(ctx context.Context, p domain.Principal, id string, current *string, password string) error
	DeleteUser(ctx context.Context, p domain.Principal, id string, hard bool) error
	GroupsOfUsers(ctx context.Context, users ...store.User) (map[string][]store.Group, error)

	GetGroup(ctx context.Context, id string) (store.Group, []string, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
	CreateGroup(ctx context.Context, a domain.Actor, in domain.NewGroup) (store.Group, error)
	UpdateGroup(ctx context.Context, a domain.Actor, id string, p domain.GroupPatch) (store.Group, error)
	DeleteGroupAs(ctx context.Context, p domain.Principal, id string) error
	AddGroupMemberAs(ctx context.Context, p domain.Principal, groupID, userID string) error
	RemoveGroupMemberAs(ctx context.Context, p domain.Principal, groupID, userID string) error

	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// Options configure the handler.
type Options struct {
	// Issuer is gatehouse's issuer URL: resources' locations are under
	// Issuer + Prefix.
	Issuer string
	Logger *slog.Logger // nil discards
	Now    func() time.Time
	// MaxBodyBytes bounds a request body (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
}

// Handler is the SCIM 2.0 service provider.
type Handler struct {
	dir     Directory
	auth    Authenticator
	base    string // absolute URL of Prefix
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
}

// New returns the handler.
func New(dir Directory, auth Authenticator, opts Options) *Handler {
	h := &Handler{dir: dir, auth: auth, base: strings.TrimRight(opts.Issuer, "/") + Prefix,
		log: opts.Logger, now: opts.Now, maxBody: opts.MaxBodyBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h
}

// op serves one operation for an authenticated provisioner.
type op func(h *Handler, w http.ResponseWriter, r *http.Request, p *domain.Principal) error

// Mount registers the SCIM routes on r (the issuer's router).
func (h *Handler) Mount(r *mux.Router) {
	sub := r.PathPrefix(Prefix).Subrouter()
	public := func(path string, fn func(h *Handler, w http.ResponseWriter, r *http.Request) error) {
		sub.Handle(path, h.servePublic(fn)).Methods(http.MethodGet)
	}
	public("/ServiceProviderConfig", (*Handler).serviceProviderConfig)
	public("/Schemas", (*Handler).listSchemas)
	public("/Schemas/{id}", (*Handler).getSchema)
	public("/ResourceTypes", (*Handler).listResourceTypes)
	public("/ResourceTypes/{id}", (*Handler).getResourceType)
	for _, rt := range []struct {
		method, path string
		fn           op
	}{
		{http.MethodGet, "/Users", (*Handler).listUsers},
		{http.MethodPost, "/Users", (*Handler).createUser},
		{http.MethodGet, "/Users/{id}", (*Handler).getUser},
		{http.MethodPut, "/Users/{id}", (*Handler).replaceUser},
		{http.MethodPatch, "/Users/{id}", (*Handler).patchUser},
		{http.MethodDelete, "/Users/{id}", (*Handler).deleteUser},
		{http.MethodGet, "/Groups", (*Handler).listGroups},
		{http.MethodPost, "/Groups", (*Handler).createGroup},
		{http.MethodGet, "/Groups/{id}", (*Handler).getGroup},
		{http.MethodPut, "/Groups/{id}", (*Handler).replaceGroup},
		{http.MethodPatch, "/Groups/{id}", (*Handler).patchGroup},
		{http.MethodDelete, "/Groups/{id}", (*Handler).deleteGroup},
	} {
		sub.Handle(rt.path, h.serve(rt.fn)).Methods(rt.method)
	}
	unmatched := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allowed := routes.Allowed(sub, r); allowed != "" {
			w.Header().Set("Allow", allowed)
			WriteError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		WriteError(w, http.StatusNotFound, "", "no such SCIM endpoint: "+r.URL.Path)
	})
	sub.NotFoundHandler, sub.MethodNotAllowedHandler = unmatched, unmatched
}

func (h *Handler) servePublic(fn func(h *Handler, w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(h, w, r); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// serve authenticates the caller, requires scim:provision and runs fn.
func (h *Handler) serve(fn op) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		p, err := h.auth.Authenticate(r)
		if err != nil {
			status, challenge, detail, ok := h.auth.AuthFailure(err)
			if !ok {
				h.writeError(w, r, fmt.Errorf("scim: authenticate: %w", err))
				return
			}
			if challenge != "" {
				w.Header().Set("WWW-Authenticate", challenge)
			}
			WriteError(w, status, "", detail)
			return
		}
		if !p.Can(store.PermSCIMProvision) {
			WriteError(w, http.StatusForbidden, "", "the permission "+store.PermSCIMProvision+" is required")
			return
		}
		if err := fn(h, w, r, &p); err != nil {
			h.writeError(w, r, err)
		}
	})
}

// Error is a SCIM error response (RFC 7644 section 3.12).
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("scim: %d %s %s", e.Status, e.ScimType, e.Detail) }

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, scimType, format, args...)
}

// WriteError answers status in SCIM's error form: what the server's
// middleware (body limit, panic recovery) uses for a request to this
// surface. scimType may be "".
func WriteError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{
		"schemas": []string{schemaError},
		// RFC 7644 section 3.12: the status is a string.
		"status": fmt.Sprint(status),
	}
	if scimType != "" {
		body["scimType"] = scimType
	}
	if detail != "" {
		body["detail"] = detail
	}
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeError maps an error to its SCIM answer: an *Error as it is, a
// domain error by its code. An internal error's cause is logged, never
// shown.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) {
		WriteError(w, e.Status, e.ScimType, e.Detail)
		return
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		WriteError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the request body exceeds %d bytes", mb.Limit))
		return
	}
	msg := domain.ErrorMessage(err)
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		v, _ := domain.AsValidation(err)
		var parts []string
		for _, f := range v.Fields {
			parts = append(parts, scimField(f.Field)+": "+f.Message)
		}
		WriteError(w, http.StatusBadRequest, "invalidValue", strings.Join(parts, "; "))
	case domain.CodeNotFound:
		WriteError(w, http.StatusNotFound, "", msg)
	case domain.CodeConflict:
		WriteError(w, http.StatusConflict, "", msg)
	case domain.CodeForbidden:
		WriteError(w, http.StatusForbidden, "", msg)
	case domain.CodeStale:
		WriteError(w, http.StatusPreconditionFailed, "", "the resource changed since the version in If-Match")
	case domain.CodeUnauthenticated:
		WriteError(w, http.StatusUnauthorized, "", "the credentials are invalid, expired or revoked")
	case domain.CodeUnavailable:
		h.log.WarnContext(r.Context(), "scim: database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteError(w, http.StatusServiceUnavailable, "", msg)
	default:
		h.log.ErrorContext(r.Context(), "scim: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteError(w, http.StatusInternalServerError, "", "internal error")
	}
}

// uniqueness marks a conflict of a write that sets a unique attribute
// (userName, emails, a group's displayName) as SCIM's "uniqueness"; other
// errors pass through.
func uniqueness(err error) error {
	if err != nil && domain.ErrorCode(err) == domain.CodeConflict {
		msg := domain.ErrorMessage(err)
		if errors.Is(err, store.ErrConflict) && !strings.Contains(msg, " is taken") {
			msg = "the name is already taken"
		}
		return errorf(http.StatusConflict, "uniqueness", "%s", msg)
	}
	return err
}

// scimField names a domain field by its SCIM attribute, so that a client
// sees the refusal where it sent the value.
func scimField(f string) string {
	switch f {
	case "username":
		return "userName"
	case "email":
		return "emails"
	case "full_name":
		return "displayName"
	case "given_name":
		return "name.givenName"
	case "family_name":
		return "name.familyName"
	case "phone_number":
		return "phoneNumbers"
	case "external_id":
		return "externalId"
	case "name":
		return "displayName"
	case "department":
		return schemaEnterprise + ":department"
	}
	return f
}

// writeResource answers status with a resource, its version as the ETag.
func writeResource(w http.ResponseWriter, status int, res map[string]any) {
	if meta, ok := res["meta"].(map[string]any); ok {
		if v, ok := meta["version"].(string); ok {
			w.Header().Set("ETag", v)
		}
		if status == http.StatusCreated {
			if loc, ok := meta["location"].(string); ok {
				w.Header().Set("Location", loc)
			}
		}
	}
	writeJSON(w, status, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON object (application/scim+json or
// application/json) of at most the handler's bound.
func decodeBody(r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != MediaType && mt != "application/json") {
			return nil, errorf(http.StatusUnsupportedMediaType, "", "the body must be %s or application/json", MediaType)
		}
	}
	dec := json.NewDecoder(r.Body)
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		if errors.Is(err, io.EOF) {
			return nil, badRequest("invalidSyntax", "the request has no body")
		}
		return nil, badRequest("invalidSyntax", "the body is not a JSON object: %v", err)
	}
	if m == nil {
		return nil, badRequest("invalidSyntax", "the body is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, badRequest("invalidSyntax", "the body has data after its JSON object")
	}
	return m, nil
}

// location is the absolute URL of a resource.
func (h *Handler) location(kind, id string) string { return h.base + "/" + kind + "/" + id }

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
