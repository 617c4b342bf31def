package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

type logoutView struct {
	layout
	Error    string
	Username string
}

type signedOutView struct{ layout }

func (p *Pages) handleLogoutForm(w http.ResponseWriter, r *http.Request) {
	p.renderLogoutForm(w, r, http.StatusOK, "")
}

func (p *Pages) renderLogoutForm(w http.ResponseWriter, r *http.Request, status int, msg string) {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "logout: current session", err)
		return
	}
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "logout: csrf", err)
		return
	}
	v := logoutView{layout: layout{Title: "Sign out of gatehouse?", CSRFToken: token}, Error: msg}
	if sess != nil {
		v.Username = sess.User.Username
	}
	p.render(w, status, "logout", v)
}

func (p *Pages) handleLogout(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.renderLogoutForm(w, r, http.StatusForbidden, msgCSRF)
		return
	}
	if err := p.EndSession(w, r); err != nil {
		p.internalError(w, r, "logout: end session", err)
		return
	}
	p.renderSignedOut(w)
}

func (p *Pages) renderSignedOut(w http.ResponseWriter) {
	p.render(w, http.StatusOK, "signedout", signedOutView{layout{Title: "You are signed out"}})
}

// The parameters of OpenID Connect RP-Initiated Logout 1.0 that we act on.
const (
	paramIDTokenHint           = "id_token_hint"
	paramPostLogoutRedirectURI = "post_logout_redirect_uri"
	paramState                 = "state"
	paramClientID              = "client_id"
)

// endSessionRequest is a checked RP-initiated logout request.
type endSessionRequest struct {
	params url.Values // the parameters above, as received
	// subject is the verified id_token_hint's sub, "" without a hint.
	subject string
	client  *store.Client
	// redirect is post_logout_redirect_uri with state, "" if none was asked.
	redirect string
}

// badLogout is a logout request we refuse; its text is safe to show.
type badLogout string

func (e badLogout) Error() string { return string(e) }

type endSessionView struct {
	layout
	Error      string
	Username   string
	ClientName string
	Hidden     []hiddenField
}

// handleEndSession is the end_session_endpoint (OpenID Connect RP-Initiated
// Logout 1.0).
func (p *Pages) handleEndSession(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Sign-out failed", "The sign-out request could not be read.")
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") != ""
	if r.Method == http.MethodPost && !confirmed {
		// A relying party may POST here from its own site, and then our
		// SameSite=Lax cookies are not sent: we would not see who is signed
		// in. A 303 turns it into a top-level GET, which carries them.
		q := url.Values{}
		for _, k := range []string{paramIDTokenHint, paramPostLogoutRedirectURI, paramState, paramClientID} {
			if v := r.Form.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.path("/oauth2/logout")+"?"+q.Encode(), http.StatusSeeOther)
		return
	}

	req, err := p.checkEndSession(r.Context(), r.Form)
	var bad badLogout
	if errors.As(err, &bad) {
		p.RenderError(w, r, http.StatusBadRequest, "Sign-out failed", string(bad))
		return
	}
	if err != nil {
		p.internalError(w, r, "end session: check request", err)
		return
	}
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "end session: current session", err)
		return
	}

	switch {
	case confirmed:
		if err := p.VerifyCSRF(r); err != nil {
			p.renderEndSessionConfirm(w, r, http.StatusForbidden, msgCSRF, sess, req)
			return
		}
	case sess != nil && (req.subject == "" || req.subject != sess.User.ID):
		// Without proof that the relying party speaks for the signed-in
		// user, a link could sign anyone out: ask them.
		p.renderEndSessionConfirm(w, r, http.StatusOK, "", sess, req)
		return
	}

	if err := p.EndSession(w, r); err != nil {
		p.internalError(w, r, "end session", err)
		return
	}
	if req.redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, req.redirect, http.StatusSeeOther)
		return
	}
	p.renderSignedOut(w)
}

func (p *Pages) renderEndSessionConfirm(w http.ResponseWriter, r *http.Request, status int, msg string, sess *Session, req endSessionRequest) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "end session: csrf", err)
		return
	}
	hidden := map[string]string{}
	for k := range req.params {
		hidden[k] = req.params.Get(k)
	}
	v := endSessionView{
		layout: layout{Title: "Sign out of gatehouse?", CSRFToken: token},
		Error:  msg,
		Hidden: hiddenFields(hidden, csrfFormField, "confirm"),
	}
	if sess != nil {
		v.Username = sess.User.Username
	}
	if req.client != nil {
		v.ClientName = req.client.Name
		if v.ClientName == "" {
			v.ClientName = req.client.ID
		}
	}
	p.render(w, status, "endsession", v)
}

