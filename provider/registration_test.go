package provider

import (
	"errors"
	"net/url"
	"testing"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

// A self-registered client's redirect URIs are https or loopback http:
// nobody vouches for it, so no custom scheme and no plain http elsewhere.
func TestRegisteredRedirectProblem(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://mcp.example/callback", true},
		{"http://127.0.0.1:33418/callback", true},
		{"http://[::1]/cb", true},
		{"http://localhost:8080/cb", true},
		{"http://mcp.example/callback", false},
		{"http://127.0.0.1.nip.io/cb", false},
		{"https://mcp.example/cb#frag", false},
		{"https://user@mcp.example/cb", false},
		{"com.example.app:/cb", false},
		{"/relative", false},
		{"javascript:alert(1)", false},
	} {
		if got := registeredRedirectProblem(tc.uri) == ""; got != tc.ok {
			t.Errorf("%s: accepted %v, want %v (%s)", tc.uri, got, tc.ok, registeredRedirectProblem(tc.uri))
		}
	}
}

// resource is checked against the resource API and the client's own
// audiences; the error is RFC 8707's invalid_target.
func TestRequestedResources(t *testing.T) {
	c := &client{Client: store.Client{ID: "c", Audience: []string{"https://reports.example/api"}}, resourceAPI: "https://id.example/api/v1"}
	for _, tc := range []struct {
		name      string
		resources []string
		want      []string
		invalid   bool
	}{
		{"none", nil, nil, false},
		{"the API", []string{"https://id.example/api/v1"}, []string{"https://id.example/api/v1"}, false},
		{"both, once each", []string{"https://reports.example/api", "https://id.example/api/v1", "https://reports.example/api"},
			[]string{"https://reports.example/api", "https://id.example/api/v1"}, false},
		{"unknown", []string{"https://evil.example/"}, nil, true},
		{"relative", []string{"/api/v1"}, nil, true},
		{"fragment", []string{"https://id.example/api/v1#x"}, nil, true},
		{"a prefix of the API", []string{"https://id.example/api"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := requestedResources(url.Values{"resource": tc.resources}, c)
			if tc.invalid {
				var rfc *fosite.RFC6749Error
				if !errors.As(err, &rfc) || rfc.ErrorField != "invalid_target" || rfc.CodeField != 400 {
					t.Fatalf("err = %v, want invalid_target", err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	// The API is an audience the client may ask for; its own stay too.
	if aud := c.GetAudience(); len(aud) != 2 || !aud.Has("https://id.example/api/v1") || !aud.Has("https://reports.example/api") {
		t.Errorf("GetAudience = %v", aud)
	}
	if len(c.Audience) != 1 {
		t.Errorf("GetAudience changed the client's own list: %v", c.Audience)
	}
}
