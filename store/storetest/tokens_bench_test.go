package storetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// The benchmarks of this file measure, on every backend, the store
// operations a token request performs, one by one, so that a slow token
// endpoint can be traced to its round trips. They sit beside the
// conformance suite because, like it, they run one body on every backend.
//
// Each operation runs serially (latency: one request alone) and in
// parallel (throughput: several requests sharing the store; on PostgreSQL
// the pool's connections and the server's CPUs are shared too).

type benchBackend struct {
	name string
	open func(b *testing.B) store.Store
}

func benchBackends() []benchBackend {
	return []benchBackend{
		{"memory", func(*testing.B) store.Store { return memory.New() }},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.New(context.Background(), pgtest.NewDatabase(b))
			if err != nil {
				b.Fatalf("postgres.New: %v", err)
			}
			b.Cleanup(s.Close)
			return s
		}},
	}
}

// pgParallelism makes RunParallel start 4 goroutines per CPU: PostgreSQL
// operations mostly wait on the network and the server, so one goroutine per
// CPU would leave both idle.
const pgParallelism = 4

// benchEnv is one backend with the client and user every token belongs to.
type benchEnv struct {
	s      store.Store
	client store.Client
	user   store.User
	// request is a serialized fosite request of typical size, as the
	// provider stores it with every token.
	request json.RawMessage
	// seq numbers the grants and tokens, whose names must be unique for the
	// life of the store (every run of every operation shares it).
	seq atomic.Int64
	now time.Time
	// waits is true for backends whose operations wait on I/O, which run
	// with more goroutines than CPUs in parallel benchmarks.
	waits bool
}

// backgroundGrants are stored before any benchmark runs (each with an
// access and a refresh token), so that every operation works on a table of
// some size rather than an empty one: a lookup or scan whose cost grows
// with the table shows here.
const backgroundGrants = 5000

