package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

// The authorization code flow's storage in few round trips (it is every
// browser sign-in, and cost twenty on PostgreSQL for an SSO flow):
//
//   - the authorize endpoint: fosite writes the code, its PKCE record and
//     its OpenID Connect record one by one; issue records them
//     (pendingIssue) and writes the three at once after fosite is done
//     (store.AuthorizeCodes.CreateTokens, all or none: a code never exists
//     without the PKCE challenge it was issued under). It was a
//     transaction of its own: BEGIN, three INSERTs, COMMIT;
//   - the token endpoint: fosite's code, PKCE and OpenID Connect handlers
//     read the code twice and each record once, grantGuard the grant's
//     user, and the code handler writes the code's redemption (its
//     invalidation, the access and refresh tokens) inside a savepoint of
//     the token endpoint's transaction; the OpenID Connect handler then
//     deletes its record. codeRedemption reads the code (locked), both
//     records and the user in one batch at the first read and answers
//     every later read from it (each read still decodes the stored bytes
//     into the session fosite passes, as a read of the row would), records
//     the redemption's writes and writes them as one statement at the code
//     handler's commit (store.AuthorizeCodes.RedeemAuthorizeCode, which
//     keeps the one-use rule), and keeps the OpenID Connect record, which
//     expires with its code like the PKCE record (DeletePKCERequestSession)
//     and is never read again: the code is spent. BEGIN, that read, that
//     write and COMMIT: four round trips.
//
// The row lock taken by the read is held to the token endpoint's commit,
// so nothing the later reads would have read can change in between. A
// DPoP-bound access token goes with the redemption too: the store records
// its proof (RedeemAuthorizeCode takes the statements one by one then).

// pendingIssue is what the authorize endpoint's fosite asked to store.
type pendingIssue struct {
	mu   sync.Mutex
	rows []store.Token
}

type pendingIssueKey struct{}

func withPendingIssue(ctx context.Context) (context.Context, *pendingIssue) {
	p := &pendingIssue{}
	return context.WithValue(ctx, pendingIssueKey{}, p), p
}

func pendingIssueFrom(ctx context.Context) *pendingIssue {
	p, _ := ctx.Value(pendingIssueKey{}).(*pendingIssue)
	return p
}

func (p *pendingIssue) add(t store.Token) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows = append(p.rows, t)
}

// write stores what was recorded, all or none.
func (p *pendingIssue) write(ctx context.Context, st store.Store) error {
	p.mu.Lock()
	rows := p.rows
	p.rows = nil
	p.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	if err := st.CreateTokens(ctx, rows); err != nil {
		return fmt.Errorf("provider: store the code: %w", err)
	}
	return nil
}

// codeRedemption is one token request's redemption of a code (see above);
// handleToken puts one in the context of an authorization_code grant.
type codeRedemption struct {
	mu sync.Mutex
	// signature and read are the code read, and what was read with it.
	signature string
	read      *store.AuthorizeCode
	// spend is the code whose invalidation was asked for ("": none yet),
	// rows the tokens to create with it.
	spend string
	rows  []store.Token
}

type codeRedemptionKey struct{}

func withCodeRedemption(ctx context.Context) context.Context {
	return context.WithValue(ctx, codeRedemptionKey{}, &codeRedemption{})
}

func codeRedemptionFrom(ctx context.Context) *codeRedemption {
	c, _ := ctx.Value(codeRedemptionKey{}).(*codeRedemption)
	return c
}

// load returns the code signature with its records and user, read once
// (and the user handed to grantGuard, as a refresh hands it).
func (c *codeRedemption) load(ctx context.Context, s *fositeStore, signature string) (*store.AuthorizeCode, error) {
	if err := lookupKey(string(store.KindAuthorizeCode)+" signature", signature); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read != nil && c.signature == signature {
		return c.read, nil
	}
	ac, err := s.store.GetAuthorizeCode(ctx, signature)
	if err != nil {
		return nil, notFound(fmt.Errorf("provider: get %s: %w", store.KindAuthorizeCode, err))
	}
	c.signature, c.read = signature, &ac
	if g := grantUsersFrom(ctx); g != nil && ac.Code.UserID != "" {
		g.put(ac.Code.UserID, ac.User)
	}
	return c.read, nil
}

// record takes the invalidation of the code signature.
func (c *codeRedemption) record(signature string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spend = signature
}

// take keeps token t to be created with the redemption; false when there
// is no redemption to go with.
func (c *codeRedemption) take(t store.Token) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spend == "" {
		return false
	}
	c.rows = append(c.rows, t)
	return true
}

// flush writes the recorded redemption (nothing if none was asked for).
func (c *codeRedemption) flush(ctx context.Context, st store.Store) error {
	c.mu.Lock()
	spend, rows := c.spend, c.rows
	c.spend, c.rows = "", nil
	c.mu.Unlock()
	if spend == "" {
		return nil
	}
	if err := st.RedeemAuthorizeCode(ctx, spend, rows); err != nil {
		return notFound(fmt.Errorf("provider: redeem authorize code: %w", err))
	}
	return nil
}

// discard forgets the recorded redemption: nothing of it was written.
func (c *codeRedemption) discard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spend, c.rows = "", nil
}

// readRecord hydrates one of the code's records (the code itself, its
// PKCE or its OpenID Connect record) into session; fosite.ErrNotFound
// when the code has no such record.
func (s *fositeStore) readRecord(ctx context.Context, c *codeRedemption, kind store.TokenKind, signature string, session fosite.Session) (fosite.Requester, store.Token, error) {
	ac, err := c.load(ctx, s, signature)
	if err != nil {
		return nil, store.Token{}, err
	}
	t := &ac.Code
	switch kind {
	case store.KindPKCE:
		t = ac.PKCE
	case store.KindOpenIDSession:
		t = ac.OpenID
	}
	if t == nil {
		return nil, store.Token{}, notFound(fmt.Errorf("provider: get %s: %w", kind, store.ErrNotFound))
	}
	_, req, err := s.hydrate(ctx, t.Request, session)
	if err != nil {
		return nil, store.Token{}, err
	}
	return req, *t, nil
}
