package admin

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// This file is the one mapping of store records to the JSON the API (and
// the CLI, which prints the same shapes) shows. Secrets never appear: no
// password hash, no secret digest; a client or API token secret only in the
// response that created it.

// UserView is a user as the API shows it.
type UserView struct {
	ID          string          `json:"id"`
	Username    string          `json:"username"`
	Email       string          `json:"email"`
	FullName    string          `json:"full_name"`
	Department  string          `json:"department"`
	Goals       []string        `json:"goals"`
	Preferences json.RawMessage `json:"preferences"`
	// Status is the effective status: "expired" once a pending or active
	// user's ExpiresAt has passed (store.User.EffectiveStatus).
	Status string `json:"status"`
	// Roles are the roles assigned to the user directly.
	Roles []string `json:"roles"`
	// Groups are the names of the groups the user is a member of.
	Groups []string `json:"groups"`
	// EffectiveRoles adds the groups' roles and every ancestor.
	EffectiveRoles []string   `json:"effective_roles"`
	EmailVerified  bool       `json:"email_verified"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastLoginAt    *time.Time `json:"last_login_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	// LockedUntil is set while repeated failed sign-ins keep the user out,
	// and omitted once the lockout is over: the sign-in page answers a
	// locked-out user as it answers a wrong password, so this is where an
	// administrator learns why someone cannot get in.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	// SessionLimit caps the user's live login sessions; null means the
	// server's default (sessions.limit), 0 no limit.
	SessionLimit *int `json:"session_limit"`

	// Areas (areas.go): the codes of the user's areas, sorted, and its
	// default area's code (null for none).
	Areas       []string `json:"areas"`
	DefaultArea *string  `json:"default_area"`
	// Time-boxed role grants and denied permissions.
	// RoleGrants are Roles with the instant each stops counting.
	RoleGrants []RoleGrantView `json:"role_grants"`
	// DeniedPermissions are never held, whatever the roles grant.
	DeniedPermissions []string `json:"denied_permissions"`
	// Profile fields and break-glass access (profile.go); "" and false
	// for none.
	PhoneNumber         string `json:"phone_number"`
	PhoneNumberVerified bool   `json:"phone_number_verified"`
	GivenName           string `json:"given_name"`
	FamilyName          string `json:"family_name"`
	Locale              string `json:"locale"`
	Zoneinfo            string `json:"zoneinfo"`
	Picture             string `json:"picture"`
	BreakGlass          bool   `json:"break_glass"`
}

// NewUserView shows u as it is at now, with its groups and effective
// roles. Every answer that shows a user, single or in a list, API or CLI,
// builds it through UserViews, so that a list item and GET /users/{id}
// agree field for field.
func NewUserView(u store.User, m domain.Membership, now time.Time) UserView {
	prefs := u.Preferences
	if len(prefs) == 0 {
		prefs = json.RawMessage(`{}`)
	}
	return UserView{
		ID:             u.ID,
		Username:       u.Username,
		Email:          u.Email,
		FullName:       u.FullName,
		Department:     u.Department,
		Goals:          orEmpty(u.Goals),
		Preferences:    prefs,
		Status:         string(u.EffectiveStatus(now)),
		Roles:          heldRoles(u, now),
		Groups:         orEmpty(m.Groups),
		EffectiveRoles: orEmpty(m.EffectiveRoles),
		EmailVerified:  u.EmailVerified,
		CreatedAt:      u.CreatedAt,
		UpdatedAt:      u.UpdatedAt,
		LastLoginAt:    u.LastLoginAt,
		ExpiresAt:      u.ExpiresAt,
		LockedUntil:    lockedUntil(u, now),
		SessionLimit:   u.SessionLimit,

		RoleGrants:          roleGrantViews(u, now),
		DeniedPermissions:   orEmpty(u.DeniedPermissions),
		PhoneNumber:         u.PhoneNumber,
		PhoneNumberVerified: u.PhoneNumberVerified,
		GivenName:           u.GivenName,
		FamilyName:          u.FamilyName,
		Locale:              u.Locale,
		Zoneinfo:            u.Zoneinfo,
		Picture:             u.Picture,
		BreakGlass:          u.BreakGlass,
	}
}

