package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

// Errors callers branch on.
var (
	// ErrNoActiveKey: the store holds no active (or, for Rotate, no next)
	// key; Ensure has not run.
	ErrNoActiveKey = errors.New("keys: no active signing key (Ensure has not run)")
	// ErrUnknownKey: no published key has the requested kid.
	ErrUnknownKey = errors.New("keys: unknown key id")
)

const (
	// MinSecretLen is the shortest GATEHOUSE_SECRET accepted: 256 bits, the
	// size of the AES key derived from it.
	MinSecretLen = 32

	defaultRetireAfter = 2 * time.Hour
	defaultCacheTTL    = 30 * time.Second

	// missReloadInterval bounds reloads caused by unknown kids: any caller
	// can present a token with a made-up kid, and each must not cost a
	// database query.
	missReloadInterval = time.Second
)

// Options tune a Manager. Zero fields take the documented defaults.
type Options struct {
	// Algorithm is the server default: the algorithm of the key Signer
	// returns, which signs JWT access tokens and the ID tokens of clients
	// that register no id_token_signed_response_alg. RS256 (default,
	// RSA-2048; the default OIDC Registration requires) or ES256 (P-256).
	Algorithm string
	// Algorithms keep a live key each (an active and a next one, rotated
	// together), so that a client may have its ID tokens signed with any of
	// them. Default RS256 and ES256; Algorithm must be among them.
	Algorithms []string
	// RetireAfter is how long a retired key stays published: the longest
	// lifetime of a token it may have signed (ID token, JWT access token).
	// Default 2h. CacheTTL is added on rotation, because another instance
	// may go on signing with the old key until its cache expires.
	RetireAfter time.Duration
	// CacheTTL is how long the in-process copy of the key set is trusted
	// before it is reloaded from the store (default 30s); another
	// instance's rotation is seen within this time at worst. (The server
	// calls Reload as soon as the store's change feed reports a key
	// change, so this is a safety net.)
	CacheTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SigningKey is an active key: one that signs new tokens. Private is a raw
// *rsa.PrivateKey or *ecdsa.PrivateKey: fosite v0.49's signer understands
// raw keys, not go-jose v4 types. Sign with the kid in the JWT header.
type SigningKey struct {
	ID        string
	Algorithm string
	Private   crypto.Signer
}

// Info describes a key without its key material.
type Info struct {
	ID          string         `json:"kid"`
	Algorithm   string         `json:"alg"`
	State       store.KeyState `json:"state"`
	CreatedAt   time.Time      `json:"created_at"`
	VerifyUntil *time.Time     `json:"verify_until,omitempty"`
}

// Manager owns the signing keys of one gatehouse instance. It is safe for
// concurrent use; several Managers (instances) may share one store.
type Manager struct {
	store       store.SigningKeys
	aead        cipher.AEAD
	alg         string   // the server default
	algs        []string // every algorithm kept live, alg first
	retireAfter time.Duration
	cacheTTL    time.Duration
	now         func() time.Time

	// loadMu lets one caller at a time read the store, so that a cache
	// expiry does not send every concurrent request to the database.
	loadMu         sync.Mutex
	lastMissReload time.Time // guarded by loadMu

	// mu guards the cache pointer only; a keySet is never modified after
	// it is built, so readers use it without holding the lock.
	mu    sync.RWMutex
	cache *keySet
}

// keySet is one snapshot of the store, with the active private keys
// decrypted.
type keySet struct {
	loadedAt time.Time
	// active holds the active key of each algorithm that has one; sealed
	// the same keys as stored, to skip decrypting them again.
	active map[string]*SigningKey
	sealed map[string][]byte
	keys   []published // active, next, then retired newest first
}

type published struct {
	info Info
	jwk  jose.JSONWebKey
}

// NewManager returns a Manager for the keys in s. secret is the raw
// GATEHOUSE_SECRET; private keys are encrypted with a key derived from it
// (Derive(secret, "signing-key-encryption", 32)), so every instance must run
// with the same secret. NewManager does not touch the store: call Ensure.
func NewManager(s store.SigningKeys, secret []byte, opts Options) (*Manager, error) {
	if s == nil {
		return nil, errors.New("keys: nil store")
	}
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("keys: secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	alg := opts.Algorithm
	if alg == "" {
		alg = RS256
	}
	if !supported(alg) {
		return nil, fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", alg, RS256, ES256)
	}
	algs := []string{alg}
	others := opts.Algorithms
	if others == nil {
		others = []string{RS256, ES256}
	}
	for _, a := range others {
		if !supported(a) {
			return nil, fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", a, RS256, ES256)
		}
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if opts.Algorithms != nil && !slices.Contains(opts.Algorithms, alg) {
		return nil, fmt.Errorf("keys: default algorithm %s is not among Algorithms %v", alg, opts.Algorithms)
	}
	if opts.RetireAfter < 0 || opts.CacheTTL < 0 {
		return nil, errors.New("keys: RetireAfter and CacheTTL must not be negative")
	}
	m := &Manager{
		store:       s,
		alg:         alg,
		algs:        algs,
		retireAfter: opts.RetireAfter,
		cacheTTL:    opts.CacheTTL,
		now:         opts.Now,
	}
	if m.retireAfter == 0 {
		m.retireAfter = defaultRetireAfter
	}
	if m.cacheTTL == 0 {
		m.cacheTTL = defaultCacheTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	aead, err := newAEAD(secret)
	if err != nil {
		return nil, err
	}
	m.aead = aead
	return m, nil
}

// Ensure makes sure an active and a next key exist for every algorithm,
// creating what is missing (so a store from before a second algorithm was
// kept gains its keys at the next start). Instances starting together may all try: the store accepts one
// key per state and the losers' ErrConflict just means another instance
// won. Ensure also decrypts the active key, so a wrong secret fails here, at
// start, rather than on the first token.
func (m *Manager) Ensure(ctx context.Context) error {
	ks, err := m.refresh(ctx, nil, reloadForce)
	if err != nil {
		return err
	}
	added := false
	for _, alg := range m.algs {
		for _, state := range []store.KeyState{store.KeyActive, store.KeyNext} {
			if ks.find(alg, state) != nil {
				continue
			}
			k, err := newStoredKey(m, alg, state)
			if err != nil {
				return err
			}
			switch err := m.store.AddSigningKey(ctx, k); {
			case err == nil, errors.Is(err, store.ErrConflict):
				added = true
			default:
				return fmt.Errorf("keys: add %s %s key: %w", alg, state, err)
			}
		}
	}
	if added {
		if ks, err = m.refresh(ctx, nil, reloadForce); err != nil {
			return err
		}
	}
	for _, alg := range m.algs {
		if ks.active[alg] == nil || ks.find(alg, store.KeyNext) == nil {
			return fmt.Errorf("keys: ensure: store has no active or no next %s key after adding them", alg)
		}
	}
	return nil
}

// Rotate rotates the keys of every algorithm: for each, it promotes the
// next key to active, retires the active key (published until now +
// RetireAfter + CacheTTL) and adds a new next key. The new keys are
// generated before the store is touched and each algorithm's are committed
// with a compare-and-swap on the ids this Manager saw; if another instance
// rotated an algorithm first, Rotate does not rotate it again. It then
// deletes retired keys whose VerifyUntil has passed. It returns the active
// key of the default algorithm (List shows them all).
func (m *Manager) Rotate(ctx context.Context) (Info, error) {
	ks, err := m.refresh(ctx, nil, reloadForce)
	if err != nil {
		return Info{}, err
	}
	type swap struct {
		active, next *published
		newNext      store.SigningKey
	}
	swaps := make([]swap, 0, len(m.algs))
	for _, alg := range m.algs {
		active, next := ks.find(alg, store.KeyActive), ks.find(alg, store.KeyNext)
		if active == nil || next == nil {
			return Info{}, fmt.Errorf("keys: rotate %s: %w", alg, ErrNoActiveKey)
		}
		newNext, err := newStoredKey(m, alg, store.KeyNext)
		if err != nil {
			return Info{}, err
		}
		swaps = append(swaps, swap{active, next, newNext})
	}
	now := m.now()
	retireUntil := now.Add(m.retireAfter + m.cacheTTL).UTC().Truncate(time.Microsecond)
	for _, sw := range swaps {
		err = m.store.RotateSigningKeys(ctx, sw.active.info.ID, sw.next.info.ID, sw.newNext, retireUntil)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return Info{}, fmt.Errorf("keys: rotate %s: %w", sw.newNext.Algorithm, err)
		}
	}
	if _, err := m.store.DeleteRetiredSigningKeys(ctx, now); err != nil {
		return Info{}, fmt.Errorf("keys: delete retired keys: %w", err)
	}
	if ks, err = m.refresh(ctx, nil, reloadForce); err != nil {
		return Info{}, err
	}
	a := ks.find(m.alg, store.KeyActive)
	if a == nil {
		return Info{}, fmt.Errorf("keys: rotate: %w", ErrNoActiveKey)
	}
	return a.info, nil
}

// Signer returns the active key of the default algorithm, for signing new
// tokens.
func (m *Manager) Signer(ctx context.Context) (SigningKey, error) {
	a, err := m.Active(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	return a.Default()
}

// Active returns the active key of every algorithm, taken from one snapshot
// of the key set: the token endpoint reads it once, before its
// transaction, and picks the key of each token from it.
func (m *Manager) Active(ctx context.Context) (Active, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return Active{}, err
	}
	return Active{def: m.alg, order: m.algs, keys: ks.active}, nil
}

// Active is the active key of each algorithm at one moment.
type Active struct {
	def   string
	order []string
	keys  map[string]*SigningKey // read-only: shared with the cached keySet
}

// Default is the active key of the server's default algorithm.
func (a Active) Default() (SigningKey, error) { return a.For("") }

// For is the active key of alg ("" for the server default); ErrNoActiveKey
// if the algorithm has none.
func (a Active) For(alg string) (SigningKey, error) {
	if alg == "" {
		alg = a.def
	}
	k := a.keys[alg]
	if k == nil {
		return SigningKey{}, fmt.Errorf("%w for %s", ErrNoActiveKey, alg)
	}
	return *k, nil
}

// Algorithms lists the algorithms that have an active key, the server
// default first: what discovery may truthfully offer.
func (a Active) Algorithms() []string {
	out := make([]string, 0, len(a.keys))
	for _, alg := range a.order {
		if a.keys[alg] != nil {
			out = append(out, alg)
		}
	}
	return out
}

// JWKS returns the public keys relying parties may verify with: the active
// key, the next key, and retired keys whose VerifyUntil is in the future.
func (m *Manager) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks.keys))}
	for _, k := range ks.keys {
		if k.live(now) {
			set.Keys = append(set.Keys, k.jwk)
		}
	}
	return set, nil
}

