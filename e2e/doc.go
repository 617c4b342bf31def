// Package e2e holds gatehouse's end-to-end tests: each test starts the real
// server (server.New, the same assembly cmd/gatehouse serves) on a loopback
// listener over the package's PostgreSQL database, and drives it the way its
// users do — a relying party built from go-oidc and golang.org/x/oauth2, a
// cookie-keeping HTTP client standing in for the browser, and, in
// browser_test.go, Debian's Chromium driven by playwright-core (e2e/browser).
// Everything else lives in the package's _test.go files.
//
// The tests need PostgreSQL (GATEHOUSE_TEST_DATABASE_URL, see
// internal/pgtest), Chromium (/usr/bin/chromium or CHROMIUM) and the npm
// dependencies of e2e/browser (make browser-deps); they fail, never skip,
// without them. GATEHOUSE_E2E_SCREENSHOTS=<dir> keeps the browser tests'
// screenshots of the login and consent pages.
package e2e
