package domain

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// APITokenPrefix starts every API token secret, so secret scanners find them.
const APITokenPrefix = "gh_pat_"

// apiTokenTouchInterval is how stale LastUsedAt may get: recording every
// use would turn each authenticated read into a write.
const apiTokenTouchInterval = time.Minute

const maxTokenNameLength = 100

// NewAPIToken is the input of IssueAPIToken.
type NewAPIToken struct {
	Name string
	Kind store.APITokenKind
	// UserID: the user a TokenUser acts as (TokenPersonal: the caller).
	UserID string
	// ClientID: the service account a TokenSystem acts as.
	ClientID string
	// Scopes: permissions; empty means all of the principal's.
	Scopes    []string
	ExpiresIn time.Duration // 0 = the maximum for the kind
}

func apiTokenFields(t store.APIToken) fields {
	return fields{
		"name":       t.Name,
		"kind":       string(t.Kind),
		"user_id":    t.UserID,
		"client_id":  t.ClientID,
		"scopes":     auditList(t.Scopes),
		"expires_at": auditTime(&t.ExpiresAt),
		"revoked_at": auditTime(t.RevokedAt),
	}
}

// IssueAPIToken makes a token and returns it with its secret (shown once;
// only the digest is stored; "token.create"). personal needs tokens:self
// and scopes within the caller's own permissions; user needs tokens:users
// and scopes within the target user's; system needs tokens:system and a
// client with roles. ErrForbidden when the scopes are wider. Whatever the
// kind, a token never carries a permission its issuer lacks: empty Scopes
// mean every permission the token's principal and the issuer share at
// issuance. Field problems (name, kind, user_id, client_id, scopes,
// expires_in) are ValidationErrors. The returned token has no SecretHash.
func (s *Service) IssueAPIToken(ctx context.Context, p Principal, in NewAPIToken) (store.APIToken, string, error) {
	var v problems
	name := v.checkText("name", in.Name, maxTokenNameLength, true)
	if name == "" {
		v.add("name", "is required")
	}
	maxLife := s.opts.MaxUserTokenLifetime
	var need string
	switch in.Kind {
	case store.TokenPersonal:
		need = store.PermTokensSelf
	case store.TokenUser:
		need = store.PermTokensUsers
	case store.TokenSystem:
		need = store.PermTokensSystem
		maxLife = s.opts.MaxSystemTokenLifetime
	default:
		v.add("kind", "must be personal, user or system")
	}
	switch {
	case in.ExpiresIn < 0:
		v.add("expires_in", "must be positive")
	case in.ExpiresIn > maxLife:
		v.add("expires_in", "must be at most %s for a %s token", maxLife, in.Kind)
	case in.ExpiresIn == 0:
		in.ExpiresIn = maxLife
	}
	scopes := set(in.Scopes)
	for _, sc := range scopes {
		if !slices.Contains(KnownPermissions(), sc) {
			v.add("scopes", "%q is not a permission", sc)
		}
	}
	if err := v.err(); err != nil {
		return store.APIToken{}, "", err
	}
	if !p.Can(need) {
		return store.APIToken{}, "", forbidden("a %s token needs %s", in.Kind, need)
	}
	if p.Exchanged {
		return store.APIToken{}, "", forbidden("a token made by token exchange makes no API tokens: they would outlive it")
	}

	now := s.now()
	t := store.APIToken{
		ID:        uuid.NewString(),
		Name:      name,
		Kind:      in.Kind,
		CreatedBy: p.maker(),
		CreatedAt: now,
		ExpiresAt: now.Add(in.ExpiresIn),
	}
	secret, err := newAPITokenSecret()
	if err != nil {
		return store.APIToken{}, "", err
	}
	t.SecretHash = HashClientSecret(secret)

	err = s.inTx(ctx, "issue API token", func(ctx context.Context) error {
		target, err := s.tokenTarget(ctx, p, in)
		if err != nil {
			return err
		}
		t.UserID, t.ClientID = in.UserID, in.ClientID
		if target.User != nil {
			t.UserID = target.User.ID
		}
		// A token made for someone else is never a way up: its principal
		// may hold nothing of gatehouse's its maker lacks (a manager cannot
		// mint an admin's token and act as the admin). Custom permissions
		// give no power here (outranks), and the intersection below keeps
		// those the maker lacks off the token.
		if in.Kind != store.TokenPersonal {
			if extra := outranks(target.Permissions, p.Permissions); len(extra) > 0 {
				return forbidden("the token's principal holds %s, which you do not hold", strings.Join(extra, ", "))
			}
		}
		// What the token may carry: its principal's permissions, and never
		// more than the issuer's own (a manager cannot mint an admin's
		// token, nor a token of its own with a scope it was not given).
		allowed := intersect(target.Permissions, p.Permissions)
		if len(scopes) == 0 {
			scopes = permissionList(allowed)
			if len(scopes) == 0 {
				return invalid("scopes", "the token would carry no permission: its principal and its issuer share none")
			}
		}
		for _, sc := range scopes {
			if !allowed[sc] {
				return forbidden("scope %q is wider than the permissions of the token's principal or its issuer", sc)
			}
		}
		t.Scopes = scopes
		if err := s.store.CreateAPIToken(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, "token.create", TargetAPIToken, t.ID, onCreate(apiTokenFields(t)))
	})
	if err != nil {
		return store.APIToken{}, "", err
	}
	t.SecretHash = nil
	return t, secret, nil
}