// PublicKey returns the published key with the kid, for verifying tokens
// gatehouse issued (id_token_hint, JWT access tokens). An unknown kid makes
// it reload from the store once (another instance may have rotated twice
// within CacheTTL) before it returns ErrUnknownKey; such reloads happen at
// most once a second however many unknown kids arrive.
func (m *Manager) PublicKey(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	ks, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	if k := ks.lookup(kid, m.now()); k != nil {
		return k, nil
	}
	if ks, err = m.refresh(ctx, ks, reloadMiss); err != nil {
		return nil, err
	}
	if k := ks.lookup(kid, m.now()); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// List returns every stored key, oldest first, retired keys awaiting
// deletion included. It reads the store directly and needs no secret to
// succeed, so `gatehouse keys list` works even when decryption would not.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	rows, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]Info, 0, len(rows))
	for _, r := range rows {
		out = append(out, infoOf(r))
	}
	return out, nil
}

// Reload drops the cached key set and loads it from the store now, for when
// another instance is known to have changed the keys. If loading fails the
// cache stays empty, so the next caller retries.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	m.cache = nil
	m.mu.Unlock()
	_, err := m.refresh(ctx, nil, reloadForce)
	return err
}

// current returns the cached key set, reloading it once it is older than
// CacheTTL. The common case takes only the read lock.
func (m *Manager) current(ctx context.Context) (*keySet, error) {
	m.mu.RLock()
	ks := m.cache
	m.mu.RUnlock()
	if ks != nil && m.now().Sub(ks.loadedAt) < m.cacheTTL {
		return ks, nil
	}
	return m.refresh(ctx, ks, reloadStale)
}

