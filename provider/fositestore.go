package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/handler/rfc7523"
	"github.com/ory/fosite/storage"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// fositeStore is fosite's storage, kept in store.Store as data: every code,
// token and pushed request is a row holding the serialized request, which is
// re-hydrated (client from the client cache, session unmarshalled into the
// session fosite passes) on every read. Nothing else is kept as a live
// pointer, so memory and PostgreSQL behave alike.
type fositeStore struct {
	store store.Store
	// resourceAPI is the resource API's identifier (RFC 8707), an
	// audience every client may ask for (client.resourceAPI).
	resourceAPI string
	// clients caches the clients, parsed (nil: no cache). It is read on
	// every token, introspection and revocation request; Provider.Invalidate
	// drops what changed.
	clients *cache.Cache[string, *client]
	// tokens is the introspection cache (introcache.go); nil: none.
	tokens *cache.Tokens[*cachedAccess]
	// codeSignature maps an authorization code to its signature: fosite
	// hands the OpenID Connect storage the code itself, but the store keys
	// everything by signature and never sees a usable value.
	codeSignature func(ctx context.Context, code string) string
	// lifetimes are the server defaults, used when a session carries no
	// expiry for a token (so that every row can be cleaned up).
	lifetimes store.Lifetimes
	// reuseInterval is how long after its rotation a refresh token may be
	// presented again as a retry (refresh.go); 0: never.
	reuseInterval time.Duration
	now           func() time.Time
	// log tells operators of each retry granted: how often answers are
	// lost is worth knowing.
	log *slog.Logger
	// actors is Directory.ActorMayAct: introspection weighs the actor of
	// an exchanged token (introcache.go); nil: not weighed.
	actors func(ctx context.Context, act, userID, clientID string) (time.Time, error)
}

var (
	_ fosite.ClientManager               = (*fositeStore)(nil)
	_ oauth2.CoreStorage                 = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*fositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage            = (*fositeStore)(nil)
	_ rfc7523.RFC7523KeyStorage          = (*fositeStore)(nil)
	_ fosite.PARStorage                  = (*fositeStore)(nil)
	_ storage.Transactional              = (*fositeStore)(nil)
)

// secretParameters never reach the store: a request row must not be a
// credential (nor hold one) if the table leaks.
var secretParameters = []string{
	"client_secret", "client_assertion", "code", "code_verifier", "refresh_token",
	"password", "assertion", "access_token",
	"device_code",
}

// storedRequest is the serialized form of a fosite request.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScopes   []string        `json:"requested_scopes,omitempty"`
	GrantedScopes     []string        `json:"granted_scopes,omitempty"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Session           json.RawMessage `json:"session,omitempty"`

	// Authorize requests only (pushed authorization requests).
	ResponseTypes       []string `json:"response_types,omitempty"`
	RedirectURI         string   `json:"redirect_uri,omitempty"`
	State               string   `json:"state,omitempty"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	DefaultResponseMode string   `json:"default_response_mode,omitempty"`
}

func marshalRequest(r fosite.Requester) (json.RawMessage, error) {
	form := url.Values{}
	for k, v := range r.GetRequestForm() {
		form[k] = append([]string(nil), v...)
	}
	for _, k := range secretParameters {
		form.Del(k)
	}
	sr := storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScopes:   r.GetRequestedScopes(),
		GrantedScopes:     r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              form,
	}
	if s := r.GetSession(); s != nil {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("provider: marshal session: %w", err)
		}
		sr.Session = b
	}
	if ar, ok := r.(fosite.AuthorizeRequester); ok {
		sr.ResponseTypes = ar.GetResponseTypes()
		if u := ar.GetRedirectURI(); u != nil {
			sr.RedirectURI = u.String()
		}
		sr.State = ar.GetState()
		sr.ResponseMode = string(ar.GetResponseMode())
		sr.DefaultResponseMode = string(ar.GetDefaultResponseMode())
	}
	b, err := json.Marshal(sr)
	if err != nil {
		return nil, fmt.Errorf("provider: marshal request: %w", err)
	}
	return b, nil
}

// hydrate turns a stored request back into a fosite request. The session is
// unmarshalled into session (a fresh Session if fosite passed none, as the
// revocation handler does).
func (s *fositeStore) hydrate(ctx context.Context, raw []byte, session fosite.Session) (*storedRequest, *fosite.Request, error) {
	if session == nil {
		session = NewSession()
	}
	sr, err := decodeRequest(raw, session)
	if err != nil {
		return nil, nil, err
	}
	req, err := s.request(ctx, sr, session)
	if err != nil {
		return nil, nil, err
	}
	return sr, req, nil
}

