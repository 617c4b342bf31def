package admin_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/admin"
)

type openAPIDoc struct {
	OpenAPI string                                 `json:"openapi"`
	Servers []struct{ URL string }                 `json:"servers"`
	Paths   map[string]map[string]openAPIOp        `json:"paths"`
	Comps   struct{ Schemas map[string]schemaDoc } `json:"components"`
}

type openAPIOp struct {
	OperationID string          `json:"operationId"`
	Security    *[]any          `json:"security"`
	Permissions []string        `json:"x-permissions"`
	Owner       string          `json:"x-owner"`
	UserOnly    bool            `json:"x-user-only"`
	Responses   map[string]any  `json:"responses"`
	RequestBody json.RawMessage `json:"requestBody"`
}

type schemaDoc struct {
	Properties map[string]json.RawMessage `json:"properties"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != admin.Prefix {
		t.Fatalf("servers = %+v, want the one server %s", doc.Servers, admin.Prefix)
	}
	return doc
}

// TestOpenAPIMatchesRoutes walks the routes the API mounts and the
// operations the document lists, and fails on any difference either way.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	r := mux.NewRouter()
	admin.New(nil, nil, admin.Options{}).Mount(r)

	mounted := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // the prefix route of the subrouter
		}
		for _, m := range methods {
			mounted[m+" "+strings.TrimPrefix(tpl, admin.Prefix)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if len(mounted) == 0 {
		t.Fatal("no routes mounted")
	}

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for k := range mounted {
		if !documented[k] {
			t.Errorf("route %s is mounted but not in openapi.json", k)
		}
	}
	for k := range documented {
		if !mounted[k] {
			t.Errorf("openapi.json documents %s, which is not mounted", k)
		}
	}
	// The route table is what Mount registers.
	for _, rt := range admin.Routes() {
		if !mounted[rt.Method+" "+rt.Path] {
			t.Errorf("admin.Routes() lists %s %s, which is not mounted", rt.Method, rt.Path)
		}
	}
	if len(admin.Routes()) != len(mounted) {
		t.Errorf("admin.Routes() has %d routes, the router %d", len(admin.Routes()), len(mounted))
	}
}

// TestOpenAPIPermissions checks the document states each route's permission
// rule as the route table has it.
func TestOpenAPIPermissions(t *testing.T) {
	doc := loadOpenAPI(t)
	ids := map[string]bool{}
	for _, rt := range admin.Routes() {
		op, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("%s %s not documented", rt.Method, rt.Path)
			continue
		}
		name := rt.Method + " " + rt.Path
		if op.OperationID == "" || ids[op.OperationID] {
			t.Errorf("%s: operationId %q missing or repeated", name, op.OperationID)
		}
		ids[op.OperationID] = true
		if rt.Public {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s is public but the document does not say security: []", name)
			}
		} else {
			got, wantPerms := slices.Clone(op.Permissions), slices.Clone(rt.Permissions)
			sort.Strings(got)
			sort.Strings(wantPerms)
			if !slices.Equal(got, wantPerms) {
				t.Errorf("%s: x-permissions %v, route table %v", name, got, wantPerms)
			}
			if op.Owner != rt.Owner || op.UserOnly != rt.UserOnly {
				t.Errorf("%s: x-owner %q x-user-only %v, route table %q %v", name, op.Owner, op.UserOnly, rt.Owner, rt.UserOnly)
			}
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: no %s response documented", name, code)
				}
			}
		}
		if _, ok := op.Responses[strconv.Itoa(rt.Status)]; !ok {
			t.Errorf("%s: success status %d not documented", name, rt.Status)
		}
	}
}

// TestOpenAPISchemasMatchViews compares each view's JSON fields with the
// properties of its schema.
func TestOpenAPISchemasMatchViews(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{
		"UserView":          admin.UserView{},
		"ClientView":        admin.ClientView{},
		"Lifetimes":         admin.LifetimesView{},
		"RoleView":          admin.RoleView{},
		"GroupView":         admin.GroupView{},
		"AccessRequestView": admin.AccessRequestView{},
		"APITokenView":      admin.APITokenView{},
		"AuditEntryView":    admin.AuditEntryView{},
		"SessionView":       admin.SessionView{},
		"AllowedAppView":    admin.AllowedAppView{},
		"SignedOutView":     admin.SignedOutView{},
		"StatsView":         admin.StatsView{},
		"UserCountsView":    admin.UserCountsView{},
		"DayCountView":      admin.DayCountView{},
		"Problem":           admin.Problem{},
		"FieldError":        admin.FieldError{},
		// idp
		"IdentityProviderView":   admin.IdentityProviderView{},
		"IdentityProviderClaims": admin.ClaimsView{},
		// areas
		"AreaView":     admin.AreaView{},
		"AreaRoleList": admin.AreaRoleList{},
		// usage analytics
		"UsageView":          admin.UsageView{},
		"UsageDayView":       admin.UsageDayView{},
		"ClientUsageView":    admin.ClientUsageView{},
		"ActiveUsersView":    admin.ActiveUsersView{},
		"GrantTypeCountView": admin.GrantTypeCountView{},
		// appaccess
		"ClientAccess": admin.ClientAccessView{},
	} {
		s, ok := doc.Comps.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		var fields []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				fields = append(fields, tag)
			}
		}
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s has properties %v, the Go view %v", name, props, fields)
		}
	}
}

// TestOpenAPIServed checks the document is served without a token.
func TestOpenAPIServed(t *testing.T) {
	e := newMemoryEnv(t)
	r := e.do(t, http.MethodGet, "/openapi.json", "", nil)
	want(t, r, http.StatusOK, "GET /openapi.json")
	if string(r.Raw) != string(admin.OpenAPI()) {
		t.Errorf("served document differs from the embedded one")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}
