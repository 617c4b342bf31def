package admin

import (
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
)

// getStats answers the dashboard's figures in one request. They are counts
// of the directory (users by status, the review queue's length, sign-ins
// per day) that name nobody, so users:read is enough: reading the queue
// itself needs access-requests:review, and the sign-ins themselves
// audit:read.
func (a *API) getStats(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	st, err := a.svc.Stats(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewStatsView(st))
	return nil
}
