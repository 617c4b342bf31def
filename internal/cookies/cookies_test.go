package cookies

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAttributes(t *testing.T) {
	for _, tc := range []struct {
		secure bool
		spec   Spec
		want   string
	}{
		{true, Spec{Name: "s", SameSite: http.SameSiteLaxMode, MaxAge: 90 * time.Second},
			"__Host-s=v; Path=/; Max-Age=90; HttpOnly; Secure; SameSite=Lax"},
		{true, Spec{Name: "c", SameSite: http.SameSiteStrictMode},
			"__Host-c=v; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{true, Spec{Name: "d", Path: "/auth/demo", MaxAge: time.Minute},
			"__Secure-d=v; Path=/auth/demo; Max-Age=60; HttpOnly; Secure; SameSite=Lax"},
		{false, Spec{Name: "s", SameSite: http.SameSiteLaxMode},
			"s=v; Path=/; HttpOnly; SameSite=Lax"},
		{false, Spec{Name: "x", SameSite: http.SameSiteNoneMode},
			"x=v; Path=/; HttpOnly; SameSite=Lax"},
	} {
		rec := httptest.NewRecorder()
		New(tc.secure).Set(rec, tc.spec, "v")
		if got := rec.Header().Values("Set-Cookie"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("Set(%+v, secure %v) = %q, want %q", tc.spec, tc.secure, got, tc.want)
		}
		rec = httptest.NewRecorder()
		New(tc.secure).Clear(rec, tc.spec)
		want := strings.Replace(strings.Replace(tc.want, "=v;", "=;", 1), "; Max-Age=90", "", 1)
		want = strings.Replace(want, "; Max-Age=60", "", 1)
		want = strings.Replace(want, "; HttpOnly", "; Max-Age=0; HttpOnly", 1)
		if got := rec.Header().Values("Set-Cookie"); len(got) != 1 || got[0] != want {
			t.Errorf("Clear(%+v, secure %v) = %q, want %q", tc.spec, tc.secure, got, want)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: New(tc.secure).Name(tc.spec), Value: "back"})
		req.AddCookie(&http.Cookie{Name: tc.spec.Name + "x", Value: "other"})
		if got := New(tc.secure).Get(req, tc.spec); got != "back" {
			t.Errorf("Get = %q, want back", got)
		}
	}
}

// TestEveryCookieGoesThroughTheJar scans the module's code (tests aside):
// a cookie set anywhere but here would escape the attributes above.
func TestEveryCookieGoesThroughTheJar(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	here, _ := filepath.Abs(".")
	scanned := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == here {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, banned := range []string{"http.SetCookie(", "http.Cookie{", `"Set-Cookie"`} {
			if bytes.Contains(src, []byte(banned)) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s uses %s: set cookies through internal/cookies", rel, banned)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 100 {
		t.Fatalf("scanned only %d files", scanned)
	}
}
