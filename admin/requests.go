package admin

import (
	"time"

	"net/http"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

const conflictDecided = "the request has been decided already; decisions are final"

func (a *API) listAccessRequests(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.AccessRequestFilter{
		Status: store.AccessRequestStatus(q.Get("status")),
		UserID: q.Get("user_id"),
		Before: pg.Cursor,
		Limit:  pg.fetchLimit(),
	}
	switch f.Status {
	case "", store.RequestPending, store.RequestApproved, store.RequestDenied, store.RequestCancelled:
	default:
		return invalidField("status", "must be pending, approved, denied or cancelled")
	}
	reqs, err := a.svc.ListAccessRequests(r.Context(), f)
	if err != nil {
		return err
	}
	views := make([]AccessRequestView, len(reqs))
	for i, req := range reqs {
		views[i] = NewAccessRequestView(req)
	}
	writeJSON(w, http.StatusOK, finish(pg, views, func(v AccessRequestView) string { return v.ID }))
	return nil
}

// submitAccessRequest records a request for the caller itself or, for a
// reviewer, on behalf of the user named by user_id.
func (a *API) submitAccessRequest(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		UserID  string `json:"user_id"`
		Role    string `json:"role"`
		Purpose string `json:"purpose"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	userID := in.UserID
	switch {
	case userID == "" && p.User == nil:
		return invalidField("user_id", "is required for a service account")
	case userID == "":
		userID = p.User.ID
	case (p.User == nil || userID != p.User.ID) && !p.Can(store.PermAccessRequestsReview):
		return forbidden([]string{store.PermAccessRequestsReview})
	}
	req, err := a.svc.SubmitAccessRequest(r.Context(), p.Actor, userID, in.Role, in.Purpose)
	if err != nil {
		return conflict(err, "the user has a pending request already")
	}
	writeCreated(w, r, req.ID, NewAccessRequestView(req))
	return nil
}

func (a *API) getAccessRequest(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	req, err := a.svc.GetAccessRequest(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewAccessRequestView(req))
	return nil
}

func (a *API) approveAccessRequest(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Role    string `json:"role"`
		Comment string `json:"comment"`
		// A time-boxed grant: for so many days, or until an instant.
		ExpiresInDays *int       `json:"expires_in_days"`
		ExpiresAt     *time.Time `json:"expires_at"`
	}
	// The body may be omitted: the requested role is granted.
	if err := decodeOptionalBody(w, r, &in); err != nil {
		return err
	}
	until, err := approveExpiry(in.ExpiresInDays, in.ExpiresAt, a.now())
	if err != nil {
		return err
	}
	req, err := a.svc.ApproveAccessRequestUntil(r.Context(), *p, mux.Vars(r)["id"], in.Role, in.Comment, until)
	if err != nil {
		return conflict(err, conflictDecided)
	}
	writeJSON(w, http.StatusOK, NewAccessRequestView(req))
	return nil
}

func (a *API) denyAccessRequest(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Comment string `json:"comment"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	req, err := a.svc.DenyAccessRequest(r.Context(), *p, mux.Vars(r)["id"], in.Comment)
	if err != nil {
		return conflict(err, conflictDecided)
	}
	writeJSON(w, http.StatusOK, NewAccessRequestView(req))
	return nil
}