func lockedUntil(u store.User, now time.Time) *time.Time {
	if !u.LockedOut(now) {
		return nil
	}
	return u.LockedUntil
}

// UserViews shows users as they are at now with their memberships, read
// for all of them at once (domain.Service.Memberships), so a page of users
// costs no query per user.
func UserViews(ctx context.Context, svc *domain.Service, now time.Time, users ...store.User) ([]UserView, error) {
	ms, err := svc.Memberships(ctx, users...)
	if err != nil {
		return nil, err
	}
	areas, err := svc.AreasOfUsers(ctx, users...)
	if err != nil {
		return nil, err
	}
	out := make([]UserView, len(users))
	for i, u := range users {
		out[i] = NewUserView(u, ms[u.ID], now)
		out[i].Areas = areas[u.ID].Areas
		if d := areas[u.ID].DefaultArea; d != "" {
			out[i].DefaultArea = &d
		}
	}
	return out, nil
}

// ClientView is an OAuth 2.0 client, with RFC 7591 field names where one
// exists.
type ClientView struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// ClientSecret is set only in the response that created the secret:
	// the store keeps its digest alone and cannot show it again.
	ClientSecret            string          `json:"client_secret,omitempty"`
	RedirectURIs            []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	AllowedOrigins          []string        `json:"allowed_origins"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scope                   string          `json:"scope"` // space-separated, as in OAuth 2.0
	Audience                []string        `json:"audience"`
	Public                  bool            `json:"public"`
	FirstParty              bool            `json:"first_party"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	// AccessTokenFormat is omitted when the client uses the server's.
	AccessTokenFormat string `json:"access_token_format,omitempty"`
	// IDTokenSignedResponseAlg is omitted when the client takes the RS256
	// default.
	IDTokenSignedResponseAlg string        `json:"id_token_signed_response_alg,omitempty"`
	Lifetimes                LifetimesView `json:"lifetimes"`
	// Roles make a client_credentials client a service account.
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Back-channel logout (OpenID Connect Back-Channel Logout 1.0 section
	// 2.2): "" and false when the client takes no logout tokens.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
	// Dynamic client registration (RFC 7591): read-only. Registered
	// clients registered themselves; LastUsedAt is when one last got a
	// token (to within an hour), what the janitor's unused_client_ttl
	// counts from.
	Registered bool       `json:"registered"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// DPoPBoundAccessTokens (RFC 9449 §5.2): every token request of the
	// client must carry a DPoP proof.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
	// Access is the app access rule (appaccess): who may sign in to the
	// client. All lists empty lets everyone in.
	Access ClientAccessView `json:"access"`
}

// ClientAccessView is a client's app access rule: role names, group ids
// and area codes; a user matching any entry is admitted (a listed area
// admits the members of its whole subtree).
type ClientAccessView struct {
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
	Areas  []string `json:"areas"`
}

// NewClientAccessView shows a, with empty lists rather than null.
func NewClientAccessView(a store.ClientAccess) ClientAccessView {
	return ClientAccessView{Roles: orEmpty(a.Roles), Groups: orEmpty(a.Groups), Areas: orEmpty(a.Areas)}
}

// ToAccess is the rule the view shows; an empty list is nil, as in a
// client that never had a rule.
func (v ClientAccessView) ToAccess() store.ClientAccess {
	orNil := func(l []string) []string {
		if len(l) == 0 {
			return nil
		}
		return l
	}
	return store.ClientAccess{Roles: orNil(v.Roles), Groups: orNil(v.Groups), Areas: orNil(v.Areas)}
}

// LifetimesView holds Go duration strings ("1h0m0s"); an omitted field
// means the server default.
type LifetimesView struct {
	AuthorizationCode string `json:"authorization_code,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	IDToken           string `json:"id_token,omitempty"`
	RefreshToken      string `json:"refresh_token,omitempty"`
}

