// Package admin serves gatehouse's resource API under /api/v1: users, roles,
// groups, access requests, API tokens, clients, sessions and the audit log,
// with its OpenAPI document. It owns the HTTP side only: authenticating the
// bearer token, checking the route's permission (one table, Routes, read by
// the router, the OpenAPI test and the permission-matrix test), decoding
// input, and mapping errors to problem+json. Every rule of the identity model
// is applied by domain.Service, which it calls.
package admin