// decodeRequest reads a stored request, its session into session: the
// compact encoding of token rows (requestcodec.go), or JSON (pushed
// requests, and token rows written before it).
func decodeRequest(raw []byte, session fosite.Session) (*storedRequest, error) {
	if len(raw) > 0 && raw[0] == compactV1 {
		return decodeCompact(raw, session)
	}
	var sr storedRequest
	if err := json.Unmarshal(raw, &sr); err != nil {
		return nil, fmt.Errorf("provider: unmarshal request: %w", err)
	}
	if len(sr.Session) > 0 {
		if err := json.Unmarshal(sr.Session, session); err != nil {
			return nil, fmt.Errorf("provider: unmarshal session: %w", err)
		}
	}
	return &sr, nil
}

// request builds the fosite request of a decoded stored request, with the
// client from the client cache.
func (s *fositeStore) request(ctx context.Context, sr *storedRequest, session fosite.Session) (*fosite.Request, error) {
	c, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	form := sr.Form
	if form == nil {
		form = url.Values{}
	}
	return &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            c,
		RequestedScope:    fosite.Arguments(sr.RequestedScopes),
		GrantedScope:      fosite.Arguments(sr.GrantedScopes),
		RequestedAudience: fosite.Arguments(sr.RequestedAudience),
		GrantedAudience:   fosite.Arguments(sr.GrantedAudience),
		Form:              form,
		Session:           session,
	}, nil
}

// notFound maps the store's ErrNotFound to fosite's, which is what fosite's
// handlers branch on.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %v", fosite.ErrNotFound, err)
	}
	return err
}

// ---------------------------------------------------------------------------
// Clients and client assertions

// lookupKey refuses, as fosite.ErrNotFound, a key that no row can have
// because it is not text (domain.TextProblem). Such keys come from where
// the server's edge does not look (a Basic-auth user name, a bearer token,
// a JWT's claims), and PostgreSQL would answer them with an error, not
// with no rows. Their length is not bounded here: a JWT's signature, a
// token's, is longer than any id.
func lookupKey(what, key string) error {
	if domain.TextProblem(key, false) == "" {
		return nil
	}
	return fmt.Errorf("provider: the %s is not text: %w", what, fosite.ErrNotFound)
}

// GetClient serves the client from the cache. An unknown client is not
// cached (so one registered elsewhere is usable at once), which leaves
// made-up client ids costing one query each, as they did before.
func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if !domain.ValidKey(id) {
		return nil, fmt.Errorf("provider: the client id is not a valid key: %w", fosite.ErrNotFound)
	}
	load := func() (*client, error) {
		c, err := s.store.GetClient(ctx, id)
		if err != nil {
			return nil, notFound(fmt.Errorf("provider: get client: %w", err))
		}
		fc, err := newClient(c)
		if err == nil {
			fc.resourceAPI = s.resourceAPI
		}
		return fc, err
	}
	var fc *client
	var err error
	if s.clients != nil {
		fc, err = s.clients.Get(id, load)
	} else {
		fc, err = load()
	}
	if err != nil {
		return nil, err
	}
	return fc, nil
}

func (s *fositeStore) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	if lookupKey("jti", jti) != nil {
		// It could not be recorded as used, so it could be replayed.
		return fosite.ErrJTIKnown
	}
	used, err := s.store.IsJWTIDUsed(ctx, jti, s.now())
	if err != nil {
		// A server error, so that client authentication does not report a
		// failing store as the client's fault.
		return fosite.ErrServerError.WithWrap(err).WithDebugf("provider: check jti: %v", err)
	}
	if used {
		return fosite.ErrJTIKnown
	}
	return nil
}

func (s *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return s.markJTI(ctx, jti, exp)
}