// NewClientView shows c (without any secret).
func NewClientView(c store.Client) ClientView {
	return ClientView{
		ClientID:                 c.ID,
		ClientName:               c.Name,
		RedirectURIs:             orEmpty(c.RedirectURIs),
		PostLogoutRedirectURIs:   orEmpty(c.PostLogoutRedirectURIs),
		AllowedOrigins:           orEmpty(c.AllowedOrigins),
		GrantTypes:               orEmpty(c.GrantTypes),
		ResponseTypes:            orEmpty(c.ResponseTypes),
		Scope:                    strings.Join(c.Scopes, " "),
		Audience:                 orEmpty(c.Audience),
		Public:                   c.Public,
		FirstParty:               c.FirstParty,
		TokenEndpointAuthMethod:  c.TokenEndpointAuthMethod,
		JWKS:                     c.JWKS,
		AccessTokenFormat:        string(c.AccessTokenFormat),
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		Lifetimes:                NewLifetimesView(c.Lifetimes),
		Roles:                    orEmpty(c.Roles),
		CreatedAt:                c.CreatedAt,
		UpdatedAt:                c.UpdatedAt,

		BackchannelLogoutURI:             c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		Registered:                       c.Registered,
		LastUsedAt:                       c.LastUsedAt,
		DPoPBoundAccessTokens:            c.DPoPBoundAccessTokens,
		Access:                           NewClientAccessView(c.Access),
	}
}

// NewLifetimesView formats lifetimes; zero (the server default) is omitted.
func NewLifetimesView(l store.Lifetimes) LifetimesView {
	return LifetimesView{
		AuthorizationCode: formatLifetime(l.AuthorizationCode),
		AccessToken:       formatLifetime(l.AccessToken),
		IDToken:           formatLifetime(l.IDToken),
		RefreshToken:      formatLifetime(l.RefreshToken),
	}
}