func newBenchEnv(b *testing.B, s store.Store, backend string) *benchEnv {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := &benchEnv{s: s, now: now, waits: backend == "postgres"}
	e.client = store.Client{
		ID:                      "web",
		Name:                    "Web app",
		SecretHash:              make([]byte, 32),
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{"https://app.example/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		CreatedAt:               now,
		UpdatedAt:               now,
	}
	if err := s.CreateClient(ctx, e.client); err != nil {
		b.Fatalf("create client: %v", err)
	}
	e.user = store.User{
		ID:           uuid.NewString(),
		Username:     "alice",
		Email:        "alice@example.com",
		PasswordHash: "unused: nobody signs in",
		FullName:     "Alice Example",
		Status:       store.StatusActive,
		Roles:        []string{"user"},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.CreateUser(ctx, e.user); err != nil {
		b.Fatalf("create user: %v", err)
	}
	e.request = benchRequest(b, e.client.ID, e.user.ID, now)
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		for range backgroundGrants {
			if _, err := e.newGrant(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("create background grants: %v", err)
	}
	return e
}

// benchRequest returns a request shaped like provider's storedRequest for an
// OpenID Connect grant with a refresh token: about the size every token
// row carries.
func benchRequest(b *testing.B, clientID, userID string, now time.Time) json.RawMessage {
	b.Helper()
	raw, err := json.Marshal(map[string]any{
		"id":               uuid.NewString(),
		"requested_at":     now,
		"client_id":        clientID,
		"requested_scopes": []string{"openid", "profile", "email", "offline_access"},
		"granted_scopes":   []string{"openid", "profile", "email", "offline_access"},
		"form": map[string][]string{
			"grant_type":   {"authorization_code"},
			"redirect_uri": {"https://app.example/callback"},
		},
		"session": map[string]any{
			"id_token_claims": map[string]any{
				"sub": userID, "iss": "https://id.example.com", "aud": []string{clientID},
				"nonce": "n-0S6_WzA2Mj", "auth_time": now, "rat": now, "iat": now, "exp": now.Add(time.Hour),
				"ext": map[string]any{
					"name": "Alice Example", "preferred_username": "alice",
					"email": "alice@example.com", "email_verified": true, "updated_at": now.Unix(),
				},
			},
			"headers":    map[string]any{"extra": map[string]any{}},
			"expires_at": map[string]any{"access_token": now.Add(time.Hour), "refresh_token": now.Add(1440 * time.Hour)},
			"username":   "alice",
			"subject":    userID,
			"user_id":    userID,
			"client_id":  clientID,
		},
	})
	if err != nil {
		b.Fatalf("marshal request: %v", err)
	}
	return raw
}

// next returns a name no other operation has used.
func (e *benchEnv) next(prefix string) string {
	return prefix + strconv.FormatInt(e.seq.Add(1), 10)
}

// token is a token of the env's grant requestID, as the provider stores it.
func (e *benchEnv) token(kind store.TokenKind, requestID string) store.Token {
	return store.Token{
		Kind:          kind,
		Signature:     e.next("sig-"),
		RequestID:     requestID,
		ClientID:      e.client.ID,
		Subject:       e.user.ID,
		UserID:        e.user.ID,
		GrantedScopes: []string{"openid", "profile", "email", "offline_access"},
		RequestedAt:   e.now,
		ExpiresAt:     e.now.Add(time.Hour),
		Active:        true,
		Request:       e.request,
	}
}

// newGrant stores a grant with an access and a refresh token and returns
// the refresh token.
func (e *benchEnv) newGrant(ctx context.Context) (store.Token, error) {
	requestID := e.next("grant-")
	if err := e.s.CreateToken(ctx, e.token(store.KindAccessToken, requestID)); err != nil {
		return store.Token{}, err
	}
	rt := e.token(store.KindRefreshToken, requestID)
	return rt, e.s.CreateToken(ctx, rt)
}

// benchOp is one store operation. setup (optional) runs before the timer
// with the number of operations that will follow; worker returns what one
// goroutine repeats, so that it may keep state of its own (a refresh token
// chain).
type benchOp struct {
	name   string
	setup  func(b *testing.B, n int)
	worker func(ctx context.Context) (func() error, error)
}

func (e *benchEnv) bench(b *testing.B, op benchOp) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		if op.setup != nil {
			op.setup(b, b.N)
		}
		do, err := op.worker(ctx)
		if err != nil {
			b.Fatalf("%s: prepare: %v", op.name, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := do(); err != nil {
				b.Fatalf("%s: %v", op.name, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		if op.setup != nil {
			op.setup(b, b.N)
		}
		if e.waits {
			b.SetParallelism(pgParallelism)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			do, err := op.worker(ctx)
			if err != nil {
				b.Errorf("%s: prepare: %v", op.name, err)
				return
			}
			for pb.Next() {
				if err := do(); err != nil {
					b.Errorf("%s: %v", op.name, err)
					return
				}
			}
		})
	})
}

// BenchmarkTokenStore: the store side of a token request. A
// client_credentials request does GetClient and CreateToken; introspection
// and every resource API call GetToken (and GetClient); a refresh runs the
// rotation transaction; logout and revocation RevokeGrant.
//
// Every operation gets a store of its own, holding the background grants
// and what the operation's own runs add, so that one operation's rows (a
// CreateToken run adds hundreds of thousands on memory) do not slow down
// the next one.
func BenchmarkTokenStore(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, name := range []string{"GetClient", "CreateToken", "GetToken", "RefreshRotation", "RevokeGrant"} {
				b.Run(name, func(b *testing.B) {
					e := newBenchEnv(b, be.open(b), be.name)
					e.bench(b, e.op(b, name))
				})
			}
		})
	}
}

// op returns the named operation on e's store.
func (e *benchEnv) op(b *testing.B, name string) benchOp {
	for _, op := range e.ops() {
		if op.name == name {
			return op
		}
	}
	b.Fatalf("no operation %q", name)
	return benchOp{}
}

