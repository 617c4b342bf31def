package consent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// The password-recovery and email-verification pages. The rules (who gets
// a ticket, what a ticket is good for, the password policy) are the
// domain's; these pages only ask and say what happened.

const (
	forgotPath      = "/password/forgot"
	resetPath       = "/password/reset"
	verifyEmailPath = "/email/verify"
	resendPath      = "/email/verify/resend"
)

// Recovery is what the recovery and verification pages need of the
// identity model (domain.Service).
type Recovery interface {
	MailEnabled() bool
	RequestPasswordReset(ctx context.Context, ip, name string) error
	CheckResetTicket(ctx context.Context, token string) (store.User, error)
	ResetPassword(ctx context.Context, ip, token, password string) (store.User, error)
	VerifyEmail(ctx context.Context, ip, token string) (store.User, error)
	MustVerifyEmail(u store.User) bool
	SendEmailVerification(ctx context.Context, p domain.Principal, userID string) error
	Passwords() domain.Passwords
}

// recoveryPages are the templates of this file, parsed by New (a function:
// the package holds no mutable state).
func recoveryPages() []string { return []string{"forgot", "reset", "notice"} }

// mountRecovery registers the pages of this file on r (the issuer's path).
func (p *Pages) mountRecovery(r *mux.Router) {
	r.HandleFunc(forgotPath, p.handleForgotForm).Methods(http.MethodGet)
	r.HandleFunc(forgotPath, p.handleForgot).Methods(http.MethodPost)
	r.HandleFunc(resetPath, p.handleResetForm).Methods(http.MethodGet)
	r.HandleFunc(resetPath, p.handleReset).Methods(http.MethodPost)
	r.HandleFunc(verifyEmailPath, p.handleVerifyEmail).Methods(http.MethodGet)
	r.HandleFunc(resendPath, p.handleResend).Methods(http.MethodPost)
}

type forgotView struct {
	layout
	Error string
	// Sent: the request was taken; the page says what happens next, the
	// same whether or not an account matched.
	Sent bool
	// Disabled: mail is off, so there is no recovery by email.
	Disabled bool
}

type resetView struct {
	layout
	Ticket string
	Errors map[string]string
	Error  string
	// MinLength is the password policy's, for the field's hint.
	MinLength int
}

type noticeView struct {
	layout
	Message string
	// Link and LinkText lead on; Link is a path of ours.
	Link, LinkText string
	Alert          bool
}

func (p *Pages) handleForgotForm(w http.ResponseWriter, r *http.Request) {
	p.renderForgot(w, r, http.StatusOK, forgotView{Disabled: !p.svc.MailEnabled()})
}

// handleForgot answers the same page whether or not an account matched:
// the domain does the same work both ways and the mail is sent later by
// the outbox, so neither the page nor its timing tells.
func (p *Pages) handleForgot(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.renderForgot(w, r, http.StatusForbidden, forgotView{Error: msgCSRF, Disabled: !p.svc.MailEnabled()})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if len(name) > maxUsernameInput {
		name = name[:maxUsernameInput]
	}
	err := p.svc.RequestPasswordReset(r.Context(), clientaddr.IP(r), name)
	switch {
	case err == nil:
	case errors.Is(err, domain.ErrMailDisabled):
		p.renderForgot(w, r, http.StatusOK, forgotView{Disabled: true})
		return
	case errors.Is(err, store.ErrOutboxFull):
		// The domain refuses a full outbox for an account and for nobody
		// alike; the page must not differ from the one of a queued link
		// either: the person is told what everyone is told, the operator
		// is told why no mail will come.
		p.log.Warn("consent: password reset not queued: the mail outbox is full", "ip", clientaddr.IP(r))
	default:
		p.internalError(w, r, "forgot password", err)
		return
	}
	p.renderForgot(w, r, http.StatusOK, forgotView{Sent: true})
}

func (p *Pages) renderForgot(w http.ResponseWriter, r *http.Request, status int, v forgotView) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "forgot password: csrf", err)
		return
	}
	v.layout = layout{Title: "Forgot your password?", CSRFToken: token}
	p.render(w, status, "forgot", v)
}

// renderTicketInvalid is the one page of a used, expired or forged link.
func (p *Pages) renderTicketInvalid(w http.ResponseWriter, forgot bool) {
	v := noticeView{
		layout:  layout{Title: "This link cannot be used"},
		Message: "The link is invalid, has already been used, or has expired. Links in our emails work once, for a limited time.",
		Alert:   true,
	}
	if forgot {
		v.Link, v.LinkText = p.path(forgotPath), "Ask for a new link"
	} else {
		v.Link, v.LinkText = p.path("/login"), "Sign in"
	}
	p.render(w, http.StatusGone, "notice", v)
}

