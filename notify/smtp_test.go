package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/notify/smtptest"
)

const testIssuer = "https://id.example.com"

var testNow = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

func newNotifier(srv *smtptest.Server, mod func(*Options)) *SMTP {
	opts := Options{Host: srv.Host, Port: srv.Port, From: "gatehouse <no-reply@gatehouse.example>", Issuer: testIssuer}
	if mod != nil {
		mod(&opts)
	}
	n := NewSMTP(opts)
	n.now = func() time.Time { return testNow }
	return n
}

const aliceEmail = "alice@example.com"

// sendOne sends the message every transport test sends.
func sendOne(ctx context.Context, n *SMTP) error {
	return n.Send(ctx, aliceEmail, "Your access request was approved", "Hello Alice,\n\nwelcome aboard\n")
}

// parsed is an accepted message read back as a mail client would.
type parsed struct {
	header mail.Header
	raw    string // the header section as sent
	body   string // quoted-printable decoded, CRLF turned into \n
}

func parse(t *testing.T, m smtptest.Message) parsed {
	t.Helper()
	// Every line ends in CRLF: no bare LF anywhere.
	if n, crlf := bytes.Count(m.Data, []byte("\n")), bytes.Count(m.Data, []byte("\r\n")); n != crlf {
		t.Errorf("%d LF but %d CRLF: bare line feeds in the message", n, crlf)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, m.Data)
	}
	if enc := msg.Header.Get("Content-Transfer-Encoding"); enc != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", enc)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	head, _, _ := strings.Cut(string(m.Data), "\r\n\r\n")
	return parsed{header: msg.Header, raw: head, body: strings.ReplaceAll(string(b), "\r\n", "\n")}
}

// TestSendComposesThePlainTextMessage: what the outbox hands Send goes
// out as one plain-text, quoted-printable message with the usual headers,
// whatever its body holds (non-ASCII, long lines, CRLF or LF).
func TestSendComposesThePlainTextMessage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	n := newNotifier(srv, nil)
	body := "Hello Alice,\r\n\nYour access request was denied: Désolé — " + strings.Repeat("too long a line ", 20) + "\n"
	if err := n.Send(context.Background(), aliceEmail, "Your access request was denied", body); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "no-reply@gatehouse.example" || !slices.Equal(m.To, []string{aliceEmail}) {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	p := parse(t, m)
	dec := new(mime.WordDecoder)
	if subject, err := dec.DecodeHeader(p.header.Get("Subject")); err != nil || subject != "Your access request was denied" {
		t.Errorf("Subject = %q (%v)", subject, err)
	}
	if to, err := p.header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != aliceEmail {
		t.Errorf("To = %v (%v)", to, err)
	}
	if from, err := p.header.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "no-reply@gatehouse.example" {
		t.Errorf("From = %v (%v)", from, err)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(testNow) {
		t.Errorf("Date = %v (%v), want %v", d, err, testNow)
	}
	if id := p.header.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{32}@gatehouse\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	if ct := p.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if want := "Hello Alice,\n\nYour access request was denied: Désolé — too long a line too long a line"; !strings.Contains(p.body, want) {
		t.Errorf("body lacks %q:\n%s", want, p.body)
	}
}

// A subject is ours, but it must stay one header line whatever it holds.
func TestSubjectCannotInjectHeaders(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	n := newNotifier(srv, nil)
	if err := n.Send(context.Background(), aliceEmail, "Hi\r\nBcc: attacker@evil.example\r\n\r\nFake body", "Hello\n"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	if !slices.Equal(msgs[0].To, []string{aliceEmail}) {
		t.Errorf("RCPT TO %v, want only the user", msgs[0].To)
	}
	p := parse(t, msgs[0])
	if len(p.header["Bcc"]) != 0 {
		t.Errorf("a Bcc header was injected: %v", p.header["Bcc"])
	}
	for _, line := range strings.Split(p.raw, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Errorf("header section has the line %q", line)
		}
	}
	if strings.Contains(p.body, "Fake body") {
		t.Errorf("the subject's line breaks reached the body:\n%s", p.body)
	}
}

func TestRefusesBadAddresses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		email string
		from  string
	}{
		{"line break in the email", "alice@example.com\r\nRCPT TO:<x@evil.example>", ""},
		{"display name as email", "Alice <alice@example.com>", ""},
		{"two recipients", "alice@example.com, bob@example.com", ""},
		{"line break in the sender", aliceEmail, "a@example.com\r\nBcc: x@evil.example"},
		{"no sender", aliceEmail, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{})
			n := newNotifier(srv, func(c *Options) {
				switch tc.from {
				case "":
				case "-":
					c.From = ""
				default:
					c.From = tc.from
				}
			})
			if err := n.Send(context.Background(), tc.email, "Subject", "Body\n"); err == nil {
				t.Fatal("sent")
			}
			if cmds := srv.Commands(); len(cmds) != 0 {
				t.Errorf("the server saw %v", cmds)
			}
		})
	}
}

