package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

const signingKeyColumns = `id, algorithm, state, private_key, public_key, created_at, verify_until`

// ListSigningKeys returns every key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SigningKey, error) {
		var k store.SigningKey
		var state string
		if err := r.Scan(&k.ID, &k.Algorithm, &state, &k.PrivateKey, &k.PublicKey, &k.CreatedAt,
			&k.VerifyUntil); err != nil {
			return store.SigningKey{}, err
		}
		k.State = store.KeyState(state)
		k.CreatedAt, k.VerifyUntil = utc(k.CreatedAt), utcPtr(k.VerifyUntil)
		return k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	return keys, nil
}

// AddSigningKey stores an active or next key. The partial unique index on
// (algorithm, state) makes a second active (or next) key of one algorithm a
// unique violation: ErrConflict, another instance won the race.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	if k.State != store.KeyActive && k.State != store.KeyNext {
		return fmt.Errorf("postgres: add signing key %q: state %q, want %q or %q", k.ID, k.State,
			store.KeyActive, store.KeyNext)
	}
	if err := s.insertSigningKey(ctx, k); err != nil {
		return fmt.Errorf("postgres: add signing key %q: %w", k.ID, classify(err, nil))
	}
	return nil
}

func (s *Store) insertSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Algorithm, string(k.State), nonNilBytes(k.PrivateKey), jsonArg(k.PublicKey), k.CreatedAt, k.VerifyUntil)
	return err
}

// RotateSigningKeys is a compare-and-swap: it locks the active and next rows
// of newNext's algorithm, and changes nothing unless their ids are the
// expected ones. A concurrent
// rotation that committed first has moved those rows to other states, so the
// waiting one sees other ids and reports ErrConflict.
func (s *Store) RotateSigningKeys(ctx context.Context, expectActive, expectNext string, newNext store.SigningKey, retireUntil time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context) error {
		rows, err := s.db(ctx).Query(ctx, `SELECT id, state FROM signing_keys
			WHERE algorithm = $1 AND state IN ('active', 'next') FOR UPDATE`, newNext.Algorithm)
		if err != nil {
			return err
		}
		var activeID, nextID, id, state string
		_, err = pgx.ForEachRow(rows, []any{&id, &state}, func() error {
			if state == string(store.KeyActive) {
				activeID = id
			} else {
				nextID = id
			}
			return nil
		})
		if err != nil {
			return err
		}
		if activeID != expectActive || nextID != expectNext {
			return fmt.Errorf("active %q and next %q, expected %q and %q: %w",
				activeID, nextID, expectActive, expectNext, store.ErrConflict)
		}
		// In this order, so that the unique index on state never sees two
		// active or two next keys.
		if activeID != "" {
			if _, err := s.db(ctx).Exec(ctx, `UPDATE signing_keys SET state = 'retired', verify_until = $2
				WHERE id = $1`, activeID, retireUntil); err != nil {
				return err
			}
		}
		if nextID != "" {
			if _, err := s.db(ctx).Exec(ctx, `UPDATE signing_keys SET state = 'active' WHERE id = $1`,
				nextID); err != nil {
				return err
			}
		}
		newNext.State = store.KeyNext
		return s.insertSigningKey(ctx, newNext)
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate signing keys: %w", classify(err, nil))
	}
	return nil
}

// DeleteRetiredSigningKeys removes retired keys no longer needed to verify
// anything at now.
func (s *Store) DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM signing_keys
		WHERE state = 'retired' AND verify_until <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete retired signing keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// nonNilBytes keeps a NOT NULL bytea column satisfied by an empty value.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
