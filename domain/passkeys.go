package domain

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// PasskeyConfig configures the WebAuthn relying party. The zero value
// turns passkeys off.
type PasskeyConfig struct {
	// RPID is the relying party id: the issuer's host, or a registrable
	// suffix of it. Credentials are bound to it for good; changing it
	// orphans every registered passkey.
	RPID string
	// RPDisplayName is the name authenticators show ("gatehouse").
	RPDisplayName string
	// Origins are the origins a ceremony may come from (the issuer's).
	Origins []string
	// CeremonyLifetime bounds the time between a ceremony's begin and its
	// finish (default DefaultCeremonyLifetime).
	CeremonyLifetime time.Duration
}

// DefaultCeremonyLifetime is how long a begun WebAuthn ceremony may be
// finished: long enough to find a security key, short enough that a
// challenge does not linger.
const DefaultCeremonyLifetime = 5 * time.Minute

// Ceremony kinds: a finish only consumes a ceremony of its own kind.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
	ceremonyFactor   = "factor"
)

// MaxPasskeyName bounds the name a user gives a passkey.
const MaxPasskeyName = 64

// ceremonySecretBytes is the entropy of the handle the browser holds.
const ceremonySecretBytes = 32

// ErrPasskeysDisabled is returned by every passkey operation when no
// relying party is configured.
var ErrPasskeysDisabled = errors.New("passkeys are not configured")

// passkeyAMR describes a passwordless passkey sign-in: a hardware-bound
// key ("hwk", RFC 8176) used with user verification ("user"), which NIST
// SP 800-63B counts as AAL2 (ACRMultiFactor).
var passkeyAMR = []string{AMRHardwareKey, AMRUserVerified}

// newRelyingParty builds the library's relying party, or nil if passkeys
// are off.
func newRelyingParty(c PasskeyConfig) (*webauthn.WebAuthn, error) {
	if c.RPID == "" {
		return nil, nil
	}
	name := c.RPDisplayName
	if name == "" {
		name = "gatehouse"
	}
	life := c.CeremonyLifetime
	if life <= 0 {
		life = DefaultCeremonyLifetime
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: name,
		RPOrigins:     c.Origins,
		// The timeout is what the browser is told; expiry is enforced by
		// the ceremony's row, on our clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: life, TimeoutUVD: life},
			Registration: webauthn.TimeoutConfig{Timeout: life, TimeoutUVD: life},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("domain: webauthn relying party: %w", err)
	}
	return rp, nil
}

// ValidatePasskeyConfig reports whether c makes a working relying party
// (for configuration checks at startup).
func ValidatePasskeyConfig(c PasskeyConfig) error {
	_, err := newRelyingParty(c)
	return err
}

// DefaultPasskeyConfig derives the relying party from the issuer: its host
// as the RP id and its origin as the one allowed origin.
func DefaultPasskeyConfig(issuer string) (PasskeyConfig, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return PasskeyConfig{}, fmt.Errorf("domain: issuer %q has no host", issuer)
	}
	return PasskeyConfig{RPID: u.Hostname(), Origins: []string{u.Scheme + "://" + u.Host}}, nil
}

// PasskeysEnabled reports whether a relying party is configured.
func (s *Service) PasskeysEnabled() bool { return s.rp != nil }

// PasskeyCeremony is a begun ceremony: Secret goes to the browser (in a
// cookie: it binds the finish to this browser), Options to
// navigator.credentials.create or .get as JSON.
type PasskeyCeremony struct {
	Secret    string
	Options   any
	ExpiresAt time.Time
}

// PasskeySignIn is the outcome of a passwordless sign-in: the user, and how
// they authenticated, for the session and its ID tokens.
type PasskeySignIn struct {
	User store.User
	AMR  []string
	ACR  string
}

// passkeyUser is a user as the library sees it: the user handle is the
// user id's 16 bytes (random, not personal data).
type passkeyUser struct {
	u     store.User
	creds []store.WebAuthnCredential
}

func userHandle(userID string) []byte {
	id, err := uuid.Parse(userID)
	if err != nil {
		return []byte(userID)
	}
	return id[:]
}

func (p passkeyUser) WebAuthnID() []byte   { return userHandle(p.u.ID) }
func (p passkeyUser) WebAuthnName() string { return p.u.Username }
func (p passkeyUser) WebAuthnDisplayName() string {
	if p.u.FullName != "" {
		return p.u.FullName
	}
	return p.u.Username
}