func TestTransportSecurityAndAuth(t *testing.T) {
	serverTLS, roots := smtptest.SelfSignedTLS(t)
	for _, tc := range []struct {
		name     string
		opts     smtptest.Options
		cfg      func(*Options)
		trust    bool
		wantErr  bool
		wantTLS  bool
		wantUser string
		// serverRefusedMail: the failure is the server's answer to MAIL;
		// every other failure must stop before a message is started.
		serverRefusedMail bool
	}{
		{name: "plain when STARTTLS is not offered", opts: smtptest.Options{}},
		{name: "STARTTLS when offered", opts: smtptest.Options{TLS: serverTLS}, trust: true, wantTLS: true},
		{name: "STARTTLS with an untrusted certificate fails", opts: smtptest.Options{TLS: serverTLS}, wantErr: true},
		{name: "require_tls without STARTTLS fails", opts: smtptest.Options{}, cfg: func(c *Options) { c.RequireTLS = true }, wantErr: true},
		{name: "require_tls with STARTTLS", opts: smtptest.Options{TLS: serverTLS}, cfg: func(c *Options) { c.RequireTLS = true }, trust: true, wantTLS: true},
		{
			name: "AUTH PLAIN over TLS", opts: smtptest.Options{TLS: serverTLS, Username: "mailer", Password: "s3cret"},
			cfg: func(c *Options) { c.Username, c.Password = "mailer", "s3cret" }, trust: true, wantTLS: true, wantUser: "mailer",
		},
		{
			name: "AUTH PLAIN to localhost without TLS", opts: smtptest.Options{Username: "mailer", Password: "s3cret"},
			cfg: func(c *Options) { c.Username, c.Password = "mailer", "s3cret" }, wantUser: "mailer",
		},
		{
			name: "wrong password", opts: smtptest.Options{TLS: serverTLS, Username: "mailer", Password: "s3cret"},
			cfg: func(c *Options) { c.Username, c.Password = "mailer", "wrong" }, trust: true, wantErr: true,
		},
		{
			name: "server requires auth, none configured", opts: smtptest.Options{Username: "mailer", Password: "s3cret"},
			wantErr: true, serverRefusedMail: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			n := newNotifier(srv, tc.cfg)
			if tc.trust {
				n.tlsConfig = &tls.Config{RootCAs: roots}
			}
			err := sendOne(context.Background(), n)
			msgs := srv.Messages()
			if tc.wantErr {
				if err == nil {
					t.Fatal("sent, want an error")
				}
				if len(msgs) != 0 {
					t.Fatalf("%d messages accepted", len(msgs))
				}
				if !tc.serverRefusedMail && slices.Contains(srv.Commands(), "MAIL") {
					t.Errorf("MAIL sent despite the failure: %v", srv.Commands())
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			if msgs[0].TLS != tc.wantTLS || msgs[0].User != tc.wantUser {
				t.Errorf("TLS %v user %q, want %v %q", msgs[0].TLS, msgs[0].User, tc.wantTLS, tc.wantUser)
			}
		})
	}
}

func TestRequireTLSSendsNoMail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	n := newNotifier(srv, func(c *Options) { c.RequireTLS = true })
	if err := sendOne(context.Background(), n); err == nil {
		t.Fatal("sent without TLS")
	}
	if cmds := srv.Commands(); slices.Contains(cmds, "MAIL") || slices.Contains(cmds, "DATA") {
		t.Errorf("commands %v: a message was started in the clear", cmds)
	}
}

// A server that accepts the connection and then says nothing must not hold
// the caller beyond the timeout.
func TestSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			held <- c
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-held:
			_ = c.Close()
		default:
		}
	})
	addr := ln.Addr().(*net.TCPAddr)
	n := NewSMTP(Options{Host: "127.0.0.1", Port: addr.Port, From: "a@example.com", Issuer: testIssuer})
	n.timeout = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- sendOne(context.Background(), n) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error from a silent server")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not give up on a silent server")
	}
}

func TestCanceledContextStopsTheSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	n := newNotifier(srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sendOne(ctx, n)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(srv.Messages()) != 0 {
		t.Error("sent with a canceled context")
	}
}

func TestNewSMTPDefaults(t *testing.T) {
	n := NewSMTP(Options{Host: "smtp.example.com", Port: 587, From: "a@example.com", Issuer: "https://id.example.com:8443/base"})
	if n.timeout != 10*time.Second {
		t.Errorf("timeout = %v, want 10s", n.timeout)
	}
	if got := n.helloName(); got != "id.example.com" {
		t.Errorf("EHLO name = %q", got)
	}
	if got := n.clientTLS(); got.ServerName != "smtp.example.com" || got.MinVersion < tls.VersionTLS12 {
		t.Errorf("TLS config ServerName %q MinVersion %x", got.ServerName, got.MinVersion)
	}
}
