package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

const maxAccessRequestLimit = 200

func accessRequestFields(r store.AccessRequest) fields {
	return fields{
		"user_id":        r.UserID,
		"requested_role": r.RequestedRole,
		"purpose":        r.Purpose,
		"status":         string(r.Status),
		"granted_role":   r.GrantedRole,
		"comment":        r.Comment,
		"client_id":      r.ClientID,
	}
}

// SubmitAccessRequest records a user's request for a role
// ("access_request.create"). The user must be pending, or active and asking
// for a further role (locked, disabled and expired users: ErrForbidden;
// UserCanAct is the rule); the role
// must exist, not be admin, and not be one the user holds already
// (effectively); purpose 1–1000 characters; one pending request at a time
// (store.ErrConflict).
func (s *Service) SubmitAccessRequest(ctx context.Context, a Actor, userID, role, purpose string) (store.AccessRequest, error) {
	return s.submitAccessRequest(ctx, a, userID, role, purpose, nil)
}

// submitAccessRequest is SubmitAccessRequest; forApp, when given, runs in
// the transaction once the user is known and may act, and returns the
// client id the request is for and the role it asks (the app access
// request, SubmitAppAccessRequest). Every other rule is the same for both.
func (s *Service) submitAccessRequest(ctx context.Context, a Actor, userID, role, purpose string,
	forApp func(ctx context.Context, u store.User) (clientID, role string, err error)) (store.AccessRequest, error) {
	if err := notFoundID("user", userID); err != nil {
		return store.AccessRequest{}, err
	}
	var v problems
	purpose = strings.TrimSpace(purpose)
	switch n := utf8.RuneCountInString(purpose); {
	case n == 0:
		v.add("purpose", "is required")
	case n > maxPurposeLength:
		v.add("purpose", "must be at most %d characters", maxPurposeLength)
	case TextProblem(purpose, true) != "":
		v.add("purpose", "%s", TextProblem(purpose, true))
	}
	var out store.AccessRequest
	err := s.inTx(ctx, "submit access request", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if now := s.now(); !UserCanAct(u, now, ActKeepSession) {
			return forbidden("user %s is %s", u.ID, u.EffectiveStatus(now))
		}
		if err := s.mayRequestAccess(u); err != nil {
			return err
		}
		var clientID string
		if forApp != nil {
			if clientID, role, err = forApp(ctx, u); err != nil {
				return err
			}
		}
		all, err := s.roleMap(ctx)
		if err != nil {
			return err
		}
		switch _, exists := all[role]; {
		case role == "":
			v.add("role", "is required")
		case !exists:
			v.add("role", "%q is not a role", role)
		case role == AdminRole:
			v.add("role", "cannot be requested; an administrator grants it")
		default:
			held, _, err := s.userRoles(ctx, u)
			if err != nil {
				return err
			}
			if slices.Contains(held, role) {
				v.add("role", "you hold %q already", role)
			}
		}
		if err := v.err(); err != nil {
			return err
		}
		r := store.AccessRequest{
			ID:            uuid.NewString(),
			UserID:        u.ID,
			RequestedRole: role,
			Purpose:       purpose,
			Status:        store.RequestPending,
			CreatedAt:     s.now(),
			ClientID:      clientID,
		}
		if err := s.store.CreateAccessRequest(ctx, r); err != nil {
			return err
		}
		c := onCreate(accessRequestFields(r))
		if err := s.audit(ctx, a, "access_request.create", TargetAccessRequest, r.ID, c); err != nil {
			return err
		}
		out, err = s.store.GetAccessRequest(ctx, r.ID)
		return err
	})
	if err != nil {
		return store.AccessRequest{}, err
	}
	return out, nil
}

// PendingAccessRequest returns the user's pending request for a role
// alone (not one for an application), or nil.
func (s *Service) PendingAccessRequest(ctx context.Context, userID string) (*store.AccessRequest, error) {
	return s.pendingRequestFor(ctx, userID, "")
}

// pendingRequestFor returns the user's pending request for clientID (""
// for a role alone), or nil. A user has one per client at most, and few
// clients at once: one page of its pending requests holds them.
func (s *Service) pendingRequestFor(ctx context.Context, userID, clientID string) (*store.AccessRequest, error) {
	if _, err := uuid.Parse(userID); err != nil {
		return nil, nil
	}
	rs, err := s.store.ListAccessRequests(ctx, store.AccessRequestFilter{Status: store.RequestPending, UserID: userID, Limit: maxAccessRequestLimit})
	if err != nil {
		return nil, fmt.Errorf("domain: pending access request: %w", err)
	}
	for i := range rs {
		if rs[i].ClientID == clientID {
			return &rs[i], nil
		}
	}
	return nil, nil
}

