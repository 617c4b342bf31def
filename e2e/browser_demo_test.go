package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
)

// pageLayout is what flow.mjs measures of a page (its layout function).
type pageLayout struct {
	InnerWidth  int      `json:"innerWidth"`
	ScrollWidth int      `json:"scrollWidth"`
	Viewport    *string  `json:"viewport"` // the viewport meta's content; nil without one
	Heading     string   `json:"heading"`
	Text        string   `json:"text"`
	Refs        []string `json:"refs"` // every href and src, as written
	Stylesheets []struct {
		Href  string `json:"href"`
		Rules int    `json:"rules"`
	} `json:"stylesheets"`
}

// checkFits fails the test unless the page has a viewport meta, is laid
// out at width and scrolls no wider, refers to nothing by an absolute path
// and loaded every stylesheet it links (a relative link that resolves
// wrongly loads nothing).
func checkFits(t *testing.T, name string, l pageLayout, width int) {
	t.Helper()
	if l.Viewport == nil || !strings.Contains(*l.Viewport, "width=device-width") {
		t.Errorf("%s: viewport meta %v, want one with width=device-width", name, l.Viewport)
	}
	if l.InnerWidth != width {
		t.Errorf("%s: laid out %d px wide, want %d", name, l.InnerWidth, width)
	}
	if l.ScrollWidth > width {
		t.Errorf("%s: document scrolls %d px wide at %d px: it scrolls sideways", name, l.ScrollWidth, width)
	}
	if len(l.Stylesheets) == 0 {
		t.Errorf("%s: no stylesheet", name)
	}
	for _, s := range l.Stylesheets {
		if s.Rules == 0 {
			t.Errorf("%s: stylesheet %s has no rules (did it load?)", name, s.Href)
		}
	}
}

// TestBrowserDemoFitsAPhone: the dev-mode demo relying party, signed in
// through on a 375 px phone, shows its page without sideways scrolling,
// with a viewport meta and only relative links (gatehouse may be served
// under an issuer path); and it fits a 1280 px desktop too. Screenshots of
// both are saved with the others (GATEHOUSE_E2E_SCREENSHOTS/demo).
func TestBrowserDemoFitsAPhone(t *testing.T) {
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	// A client id of its own: every server of the package shares one database.
	clientID := "demo-" + randomHex(t, 6)
	ts := startServerWith(t, nil, func(issuer string, srv *server.Server) {
		srv.Mount("/demo", demo.New(demo.Options{Issuer: issuer, ClientID: clientID, ClientSecret: secret, Key: key}))
	})
	ts.secret(secret)
	now := time.Now()
	if err := ts.Store.CreateClient(ctxT(t), store.Client{
		ID: clientID, Name: "Demo web app", SecretHash: digest, TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs: []string{demo.RedirectURL(ts.URL)}, PostLogoutRedirectURIs: []string{ts.URL + "/demo"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes:    []string{"openid", "profile", "email", "roles", "offline_access"},
		CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	user := ts.createUser(t, "user")

	rep := runFlow(t, "demo", ts.URL+"/demo", demo.RedirectURL(ts.URL), user)

	for name, l := range map[string]pageLayout{"demo page on the phone": rep.DemoPhone, "demo page on the desktop": rep.DemoDesktop} {
		if l.Heading != "Demo relying party" || !strings.Contains(l.Text, `"preferred_username": "`+user.Username+`"`) {
			t.Errorf("%s: heading %q, text:\n%s\nwant the signed-in demo page of %s", name, l.Heading, l.Text, user.Username)
		}
		for _, ref := range l.Refs {
			if strings.HasPrefix(ref, "/") {
				t.Errorf("%s: %q is an absolute path; it breaks under an issuer path such as /auth", name, ref)
			}
		}
	}
	// The sign-in and consent pages on the way are gatehouse's own; the
	// person sees them on the same phone.
	checkFits(t, "login page on the phone", rep.LoginLayout, 375)
	checkFits(t, "consent page on the phone", rep.ConsentLayout, 375)
	checkFits(t, "demo page on the phone", rep.DemoPhone, 375)
	checkFits(t, "demo page on the desktop", rep.DemoDesktop, 1280)
	if len(rep.FailedRequests) != 0 {
		t.Errorf("requests that failed: %v", rep.FailedRequests)
	}
	var shots []string
	for _, p := range rep.Screenshots {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", p, err)
		}
		shots = append(shots, filepath.Base(p))
	}
	for _, want := range []string{"demo-375.png", "demo-1280.png"} {
		if !contains(shots, want) {
			t.Errorf("screenshots %v lack %s", shots, want)
		}
	}
}
