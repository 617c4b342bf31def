// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0
// notifications: when a login session ends, the domain queues one row per
// client that received tokens in it (in the transaction of the session's
// end); Sender takes the rows from the store's durable queue, signs a
// logout token for each with the server's signing key and POSTs it to the
// client's backchannel_logout_uri, retrying with exponential backoff until
// the client answers 2xx or the attempt or age bound gives it up.
package backchannel
