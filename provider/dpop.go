package provider

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// DPoP (RFC 9449): an access token issued to a request that carries a DPoP
// proof is bound to the proof's key (its thumbprint in the session, cnf.jkt
// in JWT access tokens and introspection), so that only the holder of the
// key can use it: userinfo and the resource API then want the token as
// "Authorization: DPoP" with a fresh proof of that key, and refuse it as a
// bearer token. fosite knows nothing of DPoP; these hooks run around its
// token request and response.

// DPoPOptions configure the DPoP checks.
type DPoPOptions struct {
	// ProofWindow is how far a proof's iat may be from now (default 60s).
	ProofWindow time.Duration
	// RequireNonce makes the token endpoint demand a server nonce
	// (use_dpop_nonce, RFC 9449 §8).
	RequireNonce bool
	// NonceLifetime is how long a nonce is accepted (default 5m).
	NonceLifetime time.Duration
}

const dpopTokenType = "DPoP"

// newDPoPVerifier keys the nonces from the global secret, which every
// instance shares: any instance accepts another's nonce.
func newDPoPVerifier(s store.Store, opts Options) (*dpop.Verifier, error) {
	v, err := dpop.New(s, dpop.Options{
		Window:        opts.DPoP.ProofWindow,
		NonceKey:      keys.Derive(opts.GlobalSecret, "dpop-nonce", 32),
		NonceLifetime: opts.DPoP.NonceLifetime,
		Now:           opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	return v, nil
}

// offerDPoPNonce hands out the current nonce on every token response when
// nonces are required, so a client has one for its next proof.
func (p *Provider) offerDPoPNonce(w http.ResponseWriter) {
	if p.opts.DPoP.RequireNonce {
		w.Header().Set(dpop.NonceHeader, p.dpop.Nonce())
	}
}

// tokenProof checks the token request's DPoP proof, if it carries one, for
// everything but its one-time use (bindDPoP records that, once the request
// is otherwise accepted). nil: no proof. The proof's htu is the token
// endpoint as the issuer names it, never as the Host header does.
func (p *Provider) tokenProof(r *http.Request) (*dpop.Proof, error) {
	headers := r.Header.Values(dpop.Header)
	if len(headers) == 0 {
		return nil, nil
	}
	proof, err := p.dpop.Parse(headers, dpop.Request{
		Method: r.Method, URL: p.issuer + "/oauth2/token", RequireNonce: p.opts.DPoP.RequireNonce,
	})
	if err != nil {
		return nil, dpopTokenError(err)
	}
	return &proof, nil
}

// bindDPoP binds the grant's new tokens to proof's key (call after fosite
// has loaded the grant's session and authenticated the client, before it
// mints anything):
//   - a client registered with dpop_bound_access_tokens must send a proof;
//   - a public client's refresh token bound to a key is redeemed only with
//     a proof of that key (a confidential client's refresh token is bound
//     to the client by its authentication; it may change or drop its key),
//     and so is a code whose authorization request named the key's
//     thumbprint (dpop_jkt, RFC 9449 §10);
//   - the proof is recorded as used, so it cannot serve a second request:
//     here, or, for client_credentials, whose one write is its access
//     token, by that write (the returned context carries the record for
//     fositeStore, which adds it to the token's statement: one round trip
//     and no transaction, as without a proof).
func (p *Provider) bindDPoP(ctx context.Context, ar fosite.AccessRequester, proof *dpop.Proof) (context.Context, error) {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return ctx, fosite.ErrServerError.WithDebugf("unexpected session type %T", ar.GetSession())
	}
	c, _ := ar.GetClient().(*client)
	gt := ar.GetGrantTypes()
	bound := sess.DPoPJKT != "" && (gt.ExactOne("authorization_code") || (gt.ExactOne("refresh_token") && ar.GetClient().IsPublic()))
	if proof == nil {
		switch {
		case c != nil && c.DPoPBoundAccessTokens:
			return ctx, invalidDPoPProof("This client must send a DPoP proof with every token request.")
		case bound:
			return ctx, invalidDPoPProof("The grant is bound to a DPoP key: send a proof signed with it.")
		}
		sess.DPoPJKT = ""
		return ctx, nil
	}
	// Compared in constant time although a thumbprint is no secret: it
	// costs nothing.
	if bound && subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(sess.DPoPJKT)) != 1 {
		return ctx, invalidDPoPProof("The grant is bound to another DPoP key.")
	}
	sess.DPoPJKT = proof.JKT
	if gt.ExactOne("client_credentials") {
		use := p.dpop.Record(*proof)
		return context.WithValue(ctx, dpopUseKey{}, &use), nil
	}
	if err := p.dpop.Use(ctx, *proof); err != nil {
		return ctx, dpopTokenError(err)
	}
	return ctx, nil
}

// dpopUseKey carries, from bindDPoP to fositeStore, a proof's use to record
// with the access token.
type dpopUseKey struct{}

