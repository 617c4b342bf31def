// Command gatehouse is the one gatehouse binary: the server (serve) and the
// administration commands (migrate, users, clients, keys, version), which
// work on the database directly and print JSON. Everything is wired here by
// constructors; the configuration is loaded once per run and passed down.
package main
