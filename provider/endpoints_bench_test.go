package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/dpoptest"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// The benchmarks of this file send whole requests through the provider's
// router (httptest, no network): client authentication, the store round
// trips, the token minting and the JSON answer, on store/memory and on
// PostgreSQL. Next to ns/op they report cpu-ns/op, the CPU time of this
// process per request (PostgreSQL's own CPU is not in it): with the load
// target of DESIGN.md (4,000 client_credentials requests/s on 2 cores),
// everything a request costs, PostgreSQL included, must stay under 500 µs
// of CPU.

type benchStore struct {
	name string
	open func(b *testing.B) store.Store
	// waits: operations wait on I/O, so parallel runs use more
	// goroutines than CPUs.
	waits bool
}

func benchStores() []benchStore {
	return []benchStore{
		{name: "memory", open: func(*testing.B) store.Store { return memory.New() }},
		{name: "postgres", waits: true, open: func(b *testing.B) store.Store {
			s, err := postgres.New(context.Background(), pgtest.NewDatabase(b))
			if err != nil {
				b.Fatalf("postgres.New: %v", err)
			}
			b.Cleanup(s.Close)
			return s
		}},
	}
}

// pgParallelism: RunParallel starts this many goroutines per CPU on
// PostgreSQL, enough to keep the pool's connections (4 on 2 CPUs, pgxpool's
// default) and the CPUs busy, as a loaded server would.
const pgParallelism = 4

// basicAuth is the Authorization header of a client_secret_basic client.
func (e *benchEnv) basicAuth(clientID string) string {
	creds := url.QueryEscape(clientID) + ":" + url.QueryEscape(e.secrets[clientID])
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds))
}

// post sends a form to the router as clientID and returns the answer.
func (e *benchEnv) post(path, form, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, benchIssuer+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", authorization)
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

// tokenResponse is the part of a token response the benchmarks read.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

func readTokens(w *httptest.ResponseRecorder) (tokenResponse, error) {
	var tr tokenResponse
	if w.Code != http.StatusOK {
		return tr, fmt.Errorf("status %d: %s", w.Code, w.Body.Bytes())
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		return tr, fmt.Errorf("token response: %w", err)
	}
	if tr.AccessToken == "" {
		return tr, fmt.Errorf("no access token: %s", w.Body.Bytes())
	}
	return tr, nil
}

// clientCredentials returns an access token for clientID from the token
// endpoint.
func (e *benchEnv) clientCredentials(clientID string) (string, error) {
	tr, err := readTokens(e.post("/oauth2/token", "grant_type=client_credentials&scope=api%3Aread", e.basicAuth(clientID)))
	return tr.AccessToken, err
}

// newRefreshToken stores a grant of alice's to the web client, as a code
// exchange would have, and returns its refresh token.
func (e *benchEnv) newRefreshToken(ctx context.Context) (string, error) {
	c, err := e.fs.GetClient(ctx, "web")
	if err != nil {
		return "", err
	}
	r := e.request(c.(*client), "openid", "profile", "email", "offline_access")
	token, sig, err := e.tokens.GenerateRefreshToken(ctx, r)
	if err != nil {
		return "", err
	}
	return token, e.fs.CreateRefreshTokenSession(ctx, sig, "", r)
}

// endpointCase is one kind of request. worker returns what one goroutine
// repeats, so that it may keep state of its own (a refresh token chain).
type endpointCase struct {
	name   string
	worker func(ctx context.Context) (func() error, error)
}

func (e *benchEnv) endpointCases() []endpointCase {
	cc := func(clientID string, shape func(string) bool) func(context.Context) (func() error, error) {
		return func(context.Context) (func() error, error) {
			return func() error {
				t, err := e.clientCredentials(clientID)
				if err == nil && !shape(t) {
					err = fmt.Errorf("access token %.40q... is not of the client's format", t)
				}
				return err
			}, nil
		}
	}
	opaque := func(t string) bool { return strings.HasPrefix(t, prefixAccessToken) }
	rsAuth := e.basicAuth("rs")
	webAuth := e.basicAuth("web")

	return []endpointCase{
		// The machine-to-machine request of the 4,000 req/s target.
		{"token/client_credentials-opaque", cc("svc", opaque)},
		// The signing algorithm is the env's: these two differ only in it.
		{"token/client_credentials-jwt-RS256", cc("svc-jwt", isJWT)},
		{"token/client_credentials-jwt-ES256", cc("svc-jwt", isJWT)},
		// A relying party refreshing: one transaction that locks the
		// refresh token, rotates it, re-reads the user and mints an opaque
		// access token, a refresh token and an RS256 ID token. Each
		// goroutine follows its own chain.
		{"token/refresh_token", func(ctx context.Context) (func() error, error) {
			rt, err := e.newRefreshToken(ctx)
			if err != nil {
				return nil, err
			}
			return func() error {
				tr, err := readTokens(e.post("/oauth2/token", "grant_type=refresh_token&refresh_token="+url.QueryEscape(rt), webAuth))
				if err == nil && (tr.RefreshToken == "" || tr.IDToken == "") {
					err = errors.New("refresh gave no refresh token or no ID token")
				}
				rt = tr.RefreshToken
				return err
			}, nil
		}},
		// RFC 8693 delegation: the service account's token exchanged for
		// a new one of the same scope, each request.
		{"token/token-exchange", func(context.Context) (func() error, error) {
			at, err := e.clientCredentials("svc")
			if err != nil {
				return nil, err
			}
			form := url.Values{"grant_type": {grantTypeTokenExchange}, "subject_token": {at},
				"subject_token_type": {tokenTypeAccessToken}, "scope": {"api:read"}}.Encode()
			svcAuth := e.basicAuth("svc")
			return func() error {
				tr, err := readTokens(e.post("/oauth2/token", form, svcAuth))
				if err == nil && !opaque(tr.AccessToken) {
					err = fmt.Errorf("access token %.40q... is not opaque", tr.AccessToken)
				}
				return err
			}, nil
		}},
		// client_credentials with a DPoP proof (ES256, signed by the
		// worker: part of the measured time): the proof's check and its
		// replay record on top of cc.
		{"token/client_credentials-dpop", func(context.Context) (func() error, error) {
			key := dpoptest.MustES256()
			return func() error {
				req := httptest.NewRequest(http.MethodPost, benchIssuer+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=api%3Aread"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", e.basicAuth("svc"))
				req.Header.Set("DPoP", key.Proof(http.MethodPost, benchIssuer+"/oauth2/token", ""))
				w := httptest.NewRecorder()
				e.router.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"token_type":"DPoP"`)) {
					return fmt.Errorf("status %d: %s", w.Code, w.Body.Bytes())
				}
				return nil
			}, nil
		}},
		// RFC 7662 introspection by a resource server.
		{"introspect/opaque", func(context.Context) (func() error, error) {
			at, err := e.clientCredentials("svc")
			if err != nil {
				return nil, err
			}
			form := "token=" + url.QueryEscape(at)
			return func() error {
				w := e.post("/oauth2/introspect", form, rsAuth)
				if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"active":true`)) {
					return fmt.Errorf("introspect: status %d: %s", w.Code, w.Body.Bytes())
				}
				return nil
			}, nil
		}},
	}
}

