package domain

import (
	"context"

	"github.com/gatehouse/gatehouse/store"
)

// Invalidate drops what the service caches of a changed record: the role
// definitions on ChangeRole, whether any webhook subscription is enabled on
// ChangeWebhook, both on ChangeAll. The server calls it with the
// changes other instances make, as the store's change feed reports them;
// the service's own writes invalidate at once, without it.
func (s *Service) Invalidate(e store.ChangeEvent) {
	switch e.Kind {
	case store.ChangeRole:
		// The roles are cached as one map: the hierarchy is walked over
		// all of them.
		s.roles.InvalidateAll()
	case store.ChangeWebhook:
		s.webhooks.InvalidateAll()
	case store.ChangeFeedLost:
		s.webhooksUnheard.Store(true)
	case store.ChangeAll:
		s.roles.InvalidateAll()
		s.webhooks.InvalidateAll()
		s.webhooksUnheard.Store(false)
	}
}

// changed is called once a mutation of a client or role has committed:
// this process must see its own write at once, here and in the other
// caches OnChange reaches, not a notification's round trip later.
func (s *Service) changed(kind store.ChangeKind, id string) {
	e := store.ChangeEvent{Kind: kind, ID: id}
	s.Invalidate(e)
	if s.opts.OnChange != nil {
		s.opts.OnChange(e)
	}
}

// cachedRoleMap is roleMap served from the cache, for reads that do not
// validate a write. The map is shared: callers must not modify it.
func (s *Service) cachedRoleMap(ctx context.Context) (map[string]store.Role, error) {
	return s.roles.Get(struct{}{}, func() (map[string]store.Role, error) { return s.roleMap(ctx) })
}
