// Package keys owns gatehouse's token signing keys: it generates them,
// encrypts their private halves at rest, rotates them with a compare-and-swap
// that is safe when several instances share one store, and publishes the
// public halves as a JWKS. It also derives every per-purpose secret of the
// server from the one configured secret (Derive).
//
// A key goes next -> active -> retired: the next key is published before it
// signs, so relying parties already hold it when it starts signing, and a
// retired key stays published until every token it may have signed has
// expired.
package keys
