// Package smtptest is an in-process SMTP server for tests: it speaks enough
// of RFC 5321 for a client like net/smtp (EHLO/HELO, optional STARTTLS and
// AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps every message it
// accepts, so that a test can read what would have been delivered.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"

	"math/big"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one accepted message.
type Message struct {
	From string   // the MAIL FROM address
	To   []string // the RCPT TO addresses
	// Data is the message as sent after DATA, dot-unstuffed, with its CRLF
	// line endings.
	Data []byte
	// TLS reports whether the session had switched to TLS (STARTTLS).
	TLS bool
	// User is the AUTH PLAIN identity, "" without authentication.
	User string
}

// Options configure a Server.
type Options struct {
	// TLS, when set, makes the server offer STARTTLS with this config.
	TLS *tls.Config
	// Username and Password, when set, make the server offer AUTH PLAIN and
	// refuse MAIL until a client has authenticated with them.
	Username, Password string
}

// Server is a running test SMTP server.
type Server struct {
	// Host and Port are where it listens (127.0.0.1 and a free port).
	Host string
	Port int

	opts Options
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	messages []Message
	commands []string
	conns    map[net.Conn]bool
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s := &Server{Host: "127.0.0.1", Port: addr.Port, opts: opts, ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Commands returns the command verbs received so far, in order, over every
// connection (e.g. EHLO, STARTTLS, MAIL, ...).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// WaitMessages waits up to timeout for at least n accepted messages and
// returns them; it fails the test if fewer arrive.
func (s *Server) WaitMessages(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: %d message(s) after %v, want %d (commands: %v)", len(msgs), timeout, n, s.Commands())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.serve(c)
		}()
	}
}

// session is the state of one connection.
type session struct {
	conn    net.Conn
	r       *textproto.Reader
	w       *bufio.Writer
	tls     bool
	user    string
	from    string
	to      []string
	helloed bool
}

func (ss *session) reply(code int, lines ...string) {
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		_, _ = ss.w.WriteString(strconv.Itoa(code) + sep + l + "\r\n")
	}
	_ = ss.w.Flush()
}

func (ss *session) reset(conn net.Conn) {
	ss.conn = conn
	ss.r = textproto.NewReader(bufio.NewReader(conn))
	ss.w = bufio.NewWriter(conn)
}

func (s *Server) serve(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	ss := &session{}
	ss.reset(c)
	ss.reply(220, "smtptest ESMTP ready")
	for {
		line, err := ss.r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.mu.Lock()
		s.commands = append(s.commands, verb)
		s.mu.Unlock()
		switch verb {
		case "EHLO":
			ss.helloed = true
			lines := []string{"smtptest greets " + arg}
			if s.opts.TLS != nil && !ss.tls {
				lines = append(lines, "STARTTLS")
			}
			if s.opts.Username != "" {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			ss.reply(250, lines...)
		case "HELO":
			ss.helloed = true
			ss.reply(250, "smtptest")
		case "STARTTLS":
			if s.opts.TLS == nil || ss.tls {
				ss.reply(502, "5.5.1 not offered")
				continue
			}
			ss.reply(220, "2.0.0 go ahead")
			tc := tls.Server(ss.conn, s.opts.TLS)
			if err := tc.Handshake(); err != nil {
				return
			}
			// RFC 3207: everything known before TLS is forgotten.
			ss.reset(tc)
			ss.tls, ss.helloed, ss.user, ss.from, ss.to = true, false, "", "", nil
		case "AUTH":
			s.auth(ss, arg)
		case "MAIL":
			switch {
			case !ss.helloed:
				ss.reply(503, "5.5.1 EHLO first")
			case s.opts.Username != "" && ss.user == "":
				ss.reply(530, "5.7.0 authentication required")
			default:
				ss.from, ss.to = angle(arg), nil
				ss.reply(250, "2.1.0 ok")
			}
		case "RCPT":
			if ss.from == "" {
				ss.reply(503, "5.5.1 MAIL first")
				continue
			}
			ss.to = append(ss.to, angle(arg))
			ss.reply(250, "2.1.5 ok")
		case "DATA":
			if len(ss.to) == 0 {
				ss.reply(503, "5.5.1 RCPT first")
				continue
			}
			ss.reply(354, "end with <CRLF>.<CRLF>")
			data, err := readData(ss.r)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.messages = append(s.messages, Message{From: ss.from, To: ss.to, Data: data, TLS: ss.tls, User: ss.user})
			s.mu.Unlock()
			ss.from, ss.to = "", nil
			ss.reply(250, "2.0.0 queued")
		case "RSET":
			ss.from, ss.to = "", nil
			ss.reply(250, "2.0.0 ok")
		case "NOOP":
			ss.reply(250, "2.0.0 ok")
		case "QUIT":
			ss.reply(221, "2.0.0 bye")
			return
		default:
			ss.reply(502, "5.5.2 not implemented")
		}
	}
}

func (s *Server) auth(ss *session, arg string) {
	mech, initial, _ := strings.Cut(arg, " ")
	if s.opts.Username == "" || !strings.EqualFold(mech, "PLAIN") {
		ss.reply(504, "5.5.4 unrecognized authentication type")
		return
	}
	if initial == "" {
		ss.reply(334, "")
		l, err := ss.r.ReadLine()
		if err != nil {
			return
		}
		initial = l
	}
	raw, err := base64.StdEncoding.DecodeString(initial)
	parts := strings.Split(string(raw), "\x00")
	if err != nil || len(parts) != 3 || parts[1] != s.opts.Username || parts[2] != s.opts.Password {
		ss.reply(535, "5.7.8 authentication credentials invalid")
		return
	}
	ss.user = parts[1]
	ss.reply(235, "2.7.0 authentication successful")
}

// readData reads the DATA section up to the lone dot, undoing dot-stuffing
// and keeping CRLF line endings.
func readData(r *textproto.Reader) ([]byte, error) {
	var out []byte
	for {
		l, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		if l == "." {
			return out, nil
		}
		l = strings.TrimPrefix(l, ".")
		out = append(out, l...)
		out = append(out, '\r', '\n')
	}
}

// angle returns the address in "FROM:<a@b> BODY=8BITMIME" or "TO:<a@b>".
func angle(arg string) string {
	i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
	if i < 0 || j < i {
		return ""
	}
	return arg[i+1 : j]
}

// SelfSignedTLS returns a server TLS config with a fresh certificate for
// 127.0.0.1 and localhost, and a pool that trusts it, for a client.
func SelfSignedTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}
