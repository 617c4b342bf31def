package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

// unavailable reports whether err says the store could not be reached or
// did not answer in time. Whatever fosite wrapped such a failure in, it
// must be answered as temporarily_unavailable (503; the server adds
// Retry-After): fosite reports a failed client lookup as invalid_client, a
// failed token lookup as an inactive token and a failed revocation as a
// success, each of which would tell the client something false about its
// credentials.
func unavailable(err error) bool { return errors.Is(err, store.ErrUnavailable) }

// temporarilyUnavailable is the answer to a request that failed because of
// err, an outage.
func temporarilyUnavailable(err error) error {
	return fosite.ErrTemporarilyUnavailable.
		WithHint("The service cannot complete the request right now; try again shortly.").
		WithWrap(err).WithDebug(debugOf(err))
}

// debugOf is what the log should say of err: a fosite error's own text is
// only its code (server_error), the detail is in its debug or its cause.
func debugOf(err error) string {
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		return err.Error()
	}
	switch {
	case rfc.DebugField != "":
		return rfc.DebugField
	case rfc.Cause() != nil:
		return rfc.Cause().Error()
	}
	return err.Error()
}

// asUnavailable is err, or temporarilyUnavailable(err) if it is an outage.
func asUnavailable(err error) error {
	if err != nil && unavailable(err) {
		return temporarilyUnavailable(err)
	}
	return err
}

// writeUnavailable answers an outage at a JSON endpoint whose own fosite
// writer would misreport it (introspection, revocation, userinfo).
func (p *Provider) writeUnavailable(ctx context.Context, w http.ResponseWriter, endpoint string, err error) {
	err = temporarilyUnavailable(err)
	p.logOAuthError(ctx, endpoint, err)
	p.oauth.WriteAccessError(ctx, w, nil, err)
}