// checkEndSession validates the logout parameters: the hint must be ours,
// the client must be known and agree with the hint, and the redirect must
// be registered for that client exactly. Refusals are badLogout.
func (p *Pages) checkEndSession(ctx context.Context, form url.Values) (endSessionRequest, error) {
	req := endSessionRequest{params: url.Values{}}
	for _, k := range []string{paramIDTokenHint, paramPostLogoutRedirectURI, paramState, paramClientID} {
		if v := form.Get(k); v != "" {
			req.params.Set(k, v)
		}
	}
	clientID := req.params.Get(paramClientID)
	if hint := req.params.Get(paramIDTokenHint); hint != "" {
		c, err := p.verifyHint(ctx, hint)
		var invalid invalidHint
		if errors.As(err, &invalid) {
			p.log.Info("consent: rejected id_token_hint", "reason", invalid.Error())
			return req, badLogout("The sign-out request carries an ID token that is not valid here.")
		}
		if err != nil {
			return req, err
		}
		req.subject = c.Subject
		switch {
		case clientID != "":
			if !c.Audience.Contains(clientID) {
				return req, badLogout("The client of the sign-out request does not match its ID token.")
			}
		case c.AuthorizedParty != "":
			clientID = c.AuthorizedParty
		case len(c.Audience) == 1:
			clientID = c.Audience[0]
		}
	}
	if clientID != "" {
		c, err := p.svc.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return req, badLogout("The sign-out request names an unknown application.")
		}
		if err != nil {
			return req, fmt.Errorf("consent: get client: %w", err)
		}
		req.client = &c
	}
	if uri := req.params.Get(paramPostLogoutRedirectURI); uri != "" {
		if req.client == nil || !contains(req.client.PostLogoutRedirectURIs, uri) {
			return req, badLogout("The address to return to after sign-out is not registered for this application.")
		}
		req.redirect = withState(uri, req.params.Get(paramState))
	}
	return req, nil
}

// hintClaims are the claims of an id_token_hint we look at. Expiry is not
// among them: the hint only identifies the user and client, and an RP
// typically logs out long after its ID token expired.
type hintClaims struct {
	Issuer          string       `json:"iss"`
	Subject         string       `json:"sub"`
	Audience        jwt.Audience `json:"aud"`
	AuthorizedParty string       `json:"azp"`
}

// invalidHint is an id_token_hint we refuse (as opposed to a failure to
// check it, such as the store being down).
type invalidHint struct{ reason string }

func (e invalidHint) Error() string { return e.reason }

// verifyHint checks that raw is an ID token we signed for our issuer. It
// returns invalidHint for a token we refuse.
func (p *Pages) verifyHint(ctx context.Context, raw string) (hintClaims, error) {
	var c hintClaims
	if p.opts.Issuer == "" {
		return c, invalidHint{"no issuer configured"}
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return c, invalidHint{"parse: " + err.Error()}
	}
	if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return c, invalidHint{"need exactly one signature with a kid"}
	}
	h := tok.Headers[0]
	key, err := p.keys.PublicKey(ctx, h.KeyID)
	if errors.Is(err, keys.ErrUnknownKey) || (err == nil && key == nil) {
		return c, invalidHint{fmt.Sprintf("unknown key %q", h.KeyID)}
	}
	if err != nil {
		return c, fmt.Errorf("consent: id_token_hint key: %w", err)
	}
	// A key is used only with the algorithm it was made for.
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return c, invalidHint{fmt.Sprintf("key %q is %s, token says %s", h.KeyID, key.Algorithm, h.Algorithm)}
	}
	if err := tok.Claims(key.Public().Key, &c); err != nil {
		return c, invalidHint{"signature: " + err.Error()}
	}
	if c.Issuer != p.opts.Issuer {
		return c, invalidHint{fmt.Sprintf("issuer %q is not ours", c.Issuer)}
	}
	if c.Subject == "" || len(c.Audience) == 0 {
		return c, invalidHint{"no sub or aud"}
	}
	return c, nil
}

// withState appends state to a registered redirect URI without re-encoding
// what was registered.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	base, frag, hasFrag := strings.Cut(uri, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	out := base + sep + "state=" + url.QueryEscape(state)
	if hasFrag {
		out += "#" + frag
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