// tokenTarget is the principal a new token will act as.
func (s *Service) tokenTarget(ctx context.Context, p Principal, in NewAPIToken) (Principal, error) {
	switch in.Kind {
	case store.TokenPersonal:
		if p.User == nil {
			return Principal{}, forbidden("a personal token belongs to a user")
		}
		if in.UserID != "" && in.UserID != p.User.ID {
			return Principal{}, invalid("user_id", "must be empty or the caller for a personal token")
		}
		if in.ClientID != "" {
			return Principal{}, invalid("client_id", "must be empty for a personal token")
		}
		// The caller's permissions as they stand (narrowed already if it
		// authenticated with a token).
		return p, nil
	case store.TokenUser:
		if in.ClientID != "" {
			return Principal{}, invalid("client_id", "must be empty for a user token")
		}
		if _, err := uuid.Parse(in.UserID); err != nil {
			return Principal{}, invalid("user_id", "must name a user")
		}
		u, err := s.store.GetUser(ctx, in.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, invalid("user_id", "is not a user")
		}
		if err != nil {
			return Principal{}, err
		}
		target, err := s.UserPrincipal(ctx, u)
		if errors.Is(err, ErrUnauthenticated) {
			return Principal{}, invalid("user_id", "is not an active user")
		}
		return target, err
	default: // store.TokenSystem
		if in.UserID != "" {
			return Principal{}, invalid("user_id", "must be empty for a system token")
		}
		c, err := s.store.GetClient(ctx, in.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, invalid("client_id", "is not a client")
		}
		if err != nil {
			return Principal{}, err
		}
		if len(c.Roles) == 0 {
			return Principal{}, invalid("client_id", "has no roles: it is not a service account")
		}
		return s.ClientPrincipal(ctx, c)
	}
}

