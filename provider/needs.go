package provider

import (
	"context"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// Pages is what the protocol needs of the browser pages (consent.Pages):
// who is signed in, where to send someone who must sign in or ask for
// access, and the consent and error pages.
type Pages interface {
	// CurrentSessionFor: the signed-in session, with the user's
	// remembered consent to the client read with it.
	CurrentSessionFor(r *http.Request, clientID string) (*consent.Session, error)
	RedirectToLogin(w http.ResponseWriter, r *http.Request, returnTo string)
	RedirectToAccessRequest(w http.ResponseWriter, r *http.Request, returnTo string)
	RenderConsent(w http.ResponseWriter, r *http.Request, req consent.ConsentRequest)
	ReadConsent(w http.ResponseWriter, r *http.Request) (consent.ConsentDecision, bool)
	RenderError(w http.ResponseWriter, r *http.Request, status int, title, message string)
	// DevicePages: the device authorization grant (devicepage.go).
	DevicePages
	// NoAccessPages: the page of a user an app access rule refuses (noaccess.go).
	NoAccessPages
}

// Directory is what the protocol needs of the identity model
// (domain.Service): whether a user may hold tokens (and from the client's
// address), their roles, and the consent rules. The provider reads no identity record from the store.
type Directory interface {
	ActiveUser(ctx context.Context, id string) (store.User, error)
	AdmitAddress(ctx context.Context, u store.User, ip, via string) error
	EffectiveRoles(ctx context.Context, u store.User) ([]string, error)
	// EffectivePermissions: the permissions claim (permissions scope).
	EffectivePermissions(ctx context.Context, u store.User) ([]string, error)
	// MFARequired: the user's roles demand a second factor at sign-in.
	MFARequired(ctx context.Context, u store.User) (bool, error)
	ConsentNeeded(ctx context.Context, q domain.ConsentQuestion) (bool, error)
	GrantConsent(ctx context.Context, userID, clientID string, scopes []string) error
	// Impersonate decides (and audits) a token exchange that acts as
	// another user.
	Impersonate(ctx context.Context, req domain.ImpersonationRequest) (domain.Impersonation, error)
	// DefaultAreaCode is the code of the user's default area, "" for none:
	// the area claim (areas).
	DefaultAreaCode(ctx context.Context, userID string) (string, error)

	// App access rules (appaccess).
	// MayUseClient: the client's access rule admits the user.
	MayUseClient(ctx context.Context, u store.User, c store.Client) (bool, error)

	// Break-glass token lifetimes (breakglass.go).
	// BreakGlassDeadline: the instant no token of a break-glass account's
	// grant may outlive (zero for other accounts).
	BreakGlassDeadline(ctx context.Context, u store.User, loginSessionID string, authTime time.Time) (time.Time, error)
	// The refresh token grant (refresh): ActiveUser for a user read with
	// the refresh token (nil: gone).
	ActiveUserOf(id string, u *store.User) (store.User, error)
	// ActorMayAct: whoever acts through an exchanged token (its act) may
	// still act (introspection, introcache.go).
	ActorMayAct(ctx context.Context, act, userID, clientID string) (time.Time, error)
}

// SigningKeys is what the protocol needs of the key manager (keys.Manager):
// the key of the server default that signs now, the active key of every
// algorithm (a client's ID tokens are signed with the algorithm it
// registered), a key by id (to verify what an earlier key signed), and the
// set relying parties verify with.
type SigningKeys interface {
	Signer(ctx context.Context) (keys.SigningKey, error)
	Active(ctx context.Context) (keys.Active, error)
	PublicKey(ctx context.Context, kid string) (*jose.JSONWebKey, error)
	JWKS(ctx context.Context) (jose.JSONWebKeySet, error)
}
