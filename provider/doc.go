// Package provider owns gatehouse's OAuth 2.0 and OpenID Connect protocol
// surface: the fosite composition (which grants exist, how tokens are minted
// and signed), the adapter that keeps fosite's requests in store.Store as
// data, and every protocol endpoint: authorize (with login and consent
// decisions delegated to package consent), token, introspection, revocation,
// pushed authorization requests, userinfo, JWKS and the two discovery
// documents; and the device authorization grant (RFC 8628: device.go,
// devicepage.go), which fosite v0.49 lacks and which is ours, a token
// endpoint handler composed beside fosite's.
//
// Who may get a code, and which roles a token names, are the identity
// model's: a pending user is sent to the request-access page instead of
// getting a code, and the roles claim is domain.Service.EffectiveRoles.
//
// DPoP (RFC 9449, dpop.go) is ours beside fosite: a token request with a
// proof gets tokens bound to the proof's key, and userinfo and the resource
// API (through CheckResourceProof) take bound tokens only with a fresh proof.
//
// Only what fosite does not provide is written here; everything it has
// (grant handlers, PKCE, client authentication, error encoding) is composed,
// not re-implemented.
package provider
