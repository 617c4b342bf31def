// Package notify tells people about things that happened to them, outside
// the browser, by email through an SMTP server: the mail the domain queues
// in the store's outbox in the transaction of what it reports (recovery and
// verification links, notices, access-request decisions), which Outbox
// sends in the background with retries.
//
// Package smtptest holds the small in-process SMTP server its tests (and the
// end-to-end tests) send to.
package notify
