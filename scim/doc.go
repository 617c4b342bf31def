// Package scim is gatehouse's SCIM 2.0 service provider (RFC 7643, RFC
// 7644) at <issuer>/scim/v2: an identity provider such as Okta or Entra ID
// creates, updates, deactivates and deletes users and groups in
// gatehouse's directory through it.
//
// It owns the translation only: SCIM's resources, filters, PATCH
// operations, ETags and errors. Every change is a call to the domain
// (Directory), so validation, the power rules and the audit log are the
// resource API's; callers authenticate exactly as on the resource API
// (Authenticator, which admin.API implements) and need the permission
// scim:provision. Errors, including the server middleware's, are SCIM
// error objects (WriteError).
package scim
