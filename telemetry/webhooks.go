package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics are the events and webhooks metrics: how many deliveries
// wait, what each attempt came to, and how many were dropped at enqueue
// because the outbox was full. It implements webhooks.Recorder and
// domain.WebhookRecorder.
type WebhookMetrics struct {
	depth      prometheus.Gauge
	deliveries *prometheus.CounterVec
}

// Webhooks registers the webhook metrics in t's registry and returns them;
// call it once per Telemetry (a second registration fails).
func (t *Telemetry) Webhooks() (*WebhookMetrics, error) {
	m := &WebhookMetrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "webhook_queue_depth",
			Help: "Webhook deliveries pending (all instances), as this instance's worker last counted them.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery results of this instance: delivered (2xx), failed (each failed attempt, the last included), given_up (attempts or age exhausted, or the subscription disabled) and dropped (not queued: the outbox held webhooks.max_pending deliveries).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.depth, m.deliveries} {
		if err := t.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register webhook metrics: %w", err)
		}
	}
	for _, o := range []string{"delivered", "failed", "given_up", "dropped"} {
		m.deliveries.WithLabelValues(o)
	}
	return m, nil
}

// WebhookDepth records how many deliveries are pending.
func (m *WebhookMetrics) WebhookDepth(n int) { m.depth.Set(float64(n)) }

// WebhookDelivery counts one result (delivered, failed or given_up).
func (m *WebhookMetrics) WebhookDelivery(result string) { m.deliveries.WithLabelValues(result).Inc() }

// WebhookDropped counts deliveries dropped at enqueue.
func (m *WebhookMetrics) WebhookDropped(n int) {
	m.deliveries.WithLabelValues("dropped").Add(float64(n))
}
