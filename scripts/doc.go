// Package scripts holds the shell scripts of the build (test-deps.sh, which
// `make test` runs first). It has no Go code; its tests run the scripts with
// fake system commands, so their decisions are checked without installing
// or starting anything.
package scripts
