package provider

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// The device authorization grant (RFC 8628) is our own: fosite v0.49 has
// none (its device flow exists only on its master branch). A device asks
// the device authorization endpoint for a device code and a user code, the
// person enters the user code on the /device page (devicepage.go) and
// answers, and the device polls the token endpoint, where deviceGrant, a
// token endpoint handler composed with fosite's, answers the poll or
// issues the tokens.

const (
	grantTypeDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

	// DefaultDeviceCodeLifetime and DefaultDeviceCodeInterval are the
	// server defaults (config device_code.*).
	DefaultDeviceCodeLifetime = 10 * time.Minute
	DefaultDeviceCodeInterval = 5 * time.Second

	// prefixDeviceCode marks device codes as gatehouse credentials for
	// secret scanners, as the token prefixes do (strategy.go).
	prefixDeviceCode = "gh_dc_"
	// deviceCodeBytes of randomness: the device code is a bearer secret
	// for the tokens, as strong as an authorization code.
	deviceCodeBytes = 32

	// userCodeAlphabet is RFC 8628 §6.1's: consonants only, so no code
	// spells a word, and no letters that read as digits (0/O, 1/I).
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	// userCodeLength characters of 20: 20^8 ≈ 2.6e10 codes. Guessing is
	// held to the sign-in rate limit on POST /device, and a code lives
	// minutes, so a guesser's odds stay negligible.
	userCodeLength = 8

	// maxLiveDeviceCodes bounds the unexpired device codes of one client,
	// so that a public client (anyone with its id) cannot fill the table.
	maxLiveDeviceCodes = 1000
	// deviceCodeAttempts: new codes to draw when one collides.
	deviceCodeAttempts = 3
	// pollLeewayDivisor: a poll up to a fifth of the configured interval
	// early is not "too fast". A client that waits the interval between
	// sending its requests still sees their latency vary, and slow_down
	// for that would punish the well-behaved.
	pollLeewayDivisor = 5
)

// Errors of RFC 8628 §3.5 that fosite v0.49 does not define.
func errAuthorizationPending() error {
	return &fosite.RFC6749Error{ErrorField: "authorization_pending", CodeField: http.StatusBadRequest,
		DescriptionField: "The authorization request is still pending as the end user hasn't yet completed the user-interaction steps."}
}

func errSlowDown() error {
	return &fosite.RFC6749Error{ErrorField: "slow_down", CodeField: http.StatusBadRequest,
		DescriptionField: "The authorization request is still pending and polling should continue, but the interval must be increased by 5 seconds for this and all subsequent requests."}
}

// errDeviceAccessDenied is fosite's access_denied with the status of a
// token endpoint error (RFC 6749 §5.2: 400), not of the authorization
// endpoint's 403.
func errDeviceAccessDenied() error {
	return &fosite.RFC6749Error{ErrorField: fosite.ErrAccessDenied.ErrorField, CodeField: http.StatusBadRequest,
		DescriptionField: "The end user denied the authorization request."}
}

func errExpiredToken() error {
	return &fosite.RFC6749Error{ErrorField: "expired_token", CodeField: http.StatusBadRequest,
		DescriptionField: "The device code has expired; start a new device authorization."}
}

