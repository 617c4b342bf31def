package domain

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// Upstream OpenID Connect identity providers: the rules of who an upstream
// sign-in is. The protocol (discovery, code exchange, ID token checks) is
// the pages'; what a verified upstream identity means — an existing link,
// a link by verified email, a new user — is decided here, once.

// TargetIdentityProvider is the audit target type of provider changes.
const TargetIdentityProvider = "identity_provider"

// AMRFederated is the amr value of a sign-in at an upstream provider. RFC
// 8176 registers no value for it; "fed" is the one in common use, and what
// our ID tokens and audit entries carry.
const AMRFederated = "fed"

// Defaults of an identity provider's claim mapping.
const (
	DefaultUsernameClaim = "preferred_username"
	DefaultEmailClaim    = "email"
	DefaultNameClaim     = "name"
)

var (
	// ErrProviderUnavailable: the provider is unknown or disabled.
	ErrProviderUnavailable = errors.New("identity provider unknown or disabled")
	// ErrFederatedEmail: a first upstream sign-in cannot make a user: the
	// upstream gave no usable email, or its email belongs to a user it may
	// not be linked to (linking off, or the email is not verified).
	ErrFederatedEmail = errors.New("upstream email missing or already in use")
	// ErrLastSignInMethod: unlinking would leave the user no way to sign
	// in (no password, no passkey, no other link).
	ErrLastSignInMethod = errors.New("the last way to sign in cannot be removed")
)

var providerIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// claimNamePattern bounds claim names to what a JSON member name in a
// token reasonably is.
var claimNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)

// IdentityProviderInput is a provider as an administrator or the
// configuration gives it. Empty claim names take the defaults; an empty
// NewUserStatus is pending.
type IdentityProviderInput struct {
	ID                  string
	DisplayName         string
	Issuer              string
	ClientID            string
	ClientSecret        string
	Scopes              []string
	UsernameClaim       string
	EmailClaim          string
	NameClaim           string
	LinkByVerifiedEmail bool
	NewUserStatus       store.UserStatus
	NewUserRoles        []string
	// Enabled nil is true.
	Enabled *bool
}

// IdentityProviderPatch is a partial update; nil fields stay.
// ClientSecret set to "" removes the secret (a public client).
type IdentityProviderPatch struct {
	DisplayName         *string
	Issuer              *string
	ClientID            *string
	ClientSecret        *string
	Scopes              *[]string
	UsernameClaim       *string
	EmailClaim          *string
	NameClaim           *string
	LinkByVerifiedEmail *bool
	NewUserStatus       *store.UserStatus
	NewUserRoles        *[]string
	Enabled             *bool
}

// providerFields are the audited fields of a provider: never the secret,
// only whether there is one.
func providerFields(p store.IdentityProvider) fields {
	return fields{
		"display_name":           p.DisplayName,
		"issuer":                 p.Issuer,
		"client_id":              p.ClientID,
		"client_secret_set":      len(p.ClientSecretEnc) > 0,
		"scopes":                 auditList(p.Scopes),
		"username_claim":         p.UsernameClaim,
		"email_claim":            p.EmailClaim,
		"name_claim":             p.NameClaim,
		"link_by_verified_email": p.LinkByVerifiedEmail,
		"new_user_status":        string(p.NewUserStatus),
		"new_user_roles":         auditList(p.NewUserRoles),
		"enabled":                p.Enabled,
	}
}

// ValidIssuerURL reports what is wrong with an upstream issuer ("" if
// nothing): an absolute https URL without query or fragment; plain http
// only for a loopback host (development and tests).
func ValidIssuerURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(raw) > 2000 {
		return "must be an absolute https URL without query or fragment"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
	}
	return "must be an https URL (http only for a loopback host)"
}

// ValidProviderID reports whether id is a provider id: a slug of 1-63
// lowercase letters, digits and '-', starting with a letter or digit.
func ValidProviderID(id string) bool { return providerIDPattern.MatchString(id) }