func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(p.creds))
	for i, c := range p.creds {
		out[i] = libraryCredential(c)
	}
	return out
}

func libraryCredential(c store.WebAuthnCredential) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              c.CredentialID,
		PublicKey:       c.PublicKey,
		AttestationType: c.AttestationType,
		Transport:       transports,
		Flags:           webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(c.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID:       c.AAGUID,
			SignCount:    uint32(c.SignCount),
			CloneWarning: c.CloneWarning,
		},
	}
}

func (p passkeyUser) descriptors() []protocol.CredentialDescriptor {
	creds := p.WebAuthnCredentials()
	out := make([]protocol.CredentialDescriptor, len(creds))
	for i := range creds {
		out[i] = creds[i].Descriptor()
	}
	return out
}

// ceremonyID is the store id of a ceremony secret; the secret itself is
// never stored.
func ceremonyID(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}

func (s *Service) passkeyUser(ctx context.Context, u store.User) (passkeyUser, error) {
	creds, err := s.store.ListWebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return passkeyUser{}, fmt.Errorf("domain: list passkeys: %w", err)
	}
	return passkeyUser{u: u, creds: creds}, nil
}

// saveCeremony stores the library's session data under a fresh secret.
func (s *Service) saveCeremony(ctx context.Context, kind, userID string, options any, sd *webauthn.SessionData) (PasskeyCeremony, error) {
	b := make([]byte, ceremonySecretBytes)
	if _, err := rand.Read(b); err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: ceremony secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	raw, err := json.Marshal(sd)
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: encode ceremony: %w", err)
	}
	life := s.opts.Passkeys.CeremonyLifetime
	if life <= 0 {
		life = DefaultCeremonyLifetime
	}
	c := store.WebAuthnCeremony{ID: ceremonyID(secret), UserID: userID, Kind: kind, SessionData: raw,
		ExpiresAt: s.now().Add(life)}
	if err := s.store.CreateWebAuthnCeremony(ctx, c); err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: save ceremony: %w", err)
	}
	return PasskeyCeremony{Secret: secret, Options: options, ExpiresAt: c.ExpiresAt}, nil
}

// takeCeremony consumes the ceremony of secret: a second finish with the
// same secret, or one after the expiry, finds nothing. userID must be the
// user the ceremony was begun for ("" for a passwordless sign-in).
func (s *Service) takeCeremony(ctx context.Context, kind, secret, userID string) (webauthn.SessionData, error) {
	if secret == "" || !ValidKey(secret) {
		return webauthn.SessionData{}, notFound("passkey ceremony not found")
	}
	c, err := s.store.TakeWebAuthnCeremony(ctx, ceremonyID(secret), kind, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return webauthn.SessionData{}, notFound("passkey ceremony not found or expired")
	}
	if err != nil {
		return webauthn.SessionData{}, fmt.Errorf("domain: take ceremony: %w", err)
	}
	if !strings.EqualFold(c.UserID, userID) {
		return webauthn.SessionData{}, notFound("passkey ceremony not found")
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.SessionData, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("domain: decode ceremony: %w", err)
	}
	return sd, nil
}

// BeginPasskeyRegistration starts adding a passkey for u: a discoverable
// credential (so that it can sign in without a username) with user
// verification, excluding the authenticators u registered already.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, u store.User) (PasskeyCeremony, error) {
	if s.rp == nil {
		return PasskeyCeremony{}, ErrPasskeysDisabled
	}
	if !UserCanAct(u, s.now(), ActKeepSession) {
		return PasskeyCeremony{}, fmt.Errorf("domain: register passkey for %s: %w", u.ID, ErrUnauthenticated)
	}
	pu, err := s.passkeyUser(ctx, u)
	if err != nil {
		return PasskeyCeremony{}, err
	}
	creation, sd, err := s.rp.BeginRegistration(pu,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(pu.descriptors()),
	)
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: begin passkey registration: %w", err)
	}
	return s.saveCeremony(ctx, ceremonyRegister, u.ID, creation, sd)
}

