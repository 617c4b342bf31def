// Package dpop verifies DPoP proofs (RFC 9449): the JWTs a client signs
// with a key of its own for each request, so that an access token bound to
// that key is useless to whoever steals it. The token endpoint
// (provider/dpop.go) and the resource servers (userinfo, the resource API)
// share this one check.
//
// Every proof is accepted once: its digest is recorded in the database
// (store.DPoPProofs), so a replay fails on whichever instance it reaches.
// Server nonces (RFC 9449 §8) are derived from the shared secret and the
// time, so any instance accepts another's.
package dpop