// checkProvider validates p (every problem at once) and normalizes it.
func (s *Service) checkProvider(ctx context.Context, p *store.IdentityProvider) error {
	var v problems
	if !providerIDPattern.MatchString(p.ID) {
		v.add("id", "must be 1-63 characters of lowercase letters, digits and '-', starting with a letter or digit")
	}
	p.DisplayName = v.checkText("display_name", p.DisplayName, maxTextLength, true)
	if p.DisplayName == "" {
		v.add("display_name", "is required")
	}
	if msg := ValidIssuerURL(p.Issuer); msg != "" {
		v.add("issuer", "%s", msg)
	}
	p.ClientID = strings.TrimSpace(p.ClientID)
	switch {
	case p.ClientID == "":
		v.add("client_id", "is required")
	case len(p.ClientID) > 255 || !ValidKey(p.ClientID):
		v.add("client_id", "must be at most 255 printable characters")
	}
	scopes := []string{}
	for _, sc := range p.Scopes {
		for _, f := range strings.Fields(sc) {
			if f == "openid" {
				continue // always asked for
			}
			if len(f) > 100 || !ValidKey(f) || strings.ContainsAny(f, "\"\\") {
				v.add("scopes", "%q is not a scope token", f)
				continue
			}
			scopes = append(scopes, f)
		}
	}
	if len(scopes) > 20 {
		v.add("scopes", "must be at most 20 scopes")
	}
	p.Scopes = set(scopes)
	for _, c := range []struct {
		field string
		claim *string
		def   string
	}{
		{"claims.username", &p.UsernameClaim, DefaultUsernameClaim},
		{"claims.email", &p.EmailClaim, DefaultEmailClaim},
		{"claims.name", &p.NameClaim, DefaultNameClaim},
	} {
		*c.claim = strings.TrimSpace(*c.claim)
		if *c.claim == "" {
			*c.claim = c.def
		}
		if !claimNamePattern.MatchString(*c.claim) {
			v.add(c.field, "must be a claim name (letters, digits, '_', '.', ':', '-')")
		}
	}
	if p.NewUserStatus == "" {
		p.NewUserStatus = store.StatusPending
	}
	if p.NewUserStatus != store.StatusPending && p.NewUserStatus != store.StatusActive {
		v.add("new_user_status", "must be pending or active")
	}
	p.NewUserRoles = set(p.NewUserRoles)
	if len(p.NewUserRoles) > 0 {
		all, err := s.roleMap(ctx)
		if err != nil {
			return err
		}
		v.checkRoleNames("new_user_roles", p.NewUserRoles, all)
	}
	return v.err()
}

func (s *Service) sealProviderSecret(p *store.IdentityProvider, secret string) error {
	if secret == "" {
		p.ClientSecretEnc = nil
		return nil
	}
	if len(secret) > 1000 || !ValidKey(secret) {
		return invalid("client_secret", "must be at most 1000 printable characters")
	}
	box, err := s.providerBox()
	if err != nil {
		return err
	}
	sealed, err := box.seal(providerSecretAD(p.ID), []byte(secret))
	if err != nil {
		return err
	}
	p.ClientSecretEnc = sealed
	return nil
}

// providerSecretAD is the additional data of a sealed client secret: a
// secret copied onto another provider's row does not open.
func providerSecretAD(id string) string { return "identity-provider:" + id }

func (s *Service) providerBox() (*secretBox, error) {
	if s.idpSecrets == nil {
		return nil, errors.New("domain: no identity provider key configured (Options.IdentityProviderKey)")
	}
	return s.idpSecrets, nil
}

// IdentityProviderSecret opens the provider's client secret ("" for a
// public client), for the code exchange only: never show or log it.
func (s *Service) IdentityProviderSecret(p store.IdentityProvider) (string, error) {
	if len(p.ClientSecretEnc) == 0 {
		return "", nil
	}
	box, err := s.providerBox()
	if err != nil {
		return "", err
	}
	b, err := box.open(providerSecretAD(p.ID), p.ClientSecretEnc)
	if err != nil {
		return "", fmt.Errorf("domain: identity provider %s: client secret: %w", p.ID, err)
	}
	return string(b), nil
}

// ListIdentityProviders returns every provider, by id.
func (s *Service) ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error) {
	out, err := s.store.ListIdentityProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list identity providers: %w", err)
	}
	return out, nil
}

// EnabledIdentityProviders returns the providers the login page offers.
func (s *Service) EnabledIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error) {
	all, err := s.ListIdentityProviders(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(p store.IdentityProvider) bool { return !p.Enabled }), nil
}

