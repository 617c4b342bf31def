package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// Run runs the conformance suite against the backend newStore makes. Every
// subtest gets a fresh, empty store (built-in roles only) from newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Clients", clientTests},
		{"ClientRegistration", clientRegistrationTests},
		{"Users", userTests},
		{"Profile", profileTests},
		{"Roles", roleTests},
		{"Tokens", tokenTests},
		{"Rotation", rotationTests},
		{"Transactions", txTests},
		{"Concurrency", concurrencyTests},
		{"PARRequests", parTests},
		{"LoginSessions", sessionTests},
		{"WebAuthn", webAuthnTests},
		{"Consents", consentTests},
		{"SigningKeys", keyTests},
		{"JWTIDs", jtiTests},
		{"TrustedIssuers", issuerTests},
		{"Groups", groupTests},
		{"AccessRequests", accessRequestTests},
		{"APITokens", apiTokenTests},
		{"Audit", auditTests},
		{"SignIns", signInTests},
		{"SignInFailures", signInFailureTests},
		{"IAMReferences", iamReferenceTests},
		{"Account", accountTests},
		{"Stats", statsTests},
		{"MFA", mfaTests},
		{"Tickets", ticketTests},
		{"MailOutbox", outboxTests},
		{"BackChannelLogouts", logoutQueueTests},
		{"IdentityProviders", identityProviderTests},
		{"DeviceCodes", deviceCodeTests},
		{"DPoPProofs", dpopTests},
		{"Areas", areaTests},
		// Events and webhooks.
		{"Webhooks", webhookTests},
		// Custom permissions, time-boxed role grants, denied permissions.
		{"Permissions", permissionTests},
		// Bulk import of users (bulk.go).
		{"BulkUsers", bulkUserTests},
		// App access rules and usage analytics (appaccess).
		{"AppAccess", appAccessTests},
		// The API principal cache's invalidations (apiauth).
		{"PrincipalChanges", principalChangeTests},
		// The refresh token grant in two round trips (refresh).
		{"RefreshTokens", refreshTests},
		// Client tokens: client_credentials tokens as one record (groupcommit).
		{"ClientTokens", clientTokenTests},
		// The authorization code flow in one round trip per step (codes).
		{"AuthorizeCodes", codeTests},
		// A signed-in browser's session, user and consent in one read.
		{"SignedIn", signedInTests},
		{"Ping", []subtest{{"Ping", testPing}}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					st.fn(newFixture(t, newStore(t)))
				})
			}
		})
	}
}

type subtest struct {
	name string
	fn   func(f *fixture)
}

func testPing(f *fixture) {
	if err := f.s.Ping(f.ctx); err != nil {
		f.t.Fatalf("Ping: %v", err)
	}
}

// fixture is what every subtest works with: the store under test and
// helpers that build valid records with unique ids.
type fixture struct {
	t *testing.T
	s store.Store
	// iam is s, named for the IAM half of the contract.
	iam store.IAM
	ctx context.Context
	// now is the wall clock at the start of the subtest. It keeps its
	// nanoseconds, so stored times exercise the backend's truncation.
	// Methods that compare with the database's own clock (GetPARRequest) are
	// given expiries hours away from it.
	now time.Time
}

// subtestDeadline bounds each subtest's context, so that a backend stuck on
// its own lock fails the subtest instead of hanging the run. It is far above
// what any subtest needs; it measures nothing.
const subtestDeadline = 60 * time.Second

func newFixture(t *testing.T, s store.Store) *fixture {
	ctx, cancel := context.WithTimeout(t.Context(), subtestDeadline)
	t.Cleanup(cancel)
	return &fixture{t: t, s: s, iam: s, ctx: ctx, now: time.Now()}
}

// at returns f.now shifted by d.
func (f *fixture) at(d time.Duration) time.Time { return f.now.Add(d) }

func (f *fixture) atPtr(d time.Duration) *time.Time {
	v := f.at(d)
	return &v
}

