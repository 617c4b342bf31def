package provider

import (
	"context"
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// basicChallenge wraps an endpoint that authenticates clients (token,
// introspection, revocation, PAR) so that its 401 answers carry
// `WWW-Authenticate: Basic realm="<issuer>"`. RFC 6749 §5.2 requires the
// challenge when the client tried the Authorization header, and HTTP
// (RFC 9110 §15.5.2) on every 401; on these endpoints a 401 is always a
// failed client authentication, and fosite never sets the header itself.
func (p *Provider) basicChallenge(h http.HandlerFunc) http.HandlerFunc {
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`) // an HTTP quoted-string
	challenge := `Basic realm="` + quote.Replace(p.issuer) + `"`
	return func(w http.ResponseWriter, r *http.Request) {
		h(&challengeWriter{ResponseWriter: w, challenge: challenge}, r)
	}
}

// challengeWriter adds the challenge to a 401 as its header is written.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
	written   bool
}

func (c *challengeWriter) WriteHeader(code int) {
	if !c.written {
		c.written = true
		if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
			c.Header().Set("WWW-Authenticate", c.challenge)
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challengeWriter) Write(b []byte) (int, error) {
	c.written = true
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// introspectionClientError maps fosite's answer to a failed client
// authentication at the introspection endpoint, request_unauthorized (a code
// RFC 6749 does not know), to the one RFC 7662 §2.3 asks for: RFC 6749
// §5.2's invalid_client with 401.
func introspectionClientError(err error) error {
	// The outermost error only: fosite's inactive-token answer may wrap a
	// request_unauthorized from the token's own validation.
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.ErrorField != fosite.ErrRequestUnauthorized.ErrorField {
		return err
	}
	return fosite.ErrInvalidClient.WithHint(rfc.HintField).WithWrap(err).WithDebug(rfc.DebugField)
}

// writeIntrospectionError answers a refused introspection request.
// fosite's introspection writer would turn invalid_client into
// {"active": false}, so that one goes out through the generic JSON error
// writer.
func (p *Provider) writeIntrospectionError(ctx context.Context, w http.ResponseWriter, err error) {
	if fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidClient.ErrorField {
		p.oauth.WriteAccessError(ctx, w, nil, err)
		return
	}
	p.oauth.WriteIntrospectionError(ctx, w, err)
}
