package store

import "context"

// ClientTokens stores the access tokens of client_credentials grants. Such a
// token is its grant's only token (no code, refresh token or second access
// token ever joins the grant), so the backend keeps it as one record that
// carries the grant's header, and the most frequent write of the server
// writes one row instead of a grant and a token.
//
// Once created, a client token is an access token like any other to every
// Tokens method: GetToken (KindAccessToken) returns it as it was given;
// GetGrant returns its grant (ID RequestID, ClientID, Subject, GrantedScopes
// and RequestedAt of the token, no user, no session); DeactivateToken,
// DeleteToken, DeactivateTokensByRequest and DeleteTokensByRequest (kind
// KindAccessToken), RevokeGrant and DeleteExpiredTokens reach it; deleting
// its client deletes it. What differs: its grant lives exactly as long as
// the token, so once the token is deleted (DeleteToken, DeleteTokensByRequest,
// DeleteExpiredTokens, DeleteClient) GetGrant answers ErrNotFound.
type ClientTokens interface {
	// CreateClientToken stores t, whose Kind must be KindAccessToken, with
	// no UserID, LoginSessionID, Predecessor, RotatedAt or RewoundAt, and a
	// RequestID no other grant or token has (fosite's request ids are
	// random). ErrNotFound if the client does not exist; ErrConflict if a
	// client token with the signature exists (its signature is not compared
	// with CreateToken's tokens: both are digests of random values);
	// ErrDPoPProofUsed as CreateToken, and a refused token records no proof.
	//
	// Outside a transaction the backend may gather concurrent calls into
	// one commit. Each call returns only once its own token is committed
	// (or has failed), and one token that fails does not fail the others.
	// A backend configured for it (README "Configuration",
	// tokens.access_token_commit) may commit without waiting for the
	// write-ahead log to reach disk: a crash may then lose tokens issued
	// in the last moments, which their clients fetch again.
	CreateClientToken(ctx context.Context, t Token) error
}

// ClientTokenProblem says what makes t unfit for CreateClientToken, or ""
// if nothing does: both backends refuse the same tokens.
func ClientTokenProblem(t Token) string {
	switch {
	case t.Kind != KindAccessToken:
		return "a client token is an access token, not a " + string(t.Kind)
	case t.UserID != "" || t.LoginSessionID != "":
		return "a client token has no user and no login session"
	case t.Predecessor != "" || t.RotatedAt != nil || t.RewoundAt != nil:
		return "a client token is never rotated"
	case t.Signature == "" || t.RequestID == "":
		return "a client token needs a signature and a request id"
	}
	return ""
}