func newAPITokenSecret() (string, error) {
	b := make([]byte, ClientSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("domain: API token secret: %w", err)
	}
	return APITokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// missing lists, sorted, the permissions of want that have does not hold.
func missing(want, have map[string]bool) []string {
	var out []string
	for k, ok := range want {
		if ok && !have[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, ok := range a {
		if ok && b[k] {
			out[k] = true
		}
	}
	return out
}

func permissionList(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, ok := range m {
		if ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ListAPITokens lists the tokens p may see: its own; with tokens:users also
// every personal and user token; with tokens:system every token. Newest
// first, without SecretHash.
func (s *Service) ListAPITokens(ctx context.Context, p Principal) ([]store.APIToken, error) {
	var (
		all []store.APIToken
		err error
	)
	switch {
	case p.Can(store.PermTokensSystem) || p.Can(store.PermTokensUsers):
		all, err = s.store.ListAPITokens(ctx, "", "")
	case p.User != nil:
		all, err = s.store.ListAPITokens(ctx, p.User.ID, "")
	case p.Client != nil:
		all, err = s.store.ListAPITokens(ctx, "", p.Client.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("domain: list API tokens: %w", err)
	}
	out := []store.APIToken{}
	for _, t := range all {
		if canSeeToken(p, t) {
			t.SecretHash = nil
			out = append(out, t)
		}
	}
	return out, nil
}

func canSeeToken(p Principal, t store.APIToken) bool {
	switch {
	case p.Can(store.PermTokensSystem):
		return true
	case p.User != nil && t.Kind != store.TokenSystem && t.UserID == p.User.ID:
		return true
	case p.Client != nil && t.Kind == store.TokenSystem && t.ClientID == p.Client.ID:
		return true
	case p.Can(store.PermTokensUsers):
		return t.Kind != store.TokenSystem
	}
	return false
}

// RevokeAPIToken revokes a token p may see ("token.revoke"); revocation is
// effective at the next request. A token p may not see is store.ErrNotFound,
// as if it did not exist; revoking a revoked token again changes nothing
// and records nothing.
func (s *Service) RevokeAPIToken(ctx context.Context, p Principal, id string) error {
	if err := notFoundID("API token", id); err != nil {
		return err
	}
	return s.inTx(ctx, "revoke API token", func(ctx context.Context) error {
		t, err := s.store.GetAPIToken(ctx, id)
		if err != nil {
			return err
		}
		if !canSeeToken(p, t) {
			return notFound("API token %s not found", id)
		}
		if t.RevokedAt != nil {
			return nil
		}
		if err := s.mayRevokeToken(ctx, p, t); err != nil {
			return err
		}
		now := s.now()
		if err := s.store.RevokeAPIToken(ctx, id, now); err != nil {
			return err
		}
		c := changes{"revoked_at": {After: auditTime(&now)}}
		return s.audit(ctx, p.Actor, "token.revoke", TargetAPIToken, id, c)
	})
}

// AuthenticateAPIToken returns the principal of an API token secret (its
// permissions narrowed to the token's scopes) and records its use;
// ErrUnauthenticated if unknown, expired, revoked, its principal inactive,
// or its user's IP rules refuse ip (audited, AdmitAddress).
// The principal's permissions are its current ones, so a role taken away
// after issuance is gone from the token too. The use is recorded at most
// once a minute per token.
func (s *Service) AuthenticateAPIToken(ctx context.Context, secret, ip string) (Principal, error) {
	if !strings.HasPrefix(secret, APITokenPrefix) {
		return Principal{}, fmt.Errorf("domain: API token: not an API token: %w", ErrUnauthenticated)
	}
	digest := HashClientSecret(secret)
	t, err := s.store.GetAPITokenBySecretHash(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("domain: API token: unknown: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("domain: API token: %w", err)
	}
	// The lookup was by digest already; comparing again in constant time
	// keeps a store that matched loosely from letting anything through.
	if subtle.ConstantTimeCompare(t.SecretHash, digest) != 1 {
		return Principal{}, fmt.Errorf("domain: API token: unknown: %w", ErrUnauthenticated)
	}
	now := s.now()
	if t.RevokedAt != nil {
		return Principal{}, fmt.Errorf("domain: API token %s: revoked: %w", t.ID, ErrUnauthenticated)
	}
	if !now.Before(t.ExpiresAt) {
		return Principal{}, fmt.Errorf("domain: API token %s: expired: %w", t.ID, ErrUnauthenticated)
	}
	p, err := s.tokenPrincipal(ctx, t)
	if err != nil {
		return Principal{}, err
	}
	if p.User != nil {
		// The user's IP rules hold for its tokens too, whoever made them.
		if err := s.AdmitAddress(ctx, *p.User, ip, "api_token"); err != nil {
			return Principal{}, fmt.Errorf("domain: API token %s: %w", t.ID, err)
		}
	}
	issuer, err := s.tokenIssuer(ctx, t, p)
	if err != nil {
		return Principal{}, err
	}
	if issuer != nil {
		// Made by one principal for another: it acts with at most what
		// both may do now, and says who is behind it.
		p.Permissions = intersect(p.Permissions, issuer.authority())
		p.Issuer = issuer
		p.Actor.Act = t.CreatedBy
	}
	p.Authority = p.Permissions
	scopes := map[string]bool{}
	for _, sc := range t.Scopes {
		scopes[sc] = true
	}
	p.Permissions = intersect(p.Permissions, scopes)
	p.APITokenID = t.ID
	p.Actor.IP = ip
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= apiTokenTouchInterval {
		if err := s.store.TouchAPIToken(ctx, t.ID, now); err != nil {
			// Bookkeeping only: the token is valid, the request goes on.
			s.opts.Logger.WarnContext(ctx, "record API token use", "token_id", t.ID, "error", err.Error())
		}
	}
	return p, nil
}

// mayRevokeToken applies "no one acts on someone with more power" to a
// token: ending it is acting on the principal it acts as.
func (s *Service) mayRevokeToken(ctx context.Context, p Principal, t store.APIToken) error {
	if p.operator {
		return nil
	}
	if t.Kind == store.TokenSystem {
		c, err := s.store.GetClient(ctx, t.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // a service account that is gone has no power left
		}
		if err != nil {
			return err
		}
		target, err := s.ClientPrincipal(ctx, c)
		if err != nil {
			return nil // no roles: no power
		}
		if extra := outranks(target.Permissions, p.authority()); len(extra) > 0 {
			return forbidden("the service account %s holds %s, which you do not: nobody acts on someone with more power", c.ID, strings.Join(extra, ", "))
		}
		return nil
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.mayActOn(ctx, p, u)
}

// tokenIssuer is the principal that made t, as it stands now, when that is
// someone else than the principal t acts as; nil when t is the subject's
// own or was made by an operator (the CLI, the system). A maker that is gone
// or may no longer act takes the token with it.
func (s *Service) tokenIssuer(ctx context.Context, t store.APIToken, subject Principal) (*Principal, error) {
	if t.CreatedBy == subject.Actor.String() {
		return nil, nil
	}
	kind, id, _ := strings.Cut(t.CreatedBy, ":")
	var (
		issuer Principal
		err    error
	)
	switch store.ActorType(kind) {
	case store.ActorUser:
		var u store.User
		if u, err = s.store.GetUser(ctx, id); err == nil {
			issuer, err = s.UserPrincipal(ctx, u)
		}
	case store.ActorClient:
		var c store.Client
		if c, err = s.store.GetClient(ctx, id); err == nil {
			issuer, err = s.ClientPrincipal(ctx, c)
		}
	default:
		return nil, nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrUnauthenticated) {
		return nil, fmt.Errorf("domain: API token %s: its maker %s may no longer act: %w", t.ID, t.CreatedBy, ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("domain: API token: %w", err)
	}
	return &issuer, nil
}

// tokenPrincipal is the principal a token acts as, as it stands now.
func (s *Service) tokenPrincipal(ctx context.Context, t store.APIToken) (Principal, error) {
	if t.Kind == store.TokenSystem {
		c, err := s.store.GetClient(ctx, t.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, fmt.Errorf("domain: API token %s: client gone: %w", t.ID, ErrUnauthenticated)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("domain: API token: %w", err)
		}
		if len(c.Roles) == 0 {
			return Principal{}, fmt.Errorf("domain: API token %s: client is no service account: %w", t.ID, ErrUnauthenticated)
		}
		return s.ClientPrincipal(ctx, c)
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("domain: API token %s: user gone: %w", t.ID, ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("domain: API token: %w", err)
	}
	return s.UserPrincipal(ctx, u)
}