// dpopUseFrom is the proof's use bindDPoP left for the access token's
// write; nil if none.
func dpopUseFrom(ctx context.Context) *store.DPoPProofUse {
	u, _ := ctx.Value(dpopUseKey{}).(*store.DPoPProofUse)
	return u
}

// invalidDPoPProof is RFC 9449 §5's error, in fosite's form.
func invalidDPoPProof(hint string) *fosite.RFC6749Error {
	return (&fosite.RFC6749Error{
		ErrorField:       dpop.CodeInvalidProof,
		DescriptionField: "The DPoP proof is missing or invalid.",
		CodeField:        http.StatusBadRequest,
	}).WithHint(hint)
}

// dpopTokenError maps a verifier's failure to the token endpoint's answer.
func dpopTokenError(err error) error {
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		return (&fosite.RFC6749Error{
			ErrorField:       dpop.CodeUseNonce,
			DescriptionField: "Authorization server requires nonce in DPoP proof.",
			CodeField:        http.StatusBadRequest,
		}).WithDebug(err.Error())
	case errors.Is(err, dpop.ErrInvalidProof):
		// The verifier's reasons name a claim or header, never a value.
		return invalidDPoPProof(strings.TrimPrefix(err.Error(), dpop.ErrInvalidProof.Error()+": ")).WithDebug(err.Error())
	default:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
}

// Token presentation at the resource endpoints.

// ErrInvalidDPoPProof is returned (wrapped) by CheckResourceProof for a
// proof that does not prove possession of the token's key for this request.
var ErrInvalidDPoPProof = dpop.ErrInvalidProof

// presentedToken reads the access token of "Authorization: Bearer <t>" or
// "Authorization: DPoP <t>" (schemes case-insensitive, RFC 7235); dpop
// says which scheme it came in.
func presentedToken(r *http.Request) (token string, isDPoP bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok {
		return "", false
	}
	token = strings.TrimSpace(token)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return token, false
	case strings.EqualFold(scheme, dpopTokenType):
		return token, true
	}
	return "", false
}

// CheckResourceProof verifies the DPoP proof of a request r to a resource
// this server serves (userinfo, the resource API) that presents token, and
// records it as used: htm and htu of this request (the issuer's origin and
// the request's path), ath of the token. It returns the proof key's
// thumbprint, which the caller compares with the token's binding. A bad
// proof yields an error wrapping ErrInvalidDPoPProof; any other error is
// the store's.
func (p *Provider) CheckResourceProof(r *http.Request, token string) (string, error) {
	proof, err := p.dpop.Verify(r.Context(), r.Header.Values(dpop.Header), dpop.Request{
		Method: r.Method, URL: p.resourceURL(r), AccessToken: token,
	})
	if err != nil {
		return "", err
	}
	return proof.JKT, nil
}

// resourceURL is r's URL as the issuer names this server: its scheme and
// host, with r's path (which includes the issuer's own path).
func (p *Provider) resourceURL(r *http.Request) string {
	iss, _ := url.Parse(p.issuer) // New checked it parses
	return (&url.URL{Scheme: iss.Scheme, Host: iss.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}).String()
}

// DPoPChallenge is the WWW-Authenticate challenge of RFC 9449 §7.1 for
// error (invalid_token, invalid_dpop_proof; "" for none), with the
// accepted algorithms.
func DPoPChallenge(code, description string) string {
	c := dpopTokenType + " "
	if code != "" {
		c += `error="` + code + `", `
		if description != "" {
			c += `error_description="` + description + `", `
		}
	}
	return c + `algs="` + dpop.AlgorithmsParam() + `"`
}

// checkPresentation decides whether a token, presented as isDPoP says,
// may be used by request r, given the key it is bound to (jkt, "" for a
// bearer token): a bound token only with a valid proof of its key, an
// unbound one only as a bearer token. A refusal is the challenge to send
// (status 401); err is set when the check itself failed.
func (p *Provider) checkPresentation(r *http.Request, token string, isDPoP bool, jkt string) (challenge string, err error) {
	switch {
	case !isDPoP && jkt == "":
		return "", nil
	case !isDPoP:
		return DPoPChallenge("invalid_token", "The access token is bound to a DPoP key: present it with the DPoP scheme and a proof"), nil
	case jkt == "":
		return DPoPChallenge("invalid_token", "The access token is not bound to a DPoP key"), nil
	}
	got, err := p.CheckResourceProof(r, token)
	if errors.Is(err, dpop.ErrInvalidProof) {
		return DPoPChallenge(dpop.CodeInvalidProof, "The DPoP proof is invalid"), nil
	}
	if err != nil {
		return "", err
	}
	if got != jkt {
		return DPoPChallenge(dpop.CodeInvalidProof, "The DPoP proof is not signed with the key the token is bound to"), nil
	}
	return "", nil
}