func (s *fositeStore) markJTI(ctx context.Context, jti string, exp time.Time) error {
	if lookupKey("jti", jti) != nil {
		return fosite.ErrJTIKnown
	}
	err := s.store.MarkJWTIDUsed(ctx, jti, exp, s.now())
	if errors.Is(err, store.ErrConflict) {
		// A concurrent request used the same assertion first.
		return fosite.ErrJTIKnown
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebugf("provider: mark jti used: %v", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Codes and tokens

// expiryOf is when a token of type tt of request r expires: the session's
// expiry for it, or the server lifetime from the request time.
func (s *fositeStore) expiryOf(r fosite.Requester, tt fosite.TokenType) time.Time {
	if sess := r.GetSession(); sess != nil {
		if exp := sess.GetExpiresAt(tt); !exp.IsZero() {
			return exp
		}
	}
	return r.GetRequestedAt().Add(lifetimeOf(s.lifetimes, tt))
}

func (s *fositeStore) createToken(ctx context.Context, kind store.TokenKind, signature string, r fosite.Requester, expiresAt time.Time) error {
	t, err := s.tokenRow(kind, signature, r, expiresAt)
	if err != nil {
		return err
	}
	return s.insertToken(ctx, t)
}

func (s *fositeStore) insertToken(ctx context.Context, t store.Token) error {
	// The code flow's writes, kept to be written together (codeflow.go).
	if p := pendingIssueFrom(ctx); p != nil && t.DPoPProof == nil {
		p.add(t)
		return nil
	}
	if c := codeRedemptionFrom(ctx); c != nil && c.take(t) {
		return nil
	}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("provider: create %s: %w", t.Kind, err)
	}
	return nil
}

// tokenRow is the stored form of a code or token of request r.
func (s *fositeStore) tokenRow(kind store.TokenKind, signature string, r fosite.Requester, expiresAt time.Time) (store.Token, error) {
	raw, err := encodeRequest(r)
	if err != nil {
		return store.Token{}, err
	}
	t := store.Token{
		Kind:          kind,
		Signature:     signature,
		RequestID:     r.GetID(),
		ClientID:      r.GetClient().GetID(),
		GrantedScopes: r.GetGrantedScopes(),
		RequestedAt:   r.GetRequestedAt(),
		ExpiresAt:     expiresAt,
		Active:        true,
		Request:       raw,
	}
	if sess := r.GetSession(); sess != nil {
		t.Subject = sess.GetSubject()
	}
	if sess, ok := r.GetSession().(*Session); ok {
		t.UserID = sess.UserID
		t.LoginSessionID = sess.LoginSessionID
	}
	return t, nil
}

// getToken loads a token and its request. Inactive tokens are returned too,
// with active false: fosite needs their request to detect reuse.
func (s *fositeStore) getToken(ctx context.Context, kind store.TokenKind, signature string, session fosite.Session) (fosite.Requester, bool, error) {
	req, t, err := s.getTokenRow(ctx, kind, signature, session)
	if err != nil {
		return nil, false, err
	}
	return req, t.Active, nil
}

func (s *fositeStore) getTokenRow(ctx context.Context, kind store.TokenKind, signature string, session fosite.Session) (fosite.Requester, store.Token, error) {
	if err := lookupKey(string(kind)+" signature", signature); err != nil {
		return nil, store.Token{}, err
	}
	t, err := s.store.GetToken(ctx, kind, signature)
	if err != nil {
		return nil, store.Token{}, notFound(fmt.Errorf("provider: get %s: %w", kind, err))
	}
	_, req, err := s.hydrate(ctx, t.Request, session)
	if err != nil {
		return nil, store.Token{}, err
	}
	return req, t, nil
}

// deleteToken removes a token; one already gone is not an error, because
// fosite deletes what it has just read and a concurrent request may have
// removed it first.
func (s *fositeStore) deleteToken(ctx context.Context, kind store.TokenKind, signature string) error {
	if err := s.store.DeleteToken(ctx, kind, signature); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("provider: delete %s: %w", kind, err)
	}
	return nil
}

func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	// fosite has no per-client code lifetime; the client's override is
	// applied here, where the code's expiry is recorded (in the row and in
	// the session that ValidateAuthorizeCode reads).
	if c, ok := r.GetClient().(*client); ok && c.Lifetimes.AuthorizationCode > 0 && r.GetSession() != nil {
		r.GetSession().SetExpiresAt(fosite.AuthorizeCode, r.GetRequestedAt().Add(c.Lifetimes.AuthorizationCode).UTC())
	}
	return s.createToken(ctx, store.KindAuthorizeCode, signature, r, s.expiryOf(r, fosite.AuthorizeCode))
}

