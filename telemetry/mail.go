package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// MailMetrics are the mail outbox's metrics: how many messages wait, and
// what each delivery attempt came to. It implements notify.OutboxRecorder.
type MailMetrics struct {
	depth      prometheus.Gauge
	deliveries *prometheus.CounterVec
}

// MailOutbox registers the outbox's metrics in t's registry and returns
// them; call it once per Telemetry (a second registration fails).
func (t *Telemetry) MailOutbox() (*MailMetrics, error) {
	m := &MailMetrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "mail_outbox_depth",
			Help: "Messages waiting in the mail outbox (all instances), as this instance's sender last counted them.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "mail_deliveries_total",
			Help: "Delivery attempts of this instance's mail sender, by result: sent, retry (failed, tried again later) or given_up (failed for the last time, or too old).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.depth, m.deliveries} {
		if err := t.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register mail metrics: %w", err)
		}
	}
	// Every result starts at 0, so that a rate over it exists from the start.
	for _, o := range []string{"sent", "retry", "given_up"} {
		m.deliveries.WithLabelValues(o)
	}
	return m, nil
}

// MailDepth records how many messages the outbox holds.
func (m *MailMetrics) MailDepth(n int) { m.depth.Set(float64(n)) }

// MailDelivery counts one attempt's result (sent, retry or given_up).
func (m *MailMetrics) MailDelivery(result string) { m.deliveries.WithLabelValues(result).Inc() }
