// Package logbound bounds what one log line can hold: a slog.Handler that
// cuts every value (and the message) to a fixed number of bytes, so that a
// request cannot write a megabyte to the log by sending one — a client_id,
// an error's echo of a parameter, a path.
package logbound
