package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

// Algorithms returns the proof signature algorithms accepted: asymmetric
// only (RFC 9449 §4.2 forbids none and MACs). Discovery lists them
// (dpop_signing_alg_values_supported) and so do the DPoP challenges.
func Algorithms() []string {
	out := make([]string, len(joseAlgorithms))
	for i, a := range joseAlgorithms {
		out[i] = string(a)
	}
	return out
}

// AlgorithmsParam is Algorithms as the algs parameter of a WWW-Authenticate
// DPoP challenge (RFC 9449 §7.1).
func AlgorithmsParam() string { return strings.Join(Algorithms(), " ") }

// joseAlgorithms is a constant in all but name: never changed.
var joseAlgorithms = [...]jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// Header is the request header that carries a proof; NonceHeader the
// response header that carries a server nonce.
const (
	Header      = "DPoP"
	NonceHeader = "DPoP-Nonce"
)

// Error codes of RFC 9449 §5 and §8 (token endpoint) and §7.1 (resource
// servers).
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

var (
	// ErrInvalidProof: the proof is missing where one is required,
	// malformed, badly signed, for another request, stale, or replayed.
	// The wrapping error says which (for logs and error descriptions: it
	// never holds the proof or a token).
	ErrInvalidProof = errors.New("dpop: invalid proof")
	// ErrUseNonce: a nonce is required and the proof has none, or one
	// that is no longer (or never was) current. The client retries with
	// the nonce in the DPoP-Nonce response header.
	ErrUseNonce = errors.New("dpop: use the server's nonce")
)

// Bounds of what a proof may hold.
const (
	maxProofBytes = 8 << 10
	maxJTIBytes   = 256
	minRSABits    = 2048
	// maxRSABits bounds what one proof can make the server compute.
	maxRSABits = 8192
)

// Replay is what the verifier needs of the store: the one-use record.
type Replay interface {
	UseDPoPProof(ctx context.Context, jtiHash []byte, expiresAt, now time.Time) error
}

var _ Replay = store.Store(nil)

// Options configure a Verifier.
type Options struct {
	// Window is how far a proof's iat may be from now, either way
	// (default 60s). A proof's replay record lives that long after iat.
	Window time.Duration
	// NonceKey keys the server nonces (32 bytes, derived from the shared
	// secret: keys.Derive(secret, "dpop-nonce", 32)).
	NonceKey []byte
	// NonceLifetime is how long a nonce is accepted, at least; at most
	// twice that (default 5m).
	NonceLifetime time.Duration
	Now           func() time.Time
}

// Verifier checks proofs. It is safe for concurrent use.
type Verifier struct {
	replay   Replay
	window   time.Duration
	nonceKey []byte
	step     time.Duration
	now      func() time.Time
}

// New returns a verifier that records proofs in replay.
func New(replay Replay, opts Options) (*Verifier, error) {
	if replay == nil {
		return nil, errors.New("dpop: replay store is required")
	}
	if len(opts.NonceKey) < 32 {
		return nil, errors.New("dpop: nonce key must be at least 32 bytes")
	}
	if opts.Window < 0 || opts.NonceLifetime < 0 || (opts.NonceLifetime > 0 && opts.NonceLifetime < time.Second) {
		return nil, errors.New("dpop: window must not be negative, nonce lifetime at least a second")
	}
	if opts.Window == 0 {
		opts.Window = time.Minute
	}
	if opts.NonceLifetime == 0 {
		opts.NonceLifetime = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Verifier{
		replay: replay, window: opts.Window, nonceKey: append([]byte(nil), opts.NonceKey...),
		step: opts.NonceLifetime, now: opts.Now,
	}, nil
}

// Request is what a proof must match.
type Request struct {
	// Method is the request's HTTP method (htm).
	Method string
	// URL is the request's URL as the server names itself (its issuer's
	// origin and the request's path), without query or fragment (htu).
	URL string
	// AccessToken, when the request presents one, must be the token whose
	// hash the proof carries (ath).
	AccessToken string
	// RequireNonce demands a current server nonce in the proof.
	RequireNonce bool
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: the binding a token carries (cnf.jkt).
	JKT      string
	IssuedAt time.Time
	// digest names the proof in the replay record.
	digest []byte
}

type claims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

// Parse checks the request's proof headers (exactly one) against req, all
// but its one-time use: signature, key, type, htm, htu, iat, ath, nonce.
// Call Use once the request has otherwise been accepted. Failures wrap
// ErrInvalidProof or ErrUseNonce.
func (v *Verifier) Parse(headers []string, req Request) (Proof, error) {
	if len(headers) != 1 {
		return Proof{}, fmt.Errorf("%w: exactly one DPoP header is required, got %d", ErrInvalidProof, len(headers))
	}
	raw := headers[0]
	if len(raw) > maxProofBytes {
		return Proof{}, fmt.Errorf("%w: the proof is larger than %d bytes", ErrInvalidProof, maxProofBytes)
	}
	jws, err := jose.ParseSignedCompact(raw, joseAlgorithms[:])
	if err != nil {
		return Proof{}, fmt.Errorf("%w: not a JWS signed with one of %s", ErrInvalidProof, AlgorithmsParam())
	}
	if len(jws.Signatures) != 1 {
		return Proof{}, fmt.Errorf("%w: exactly one signature is required", ErrInvalidProof)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return Proof{}, fmt.Errorf("%w: the typ header must be dpop+jwt", ErrInvalidProof)
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return Proof{}, fmt.Errorf("%w: the jwk header is required", ErrInvalidProof)
	}
	if err := checkKey(jwk); err != nil {
		return Proof{}, err
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return Proof{}, fmt.Errorf("%w: the signature does not verify with the jwk header's key", ErrInvalidProof)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Proof{}, fmt.Errorf("%w: the claims are not a JSON object of the expected types", ErrInvalidProof)
	}
	switch {
	case c.JTI == "" || len(c.JTI) > maxJTIBytes:
		return Proof{}, fmt.Errorf("%w: jti must be 1 to %d bytes", ErrInvalidProof, maxJTIBytes)
	case c.HTM != req.Method:
		return Proof{}, fmt.Errorf("%w: htm does not match the request's method", ErrInvalidProof)
	case !sameURL(c.HTU, req.URL):
		return Proof{}, fmt.Errorf("%w: htu does not match the request's URL", ErrInvalidProof)
	case c.IAT == nil:
		return Proof{}, fmt.Errorf("%w: iat is required", ErrInvalidProof)
	}
	now := v.now()
	// Compared as numbers, so that no value overflows a time.Time.
	if d := *c.IAT - float64(now.Unix()); d > v.window.Seconds() || d < -v.window.Seconds() {
		return Proof{}, fmt.Errorf("%w: iat is not within %s of the server's time", ErrInvalidProof, v.window)
	}
	iat := time.Unix(int64(*c.IAT), 0)
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(want)) != 1 {
			return Proof{}, fmt.Errorf("%w: ath does not match the access token", ErrInvalidProof)
		}
	}
	if req.RequireNonce && !v.validNonce(c.Nonce, now) {
		return Proof{}, fmt.Errorf("%w: the proof must carry the current nonce", ErrUseNonce)
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return Proof{}, fmt.Errorf("%w: the key has no thumbprint", ErrInvalidProof)
	}
	jkt := base64.RawURLEncoding.EncodeToString(tp)
	// The thumbprint's fixed length keeps the pair unambiguous: a jti
	// names a proof only together with its key.
	d := sha256.Sum256([]byte(jkt + "\x00" + c.JTI))
	return Proof{JKT: jkt, IssuedAt: iat, digest: d[:]}, nil
}