// FinishPasskeyRegistration verifies the browser's attestation response
// against the ceremony of secret, begun for userID, and stores the passkey
// under name ("passkey.registered"). A response that does not verify is a
// ValidationError on "credential"; an authenticator registered already is
// a conflict.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, a Actor, userID, secret, name string, response io.Reader) (store.WebAuthnCredential, error) {
	if s.rp == nil {
		return store.WebAuthnCredential{}, ErrPasskeysDisabled
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	var v problems
	if p := TextProblem(name, false); p != "" {
		v.add("name", "%s", p)
	} else if len([]rune(name)) > MaxPasskeyName {
		v.add("name", "must be at most %d characters", MaxPasskeyName)
	}
	if err := v.err(); err != nil {
		return store.WebAuthnCredential{}, err
	}
	sd, err := s.takeCeremony(ctx, ceremonyRegister, secret, userID)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("domain: register passkey: %w", err)
	}
	if !UserCanAct(u, s.now(), ActKeepSession) {
		return store.WebAuthnCredential{}, fmt.Errorf("domain: register passkey for %s: %w", u.ID, ErrUnauthenticated)
	}
	pu, err := s.passkeyUser(ctx, u)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(response)
	if err != nil {
		return store.WebAuthnCredential{}, invalid("credential", "the authenticator's response could not be read")
	}
	cred, err := s.rp.CreateCredential(pu, sd, parsed)
	if err != nil {
		s.opts.Logger.InfoContext(ctx, "passkey registration refused", "user_id", u.ID, "error", protocolDetail(err))
		return store.WebAuthnCredential{}, invalid("credential", "the authenticator's response did not verify")
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	rec := store.WebAuthnCredential{
		ID:              uuid.NewString(),
		UserID:          u.ID,
		CredentialID:    cred.ID,
		PublicKey:       cred.PublicKey,
		SignCount:       int64(cred.Authenticator.SignCount),
		Flags:           int(cred.Flags.ProtocolValue()),
		AttestationType: cred.AttestationType,
		Transports:      transports,
		AAGUID:          cred.Authenticator.AAGUID,
		Name:            name,
		CreatedAt:       s.now(),
	}
	err = s.inTx(ctx, "register passkey", func(ctx context.Context) error {
		if err := s.store.CreateWebAuthnCredential(ctx, rec); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("this passkey is registered already")
			}
			return err
		}
		return s.audit(ctx, a, "passkey.registered", TargetUser, u.ID,
			changes{"passkey_id": {After: rec.ID}, "name": {After: rec.Name}})
	})
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	return rec, nil
}

// ListPasskeys returns the user's passkeys, oldest first.
func (s *Service) ListPasskeys(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	if err := notFoundID("user", userID); err != nil {
		return nil, err
	}
	out, err := s.store.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("domain: list passkeys: %w", err)
	}
	return out, nil
}

// RemovePasskey deletes the user's passkey id ("passkey.removed"); not
// found if it is absent or another user's. A passkey is a second factor:
// when it was the user's last, their recovery codes go too (counted in
// the audit entry). The caller decides whether the authentication is
// fresh enough to allow it.
func (s *Service) RemovePasskey(ctx context.Context, a Actor, userID, id string) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	if err := notFoundID("passkey", id); err != nil {
		return err
	}
	return s.inTx(ctx, "remove passkey", func(ctx context.Context) error {
		if err := s.store.DeleteWebAuthnCredential(ctx, userID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("passkey not found")
			}
			return err
		}
		c := changes{"passkey_id": {Before: id}}
		codes, err := s.dropOrphanRecoveryCodes(ctx, userID)
		if err != nil {
			return err
		}
		if codes > 0 {
			c["recovery_codes"] = store.Change{Before: codes, After: 0}
		}
		return s.audit(ctx, a, "passkey.removed", TargetUser, userID, c)
	})
}

// BeginPasskeySignIn starts a passwordless sign-in: no user is named, the
// browser offers the discoverable credentials it holds for our RP id, and
// user verification is required (the passkey is then both factors).
func (s *Service) BeginPasskeySignIn(ctx context.Context) (PasskeyCeremony, error) {
	if s.rp == nil {
		return PasskeyCeremony{}, ErrPasskeysDisabled
	}
	assertion, sd, err := s.rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: begin passkey sign-in: %w", err)
	}
	return s.saveCeremony(ctx, ceremonyLogin, "", assertion, sd)
}

