package consent

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// A passkey as the second step of a password sign-in: the script of
// /login/mfa runs the ceremony against these two endpoints, which are
// bound to the pending second step (the gatehouse_mfa cookie) as the code
// form is. The answer is checked by the domain (VerifyPasskeyChallenge),
// which counts a refused assertion as a wrong code.

// Messages of the passkey second step.
const msgMFAPasskey = "That passkey was not accepted. Try again, or use another way to verify."

func (p *Pages) handleMFAPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	c, err := p.passkeys.BeginPasskeyChallenge(r.Context(), p.requestChallengeID(r))
	switch {
	case errors.Is(err, domain.ErrMFAChallengeEnded):
		p.clearMFACookie(w)
		passkeyError(w, http.StatusUnauthorized, msgMFAEnded)
		return
	case errors.Is(err, store.ErrNotFound):
		passkeyError(w, http.StatusNotFound, "You have no passkey. Use another way to verify.")
		return
	case err != nil:
		p.passkeyInternal(w, "begin second step", err)
		return
	}
	p.setCeremony(w, c)
	passkeyJSON(w, http.StatusOK, c.Options)
}

func (p *Pages) handleMFAPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	secret := p.takeCeremonyCookie(w, r)
	id := p.requestChallengeID(r)
	if id == "" {
		passkeyError(w, http.StatusUnauthorized, msgMFAEnded)
		return
	}
	b, ok := readFinish(r)
	if !ok {
		passkeyError(w, http.StatusBadRequest, "The passkey could not be read. Please try again.")
		return
	}
	ip := clientaddr.IP(r)
	res, err := p.passkeys.VerifyPasskeyChallenge(r.Context(), id, secret, bytes.NewReader(b.Credential), ip)
	switch {
	case errors.Is(err, domain.ErrMFACode):
		p.log.Info("consent: second step refused", "method", "passkey", "ip", ip)
		passkeyError(w, http.StatusUnauthorized, msgMFAPasskey)
		return
	case errors.Is(err, domain.ErrMFAChallengeEnded):
		p.clearMFACookie(w)
		passkeyError(w, http.StatusUnauthorized, msgMFAEnded)
		return
	case err != nil:
		p.passkeyInternal(w, "finish second step", err)
		return
	}
	p.clearMFACookie(w)
	p.passkeySignedIn(w, r, res.User, res.AMR, p.safeReturnTo(res.ReturnTo), "consent: signed in", "second_step", "passkey")
}
