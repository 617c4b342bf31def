package domain

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Dynamic client registration (RFC 7591/7592): the records a client makes
// of itself at the registration endpoint. Which registrations are admitted
// (open for public clients, an initial access token for confidential ones,
// the scopes allowed) is the endpoint's policy (provider/registration.go);
// here are what holds for every registered client.

const (
	// RegisteredClientIDPrefix starts the id of every registered client,
	// so that an operator tells them from the ones they made.
	RegisteredClientIDPrefix = "dcr_"
	// RegistrationTokenPrefix starts a registration access token (RFC
	// 7592), for secret scanners.
	RegistrationTokenPrefix = "ghreg_"
	registeredIDBytes       = 16
	registrationTokenBytes  = 32
)

// Registration is the result of a registration: the client as stored, and
// the credentials shown this once (the secret only for a confidential
// client).
type Registration struct {
	Client            store.Client
	Secret            string
	RegistrationToken string
}

// registrationActor is who a registration's audit entries name: the
// client itself, from its address.
func registrationActor(clientID, ip string) Actor {
	return Actor{Type: store.ActorClient, ID: clientID, IP: ip}
}

// validateClientRegistered keeps a registered client third-party: the
// person is always asked before it gets a token, whatever an
// administrator patches.
func validateClientRegistered(c store.Client) *ValidationError {
	if c.Registered && c.FirstParty {
		return invalid("first_party", "a dynamically registered client is always third-party")
	}
	return nil
}

func randomToken(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("domain: random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// RegisterClient stores c as a registered client with a generated id, a
// secret when its authentication method uses one, and a registration
// access token ("client.register", by the new client from ip). c's
// metadata is taken as the endpoint checked it: defaults are filled and
// ValidateClient applies; it is never first-party and has no roles.
func (s *Service) RegisterClient(ctx context.Context, ip string, c store.Client) (Registration, error) {
	id, err := randomToken(RegisteredClientIDPrefix, registeredIDBytes)
	if err != nil {
		return Registration{}, err
	}
	token, err := randomToken(RegistrationTokenPrefix, registrationTokenBytes)
	if err != nil {
		return Registration{}, err
	}
	c.ID = id
	c.FirstParty, c.Roles = false, nil
	c.Registered = true
	c.RegistrationTokenHash = HashClientSecret(token)
	c.LastUsedAt = nil
	c = WithClientDefaults(c)
	if err := ValidateClient(c); err != nil {
		return Registration{}, err
	}
	out := Registration{RegistrationToken: token}
	c.SecretHash = nil
	if ClientUsesSecret(c) {
		sec, digest, err := NewClientSecret()
		if err != nil {
			return Registration{}, err
		}
		out.Secret, c.SecretHash = sec, digest
	}
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	err = s.inTx(ctx, "register client", func(ctx context.Context) error {
		if err := s.store.CreateClient(ctx, c); err != nil {
			return err
		}
		if err := s.audit(ctx, registrationActor(c.ID, ip), "client.register", TargetClient, c.ID, onCreate(clientFields(c))); err != nil {
			return err
		}
		out.Client, err = s.store.GetClient(ctx, c.ID)
		return err
	})
	if err != nil {
		return Registration{}, err
	}
	s.changed(store.ChangeClient, c.ID)
	return out, nil
}

// RegisteredClient returns the registered client id if token is its
// registration access token (compared in constant time); ErrUnauthenticated
// for any other token, an unknown id or a client not registered
// dynamically, alike, so that the answer says nothing of which.
func (s *Service) RegisteredClient(ctx context.Context, id, token string) (store.Client, error) {
	c, err := s.store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the comparison anyway: the time says nothing either.
		ClientSecretMatches(make([]byte, 32), token)
		return store.Client{}, ErrUnauthenticated
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("domain: get client: %w", err)
	}
	if !ClientSecretMatches(c.RegistrationTokenHash, token) || !c.Registered {
		return store.Client{}, ErrUnauthenticated
	}
	return c, nil
}

// UpdateRegisteredClient replaces the metadata of registered client id
// with next's (RFC 7592 §2.2: the request holds every field, and what it
// leaves out goes back to its default); its id, credentials, creation and
// last use stay ("client.update", by the client from ip).
func (s *Service) UpdateRegisteredClient(ctx context.Context, ip, id, token string, next store.Client) (store.Client, error) {
	if _, err := s.RegisteredClient(ctx, id, token); err != nil {
		return store.Client{}, err
	}
	out, err := update(ctx, s, registrationActor(id, ip), s.clientRecord(), id, "client.update", func(_ context.Context, cur store.Client) (store.Client, error) {
		if !cur.Registered {
			return store.Client{}, ErrUnauthenticated
		}
		n := next
		n.ID, n.SecretHash, n.RegistrationTokenHash = cur.ID, cur.SecretHash, cur.RegistrationTokenHash
		n.Registered, n.FirstParty, n.Roles = true, false, nil
		n.CreatedAt, n.UpdatedAt, n.LastUsedAt = cur.CreatedAt, cur.UpdatedAt, cur.LastUsedAt
		n = WithClientDefaults(n)
		// The authentication method decides whether the client holds a
		// secret, which is made once: it cannot change kind here.
		if ClientUsesSecret(n) != ClientUsesSecret(cur) || n.Public != cur.Public {
			return store.Client{}, invalid("token_endpoint_auth_method", "cannot change between %q and %q; register a new client", cur.TokenEndpointAuthMethod, n.TokenEndpointAuthMethod)
		}
		if err := ValidateClient(n); err != nil {
			return store.Client{}, err
		}
		return n, nil
	}, nil)
	if err != nil {
		return store.Client{}, err
	}
	s.changed(store.ChangeClient, id)
	return out, nil
}

// DeleteRegisteredClient removes registered client id with its grants and
// tokens ("client.delete", by the client from ip).
func (s *Service) DeleteRegisteredClient(ctx context.Context, ip, id, token string) error {
	if _, err := s.RegisteredClient(ctx, id, token); err != nil {
		return err
	}
	return s.DeleteClient(ctx, registrationActor(id, ip), id)
}

// TouchRegisteredClient records that registered client id got a token
// now, at most once an hour (store.TouchClient).
func (s *Service) TouchRegisteredClient(ctx context.Context, id string) error {
	now := s.now()
	if err := s.store.TouchClient(ctx, id, now, now.Add(-time.Hour)); err != nil {
		return fmt.Errorf("domain: touch client: %w", err)
	}
	return nil
}
