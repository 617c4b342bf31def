// Package notify tells people about things that happened to them, outside
// the browser: today, the decision on an access request, by email through
// an SMTP server (SMTP implements domain.Notifier).
//
// Package smtptest holds the small in-process SMTP server its tests (and the
// end-to-end tests) send to.
package notify
