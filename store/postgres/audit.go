package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// defaultAuditLimit is ListAudit's page size when the filter names none.
const defaultAuditLimit = 100

const auditColumns = `id, at, actor_type, actor_id, action, target_type, target_id, ip_address, act, changes, digest`

// AppendAudit chains e to the head and inserts it in one statement: the
// UPDATE of the head row locks it, takes the next id and computes the
// digest from the old head's (sha256(prev || AuditCanonicalPrefix(id) ||
// AuditCanonicalRest(e)), which store.AuditDigest computes in Go), and the
// INSERT stores the entry with both. Inside the caller's transaction the
// entry commits or rolls back with the change it records, and the head row
// stays locked until then, so concurrent appends take turns: each links to
// the one committed before it. The id is the head's, not the identity
// sequence's, which would leave gaps. The table refuses UPDATE and DELETE
// (migration 00002).
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	e.At = utc(e.At).Truncate(time.Microsecond) // what timestamptz keeps
	rest, err := store.AuditCanonicalRest(e)
	if err != nil {
		return 0, fmt.Errorf("postgres: append audit %q: %w", e.Action, err)
	}
	for range 2 {
		var id int64
		err = s.db(ctx).QueryRow(ctx, `WITH head AS (
				UPDATE audit_chain_head SET last_id = last_id + 1,
					digest = sha256(coalesce(digest, $1) || convert_to('[`+strconv.Itoa(store.AuditChainVersion)+`,'
						|| (last_id + 1)::text || ',', 'UTF8') || $2)
				WHERE singleton
				RETURNING last_id, digest)
			INSERT INTO audit_log (id, at, actor_type, actor_id, action, target_type,
				target_id, ip_address, act, changes, digest) OVERRIDING SYSTEM VALUE
			SELECT head.last_id, $3, $4, $5, $6, $7, $8, $9, $10, $11, head.digest FROM head
			RETURNING id`,
			make([]byte, store.AuditDigestSize), rest,
			e.At, string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID, e.IPAddress, e.Act,
			jsonArg(e.Changes)).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		// No head row (a truncated table: internal/pgtest): the chain
		// starts after the newest entry.
		if _, err = s.db(ctx).Exec(ctx, `INSERT INTO audit_chain_head (first_id, last_id, digest)
			SELECT coalesce(max(id), 0) + 1, coalesce(max(id), 0), NULL FROM audit_log
			ON CONFLICT (singleton) DO NOTHING`); err != nil {
			break
		}
	}
	return 0, fmt.Errorf("postgres: append audit %q: %w", e.Action, err)
}

// AuditChainHead reads the head without locking it; on a log never
// appended to since a truncation, whose head row is gone, it is the start
// of a chain after the newest entry. One statement, so that the head and
// the entries it is derived from are read in one snapshot.
func (s *Store) AuditChainHead(ctx context.Context) (store.AuditChainHead, error) {
	var h store.AuditChainHead
	err := s.db(ctx).QueryRow(ctx, `SELECT first_id, last_id, digest FROM audit_chain_head WHERE singleton
		UNION ALL
		SELECT coalesce(max(id), 0) + 1, coalesce(max(id), 0), NULL FROM audit_log
		HAVING NOT EXISTS (SELECT 1 FROM audit_chain_head)`).Scan(&h.FirstID, &h.LastID, &h.Digest)
	if err != nil {
		return h, fmt.Errorf("postgres: audit chain head: %w", err)
	}
	return h, nil
}

// ListAuditChain walks the primary key from after, in one bounded batch.
func (s *Store) ListAuditChain(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE id > $1 ORDER BY id LIMIT $2`, after, max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit chain: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit chain: %w", err)
	}
	return entries, nil
}

func scanAudit(r pgx.CollectableRow) (store.AuditEntry, error) {
	var e store.AuditEntry
	var actorType string
	if err := r.Scan(&e.ID, &e.At, &actorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID,
		&e.IPAddress, &e.Act, &e.Changes, &e.Digest); err != nil {
		return store.AuditEntry{}, err
	}
	e.ActorType = store.ActorType(actorType)
	e.At = utc(e.At)
	return e, nil
}

// ListAudit pages newest first by id (keyset: Before is the last id of the
// previous page). Each equality filter has an (x, id) index to walk; an
// action prefix is a LIKE whose fixed prefix the "C" collation lets the
// planner turn into an index range.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if f.ActorID != "" {
		add(`actor_id = $?`, f.ActorID)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		add(`action LIKE $?`, escapeLike(f.Action)+"%")
	case f.Action != "":
		add(`action = $?`, f.Action)
	}
	if f.TargetID != "" {
		add(`target_id = $?`, f.TargetID)
	}
	if f.Since != nil {
		add(`at >= $?`, *f.Since)
	}
	if f.Until != nil {
		add(`at < $?`, *f.Until)
	}
	if f.Before > 0 {
		add(`id < $?`, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, limit)
	sql := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sql += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))

	rows, err := s.db(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return entries, nil
}
