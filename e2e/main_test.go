package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// The package's one database and the secret every server of the package
// runs with. They are set once in TestMain, before any test runs, and only
// read afterwards. The secret is shared because the servers share the
// database: signing keys are stored encrypted under a key derived from it.
var (
	packageDatabaseURL string
	packageSecret      string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	setup := &mainTB{}
	var url string
	// pgtest reports failures with Fatalf, which must stop the caller; a
	// goroutine lets mainTB end it with runtime.Goexit.
	done := make(chan struct{})
	go func() {
		defer close(done)
		url = pgtest.NewDatabase(setup)
	}()
	<-done
	if setup.failed() {
		setup.runCleanups()
		fmt.Fprintln(os.Stderr, "e2e: no test database; the end-to-end tests need PostgreSQL")
		return 1
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		setup.runCleanups()
		fmt.Fprintf(os.Stderr, "e2e: secret: %v\n", err)
		return 1
	}
	packageDatabaseURL, packageSecret = url, hex.EncodeToString(b)
	code := m.Run()
	if setup.runCleanups(); setup.failed() && code == 0 {
		code = 1
	}
	return code
}

// databaseURL returns the package's database.
func databaseURL(t *testing.T) string {
	t.Helper()
	if packageDatabaseURL == "" {
		t.Fatal("no package database: TestMain did not run")
	}
	return packageDatabaseURL
}

// mainTB is the testing.TB that TestMain hands to pgtest, which needs one to
// report failures and register the database's removal; there is no
// *testing.T before m.Run. Only the methods pgtest uses are implemented; the
// embedded interface (nil) satisfies the rest of testing.TB's method set.
type mainTB struct {
	testing.TB

	mu       sync.Mutex
	fail     bool
	cleanups []func()
}

func (tb *mainTB) Helper()      {}
func (tb *mainTB) Name() string { return "e2e.TestMain" }

func (tb *mainTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
}

func (tb *mainTB) Errorf(format string, args ...any) {
	tb.Logf(format, args...)
	tb.mu.Lock()
	tb.fail = true
	tb.mu.Unlock()
}

func (tb *mainTB) Fatalf(format string, args ...any) {
	tb.Errorf(format, args...)
	runtime.Goexit()
}

func (tb *mainTB) Fatal(args ...any) { tb.Fatalf("%s", fmt.Sprint(args...)) }

func (tb *mainTB) Cleanup(f func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cleanups = append(tb.cleanups, f)
}

func (tb *mainTB) failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.fail
}

// runCleanups runs the registered cleanups, last first, once.
func (tb *mainTB) runCleanups() {
	tb.mu.Lock()
	fs := tb.cleanups
	tb.cleanups = nil
	tb.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