// BenchmarkEndpoint: whole token and introspection requests through the
// router. Every case gets a store of its own: a client_credentials run
// leaves hundreds of thousands of tokens behind, which must not weigh on
// the next case.
func BenchmarkEndpoint(b *testing.B) {
	// alg is the signing keys' algorithm (RS256: RSA-2048); run, when
	// set, the case run under name.
	cases := []struct{ name, alg, run string }{
		{"token/client_credentials-opaque", keys.RS256, ""},
		{"token/client_credentials-jwt-RS256", keys.RS256, ""},
		{"token/client_credentials-jwt-ES256", keys.ES256, ""},
		{"token/refresh_token", keys.RS256, ""},
		{"token/refresh_token-ES256", keys.ES256, "token/refresh_token"},
		{"token/token-exchange", keys.RS256, ""},
		{"introspect/opaque", keys.RS256, ""},
		{"token/client_credentials-dpop", keys.RS256, ""},
	}
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					e := newBenchEnv(b, bs.open(b), benchOptions{alg: c.alg})
					run := c.name
					if c.run != "" {
						run = c.run
					}
					benchSerialAndParallel(b, bs.waits, e.endpointCase(b, run).worker)
				})
			}
		})
	}
}

// endpointCase returns the named case on e.
func (e *benchEnv) endpointCase(b *testing.B, name string) endpointCase {
	for _, ec := range e.endpointCases() {
		if ec.name == name {
			return ec
		}
	}
	b.Fatalf("no endpoint case %q", name)
	return endpointCase{}
}

// BenchmarkIntrospectAccessToken is what authenticating one resource API
// call costs: the access token's check and its store lookup
// (Provider.IntrospectAccessToken), without HTTP.
func BenchmarkIntrospectAccessToken(b *testing.B) {
	for _, bs := range benchStores() {
		b.Run(bs.name, func(b *testing.B) {
			for _, format := range []struct{ name, clientID string }{{"opaque", "svc"}, {"jwt-RS256", "svc-jwt"}} {
				b.Run(format.name, func(b *testing.B) {
					e := newBenchEnv(b, bs.open(b), benchOptions{alg: keys.RS256})
					at, err := e.clientCredentials(format.clientID)
					if err != nil {
						b.Fatalf("client_credentials: %v", err)
					}
					benchSerialAndParallel(b, bs.waits, func(ctx context.Context) (func() error, error) {
						return func() error {
							info, err := e.p.IntrospectAccessToken(ctx, at)
							if err == nil && info.ClientID != format.clientID {
								err = fmt.Errorf("token of client %q, want %q", info.ClientID, format.clientID)
							}
							return err
						}, nil
					})
				})
			}
		})
	}
}

// benchSerialAndParallel runs the operation worker makes alone (latency)
// and from several goroutines (throughput; waits raises their number).
func benchSerialAndParallel(b *testing.B, waits bool, worker func(ctx context.Context) (func() error, error)) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		do, err := worker(ctx)
		if err != nil {
			b.Fatalf("prepare: %v", err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		for i := 0; i < b.N; i++ {
			if err := do(); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		if waits {
			b.SetParallelism(pgParallelism)
		}
		b.ReportAllocs()
		cpu := startCPU()
		b.RunParallel(func(pb *testing.PB) {
			do, err := worker(ctx)
			if err != nil {
				b.Errorf("prepare: %v", err)
				return
			}
			for pb.Next() {
				if err := do(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		cpu.report(b)
	})
}

// BenchmarkClientCredentialsToken is the client_credentials token request
// alone, serial on store/memory: the provider's own CPU per token with
// nothing else in the profile (go test -bench ClientCredentialsToken
// -cpuprofile cpu.out). It shows what the token endpoint spends outside
// the grant's own work, such as fosite's handlers of other grants.
func BenchmarkClientCredentialsToken(b *testing.B) {
	e := newBenchEnv(b, memory.New(), benchOptions{alg: keys.RS256})
	do, err := e.endpointCase(b, "token/client_credentials-opaque").worker(context.Background())
	if err != nil {
		b.Fatalf("prepare: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		if err := do(); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}