// FinishPasskeySignIn verifies a passwordless assertion against the
// ceremony of secret. Every refusal — unknown credential, bad signature,
// expired or used ceremony, a possibly cloned authenticator, a user who may
// not sign in now — is ErrInvalidCredentials and is audited
// ("signin.passkey.failure"); success updates the credential's counter and
// is audited ("signin.passkey"). A pending user is returned like the
// password path returns one: the caller sends it to the access request.
func (s *Service) FinishPasskeySignIn(ctx context.Context, secret string, response io.Reader, ip string) (PasskeySignIn, error) {
	if s.rp == nil {
		return PasskeySignIn{}, ErrPasskeysDisabled
	}
	anonymous := Actor{Type: store.ActorAnonymous, IP: ip}
	refuse := func(userID, reason string) (PasskeySignIn, error) {
		if err := s.audit(ctx, anonymous, "signin.passkey.failure", TargetUser, userID,
			changes{"reason": {After: reason}}); err != nil {
			return PasskeySignIn{}, fmt.Errorf("domain: passkey sign-in: %w", err)
		}
		return PasskeySignIn{}, ErrInvalidCredentials
	}
	sd, err := s.takeCeremony(ctx, ceremonyLogin, secret, "")
	if errors.Is(err, store.ErrNotFound) {
		return refuse("", "ceremony_not_found")
	}
	if err != nil {
		return PasskeySignIn{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(response)
	if err != nil {
		return refuse("", "malformed_response")
	}
	var owner passkeyUser
	var found store.WebAuthnCredential
	handler := func(rawID, handle []byte) (webauthn.User, error) {
		c, err := s.store.GetWebAuthnCredential(ctx, rawID)
		if err != nil {
			return nil, err
		}
		found = c
		if !bytes.Equal(handle, userHandle(c.UserID)) {
			return nil, errors.New("user handle does not match the credential's user")
		}
		u, err := s.store.GetUser(ctx, c.UserID)
		if err != nil {
			return nil, err
		}
		owner, err = s.passkeyUser(ctx, u)
		if err != nil {
			return nil, err
		}
		return owner, nil
	}
	_, cred, err := s.rp.ValidatePasskeyLogin(handler, sd, parsed)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return PasskeySignIn{}, fmt.Errorf("domain: passkey sign-in: %w", err)
		}
		s.opts.Logger.InfoContext(ctx, "passkey sign-in refused", "error", protocolDetail(err))
		return refuse(found.UserID, "assertion_invalid")
	}
	u := owner.u
	if err := s.recordPasskeyUse(ctx, found, cred); err != nil {
		if errors.Is(err, errCloned) {
			return refuse(u.ID, "clone_warning")
		}
		return PasskeySignIn{}, err
	}
	if ok, err := s.signInAllowed(ctx, u, ip, "passkey"); err != nil {
		return PasskeySignIn{}, err
	} else if !ok {
		return refuse(u.ID, "user_may_not_sign_in")
	}
	now := s.now()
	err = s.inTx(ctx, "passkey sign-in", func(ctx context.Context) error {
		if err := s.store.RecordLoginSuccess(ctx, u.ID, now, ""); err != nil {
			return err
		}
		// As a right password does: the owner proved itself from this
		// address, so its failed passwords stop counting against it.
		if err := s.store.ClearSignInFailures(ctx, u.ID, addressKey(ip)); err != nil {
			return err
		}
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "signin.passkey", TargetUser, u.ID,
			changes{"passkey_id": {After: found.ID}})
	})
	if err != nil {
		return PasskeySignIn{}, err
	}
	s.countSignIn(u.ID)
	u.LastLoginAt, u.FailedLogins, u.LockedUntil = &now, 0, nil
	return PasskeySignIn{User: u, AMR: append([]string(nil), passkeyAMR...), ACR: ACRMultiFactor}, nil
}