func (p *Pages) handleResetForm(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	if _, err := p.svc.CheckResetTicket(r.Context(), ticket); err != nil {
		if errors.Is(err, domain.ErrInvalidTicket) {
			p.renderTicketInvalid(w, true)
			return
		}
		p.internalError(w, r, "reset password: check ticket", err)
		return
	}
	p.renderReset(w, r, http.StatusOK, resetView{Ticket: ticket})
}

func (p *Pages) handleReset(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	f := r.PostForm
	v := resetView{Ticket: f.Get("ticket")}
	if err := p.VerifyCSRF(r); err != nil {
		v.Error = msgCSRF
		p.renderReset(w, r, http.StatusForbidden, v)
		return
	}
	password := f.Get("password")
	switch {
	case password == "":
		v.Errors = map[string]string{"password": "Password is required."}
	case password != f.Get("password_confirm"):
		v.Errors = map[string]string{"password_confirm": "The two passwords differ."}
	}
	if v.Errors != nil {
		p.renderReset(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	_, err := p.svc.ResetPassword(r.Context(), clientaddr.IP(r), v.Ticket, password)
	if errors.Is(err, domain.ErrInvalidTicket) {
		p.renderTicketInvalid(w, true)
		return
	}
	if fields, ok := fieldErrors(err); ok {
		v.Errors = map[string]string{}
		for field, msg := range fields {
			if field == "password" {
				v.Errors[field] = msg
			} else if v.Error == "" {
				v.Error = msg
			}
		}
		p.renderReset(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err != nil {
		p.internalError(w, r, "reset password", err)
		return
	}
	// Every session of the user ended, this browser's included: drop its
	// cookie too, so the next page does not look for it.
	p.clearSessionCookie(w)
	p.render(w, http.StatusOK, "notice", noticeView{
		layout:  layout{Title: "Your password was changed"},
		Message: "Your password was changed and you were signed out everywhere. Sign in with the new password.",
		Link:    p.path("/login"), LinkText: "Sign in",
	})
}

func (p *Pages) renderReset(w http.ResponseWriter, r *http.Request, status int, v resetView) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "reset password: csrf", err)
		return
	}
	v.layout = layout{Title: "Choose a new password", CSRFToken: token}
	v.MinLength = p.svc.Passwords().MinLength
	p.render(w, status, "reset", v)
}

// handleVerifyEmail follows a verification link. It is a GET, as a link
// in an email is; what it changes (the address is verified) is what the
// link's holder asks for, and it can happen once.
func (p *Pages) handleVerifyEmail(w http.ResponseWriter, r *http.Request) {
	u, err := p.svc.VerifyEmail(r.Context(), clientaddr.IP(r), r.URL.Query().Get("ticket"))
	if errors.Is(err, domain.ErrInvalidTicket) {
		p.renderTicketInvalid(w, false)
		return
	}
	if err != nil {
		p.internalError(w, r, "verify email", err)
		return
	}
	p.render(w, http.StatusOK, "notice", noticeView{
		layout:  layout{Title: "Email address verified"},
		Message: "Thank you: " + u.Email + " is verified.",
		Link:    p.path("/"), LinkText: "Continue",
	})
}

// handleResend sends the signed-in user a new verification link (the
// button of the access-request page).
func (p *Pages) handleResend(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	returnTo := p.safeReturnTo(r.PostForm.Get("return_to"))
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "resend verification: current session", err)
		return
	}
	if sess == nil {
		p.RedirectToLogin(w, r, p.path(accessRequestPath)+"?"+url.Values{"return_to": {returnTo}}.Encode())
		return
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.RenderError(w, r, http.StatusForbidden, "Session expired", "Your session expired, please go back and try again.")
		return
	}
	// The user acting on itself: a pending user has no permissions, and
	// needs none to ask for its own link.
	u := sess.User
	pr := domain.Principal{Actor: domain.Actor{Type: store.ActorUser, ID: u.ID, IP: clientaddr.IP(r)}, User: &u}
	v := noticeView{layout: layout{Title: "Check your email"},
		Message: "We sent a new link to " + sess.User.Email + ". Open it, then come back to request access.",
		Link:    p.path(accessRequestPath) + "?" + url.Values{"return_to": {returnTo}}.Encode(), LinkText: "Back"}
	status := http.StatusOK
	err = p.svc.SendEmailVerification(r.Context(), pr, sess.User.ID)
	var rl *domain.RateLimitedError
	switch {
	case err == nil:
	case errors.As(err, &rl):
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(rl.RetryAfterSeconds()))
		v.layout.Title, v.Alert = "Please wait", true
		v.Message = "A link was sent less than a minute ago. Please wait a moment before asking for another."
	case domain.ErrorCode(err) == domain.CodeConflict:
		v.layout.Title = "Nothing to verify"
		v.Message = "Your email address is verified already, or there is none to verify."
	default:
		p.internalError(w, r, "resend verification", err)
		return
	}
	p.render(w, status, "notice", v)
}
