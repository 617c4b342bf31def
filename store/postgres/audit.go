package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// defaultAuditLimit is ListAudit's page size when the filter names none.
const defaultAuditLimit = 100

const auditColumns = `id, at, actor_type, actor_id, action, target_type, target_id, ip_address, act, changes`

// AppendAudit inserts e; the identity column assigns the id. Inside the
// caller's transaction the entry commits or rolls back with the change it
// records. The table refuses UPDATE and DELETE (migration 00002).
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	var id int64
	err := s.db(ctx).QueryRow(ctx, `INSERT INTO audit_log (at, actor_type, actor_id, action, target_type,
			target_id, ip_address, act, changes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING id`,
		e.At, string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID, e.IPAddress, e.Act,
		jsonArg(e.Changes)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: append audit %q: %w", e.Action, err)
	}
	return id, nil
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
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		var actorType string
		if err := r.Scan(&e.ID, &e.At, &actorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID,
			&e.IPAddress, &e.Act, &e.Changes); err != nil {
			return store.AuditEntry{}, err
		}
		e.ActorType = store.ActorType(actorType)
		e.At = utc(e.At)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return entries, nil
}
