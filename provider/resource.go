package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
)

// Resource indicators (RFC 8707) and protected resource metadata (RFC 9728)
// for gatehouse's own resource API, what an MCP-style client discovers
// before it registers and signs in.

const (
	// resourceAPIPath is the resource API under the issuer; the issuer and
	// it form the API's resource identifier.
	resourceAPIPath = "/api/v1"
	// protectedResourcePath is RFC 9728's well-known suffix.
	protectedResourcePath = "/.well-known/oauth-protected-resource"
	// apiScope is the scope the resource API requires (admin.APIScope).
	apiScope = "gatehouse:api"
)

// ResourceAPI is the resource API's identifier (RFC 8707),
// "<issuer>/api/v1": an audience every client may ask for.
func (p *Provider) ResourceAPI() string { return p.issuer + resourceAPIPath }

// ResourceMetadataURL is where the resource API's protected resource
// metadata is served, for the resource_metadata of its challenges.
func (p *Provider) ResourceMetadataURL() string { return p.issuer + protectedResourcePath }

// errInvalidTarget is RFC 8707 §2's (and RFC 8693 §2.2.2's) error for a
// resource or audience the server will not issue a token for; fosite has no value for it.
func errInvalidTarget(hint string) *fosite.RFC6749Error {
	return &fosite.RFC6749Error{
		ErrorField:       "invalid_target",
		DescriptionField: "The requested resource is invalid, unknown, or malformed.",
		HintField:        hint,
		CodeField:        http.StatusBadRequest,
	}
}

// isResourceURI reports whether r may name a resource (RFC 8707 §2): an
// absolute URI with a host and without a fragment.
func isResourceURI(r string) bool {
	u, err := url.Parse(r)
	return err == nil && u.IsAbs() && u.Host != "" && !strings.Contains(r, "#")
}

// requestedResources returns the request's resource parameters, checked:
// each an absolute URI without a fragment (RFC 8707 §2) and one the client
// may ask for (its audiences and the resource API). Any other is
// invalid_target.
func requestedResources(form url.Values, c fosite.Client) ([]string, error) {
	raw := form["resource"]
	if len(raw) == 0 {
		return nil, nil
	}
	allowed := c.GetAudience()
	var out []string
	for _, r := range raw {
		if !isResourceURI(r) {
			return nil, errInvalidTarget("The resource must be an absolute URI without a fragment.")
		}
		if !slices.Contains(allowed, r) {
			return nil, errInvalidTarget("The client may not request a token for this resource.")
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// applyResources makes the requested resources part of the request's
// requested audience, which issue() grants: the access token's aud.
func applyResources(ar fosite.Requester) error {
	resources, err := requestedResources(ar.GetRequestForm(), ar.GetClient())
	if err != nil {
		return err
	}
	aud := ar.GetRequestedAudience()
	for _, r := range resources {
		if !aud.Has(r) {
			aud = append(aud, r)
		}
	}
	ar.SetRequestedAudience(aud)
	return nil
}

// checkTokenResources applies resource at the token endpoint. For
// client_credentials the resources become the token's audience. A code or
// refresh token carries its grant's audience: each resource named must be
// one of it (or the grant has none and it is the resource API, today's
// default), and the token keeps the grant's whole audience, so that the
// refresh token stays good for every resource the person consented to.
func (p *Provider) checkTokenResources(ar fosite.AccessRequester) error {
	resources, err := requestedResources(ar.GetRequestForm(), ar.GetClient())
	if err != nil || len(resources) == 0 {
		return err
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, r := range resources {
			ar.GrantAudience(r)
		}
		return nil
	}
	granted := ar.GetGrantedAudience()
	for _, r := range resources {
		if !granted.Has(r) && (len(granted) > 0 || r != p.ResourceAPI()) {
			return errInvalidTarget("The grant does not cover this resource; ask for it at the authorization endpoint.")
		}
	}
	return nil
}

// protectedResourceDoc is the resource API's RFC 9728 metadata.
type protectedResourceDoc struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name"`
	ResourceDocumentation  string   `json:"resource_documentation"`
}

func (p *Provider) handleProtectedResource(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, protectedResourceDoc{
		Resource:               p.ResourceAPI(),
		AuthorizationServers:   []string{p.issuer},
		ScopesSupported:        []string{apiScope},
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "gatehouse resource API",
		ResourceDocumentation:  p.issuer + resourceAPIPath + "/openapi.json",
	})
}

// mountProtectedResource serves the metadata under the issuer (where the
// API's challenges point) and, on the host's root router, at the address
// RFC 9728 §3.1 derives from the resource identifier: the well-known
// suffix inserted before its path.
func (p *Provider) mountProtectedResource(base, root *mux.Router) {
	methods := []string{http.MethodGet}
	h := p.cors(http.HandlerFunc(p.handleProtectedResource), methods)
	if base != nil {
		base.Handle(protectedResourcePath, h).Methods(http.MethodGet, http.MethodOptions)
	}
	if root != nil {
		root.Handle(protectedResourcePath+p.prefix+resourceAPIPath, h).Methods(http.MethodGet, http.MethodOptions)
	}
}

// tokenAudience is an access token's aud: its grant's audience, or the
// issuer when that is empty, as tokenStrategy writes it into a JWT.
func (p *Provider) tokenAudience(ar fosite.Requester) []string {
	if aud := ar.GetGrantedAudience(); len(aud) > 0 {
		return slices.Clone([]string(aud))
	}
	return []string{p.issuer}
}
