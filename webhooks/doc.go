// Package webhooks delivers events to webhook subscriptions: a Worker (one
// per instance, all sharing the outbox's rows) claims due deliveries with
// a lease, POSTs each as Standard Webhooks do (webhook-id, -timestamp and
// -signature headers, an HMAC-SHA256 over id, timestamp and body), and
// records the result: delivered on 2xx, else retried with exponential
// backoff and jitter until attempts or age run out, then given up. The
// deliveries themselves are queued by the domain, with the audit entry
// they carry, in the audited change's transaction.
package webhooks