// must fails the test at once if err is not nil: later steps depend on it.
func (f *fixture) must(err error, format string, args ...any) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// wantErr checks that err matches target (nil means success expected).
func (f *fixture) wantErr(err, target error, format string, args ...any) {
	f.t.Helper()
	what := fmt.Sprintf(format, args...)
	switch {
	case target == nil && err != nil:
		f.t.Errorf("%s: unexpected error %v", what, err)
	case target != nil && !errors.Is(err, target):
		f.t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

// equal reports every difference between got and want under the suite's
// conventions (see the package documentation). Fields named in ignore are
// skipped wherever they occur.
func (f *fixture) equal(what string, got, want any, ignore ...string) {
	f.t.Helper()
	skip := map[string]bool{}
	for _, name := range ignore {
		skip[name] = true
	}
	var diffs []string
	compare(what, "", reflect.ValueOf(got), reflect.ValueOf(want), skip, &diffs)
	for _, d := range diffs {
		f.t.Error(d)
	}
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
	bytesType   = reflect.TypeFor[[]byte]()
	stringsType = reflect.TypeFor[[]string]()
	prefixType  = reflect.TypeFor[netip.Prefix]()
)

func compare(what, path string, got, want reflect.Value, skip map[string]bool, diffs *[]string) {
	name := what + path
	if got.Type() != want.Type() {
		*diffs = append(*diffs, fmt.Sprintf("%s: type %s, want %s", name, got.Type(), want.Type()))
		return
	}
	switch got.Type() {
	case timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !sameTime(g, w) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %s, want %s", name, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
		return
	case rawJSONType:
		g, w := got.Interface().(json.RawMessage), want.Interface().(json.RawMessage)
		if len(w) == 0 {
			if g != nil {
				*diffs = append(*diffs, fmt.Sprintf("%s = %q, want nil", name, g))
			}
			return
		}
		if !sameJSON(g, w) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %s, want %s (as JSON)", name, g, w))
		}
		return
	case bytesType:
		g, w := got.Bytes(), want.Bytes()
		if !bytes.Equal(g, w) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %x, want %x", name, g, w))
		}
		return
	case prefixType:
		// Compared as written: its fields are unexported.
		if g, w := got.Interface().(netip.Prefix), want.Interface().(netip.Prefix); g != w {
			*diffs = append(*diffs, fmt.Sprintf("%s = %s, want %s", name, g, w))
		}
		return
	case stringsType:
		g, w := got.Interface().([]string), want.Interface().([]string)
		if g == nil {
			*diffs = append(*diffs, fmt.Sprintf("%s is nil, want a non-nil slice %q", name, w))
			return
		}
		if len(w) == 0 {
			w = []string{}
		}
		if !reflect.DeepEqual(g, w) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
		return
	}
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			field := got.Type().Field(i)
			if skip[field.Name] {
				continue
			}
			compare(what, path+"."+field.Name, got.Field(i), want.Field(i), skip, diffs)
		}
	case reflect.Pointer:
		switch {
		case got.IsNil() && want.IsNil():
		case got.IsNil():
			*diffs = append(*diffs, fmt.Sprintf("%s is nil, want %v", name, want.Elem().Interface()))
		case want.IsNil():
			*diffs = append(*diffs, fmt.Sprintf("%s = %v, want nil", name, got.Elem().Interface()))
		default:
			compare(what, path, got.Elem(), want.Elem(), skip, diffs)
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			*diffs = append(*diffs, fmt.Sprintf("%s has %d elements, want %d", name, got.Len(), want.Len()))
			return
		}
		for i := range got.Len() {
			compare(what, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), skip, diffs)
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %#v, want %#v", name, got.Interface(), want.Interface()))
		}
	}
}

// sameTime allows for PostgreSQL keeping microseconds (and for pgx
// truncating where PostgreSQL would round).
func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

