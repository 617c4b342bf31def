package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deviceBrowserTimeout bounds one run of device.mjs, browser start included.
const deviceBrowserTimeout = 90 * time.Second

type deviceCodeField struct {
	Label, Value, Invalid string
}

type deviceBrowserReport struct {
	OK             bool   `json:"ok"`
	Error          string `json:"error"`
	BrowserVersion string `json:"browserVersion"`
	Pages          []struct {
		Kind, Title, URL string
	} `json:"pages"`
	Entry          deviceCodeField           `json:"entry"`
	WrongAlert     string                    `json:"wrongAlert"`
	WrongField     deviceCodeField           `json:"wrongField"`
	LinkField      deviceCodeField           `json:"linkField"`
	AfterLogin     deviceCodeField           `json:"afterLoginField"`
	ConsentTitle   string                    `json:"consentTitle"`
	ConsentText    string                    `json:"consentText"`
	DoneTitle      string                    `json:"doneTitle"`
	DoneText       string                    `json:"doneText"`
	Widths         map[string]map[string]int `json:"widths"`
	Screenshots    []string                  `json:"screenshots"`
	FailedRequests []string                  `json:"failedRequests"`
	ConsoleErrors  []string                  `json:"consoleErrors"`
}

// TestBrowserDevice: in Chromium on a phone, a person enters a wrong code
// (told so), opens the device's link (the code filled in, not yet
// approved), signs in, confirms, allows, and is sent back to the device,
// whose next poll gets its tokens. Every page fits 375 px without
// scrolling sideways; screenshots at 375 and 1280 px.
func TestBrowserDevice(t *testing.T) {
	node, chromium := requireBrowser(t)
	ts := deviceServer(t, nil)
	c := ts.devicePublicClient(t)
	user := ts.createUser(t)
	da := ts.deviceAuth(t, authOf(c), "openid profile")
	if da.Status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", da.Status, da.Raw)
	}
	plan, err := json.Marshal(map[string]string{"issuer": ts.URL, "link": da.str("verification_uri_complete"), "username": user.Username})
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("GATEHOUSE_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(browserDir(t), "screenshots")
	}
	shots = filepath.Join(shots, "device")
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), deviceBrowserTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "device.mjs")
	cmd.Dir = browserDir(t)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "GATEHOUSE_DEVICE_PLAN="+string(plan),
		"GATEHOUSE_E2E_PASSWORD="+user.Password, "GATEHOUSE_E2E_SCREENSHOTS="+shots)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep deviceBrowserReport
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &rep); err != nil {
		t.Fatalf("device.mjs printed no report (exit: %v, timeout: %v): %v\nstdout:\n%s\nstderr:\n%s",
			runErr, errors.Is(ctx.Err(), context.DeadlineExceeded), err, snippet(stdout.String()), snippet(stderr.String()))
	}
	if strings.Contains(stdout.String(), user.Password) || strings.Contains(stderr.String(), user.Password) {
		t.Errorf("device.mjs printed the password")
	}
	if runErr != nil || !rep.OK {
		t.Fatalf("device.mjs failed (exit %v): %s\npages: %+v\nfailed requests: %v\nconsole: %v\nstderr:\n%s",
			runErr, rep.Error, rep.Pages, rep.FailedRequests, rep.ConsoleErrors, snippet(stderr.String()))
	}
	t.Logf("device.mjs: Chromium %s, pages %+v, screenshots %v", rep.BrowserVersion, rep.Pages, rep.Screenshots)

	if rep.Entry.Label != "Code" || rep.Entry.Value != "" {
		t.Errorf("code field on /device: %+v, want labelled Code and empty", rep.Entry)
	}
	if !strings.Contains(rep.WrongAlert, "not valid") || rep.WrongField.Invalid != "true" || rep.WrongField.Value != "BBBB-BBBB" {
		t.Errorf("wrong code: alert %q, field %+v", rep.WrongAlert, rep.WrongField)
	}
	if rep.LinkField.Value != da.str("user_code") || rep.AfterLogin.Value != da.str("user_code") {
		t.Errorf("code filled in from the link %+v and after sign-in %+v, want %s", rep.LinkField, rep.AfterLogin, da.str("user_code"))
	}
	if !strings.Contains(rep.ConsentText, c.Name) || !strings.Contains(rep.ConsentText, da.str("user_code")) ||
		!strings.Contains(rep.ConsentText, "See your name and profile details") {
		t.Errorf("consent step:\n%s", rep.ConsentText)
	}
	if !strings.Contains(rep.DoneText, "return to your device") {
		t.Errorf("last page:\n%s", rep.DoneText)
	}
	for name, w := range rep.Widths {
		if w["375"] > 375 {
			t.Errorf("%s is %d px wide at 375 px: it scrolls sideways", name, w["375"])
		}
	}
	if len(rep.FailedRequests) > 0 || len(rep.ConsoleErrors) > 0 {
		t.Errorf("failed requests %v, console errors %v", rep.FailedRequests, rep.ConsoleErrors)
	}
	r := ts.pollDevice(t, da.str("device_code"), authOf(c))
	if r.Status != http.StatusOK || r.str("access_token") == "" || r.str("id_token") == "" {
		t.Fatalf("the device's poll after the browser allowed: %d %s", r.Status, r.Raw)
	}
}
