// Package consent owns the pages a person sees in a browser: sign-in, the
// consent page, sign-out (including OpenID Connect RP-Initiated Logout, the
// end_session endpoint), self-registration (when configured), the
// request-access and waiting pages of a pending user, the pages of the
// device authorization grant (device.go), error pages and a minimal home
// page. It also owns the browser login session (the SSO cookie
// and its store.LoginSession row) and the CSRF protection every one of its
// forms carries.
//
// Every rule of the identity model is the domain Service's: sign-in (with
// its lockout and audit), registration and access requests are calls to it,
// never decided here. A pending user has a session (CurrentSession returns
// it, Session.User.Status says pending) but can only ask for access.
//
// provider/ calls into it to find the signed-in user (CurrentSessionFor, which
// brings the user's remembered consent to the client in the same read), to send
// a browser to the login page (RedirectToLogin) or a pending user to the
// request-access page (RedirectToAccessRequest), and to render the consent
// and error pages; it never touches the cookies itself.
package consent