// GetIdentityProvider returns a not-found error if absent.
func (s *Service) GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error) {
	if !providerIDPattern.MatchString(id) {
		return store.IdentityProvider{}, notFound("identity provider %q not found", id)
	}
	p, err := s.store.GetIdentityProvider(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.IdentityProvider{}, notFound("identity provider %q not found", id)
	}
	if err != nil {
		return store.IdentityProvider{}, fmt.Errorf("domain: get identity provider: %w", err)
	}
	return p, nil
}

func providerFromInput(in IdentityProviderInput) store.IdentityProvider {
	enabled := in.Enabled == nil || *in.Enabled
	return store.IdentityProvider{
		ID: in.ID, DisplayName: in.DisplayName, Issuer: in.Issuer, ClientID: in.ClientID,
		Scopes: in.Scopes, UsernameClaim: in.UsernameClaim, EmailClaim: in.EmailClaim, NameClaim: in.NameClaim,
		LinkByVerifiedEmail: in.LinkByVerifiedEmail, NewUserStatus: in.NewUserStatus, NewUserRoles: in.NewUserRoles,
		Enabled: enabled,
	}
}

// CreateIdentityProvider validates and stores a provider, its secret
// sealed ("identity_provider.create"); a taken id is a conflict.
func (s *Service) CreateIdentityProvider(ctx context.Context, a Actor, in IdentityProviderInput) (store.IdentityProvider, error) {
	p := providerFromInput(in)
	if err := s.checkProvider(ctx, &p); err != nil {
		return store.IdentityProvider{}, err
	}
	if err := s.sealProviderSecret(&p, in.ClientSecret); err != nil {
		return store.IdentityProvider{}, err
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt = now, now
	err := s.inTx(ctx, "create identity provider", func(ctx context.Context) error {
		if err := s.store.CreateIdentityProvider(ctx, p); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("identity provider %q exists", p.ID)
			}
			return err
		}
		return s.audit(ctx, a, "identity_provider.create", TargetIdentityProvider, p.ID, onCreate(providerFields(p)))
	})
	if err != nil {
		return store.IdentityProvider{}, err
	}
	return s.GetIdentityProvider(ctx, p.ID)
}