// Use records p, once: a second use of the same proof, on any instance,
// fails with ErrInvalidProof. Other failures are the store's.
func (v *Verifier) Use(ctx context.Context, p Proof) error {
	u := v.Record(p)
	return UseError(v.replay.UseDPoPProof(ctx, u.JTIHash, u.ExpiresAt, u.Now))
}

// Record is p's use for a store that records it together with a write of
// its own (store.Token.DPoPProof); UseError reads the store's answer.
func (v *Verifier) Record(p Proof) store.DPoPProofUse {
	// The proof is refused by its iat after iat+window; it need not be
	// remembered longer.
	return store.DPoPProofUse{JTIHash: p.digest, ExpiresAt: p.IssuedAt.Add(v.window + time.Second), Now: v.now()}
}

// UseError maps a store's answer to a proof's use: a proof recorded before
// (ErrConflict) is ErrInvalidProof; other failures are the store's.
func UseError(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: the proof has been used before", ErrInvalidProof)
	}
	if err != nil {
		return fmt.Errorf("dpop: record proof: %w", err)
	}
	return nil
}

// Verify is Parse and Use.
func (v *Verifier) Verify(ctx context.Context, headers []string, req Request) (Proof, error) {
	p, err := v.Parse(headers, req)
	if err != nil {
		return Proof{}, err
	}
	return p, v.Use(ctx, p)
}

// checkKey accepts a public key of a type the algorithms use, of a safe
// size: never a private key (a client that leaks it in a header gets an
// answer, not a binding) nor a symmetric one.
func checkKey(jwk *jose.JSONWebKey) error {
	if !jwk.IsPublic() || !jwk.Valid() {
		return fmt.Errorf("%w: the jwk header must hold a public key", ErrInvalidProof)
	}
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey:
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("%w: RSA keys must have %d to %d bits", ErrInvalidProof, minRSABits, maxRSABits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: the jwk header must hold an EC, RSA or OKP public key", ErrInvalidProof)
	}
	return nil
}

// sameURL compares htu with the request's URL (RFC 9449 §4.3 item 9):
// query and fragment ignored, scheme and host case-insensitively, a
// default port the same as none.
func sameURL(htu, want string) bool {
	a, err := url.Parse(htu)
	if err != nil || a.Scheme == "" || a.Host == "" {
		return false
	}
	b, err := url.Parse(want)
	if err != nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && hostPort(a) == hostPort(b) && a.EscapedPath() == b.EscapedPath()
}

func hostPort(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	switch {
	case port == "" && strings.EqualFold(u.Scheme, "https"):
		port = "443"
	case port == "" && strings.EqualFold(u.Scheme, "http"):
		port = "80"
	}
	return host + ":" + port
}

// Nonce returns the current server nonce: an HMAC of the current time step
// under the shared key, so every instance derives the same one.
func (v *Verifier) Nonce() string { return v.nonceAt(v.now().Unix() / int64(v.step.Seconds())) }

func (v *Verifier) nonceAt(step int64) string {
	m := hmac.New(sha256.New, v.nonceKey)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// validNonce accepts the nonce of the current step and of the one before,
// so a nonce handed out just before a step ends still works.
func (v *Verifier) validNonce(n string, now time.Time) bool {
	if n == "" {
		return false
	}
	step := now.Unix() / int64(v.step.Seconds())
	ok := 0
	for _, s := range []int64{step, step - 1} {
		ok |= subtle.ConstantTimeCompare([]byte(n), []byte(v.nonceAt(s)))
	}
	return ok == 1
}
