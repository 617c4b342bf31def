package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sendTimeout bounds one whole delivery (connect, TLS, auth, data): the
// decision it reports is already committed, and a hung mail server must not
// hold the reviewer's request for longer than this.
const sendTimeout = 10 * time.Second

// errHeaderInjection refuses a header value that would end the header early
// and start another one (or the body) of someone else's choosing.
var errHeaderInjection = errors.New("notify: line break in a header value")

// Options say how to reach the mail server and what the mail points to.
type Options struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	// From is the sender address, e.g. "gatehouse <no-reply@example.com>".
	From string
	// RequireTLS refuses to send unless the server offers STARTTLS.
	RequireTLS bool
	// Issuer is the server's URL; its host is the name we greet the mail
	// server with (the mails' links are the domain's, in their bodies).
	Issuer string
	Logger *slog.Logger // nil discards
}

// SMTP delivers the outbox's mail (recovery and verification links,
// access-request decisions) to the configured mail server.
type SMTP struct {
	cfg    Options
	issuer string
	log    *slog.Logger

	// The fields below are fixed by NewSMTP; the package's tests replace
	// them (a test CA, a fixed clock, a short timeout).
	tlsConfig *tls.Config // nil: the system roots
	now       func() time.Time
	timeout   time.Duration
}

// NewSMTP returns a sender through the server of opts (which must have a
// Host).
func NewSMTP(opts Options) *SMTP {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SMTP{cfg: opts, issuer: opts.Issuer, log: logger, now: time.Now, timeout: sendTimeout}
}

// Send delivers one message of the outbox: plain text to one recipient.
// The error says why it failed, for the outbox's last_error (never the
// message's content).
func (s *SMTP) Send(ctx context.Context, to, subject, body string) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil || rcpt.Address != to || strings.ContainsAny(to, "\r\n") {
		return errors.New("notify: recipient is not a plain email address")
	}
	from, err := mail.ParseAddress(s.cfg.From)
	if err != nil || strings.ContainsAny(s.cfg.From, "\r\n") {
		return errors.New("notify: smtp.from is not an email address")
	}
	body = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(body)
	msg, err := s.compose(from, mail.Address{Address: to}, cleanLine(subject), body)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if err := s.send(ctx, from.Address, to, msg); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// compose is the message of subject and body (text, \n line endings) from
// from to to.
func (s *SMTP) compose(from *mail.Address, to mail.Address, subject, body string) ([]byte, error) {
	id, err := s.messageID(from.Address)
	if err != nil {
		return nil, err
	}
	headers := []struct{ name, value string }{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", subject)},
		{"Date", s.now().Format(time.RFC1123Z)},
		{"Message-ID", id},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
		// RFC 3834: an automatic message, so auto-responders stay quiet.
		{"Auto-Submitted", "auto-generated"},
	}
	var buf bytes.Buffer
	for _, h := range headers {
		if strings.ContainsAny(h.value, "\r\n") {
			return nil, fmt.Errorf("%w: %s", errHeaderInjection, h.name)
		}
		buf.WriteString(h.name + ": " + h.value + "\r\n")
	}
	buf.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&buf)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return buf.Bytes(), nil
}

// messageID is <random@domain of the sender>, unique per message.
func (s *SMTP) messageID(fromAddress string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	domain := "gatehouse.invalid"
	if at := strings.LastIndexByte(fromAddress, '@'); at >= 0 && at < len(fromAddress)-1 {
		domain = fromAddress[at+1:]
	}
	return "<" + hex.EncodeToString(b) + "@" + domain + ">", nil
}

// cleanLine turns control characters (line breaks included) into spaces
// and trims the result.
func cleanLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}

// send delivers msg: EHLO, STARTTLS when the server offers it (required
// with smtp.require_tls), AUTH PLAIN when a username is configured, then one
// MAIL, one RCPT and the DATA.
func (s *SMTP) send(ctx context.Context, from, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	// The deadline covers every read and write; closing on cancellation
	// covers a caller that gives up earlier.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting from %s: %w", addr, err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(s.helloName()); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.clientTLS()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else if s.cfg.RequireTLS {
		return errors.New("the server does not offer STARTTLS and smtp.require_tls is set")
	}
	if s.cfg.Username != "" {
		// net/smtp's PLAIN refuses to send the password unencrypted to
		// anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message is accepted once DATA is; a failed QUIT does not unsend it.
	if err := c.Quit(); err != nil {
		s.log.DebugContext(ctx, "notify: QUIT", "err", err)
	}
	return nil
}

func (s *SMTP) clientTLS() *tls.Config {
	cfg := &tls.Config{}
	if s.tlsConfig != nil {
		cfg = s.tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.Host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// helloName is the name we greet the server with: our issuer's host, which
// is the name this service is known by.
func (s *SMTP) helloName() string {
	if u, err := url.Parse(s.issuer); err == nil && u.Hostname() != "" && !strings.ContainsAny(u.Hostname(), "\r\n ") {
		return u.Hostname()
	}
	return "localhost"
}
