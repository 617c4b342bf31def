package server

import (
	"fmt"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/provider"
)

// registrationPolicy is the provider's dynamic client registration policy
// from the configuration; nil when registration is off.
func registrationPolicy(cfg config.ClientRegistration, svc *domain.Service) (*provider.RegistrationPolicy, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	digests, err := cfg.InitialAccessTokenDigests()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return &provider.RegistrationPolicy{
		Registrar:           svc,
		OpenPublic:          cfg.OpenPublic,
		InitialAccessTokens: digests,
		AllowedScopes:       append([]string(nil), cfg.AllowedScopes...),
		MaxOpenClients:      cfg.MaxOpenClients,
	}, nil
}