// signInAllowed is the check of a passkey or upstream sign-in once the
// credential is verified: the rules the password path applies once the
// password is right, standing and the user's IP rules (a refused address
// is audited by AdmitAddress, naming via).
func (s *Service) signInAllowed(ctx context.Context, u store.User, ip, via string) (bool, error) {
	if !UserCanAct(u, s.now(), ActKeepSession) {
		return false, nil
	}
	if err := s.AdmitAddress(ctx, u, ip, via); err != nil {
		if errors.Is(err, ErrAddressRefused) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

var errCloned = errors.New("passkey: signature counter went backwards")

// recordPasskeyUse stores what a verified assertion changed of the
// credential: its counter, flags and last use. A counter that did not move
// forward means two copies of the key may exist: the warning is recorded
// (and stays), the counter is not lowered, and errCloned refuses the use.
func (s *Service) recordPasskeyUse(ctx context.Context, rec store.WebAuthnCredential, cred *webauthn.Credential) error {
	now := s.now()
	if cred.Authenticator.CloneWarning {
		if err := s.store.UpdateWebAuthnCredentialUse(ctx, rec.ID, rec.SignCount, true, rec.Flags, now); err != nil {
			return fmt.Errorf("domain: record passkey use: %w", err)
		}
		return errCloned
	}
	if err := s.store.UpdateWebAuthnCredentialUse(ctx, rec.ID, int64(cred.Authenticator.SignCount), false,
		int(cred.Flags.ProtocolValue()), now); err != nil {
		return fmt.Errorf("domain: record passkey use: %w", err)
	}
	return nil
}

// BeginPasskeyFactor starts the second step of a sign-in whose first step
// (the password) named u: an assertion by one of u's passkeys. Not found if
// u has none.
func (s *Service) BeginPasskeyFactor(ctx context.Context, u store.User) (PasskeyCeremony, error) {
	if s.rp == nil {
		return PasskeyCeremony{}, ErrPasskeysDisabled
	}
	pu, err := s.passkeyUser(ctx, u)
	if err != nil {
		return PasskeyCeremony{}, err
	}
	if len(pu.creds) == 0 {
		return PasskeyCeremony{}, notFound("user has no passkey")
	}
	assertion, sd, err := s.rp.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return PasskeyCeremony{}, fmt.Errorf("domain: begin passkey factor: %w", err)
	}
	return s.saveCeremony(ctx, ceremonyFactor, u.ID, assertion, sd)
}

// VerifyPasskeyFactor checks the second-step assertion of u (the user the
// first step named, as BeginPasskeyFactor takes it) against the ceremony of
// secret. It returns the methods the step adds to the session's amr:
// "hwk", and "user" when the authenticator verified the user. Refusals are
// ErrInvalidCredentials, audited ("mfa.passkey.failure"); success is
// audited ("mfa.passkey").
func (s *Service) VerifyPasskeyFactor(ctx context.Context, u store.User, secret string, response io.Reader, ip string) ([]string, error) {
	if s.rp == nil {
		return nil, ErrPasskeysDisabled
	}
	refuse := func(reason string) ([]string, error) {
		if err := s.audit(ctx, Actor{Type: store.ActorAnonymous, IP: ip}, "mfa.passkey.failure", TargetUser, u.ID,
			changes{"reason": {After: reason}}); err != nil {
			return nil, fmt.Errorf("domain: passkey factor: %w", err)
		}
		return nil, ErrInvalidCredentials
	}
	sd, err := s.takeCeremony(ctx, ceremonyFactor, secret, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse("ceremony_not_found")
	}
	if err != nil {
		return nil, err
	}
	pu, err := s.passkeyUser(ctx, u)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(response)
	if err != nil {
		return refuse("malformed_response")
	}
	cred, err := s.rp.ValidateLogin(pu, sd, parsed)
	if err != nil {
		s.opts.Logger.InfoContext(ctx, "passkey factor refused", "user_id", u.ID, "error", protocolDetail(err))
		return refuse("assertion_invalid")
	}
	var rec store.WebAuthnCredential
	for _, c := range pu.creds {
		if bytes.Equal(c.CredentialID, cred.ID) {
			rec = c
		}
	}
	if err := s.recordPasskeyUse(ctx, rec, cred); err != nil {
		if errors.Is(err, errCloned) {
			return refuse("clone_warning")
		}
		return nil, err
	}
	if ok, err := s.signInAllowed(ctx, u, ip, "passkey"); err != nil {
		return nil, err
	} else if !ok {
		return refuse("user_may_not_sign_in")
	}
	if err := s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "mfa.passkey", TargetUser, u.ID,
		changes{"passkey_id": {After: rec.ID}}); err != nil {
		return nil, fmt.Errorf("domain: passkey factor: %w", err)
	}
	amr := []string{AMRHardwareKey}
	if parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		amr = append(amr, AMRUserVerified)
	}
	return amr, nil
}

// protocolDetail is the library's reason for a refusal, for logs: its
// developer detail, never anything the browser sent.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Type + ": " + pe.Details + " " + pe.DevInfo
	}
	return err.Error()
}
