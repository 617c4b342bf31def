// Package e2e holds gatehouse's end-to-end tests: each test starts the real
// server (server.New, the same assembly cmd/gatehouse serves) on a loopback
// listener over a PostgreSQL database, and drives it the way its users do —
// a relying party built from go-oidc and golang.org/x/oauth2, a cookie-keeping
// HTTP client standing in for the browser, and, in browser_test.go, Debian's
// Chromium driven by playwright-core (e2e/browser). The package has no
// non-test code; everything lives in its _test.go files.
package e2e
