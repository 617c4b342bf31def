package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// exportPageDeadline is how long writing one page of an export may take.
// The server's write timeout bounds a whole response, which a directory of
// a hundred thousand users outlasts; the deadline moves on with every page
// instead, so that a client that stops reading is still cut off.
const exportPageDeadline = time.Minute

// exportUsers streams every user as JSON lines (application/x-ndjson), the
// view GET /users/{id} returns, a page at a time in username order. It
// needs only users:read: it shows what paging through GET /users does, in
// one request. Password hashes are never part of a view. A failure after
// the first line cannot change the status any more: the stream then just
// ends, short, and the error is logged.
func (a *API) exportUsers(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	out := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	started := false
	err := a.svc.ExportUsers(ctx, func(users []store.User) error {
		views, err := UserViews(ctx, a.svc, a.now(), users...)
		if err != nil {
			return err
		}
		if err := rc.SetWriteDeadline(time.Now().Add(exportPageDeadline)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		for _, v := range views {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	})
	if err != nil && started {
		a.log.ErrorContext(ctx, "users export: stream cut short", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if !started {
		// No user at all: an empty stream.
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
	return nil
}
