package logcheck

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	testing.TB
	errors []string
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.failed = true
}
func (r *recorder) Failed() bool        { return r.failed }
func (r *recorder) Logf(string, ...any) {}

func TestFinishFindsSecrets(t *testing.T) {
	var l Log
	l.Secret("gh_at_s3cr3t")
	l.Secret("")
	fmt.Fprintln(&l, `{"msg":"token issued","client":"web"}`)
	r := &recorder{TB: t}
	l.Finish(r)
	if len(r.errors) != 0 {
		t.Fatalf("clean log reported: %v", r.errors)
	}
	fmt.Fprintln(&l, `{"msg":"oops","token":"gh_at_s3cr3t"}`)
	l.Finish(r)
	if len(r.errors) != 1 {
		t.Fatalf("a leaked secret was not reported: %v", r.errors)
	}
}
