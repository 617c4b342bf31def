package consent

import (
	"net/http"
	"sort"

	"github.com/gatehouse/gatehouse/store"
)

// ConsentView is what the consent page shows and where its form goes.
type ConsentView struct {
	ClientID   string
	ClientName string
	Scopes     []string
	User       store.User
	// Action is the URL the form POSTs to (the authorization endpoint).
	Action string
	// Hidden are carried through the form as hidden inputs. The names
	// csrf_token and decision are ours and are dropped if present.
	Hidden map[string]string
}

type hiddenField struct{ Name, Value string }

type consentView struct {
	layout
	ClientID   string
	ClientName string
	Scopes     []string
	Username   string
	Email      string
	Action     string
	Hidden     []hiddenField
}

// RenderConsent renders the consent page: the client's name, the requesting
// user, one line per scope in plain words, and a form POSTing to v.Action
// with the CSRF token, every v.Hidden field, and the allow and deny buttons
// (name="decision", value "allow" or "deny").
func (p *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, v ConsentView) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "consent: csrf", err)
		return
	}
	name := v.ClientName
	if name == "" {
		name = v.ClientID
	}
	p.render(w, http.StatusOK, "consent", consentView{
		layout:     layout{Title: "Allow " + name + "?", CSRFToken: token},
		ClientID:   v.ClientID,
		ClientName: name,
		Scopes:     v.Scopes,
		Username:   v.User.Username,
		Email:      v.User.Email,
		Action:     v.Action,
		Hidden:     hiddenFields(v.Hidden, csrfFormField, "decision"),
	})
}

// hiddenFields sorts the fields (stable pages, stable tests) and drops the
// reserved names, so a caller's map cannot shadow our own inputs.
func hiddenFields(m map[string]string, reserved ...string) []hiddenField {
	out := make([]hiddenField, 0, len(m))
next:
	for k, v := range m {
		for _, r := range reserved {
			if k == r {
				continue next
			}
		}
		out = append(out, hiddenField{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// scopeText says in plain words what granting a scope lets the client do.
// Scopes it does not know are shown by name.
func scopeText(scope string) string {
	switch scope {
	case "openid":
		return "Sign you in with your gatehouse account"
	case "profile":
		return "See your name and profile details"
	case "email":
		return "See your email address"
	case "offline_access":
		return "Keep access when you are not using it"
	case "roles":
		return "See your roles"
	case "gatehouse:api":
		return "Manage gatehouse on your behalf, within your own permissions"
	}
	return "Use the permission “" + scope + "”"
}