// sameJSON compares JSON values, keeping numbers exact.
func sameJSON(a, b []byte) bool {
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// ---------------------------------------------------------------------------
// Record builders. Each returns a valid record with unique ids and every
// field set, so that round trips exercise every column.

func uniqueID(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
}

func (f *fixture) newClient() store.Client {
	return store.Client{
		ID:                       uniqueID("client"),
		Name:                     "Example App",
		SecretHash:               []byte{0x00, 0x01, 0xfe, 0xff, 0x42, 0x00},
		TokenEndpointAuthMethod:  "client_secret_basic",
		RedirectURIs:             []string{"https://app.example/cb", "http://127.0.0.1:8080/callback"},
		PostLogoutRedirectURIs:   []string{"https://app.example/bye"},
		AllowedOrigins:           []string{"https://app.example"},
		GrantTypes:               []string{"authorization_code", "refresh_token"},
		ResponseTypes:            []string{"code"},
		Scopes:                   []string{"openid", "profile", "email", "offline_access"},
		Audience:                 []string{"https://api.example"},
		Public:                   false,
		FirstParty:               true,
		JWKS:                     json.RawMessage(`{"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "k1"}]}`),
		AccessTokenFormat:        store.FormatJWT,
		IDTokenSignedResponseAlg: "ES256",
		Lifetimes: store.Lifetimes{
			AuthorizationCode: 5 * time.Minute,
			AccessToken:       30 * time.Minute,
			IDToken:           45 * time.Minute,
			RefreshToken:      720 * time.Hour,
		},
		Roles:     []string{"viewer", "manager"},
		CreatedAt: f.at(-time.Hour),
		UpdatedAt: f.at(-time.Minute),

		BackchannelLogoutURI:             "https://app.example/backchannel-logout",
		BackchannelLogoutSessionRequired: true,
		// Set, so that testClientUpdate (which leaves it false) proves
		// both directions.
		DPoPBoundAccessTokens: true,
	}
}

func (f *fixture) createClient() store.Client {
	f.t.Helper()
	c := f.newClient()
	f.must(f.s.CreateClient(f.ctx, c), "CreateClient %s", c.ID)
	return c
}

func (f *fixture) newUser() store.User {
	name := strings.ToLower(uniqueID("u"))
	return store.User{
		ID:            uuid.NewString(),
		Username:      name,
		Email:         name + "@Example.COM",
		PasswordHash:  "$2a$04$abcdefghijklmnopqrstuu5Jz1bS8x3kq0m7dD0yQ1xkY8aW1pS2",
		FullName:      "Ada Lovelace",
		Department:    "Analytical Engines",
		Goals:         []string{"ship the engine", "write notes"},
		Preferences:   json.RawMessage(`{"theme": "dark", "page_size": 25, "nested": {"a": [1, 2.5, "x"]}}`),
		Status:        store.StatusActive,
		Roles:         []string{"user"},
		EmailVerified: true,
		CreatedAt:     f.at(-48 * time.Hour),
		UpdatedAt:     f.at(-24 * time.Hour),
		LastLoginAt:   f.atPtr(-time.Hour),
		ExpiresAt:     f.atPtr(365 * 24 * time.Hour),
		FailedLogins:  2,
		LockedUntil:   f.atPtr(-30 * time.Minute),
	}
}

func (f *fixture) createUser() store.User {
	f.t.Helper()
	u := f.newUser()
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", u.Username)
	return u
}

func (f *fixture) newSession(userID string) store.LoginSession {
	return store.LoginSession{
		ID:         uniqueID("session"),
		UserID:     userID,
		AuthTime:   f.at(-time.Hour),
		ExpiresAt:  f.at(time.Hour),
		LastSeenAt: f.at(-time.Minute),
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		IPAddress:  "192.0.2.10",
	}
}

func (f *fixture) createSession(userID string) store.LoginSession {
	f.t.Helper()
	s := f.newSession(userID)
	f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession")
	return s
}

// grant is the header shared by the tokens a test makes with token().
type grant struct {
	requestID, clientID, subject, userID, sessionID string
}

// newGrant makes a user's grant through client c in session sessionID
// (which may be "").
func newGrant(c store.Client, u store.User, sessionID string) grant {
	return grant{requestID: uniqueID("req"), clientID: c.ID, subject: u.ID, userID: u.ID, sessionID: sessionID}
}

func (f *fixture) newToken(kind store.TokenKind, g grant) store.Token {
	return store.Token{
		Kind:           kind,
		Signature:      uniqueID("sig"),
		RequestID:      g.requestID,
		ClientID:       g.clientID,
		Subject:        g.subject,
		UserID:         g.userID,
		LoginSessionID: g.sessionID,
		GrantedScopes:  []string{"openid", "offline_access"},
		RequestedAt:    f.at(-time.Minute),
		ExpiresAt:      f.at(time.Hour),
		Active:         true,
		// Opaque bytes, kept exactly: a NUL, bytes that are no UTF-8, and
		// text (the provider's rows of earlier releases are JSON).
		Request: append([]byte{0x01, 0x00, 0xff, 0xfe, 0x80}, fmt.Sprintf(`{"id": %q, "client": {"id": %q}, "session": {"subject": %q, "name": "Zoë ✓"}}`, g.requestID, g.clientID, g.subject)...),
	}
}

func (f *fixture) createToken(kind store.TokenKind, g grant) store.Token {
	f.t.Helper()
	tok := f.newToken(kind, g)
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken %s", kind)
	return tok
}

// tokenState returns "active", "inactive" or "missing".
func (f *fixture) tokenState(tok store.Token) string {
	f.t.Helper()
	got, err := f.s.GetToken(f.ctx, tok.Kind, tok.Signature)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "missing"
	case err != nil:
		f.t.Fatalf("GetToken %s %s: %v", tok.Kind, tok.Signature, err)
	case got.Active:
		return "active"
	}
	return "inactive"
}

