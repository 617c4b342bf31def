package consent

import (
	"context"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Directory is what the pages need of the identity model
// (domain.Service): every rule — who may sign in, what a session is, who
// may ask for which role — is its, the pages only ask.
type Directory interface {
	Authenticate(ctx context.Context, username, password, ip string) (store.User, error)
	CreateUser(ctx context.Context, a domain.Actor, in domain.NewUser) (store.User, error)

	MFAState(ctx context.Context, u store.User) (domain.MFAState, error)
	StartMFAChallenge(ctx context.Context, in domain.NewMFAChallenge) (store.MFAChallenge, error)
	MFAChallenge(ctx context.Context, id string) (store.MFAChallenge, store.User, error)
	VerifyTOTPChallenge(ctx context.Context, id, code, ip string) (domain.MFAResult, error)
	VerifyRecoveryChallenge(ctx context.Context, id, code, ip string) (domain.MFAResult, error)
	CompleteTOTPEnrolmentChallenge(ctx context.Context, id, factorID, code, ip string) (domain.MFAResult, []string, error)
	BeginTOTPEnrolment(ctx context.Context, u store.User) (domain.TOTPEnrolment, error)
	ConfirmTOTPEnrolment(ctx context.Context, a domain.Actor, userID, factorID, code string) ([]string, error)
	DisableTOTP(ctx context.Context, a domain.Actor, u store.User, password string, authTime time.Time) error

	StartSession(ctx context.Context, in domain.NewSession) (store.LoginSession, error)
	CurrentSession(ctx context.Context, id string) (store.LoginSession, store.User, error)
	// CurrentSessionFor: CurrentSession with the user's remembered
	// consent to a client, in the same read (the authorization endpoint).
	CurrentSessionFor(ctx context.Context, id, clientID string) (domain.SignedIn, error)
	EndSession(ctx context.Context, ip, id string) error

	GetClient(ctx context.Context, id string) (store.Client, error)
	ListRoles(ctx context.Context) ([]store.Role, error)

	SubmitAccessRequest(ctx context.Context, a domain.Actor, userID, role, purpose string) (store.AccessRequest, error)
	PendingAccessRequest(ctx context.Context, userID string) (*store.AccessRequest, error)
	ListAccessRequests(ctx context.Context, f store.AccessRequestFilter) ([]store.AccessRequest, error)

	Recovery

	// App access rules (appaccess): the no-access page's offer and request.
	OfferAppAccess(ctx context.Context, u store.User, c store.Client) (domain.AppAccessOffer, error)
	SubmitAppAccessRequest(ctx context.Context, a domain.Actor, userID, clientID, purpose string) (store.AccessRequest, error)
}

// PublicKeys is what the pages need of the signing keys (keys.Manager):
// the verification key of an ID token we issued, for id_token_hint.
type PublicKeys interface {
	PublicKey(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}
