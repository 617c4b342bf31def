// Package softauthn is a software WebAuthn authenticator for tests: it
// answers registration and sign-in options as a browser with a platform
// passkey would (ES256, "none" attestation, resident key, user verified),
// so that the relying party's checks run on real signatures without a
// browser.
package softauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Key is one credential held by the authenticator.
type Key struct {
	Origin string
	// Counter is the signature counter the next assertion reports (after
	// incrementing it); set it to replay an old value.
	Counter uint32
	// UserVerified is whether assertions report user verification.
	UserVerified bool
	// Synced reports backup eligibility and state, as a synced passkey.
	Synced bool

	priv       *ecdsa.PrivateKey
	id         []byte
	rpID       string
	userHandle []byte
}

// New returns an authenticator key for origin (not yet registered).
func New(origin string) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &Key{Origin: origin, priv: priv, id: id, UserVerified: true}, nil
}

// ID is the credential id.
func (k *Key) ID() []byte { return k.id }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (k *Key) flags() byte {
	f := byte(flagUP)
	if k.UserVerified {
		f |= flagUV
	}
	if k.Synced {
		f |= flagBE | flagBS
	}
	return f
}

func (k *Key) authData(extra []byte, flags byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, rp[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.Counter)
	return append(out, extra...)
}

func clientData(typ string, challenge protocol.URLEncodedBase64, origin string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": typ, "challenge": b64(challenge), "origin": origin, "crossOrigin": false,
	})
	return b
}

// Create answers registration options (the JSON the server sent the page)
// with the body navigator.credentials.create would make the page post.
func (k *Key) Create(options []byte) ([]byte, error) {
	var cc protocol.CredentialCreation
	err := json.Unmarshal(options, &cc)
	if err != nil {
		return nil, fmt.Errorf("softauthn: options: %w", err)
	}
	k.rpID = cc.Response.RelyingParty.ID
	// The user handle arrives base64url-encoded, as the page receives it.
	handle, ok := cc.Response.User.ID.(string)
	if !ok {
		return nil, fmt.Errorf("softauthn: user id is %T, want a base64url string", cc.Response.User.ID)
	}
	if k.userHandle, err = base64.RawURLEncoding.DecodeString(handle); err != nil {
		return nil, fmt.Errorf("softauthn: user id: %w", err)
	}
	x, y := k.priv.PublicKey.X.FillBytes(make([]byte, 32)), k.priv.PublicKey.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: x, YCoord: y,
	})
	if err != nil {
		return nil, err
	}
	att := make([]byte, 16) // AAGUID: zero, as "none" attestation reports it
	att = binary.BigEndian.AppendUint16(att, uint16(len(k.id)))
	att = append(att, k.id...)
	att = append(att, cose...)
	ad := k.authData(att, k.flags()|flagAT)
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(clientData("webauthn.create", cc.Response.Challenge, k.Origin)),
			"attestationObject": b64(obj),
			"transports":        []string{"internal", "hybrid"},
		},
	})
}

// Get answers sign-in options with the body navigator.credentials.get
// would make the page post. The counter goes up by one first (unless it
// was 0 and stays 0, as synced passkeys keep it).
func (k *Key) Get(options []byte) ([]byte, error) {
	var ca protocol.CredentialAssertion
	if err := json.Unmarshal(options, &ca); err != nil {
		return nil, fmt.Errorf("softauthn: options: %w", err)
	}
	if k.Counter != 0 {
		k.Counter++
	}
	ad := k.authData(nil, k.flags())
	cd := clientData("webauthn.get", ca.Response.Challenge, k.Origin)
	h := sha256.Sum256(cd)
	// ES256 signs the SHA-256 of authenticatorData || SHA-256(clientDataJSON).
	msg := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, msg[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(cd),
			"authenticatorData": b64(ad),
			"signature":         b64(sig),
			"userHandle":        b64(k.userHandle),
		},
	})
}
