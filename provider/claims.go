package provider

import (
	"context"
	"math"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Generate signs claims with fosite's signer after writing every integral
// number as an integer. A grant's session is stored as JSON, so the claims
// it carries back (updated_at in the ID token's extra claims, say) come out
// of the database as float64; go-jose's encoder writes a float64 in %g form
// (1.796235815e+09), which RFC 7519 allows but many relying parties'
// NumericDate parsers refuse. Every JWT gatehouse signs (ID tokens, JWT
// access tokens) passes here, so no claim can escape the conversion.
// (The JSON endpoints use encoding/json, which writes integral float64s
// without an exponent.)
func (s *signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	return s.DefaultSigner.Generate(ctx, integralClaims(claims), header)
}

// maxExactInteger is the largest magnitude up to which every integer is a
// float64 (2^53): beyond it a float64 stands for a range, not one integer,
// and is left as it is.
const maxExactInteger = 1 << 53

// integralClaims returns a copy of claims in which every float64 holding an
// integer, at any depth, is an int64. The JSON value is the same number;
// only its spelling changes. claims itself is not modified: it may share
// maps with the session.
func integralClaims(claims jwt.MapClaims) jwt.MapClaims {
	if claims == nil {
		return nil
	}
	return jwt.MapClaims(integralMap(claims))
}

func integralMap(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = integralValue(v)
	}
	return out
}

func integralValue(v interface{}) interface{} {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= maxExactInteger {
			return int64(v)
		}
		return v
	case map[string]interface{}:
		return integralMap(v)
	case jwt.MapClaims:
		return integralMap(v)
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, e := range v {
			out[i] = integralValue(e)
		}
		return out
	default:
		return v
	}
}

// grantable reports whether scope may be granted to a grant of u. A
// break-glass account's grants get no offline access (domain/breakglass.go):
// no refresh token outlives its one-hour session, and its access tokens
// are the configured access-token lifetime, once.
func grantable(u store.User, scope string) bool {
	return !u.BreakGlass || (scope != "offline_access" && scope != "offline")
}

// profileClaims adds the profile and phone claims the scopes allow
// (OpenID Connect Core 5.4): profile → given_name, family_name, locale,
// zoneinfo, picture, each only when set, and name made of the given and
// family names when no full name is set; phone → phone_number and
// phone_number_verified when a number is set.
func profileClaims(claims map[string]interface{}, u store.User, scopes fosite.Arguments) {
	if scopes.Has("profile") {
		if name := domain.DisplayName(u); name != "" {
			claims["name"] = name
		}
		for k, v := range map[string]string{
			"given_name": u.GivenName, "family_name": u.FamilyName,
			"locale": u.Locale, "zoneinfo": u.Zoneinfo, "picture": u.Picture,
		} {
			if v != "" {
				claims[k] = v
			}
		}
	}
	if scopes.Has("phone") && u.PhoneNumber != "" {
		claims["phone_number"] = u.PhoneNumber
		claims["phone_number_verified"] = u.PhoneNumberVerified
	}
}
