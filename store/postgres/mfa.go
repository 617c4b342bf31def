package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Multi-factor authentication

// expiringMFAChallenges is swept like the other expiring tables.
const expiringMFAChallenges expiring = "mfa_challenges"

const mfaFactorColumns = `id, user_id, kind, secret_enc, confirmed_at, last_step, created_at`

func scanMFAFactor(row pgx.Row) (store.MFAFactor, error) {
	var f store.MFAFactor
	if err := row.Scan(&f.ID, &f.UserID, &f.Kind, &f.SecretEnc, &f.ConfirmedAt, &f.LastStep, &f.CreatedAt); err != nil {
		return store.MFAFactor{}, err
	}
	f.ConfirmedAt, f.CreatedAt = utcPtr(f.ConfirmedAt), utc(f.CreatedAt)
	if len(f.SecretEnc) == 0 {
		f.SecretEnc = nil
	}
	return f, nil
}

// CreateMFAFactor returns ErrConflict if the id exists and ErrNotFound if
// the user does not.
func (s *Store) CreateMFAFactor(ctx context.Context, f store.MFAFactor) error {
	id, ok := parseUUID(f.ID)
	if !ok {
		return fmt.Errorf("postgres: create MFA factor: id %q is no UUID", f.ID)
	}
	uid, ok := parseUUID(f.UserID)
	if !ok {
		return fmt.Errorf("postgres: create MFA factor: user %q: %w", f.UserID, store.ErrNotFound)
	}
	secret := f.SecretEnc
	if secret == nil {
		secret = []byte{}
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO mfa_factors (`+mfaFactorColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, uid, f.Kind, secret, f.ConfirmedAt, f.LastStep, f.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create MFA factor: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetMFAFactor returns ErrNotFound if absent.
func (s *Store) GetMFAFactor(ctx context.Context, id string) (store.MFAFactor, error) {
	cid, ok := parseUUID(id)
	if !ok {
		return store.MFAFactor{}, fmt.Errorf("postgres: get MFA factor: %w", store.ErrNotFound)
	}
	f, err := scanMFAFactor(s.db(ctx).QueryRow(ctx, `SELECT `+mfaFactorColumns+` FROM mfa_factors WHERE id = $1`, cid))
	if err != nil {
		return store.MFAFactor{}, fmt.Errorf("postgres: get MFA factor: %w", classify(err, nil))
	}
	return f, nil
}

// ListMFAFactors returns the user's factors, oldest first.
func (s *Store) ListMFAFactors(ctx context.Context, userID string) ([]store.MFAFactor, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return []store.MFAFactor{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+mfaFactorColumns+` FROM mfa_factors
		WHERE user_id = $1 ORDER BY created_at, id`, uid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list MFA factors: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.MFAFactor, error) { return scanMFAFactor(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list MFA factors: %w", err)
	}
	if out == nil {
		out = []store.MFAFactor{}
	}
	return out, nil
}

// exec1 runs a statement that must touch one row; ErrNotFound otherwise.
func (s *Store) exec1(ctx context.Context, what, sql string, args ...any) error {
	tag, err := s.db(ctx).Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return nil
}

// ConfirmMFAFactor confirms a pending factor; ErrNotFound if absent or
// confirmed already.
func (s *Store) ConfirmMFAFactor(ctx context.Context, id string, at time.Time, step int64) error {
	cid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: confirm MFA factor: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "confirm MFA factor", `UPDATE mfa_factors SET confirmed_at = $2, last_step = $3
		WHERE id = $1 AND confirmed_at IS NULL`, cid, at, step)
}

// AdvanceMFAStep moves last_step forward in one statement, so that two
// sign-ins presenting the same code cannot both pass.
func (s *Store) AdvanceMFAStep(ctx context.Context, id string, step int64) error {
	cid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: advance MFA step: %w", store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE mfa_factors SET last_step = $2 WHERE id = $1 AND last_step < $2`, cid, step)
	if err != nil {
		return fmt.Errorf("postgres: advance MFA step: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// Tell an absent factor from a used step.
		if _, err := s.GetMFAFactor(ctx, cid); err != nil {
			return fmt.Errorf("postgres: advance MFA step: %w", err)
		}
		return fmt.Errorf("postgres: advance MFA step: %w", store.ErrConflict)
	}
	return nil
}

// DeleteMFAFactor returns ErrNotFound if absent.
func (s *Store) DeleteMFAFactor(ctx context.Context, id string) error {
	cid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete MFA factor: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete MFA factor", `DELETE FROM mfa_factors WHERE id = $1`, cid)
}

// DeleteMFAFactors removes every factor of the user.
func (s *Store) DeleteMFAFactors(ctx context.Context, userID string) (int, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM mfa_factors WHERE user_id = $1`, uid)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete MFA factors: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ReplaceRecoveryCodes swaps the user's codes for digests.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, at time.Time) error {
	uid, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: replace recovery codes: user %q: %w", userID, store.ErrNotFound)
	}
	return store.InTx(ctx, s, func(ctx context.Context) error {
		if _, err := s.db(ctx).Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, uid); err != nil {
			return fmt.Errorf("postgres: replace recovery codes: %w", err)
		}
		if len(digests) == 0 {
			// Nothing inserted, so no foreign key checks the user.
			var exists bool
			if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, uid).Scan(&exists); err != nil {
				return fmt.Errorf("postgres: replace recovery codes: %w", err)
			}
			if !exists {
				return fmt.Errorf("postgres: replace recovery codes: user %q: %w", userID, store.ErrNotFound)
			}
			return nil
		}
		_, err := s.db(ctx).Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, digest, created_at)
			SELECT $1, d, $3 FROM unnest($2::text[]) AS d`, uid, digests, at)
		if err != nil {
			return fmt.Errorf("postgres: replace recovery codes: %w", classify(err, store.ErrNotFound))
		}
		return nil
	})
}

