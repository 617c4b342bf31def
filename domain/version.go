package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/gatehouse/gatehouse/store"
)

// UserVersion names the version of u an edit is based on: the API sends it
// as the user's ETag and takes it back in If-Match. It changes whenever
// anything an edit could overwrite changes: the audited fields (those
// UpdateUser, SetUserStatus, SetUserRoles and approvals write) and
// UpdatedAt, which every edit, a password change included, moves. Hashing
// the fields and not only UpdatedAt keeps two edits apart even when a
// clock gives both the same instant. Sign-in bookkeeping (last sign-in,
// failure count) is not part of it: a sign-in does not make an
// administrator's edit stale.
func UserVersion(u store.User) string {
	doc, err := json.Marshal(struct {
		ID        string `json:"id"`
		UpdatedAt int64  `json:"updated_at"`
		Fields    fields `json:"fields"`
	}{u.ID, u.UpdatedAt.UnixMicro(), userFields(u)})
	if err != nil {
		// userFields holds strings, lists, bools and decoded JSON, which
		// always marshal; an error here is a bug, and a version of it
		// would match nothing an edit holds.
		return "unversioned"
	}
	sum := sha256.Sum256(doc)
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// userAt is the precondition that the user is at one of versions.
func userAt(versions []string) func(store.User) error {
	return func(cur store.User) error {
		if slices.Contains(versions, UserVersion(cur)) {
			return nil
		}
		return newError(CodeStale, "the user changed since you read it: read it again and reapply your change")
	}
}