func (e *benchEnv) ops() []benchOp {
	// hot are tokens GetToken cycles through, so that it does not read
	// one row only.
	var hot []store.Token
	// revocable are grants RevokeGrant consumes, one per operation.
	var revocable []string
	var nextGrant atomic.Int64

	return []benchOp{
		{name: "GetClient", worker: func(ctx context.Context) (func() error, error) {
			return func() error {
				c, err := e.s.GetClient(ctx, e.client.ID)
				if err == nil && c.ID != e.client.ID {
					err = fmt.Errorf("got client %q", c.ID)
				}
				return err
			}, nil
		}},
		// One round trip stores the grant and the token together.
		{name: "CreateToken", worker: func(ctx context.Context) (func() error, error) {
			return func() error {
				return e.s.CreateToken(ctx, e.token(store.KindAccessToken, e.next("grant-")))
			}, nil
		}},
		{name: "GetToken",
			setup: func(b *testing.B, _ int) {
				if hot != nil {
					return
				}
				ctx := context.Background()
				for range 1024 {
					t := e.token(store.KindAccessToken, e.next("grant-"))
					if err := e.s.CreateToken(ctx, t); err != nil {
						b.Fatalf("create token: %v", err)
					}
					hot = append(hot, t)
				}
			},
			worker: func(ctx context.Context) (func() error, error) {
				i := 0
				return func() error {
					want := hot[i%len(hot)]
					i++
					t, err := e.s.GetToken(ctx, store.KindAccessToken, want.Signature)
					if err == nil && (t.RequestID != want.RequestID || !t.Active || len(t.Request) == 0) {
						err = fmt.Errorf("got token of grant %q, active %v", t.RequestID, t.Active)
					}
					return err
				}, nil
			}},
		// The refresh_token grant's transaction as the provider runs it:
		// lock and read the refresh token, mark it used and drop the access
		// tokens issued with it (fositeStore.RotateRefreshToken), store the
		// new access and refresh tokens. Each goroutine follows its own
		// chain, as one client refreshing again and again.
		{name: "RefreshRotation", worker: func(ctx context.Context) (func() error, error) {
			rt, err := e.newGrant(ctx)
			if err != nil {
				return nil, err
			}
			return func() error {
				err := store.InTx(ctx, e.s, func(ctx context.Context) error {
					old, err := e.s.GetToken(ctx, store.KindRefreshToken, rt.Signature)
					if err != nil {
						return err
					}
					if !old.Active {
						return fmt.Errorf("refresh token %s is inactive", old.Signature)
					}
					if err := e.s.DeactivateToken(ctx, store.KindRefreshToken, rt.Signature); err != nil {
						return err
					}
					if err := e.s.DeleteTokensByRequest(ctx, store.KindAccessToken, old.RequestID); err != nil {
						return err
					}
					if err := e.s.CreateToken(ctx, e.token(store.KindAccessToken, old.RequestID)); err != nil {
						return err
					}
					next := e.token(store.KindRefreshToken, old.RequestID)
					if err := e.s.CreateToken(ctx, next); err != nil {
						return err
					}
					rt = next
					return nil
				})
				return err
			}, nil
		}},
		// Revoking a grant with an access and a refresh token (logout,
		// RFC 7009 revocation, refresh token reuse).
		{name: "RevokeGrant",
			setup: func(b *testing.B, n int) {
				ctx := context.Background()
				// One transaction: setting up many grants should not cost a
				// commit each.
				err := store.InTx(ctx, e.s, func(ctx context.Context) error {
					for range n {
						rt, err := e.newGrant(ctx)
						if err != nil {
							return err
						}
						revocable = append(revocable, rt.RequestID)
					}
					return nil
				})
				if err != nil {
					b.Fatalf("create grants: %v", err)
				}
			},
			worker: func(ctx context.Context) (func() error, error) {
				return func() error {
					i := nextGrant.Add(1) - 1
					if i >= int64(len(revocable)) {
						return fmt.Errorf("grant %d of %d: setup made too few", i, len(revocable))
					}
					return e.s.RevokeGrant(ctx, revocable[i])
				}, nil
			}},
	}
}
