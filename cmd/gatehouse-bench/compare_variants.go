package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
)

// The compare cells that run a workload through gatehouse's second web
// client, registered with ES256: the performance targets are stated per
// client algorithm (refresh >= 10x Hydra for an ES256 client, >= 6x for an
// RS256 one), so one run shows both.
const (
	refreshES256Workload = "refresh-es256"
	ssoES256Workload     = "authcode-sso-es256"
)

// webES256ClientID is bench-web registered with ES256, for the variant
// cells.
const webES256ClientID = "bench-web-es256"

// clientVariantNames are the client variant cells, in the order they run.
var clientVariantNames = []string{refreshES256Workload, ssoES256Workload}

// clientVariant is a cell that runs the workload base through the web
// client registered with alg. On Hydra it is base as Hydra runs it (Hydra
// signs as it always does), run again in the variant's own cell so that
// each cell's ratio compares runs back to back in a pass.
type clientVariant struct{ base, alg string }

var clientVariants = map[string]clientVariant{
	refreshES256Workload: {"refresh", domain.IDTokenAlgES256},
	ssoES256Workload:     {"authcode-sso", domain.IDTokenAlgES256},
}

// baseWorkload is the workload a cell runs: its own name, or a variant's
// base.
func baseWorkload(name string) string {
	if v, ok := clientVariants[name]; ok {
		return v.base
	}
	return name
}

// needsES256Web reports whether any of the workloads runs through the
// ES256 web client.
func needsES256Web(names []string) bool {
	for _, n := range names {
		if _, ok := clientVariants[n]; ok {
			return true
		}
	}
	return false
}

// withES256Web is e with the ES256 web client in the place of the web
// client: the same workloads, the other client's credentials.
func (e *env) withES256Web() (*env, error) {
	if e.t.WebES256ID == "" {
		return nil, errors.New("no ES256 web client registered")
	}
	t := *e.t
	t.WebID, t.WebSecret, t.WebAlg = t.WebES256ID, t.WebES256Secret, domain.IDTokenAlgES256
	c := *e
	c.t = &t
	return &c, nil
}

// workload is cell name's workload on s; a client variant runs under its
// own name, so that its cells pair up in the report.
func (s compareSystem) workload(name string) (Workload, error) {
	v, ok := clientVariants[name]
	if !ok {
		return s.e.workload(name)
	}
	e := s.e
	if s.name == systemGatehouse {
		var err error
		if e, err = s.e.withES256Web(); err != nil {
			return Workload{}, err
		}
	}
	wl, err := e.workload(v.base)
	wl.Name = name
	return wl, err
}

// clientAlgs maps each of the compare cells that sign ID tokens to the
// algorithm gatehouse's client in it registered: webAlg for the plain
// cells, the variant's for the others.
func clientAlgs(names []string, webAlg string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		switch v, ok := clientVariants[n]; {
		case ok:
			out[n] = v.alg
		case needsLogin([]string{n}) && webAlg != "":
			out[n] = webAlg
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// jwtAlg is the alg of a compact JWS's protected header.
func jwtAlg(token string) (string, error) {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	var v struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("header: %w", err)
	}
	return v.Alg, nil
}

// checkIDTokenAlg fails unless the ID token of tr is signed with want,
// the algorithm its client registered ("": nothing to check), so that a
// cell labelled with a client's algorithm measures that algorithm.
func checkIDTokenAlg(what string, tr tokenResponse, want string) error {
	if want == "" {
		return nil
	}
	if tr.IDToken == "" {
		return fmt.Errorf("%s: no ID token (client registered %s)", what, want)
	}
	alg, err := jwtAlg(tr.IDToken)
	if err != nil {
		return fmt.Errorf("%s: ID token: %w", what, err)
	}
	if alg != want {
		return fmt.Errorf("%s: ID token signed %s, the client registered %s", what, alg, want)
	}
	return nil
}
