package provider

import "github.com/gatehouse/gatehouse/domain"

// withSID adds the sid claim (OIDC Back-Channel Logout 1.0 section 2.1) of
// the login session the grant was made in to an ID token's extra claims,
// so that a relying party can match the logout token it will receive when
// that session ends. Grants made outside a browser session carry none.
func withSID(claims map[string]interface{}, loginSessionID string) map[string]interface{} {
	if sid := domain.SessionSID(loginSessionID); sid != "" {
		claims["sid"] = sid
	}
	return claims
}
