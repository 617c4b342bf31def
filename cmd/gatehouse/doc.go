// Command gatehouse is the one gatehouse binary: the server (serve) and the
// administration commands (migrate, users, roles, groups, tokens, audit,
// clients, keys, version), which work on the database directly and print
// JSON. The identity commands go through domain.Service with the CLI as
// actor, so they apply the resource API's rules and leave the same audit
// entries. Everything is wired here by constructors; the configuration is
// loaded once per run and passed down.
package main
