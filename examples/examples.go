package examples

import _ "embed"

//go:embed roles.yaml
var rolesYAML []byte

// Roles returns the persona roles document, in the format of
// domain.Service.ImportRoles. Each call returns a fresh copy, so a caller
// cannot change what the next one gets.
func Roles() []byte { return append([]byte(nil), rolesYAML...) }
