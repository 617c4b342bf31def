package formdriver_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/formdriver"
)

// loginPage is shaped like the server's own pages: hidden fields first, a
// typed input, entity-escaped values, a second form, and things a browser
// does not submit.
const loginPage = `<!doctype html>
<html><head><title>
  Sign in — gatehouse
</title></head><body>
<input type="hidden" name="outside" value="not in a form">
<form method="post" action="/login?x=1">
<input type="hidden" name="csrf_token" value="tok&amp;en">
<input type="hidden" name="return_to" value="/oauth2/auth?client_id=web&amp;state=s">
<input name="username" value="alice">
<input id="password" name="password" type="password">
<input type="checkbox" name="remember" value="yes">
<button type="submit" class="primary">Sign in</button>
</form>
<form method="POST" action="https://elsewhere.example/consent">
<input type="hidden" name="csrf_token" value="second">
<button type="button" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="deny">Deny</button>
<button name="decision" value="allow">Allow</button>
<input type="submit" name="confirm" value="yes">
</form>
<form action="search"><input type="search" name="q"></form>
</body></html>`

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestParse(t *testing.T) {
	pg, err := formdriver.Parse(mustURL(t, "https://id.example/login?return_to=x"), []byte(loginPage))
	if err != nil {
		t.Fatal(err)
	}
	if pg.Title != "Sign in — gatehouse" {
		t.Errorf("Title = %q", pg.Title)
	}
	if len(pg.Forms) != 3 {
		t.Fatalf("%d forms, want 3", len(pg.Forms))
	}
	login, consent, search := pg.Forms[0], pg.Forms[1], pg.Forms[2]

	checks := []struct {
		name      string
		got, want any
	}{
		{"login action", login.Action.String(), "https://id.example/login?x=1"},
		{"login method", login.Method, http.MethodPost},
		{"login fields", login.Fields, url.Values{
			"csrf_token": {"tok&en"}, "return_to": {"/oauth2/auth?client_id=web&state=s"},
			"username": {"alice"}, "password": {""}, "remember": {"yes"},
		}},
		{"login types", login.Types, map[string]string{
			"csrf_token": "hidden", "return_to": "hidden", "username": "text", "password": "password", "remember": "checkbox",
		}},
		{"login buttons (an unnamed submit button still counts)", login.Buttons, []formdriver.Button{{"", ""}}},
		{"absolute action kept", consent.Action.String(), "https://elsewhere.example/consent"},
		{"method upper-cased", consent.Method, http.MethodPost},
		{"consent buttons (type=button is not one, input type=submit is)", consent.Buttons, []formdriver.Button{
			{"decision", "deny"}, {"decision", "allow"}, {"confirm", "yes"},
		}},
		{"buttons are not fields", consent.Fields, url.Values{"csrf_token": {"second"}}},
		{"method defaults to GET", search.Method, http.MethodGet},
		{"relative action resolved against the page", search.Action.String(), "https://id.example/search"},
		{"hidden inputs of every form, none outside one", pg.Hidden(), url.Values{
			"csrf_token": {"tok&en", "second"}, "return_to": {"/oauth2/auth?client_id=web&state=s"},
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestParseWithoutBase(t *testing.T) {
	pg, err := formdriver.Parse(nil, []byte(loginPage))
	if err != nil {
		t.Fatal(err)
	}
	if got := pg.Forms[0].Action.String(); got != "/login?x=1" {
		t.Errorf("action = %q, want it as written", got)
	}
}

func TestParseRefusesABadAction(t *testing.T) {
	_, err := formdriver.Parse(nil, []byte(`<form method="post" action="http://[::1"></form>`))
	if err == nil || !strings.Contains(err.Error(), "form action") {
		t.Fatalf("err = %v, want the bad action named", err)
	}
}

func TestFindForms(t *testing.T) {
	pg, err := formdriver.Parse(nil, []byte(loginPage))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  *formdriver.Form
		want *formdriver.Form
	}{
		{"by input", pg.Form("password"), &pg.Forms[0]},
		{"by input shared by two forms: the first", pg.Form("csrf_token"), &pg.Forms[0]},
		{"a button name is not an input", pg.Form("decision"), nil},
		{"no such input", pg.Form("email"), nil},
		{"by button", pg.FormWithButton("decision", "allow"), &pg.Forms[1]},
		{"by input type=submit", pg.FormWithButton("confirm", "yes"), &pg.Forms[1]},
		{"a type=button button does not submit", pg.FormWithButton("decision", "cancel"), nil},
		{"value must match", pg.FormWithButton("decision", "maybe"), nil},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %p, want %p", tc.name, tc.got, tc.want)
		}
	}
}

func TestValuesOverrideWithoutChangingTheForm(t *testing.T) {
	f := &formdriver.Form{Fields: url.Values{"csrf_token": {"t"}, "username": {"alice"}, "multi": {"a", "b"}}}
	got := f.Values(url.Values{"username": {"bob"}, "decision": {"allow"}})
	want := url.Values{"csrf_token": {"t"}, "username": {"bob"}, "multi": {"a", "b"}, "decision": {"allow"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %v, want %v", got, want)
	}
	got["multi"][0] = "changed"
	if f.Fields.Get("username") != "alice" || f.Fields["multi"][0] != "a" || f.Fields.Has("decision") {
		t.Errorf("the form's fields changed: %v", f.Fields)
	}
}

// TestBrowserRoundTrip drives a sign-in as the server's pages do: a cookie
// set with the form, a hidden CSRF token echoed back, redirects followed on
// the server and not to the relying party.
func TestBrowserRoundTrip(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("GET /start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "cookie-half", Path: "/"})
		fmt.Fprint(w, `<title>Sign in</title><form method="post" action="/login">
<input type="hidden" name="csrf_token" value="form-half"><input name="username"><input name="password" type="password">
<button type="submit">Sign in</button></form>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("csrf")
		switch {
		case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
			http.Error(w, "content type "+r.Header.Get("Content-Type"), http.StatusUnsupportedMediaType)
		case err != nil || c.Value != "cookie-half" || r.PostFormValue("csrf_token") != "form-half":
			http.Error(w, "csrf", http.StatusForbidden)
		case r.PostFormValue("username") != "alice" || r.PostFormValue("password") != "pw":
			http.Error(w, "credentials", http.StatusUnauthorized)
		default:
			http.Redirect(w, r, "/done", http.StatusSeeOther)
		}
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://rp.example/cb?code=c", http.StatusFound)
	})

	b := formdriver.NewBrowser(mustURL(t, srv.URL).Host, 0)
	resp, err := b.Get(srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := formdriver.Read(resp)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Status != http.StatusOK || pg.URL.Path != "/login" || pg.Title != "Sign in" || pg.Header.Get("Set-Cookie") == "" {
		t.Fatalf("page: status %d at %s, title %q, header %v", pg.Status, pg.URL, pg.Title, pg.Header)
	}
	f := pg.Form("password")
	if f == nil {
		t.Fatal("no login form")
	}
	resp, err = f.Submit(t.Context(), b, url.Values{"username": {"alice"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://rp.example/cb?code=c" {
		t.Fatalf("after sign-in: status %d Location %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	// Without the cookie the same form is refused: the jar is what carried it.
	resp, err = f.Submit(t.Context(), formdriver.NewBrowser(mustURL(t, srv.URL).Host, 0), url.Values{"username": {"alice"}, "password": {"pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another browser's submit: status %d, want 403", resp.StatusCode)
	}
}

func TestSubmitRefusesAGetForm(t *testing.T) {
	f := &formdriver.Form{Action: mustURL(t, "http://127.0.0.1:1/search"), Method: http.MethodGet, Fields: url.Values{}}
	if _, err := f.Submit(t.Context(), http.DefaultClient, nil); err == nil || !strings.Contains(err.Error(), "want POST") {
		t.Fatalf("err = %v, want a refusal of the GET form", err)
	}
}

func TestBrowserRedirects(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/end", http.StatusFound)
	})
	mux.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "end") })
	host := mustURL(t, srv.URL).Host

	for _, tc := range []struct {
		name       string
		followHost string
		path       string
		wantStatus int
		wantPath   string
		wantErr    error
	}{
		{"same host is followed", host, "/hop", http.StatusOK, "/end", nil},
		{"empty host follows nothing", "", "/hop", http.StatusFound, "/hop", nil},
		{"another host is not followed", "other.example", "/hop", http.StatusFound, "/hop", nil},
		{"a loop is an error", host, "/loop", 0, "", formdriver.ErrTooManyRedirects},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := formdriver.NewBrowser(tc.followHost, 0).Get(srv.URL + tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Request.URL.Path != tc.wantPath {
				t.Errorf("status %d at %s, want %d at %s", resp.StatusCode, resp.Request.URL.Path, tc.wantStatus, tc.wantPath)
			}
		})
	}
}

func TestReadBoundsTheBody(t *testing.T) {
	big := `<form method="post" action="/a"><input name="early" value="1"></form>` + strings.Repeat("x", 2<<20) +
		`<form method="post" action="/b"><input name="late" value="2"></form>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := formdriver.Read(resp)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Body) != 1<<20 || pg.Form("early") == nil || pg.Form("late") != nil {
		t.Errorf("read %d bytes, forms early=%v late=%v; want 1 MiB and the early form only", len(pg.Body), pg.Form("early") != nil, pg.Form("late") != nil)
	}
}