func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	var req fosite.Requester
	var active bool
	var err error
	if c := codeRedemptionFrom(ctx); c != nil {
		var t store.Token
		req, t, err = s.readRecord(ctx, c, store.KindAuthorizeCode, signature, session)
		active = t.Active
	} else {
		req, active, err = s.getToken(ctx, store.KindAuthorizeCode, signature, session)
	}
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession relies on the store's DeactivateToken,
// which refuses an already inactive code: the one-use rule is the
// database's.
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	if c := codeRedemptionFrom(ctx); c != nil {
		// Written with the tokens at the code handler's commit.
		c.record(signature)
		return nil
	}
	if err := s.store.DeactivateToken(ctx, store.KindAuthorizeCode, signature); err != nil {
		return notFound(fmt.Errorf("provider: invalidate authorize code: %w", err))
	}
	return nil
}

func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	t, err := s.tokenRow(store.KindAccessToken, signature, r, s.expiryOf(r, fosite.AccessToken))
	if err != nil {
		return err
	}
	// A DPoP proof's use recorded by this write (bindDPoP); the store
	// answers store.ErrDPoPProofUsed if it was used before.
	t.DPoPProof = dpopUseFrom(ctx)
	if isClientToken(ctx, t) {
		return s.insertClientToken(ctx, t) // clienttokens.go
	}
	return s.insertToken(ctx, t)
}

func (s *fositeStore) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	if ps, ok := session.(*Session); ok && s.tokens != nil && isIntrospecting(ctx) {
		return s.cachedAccessToken(ctx, signature, ps)
	}
	req, active, err := s.getToken(ctx, store.KindAccessToken, signature, session)
	if err != nil {
		return nil, err
	}
	if !active {
		// Revoked through its grant (logout, admin revocation).
		return nil, fosite.ErrInactiveToken
	}
	if ps, ok := session.(*Session); ok && isIntrospecting(ctx) {
		// Without the cache, as with it: an impersonation ends with its
		// impersonator's right to act.
		if _, err := s.actorMayAct(ctx, ps, req.GetClient().GetID()); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func (s *fositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.deleteToken(ctx, store.KindAccessToken, signature)
}

// CreateRefreshTokenSession records, on a token issued by a rotation, the
// token it replaces (refreshGrant puts it in ctx): a retry of that
// rotation finds its successor by it.
func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature string, _ string, r fosite.Requester) error {
	t, err := s.tokenRow(store.KindRefreshToken, signature, r, s.expiryOf(r, fosite.RefreshToken))
	if err != nil {
		return err
	}
	t.Predecessor = rotatedSignature(ctx)
	return s.insertToken(ctx, t)
}

// GetRefreshTokenSession returns an inactive (rotated or revoked) token's
// request together with fosite.ErrInactiveToken: that is how fosite's
// refresh handler detects reuse and revokes the whole family. A token
// presented again as a retry within the reuse interval (refresh.go) is
// made active again instead, and returned as such.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, t, err := s.getTokenRow(ctx, store.KindRefreshToken, signature, session)
	if err != nil {
		return nil, err
	}
	return s.refreshTokenState(ctx, req, t)
}

// refreshTokenState is GetRefreshTokenSession's answer for the token t read
// with its request req (rotationStore reads them its own way).
func (s *fositeStore) refreshTokenState(ctx context.Context, req fosite.Requester, t store.Token) (fosite.Requester, error) {
	if t.Active {
		return req, nil
	}
	retry, err := s.rewind(ctx, t)
	if err != nil {
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if !retry {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// rewind undoes the rotation of t if presenting it again is a retry
// (refresh.go), reporting whether it was. What only the provider knows —
// the interval, who is asking, the token's expiry — is checked here; the
// store checks the rest under its row locks. The rewind is part of the
// token request's transaction: if the request then fails with a server
// error it is rolled back; if it is refused (say the user was disabled
// meanwhile) t simply stays the family's one live token.
func (s *fositeStore) rewind(ctx context.Context, t store.Token) (bool, error) {
	client, ok := refreshClient(ctx)
	if !ok || s.reuseInterval <= 0 || t.RotatedAt == nil || t.RewoundAt != nil || client != t.ClientID {
		return false, nil
	}
	now := s.now()
	since := now.Add(-s.reuseInterval)
	if t.RotatedAt.Before(since) || !now.Before(t.ExpiresAt) {
		return false, nil
	}
	err := s.store.RewindRotation(ctx, store.KindRefreshToken, t.Signature, since, now)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("provider: rewind refresh token rotation: %w", err)
	}
	s.log.InfoContext(ctx, "refresh token presented again within the reuse interval: rotation rewound",
		"client_id", client, "grant", t.RequestID, "rotated_ago", now.Sub(*t.RotatedAt).String())
	return true, nil
}

func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.deleteToken(ctx, store.KindRefreshToken, signature)
}

// RotateRefreshToken keeps the used refresh token as an inactive row, with
// the time of its rotation (so a replay is recognised as reuse, or soon
// after as a retry), and drops the access tokens issued with it.
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID string, signature string) error {
	if err := s.store.RotateToken(ctx, store.KindRefreshToken, signature, s.now()); err != nil {
		return notFound(fmt.Errorf("provider: rotate refresh token: %w", err))
	}
	if err := s.store.DeleteTokensByRequest(ctx, store.KindAccessToken, requestID); err != nil {
		return fmt.Errorf("provider: rotate refresh token: delete access tokens: %w", err)
	}
	return nil
}

