package telemetry_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/telemetry"
)

func TestMailMetrics(t *testing.T) {
	e := newEnv(t, telemetry.Options{})
	m, err := e.tel.MailOutbox()
	if err != nil {
		t.Fatal(err)
	}
	got := e.scrape()
	for _, r := range []string{"sent", "retry", "given_up"} {
		if v, ok := got.Value("gatehouse_mail_deliveries_total", "result", r); !ok || v != 0 {
			t.Errorf("deliveries %s before any: %v (found %v), want a series at 0", r, v, ok)
		}
	}
	m.MailDepth(7)
	m.MailDelivery("sent")
	m.MailDelivery("sent")
	m.MailDelivery("retry")
	got = e.scrape()
	if v, _ := got.Value("gatehouse_mail_outbox_depth"); v != 7 {
		t.Errorf("depth = %v, want 7", v)
	}
	if v, _ := got.Value("gatehouse_mail_deliveries_total", "result", "sent"); v != 2 {
		t.Errorf("sent = %v, want 2", v)
	}
	if v, _ := got.Value("gatehouse_mail_deliveries_total", "result", "retry"); v != 1 {
		t.Errorf("retry = %v, want 1", v)
	}
	if _, err := e.tel.MailOutbox(); err == nil {
		t.Error("a second MailOutbox registered the metrics twice")
	}
}