func formatLifetime(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// ToLifetimes parses the durations; a malformed one is a
// *domain.ValidationError on its field (lifetimes.<name>).
func (v LifetimesView) ToLifetimes() (store.Lifetimes, error) {
	var l store.Lifetimes
	for _, f := range []struct {
		field string
		in    string
		out   *time.Duration
	}{
		{"lifetimes.authorization_code", v.AuthorizationCode, &l.AuthorizationCode},
		{"lifetimes.access_token", v.AccessToken, &l.AccessToken},
		{"lifetimes.id_token", v.IDToken, &l.IDToken},
		{"lifetimes.refresh_token", v.RefreshToken, &l.RefreshToken},
	} {
		if f.in == "" {
			continue
		}
		d, err := time.ParseDuration(f.in)
		if err != nil {
			return store.Lifetimes{}, &domain.ValidationError{Fields: []domain.FieldError{{Field: f.field, Message: "must be a duration such as 15m or 720h"}}}
		}
		*f.out = d
	}
	return l, nil
}

// ToClient converts a view received as input into a store.Client. The
// secret, secret digest and timestamps are not taken from input; a
// malformed lifetime is reported as a *domain.ValidationError on its field.
func (v ClientView) ToClient() (store.Client, error) {
	l, err := v.Lifetimes.ToLifetimes()
	if err != nil {
		return store.Client{}, err
	}
	return store.Client{
		ID:                       v.ClientID,
		Name:                     v.ClientName,
		TokenEndpointAuthMethod:  v.TokenEndpointAuthMethod,
		RedirectURIs:             v.RedirectURIs,
		PostLogoutRedirectURIs:   v.PostLogoutRedirectURIs,
		AllowedOrigins:           v.AllowedOrigins,
		GrantTypes:               v.GrantTypes,
		ResponseTypes:            v.ResponseTypes,
		Scopes:                   strings.Fields(v.Scope),
		Audience:                 v.Audience,
		Public:                   v.Public,
		FirstParty:               v.FirstParty,
		JWKS:                     v.JWKS,
		AccessTokenFormat:        store.AccessTokenFormat(v.AccessTokenFormat),
		IDTokenSignedResponseAlg: v.IDTokenSignedResponseAlg,
		Lifetimes:                l,
		Roles:                    v.Roles,

		BackchannelLogoutURI:             v.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: v.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            v.DPoPBoundAccessTokens,
		Access:                           v.Access.ToAccess(),
	}, nil
}

// RoleView is a role.
type RoleView struct {
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Parent         string    `json:"parent"` // "" for none
	Permissions    []string  `json:"permissions"`
	SuggestedGoals []string  `json:"suggested_goals"`
	BuiltIn        bool      `json:"built_in"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// NewRoleView shows r.
func NewRoleView(r store.Role) RoleView {
	return RoleView{
		Name:           r.Name,
		Description:    r.Description,
		Parent:         r.Parent,
		Permissions:    orEmpty(r.Permissions),
		SuggestedGoals: orEmpty(r.SuggestedGoals),
		BuiltIn:        r.BuiltIn,
		CreatedAt:      r.CreatedAt,
		UpdatedAt:      r.UpdatedAt,
	}
}

// GroupView is a group; Members (user ids) is shown for a single group.
type GroupView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Roles       []string  `json:"roles"`
	Members     []string  `json:"members,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewGroupView shows g with its members (nil to leave them out).
func NewGroupView(g store.Group, members []string) GroupView {
	return GroupView{
		ID:          g.ID,
		Name:        g.Name,
		Description: g.Description,
		Roles:       orEmpty(g.Roles),
		Members:     members,
		CreatedAt:   g.CreatedAt,
		UpdatedAt:   g.UpdatedAt,
	}
}

// AccessRequestView is an access request.
type AccessRequestView struct {
	ID            string     `json:"id"`
	UserID        string     `json:"user_id"`
	RequestedRole string     `json:"requested_role"`
	Purpose       string     `json:"purpose"`
	Status        string     `json:"status"`
	GrantedRole   string     `json:"granted_role,omitempty"`
	DecidedBy     string     `json:"decided_by,omitempty"`
	Comment       string     `json:"comment,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DecidedAt     *time.Time `json:"decided_at"`
	// ClientID is the client the request asks access to (app access
	// rules); omitted for a request for a role alone.
	ClientID string `json:"client_id,omitempty"`
}

// NewAccessRequestView shows r.
func NewAccessRequestView(r store.AccessRequest) AccessRequestView {
	return AccessRequestView{
		ID:            r.ID,
		UserID:        r.UserID,
		RequestedRole: r.RequestedRole,
		Purpose:       r.Purpose,
		Status:        string(r.Status),
		GrantedRole:   r.GrantedRole,
		DecidedBy:     r.DecidedBy,
		Comment:       r.Comment,
		CreatedAt:     r.CreatedAt,
		DecidedAt:     r.DecidedAt,
		ClientID:      r.ClientID,
	}
}

// APITokenView is an API token. Token, the secret, is set only in the
// response that created it.
type APITokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Kind       string     `json:"kind"`
	UserID     string     `json:"user_id,omitempty"`
	ClientID   string     `json:"client_id,omitempty"`
	Scopes     []string   `json:"scopes"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Token      string     `json:"token,omitempty"`
}

// NewAPITokenView shows t; secret is "" except when the token was just made.
func NewAPITokenView(t store.APIToken, secret string) APITokenView {
	return APITokenView{
		ID:         t.ID,
		Name:       t.Name,
		Kind:       string(t.Kind),
		UserID:     t.UserID,
		ClientID:   t.ClientID,
		Scopes:     orEmpty(t.Scopes),
		CreatedBy:  t.CreatedBy,
		CreatedAt:  t.CreatedAt,
		ExpiresAt:  t.ExpiresAt,
		LastUsedAt: t.LastUsedAt,
		RevokedAt:  t.RevokedAt,
		Token:      secret,
	}
}

// AuditEntryView is an audit log entry.
type AuditEntryView struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor is "user:<id>", "client:<id>", "cli", "system" or "anonymous".
	Actor      string `json:"actor"`
	ActorType  string `json:"actor_type"`
	ActorID    string `json:"actor_id,omitempty"`
	Action     string `json:"action"`
	TargetType string `json:"target_type,omitempty"`
	TargetID   string `json:"target_id,omitempty"`
	IPAddress  string `json:"ip_address,omitempty"`
	// Act is who acted on the actor's behalf, through a token it made
	// for the actor ("user:<id>", ...); absent when the actor acted for
	// itself.
	Act     string          `json:"act,omitempty"`
	Changes json.RawMessage `json:"changes,omitempty"`
}

// NewAuditEntryView shows e.
func NewAuditEntryView(e store.AuditEntry) AuditEntryView {
	return AuditEntryView{
		ID:         e.ID,
		At:         e.At,
		Actor:      domain.Actor{Type: e.ActorType, ID: e.ActorID}.String(),
		ActorType:  string(e.ActorType),
		ActorID:    e.ActorID,
		Action:     e.Action,
		TargetType: e.TargetType,
		TargetID:   e.TargetID,
		IPAddress:  e.IPAddress,
		Act:        e.Act,
		Changes:    e.Changes,
	}
}

// SessionView is a browser login session. Its id is the digest of the
// cookie, which cannot be turned back into a usable cookie.
type SessionView struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	AuthTime   time.Time `json:"auth_time"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	UserAgent  string    `json:"user_agent"`
	IPAddress  string    `json:"ip_address"`
	// AMR and ACR say how the sign-in authenticated ([] and "" for
	// sessions from before multi-factor sign-in).
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// NewSessionView shows s.
func NewSessionView(s store.LoginSession) SessionView {
	return SessionView{
		ID:         s.ID,
		UserID:     s.UserID,
		AuthTime:   s.AuthTime,
		ExpiresAt:  s.ExpiresAt,
		LastSeenAt: s.LastSeenAt,
		UserAgent:  s.UserAgent,
		IPAddress:  s.IPAddress,
		AMR:        orEmpty(s.AMR),
		ACR:        s.ACR,
	}
}

// orEmpty shows a nil list as [] rather than null.
func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// AllowedAppView is a client the user allowed (a remembered consent).
type AllowedAppView struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
	// ExpiresAt is null for a consent that lasts until revoked.
	ExpiresAt *time.Time `json:"expires_at"`
}

// NewAllowedAppView shows app.
func NewAllowedAppView(app domain.AllowedApp) AllowedAppView {
	return AllowedAppView{
		ClientID:   app.ClientID,
		ClientName: app.ClientName,
		Scopes:     orEmpty(app.Scopes),
		GrantedAt:  app.GrantedAt,
		ExpiresAt:  app.ExpiresAt,
	}
}

// SignedOutView is what signing out everywhere ended.
type SignedOutView struct {
	// SessionsEnded counts the live browser sessions ended.
	SessionsEnded int `json:"sessions_ended"`
	// GrantsRevoked counts the grants whose tokens stopped working.
	GrantsRevoked int `json:"grants_revoked"`
}

// StatsView is the dashboard's figures.
type StatsView struct {
	At                    time.Time      `json:"at"`
	Users                 UserCountsView `json:"users"`
	PendingAccessRequests int            `json:"pending_access_requests"`
	// SignInsPerDay has one entry per UTC day, the oldest first, today
	// last.
	SignInsPerDay []DayCountView `json:"sign_ins_per_day"`
	// Usage is the usage analytics over ?days= (usage analytics).
	Usage UsageView `json:"usage"`
}

// UserCountsView counts users by effective status.
type UserCountsView struct {
	Total    int `json:"total"`
	Active   int `json:"active"`
	Pending  int `json:"pending"`
	Locked   int `json:"locked"`
	Disabled int `json:"disabled"`
	Expired  int `json:"expired"`
}

// DayCountView is a count for one UTC date.
type DayCountView struct {
	Date  string `json:"date"` // YYYY-MM-DD
	Count int    `json:"count"`
}

// NewStatsView shows st.
func NewStatsView(st domain.Stats) StatsView {
	u := UserCountsView{
		Active:   st.Users[store.StatusActive],
		Pending:  st.Users[store.StatusPending],
		Locked:   st.Users[store.StatusLocked],
		Disabled: st.Users[store.StatusDisabled],
		Expired:  st.Users[store.StatusExpired],
	}
	u.Total = u.Active + u.Pending + u.Locked + u.Disabled + u.Expired
	days := make([]DayCountView, len(st.SignIns))
	for i, d := range st.SignIns {
		days[i] = DayCountView{Date: d.Day.UTC().Format(time.DateOnly), Count: d.Count}
	}
	return StatsView{At: st.At, Users: u, PendingAccessRequests: st.PendingAccessRequests, SignInsPerDay: days}
}

// UsageView is the usage analytics of the dashboard, from the aggregated
// usage table.
type UsageView struct {
	// Days is the range; From and To its first and last UTC dates
	// (YYYY-MM-DD), To today.
	Days int    `json:"days"`
	From string `json:"from"`
	To   string `json:"to"`
	// SignInsPerDay has one entry per UTC day of the range, the oldest
	// first, today last; SignIns sums them.
	SignInsPerDay []UsageDayView `json:"sign_ins_per_day"`
	SignIns       int64          `json:"sign_ins"`
	// Clients are the clients with the most sign-ins over the range.
	Clients     []ClientUsageView `json:"clients"`
	ActiveUsers ActiveUsersView   `json:"active_users"`
	// TokensByGrantType counts token responses over the range.
	TokensByGrantType []GrantTypeCountView `json:"tokens_by_grant_type"`
}

// UsageDayView is a count for one UTC date.
type UsageDayView struct {
	Date  string `json:"date"` // YYYY-MM-DD
	Count int64  `json:"count"`
}

// ClientUsageView is one client's sign-ins; Name is "" for a client
// deleted since.
type ClientUsageView struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	SignIns  int64  `json:"sign_ins"`
}

// ActiveUsersView counts the distinct users who signed in.
type ActiveUsersView struct {
	Last7Days  int `json:"last_7_days"`
	Last30Days int `json:"last_30_days"`
}

// GrantTypeCountView counts the token responses of one grant type.
type GrantTypeCountView struct {
	GrantType string `json:"grant_type"`
	Count     int64  `json:"count"`
}

// NewUsageView shows u.
func NewUsageView(u domain.UsageStats) UsageView {
	v := UsageView{
		Days: u.Days, From: u.From.UTC().Format(time.DateOnly), To: u.From.AddDate(0, 0, u.Days-1).UTC().Format(time.DateOnly),
		SignInsPerDay: make([]UsageDayView, len(u.SignIns)), SignIns: u.TotalSignIns,
		Clients:           make([]ClientUsageView, len(u.Clients)),
		ActiveUsers:       ActiveUsersView{Last7Days: u.ActiveUsers7, Last30Days: u.ActiveUsers30},
		TokensByGrantType: make([]GrantTypeCountView, len(u.Tokens)),
	}
	for i, d := range u.SignIns {
		v.SignInsPerDay[i] = UsageDayView{Date: d.Day.UTC().Format(time.DateOnly), Count: int64(d.Count)}
	}
	for i, c := range u.Clients {
		v.Clients[i] = ClientUsageView{ClientID: c.ClientID, Name: c.Name, SignIns: c.SignIns}
	}
	for i, t := range u.Tokens {
		v.TokensByGrantType[i] = GrantTypeCountView{GrantType: t.Key, Count: t.Count}
	}
	return v
}