func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if err := s.store.DeactivateTokensByRequest(ctx, store.KindRefreshToken, requestID); err != nil {
		return fmt.Errorf("provider: revoke refresh tokens: %w", err)
	}
	return nil
}

func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if err := s.store.DeleteTokensByRequest(ctx, store.KindAccessToken, requestID); err != nil {
		return fmt.Errorf("provider: revoke access tokens: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// OpenID Connect and PKCE sessions, keyed by the code's signature

func (s *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.createToken(ctx, store.KindOpenIDSession, s.codeSignature(ctx, code), r, s.expiryOf(r, fosite.AuthorizeCode))
}

func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	if c := codeRedemptionFrom(ctx); c != nil {
		req, _, err := s.readRecord(ctx, c, store.KindOpenIDSession, s.codeSignature(ctx, code), NewSession())
		return req, err
	}
	req, _, err := s.getToken(ctx, store.KindOpenIDSession, s.codeSignature(ctx, code), NewSession())
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession keeps the record during a code's redemption:
// the code is spent, so nothing reads it again, and it expires with the
// code (codeflow.go).
func (s *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	if codeRedemptionFrom(ctx) != nil {
		return nil
	}
	return s.deleteToken(ctx, store.KindOpenIDSession, s.codeSignature(ctx, code))
}

func (s *fositeStore) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.createToken(ctx, store.KindPKCE, signature, r, s.expiryOf(r, fosite.AuthorizeCode))
}

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	if c := codeRedemptionFrom(ctx); c != nil {
		req, _, err := s.readRecord(ctx, c, store.KindPKCE, signature, NewSession())
		return req, err
	}
	req, _, err := s.getToken(ctx, store.KindPKCE, signature, NewSession())
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession keeps the row: fosite deletes it before it checks
// the verifier, and the token endpoint commits on client errors, so deleting
// would let a second attempt redeem the code with no verifier at all. The
// row expires with its code.
func (s *fositeStore) DeletePKCERequestSession(context.Context, string) error {
	return nil
}

// ---------------------------------------------------------------------------
// Pushed authorization requests

func (s *fositeStore) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	raw, err := marshalRequest(r)
	if err != nil {
		return err
	}
	exp := time.Time{}
	if sess := r.GetSession(); sess != nil {
		exp = sess.GetExpiresAt(fosite.PushedAuthorizeRequestContext)
	}
	if exp.IsZero() {
		exp = s.now().Add(parLifetime)
	}
	err = s.store.CreatePARRequest(ctx, store.PARRequest{
		RequestURI: requestURI,
		ClientID:   r.GetClient().GetID(),
		ExpiresAt:  exp,
		Request:    raw,
	})
	if err != nil {
		return fmt.Errorf("provider: create pushed request: %w", err)
	}
	return nil
}

func (s *fositeStore) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	if err := lookupKey("request_uri", requestURI); err != nil {
		return nil, err
	}
	p, err := s.store.GetPARRequest(ctx, requestURI)
	if err != nil {
		return nil, notFound(fmt.Errorf("provider: get pushed request: %w", err))
	}
	sr, req, err := s.hydrate(ctx, p.Request, NewSession())
	if err != nil {
		return nil, err
	}
	ar := &fosite.AuthorizeRequest{
		ResponseTypes:        fosite.Arguments(sr.ResponseTypes),
		State:                sr.State,
		HandledResponseTypes: fosite.Arguments{},
		ResponseMode:         fosite.ResponseModeType(sr.ResponseMode),
		DefaultResponseMode:  fosite.ResponseModeType(sr.DefaultResponseMode),
		Request:              *req,
	}
	if sr.RedirectURI != "" {
		u, err := url.Parse(sr.RedirectURI)
		if err != nil {
			return nil, fmt.Errorf("provider: pushed request redirect uri: %w", err)
		}
		ar.RedirectURI = u
	}
	return ar, nil
}

