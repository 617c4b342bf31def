package provider

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/internal/wire"
)

// The stored request of a code or token row, in the compact encoding
// (internal/wire) that replaced JSON: the row is written by every token
// request and read by every refresh, revocation and introspection miss,
// and encoding/json cost a fifth of a refresh's CPU (reflection, and the
// session's claims maps as interface values) before PostgreSQL parsed it
// again as jsonb. It decodes to exactly what the JSON encoding decoded to
// (requestcodec_test.go holds the two side by side), so nothing
// downstream can tell.
//
// The first byte is the version; JSON rows of earlier releases start with
// '{' and are still read (decodeRequest), so an upgrade needs no rewrite
// of live tokens.

// compactV1 is the first byte of the encoding below.
const compactV1 byte = 0x01

// Session encodings, after the request's fields.
const (
	noSession      byte = 0
	compactSession byte = 1
	// jsonSession is a session of another type than *Session, as JSON.
	jsonSession byte = 2
)

// maxActDepth bounds the chain of act claims (token exchange of an
// exchanged token): deeper than any real delegation, shallow enough that
// a crafted row cannot recurse far.
const maxActDepth = 16

// encodeRequest is marshalRequest's compact form, for token rows.
func encodeRequest(r fosite.Requester) ([]byte, error) {
	w := wire.NewWriter(768)
	w.Byte(compactV1)
	w.String(r.GetID())
	w.Time(r.GetRequestedAt())
	w.String(r.GetClient().GetID())
	emptyIsNil(w, r.GetRequestedScopes())
	emptyIsNil(w, r.GetGrantedScopes())
	emptyIsNil(w, r.GetRequestedAudience())
	emptyIsNil(w, r.GetGrantedAudience())
	form := r.GetRequestForm()
	n := 0
	for k := range form {
		if !slices.Contains(secretParameters, k) {
			n++
		}
	}
	// Stored form parameters, secrets left out; an empty form is nil
	// after decoding, as with JSON's omitempty.
	w.Uvarint(uint64(n))
	for k, v := range form {
		if slices.Contains(secretParameters, k) {
			continue
		}
		w.String(k)
		// marshalRequest's copy made empty lists nil.
		emptyIsNil(w, v)
	}
	if ar, ok := r.(fosite.AuthorizeRequester); ok {
		w.Byte(1)
		emptyIsNil(w, ar.GetResponseTypes())
		redirect := ""
		if u := ar.GetRedirectURI(); u != nil {
			redirect = u.String()
		}
		w.String(redirect)
		w.String(ar.GetState())
		w.String(string(ar.GetResponseMode()))
		w.String(string(ar.GetDefaultResponseMode()))
	} else {
		w.Byte(0)
	}
	switch s := r.GetSession().(type) {
	case nil:
		w.Byte(noSession)
	case *Session:
		if s == nil {
			w.Byte(noSession)
			break
		}
		w.Byte(compactSession)
		encodeSession(w, s)
	default:
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("provider: marshal session: %w", err)
		}
		w.Byte(jsonSession)
		w.Blob(b)
	}
	b, err := w.Bytes()
	if err != nil {
		return nil, fmt.Errorf("provider: encode request: %w", err)
	}
	return b, nil
}

// emptyIsNil writes a list whose emptiness JSON's omitempty erased.
func emptyIsNil(w *wire.Writer, ss []string) {
	if len(ss) == 0 {
		ss = nil
	}
	w.Strings(ss)
}

func encodeSession(w *wire.Writer, s *Session) {
	if c := s.Claims; c == nil {
		w.Byte(0)
	} else {
		w.Byte(1)
		w.String(c.JTI)
		w.String(c.Issuer)
		w.String(c.Subject)
		w.Strings(c.Audience)
		w.String(c.Nonce)
		w.Time(c.ExpiresAt)
		w.Time(c.IssuedAt)
		w.Time(c.RequestedAt)
		w.Time(c.AuthTime)
		w.String(c.AccessTokenHash)
		w.String(c.AuthenticationContextClassReference)
		w.Strings(c.AuthenticationMethodsReferences)
		w.String(c.CodeHash)
		w.Map(c.Extra)
	}
	if h := s.Headers; h == nil {
		w.Byte(0)
	} else {
		w.Byte(1)
		w.Map(h.Extra)
	}
	w.Nilable(s.ExpiresAt == nil, len(s.ExpiresAt))
	for k, t := range s.ExpiresAt {
		w.String(string(k))
		w.Time(t)
	}
	w.String(s.Username)
	w.String(s.Subject)
	w.String(s.UserID)
	w.String(s.LoginSessionID)
	w.String(s.ClientID)
	for a, depth := s.Act, 0; ; a, depth = a.Act, depth+1 {
		if a == nil {
			w.Byte(0)
			break
		}
		if depth == maxActDepth {
			w.Fail(fmt.Errorf("provider: act claims nested deeper than %d", maxActDepth))
			return
		}
		w.Byte(1)
		w.String(a.Subject)
	}
	w.String(s.ActBy)
	w.String(s.DPoPJKT)
	w.Time(s.NotAfter)
}

