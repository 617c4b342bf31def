package store

import "context"

// AuthorizeCodes are the authorization code flow's writes and read in one
// round trip each on PostgreSQL: the code flow is every browser sign-in,
// and it cost twenty round trips (the authorize endpoint's three rows
// written one by one in a transaction of their own, the token endpoint's
// five reads, a savepoint and four writes).
type AuthorizeCodes interface {
	// CreateTokens creates every token of ts, CreateToken's rules each
	// (their grants created unless they exist), atomically: all or none.
	// The authorize endpoint's code and its PKCE and OpenID Connect
	// records, which must never exist apart. DPoPProof is not supported
	// here (an error if set).
	CreateTokens(ctx context.Context, ts []Token) error
	// GetAuthorizeCode reads the authorization code signature (locked
	// inside a transaction, as GetToken locks it), the PKCE and OpenID
	// Connect records stored under the same signature, and the user of
	// its grant, read once the lock is held (as GetRefreshToken reads
	// it). ErrNotFound if there is no such code.
	GetAuthorizeCode(ctx context.Context, signature string) (AuthorizeCode, error)
	// RedeemAuthorizeCode marks the active code signature inactive and
	// creates tokens (CreateToken's rules, the grant being there already;
	// a DPoP-bound access token's proof is recorded too), atomically. ErrNotFound, and nothing written, if the code is absent
	// or inactive (the one-use rule, as DeactivateToken).
	RedeemAuthorizeCode(ctx context.Context, signature string, tokens []Token) error
}

// AuthorizeCode is what GetAuthorizeCode reads.
type AuthorizeCode struct {
	Code Token
	// PKCE and OpenID are the records of KindPKCE and KindOpenIDSession
	// under the code's signature; nil when there is none.
	PKCE, OpenID *Token
	// User is the user of the code's grant; nil when it has none (or it is
	// gone).
	User *User
}