// GetAccessRequest returns store.ErrNotFound if absent.
func (s *Service) GetAccessRequest(ctx context.Context, id string) (store.AccessRequest, error) {
	if err := notFoundID("access request", id); err != nil {
		return store.AccessRequest{}, err
	}
	r, err := s.store.GetAccessRequest(ctx, id)
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("domain: get access request: %w", err)
	}
	return r, nil
}

// ListAccessRequests lists requests newest first (limit capped at 200).
func (s *Service) ListAccessRequests(ctx context.Context, f store.AccessRequestFilter) ([]store.AccessRequest, error) {
	if err := checkFilters(map[string]string{"status": string(f.Status), "user_id": f.UserID, "cursor": f.Before}); err != nil {
		return nil, err
	}
	f.Limit = capLimit(f.Limit, maxAccessRequestLimit)
	out, err := s.store.ListAccessRequests(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("domain: list access requests: %w", err)
	}
	return out, nil
}

// ApproveAccessRequest grants role ("" = the requested one) and makes the
// user active, in one transaction with the decision and its audit entry
// ("access_request.approve"); then notifies the user. A request no longer
// pending is store.ErrConflict. p needs access-requests:review; granting
// admin, or a role outside p's own effective roles, needs users:roles too;
// nobody approves its own request (ErrForbidden for all three). A user
// who was locked or disabled meanwhile gets the role but keeps that status:
// an approval answers the request, it does not overrule an administrator.
func (s *Service) ApproveAccessRequest(ctx context.Context, p Principal, id, role, comment string) (store.AccessRequest, error) {
	return s.decide(ctx, p, id, store.RequestApproved, role, comment, nil)
}

// ApproveAccessRequestUntil is ApproveAccessRequest granting the role only
// until until (a time-boxed grant; nil: for good), which must be in the
// future (a ValidationErrors entry for "expires_at"). An approval never
// shortens what the user has: a role held for good stays so, and an
// assignment that runs longer keeps its expiry.
func (s *Service) ApproveAccessRequestUntil(ctx context.Context, p Principal, id, role, comment string, until *time.Time) (store.AccessRequest, error) {
	return s.decide(ctx, p, id, store.RequestApproved, role, comment, until)
}

// DenyAccessRequest denies with a comment ("access_request.deny"; comment
// required, 1–1000 characters), then notifies the user; store.ErrConflict if
// no longer pending. p needs access-requests:review.
func (s *Service) DenyAccessRequest(ctx context.Context, p Principal, id, comment string) (store.AccessRequest, error) {
	return s.decide(ctx, p, id, store.RequestDenied, "", comment, nil)
}

func (s *Service) decide(ctx context.Context, p Principal, id string, status store.AccessRequestStatus, role, comment string, until *time.Time) (store.AccessRequest, error) {
	what := "approve access request"
	action := "access_request.approve"
	if status == store.RequestDenied {
		what, action = "deny access request", "access_request.deny"
	}
	if !p.Can(store.PermAccessRequestsReview) {
		return store.AccessRequest{}, forbidden("%s needs %s", what, store.PermAccessRequestsReview)
	}
	if err := notFoundID("access request", id); err != nil {
		return store.AccessRequest{}, err
	}
	var v problems
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > maxCommentLength {
		v.add("comment", "must be at most %d characters", maxCommentLength)
	}
	if msg := TextProblem(comment, true); msg != "" {
		v.add("comment", "%s", msg)
	}
	if status == store.RequestDenied && comment == "" {
		v.add("comment", "is required to deny a request")
	}
	if until != nil && !until.After(s.now()) {
		v.add("expires_at", "must be in the future")
	}
	var (
		out  store.AccessRequest
		user store.User
	)
	err := s.inTx(ctx, what, func(ctx context.Context) error {
		req, err := s.store.GetAccessRequest(ctx, id)
		if err != nil {
			return err
		}
		if req.Status != store.RequestPending {
			return conflict("request %s is %s already", id, req.Status)
		}
		if p.isOrActsFor(req.UserID) {
			return forbidden("a request is decided by someone else than its author")
		}
		if status == store.RequestApproved {
			if role == "" {
				role = req.RequestedRole
			}
			all, err := s.roleMap(ctx)
			if err != nil {
				return err
			}
			if _, ok := all[role]; !ok {
				v.add("role", "%q is not a role", role)
			} else if (role == AdminRole || !p.holdsRole(role)) && !p.Can(store.PermUsersRoles) {
				return forbidden("granting %q needs %s", role, store.PermUsersRoles)
			} else if err := mayConfer(p, rolePermissions(all, role), fmt.Sprintf("approving %q", role)); err != nil {
				return err
			}
		}
		if err := v.err(); err != nil {
			return err
		}
		// DecideAccessRequest is the compare-and-swap: of two concurrent
		// decisions exactly one gets past it, the other is ErrConflict.
		out, err = s.store.DecideAccessRequest(ctx, id, status, role, p.Actor.String(), comment, s.now())
		if err != nil {
			return err
		}
		c := diff(accessRequestFields(req), accessRequestFields(out))
		// Held: the approval writes the whole user back.
		user, err = s.store.GetUserForUpdate(ctx, req.UserID)
		if err != nil {
			return err
		}
		if status == store.RequestApproved {
			next := user
			next.Roles = set(append(slices.Clone(user.Roles), role))
			next.RoleExpiry = approvedExpiry(user, role, until, s.now())
			if next.Status == store.StatusPending {
				next.Status = store.StatusActive
			}
			uc := diff(grantFields(user), grantFields(next))
			for _, f := range []string{"roles", "status", "role_expiry"} {
				if ch, ok := uc[f]; ok {
					c["user_"+f] = ch
				}
			}
			if len(uc) > 0 {
				next.UpdatedAt = s.now()
				if err := s.store.UpdateUser(ctx, next); err != nil {
					return err
				}
				user = next
			}
		}
		if err := s.queueDecisionMail(ctx, user, out); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, action, TargetAccessRequest, id, c)
	})
	if err != nil {
		return store.AccessRequest{}, err
	}
	return out, nil
}

