package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gorilla/mux"
)

// serve mounts a console for issuer on a router under the issuer's path,
// as server.New does.
func serve(t *testing.T, issuer string) (*httptest.Server, string) {
	t.Helper()
	c, err := build(Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	root := mux.NewRouter()
	sub := root
	if c.base != "" {
		sub = root.PathPrefix(c.base).Subrouter()
	}
	c.Mount(sub)
	ts := httptest.NewServer(root)
	t.Cleanup(ts.Close)
	return ts, c.base
}

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var refPattern = regexp.MustCompile(`(?:href|src)="([^"]+)"`)

// TestIndexAndAssets: every page address answers the index page, never
// cached, under a policy without inline script or style; the index names
// only content-hashed files under the issuer's path, each served for good
// with its type.
func TestIndexAndAssets(t *testing.T) {
	ts, base := serve(t, "https://id.example/auth")
	if base != "/auth" {
		t.Fatalf("base %q", base)
	}
	var index string
	for _, p := range []string{"/auth/console/", "/auth/console/users", "/auth/console/callback", "/auth/account/", "/auth/account/anything"} {
		resp, body := fetch(t, ts.URL+p)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, cc)
		}
		checkPolicy(t, p, resp.Header)
		index = body
	}
	if !strings.Contains(index, `<meta name="gatehouse-issuer" content="https://id.example/auth">`) ||
		!strings.Contains(index, `<meta name="gatehouse-client-id" content="gatehouse-console">`) {
		t.Errorf("index does not name the issuer and client:\n%s", index)
	}
	if strings.Contains(index, "<script>") || strings.Contains(index, "style=") {
		t.Errorf("index has inline script or style:\n%s", index)
	}
	refs := refPattern.FindAllStringSubmatch(index, -1)
	if len(refs) < 4 {
		t.Fatalf("index refers to %d files:\n%s", len(refs), index)
	}
	hashed := regexp.MustCompile(`^/auth/console/assets/[a-z/]+\.[0-9a-f]{12}\.(js|css|svg)$`)
	for _, m := range refs {
		ref := m[1]
		if !hashed.MatchString(ref) {
			t.Errorf("index refers to %q, want a hashed name under /auth/console/assets/", ref)
			continue
		}
		resp, body := fetch(t, ts.URL+ref)
		if resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s: %d", ref, resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want immutable", ref, cc)
		}
		want := map[string]string{"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[hashed.FindStringSubmatch(ref)[1]]
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s: Content-Type %q, want %s", ref, resp.Header.Get("Content-Type"), want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", ref)
		}
	}
	for _, p := range []string{"/auth/console", "/auth/account"} {
		resp, _ := fetch(t, ts.URL+p)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != p+"/" {
			t.Errorf("GET %s: %d to %q, want a redirect to %s/", p, resp.StatusCode, resp.Header.Get("Location"), p)
		}
	}
	for _, p := range []string{"/auth/console/assets/app.js", "/auth/console/assets/app.000000000000.js", "/auth/console/assets/"} {
		if resp, _ := fetch(t, ts.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404 (only hashed names are served)", p, resp.StatusCode)
		}
	}
}

func checkPolicy(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want+";") && !strings.HasSuffix(csp, want) {
			t.Errorf("%s: CSP %q lacks %s", what, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data:"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: CSP %q allows %s", what, csp, bad)
		}
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: framing %q, referrer %q", what, h.Get("X-Frame-Options"), h.Get("Referrer-Policy"))
	}
}

// TestModulesImportHashedNames: every module's relative imports name
// hashed files that are served, so no cached module can load a stale one.
func TestModulesImportHashedNames(t *testing.T) {
	c, err := build(Options{Issuer: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	modules := 0
	for name, a := range c.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		modules++
		for _, m := range importSpecifier.FindAllStringSubmatch(string(a.body), -1) {
			target := resolve(name, m[3])
			if _, ok := c.assets[target]; !ok {
				t.Errorf("%s imports %s (%s), which is not served", name, m[3], target)
			}
		}
	}
	if modules < 10 {
		t.Errorf("%d modules, want the app and its views", modules)
	}
}

func resolve(from, spec string) string {
	dir := from[:strings.LastIndex(from, "/")+1]
	for strings.HasPrefix(spec, "../") {
		spec = spec[3:]
		dir = dir[:strings.LastIndex(strings.TrimSuffix(dir, "/"), "/")+1]
	}
	return dir + strings.TrimPrefix(spec, "./")
}

// TestHashFollowsImports: changing a module renames every module that
// imports it; cycles and missing imports are refused.
func TestHashFollowsImports(t *testing.T) {
	files := func(b string) fstest.MapFS {
		return fstest.MapFS{
			"a.js":       {Data: []byte(`import { x } from './lib/b.js';` + "\n" + `const v = () => import("./views/v.js");`)},
			"lib/b.js":   {Data: []byte(b)},
			"views/v.js": {Data: []byte(`export * from '../lib/b.js';`)},
			"x.css":      {Data: []byte(`body{}`)},
		}
	}
	n1, f1, err := hashAssets(files("export const x = 1;"))
	if err != nil {
		t.Fatal(err)
	}
	n2, _, err := hashAssets(files("export const x = 2;"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.js", "lib/b.js", "views/v.js"} {
		if n1[p] == n2[p] {
			t.Errorf("%s kept its name %s when lib/b.js changed", p, n1[p])
		}
	}
	if n1["x.css"] != n2["x.css"] {
		t.Errorf("x.css renamed though it did not change")
	}
	a := string(f1["a.js"])
	if !strings.Contains(a, `from './lib/`+strings.TrimPrefix(n1["lib/b.js"], "lib/")+`'`) ||
		!strings.Contains(a, `import("./views/`+strings.TrimPrefix(n1["views/v.js"], "views/")+`")`) {
		t.Errorf("a.js not rewritten to the hashed names %v:\n%s", n1, a)
	}
	if v := string(f1["views/v.js"]); !strings.Contains(v, `from '../lib/`+strings.TrimPrefix(n1["lib/b.js"], "lib/")+`'`) {
		t.Errorf("views/v.js not rewritten:\n%s", v)
	}

	if _, _, err := hashAssets(fstest.MapFS{
		"a.js": {Data: []byte(`import './b.js';`)},
		"b.js": {Data: []byte(`import './a.js';`)},
	}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v, want an error", err)
	}
	if _, _, err := hashAssets(fstest.MapFS{"a.js": {Data: []byte(`import './gone.js';`)}}); err == nil {
		t.Error("a missing import was accepted")
	}
}

// TestSizeBudget: the console's own files stay within 200 KB.
func TestSizeBudget(t *testing.T) {
	const budget = 200 * 1024
	total := 0
	err := fs.WalkDir(embedded, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, p)
		total += len(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("console files: %d bytes", total)
	if total > budget {
		t.Errorf("the console's files total %d bytes, over the %d byte budget", total, budget)
	}
}
