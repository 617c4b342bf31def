package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Device codes (RFC 8628)

const deviceCodeColumns = `signature, user_code, client_id, scopes, status, interval_seconds, last_polled_at,
	requested_at, expires_at, user_id, session, redeemed_at`

func scanDeviceCode(row pgx.Row, extra ...any) (store.DeviceCode, error) {
	var d store.DeviceCode
	var interval int
	var userID *string
	dest := append([]any{&d.Signature, &d.UserCode, &d.ClientID, &d.Scopes, &d.Status, &interval, &d.LastPolledAt,
		&d.RequestedAt, &d.ExpiresAt, &userID, &d.Session, &d.RedeemedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.DeviceCode{}, err
	}
	d.Interval = time.Duration(interval) * time.Second
	if userID != nil {
		d.UserID = *userID
	}
	d.Scopes = list(d.Scopes)
	d.LastPolledAt, d.RedeemedAt = utcPtr(d.LastPolledAt), utcPtr(d.RedeemedAt)
	d.RequestedAt, d.ExpiresAt = utc(d.RequestedAt), utc(d.ExpiresAt)
	return d, nil
}

// CreateDeviceCode counts the client's live codes in the statement that
// inserts: no row is inserted when the bound is reached, which the
// follow-up query tells apart from a missing client.
func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode, now time.Time, maxLive int) error {
	if d.Status == "" {
		d.Status = store.DevicePending
	}
	userID, ok := optionalUUID(d.UserID)
	if !ok {
		return fmt.Errorf("postgres: create device code: user %q: %w", d.UserID, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO device_codes (signature, user_code, client_id, scopes, status,
			interval_seconds, last_polled_at, requested_at, expires_at, user_id, session, redeemed_at)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
		WHERE (SELECT count(*) FROM device_codes WHERE client_id = $3 AND expires_at > $13) < $14`,
		d.Signature, d.UserCode, d.ClientID, list(d.Scopes), string(d.Status), int(d.Interval/time.Second),
		d.LastPolledAt, d.RequestedAt, d.ExpiresAt, userID, jsonArg(d.Session), d.RedeemedAt, now, maxLive)
	if err != nil {
		return fmt.Errorf("postgres: create device code: %w", classify(err, store.ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM clients WHERE id = $1)`, d.ClientID).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: create device code: %w", err)
		}
		if !exists {
			return fmt.Errorf("postgres: create device code: client %q: %w", d.ClientID, store.ErrNotFound)
		}
		return fmt.Errorf("postgres: create device code: %w", store.ErrDeviceCodesFull)
	}
	return nil
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCode string, now time.Time) (store.DeviceCode, error) {
	d, err := scanDeviceCode(s.db(ctx).QueryRow(ctx, `SELECT `+deviceCodeColumns+` FROM device_codes
		WHERE user_code = $1 AND status = 'pending' AND expires_at > $2`, userCode, now))
	if err != nil {
		return store.DeviceCode{}, fmt.Errorf("postgres: get device code: %w", classify(err, nil))
	}
	return d, nil
}

func (s *Store) DecideDeviceCode(ctx context.Context, userCode string, status store.DeviceCodeStatus, userID string, session json.RawMessage, now time.Time) error {
	if status != store.DeviceApproved && status != store.DeviceDenied {
		return fmt.Errorf("postgres: decide device code: decision %q is invalid", status)
	}
	uid, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: decide device code: user %q: %w", userID, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE device_codes SET status = $2, user_id = $3, session = $4
		WHERE user_code = $1 AND status = 'pending' AND expires_at > $5`,
		userCode, string(status), uid, jsonArg(session), now)
	if err != nil {
		return fmt.Errorf("postgres: decide device code: %w", classify(err, store.ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: decide device code: %w", store.ErrNotFound)
	}
	return nil
}

// PollDeviceCode locks the row in a CTE, so the previous poll it compares
// with is the one the update replaces, whatever instance made it.
func (s *Store) PollDeviceCode(ctx context.Context, signature string, now time.Time, leeway time.Duration) (store.DeviceCode, bool, error) {
	var slow bool
	d, err := scanDeviceCode(s.db(ctx).QueryRow(ctx, `WITH old AS (
			SELECT `+deviceCodeColumns+`,
				(last_polled_at IS NOT NULL AND
					$2 < last_polled_at + interval_seconds * interval '1 second' - $4::bigint * interval '1 microsecond') AS slow
			FROM device_codes WHERE signature = $1 FOR UPDATE
		), polled AS (
			UPDATE device_codes d SET last_polled_at = $2,
				interval_seconds = d.interval_seconds + CASE WHEN old.slow THEN $3::integer ELSE 0 END
			FROM old WHERE d.signature = old.signature
		)
		SELECT `+deviceCodeColumns+`, slow FROM old`,
		signature, now, int(store.DeviceSlowDownStep/time.Second), leeway.Microseconds()), &slow)
	if err != nil {
		return store.DeviceCode{}, false, fmt.Errorf("postgres: poll device code: %w", classify(err, nil))
	}
	return d, slow, nil
}

func (s *Store) RedeemDeviceCode(ctx context.Context, signature string, now time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE device_codes SET redeemed_at = $2
		WHERE signature = $1 AND status = 'approved' AND redeemed_at IS NULL`, signature, now)
	if err != nil {
		return fmt.Errorf("postgres: redeem device code: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: redeem device code: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) DeleteExpiredDeviceCodes(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringDeviceCodes, "device codes", now, limit)
}
