package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/gorilla/mux"
)

//go:embed web
var embedded embed.FS

// Paths under the issuer's path.
const (
	ConsolePath = "/console/"
	AccountPath = "/account/"
	assetsPath  = ConsolePath + "assets/"
)

// CallbackPath is the console's redirect URI under the issuer.
const CallbackPath = ConsolePath + "callback"

// contentSecurityPolicy allows the console's own scripts, styles and API
// calls and nothing else: no inline script or style, no eval, no framing,
// and Trusted Types without any policy, so that no string ever becomes
// markup (the modules build the DOM node by node).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Options configure the console.
type Options struct {
	// Issuer is gatehouse's issuer; the console lives under its path and
	// discovers the endpoints from it.
	Issuer string
	Logger *slog.Logger // nil discards
}

// Console serves the console's and the account pages' files.
type Console struct {
	base   string // the issuer's path, "" at the root
	index  []byte
	assets map[string]asset // by hashed name, relative to assetsPath
	log    *slog.Logger
}

type asset struct {
	body        []byte
	contentType string
}

// New builds the console's files for opts.Issuer and makes sure the
// console's client is registered as the console needs it (EnsureClient);
// ctx bounds that registration.
func New(ctx context.Context, clients Clients, opts Options) (*Console, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := build(opts)
	if err != nil {
		return nil, err
	}
	if err := EnsureClient(ctx, clients, opts.Issuer, opts.Logger); err != nil {
		return nil, err
	}
	return c, nil
}

// build hashes the embedded files and renders the index page.
func build(opts Options) (*Console, error) {
	iss, err := url.Parse(opts.Issuer)
	if err != nil || !iss.IsAbs() {
		return nil, fmt.Errorf("console: issuer %q is not an absolute URL", opts.Issuer)
	}
	web, err := fs.Sub(embedded, "web")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	names, files, err := hashAssets(web)
	if err != nil {
		return nil, err
	}
	c := &Console{base: strings.TrimRight(iss.Path, "/"), assets: map[string]asset{}, log: opts.Logger}
	for logical, hashed := range names {
		ct := mime.TypeByExtension(path.Ext(logical))
		if path.Ext(logical) == ".js" {
			ct = "text/javascript; charset=utf-8"
		}
		c.assets[hashed] = asset{body: files[logical], contentType: ct}
	}
	c.index, err = renderIndex(web, c.base, strings.TrimRight(opts.Issuer, "/"), names)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// importSpecifier finds the relative module specifiers of static imports,
// re-exports and dynamic imports: `from './x.js'`, `import './x.js'`,
// `import('./x.js')`.
var importSpecifier = regexp.MustCompile(`(\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.\.?/[^'"]+)(['"])`)

// hashAssets gives every file of web but index.html a name with a hash of
// its content: dir/name.<hash>.ext. Modules are hashed after their imports
// are rewritten to the hashed names of what they import, so a change
// anywhere renames every module that depends on it. An import cycle, or an
// import of a file that does not exist, is an error.
func hashAssets(web fs.FS) (names map[string]string, files map[string][]byte, err error) {
	raw := map[string][]byte{}
	err = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" {
			return err
		}
		b, err := fs.ReadFile(web, p)
		raw[p] = b
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("console: read files: %w", err)
	}
	names, files = map[string]string{}, map[string][]byte{}
	visiting := map[string]bool{}
	var visit func(p string) error
	visit = func(p string) error {
		if _, done := names[p]; done {
			return nil
		}
		if visiting[p] {
			return fmt.Errorf("console: import cycle through %s", p)
		}
		body, ok := raw[p]
		if !ok {
			return fmt.Errorf("console: %s is imported but does not exist", p)
		}
		visiting[p] = true
		defer delete(visiting, p)
		if path.Ext(p) == ".js" {
			var ferr error
			body = importSpecifier.ReplaceAllFunc(body, func(m []byte) []byte {
				sub := importSpecifier.FindSubmatch(m)
				spec := string(sub[3])
				dep := path.Join(path.Dir(p), spec)
				if err := visit(dep); err != nil {
					ferr = err
					return m
				}
				rel := strings.TrimSuffix(spec, path.Base(spec)) + path.Base(names[dep])
				return []byte(string(sub[1]) + string(sub[2]) + rel + string(sub[4]))
			})
			if ferr != nil {
				return ferr
			}
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(p)
		names[p] = strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		files[p] = body
		return nil
	}
	keys := make([]string, 0, len(raw))
	for p := range raw {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		if err := visit(p); err != nil {
			return nil, nil, err
		}
	}
	return names, files, nil
}

// renderIndex fills index.html with the issuer and the hashed names.
func renderIndex(web fs.FS, base, issuer string, names map[string]string) ([]byte, error) {
	src, err := fs.ReadFile(web, "index.html")
	if err != nil {
		return nil, fmt.Errorf("console: read index.html: %w", err)
	}
	var modules []string
	for logical := range names {
		if path.Ext(logical) == ".js" {
			modules = append(modules, logical)
		}
	}
	sort.Strings(modules)
	var missing []string
	asset := func(logical string) string {
		hashed, ok := names[logical]
		if !ok {
			missing = append(missing, logical)
		}
		return base + assetsPath + hashed
	}
	t, err := template.New("index").Funcs(template.FuncMap{"asset": asset}).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("console: parse index.html: %w", err)
	}
	var buf bytes.Buffer
	data := struct {
		Issuer, ClientID string
		Modules          []string
	}{issuer, ClientID, modules}
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("console: render index.html: %w", err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("console: index.html names missing files %v", missing)
	}
	return buf.Bytes(), nil
}

// Mount serves the console at /console/ and the account pages at /account/
// on r, the issuer's path.
func (c *Console) Mount(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.PathPrefix(assetsPath).HandlerFunc(c.serveAsset).Methods(get...)
	for _, p := range []string{ConsolePath, AccountPath} {
		r.Handle(strings.TrimSuffix(p, "/"), http.RedirectHandler(c.base+p, http.StatusMovedPermanently)).Methods(get...)
		r.PathPrefix(p).HandlerFunc(c.serveIndex).Methods(get...)
	}
}

// setHeaders are the headers of every answer: the policy, and no sniffing,
// framing or referrer (the callback's address carries a code).
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// serveIndex answers every page address with the one index page, never
// cached: it names the current hashed files. The modules route by path.
func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(c.index)
}

// serveAsset answers a hashed name with its file, cached for good: a new
// content has a new name.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, c.base+assetsPath)
	a, ok := c.assets[name]
	h := w.Header()
	setHeaders(h)
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("not found\n"))
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(a.body)
}