// decodeCompact reads encodeRequest's bytes, the session into session.
func decodeCompact(raw []byte, session fosite.Session) (*storedRequest, error) {
	r := wire.NewReader(raw)
	if v := r.Byte(); v != compactV1 {
		return nil, fmt.Errorf("provider: stored request: unknown encoding %#x", v)
	}
	sr := &storedRequest{
		ID:          r.String(),
		RequestedAt: r.Time(),
		ClientID:    r.String(),
	}
	sr.RequestedScopes = r.Strings()
	sr.GrantedScopes = r.Strings()
	sr.RequestedAudience = r.Strings()
	sr.GrantedAudience = r.Strings()
	if n := r.Count(); n > 0 {
		sr.Form = make(url.Values, n)
		for range n {
			k := r.String()
			sr.Form[k] = r.Strings()
		}
	}
	switch r.Byte() {
	case 0:
	case 1:
		sr.ResponseTypes = r.Strings()
		sr.RedirectURI = r.String()
		sr.State = r.String()
		sr.ResponseMode = r.String()
		sr.DefaultResponseMode = r.String()
	default:
		return nil, fmt.Errorf("provider: stored request: bad authorize marker")
	}
	switch r.Byte() {
	case noSession:
	case compactSession:
		s, ok := session.(*Session)
		if !ok {
			// fosite handed another session type: read ours, then give
			// it what JSON would have.
			s = NewSession()
		}
		decodeSession(r, s)
		if !ok && r.Err() == nil {
			b, err := json.Marshal(s)
			if err != nil {
				return nil, fmt.Errorf("provider: marshal session: %w", err)
			}
			if err := json.Unmarshal(b, session); err != nil {
				return nil, fmt.Errorf("provider: unmarshal session: %w", err)
			}
		}
	case jsonSession:
		b := r.Blob()
		if r.Err() == nil {
			if err := json.Unmarshal(b, session); err != nil {
				return nil, fmt.Errorf("provider: unmarshal session: %w", err)
			}
		}
	default:
		return nil, fmt.Errorf("provider: stored request: bad session marker")
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("provider: stored request: %w", err)
	}
	return sr, nil
}

// decodeSession reads a session into s as encoding/json decoded into it,
// which is not a replacement: fosite reads a code's session twice into the
// same session, the access token's expiry set in between, and that expiry
// must survive the second read. So, as json.Unmarshal does, maps (the
// expiries, the claims' and headers' extras) are merged into those s
// has, the claims, headers and act claims decoded into the structs s
// points to, and the fields JSON omitted when empty (omitempty) left as
// they are when empty.
func decodeSession(r *wire.Reader, s *Session) {
	if r.Byte() == 1 {
		if s.Claims == nil {
			s.Claims = &jwt.IDTokenClaims{}
		}
		c := s.Claims
		c.JTI = r.String()
		c.Issuer = r.String()
		c.Subject = r.String()
		c.Audience = r.Strings()
		c.Nonce = r.String()
		c.ExpiresAt = r.Time()
		c.IssuedAt = r.Time()
		c.RequestedAt = r.Time()
		c.AuthTime = r.Time()
		c.AccessTokenHash = r.String()
		c.AuthenticationContextClassReference = r.String()
		c.AuthenticationMethodsReferences = r.Strings()
		c.CodeHash = r.String()
		c.Extra = mergeMap(r, c.Extra)
	} else {
		s.Claims = nil
	}
	if r.Byte() == 1 {
		if s.Headers == nil {
			s.Headers = &jwt.Headers{}
		}
		s.Headers.Extra = mergeMap(r, s.Headers.Extra)
	} else {
		s.Headers = nil
	}
	if n, isNil := r.Nilable(); isNil {
		s.ExpiresAt = nil
	} else {
		if s.ExpiresAt == nil {
			s.ExpiresAt = make(map[fosite.TokenType]time.Time, n)
		}
		for range n {
			k := r.String()
			s.ExpiresAt[fosite.TokenType(k)] = r.Time()
		}
	}
	s.Username = r.String()
	s.Subject = r.String()
	keepUnlessSet(&s.UserID, r.String())
	keepUnlessSet(&s.LoginSessionID, r.String())
	keepUnlessSet(&s.ClientID, r.String())
	// Each link of the chain is decoded into the one s has; a chain that
	// ends leaves what s has beyond it (JSON omitted a nil act).
	for link, depth := &s.Act, 0; r.Byte() == 1; depth++ {
		if depth == maxActDepth {
			r.Fail("act claims nested too deeply")
			break
		}
		if *link == nil {
			*link = &ActClaim{}
		}
		(*link).Subject = r.String()
		link = &(*link).Act
	}
	keepUnlessSet(&s.ActBy, r.String())
	keepUnlessSet(&s.DPoPJKT, r.String())
	s.NotAfter = r.Time()
}

// keepUnlessSet is an omitempty string field's decoding: empty was not
// written, and leaves the field alone.
func keepUnlessSet(field *string, v string) {
	if v != "" {
		*field = v
	}
}

// mergeMap reads a map as JSON decodes an object into a map it has: nil
// for null, else into m (made if nil), each key written replacing m's.
func mergeMap(r *wire.Reader, m map[string]any) map[string]any {
	read := r.Map()
	if read == nil {
		return nil
	}
	if m == nil {
		return read
	}
	for k, v := range read {
		m[k] = v
	}
	return m
}
