// Package demo is the relying party that `gatehouse serve --dev` mounts at
// /demo so a new user can watch a whole OpenID Connect sign-in (authorization
// code + PKCE, ID token verification, userinfo) in a browser without writing
// a client. It is an ordinary RP built on go-oidc and x/oauth2 that talks to
// the issuer over HTTP, exactly as an external application would; it is
// never mounted outside dev mode.
package demo
