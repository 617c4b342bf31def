package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Hydra delegates sign-in and consent to an app of the deployer's: it
// redirects the browser to the app with a challenge, the app reads the
// request and accepts it through Hydra's admin API, and sends the browser
// back where Hydra says. The compare command runs this one as a child
// process of its own (the login-consent-app command), so that its CPU
// time is measured apart from the load generator's. It checks no
// password (the only code flow compared is the one on a login session,
// which checks none either), and remembers both the login and the
// consent, so that every flow after a worker's first one is answered from
// the session: Hydra's skip, the equivalent of gatehouse's SSO.

// loginApp answers Hydra's login and consent redirects.
type loginApp struct {
	admin string
	hc    *http.Client
}

// maxLoginForm bounds the login POST's body.
const maxLoginForm = 4 << 10

var loginPageTmpl = template.Must(template.New("login").Parse(`<!doctype html><html><body><h1>Sign in</h1>
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.}}">
<input name="username" type="text" required>
<input name="password" type="password" required>
<button type="submit">Sign in</button>
</form></body></html>`))

func cmdLoginConsentApp(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("login-consent-app", stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	admin := fs.String("admin", "", "Hydra's admin API URL, e.g. http://127.0.0.1:4445")
	if err := fs.parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback address", *addr)
	}
	if u, err := url.Parse(*admin); err != nil || u.Scheme != "http" || !net.ParseIP(u.Hostname()).IsLoopback() {
		return fmt.Errorf("-admin %q: want an http URL on a loopback address", *admin)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	app := &loginApp{admin: *admin, hc: &http.Client{Transport: newTransport(64), Timeout: 30 * time.Second}}
	srv := &http.Server{Handler: app.routes(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

func (a *loginApp) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.loginSubmit)
	mux.HandleFunc("GET /consent", a.consent)
	return mux
}

// loginRequest is what the app reads of Hydra's login and consent
// requests.
type loginRequest struct {
	Skip              bool     `json:"skip"`
	Subject           string   `json:"subject"`
	RequestedScope    []string `json:"requested_scope"`
	RequestedAudience []string `json:"requested_access_token_audience"`
}

type redirectTo struct {
	RedirectTo string `json:"redirect_to"`
}

// loginPage accepts at once a login Hydra says it can skip (a login
// session), and otherwise shows a form.
func (a *loginApp) loginPage(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("login_challenge")
	if ch == "" {
		http.Error(w, "no login_challenge", http.StatusBadRequest)
		return
	}
	var req loginRequest
	if err := a.get(r.Context(), "login", ch, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if req.Skip {
		a.accept(w, r, "login", ch, map[string]any{"subject": req.Subject})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPageTmpl.Execute(w, ch)
}

// loginSubmit accepts the login for the username given, remembered for an
// hour: Hydra sets its login session cookie.
func (a *loginApp) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ch, user := r.PostForm.Get("login_challenge"), r.PostForm.Get("username")
	if ch == "" || user == "" {
		http.Error(w, "login_challenge and username are required", http.StatusBadRequest)
		return
	}
	a.accept(w, r, "login", ch, map[string]any{"subject": user, "remember": true, "remember_for": 3600})
}

// consent grants what was asked, remembered for an hour unless Hydra
// already skips it, with the profile and email claims gatehouse puts in
// its ID tokens.
func (a *loginApp) consent(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("consent_challenge")
	if ch == "" {
		http.Error(w, "no consent_challenge", http.StatusBadRequest)
		return
	}
	var req loginRequest
	if err := a.get(r.Context(), "consent", ch, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body := map[string]any{
		"grant_scope":                 req.RequestedScope,
		"grant_access_token_audience": req.RequestedAudience,
		"session": map[string]any{"id_token": map[string]any{
			"name": req.Subject, "email": req.Subject + "@example.com", "email_verified": true,
		}},
	}
	if !req.Skip {
		body["remember"], body["remember_for"] = true, 3600
	}
	a.accept(w, r, "consent", ch, body)
}

func (a *loginApp) get(ctx context.Context, kind, challenge string, out any) error {
	u := a.admin + "/admin/oauth2/auth/requests/" + kind + "?" + url.Values{kind + "_challenge": {challenge}}.Encode()
	return adminJSON(ctx, a.hc, http.MethodGet, u, nil, out, http.StatusOK)
}

func (a *loginApp) accept(w http.ResponseWriter, r *http.Request, kind, challenge string, body any) {
	u := a.admin + "/admin/oauth2/auth/requests/" + kind + "/accept?" + url.Values{kind + "_challenge": {challenge}}.Encode()
	var out redirectTo
	if err := adminJSON(r.Context(), a.hc, http.MethodPut, u, body, &out, http.StatusOK); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if out.RedirectTo == "" {
		http.Error(w, errors.New("accept: no redirect_to").Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, out.RedirectTo, http.StatusFound)
}