func (f *fixture) wantTokenState(tok store.Token, want string, format string, args ...any) {
	f.t.Helper()
	if got := f.tokenState(tok); got != want {
		f.t.Errorf("%s: %s token %s is %s, want %s", fmt.Sprintf(format, args...), tok.Kind, tok.Signature, got, want)
	}
}

func (f *fixture) newSigningKey(state store.KeyState, age time.Duration) store.SigningKey {
	id := uniqueID("kid")
	return store.SigningKey{
		ID:         id,
		Algorithm:  "RS256",
		State:      state,
		PrivateKey: []byte("\x00sealed\xffprivate-jwk-" + id),
		PublicKey:  json.RawMessage(fmt.Sprintf(`{"kty": "RSA", "kid": %q, "use": "sig", "alg": "RS256", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", "e": "AQAB"}`, id)),
		CreatedAt:  f.at(-age),
	}
}

// newSigningKeyOf is newSigningKey of another algorithm (ES256): its public
// key is an EC one.
func (f *fixture) newSigningKeyOf(alg string, state store.KeyState, age time.Duration) store.SigningKey {
	k := f.newSigningKey(state, age)
	k.Algorithm = alg
	k.PublicKey = json.RawMessage(fmt.Sprintf(`{"kty": "EC", "crv": "P-256", "kid": %q, "use": "sig", "alg": %q, "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`, k.ID, alg))
	return k
}

func (f *fixture) newTrustedIssuer(issuer, subject, keyID string) store.TrustedIssuer {
	return store.TrustedIssuer{
		ID:        uuid.NewString(),
		Issuer:    issuer,
		Subject:   subject,
		KeyID:     keyID,
		PublicKey: json.RawMessage(fmt.Sprintf(`{"kty": "EC", "crv": "P-256", "kid": %q, "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`, keyID)),
		Scopes:    []string{"api:read", "api:write"},
		ExpiresAt: f.at(24 * time.Hour),
		CreatedAt: f.at(-time.Hour),
	}
}