// approvedExpiry is u's role expiries once an approval grants role until
// until (nil: for good). An unexpired permanent assignment stays
// permanent, a longer one keeps its expiry; an expired one that the
// janitor has not removed yet is granted anew.
func approvedExpiry(u store.User, role string, until *time.Time, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for r, at := range u.RoleExpiry {
		out[r] = at
	}
	held := RoleHeld(u, role, now)
	at, boxed := u.RoleExpiry[role]
	switch {
	case until == nil:
		delete(out, role)
	case held && !boxed:
	case held && at.After(*until):
	default:
		out[role] = until.UTC()
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// queueDecisionMail puts the mail that tells u of the decision r into the
// outbox, in the decision's transaction: the decision and its notice
// commit together, and the sender delivers it (with retries) whatever
// happens to this process afterwards. A full outbox is logged and nothing
// more: the decision stands, and the user sees it at the next sign-in.
func (s *Service) queueDecisionMail(ctx context.Context, u store.User, r store.AccessRequest) error {
	if !s.MailEnabled() || u.Email == "" {
		return nil
	}
	// A request for an app (app access rules) names it, as people know it.
	app := r.ClientID
	if app != "" {
		if c, err := s.store.GetClient(ctx, app); err == nil && c.Name != "" {
			app = c.Name
		}
	}
	subject, body, ok := decisionMail(u, r, app, s.opts.Recovery.Issuer)
	if !ok {
		return nil
	}
	return s.tryEnqueue(ctx, u.Email, subject, body)
}

// decisionMail words the notice of a decision on an access request; ok is
// false for a request in any other state (there is nothing to tell).
// app is the name of the application a request for one asked access to
// ("" for a request for a role alone).
func decisionMail(u store.User, r store.AccessRequest, app, issuer string) (subject, body string, ok bool) {
	if r.Status != store.RequestApproved && r.Status != store.RequestDenied {
		return "", "", false
	}
	var b strings.Builder
	b.WriteString(greeting(u))
	if r.Status == store.RequestApproved {
		subject = "Your access request was approved"
		role := r.GrantedRole
		if role == "" {
			role = r.RequestedRole
		}
		if app != "" {
			fmt.Fprintf(&b, "Your request for access to %s was approved (role: %s).\n", app, role)
		} else {
			fmt.Fprintf(&b, "Your access request was approved (role: %s).\n", role)
		}
		if c := strings.TrimSpace(r.Comment); c != "" {
			fmt.Fprintf(&b, "\nComment from the reviewer:\n%s\n", c)
		}
		fmt.Fprintf(&b, "\nYou can sign in now: %s\n", issuer)
	} else {
		subject = "Your access request was denied"
		if app != "" {
			fmt.Fprintf(&b, "Your request for access to %s was denied: %s\n", app, strings.TrimSpace(r.Comment))
		} else {
			fmt.Fprintf(&b, "Your access request was denied: %s\n", strings.TrimSpace(r.Comment))
		}
		fmt.Fprintf(&b, "\nIf you think this is a mistake, ask your administrator. %s\n", issuer)
	}
	b.WriteString("\n-- \ngatehouse\n")
	// The comment may carry \r\n or \r: notify's Send makes every line
	// ending \n before encoding, as it does for every message.
	return subject, b.String(), true
}