func (s *fositeStore) DeletePARSession(ctx context.Context, requestURI string) error {
	if err := s.store.DeletePARRequest(ctx, requestURI); err != nil {
		return notFound(fmt.Errorf("provider: delete pushed request: %w", err))
	}
	return nil
}

// ---------------------------------------------------------------------------
// RFC 7523 trusted issuers

func (s *fositeStore) trusted(ctx context.Context, issuer, subject, keyID string) ([]store.TrustedIssuer, error) {
	for what, key := range map[string]string{"issuer": issuer, "subject": subject, "key id": keyID} {
		if err := lookupKey(what, key); err != nil {
			return nil, err
		}
	}
	ts, err := s.store.FindTrustedIssuerKeys(ctx, issuer, subject, keyID, s.now())
	if err != nil {
		return nil, fmt.Errorf("provider: find trusted issuer keys: %w", err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("provider: no trusted key for issuer %q: %w", issuer, fosite.ErrNotFound)
	}
	return ts, nil
}

func parseIssuerKey(t store.TrustedIssuer) (jose3.JSONWebKey, error) {
	var k jose3.JSONWebKey
	if err := json.Unmarshal(t.PublicKey, &k); err != nil {
		return k, fmt.Errorf("provider: trusted issuer %s: parse key: %w", t.ID, err)
	}
	if k.KeyID == "" {
		k.KeyID = t.KeyID
	}
	return k, nil
}

func (s *fositeStore) GetPublicKey(ctx context.Context, issuer, subject, keyID string) (*jose3.JSONWebKey, error) {
	ts, err := s.trusted(ctx, issuer, subject, keyID)
	if err != nil {
		return nil, err
	}
	k, err := parseIssuerKey(ts[0])
	if err != nil {
		return nil, err
	}
	return &k, nil
}

func (s *fositeStore) GetPublicKeys(ctx context.Context, issuer, subject string) (*jose3.JSONWebKeySet, error) {
	ts, err := s.trusted(ctx, issuer, subject, "")
	if err != nil {
		return nil, err
	}
	set := &jose3.JSONWebKeySet{}
	for _, t := range ts {
		k, err := parseIssuerKey(t)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// GetPublicKeyScopes returns the scopes of the relationships that trust the
// key; several relationships may name one key (e.g. per subject).
func (s *fositeStore) GetPublicKeyScopes(ctx context.Context, issuer, subject, keyID string) ([]string, error) {
	ts, err := s.trusted(ctx, issuer, subject, keyID)
	if err != nil {
		return nil, err
	}
	var scopes fosite.Arguments
	for _, t := range ts {
		for _, sc := range t.Scopes {
			if !scopes.Has(sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return scopes, nil
}

func (s *fositeStore) IsJWTUsed(ctx context.Context, jti string) (bool, error) {
	if lookupKey("jti", jti) != nil {
		return true, nil // it could not be recorded as used
	}
	used, err := s.store.IsJWTIDUsed(ctx, jti, s.now())
	if err != nil {
		return false, fmt.Errorf("provider: check jti: %w", err)
	}
	return used, nil
}

func (s *fositeStore) MarkJWTUsedForTime(ctx context.Context, jti string, exp time.Time) error {
	return s.markJTI(ctx, jti, exp)
}

// ---------------------------------------------------------------------------
// Transactions: fosite's MaybeBeginTx nests inside the token endpoint's own
// transaction as a savepoint (except around a refresh token's rotation,
// whose writes rotationStore defers to one statement: rotation.go).

func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	if codeRedemptionFrom(ctx) != nil {
		// The redemption's writes are one statement (codeflow.go): no
		// savepoint to undo them.
		return ctx, nil
	}
	return s.store.BeginTx(ctx)
}

func (s *fositeStore) Commit(ctx context.Context) error {
	if c := codeRedemptionFrom(ctx); c != nil {
		return c.flush(ctx, s.store)
	}
	return s.store.Commit(ctx)
}

func (s *fositeStore) Rollback(ctx context.Context) error {
	if c := codeRedemptionFrom(ctx); c != nil {
		c.discard()
		return nil
	}
	return s.store.Rollback(ctx)
}
