package admin

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/dpop"
)

// DPoPChecker verifies the DPoP proof (RFC 9449) of request r presenting
// the access token token, for this request (htm, htu, ath) and once, and
// returns the thumbprint of the proof's key. A bad proof is an error
// wrapping ErrInvalidDPoPProof; any other error means the proof could not
// be checked.
type DPoPChecker func(r *http.Request, token string) (jkt string, err error)

// ErrInvalidDPoPProof is what a DPoPChecker returns (wrapped) for a proof
// that does not hold.
var ErrInvalidDPoPProof = errors.New("admin: invalid DPoP proof")

// checkDPoP lets a token through only as it is bound: a DPoP-bound token
// (jkt) with the DPoP scheme and a valid proof of its key, an unbound one
// as a bearer token. Every refusal is a 401 with a DPoP challenge (RFC
// 9449 §7.1), which names the algorithms a client may sign with.
func (a *API) checkDPoP(r *http.Request, token string, isDPoP bool, jkt string) error {
	switch {
	case !isDPoP && jkt == "":
		return nil
	case !isDPoP:
		return dpopChallenge("invalid_token", "the access token is bound to a DPoP key: present it with the DPoP scheme and a proof")
	case jkt == "" || a.dpop == nil:
		return dpopChallenge("invalid_token", "the access token is not bound to a DPoP key: present it as a bearer token")
	}
	got, err := a.dpop(r, token)
	if errors.Is(err, ErrInvalidDPoPProof) {
		a.log.DebugContext(r.Context(), "api: DPoP proof refused", "error", err)
		return dpopChallenge(dpop.CodeInvalidProof, "the DPoP proof is invalid")
	}
	if err != nil {
		return err
	}
	if got != jkt {
		return dpopChallenge(dpop.CodeInvalidProof, "the DPoP proof is not signed with the key the access token is bound to")
	}
	return nil
}

func dpopChallenge(code, detail string) *apiError {
	e := problemf(http.StatusUnauthorized, "%s", detail)
	e.wwwAuthenticate = `DPoP error="` + code + `", algs="` + dpop.AlgorithmsParam() + `"`
	return e
}
