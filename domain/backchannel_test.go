package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestValidateClientBackchannelLogoutURI(t *testing.T) {
	tests := []struct {
		uri     string
		wantErr string // "" means valid
	}{
		{"", ""},
		{"https://rp.example/backchannel?tenant=a", ""},
		{"https://rp.example:8443/logout", ""},
		{"http://127.0.0.1:9000/logout", ""},
		{"http://localhost/logout", ""},
		{"http://[::1]:8080/logout", ""},
		{"http://rp.example/logout", "must use https"},
		{"http://10.0.0.1/logout", "must use https"},
		{"https://rp.example/logout#frag", "fragment"},
		{"https://user:pw@rp.example/logout", "user information"},
		{"/logout", "absolute"},
		{"com.example.app:/logout", "https"},
		{"javascript:alert(1)", "https"},
		{"https:///logout", "host"},
		{"https://rp.example/" + strings.Repeat("a", 2001), "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			c := webClient()
			c.BackchannelLogoutURI = tt.uri
			c.BackchannelLogoutSessionRequired = true
			err := domain.ValidateClient(c)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateClient: %v", err)
				}
				return
			}
			ve, ok := domain.AsValidation(err)
			if !ok {
				t.Fatalf("ValidateClient = %v, want a validation error", err)
			}
			if len(ve.Fields) != 1 || ve.Fields[0].Field != "backchannel_logout_uri" {
				t.Fatalf("fields = %+v, want backchannel_logout_uri", ve.Fields)
			}
			if !strings.Contains(ve.Fields[0].Message, tt.wantErr) {
				t.Errorf("message %q does not say %q", ve.Fields[0].Message, tt.wantErr)
			}
		})
	}
}

func TestSessionSID(t *testing.T) {
	a, b := domain.SessionSID("session-a"), domain.SessionSID("session-b")
	if a == "" || a == b {
		t.Fatalf("SessionSID gave %q and %q", a, b)
	}
	if a != domain.SessionSID("session-a") {
		t.Error("SessionSID is not stable")
	}
	if strings.Contains(a, "session-a") {
		t.Errorf("sid %q shows the session id", a)
	}
	if domain.SessionSID("") != "" {
		t.Error("SessionSID of no session is not empty")
	}
}

// logoutEnv is a user signed in (one login session) to a client with a
// back-channel logout URI and to one without.
type logoutEnv struct {
	*env
	user          store.User
	session       string
	listening     store.Client
	notListening  store.Client
	otherSession  string
	otherListened store.Client
	// signatures are the access tokens made, by client.
	signatures map[string]string
}