// deviceDigest is the stored form of a device or user code: an HMAC under
// a key derived from the global secret, so that a copy of the table alone
// does not let anyone test guesses of user codes offline.
func (p *Provider) deviceDigest(kind, code string) string {
	m := hmac.New(sha256.New, p.deviceKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *Provider) deviceCodeSignature(code string) string {
	return p.deviceDigest("device_code", code)
}
func (p *Provider) userCodeDigest(code string) string { return p.deviceDigest("user_code", code) }

// newDeviceCode draws a device code.
func newDeviceCode() (string, error) {
	b := make([]byte, deviceCodeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("provider: device code: %w", err)
	}
	return prefixDeviceCode + base64.RawURLEncoding.EncodeToString(b), nil
}

// newUserCode draws a user code, uniformly over the alphabet, in its
// normalized form (no separator).
func newUserCode() (string, error) {
	out := make([]byte, userCodeLength)
	n := big.NewInt(int64(len(userCodeAlphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", fmt.Errorf("provider: user code: %w", err)
		}
		out[i] = userCodeAlphabet[k.Int64()]
	}
	return string(out), nil
}

// formatUserCode shows a normalized user code as people read it: XXXX-XXXX.
func formatUserCode(code string) string {
	if len(code) != userCodeLength {
		return code
	}
	return code[:userCodeLength/2] + "-" + code[userCodeLength/2:]
}

// normalizeUserCode reads what a person typed: case does not matter, and
// spaces and dashes are dropped. ok is false for what no user code can be.
func normalizeUserCode(typed string) (string, bool) {
	if len(typed) > 4*userCodeLength {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r < 0x80 && strings.IndexByte(userCodeAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// deviceAuthorizationResponse is RFC 8628 §3.2's answer.
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1). The client authenticates as at the token endpoint (a public
// client names itself with client_id) and must be allowed the device code
// grant; its scopes are checked as the authorization endpoint checks them.
func (p *Provider) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.writeDeviceError(ctx, w, fosite.ErrInvalidRequest.WithHint("The request body could not be read.").WithWrap(err).WithDebug(err.Error()))
		return
	}
	if !presentsClient(r) {
		p.writeDeviceError(ctx, w, errNoClientAuth)
		return
	}
	fc, err := p.oauth.(*fosite.Fosite).AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		p.writeDeviceError(ctx, w, err)
		return
	}
	c, ok := fc.(*client)
	if !ok {
		p.writeDeviceError(ctx, w, fosite.ErrServerError.WithDebugf("unexpected client type %T", fc))
		return
	}
	if !c.GetGrantTypes().Has(grantTypeDeviceCode) {
		p.writeDeviceError(ctx, w, fosite.ErrUnauthorizedClient.WithHint("The OAuth 2.0 Client is not allowed to use the device authorization grant."))
		return
	}
	scopes := fosite.RemoveEmpty(strings.Split(r.PostForm.Get("scope"), " "))
	for _, s := range scopes {
		if !p.scopes(c.GetScopes(), s) {
			p.writeDeviceError(ctx, w, fosite.ErrInvalidScope.WithHintf("The OAuth 2.0 Client is not allowed to request scope '%s'.", s))
			return
		}
	}

	now := p.now().UTC()
	var deviceCode, userCode string
	for attempt := 0; ; attempt++ {
		if deviceCode, err = newDeviceCode(); err == nil {
			userCode, err = newUserCode()
		}
		if err == nil {
			err = p.store.CreateDeviceCode(ctx, store.DeviceCode{
				Signature:   p.deviceCodeSignature(deviceCode),
				UserCode:    p.userCodeDigest(userCode),
				ClientID:    c.ID,
				Scopes:      scopes,
				Status:      store.DevicePending,
				Interval:    p.opts.DeviceCodeInterval,
				RequestedAt: now,
				ExpiresAt:   now.Add(p.opts.DeviceCodeLifetime),
			}, now, maxLiveDeviceCodes)
		}
		if !errors.Is(err, store.ErrConflict) || attempt+1 == deviceCodeAttempts {
			break
		}
	}
	switch {
	case errors.Is(err, store.ErrDeviceCodesFull):
		p.writeDeviceError(ctx, w, fosite.ErrTemporarilyUnavailable.WithHint("The client has too many device authorizations waiting; try again later.").WithDebug(err.Error()))
		return
	case err != nil:
		p.writeDeviceError(ctx, w, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	verify := p.issuer + "/device"
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, deviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                formatUserCode(userCode),
		VerificationURI:         verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {formatUserCode(userCode)}}.Encode(),
		ExpiresIn:               int64(p.opts.DeviceCodeLifetime / time.Second),
		Interval:                int64(p.opts.DeviceCodeInterval / time.Second),
	})
}

func (p *Provider) writeDeviceError(ctx context.Context, w http.ResponseWriter, err error) {
	err = asUnavailable(err)
	p.logOAuthError(ctx, "device_authorization", err)
	p.oauth.WriteAccessError(ctx, w, nil, err)
}

// deviceGrant is the token endpoint's handler of the device code grant
// (RFC 8628 §3.4). It runs in the token endpoint's transaction: the poll
// is recorded (and the row locked) before anything is decided, and the
// redemption, the tokens and the poll commit together or not at all.
type deviceGrant struct {
	p        *Provider
	storage  *fositeStore
	tokens   oauth2.CoreStrategy
	idTokens *openid.IDTokenHandleHelper
	cfg      *fosite.Config
}

var _ fosite.TokenEndpointHandler = (*deviceGrant)(nil)

func (g *deviceGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(grantTypeDeviceCode)
}

// CanSkipClientAuth is false: the device authenticates as it did at the
// device authorization endpoint (a public client by its client_id).
func (g *deviceGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *deviceGrant) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	c := r.GetClient()
	if !c.GetGrantTypes().Has(grantTypeDeviceCode) {
		return fosite.ErrUnauthorizedClient.WithHint("The OAuth 2.0 Client is not allowed to use the device authorization grant.")
	}
	code := r.GetRequestForm().Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter is missing.")
	}
	if !strings.HasPrefix(code, prefixDeviceCode) {
		return fosite.ErrInvalidGrant.WithHint("The device code is unknown.")
	}
	now := g.p.now().UTC()
	sig := g.p.deviceCodeSignature(code)
	d, slow, err := g.p.store.PollDeviceCode(ctx, sig, now, g.p.opts.DeviceCodeInterval/pollLeewayDivisor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fosite.ErrInvalidGrant.WithHint("The device code is unknown.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	case d.ClientID != c.GetID():
		// RFC 6749 §5.2: a grant issued to another client.
		return fosite.ErrInvalidGrant.WithHint("The device code was issued to another client.")
	case d.RedeemedAt != nil:
		return fosite.ErrInvalidGrant.WithHint("The device code has been used.")
	case !now.Before(d.ExpiresAt):
		return errExpiredToken()
	case d.Status == store.DeviceDenied:
		return errDeviceAccessDenied()
	case d.Status == store.DevicePending && slow:
		return errSlowDown()
	case d.Status == store.DevicePending:
		return errAuthorizationPending()
	case d.Status != store.DeviceApproved:
		return fosite.ErrServerError.WithDebugf("device code in state %q", d.Status)
	}

	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebugf("unexpected session type %T", r.GetSession())
	}
	if err := json.Unmarshal(d.Session, sess); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebugf("provider: device code session: %v", err)
	}
	u, err := g.p.svc.ActiveUser(ctx, sess.UserID)
	if errors.Is(err, domain.ErrUnauthenticated) {
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is gone or no longer active.").WithDebug(err.Error())
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(fmt.Sprintf("provider: get grant user: %v", err))
	}
	if err := g.p.admitsUser(ctx, r.GetClient(), u); err != nil {
		return err
	}
	// The tokens go to the device, not to the browser that approved: the
	// user's address rules apply to the device's address, as they do to a
	// refresh. A refused device leaves the code approved and unredeemed.
	ip, _ := clientaddr.FromContext(ctx)
	switch err := g.p.svc.AdmitAddress(ctx, u, ip, "device_code"); {
	case errors.Is(err, domain.ErrAddressRefused):
		return fosite.ErrInvalidGrant.WithHint("The user's address rules refuse this device's address.").WithDebug(err.Error())
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	// The one-use rule, in the database: of two concurrent redemptions the
	// second waits for the first's row lock and then finds it redeemed.
	if err := g.p.store.RedeemDeviceCode(ctx, sig, now); errors.Is(err, store.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The device code has been used.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}

	r.SetRequestedScopes(fosite.Arguments(d.Scopes))
	for _, s := range d.Scopes {
		r.GrantScope(s)
	}
	sess.ClientID = c.GetID()
	gt := fosite.GrantType(grantTypeDeviceCode)
	atLifespan := fosite.GetEffectiveLifespan(c, gt, fosite.AccessToken, g.cfg.GetAccessTokenLifespan(ctx))
	sess.SetExpiresAt(fosite.AccessToken, now.Add(atLifespan).Round(time.Second))
	// Break-glass (breakglass.go): no later than the emergency session.
	if err := capAccessToken(sess, now); err != nil {
		return err
	}
	if g.issuesRefreshToken(ctx, r) {
		rtLifespan := fosite.GetEffectiveLifespan(c, gt, fosite.RefreshToken, g.cfg.GetRefreshTokenLifespan(ctx))
		sess.SetExpiresAt(fosite.RefreshToken, now.Add(rtLifespan).Round(time.Second))
	}
	return nil
}