// UpdateIdentityProvider applies patch ("identity_provider.update").
func (s *Service) UpdateIdentityProvider(ctx context.Context, a Actor, id string, patch IdentityProviderPatch) (store.IdentityProvider, error) {
	var out store.IdentityProvider
	err := s.inTx(ctx, "update identity provider", func(ctx context.Context) error {
		cur, err := s.GetIdentityProvider(ctx, id)
		if err != nil {
			return err
		}
		p := cur
		setIf(&p.DisplayName, patch.DisplayName)
		setIf(&p.Issuer, patch.Issuer)
		setIf(&p.ClientID, patch.ClientID)
		setIf(&p.Scopes, patch.Scopes)
		setIf(&p.UsernameClaim, patch.UsernameClaim)
		setIf(&p.EmailClaim, patch.EmailClaim)
		setIf(&p.NameClaim, patch.NameClaim)
		setIf(&p.LinkByVerifiedEmail, patch.LinkByVerifiedEmail)
		setIf(&p.NewUserStatus, patch.NewUserStatus)
		setIf(&p.NewUserRoles, patch.NewUserRoles)
		setIf(&p.Enabled, patch.Enabled)
		if err := s.checkProvider(ctx, &p); err != nil {
			return err
		}
		if patch.ClientSecret != nil {
			if err := s.sealProviderSecret(&p, *patch.ClientSecret); err != nil {
				return err
			}
		}
		p.UpdatedAt = s.now()
		c := diff(providerFields(cur), providerFields(p))
		if patch.ClientSecret != nil && *patch.ClientSecret != "" {
			c["client_secret"] = store.Change{After: "changed"}
		}
		if len(c) == 0 {
			out = cur // nothing changed: nothing to write or audit
			return nil
		}
		if err := s.store.UpdateIdentityProvider(ctx, p); err != nil {
			return err
		}
		if err := s.audit(ctx, a, "identity_provider.update", TargetIdentityProvider, p.ID, c); err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeleteIdentityProvider removes a provider and every identity linked
// through it ("identity_provider.delete").
func (s *Service) DeleteIdentityProvider(ctx context.Context, a Actor, id string) error {
	return s.inTx(ctx, "delete identity provider", func(ctx context.Context) error {
		cur, err := s.GetIdentityProvider(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteIdentityProvider(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "identity_provider.delete", TargetIdentityProvider, id, onRemove(providerFields(cur)))
	})
}

// ApplyConfiguredIdentityProviders makes the store hold the providers of
// the configuration: created if absent, replaced (secret included) if
// present, so that the file wins at every start. Providers created
// through the API and absent from the file are left alone.
func (s *Service) ApplyConfiguredIdentityProviders(ctx context.Context, a Actor, in []IdentityProviderInput) error {
	for _, pi := range in {
		_, err := s.GetIdentityProvider(ctx, pi.ID)
		switch {
		case err == nil:
			err = s.replaceProvider(ctx, a, pi)
		case ErrorCode(err) == CodeNotFound:
			_, err = s.CreateIdentityProvider(ctx, a, pi)
			if ErrorCode(err) == CodeConflict {
				// Another instance starting at the same time made it.
				err = s.replaceProvider(ctx, a, pi)
			}
		}
		if err != nil {
			return fmt.Errorf("domain: identity provider %q: %w", pi.ID, err)
		}
	}
	return nil
}

// replaceProvider makes the stored provider pi; the secret is sealed anew
// only when it changed, so that a restart with the same file changes
// nothing and audits nothing.
func (s *Service) replaceProvider(ctx context.Context, a Actor, pi IdentityProviderInput) error {
	cur, err := s.GetIdentityProvider(ctx, pi.ID)
	if err != nil {
		return err
	}
	enabled := pi.Enabled == nil || *pi.Enabled
	status := pi.NewUserStatus
	patch := IdentityProviderPatch{
		DisplayName: &pi.DisplayName, Issuer: &pi.Issuer, ClientID: &pi.ClientID,
		Scopes: &pi.Scopes, UsernameClaim: &pi.UsernameClaim, EmailClaim: &pi.EmailClaim, NameClaim: &pi.NameClaim,
		LinkByVerifiedEmail: &pi.LinkByVerifiedEmail, NewUserStatus: &status, NewUserRoles: &pi.NewUserRoles,
		Enabled: &enabled,
	}
	if old, err := s.IdentityProviderSecret(cur); err != nil || subtle.ConstantTimeCompare([]byte(old), []byte(pi.ClientSecret)) != 1 {
		patch.ClientSecret = &pi.ClientSecret
	}
	_, err = s.UpdateIdentityProvider(ctx, a, pi.ID, patch)
	return err
}

// ---------------------------------------------------------------------------
// Signing in with an upstream identity

// UpstreamIdentity is what a verified upstream ID token (and userinfo)
// says about the person, already mapped through the provider's claims.
type UpstreamIdentity struct {
	ProviderID string
	// Issuer and Subject are the ID token's iss and sub.
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Username      string
	Name          string
}

// FederatedSignIn is the outcome of an upstream sign-in.
type FederatedSignIn struct {
	User store.User
	// Created: the sign-in made the user; Linked: it linked the upstream
	// account (to a new user, or by verified email).
	Created bool
	Linked  bool
}

// SignInUpstream signs in with a verified upstream identity:
//
//   - an identity linked already (issuer, subject) signs in as its user;
//   - otherwise, if the provider links by verified email and the upstream
//     says email_verified, the user with that email is linked and signed in;
//   - otherwise a new user is made, with the provider's status and roles
//     (pending, none, by default), its username derived from the mapped
//     claim and made unique, and linked.
//
// An unverified email never links. Every sign-in then passes the rules a
// right password does (standing, IP rules); a refusal is
// ErrInvalidCredentials ("login.failure", reason in the entry). A pending
// user is returned with a nil error, as Authenticate returns one. Success
// is "login.success" with method "fed"; a link "identity.link"; a new
// user "user.create".
func (s *Service) SignInUpstream(ctx context.Context, id UpstreamIdentity, ip string) (FederatedSignIn, error) {
	res, err := s.signInUpstream(ctx, id, ip)
	outcome := SignInError
	switch {
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrFederatedEmail), errors.Is(err, ErrProviderUnavailable):
		outcome = SignInFailure
	case err == nil && res.User.Status == store.StatusPending:
		outcome = SignInPending
	case err == nil:
		outcome = SignInSuccess
	}
	s.opts.SignIns.SignIn(outcome)
	return res, err
}

func (s *Service) signInUpstream(ctx context.Context, id UpstreamIdentity, ip string) (FederatedSignIn, error) {
	anonymous := Actor{Type: store.ActorAnonymous, IP: ip}
	refuse := func(userID, reason string, err error) (FederatedSignIn, error) {
		if aerr := s.audit(ctx, anonymous, "login.failure", TargetUser, userID,
			changes{"method": {After: AMRFederated}, "provider": {After: id.ProviderID}, "reason": {After: reason}}); aerr != nil {
			return FederatedSignIn{}, fmt.Errorf("domain: upstream sign-in: %w", aerr)
		}
		return FederatedSignIn{}, err
	}
	p, err := s.GetIdentityProvider(ctx, id.ProviderID)
	if ErrorCode(err) == CodeNotFound {
		return refuse("", "provider_unknown", ErrProviderUnavailable)
	}
	if err != nil {
		return FederatedSignIn{}, err
	}
	if !p.Enabled {
		return refuse("", "provider_disabled", ErrProviderUnavailable)
	}
	if id.Issuer != p.Issuer || id.Subject == "" || len(id.Subject) > 255 || !ValidKey(id.Subject) {
		return refuse("", "identity_invalid", ErrInvalidCredentials)
	}
	id.Email = NormalizeEmail(id.Email)

	link, err := s.store.GetLinkedIdentity(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		u, err := s.store.GetUser(ctx, link.UserID)
		if err != nil {
			return FederatedSignIn{}, fmt.Errorf("domain: upstream sign-in: %w", err)
		}
		return s.finishUpstream(ctx, FederatedSignIn{User: u}, link.ID, p, ip, refuse)
	case !errors.Is(err, store.ErrNotFound):
		return FederatedSignIn{}, fmt.Errorf("domain: upstream sign-in: %w", err)
	}

	// Not linked yet. An email the upstream does not vouch for says
	// nothing about who owns it here: it never links, and it never takes
	// a local user's address either.
	var existing *store.User
	if id.Email != "" {
		u, err := s.store.GetUserByEmail(ctx, id.Email)
		switch {
		case err == nil:
			existing = &u
		case !errors.Is(err, store.ErrNotFound):
			return FederatedSignIn{}, fmt.Errorf("domain: upstream sign-in: %w", err)
		}
	}
	if existing != nil {
		// A concurrent first sign-in of this same upstream account may
		// have made the user, with its link in the same transaction, since
		// the link was read: this is then that user's sign-in, not a clash
		// of addresses.
		if l, err := s.store.GetLinkedIdentity(ctx, id.Issuer, id.Subject); err == nil && l.UserID == existing.ID {
			return s.finishUpstream(ctx, FederatedSignIn{User: *existing}, l.ID, p, ip, refuse)
		}
		if !p.LinkByVerifiedEmail {
			return refuse(existing.ID, "email_in_use", ErrFederatedEmail)
		}
		if !id.EmailVerified {
			return refuse(existing.ID, "email_not_verified", ErrFederatedEmail)
		}
		u := *existing
		// Standing first: a user who may not sign in is not linked either.
		if ok, err := s.signInAllowed(ctx, u, ip, "upstream"); err != nil {
			return FederatedSignIn{}, err
		} else if !ok {
			return refuse(u.ID, "user_may_not_sign_in", ErrInvalidCredentials)
		}
		l := s.newLink(u.ID, p, id)
		err := s.inTx(ctx, "upstream sign-in", func(ctx context.Context) error {
			if err := s.store.CreateLinkedIdentity(ctx, l); err != nil {
				return err
			}
			return s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "identity.link", TargetUser, u.ID,
				linkChanges(l, "verified_email"))
		})
		if errors.Is(err, store.ErrConflict) {
			// Another sign-in of the same upstream account linked it
			// first: refuse this one rather than guess.
			return refuse(u.ID, "link_race", ErrInvalidCredentials)
		}
		if err != nil {
			return FederatedSignIn{}, err
		}
		return s.finishUpstream(ctx, FederatedSignIn{User: u, Linked: true}, l.ID, p, ip, refuse)
	}

	if id.Email == "" || ValidateEmail(id.Email) != nil {
		return refuse("", "email_missing", ErrFederatedEmail)
	}
	u, l, err := s.createUpstreamUser(ctx, p, id, ip)
	if errors.Is(err, store.ErrConflict) {
		return refuse("", "create_conflict", ErrInvalidCredentials)
	}
	if err != nil {
		return FederatedSignIn{}, err
	}
	return s.finishUpstream(ctx, FederatedSignIn{User: u, Created: true, Linked: true}, l.ID, p, ip, refuse)
}

// newLink is the link of id to the user, through p, made now.
func (s *Service) newLink(userID string, p store.IdentityProvider, id UpstreamIdentity) store.LinkedIdentity {
	return store.LinkedIdentity{
		ID: uuid.NewString(), UserID: userID, ProviderID: p.ID, Issuer: id.Issuer, Subject: id.Subject,
		Email: truncateUTF8(id.Email, 254), CreatedAt: s.now(),
	}
}

func linkChanges(l store.LinkedIdentity, by string) changes {
	return changes{
		"provider": {After: l.ProviderID}, "issuer": {After: l.Issuer}, "subject": {After: l.Subject},
		"linked_by": {After: by}, "link_id": {After: l.ID},
	}
}

// maxUsernameTries bounds the suffixes tried to make a derived username
// unique.
const maxUsernameTries = 20

// createUpstreamUser makes the user of a first upstream sign-in and links
// it, in one transaction; a username taken meanwhile is tried again with
// the next suffix.
func (s *Service) createUpstreamUser(ctx context.Context, p store.IdentityProvider, id UpstreamIdentity, ip string) (store.User, store.LinkedIdentity, error) {
	base := DeriveUsername(id.Username, id.Email)
	now := s.now()
	status := p.NewUserStatus
	if status == "" {
		status = store.StatusPending
	}
	for i := 1; i <= maxUsernameTries; i++ {
		name := usernameCandidate(base, i)
		if _, err := s.store.GetUserByUsername(ctx, name); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, store.LinkedIdentity{}, fmt.Errorf("domain: upstream sign-in: %w", err)
		}
		var full problems
		u := store.User{
			ID: uuid.NewString(), Username: name, Email: id.Email,
			FullName: full.checkText("full_name", truncateUTF8(id.Name, maxTextLength), maxTextLength, true),
			Status:   status, Roles: set(p.NewUserRoles), EmailVerified: id.EmailVerified,
			CreatedAt: now, UpdatedAt: now,
		}
		if len(full) > 0 {
			u.FullName = "" // a name with control characters is not shown
		}
		l := s.newLink(u.ID, p, id)
		system := Actor{Type: store.ActorSystem, IP: ip}
		err := s.inTx(ctx, "upstream sign-in", func(ctx context.Context) error {
			if err := s.checkUnique(ctx, u.ID, u.Username, u.Email); err != nil {
				return err
			}
			if err := s.store.CreateUser(ctx, u); err != nil {
				return err
			}
			c := onCreate(userFields(u))
			c["provider"] = store.Change{After: p.ID}
			if err := s.audit(ctx, system, "user.create", TargetUser, u.ID, c); err != nil {
				return err
			}
			if err := s.store.CreateLinkedIdentity(ctx, l); err != nil {
				return err
			}
			if err := s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "identity.link", TargetUser, u.ID,
				linkChanges(l, "new_user")); err != nil {
				return err
			}
			if !u.EmailVerified {
				return s.queueVerification(ctx, u)
			}
			return nil
		})
		if ErrorCode(err) == CodeConflict {
			// Taken meanwhile: the username (try the next one), or the
			// email or the link (another sign-in of the same person won).
			if _, gerr := s.store.GetUserByUsername(ctx, name); gerr == nil {
				continue
			}
			return store.User{}, store.LinkedIdentity{}, store.ErrConflict
		}
		if err != nil {
			return store.User{}, store.LinkedIdentity{}, err
		}
		out, err := s.store.GetUser(ctx, u.ID)
		if err != nil {
			return store.User{}, store.LinkedIdentity{}, fmt.Errorf("domain: upstream sign-in: read back: %w", err)
		}
		return out, l, nil
	}
	return store.User{}, store.LinkedIdentity{}, store.ErrConflict
}

