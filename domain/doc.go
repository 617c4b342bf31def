// Package domain holds the rules of gatehouse's identity model that every
// entry point (the pages, the resource API, the CLI) must apply the same way:
// validation of usernames, emails and passwords, password hashing, and the
// generation of client secrets. It depends only on package store.
package domain
