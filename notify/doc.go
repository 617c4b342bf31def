// Package notify tells people about things that happened to them, outside
// the browser, by email through an SMTP server: the decision on an access
// request, sent at once (SMTP implements domain.Notifier), and the mail the
// domain queues in the store's outbox (recovery and verification links,
// notices), which Outbox sends in the background with retries.
//
// Package smtptest holds the small in-process SMTP server its tests (and the
// end-to-end tests) send to.
package notify
