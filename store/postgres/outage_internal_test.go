package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnreachableTellsOutagesFromStatementErrors(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		name          string
		err           error
		outage, broke bool
	}{
		{"deadline waiting for a connection", context.DeadlineExceeded, true, false},
		{"deadline on the wire", fmt.Errorf("receive: %w", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}), true, true},
		{"caller gave up", fmt.Errorf("acquire: %w", context.Canceled), true, false},
		{"connection reset", fmt.Errorf("read: %w", reset), true, true},
		{"connection closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true, true},
		{"connect failed", &pgconn.ConnectError{}, true, true},
		{"connection exception", &pgconn.PgError{Code: "08006"}, true, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true, false},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false, false},
		{"no rows", pgx.ErrNoRows, false, false},
		{"tx closed", pgx.ErrTxClosed, false, false},
		{"other", errors.New("something else"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unreachable(tc.err); got != tc.outage {
				t.Errorf("unreachable = %v, want %v", got, tc.outage)
			}
			if tc.outage {
				if got := brokenConnection(tc.err); got != tc.broke {
					t.Errorf("brokenConnection = %v, want %v", got, tc.broke)
				}
			}
		})
	}
}

// timeoutErr is what a net.Conn read past its deadline reports.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
