package domain

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// errNoIAM is what every IAM operation returns over a store that does not
// implement store.IAM yet.
var errNoIAM = errors.New("domain: the store does not implement store.IAM")

// noIAM stands in for the IAM half of a store that lacks it (see
// NewService), failing every call instead of panicking on a nil interface.
type noIAM struct{}

var _ store.IAM = noIAM{}

func (noIAM) RecordLoginSuccess(context.Context, string, time.Time, string) error { return errNoIAM }
func (noIAM) RecordLoginFailure(context.Context, string, time.Time, int, time.Duration) (store.User, error) {
	return store.User{}, errNoIAM
}
func (noIAM) CreateGroup(context.Context, store.Group) error { return errNoIAM }
func (noIAM) GetGroup(context.Context, string) (store.Group, error) {
	return store.Group{}, errNoIAM
}
func (noIAM) UpdateGroup(context.Context, store.Group) error                { return errNoIAM }
func (noIAM) DeleteGroup(context.Context, string) error                     { return errNoIAM }
func (noIAM) ListGroups(context.Context) ([]store.Group, error)             { return nil, errNoIAM }
func (noIAM) AddGroupMember(context.Context, string, string) error          { return errNoIAM }
func (noIAM) RemoveGroupMember(context.Context, string, string) error       { return errNoIAM }
func (noIAM) ListGroupMembers(context.Context, string) ([]string, error)    { return nil, errNoIAM }
func (noIAM) ListUserGroups(context.Context, string) ([]store.Group, error) { return nil, errNoIAM }
func (noIAM) CreateAccessRequest(context.Context, store.AccessRequest) error {
	return errNoIAM
}
func (noIAM) GetAccessRequest(context.Context, string) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNoIAM
}
func (noIAM) ListAccessRequests(context.Context, store.AccessRequestFilter) ([]store.AccessRequest, error) {
	return nil, errNoIAM
}
func (noIAM) DecideAccessRequest(context.Context, string, store.AccessRequestStatus, string, string, string, time.Time) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNoIAM
}
func (noIAM) CreateAPIToken(context.Context, store.APIToken) error { return errNoIAM }
func (noIAM) GetAPIToken(context.Context, string) (store.APIToken, error) {
	return store.APIToken{}, errNoIAM
}
func (noIAM) GetAPITokenBySecretHash(context.Context, []byte) (store.APIToken, error) {
	return store.APIToken{}, errNoIAM
}
func (noIAM) ListAPITokens(context.Context, string, string) ([]store.APIToken, error) {
	return nil, errNoIAM
}
func (noIAM) RevokeAPIToken(context.Context, string, time.Time) error { return errNoIAM }
func (noIAM) TouchAPIToken(context.Context, string, time.Time) error  { return errNoIAM }
func (noIAM) AppendAudit(context.Context, store.AuditEntry) (int64, error) {
	return 0, errNoIAM
}
func (noIAM) ListAudit(context.Context, store.AuditFilter) ([]store.AuditEntry, error) {
	return nil, errNoIAM
}