// finishUpstream applies the sign-in rules to the identified user and
// records the sign-in.
func (s *Service) finishUpstream(ctx context.Context, res FederatedSignIn, linkID string, p store.IdentityProvider, ip string,
	refuse func(userID, reason string, err error) (FederatedSignIn, error)) (FederatedSignIn, error) {
	u := res.User
	if ok, err := s.signInAllowed(ctx, u, ip, "upstream"); err != nil {
		return FederatedSignIn{}, err
	} else if !ok {
		return refuse(u.ID, "user_may_not_sign_in", ErrInvalidCredentials)
	}
	now := s.now()
	err := s.inTx(ctx, "upstream sign-in", func(ctx context.Context) error {
		if err := s.store.RecordLoginSuccess(ctx, u.ID, now, ""); err != nil {
			return err
		}
		if err := s.store.ClearSignInFailures(ctx, u.ID, addressKey(ip)); err != nil {
			return err
		}
		if err := s.store.TouchLinkedIdentity(ctx, linkID, now); err != nil {
			return err
		}
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "login.success", TargetUser, u.ID,
			changes{"method": {After: AMRFederated}, "provider": {After: p.ID}})
	})
	if err != nil {
		return FederatedSignIn{}, err
	}
	s.countSignIn(u.ID)
	u.LastLoginAt, u.FailedLogins, u.LockedUntil = &now, 0, nil
	res.User = u
	return res, nil
}

