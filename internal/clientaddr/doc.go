// Package clientaddr finds the address a request comes from, as the audit
// log, the login sessions and the per-(account, address) sign-in counters
// record it. It believes X-Forwarded-For only as far as proxies the caller
// trusts appended to it: anything else in the header is whatever the client
// chose to write, and trusting it would let anyone pick the address they are
// audited and rate-limited under.
package clientaddr
