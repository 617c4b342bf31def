// Package formdriver is test support: it drives the server's HTML pages as a
// person's browser would. It fetches a page, finds a form on it by one of
// its inputs or submit buttons, keeps every field the server put there
// (hidden CSRF tokens, return_to, consent bindings), lets the test override
// the ones a person types, and submits it with the browser's cookie jar.
//
// It reads <input> elements and submit buttons only; <select> and
// <textarea> values must be given as overrides.
package formdriver