// UseRecoveryCode spends an unused code; ErrNotFound if none matches.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, digest string, at time.Time) error {
	uid, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: use recovery code: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "use recovery code", `UPDATE mfa_recovery_codes SET used_at = $3
		WHERE user_id = $1 AND digest = $2 AND used_at IS NULL`, uid, digest, at)
}

// CountRecoveryCodes counts the user's unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return 0, nil
	}
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
		uid).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count recovery codes: %w", err)
	}
	return n, nil
}

// DeleteRecoveryCodes removes every code of the user.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID string) (int, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, uid)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete recovery codes: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

const mfaChallengeColumns = `id, user_id, return_to, attempts, amr, enrol, created_at, expires_at`

// CreateMFAChallenge returns ErrConflict if the id exists and ErrNotFound
// if the user does not.
func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	uid, ok := parseUUID(c.UserID)
	if !ok {
		return fmt.Errorf("postgres: create MFA challenge: user %q: %w", c.UserID, store.ErrNotFound)
	}
	amr := c.AMR
	if amr == nil {
		amr = []string{}
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO mfa_challenges (`+mfaChallengeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, uid, c.ReturnTo, c.Attempts, amr, c.Enrol, c.CreatedAt, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: create MFA challenge: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetMFAChallenge returns ErrNotFound if absent or expired at now.
func (s *Store) GetMFAChallenge(ctx context.Context, id string, now time.Time) (store.MFAChallenge, error) {
	var c store.MFAChallenge
	err := s.db(ctx).QueryRow(ctx, `SELECT `+mfaChallengeColumns+` FROM mfa_challenges
		WHERE id = $1 AND expires_at > $2`, id, now).
		Scan(&c.ID, &c.UserID, &c.ReturnTo, &c.Attempts, &c.AMR, &c.Enrol, &c.CreatedAt, &c.ExpiresAt)
	if err != nil {
		return store.MFAChallenge{}, fmt.Errorf("postgres: get MFA challenge: %w", classify(err, nil))
	}
	if c.AMR == nil {
		c.AMR = []string{}
	}
	c.CreatedAt, c.ExpiresAt = utc(c.CreatedAt), utc(c.ExpiresAt)
	return c, nil
}

// CountMFAChallengeFailure adds one attempt in one statement.
func (s *Store) CountMFAChallengeFailure(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db(ctx).QueryRow(ctx, `UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`,
		id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count MFA challenge failure: %w", classify(err, nil))
	}
	return n, nil
}

// DeleteMFAChallenge returns ErrNotFound if absent.
func (s *Store) DeleteMFAChallenge(ctx context.Context, id string) error {
	return s.exec1(ctx, "delete MFA challenge", `DELETE FROM mfa_challenges WHERE id = $1`, id)
}

// DeleteExpiredMFAChallenges removes up to limit expired challenges.
func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringMFAChallenges, "MFA challenges", now, limit)
}
