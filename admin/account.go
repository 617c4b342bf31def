package admin

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
)

// The account routes: what every signed-in person may do to their own
// reach, and "sign out everywhere" for administrators. Withdrawing a
// consent or ending one's own sessions only takes something away, so they
// need profile:read, which viewers hold, as ending one session does.

func (a *API) listMyConsents(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	apps, err := a.svc.AllowedApps(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	views := make([]AllowedAppView, len(apps))
	for i, app := range apps {
		views[i] = NewAllowedAppView(app)
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v AllowedAppView) string { return v.ClientID }))
	return nil
}

func (a *API) revokeMyConsent(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.RevokeAllowedApp(r.Context(), *p, p.User.ID, mux.Vars(r)["client_id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) signOutMe(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	return a.signOut(w, r, p, p.User.ID)
}

func (a *API) signOutUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	return a.signOut(w, r, p, mux.Vars(r)["id"])
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request, p *domain.Principal, userID string) error {
	out, err := a.svc.SignOutEverywhere(r.Context(), *p, userID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SignedOutView{SessionsEnded: out.Sessions, GrantsRevoked: out.Grants})
	return nil
}