// DeriveUsername makes a username out of an upstream claim value (or,
// failing that, the email's local part): lowercased, every character a
// username may not hold replaced by "-", cut to 50, padded to 3.
func DeriveUsername(claim, email string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
		return strings.Trim(b.String(), "-.")
	}
	name := clean(claim)
	if name == "" {
		if at := strings.LastIndexByte(email, '@'); at > 0 {
			name = clean(email[:at])
		}
	}
	if name == "" {
		name = "user"
	}
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-.")
	}
	for len(name) < 3 {
		name += "-"
	}
	return name
}

// usernameCandidate is base for the first try and base-<i> after, cut so
// that it stays within 50 characters.
func usernameCandidate(base string, i int) string {
	if i == 1 {
		return base
	}
	suffix := "-" + strconv.Itoa(i)
	if len(base)+len(suffix) > 50 {
		base = base[:50-len(suffix)]
	}
	return base + suffix
}

// ---------------------------------------------------------------------------
// Linked identities of a person

// ListLinkedIdentities returns the user's links, oldest first.
func (s *Service) ListLinkedIdentities(ctx context.Context, userID string) ([]store.LinkedIdentity, error) {
	out, err := s.store.ListLinkedIdentities(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("domain: list linked identities: %w", err)
	}
	return out, nil
}

// UnlinkIdentity removes the user's link with id ("identity.unlink"),
// unless it is the user's last way in: no password, no passkey and no
// other link is ErrLastSignInMethod. An unknown link is not found.
func (s *Service) UnlinkIdentity(ctx context.Context, a Actor, userID, linkID string) error {
	return s.inTx(ctx, "unlink identity", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		links, err := s.store.ListLinkedIdentities(ctx, userID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(links, func(l store.LinkedIdentity) bool { return strings.EqualFold(l.ID, linkID) })
		if i < 0 {
			return notFound("linked identity not found")
		}
		passkeys, err := s.store.ListWebAuthnCredentials(ctx, userID)
		if err != nil {
			return err
		}
		if u.PasswordHash == "" && len(passkeys) == 0 && len(links) == 1 {
			return ErrLastSignInMethod
		}
		l := links[i]
		if err := s.store.DeleteLinkedIdentity(ctx, userID, l.ID); err != nil {
			return err
		}
		c := linkChanges(l, "")
		delete(c, "linked_by")
		return s.audit(ctx, a, "identity.unlink", TargetUser, userID, c)
	})
}
