// Package console serves the admin console (<issuer>/console/) and the
// account pages (<issuer>/account/): one page set of hand-written ES modules
// and a stylesheet, embedded, with no build step. The browser signs in to
// gatehouse itself as the public, first-party client gatehouse-console
// (authorization code with PKCE), keeps its tokens in memory only and calls
// the resource API; every rule stays the API's and the domain's.
//
// At start New content-hashes the files (rewriting the modules' imports to
// the hashed names first, so a module's name changes whenever anything it
// imports does), so that every asset is served immutable and only the
// index page, which names them, is fetched again. It also registers the
// console's client, or repairs it (client.go).
package console
