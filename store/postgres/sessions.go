package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Pushed authorization requests

// CreatePARRequest returns ErrConflict if the request URI exists and
// ErrNotFound if the client does not.
func (s *Store) CreatePARRequest(ctx context.Context, p store.PARRequest) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO par_requests (request_uri, client_id, expires_at, request)
		VALUES ($1, $2, $3, $4)`, p.RequestURI, p.ClientID, p.ExpiresAt, jsonArg(p.Request))
	if err != nil {
		return fmt.Errorf("postgres: create PAR request: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetPARRequest returns ErrNotFound if absent or expired by the store's clock.
func (s *Store) GetPARRequest(ctx context.Context, requestURI string) (store.PARRequest, error) {
	var p store.PARRequest
	err := s.db(ctx).QueryRow(ctx, `SELECT request_uri, client_id, expires_at, request FROM par_requests
		WHERE request_uri = $1 AND expires_at > $2`, requestURI, s.now()).
		Scan(&p.RequestURI, &p.ClientID, &p.ExpiresAt, &p.Request)
	if err != nil {
		return store.PARRequest{}, fmt.Errorf("postgres: get PAR request: %w", classify(err, nil))
	}
	p.ExpiresAt = utc(p.ExpiresAt)
	return p, nil
}

// DeletePARRequest returns ErrNotFound if absent.
func (s *Store) DeletePARRequest(ctx context.Context, requestURI string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM par_requests WHERE request_uri = $1`, requestURI)
	if err != nil {
		return fmt.Errorf("postgres: delete PAR request: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete PAR request: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteExpiredPARRequests removes up to limit expired requests.
func (s *Store) DeleteExpiredPARRequests(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringPARRequests, "PAR requests", now, limit)
}

// ---------------------------------------------------------------------------
// Login sessions

const loginSessionColumns = `id, user_id, auth_time, expires_at, last_seen_at, user_agent, ip_address, amr, acr`

func scanLoginSession(row pgx.Row) (store.LoginSession, error) {
	var ls store.LoginSession
	var acr *string
	if err := row.Scan(&ls.ID, &ls.UserID, &ls.AuthTime, &ls.ExpiresAt, &ls.LastSeenAt, &ls.UserAgent,
		&ls.IPAddress, &ls.AMR, &acr); err != nil {
		return store.LoginSession{}, err
	}
	if acr != nil {
		ls.ACR = *acr
	}
	if ls.AMR == nil {
		// NULL: a session from before MFA; lists read back as [].
		ls.AMR = []string{}
	}
	ls.AuthTime, ls.ExpiresAt, ls.LastSeenAt = utc(ls.AuthTime), utc(ls.ExpiresAt), utc(ls.LastSeenAt)
	return ls, nil
}

// CreateLoginSession returns ErrConflict if the id exists and ErrNotFound if
// the user does not.
func (s *Store) CreateLoginSession(ctx context.Context, ls store.LoginSession) error {
	userID, ok := parseUUID(ls.UserID)
	if !ok {
		return fmt.Errorf("postgres: create login session: user %q: %w", ls.UserID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO login_sessions (`+loginSessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''))`,
		ls.ID, userID, ls.AuthTime, ls.ExpiresAt, ls.LastSeenAt, ls.UserAgent, ls.IPAddress, ls.AMR, ls.ACR)
	if err != nil {
		return fmt.Errorf("postgres: create login session: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetLoginSession returns ErrNotFound if absent or expired at now.
func (s *Store) GetLoginSession(ctx context.Context, id string, now time.Time) (store.LoginSession, error) {
	ls, err := scanLoginSession(s.db(ctx).QueryRow(ctx, `SELECT `+loginSessionColumns+` FROM login_sessions
		WHERE id = $1 AND expires_at > $2`, id, now))
	if err != nil {
		return store.LoginSession{}, fmt.Errorf("postgres: get login session: %w", classify(err, nil))
	}
	return ls, nil
}

// TouchLoginSession sets LastSeenAt; ErrNotFound if absent.
func (s *Store) TouchLoginSession(ctx context.Context, id string, at time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE login_sessions SET last_seen_at = $2 WHERE id = $1`, id, at)
	if err != nil {
		return fmt.Errorf("postgres: touch login session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: touch login session: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteLoginSession removes the session; its grants stay (untied from it)
// until RevokeGrantsBySession or their expiry ends them.
func (s *Store) DeleteLoginSession(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM login_sessions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete login session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete login session: %w", store.ErrNotFound)
	}
	return nil
}

// ListLoginSessions returns the user's unexpired sessions, newest sign-in
// first.
func (s *Store) ListLoginSessions(ctx context.Context, userID string, now time.Time) ([]store.LoginSession, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+loginSessionColumns+` FROM login_sessions
		WHERE user_id = $1 AND expires_at > $2 ORDER BY auth_time DESC, id`, uid, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: list login sessions: %w", err)
	}
	sessions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.LoginSession, error) {
		return scanLoginSession(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list login sessions: %w", err)
	}
	return sessions, nil
}

// DeleteExpiredLoginSessions removes up to limit expired sessions.
func (s *Store) DeleteExpiredLoginSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringLoginSessions, "login sessions", now, limit)
}

// ---------------------------------------------------------------------------
// Consents

// GetConsent returns ErrNotFound if there is none or it has expired at now.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string, now time.Time) (store.Consent, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return store.Consent{}, fmt.Errorf("postgres: get consent: %w", store.ErrNotFound)
	}
	c, err := scanConsent(s.db(ctx).QueryRow(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE user_id = $1 AND client_id = $2 AND (expires_at IS NULL OR expires_at > $3)`, uid, clientID, now))
	if err != nil {
		return store.Consent{}, fmt.Errorf("postgres: get consent: %w", classify(err, nil))
	}
	return c, nil
}

// consentColumns are what scanConsent reads.
const consentColumns = `user_id, client_id, scopes, granted_at, expires_at`

// scanConsent reads a row of consentColumns.
func scanConsent(row pgx.Row) (store.Consent, error) {
	var c store.Consent
	if err := row.Scan(&c.UserID, &c.ClientID, &c.Scopes, &c.GrantedAt, &c.ExpiresAt); err != nil {
		return store.Consent{}, err
	}
	c.Scopes = list(c.Scopes)
	c.GrantedAt, c.ExpiresAt = utc(c.GrantedAt), utcPtr(c.ExpiresAt)
	return c, nil
}

// SaveConsent creates or replaces the consent of (user, client); ErrNotFound
// if either does not exist.
func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	uid, ok := parseUUID(c.UserID)
	if !ok {
		return fmt.Errorf("postgres: save consent: user %q: %w", c.UserID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO consents (user_id, client_id, scopes, granted_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, client_id) DO UPDATE
		SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at, expires_at = EXCLUDED.expires_at`,
		uid, c.ClientID, list(c.Scopes), c.GrantedAt, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: save consent: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// DeleteConsent returns ErrNotFound if absent.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	uid, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: delete consent: %w", store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, uid, clientID)
	if err != nil {
		return fmt.Errorf("postgres: delete consent: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete consent: %w", store.ErrNotFound)
	}
	return nil
}

// ListConsents reads the user's consents through the primary key, whose
// first column is the user.
func (s *Store) ListConsents(ctx context.Context, userID string, now time.Time) ([]store.Consent, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return []store.Consent{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+consentColumns+` FROM consents
		WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY client_id`, uid, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: list consents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Consent, error) { return scanConsent(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list consents: %w", err)
	}
	return out, nil
}
