package consent

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Self-registration: anyone may create an account when the configuration
// allows it. The account is pending, so all it can do is request access.

const msgTaken = "That username or email address is already registered."

type registerView struct {
	layout
	Username string
	Email    string
	FullName string
	ReturnTo string
	// Errors maps a field (username, email, full_name, password) to what is
	// wrong with it.
	Errors map[string]string
	Error  string
}

func (p *Pages) handleRegisterForm(w http.ResponseWriter, r *http.Request) {
	if !p.opts.RegistrationEnabled {
		p.NotFound(w, r)
		return
	}
	p.renderRegister(w, r, http.StatusOK, registerView{ReturnTo: p.safeReturnTo(r.URL.Query().Get("return_to"))})
}

func (p *Pages) handleRegister(w http.ResponseWriter, r *http.Request) {
	if !p.opts.RegistrationEnabled {
		p.NotFound(w, r)
		return
	}
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	f := r.PostForm
	v := registerView{
		// Usernames are lowercase; accepting "Alice" as "alice" spares the
		// person a pointless error.
		Username: strings.ToLower(strings.TrimSpace(f.Get("username"))),
		Email:    strings.TrimSpace(f.Get("email")),
		FullName: strings.TrimSpace(f.Get("full_name")),
		ReturnTo: p.safeReturnTo(f.Get("return_to")),
	}
	if err := p.VerifyCSRF(r); err != nil {
		v.Error = msgCSRF
		p.renderRegister(w, r, http.StatusForbidden, v)
		return
	}
	if f.Get("password") == "" {
		// The domain allows users without a password (upstream sign-in);
		// one who signs up here could then never sign in.
		v.Errors = map[string]string{"password": "Password is required."}
		p.renderRegister(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	u, err := p.svc.CreateUser(r.Context(), domain.Actor{Type: store.ActorAnonymous, IP: clientaddr.IP(r)}, domain.NewUser{
		Username: v.Username,
		Email:    v.Email,
		Password: f.Get("password"),
		FullName: v.FullName,
		Status:   store.StatusPending,
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			v.Error = msgTaken
			p.renderRegister(w, r, http.StatusConflict, v)
			return
		}
		fields, ok := fieldErrors(err)
		if !ok {
			p.internalError(w, r, "register: create user", err)
			return
		}
		v.Errors = map[string]string{}
		for field, msg := range fields {
			switch field {
			case "username", "email", "full_name", "password":
				v.Errors[field] = msg
			default:
				if v.Error == "" {
					v.Error = msg
				}
			}
		}
		p.renderRegister(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if err := p.startSession(w, r, u); err != nil {
		p.internalError(w, r, "register: start session", err)
		return
	}
	p.log.Info("consent: registered", "user_id", u.ID, "ip", clientaddr.IP(r))
	p.RedirectToAccessRequest(w, r, v.ReturnTo)
}

func (p *Pages) renderRegister(w http.ResponseWriter, r *http.Request, status int, v registerView) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "register: csrf", err)
		return
	}
	v.layout = layout{Title: "Create an account", CSRFToken: token}
	p.render(w, status, "register", v)
}
