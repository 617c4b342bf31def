package admin

import (
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/domain"
)

// getStats answers the dashboard's figures in one request. They are counts
// of the directory (users by status, the review queue's length, sign-ins
// per day) that name nobody, so users:read is enough: reading the queue
// itself needs access-requests:review, and the sign-ins themselves
// audit:read. The usage analytics (?days=) name clients, which any
// users:read holder may list on the login pages' consent anyway, and no
// user.
func (a *API) getStats(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	days := domain.DefaultUsageDays
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return invalidField("days", "must be an integer from 1 to "+strconv.Itoa(domain.MaxUsageDays))
		}
		days = n // the domain checks the range
	}
	// The range is checked first, so that a bad one costs no query.
	use, err := a.svc.UsageStats(r.Context(), days)
	if err != nil {
		return err
	}
	st, err := a.svc.Stats(r.Context())
	if err != nil {
		return err
	}
	v := NewStatsView(st)
	v.Usage = NewUsageView(use)
	writeJSON(w, http.StatusOK, v)
	return nil
}
