package consent

import (
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/cookies"
)

// The pages' cookies (session, CSRF, pending second step, passkey
// ceremony), set through internal/cookies like every cookie
// of gatehouse (HttpOnly; Secure and __Host- for an https issuer; Path=/).
//
// The session cookie is SameSite=Lax: a relying party on another site
// sends the browser to /oauth2/auth with a top-level GET, which must carry
// the session for single sign-on.
//
// The CSRF cookie is SameSite=Strict: it is only needed by the POSTs of our
// own forms, which are same-site. A sign-in that starts at a relying party
// on another site arrives at the login page without it (a Strict cookie is
// not sent on a cross-site navigation) and the page mints a new one, which
// the browser stores (it is the answer of a top-level navigation) and
// sends with the form's POST. The cost: a form of ours left open in another
// tab is then refused once and shown again with a fresh token.
func (p *Pages) jar() cookies.Jar { return cookies.New(p.opts.CookieSecure) }

func (p *Pages) sessionCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_session", SameSite: http.SameSiteLaxMode, MaxAge: p.opts.SessionLifetime}
}

// csrfCookie has no MaxAge: forms left open across a browser restart
// simply ask again.
func csrfCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_csrf", SameSite: http.SameSiteStrictMode}
}

// mfaCookie carries a pending second step between the password and the
// code; SameSite=Lax like the session it leads to (the step may begin with
// a relying party's cross-site redirect). It lives as long as the step.
func mfaCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_mfa", SameSite: http.SameSiteLaxMode, MaxAge: domain.MFAChallengeLifetime}
}

// ceremonyCookie carries a passkey ceremony's secret from its begin to its
// finish, both fetches of our own script: SameSite=Strict. The caller sets
// MaxAge to the ceremony's lifetime.
func ceremonyCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_webauthn", SameSite: http.SameSiteStrictMode}
}
