package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
)

// sendPasswordReset mails the user a password-reset link (202: the mail is
// queued, not yet delivered). 409 when SMTP is off or the user has no
// address or cannot sign in; 503 when the outbox is full.
func (a *API) sendPasswordReset(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.SendPasswordReset(r.Context(), *p, mux.Vars(r)["id"]); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// resendMyVerification mails the caller a new email-verification link.
func (a *API) resendMyVerification(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	err := a.svc.SendEmailVerification(r.Context(), *p, p.User.ID)
	var rl *domain.RateLimitedError
	if errors.As(err, &rl) {
		secs := rl.RetryAfterSeconds()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return problemf(http.StatusTooManyRequests, "a verification email was sent less than a minute ago; retry in %d seconds", secs)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}
