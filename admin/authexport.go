package admin

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
)

// Other surfaces that take the resource API's bearer tokens (scim/) use
// these two, so that a token is accepted or refused there exactly as here:
// one authentication, answered in each surface's own format.

// Authenticate turns the request's bearer (or DPoP) token into a principal
// as every /api/v1 route does: an API token, or an access token carrying
// the scope gatehouse:api, for this API's audience, whose user or service
// account may still act. A refusal is an error AuthFailure describes.
func (a *API) Authenticate(r *http.Request) (domain.Principal, error) {
	return a.authenticate(r)
}

// AuthFailure describes how the resource API answers err, an error of
// Authenticate: its status (401 or 403), the WWW-Authenticate challenge
// to send with it ("" for none) and a detail safe to show. ok is false for
// an error that is no refusal (the token could not be checked): the
// caller answers it as an internal error.
func (a *API) AuthFailure(err error) (status int, challenge, detail string, ok bool) {
	var e *apiError
	if !errors.As(err, &e) {
		return 0, "", "", false
	}
	challenge = e.wwwAuthenticate
	if challenge != "" && a.resourceMetadata != "" {
		challenge += `, resource_metadata="` + a.resourceMetadata + `"`
	}
	return e.problem.Status, challenge, e.problem.Detail, true
}
