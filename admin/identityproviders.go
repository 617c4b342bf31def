package admin

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Upstream identity providers (idp). The client secret is write-only: a
// view says whether one is set, never what it is.

// ClaimsView names the upstream claims a new user's fields come from.
type ClaimsView struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"name"`
}

// IdentityProviderView is a provider as the API shows it.
type IdentityProviderView struct {
	ID                  string     `json:"id"`
	DisplayName         string     `json:"display_name"`
	Issuer              string     `json:"issuer"`
	ClientID            string     `json:"client_id"`
	ClientSecretSet     bool       `json:"client_secret_set"`
	Scopes              []string   `json:"scopes"`
	Claims              ClaimsView `json:"claims"`
	LinkByVerifiedEmail bool       `json:"link_by_verified_email"`
	NewUserStatus       string     `json:"new_user_status"`
	NewUserRoles        []string   `json:"new_user_roles"`
	Enabled             bool       `json:"enabled"`
	// CallbackURL is the redirect URI to register at the upstream.
	CallbackURL string    `json:"callback_url"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (a *API) identityProviderView(p store.IdentityProvider) IdentityProviderView {
	return IdentityProviderView{
		ID: p.ID, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID,
		ClientSecretSet: len(p.ClientSecretEnc) > 0, Scopes: nonNil(p.Scopes),
		Claims:              ClaimsView{Username: p.UsernameClaim, Email: p.EmailClaim, Name: p.NameClaim},
		LinkByVerifiedEmail: p.LinkByVerifiedEmail, NewUserStatus: string(p.NewUserStatus),
		NewUserRoles: nonNil(p.NewUserRoles), Enabled: p.Enabled,
		CallbackURL: a.issuer + "/login/upstream/" + p.ID + "/callback",
		CreatedAt:   p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func nonNil(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}

// identityProviderInput is the body of POST /identity-providers.
type identityProviderInput struct {
	ID                  string     `json:"id"`
	DisplayName         string     `json:"display_name"`
	Issuer              string     `json:"issuer"`
	ClientID            string     `json:"client_id"`
	ClientSecret        string     `json:"client_secret"`
	Scopes              []string   `json:"scopes"`
	Claims              ClaimsView `json:"claims"`
	LinkByVerifiedEmail bool       `json:"link_by_verified_email"`
	NewUserStatus       string     `json:"new_user_status"`
	NewUserRoles        []string   `json:"new_user_roles"`
	Enabled             *bool      `json:"enabled"`
}

func (a *API) listIdentityProviders(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	list, err := a.svc.ListIdentityProviders(r.Context())
	if err != nil {
		return err
	}
	views := make([]IdentityProviderView, len(list))
	for i, p := range list {
		views[i] = a.identityProviderView(p)
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v IdentityProviderView) string { return v.ID }))
	return nil
}

func (a *API) createIdentityProvider(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in identityProviderInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	ip, err := a.svc.CreateIdentityProvider(r.Context(), p.Actor, domain.IdentityProviderInput{
		ID: in.ID, DisplayName: in.DisplayName, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret,
		Scopes: in.Scopes, UsernameClaim: in.Claims.Username, EmailClaim: in.Claims.Email, NameClaim: in.Claims.Name,
		LinkByVerifiedEmail: in.LinkByVerifiedEmail, NewUserStatus: store.UserStatus(in.NewUserStatus),
		NewUserRoles: in.NewUserRoles, Enabled: in.Enabled,
	})
	if err != nil {
		return err
	}
	writeCreated(w, r, ip.ID, a.identityProviderView(ip))
	return nil
}

func (a *API) getIdentityProvider(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	ip, err := a.svc.GetIdentityProvider(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.identityProviderView(ip))
	return nil
}

func (a *API) patchIdentityProvider(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	cur, err := a.svc.GetIdentityProvider(ctx, id)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	ip := domain.IdentityProviderPatch{
		DisplayName:         f.str("display_name", false),
		Issuer:              f.str("issuer", false),
		ClientID:            f.str("client_id", false),
		ClientSecret:        f.str("client_secret", true),
		Scopes:              f.strings("scopes"),
		LinkByVerifiedEmail: f.boolean("link_by_verified_email"),
		NewUserRoles:        f.strings("new_user_roles"),
		Enabled:             f.boolean("enabled"),
	}
	if s := f.str("new_user_status", false); s != nil {
		st := store.UserStatus(*s)
		ip.NewUserStatus = &st
	}
	curClaims := mustJSON(ClaimsView{Username: cur.UsernameClaim, Email: cur.EmailClaim, Name: cur.NameClaim})
	if merged := f.object("claims", curClaims); merged != nil {
		var cv ClaimsView
		if err := decodeStrict(*merged, &cv, "claims"); err != nil {
			f.fail(err)
		} else {
			ip.UsernameClaim, ip.EmailClaim, ip.NameClaim = &cv.Username, &cv.Email, &cv.Name
		}
	}
	f.readOnly("is read-only", "id", "client_secret_set", "callback_url", "created_at", "updated_at")
	if err := f.done(); err != nil {
		return err
	}
	out, err := a.svc.UpdateIdentityProvider(ctx, p.Actor, id, ip)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.identityProviderView(out))
	return nil
}

func (a *API) deleteIdentityProvider(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.DeleteIdentityProvider(r.Context(), p.Actor, mux.Vars(r)["id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}