// issuesRefreshToken: offline access granted, to a client that may
// refresh (as fosite's authorization code handler decides).
func (g *deviceGrant) issuesRefreshToken(ctx context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantedScopes().HasOneOf(g.cfg.GetRefreshTokenScopes(ctx)...) &&
		r.GetClient().GetGrantTypes().Has("refresh_token")
}

func (g *deviceGrant) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	access, accessSig, err := g.tokens.GenerateAccessToken(ctx, r)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if err := g.storage.CreateAccessTokenSession(ctx, accessSig, r.Sanitize(nil)); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(r.GetSession().GetExpiresAt(fosite.AccessToken).Sub(g.p.now()).Round(time.Second))
	resp.SetScopes(r.GetGrantedScopes())
	if g.issuesRefreshToken(ctx, r) {
		refresh, refreshSig, err := g.tokens.GenerateRefreshToken(ctx, r)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		if err := g.storage.CreateRefreshTokenSession(ctx, refreshSig, accessSig, r.Sanitize(nil)); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		resp.SetExtra("refresh_token", refresh)
	}
	if r.GetGrantedScopes().Has("openid") {
		sess, ok := r.GetSession().(*Session)
		if !ok {
			return fosite.ErrServerError.WithDebugf("unexpected session type %T", r.GetSession())
		}
		sess.IDTokenClaims().AccessTokenHash = g.idTokens.GetAccessTokenHash(ctx, r, resp)
		lifespan := fosite.GetEffectiveLifespan(r.GetClient(), fosite.GrantType(grantTypeDeviceCode), fosite.IDToken, g.cfg.GetIDTokenLifespan(ctx))
		if err := g.idTokens.IssueExplicitIDToken(ctx, lifespan, r, resp); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	return nil
}

// deviceKey derives the key of the code digests from the global secret.
func deviceKey(global []byte) []byte {
	m := hmac.New(sha256.New, global)
	m.Write([]byte("gatehouse device authorization codes"))
	return m.Sum(nil)
}
