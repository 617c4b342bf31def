package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var (
	_ store.Store = (*Store)(nil)
)

// Store keeps everything in maps guarded by one lock. The zero value is not
// usable; call New.
type Store struct {
	now func() time.Time
	// observers hear of revocations of access tokens (tokenchanges.go).
	observers tokenObservers
	// lock is the store-wide mutex, a channel so that waiting for it honours
	// the caller's context: a deadlock then ends with the context's error.
	lock chan struct{}

	clients   map[string]store.Client
	users     map[string]store.User
	usernames map[string]string // lowercased username -> user id
	emails    map[string]string // lowercased email -> user id
	roles     map[string]store.Role
	tokens    map[tokenKey]store.Token
	grants    map[string]store.Grant
	pars      map[string]store.PARRequest
	sessions  map[string]store.LoginSession
	consents  map[consentKey]store.Consent
	keys      map[string]store.SigningKey
	jtis      map[string]time.Time
	issuers   map[string]store.TrustedIssuer

	groups     map[string]store.Group
	groupNames map[string]string // name -> group id
	members    map[memberKey]struct{}
	requests   map[string]store.AccessRequest
	apiTokens  map[string]store.APIToken
	apiHashes  map[string]string // secret digest -> API token id
	audit      map[int64]store.AuditEntry
	factors    map[string]store.MFAFactor
	recovery   map[recoveryKey]recoveryCode
	challenges map[string]store.MFAChallenge
	// auditHead is the audit chain's head: the last id and its digest. It
	// is rolled back with the append, as PostgreSQL's audit_chain_head row
	// is, so chained ids have no gaps.
	auditHead store.AuditChainHead

	failures map[failureKey]store.SignInFailure
	// credentials and ceremonies are the passkeys and the state of their
	// ceremonies.
	credentials map[string]store.WebAuthnCredential
	ceremonies  map[string]store.WebAuthnCeremony
	tickets     map[string]store.Ticket // string(digest) -> ticket
	outbox      map[string]store.Mail
	// logouts is the back-channel logout queue.
	logouts map[string]store.Logout

	// idps and links are the upstream identity providers and the
	// identities linked through them (idp).
	idps  map[string]store.IdentityProvider
	links map[string]store.LinkedIdentity

	// deviceCodes are the device authorizations (RFC 8628) by signature.
	deviceCodes map[string]store.DeviceCode

	// dpopProofs: string(jti digest) -> expiry (dpop.go).
	dpopProofs map[string]time.Time

	// Areas (areas.go): the tree, code -> id, memberships (value: the
	// default area) and role grants.
	areas       map[string]store.Area
	areaCodes   map[string]string
	areaMembers map[areaMemberKey]bool
	areaGrants  map[areaGrantKey]store.AreaRoleGrant
	// Webhooks: the subscriptions by id and the deliveries by id, whose
	// ids come from webhookSeq (webhooks.go).
	webhooks   map[string]store.WebhookSubscription
	deliveries map[int64]store.WebhookDelivery
	webhookSeq int64
	// permissions are the custom permissions by name (permissions.go).
	permissions map[string]store.Permission
	// usage: the aggregated usage counters (appaccess, usage.go).
	usage map[usageKey]int64
	// clientGrants are the grants of client tokens (clienttokens.go), which
	// go with their one token.
	clientGrants map[string]bool
}

type memberKey struct{ groupID, userID string }

type tokenKey struct {
	kind      store.TokenKind
	signature string
}