type reloadMode int

const (
	// reloadStale: seen is too old; any newer snapshot will do.
	reloadStale reloadMode = iota
	// reloadMiss: seen lacks a kid; any newer snapshot will do, and reading
	// the store again is rate-limited.
	reloadMiss
	// reloadForce: the store changed (or may have); read it again whatever
	// the cache holds, because a load already under way may predate the
	// change.
	reloadForce
)

// refresh replaces the cache with a fresh snapshot of the store. seen is the
// snapshot the caller judged insufficient: if another caller replaced it
// while this one waited for loadMu, that newer snapshot is used instead of
// reading the store again.
func (m *Manager) refresh(ctx context.Context, seen *keySet, mode reloadMode) (*keySet, error) {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.mu.RLock()
	cur := m.cache
	m.mu.RUnlock()
	if mode != reloadForce && cur != nil && cur != seen {
		return cur, nil
	}
	if mode == reloadMiss {
		now := m.now()
		if !m.lastMissReload.IsZero() && now.Sub(m.lastMissReload) < missReloadInterval && cur != nil {
			return cur, nil
		}
		m.lastMissReload = now
	}
	ks, err := m.load(ctx, cur)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.cache = ks
	m.mu.Unlock()
	return ks, nil
}

// load reads every key from the store and decrypts the active ones (reusing
// prev's copies when the stored bytes have not changed).
func (m *Manager) load(ctx context.Context, prev *keySet) (*keySet, error) {
	rows, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: load: %w", err)
	}
	ks := &keySet{loadedAt: m.now(), keys: make([]published, 0, len(rows)),
		active: map[string]*SigningKey{}, sealed: map[string][]byte{}}
	activeRows := map[string]*store.SigningKey{}
	for i, r := range rows {
		jwk, err := parsePublic(r)
		if err != nil {
			return nil, err
		}
		ks.keys = append(ks.keys, published{info: infoOf(r), jwk: jwk})
		if r.State == store.KeyActive {
			if a := activeRows[r.Algorithm]; a != nil {
				return nil, fmt.Errorf("keys: load: two active %s keys (%s, %s)", r.Algorithm, a.ID, r.ID)
			}
			activeRows[r.Algorithm] = &rows[i]
		}
	}
	sort.SliceStable(ks.keys, func(i, j int) bool {
		a, b := ks.keys[i].info, ks.keys[j].info
		if stateRank(a.State) != stateRank(b.State) {
			return stateRank(a.State) < stateRank(b.State)
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	for alg, row := range activeRows {
		if prev != nil && prev.active[alg] != nil && prev.active[alg].ID == row.ID && bytes.Equal(prev.sealed[alg], row.PrivateKey) {
			ks.active[alg], ks.sealed[alg] = prev.active[alg], prev.sealed[alg]
			continue
		}
		if ks.active[alg], err = m.decryptPrivate(*row); err != nil {
			return nil, err
		}
		ks.sealed[alg] = bytes.Clone(row.PrivateKey)
	}
	return ks, nil
}

func supported(alg string) bool { return alg == RS256 || alg == ES256 }

func (m *Manager) decryptPrivate(r store.SigningKey) (*SigningKey, error) {
	plain, err := open(m.aead, r.ID, r.PrivateKey)
	if err != nil {
		return nil, err
	}
	var jwk jose.JSONWebKey
	err = jwk.UnmarshalJSON(plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: parse private key: %w", r.ID, err)
	}
	signer, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() || !algorithmFits(r.Algorithm, signer.Public()) {
		return nil, fmt.Errorf("keys: signing key %s: not a %s private key", r.ID, r.Algorithm)
	}
	// The kid is the public key's thumbprint: checking it proves the private
	// key is the one the published public key belongs to.
	if tp, err := thumbprint(signer.Public()); err != nil || tp != r.ID {
		return nil, fmt.Errorf("keys: signing key %s: private key does not match its id", r.ID)
	}
	// A decoded RSA key lacks its CRT values until Precompute; without it,
	// every signature recomputes them (8% of a refresh's CPU, measured).
	if rk, ok := signer.(*rsa.PrivateKey); ok {
		rk.Precompute()
	}
	return &SigningKey{ID: r.ID, Algorithm: r.Algorithm, Private: signer}, nil
}

func parsePublic(r store.SigningKey) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(r.PublicKey); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: parse public key: %w", r.ID, err)
	}
	if !jwk.IsPublic() || !algorithmFits(r.Algorithm, jwk.Key) {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: not a %s public key", r.ID, r.Algorithm)
	}
	if tp, err := thumbprint(jwk.Key); err != nil || tp != r.ID {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: public key does not match its id", r.ID)
	}
	// The row, not the stored JSON, is authoritative for these.
	jwk.KeyID, jwk.Algorithm, jwk.Use = r.ID, r.Algorithm, "sig"
	return jwk, nil
}

func algorithmFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return alg == RS256 && k.N.BitLen() >= rsaBits
	case *ecdsa.PublicKey:
		return alg == ES256 && k.Curve == elliptic.P256()
	}
	return false
}

func infoOf(r store.SigningKey) Info {
	info := Info{ID: r.ID, Algorithm: r.Algorithm, State: r.State, CreatedAt: r.CreatedAt}
	if r.VerifyUntil != nil {
		t := *r.VerifyUntil
		info.VerifyUntil = &t
	}
	return info
}

func stateRank(s store.KeyState) int {
	switch s {
	case store.KeyActive:
		return 0
	case store.KeyNext:
		return 1
	}
	return 2
}

func (ks *keySet) find(alg string, state store.KeyState) *published {
	for i := range ks.keys {
		if ks.keys[i].info.Algorithm == alg && ks.keys[i].info.State == state {
			return &ks.keys[i]
		}
	}
	return nil
}

func (ks *keySet) lookup(kid string, now time.Time) *jose.JSONWebKey {
	for _, k := range ks.keys {
		if k.info.ID == kid && k.live(now) {
			jwk := k.jwk
			return &jwk
		}
	}
	return nil
}

// live reports whether the key is published at now.
func (k published) live(now time.Time) bool {
	if k.info.State != store.KeyRetired {
		return true
	}
	return k.info.VerifyUntil != nil && k.info.VerifyUntil.After(now)
}
