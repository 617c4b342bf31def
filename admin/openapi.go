package admin

import (
	"embed"
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
)

// The OpenAPI document is written by hand; a test keeps it and the route
// table in step.
//
//go:embed openapi.json
var openAPIFS embed.FS

func (a *API) openAPI(w http.ResponseWriter, _ *http.Request, _ *domain.Principal) error {
	doc, err := openAPIFS.ReadFile("openapi.json")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
	return nil
}

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte {
	doc, _ := openAPIFS.ReadFile("openapi.json")
	return doc
}
