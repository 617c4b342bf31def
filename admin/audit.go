package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// listAudit lists audit entries newest first. ?actor= takes an actor id or
// the "user:<id>" / "client:<id>" form the entries show.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.AuditFilter{
		Action:   q.Get("action"),
		TargetID: q.Get("target"),
		Limit:    pg.fetchLimit(),
	}
	if actor := q.Get("actor"); actor != "" {
		if typ, id, ok := strings.Cut(actor, ":"); ok && (typ == string(store.ActorUser) || typ == string(store.ActorClient)) {
			actor = id
		}
		f.ActorID = actor
	}
	for _, t := range []struct {
		name string
		out  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(t.name); s != "" {
			v, err := parseTime(t.name, s)
			if err != nil {
				return err
			}
			*t.out = &v
		}
	}
	if pg.Cursor != "" {
		before, err := strconv.ParseInt(pg.Cursor, 10, 64)
		if err != nil || before <= 0 {
			return invalidField("cursor", "is not a cursor this API returned")
		}
		f.Before = before
	}
	entries, err := a.svc.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	views := make([]AuditEntryView, len(entries))
	for i, e := range entries {
		views[i] = NewAuditEntryView(e)
	}
	writeJSON(w, http.StatusOK, finish(pg, views, func(v AuditEntryView) string { return strconv.FormatInt(v.ID, 10) }))
	return nil
}
