package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// hostileRequest is one request carrying bytes PostgreSQL refuses, and the
// answers that refuse it as the caller's mistake.
type hostileRequest struct {
	name        string
	method      string
	path        string // escaped as sent
	body        string
	contentType string
	header      map[string]string
	status      []int
	oauthError  string // the RFC 6749 error code, on the OAuth surface
}

// TestHostileBytesStopAtTheEdge: NUL, invalid UTF-8, a surrogate half and
// overlong cursors, in every place a request can carry them — query,
// path, form, Basic-auth client id, bearer token, JSON body — are refused
// with 400/422 (invalid_request, invalid_client, a 401 for a token that
// names nothing) before any query: the server writes no ERROR line, and no
// query fails on the bytes (PostgreSQL's SQLSTATE 22021 / 22P05 appear
// nowhere in the log, at any level).
func TestHostileBytesStopAtTheEdge(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	admin := ts.createUser(t, "admin")
	token := apiTokenFor(t, ts, admin)
	client := ts.createConfidentialClient(t, nil)
	pending := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusPending })

	// A pending access request to deny with a NUL comment.
	req := apiCall(t, ts, http.MethodPost, "/api/v1/access-requests", token,
		map[string]any{"user_id": pending.ID, "role": "viewer", "purpose": "to read dashboards"})
	if req.Status != http.StatusCreated {
		t.Fatalf("submit access request: %d %s", req.Status, req.Raw)
	}
	requestID := req.str("id")

	bearer := map[string]string{"Authorization": "Bearer " + token}
	basic := func(id string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+client.Secret))}
	}
	cursor := func(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }
	multipartForm := func(fields ...string) (string, string) {
		var buf strings.Builder
		mw := multipart.NewWriter(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = mw.WriteField(fields[i], fields[i+1])
		}
		_ = mw.Close()
		return buf.String(), mw.FormDataContentType()
	}
	mpBody, mpType := multipartForm("grant_type", "client_credentials", "client_id", "a\x00b", "client_secret", "x")
	const (
		form     = "application/x-www-form-urlencoded"
		jsonType = "application/json"
		cc       = "grant_type=client_credentials"
	)
	bad := []int{http.StatusBadRequest}
	unprocessable := []int{http.StatusUnprocessableEntity}
	unauthorized := []int{http.StatusUnauthorized}

	cases := []hostileRequest{
		// Pages and browser endpoints, unauthenticated.
		{name: "logout client_id NUL", method: "GET", path: "/oauth2/logout?client_id=%00", status: bad},
		{name: "logout client_id invalid UTF-8", method: "GET", path: "/oauth2/logout?client_id=%ff", status: bad},
		{name: "authorize client_id NUL", method: "GET", path: "/oauth2/auth?response_type=code&client_id=%00", status: bad},
		// The token, introspection, revocation and PAR endpoints.
		{name: "Basic client id NUL", method: "POST", path: "/oauth2/token", body: cc, contentType: form, header: basic("\x00"), status: unauthorized, oauthError: "invalid_client"},
		{name: "Basic client id escaped NUL", method: "POST", path: "/oauth2/token", body: cc, contentType: form, header: basic("%00"), status: unauthorized, oauthError: "invalid_client"},
		{name: "Basic client id invalid UTF-8", method: "POST", path: "/oauth2/token", body: cc, contentType: form, header: basic("\xff"), status: unauthorized, oauthError: "invalid_client"},
		{name: "Basic client id escaped invalid UTF-8", method: "POST", path: "/oauth2/token", body: cc, contentType: form, header: basic("%ff"), status: unauthorized, oauthError: "invalid_client"},
		{name: "form client_id NUL", method: "POST", path: "/oauth2/token", body: cc + "&client_id=%00&client_secret=x", contentType: form, status: bad, oauthError: "invalid_request"},
		{name: "multipart client_id NUL", method: "POST", path: "/oauth2/token", body: mpBody, contentType: mpType, status: bad, oauthError: "invalid_request"},
		{name: "introspection, Basic client id NUL", method: "POST", path: "/oauth2/introspect", body: "token=x", contentType: form, header: basic("%00"), status: unauthorized, oauthError: "invalid_client"},
		{name: "revocation, Basic client id invalid UTF-8", method: "POST", path: "/oauth2/revoke", body: "token=x", contentType: form, header: basic("%ff"), status: unauthorized, oauthError: "invalid_client"},
		{name: "PAR, state NUL", method: "POST", path: "/oauth2/par", body: "response_type=code&state=%00", contentType: form, header: basic(client.ID), status: bad, oauthError: "invalid_request"},
		{name: "userinfo, bearer token invalid UTF-8", method: "GET", path: "/oauth2/userinfo", header: map[string]string{"Authorization": "Bearer gh_at_x.\xff"}, status: unauthorized},
		// The resource API: query, path, cursor.
		{name: "API bearer token invalid UTF-8", method: "GET", path: "/api/v1/users/me", header: map[string]string{"Authorization": "Bearer gh_at_x.\xff"}, status: unauthorized},
		{name: "users q NUL", method: "GET", path: "/api/v1/users?q=%00", header: bearer, status: bad},
		{name: "users q invalid UTF-8", method: "GET", path: "/api/v1/users?q=%ff", header: bearer, status: bad},
		{name: "roles/%ff", method: "GET", path: "/api/v1/roles/%ff", header: bearer, status: bad},
		{name: "clients/%00", method: "GET", path: "/api/v1/clients/%00", header: bearer, status: bad},
		{name: "sessions/%ff", method: "DELETE", path: "/api/v1/sessions/%ff", header: bearer, status: bad},
		{name: "audit actor NUL", method: "GET", path: "/api/v1/audit?actor=%00", header: bearer, status: bad},
		{name: "5,000-character cursor", method: "GET", path: "/api/v1/users?cursor=" + strings.Repeat("A", 5000), header: bearer, status: unprocessable},
		{name: "cursor of a NUL key", method: "GET", path: "/api/v1/users?cursor=" + cursor("a\x00b"), header: bearer, status: unprocessable},
		{name: "access requests cursor of invalid UTF-8", method: "GET", path: "/api/v1/access-requests?cursor=" + cursor("\xff"), header: bearer, status: unprocessable},
		// JSON bodies.
		{name: "preferences value \\u0000", method: "PATCH", path: "/api/v1/users/me", body: `{"preferences":{"a":"\u0000"}}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "preferences key \\u0000", method: "PATCH", path: "/api/v1/users/me", body: `{"preferences":{"\u0000":1}}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "new user's preferences, unpaired surrogate", method: "POST", path: "/api/v1/users", body: `{"username":"surrogate","email":"surrogate@example.com","preferences":{"a":"\ud800"}}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "new user's preferences, \\u0000", method: "POST", path: "/api/v1/users", body: `{"username":"nul-prefs","email":"nul-prefs@example.com","preferences":{"a":"\u0000"}}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "role description \\u0000", method: "POST", path: "/api/v1/roles", body: `{"name":"nul-role","description":"a\u0000b"}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "group description \\u0000", method: "POST", path: "/api/v1/groups", body: `{"name":"nul-group","description":"a\u0000b"}`, contentType: jsonType, header: bearer, status: unprocessable},
		{name: "purpose \\u0000", method: "POST", path: "/api/v1/access-requests", body: fmt.Sprintf(`{"user_id":%q,"role":"user","purpose":"a\u0000b"}`, admin.ID), contentType: jsonType, header: bearer, status: unprocessable},
		{name: "deny comment \\u0000", method: "POST", path: "/api/v1/access-requests/" + requestID + "/deny", body: `{"comment":"no\u0000"}`, contentType: jsonType, header: bearer, status: unprocessable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.sendRaw(t, tc)
			if !containsInt(tc.status, r.Status) {
				t.Fatalf("status %d, want %v\n%s", r.Status, tc.status, snippet(r.Raw))
			}
			if tc.oauthError != "" && r.str("error") != tc.oauthError {
				t.Errorf("error %q, want %q\n%s", r.str("error"), tc.oauthError, snippet(r.Raw))
			}
		})
	}
	for _, name := range []string{"\x00", "\xff", "ad\x00min@example.com", "\xff@example.com"} {
		t.Run(fmt.Sprintf("login username %q", name), func(t *testing.T) {
			pg := readPage(t, login(t, ts.newBrowser(t), ts.endpoint("/login"), name, "whatever password"))
			if pg.Status != http.StatusBadRequest && pg.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 400 or the login page again (401)\n%s", pg.Status, snippet(pg.Body))
			}
		})
	}
	// The request for another user with a NUL purpose must not have been
	// made; the denied request is still pending.
	if got := apiCall(t, ts, http.MethodGet, "/api/v1/access-requests/"+requestID, token, nil); got.str("status") != "pending" {
		t.Errorf("access request after a refused deny: %s", got.Raw)
	}
	wantQuietLog(t, ts)
}

// wantQuietLog fails if the server wrote an ERROR line, or if any query
// failed on bytes PostgreSQL refuses.
func wantQuietLog(t *testing.T, ts *testServer) {
	t.Helper()
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		if line == "" {
			continue
		}
		var entry struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not JSON: %.200s", line)
			continue
		}
		if entry.Level == "ERROR" {
			t.Errorf("ERROR logged: %.400s", line)
		}
		for _, sign := range []string{"SQLSTATE 22021", "SQLSTATE 22P05", "invalid byte sequence"} {
			if strings.Contains(line, sign) {
				t.Errorf("a query failed on the bytes (%s): %.400s", sign, line)
			}
		}
	}
}

// sendRaw sends r over a plain connection, so that the path and headers go
// out byte for byte (net/http's client refuses some of them), and decodes
// the answer.
func (ts *testServer) sendRaw(t *testing.T, r hostileRequest) oauthResponse {
	t.Helper()
	conn, host := ts.dialRaw(t)
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", r.method, r.path, host, len(r.body))
	if r.contentType != "" {
		fmt.Fprintf(&head, "Content-Type: %s\r\n", r.contentType)
	}
	for k, v := range r.header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()+r.body); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(r.method, ts.URL, nil)
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	out := oauthResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &out.JSON)
	}
	return out
}

// TestSlowFormBody: a form body that has not arrived when the read timeout
// strikes is answered 408 invalid_request (an error page on a page), not
// read as an empty form nor a 500, and without an ERROR line.
func TestSlowFormBody(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.HTTP.ReadTimeout = time.Second })
	client := ts.createConfidentialClient(t, nil)
	for _, path := range []string{"/oauth2/token", "/oauth2/revoke", "/login"} {
		t.Run(path, func(t *testing.T) {
			conn, host := ts.dialRaw(t)
			// 100 bytes announced, 29 sent, then nothing: a slow client.
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n", path, host)
			fmt.Fprintf(conn, "Authorization: Basic %s\r\n\r\ngrant_type=client_credentials",
				base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(client.ID)+":"+url.QueryEscape(client.Secret))))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408\n%s", resp.StatusCode, snippet(string(raw)))
			}
			if path != "/login" {
				var body map[string]any
				if err := json.Unmarshal(raw, &body); err != nil || body["error"] != "invalid_request" {
					t.Errorf("body %s, want invalid_request", raw)
				}
			}
		})
	}
	wantQuietLog(t, ts)
}

// TestLogLinesAreBounded: an unauthenticated request with a 1 MB
// client_assertion_type (which fosite quotes in its error) writes no log
// line longer than a few kilobytes; the cut is marked.
func TestLogLinesAreBounded(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	huge := strings.Repeat("a", 1000*1000)
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {"no-such-client"},
		"client_assertion_type": {huge},
		"client_assertion":      {"x.y.z"},
	}
	r := ts.token(t, form, clientAuth{})
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("status %d, want a 4xx\n%s", r.Status, snippet(r.Raw))
	}
	log := ts.logs.String()
	for _, line := range strings.Split(log, "\n") {
		if len(line) > 4<<10 {
			t.Errorf("a log line of %d bytes: %.300s", len(line), line)
		}
	}
	if strings.Contains(log, huge[:1000]) {
		t.Errorf("the log holds 1,000 bytes of the parameter")
	}
	if !strings.Contains(log, "…(cut ") {
		t.Errorf("no value was marked as cut; did the parameter reach the log at all?\n%.2000s", log)
	}
}