type consentKey struct{ userID, clientID string }

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used where the contract gives no time: the expiry
// of PAR requests, the timestamps of seeded roles and of role updates that
// carry none.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty store holding the built-in roles.
func New(opts ...Option) *Store {
	s := &Store{
		now:       time.Now,
		lock:      make(chan struct{}, 1),
		clients:   map[string]store.Client{},
		users:     map[string]store.User{},
		usernames: map[string]string{},
		emails:    map[string]string{},
		roles:     map[string]store.Role{},
		tokens:    map[tokenKey]store.Token{},
		grants:    map[string]store.Grant{},
		pars:      map[string]store.PARRequest{},
		sessions:  map[string]store.LoginSession{},
		consents:  map[consentKey]store.Consent{},
		keys:      map[string]store.SigningKey{},
		jtis:      map[string]time.Time{},
		issuers:   map[string]store.TrustedIssuer{},

		groups:     map[string]store.Group{},
		groupNames: map[string]string{},
		members:    map[memberKey]struct{}{},
		requests:   map[string]store.AccessRequest{},
		apiTokens:  map[string]store.APIToken{},
		apiHashes:  map[string]string{},
		audit:      map[int64]store.AuditEntry{},
		failures:   map[failureKey]store.SignInFailure{},
		factors:    map[string]store.MFAFactor{},
		recovery:   map[recoveryKey]recoveryCode{},
		challenges: map[string]store.MFAChallenge{},

		credentials: map[string]store.WebAuthnCredential{},
		ceremonies:  map[string]store.WebAuthnCeremony{},

		tickets: map[string]store.Ticket{},
		outbox:  map[string]store.Mail{},

		logouts:     map[string]store.Logout{},
		idps:        map[string]store.IdentityProvider{},
		links:       map[string]store.LinkedIdentity{},
		deviceCodes: map[string]store.DeviceCode{},
		dpopProofs:  map[string]time.Time{},

		areas:       map[string]store.Area{},
		areaCodes:   map[string]string{},
		areaMembers: map[areaMemberKey]bool{},
		areaGrants:  map[areaGrantKey]store.AreaRoleGrant{},
		webhooks:    map[string]store.WebhookSubscription{},
		deliveries:  map[int64]store.WebhookDelivery{},
		permissions: map[string]store.Permission{},
		usage:       map[usageKey]int64{},
		// Client tokens (clienttokens.go).
		clientGrants: map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	at := stamp(s.now())
	for _, r := range store.BuiltInRoles() {
		r.CreatedAt, r.UpdatedAt = at, at
		s.roles[r.Name] = copyRole(r)
	}
	return s
}

// Ping reports the context's error, if any: memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing; the store lives as long as it is referenced.
func (s *Store) Close() {}

// ---------------------------------------------------------------------------
// Locking and transactions

// txKey is per store, so that a context may carry transactions of several
// stores without one hiding another.
type txKey struct{ s *Store }

// tx is a transaction or, when parent is set, a savepoint inside one. Only
// the goroutine running the transaction touches it; done is atomic because
// a finished transaction's context may still be handed around.
type tx struct {
	parent *tx
	root   *tx
	// mark is the length of root.log when the savepoint was taken.
	mark int
	// log holds, on the root only, the undo of every write so far.
	log  []func()
	done atomic.Bool
}

// finished reports whether the transaction or one it is nested in ended.
func (t *tx) finished() bool {
	for p := t; p != nil; p = p.parent {
		if p.done.Load() {
			return true
		}
	}
	return false
}

var errTxFinished = errors.New("transaction already finished")

func (s *Store) txFrom(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey{s}).(*tx)
	return t
}

func (s *Store) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) release() { <-s.lock }

// BeginTx takes the store lock for the whole transaction. Given a context
// that holds one of this store's transactions, it takes a savepoint instead
// (the lock is already held).
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if t := s.txFrom(ctx); t != nil {
		if t.finished() {
			return nil, fmt.Errorf("memory: begin: %w", errTxFinished)
		}
		sp := &tx{parent: t, root: t.root, mark: len(t.root.log)}
		return context.WithValue(ctx, txKey{s}, sp), nil
	}
	if err := s.acquire(ctx); err != nil {
		return nil, fmt.Errorf("memory: begin: %w", err)
	}
	t := &tx{}
	t.root = t
	return context.WithValue(ctx, txKey{s}, t), nil
}

