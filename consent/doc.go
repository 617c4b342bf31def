// Package consent owns the pages a person sees in a browser: sign-in, the
// consent page, sign-out (including OpenID Connect RP-Initiated Logout, the
// end_session endpoint), error pages and a minimal home page. It also owns
// the browser login session (the SSO cookie and its store.LoginSession row)
// and the CSRF protection every one of its forms carries.
//
// provider/ calls into it to find the signed-in user (CurrentSession), to send
// a browser to the login page (RedirectToLogin) and to render the consent and
// error pages; it never touches the cookies itself.
package consent