func newLogoutEnv(t *testing.T) logoutEnv {
	e := newEnv(t)
	u := e.user("lena", "user")
	mk := func(id, uri string) store.Client {
		c := webClient()
		c.ID, c.BackchannelLogoutURI = id, uri
		if err := e.store.CreateClient(e.ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	le := logoutEnv{env: e, user: u,
		listening:     mk("listening", "https://rp.example/bcl"),
		notListening:  mk("deaf", ""),
		otherListened: mk("other", "https://other.example/bcl")}
	start := func() string {
		e.clock.Advance(time.Second) // sign-ins in a known order
		id := uuid.NewString()
		if _, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: id, User: u, IP: "192.0.2.9", Lifetime: time.Hour}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	le.session, le.otherSession = start(), start()
	le.signatures = map[string]string{}
	grant := func(c store.Client, session string) {
		sig := uuid.NewString()
		le.signatures[c.ID] = sig
		err := e.store.CreateToken(e.ctx, store.Token{Kind: store.KindAccessToken, Signature: sig,
			RequestID: uuid.NewString(), ClientID: c.ID, Subject: u.ID, UserID: u.ID, LoginSessionID: session,
			RequestedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour), Active: true, Request: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	grant(le.listening, le.session)
	grant(le.notListening, le.session)
	grant(le.otherListened, le.otherSession)
	return le
}

func (le logoutEnv) adminPrincipal() domain.Principal {
	le.t.Helper()
	return le.principal(le.env.user("root-"+uuid.NewString()[:8], "admin"))
}

func (le logoutEnv) queued() []store.Logout {
	le.t.Helper()
	out, err := le.store.ClaimLogouts(le.ctx, le.clock.Now().Add(time.Hour), time.Minute, 100)
	if err != nil {
		le.t.Fatal(err)
	}
	return out
}

func TestEndSessionQueuesBackChannelLogout(t *testing.T) {
	le := newLogoutEnv(t)
	if err := le.svc.EndSession(le.ctx, "192.0.2.9", le.session); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	got := le.queued()
	if len(got) != 1 {
		t.Fatalf("queued %+v, want one notification", got)
	}
	l := got[0]
	if l.ClientID != le.listening.ID || l.Subject != le.user.ID || l.SessionID != domain.SessionSID(le.session) {
		t.Errorf("queued %+v, want client %s, subject %s, sid of the session", l, le.listening.ID, le.user.ID)
	}
}

func TestSessionEndsQueueBackChannelLogout(t *testing.T) {
	tests := []struct {
		name string
		end  func(le logoutEnv) error
		want int // notifications: one per listening client per session ended
	}{
		{"admin revokes the session", func(le logoutEnv) error {
			return le.svc.RevokeSession(le.ctx, le.adminPrincipal(), le.session)
		}, 1},
		{"sign out everywhere", func(le logoutEnv) error {
			_, err := le.svc.SignOutEverywhere(le.ctx, le.principal(le.user), le.user.ID)
			return err
		}, 2},
		{"user disabled", func(le logoutEnv) error {
			_, err := le.svc.SetUserStatus(le.ctx, le.adminPrincipal(), le.user.ID, store.StatusDisabled)
			return err
		}, 2},
		{"user locked", func(le logoutEnv) error {
			_, err := le.svc.SetUserStatus(le.ctx, le.adminPrincipal(), le.user.ID, store.StatusLocked)
			return err
		}, 2},
		{"user deleted", func(le logoutEnv) error {
			return le.svc.DeleteUser(le.ctx, le.adminPrincipal(), le.user.ID, true)
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le := newLogoutEnv(t)
			if err := tt.end(le); err != nil {
				t.Fatalf("end: %v", err)
			}
			got := le.queued()
			if len(got) != tt.want {
				t.Fatalf("queued %d notifications (%+v), want %d", len(got), got, tt.want)
			}
			for _, l := range got {
				if l.ClientID == le.notListening.ID {
					t.Errorf("a client without a logout URI was queued: %+v", l)
				}
			}
		})
	}
}

func TestBackChannelLogoutQueueFullDoesNotBlockLogout(t *testing.T) {
	le := newLogoutEnv(t)
	for range domain.DefaultLogoutQueueRows {
		if err := le.store.EnqueueLogout(le.ctx, store.Logout{ID: uuid.NewString(), ClientID: le.listening.ID,
			Subject: "s", SessionID: "x", NextAttemptAt: le.clock.Now(), CreatedAt: le.clock.Now()}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := le.svc.EndSession(le.ctx, "192.0.2.9", le.session); err != nil {
		t.Fatalf("EndSession with a full queue: %v", err)
	}
	if _, err := le.store.GetLoginSession(le.ctx, le.session, time.Time{}); err == nil {
		t.Error("the session outlived its logout")
	}
	n, err := le.store.CountLogouts(le.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != domain.DefaultLogoutQueueRows {
		t.Errorf("queue holds %d, want its bound %d", n, domain.DefaultLogoutQueueRows)
	}
}

// TestEvictionQueuesBackChannelLogout: a sign-in over the session limit
// ends the oldest session, and its clients are told.
func TestEvictionQueuesBackChannelLogout(t *testing.T) {
	le := newLogoutEnv(t)
	limit := 2
	u, err := le.store.GetUser(le.ctx, le.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.SessionLimit = &limit
	if err := le.store.UpdateUser(le.ctx, u); err != nil {
		t.Fatal(err)
	}
	le.clock.Advance(time.Minute)
	if _, err := le.svc.StartSession(le.ctx, domain.NewSession{ID: uuid.NewString(), User: u, IP: "192.0.2.9", Lifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got := le.queued()
	if len(got) != 1 || got[0].ClientID != le.listening.ID || got[0].SessionID != domain.SessionSID(le.session) {
		t.Fatalf("queued %+v, want the oldest session's one notification", got)
	}
}

// A second sign-in of the same user in the same browser replaces the
// session; the grants of the old one move to the new, so logging out of the
// new one still ends the old tokens and tells their clients.
func TestSignInAgainKeepsGrantsUnderTheNewSession(t *testing.T) {
	le := newLogoutEnv(t)
	next := uuid.NewString()
	if _, err := le.svc.StartSession(le.ctx, domain.NewSession{ID: next, User: le.user, Previous: le.session,
		IP: "192.0.2.9", Lifetime: time.Hour}); err != nil {
		t.Fatalf("StartSession again: %v", err)
	}
	if _, _, err := le.svc.CurrentSession(le.ctx, le.session); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the replaced session: %v, want not found", err)
	}
	if got := le.queued(); len(got) != 0 {
		t.Fatalf("signing in again queued %+v, want no logout", got)
	}
	if err := le.svc.EndSession(le.ctx, "192.0.2.9", next); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	got := le.queued()
	if len(got) != 1 || got[0].ClientID != le.listening.ID || got[0].SessionID != domain.SessionSID(next) {
		t.Fatalf("queued %+v, want one logout of %s under the new session's sid", got, le.listening.ID)
	}
	active := map[string]bool{}
	for client, sig := range le.signatures {
		tk, err := le.store.GetToken(le.ctx, store.KindAccessToken, sig)
		if err != nil {
			t.Fatalf("GetToken(%s): %v", client, err)
		}
		active[client] = tk.Active
	}
	if active[le.listening.ID] || active[le.notListening.ID] {
		t.Errorf("tokens of the replaced session still active after logout: %v", active)
	}
	if !active[le.otherListened.ID] {
		t.Errorf("the other session's token was revoked: %v", active)
	}
}