// Commit ends the transaction of ctx. A savepoint's writes stay in the
// enclosing transaction's undo log, so its rollback still undoes them.
func (s *Store) Commit(ctx context.Context) error {
	t := s.txFrom(ctx)
	if t == nil {
		return errors.New("memory: commit: no transaction in context")
	}
	if t.finished() {
		return fmt.Errorf("memory: commit: %w", errTxFinished)
	}
	t.done.Store(true)
	if t.root == t {
		t.log = nil
		s.release()
	}
	return nil
}

// Rollback undoes the writes made since the transaction (or savepoint) of
// ctx began. After Commit it does nothing, so callers may defer it.
func (s *Store) Rollback(ctx context.Context) error {
	t := s.txFrom(ctx)
	if t == nil {
		return errors.New("memory: rollback: no transaction in context")
	}
	if t.finished() {
		return nil
	}
	t.done.Store(true)
	r := t.root
	for i := len(r.log) - 1; i >= t.mark; i-- {
		r.log[i]()
	}
	clear(r.log[t.mark:])
	r.log = r.log[:t.mark]
	if r == t {
		r.log = nil
		s.release()
	}
	return nil
}

// op is what one operation needs of its transaction: where to log undos.
type op struct{ tx *tx }

func (o op) undo(fn func()) {
	if o.tx != nil {
		o.tx.log = append(o.tx.log, fn)
	}
}

// do runs fn under the store lock: inside the caller's transaction if ctx
// holds one of this store's, else holding the lock for fn alone. It never
// takes the lock while this goroutine's transaction holds it.
func (s *Store) do(ctx context.Context, what string, fn func(o op) error) error {
	if t := s.txFrom(ctx); t != nil {
		if t.finished() {
			return fmt.Errorf("memory: %s: %w", what, errTxFinished)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memory: %s: %w", what, err)
		}
		return wrap(what, fn(op{t.root}))
	}
	if err := s.acquire(ctx); err != nil {
		return fmt.Errorf("memory: %s: %w", what, err)
	}
	defer s.release()
	return wrap(what, fn(op{}))
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("memory: %s: %w", what, err)
}

// put and del change a map and log how to change it back. Stored values are
// never modified in place, so restoring the old value restores the state.
func put[K comparable, V any](o op, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	o.undo(func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// deleteExpired deletes up to limit entries of m whose expiry is not after
// now, soonest-expired first, and returns their keys.
func deleteExpired[K comparable, V any](o op, m map[K]V, expiry func(V) time.Time, now time.Time, limit int) []K {
	var expired []K
	for k, v := range m {
		if !now.Before(expiry(v)) {
			expired = append(expired, k)
		}
	}
	slices.SortFunc(expired, func(a, b K) int { return expiry(m[a]).Compare(expiry(m[b])) })
	expired = expired[:min(max(limit, 0), len(expired))]
	for _, k := range expired {
		del(o, m, k)
	}
	return expired
}

func del[K comparable, V any](o op, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	o.undo(func() { m[k] = old })
}

// ---------------------------------------------------------------------------
// Copying, so that no slice, map or JSON is shared with callers.

// stamp keeps what PostgreSQL keeps of a time: microseconds, in UTC.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func stampPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := stamp(*t)
	return &v
}

// list copies a string list; never nil, so that it reads back as [].
func list(in []string) []string {
	out := make([]string, len(in))
	copy(out, in)
	return out
}

// blob copies bytes; empty reads back as nil, like a NULL column.
func blob(in []byte) []byte {
	if len(in) == 0 {
		return nil
	}
	return bytes.Clone(in)
}

func rawJSON(in json.RawMessage) json.RawMessage { return json.RawMessage(blob(in)) }

// checkJSON refuses what a jsonb column would refuse.
func checkJSON(field string, v json.RawMessage) error {
	if len(v) > 0 && !json.Valid(v) {
		return fmt.Errorf("%s is not valid JSON", field)
	}
	return nil
}

// canonicalUUID returns the canonical spelling of a UUID, as a uuid column
// would; ok is false if id is no UUID.
func canonicalUUID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
