package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// LogoutMetrics are the back-channel logout queue's metrics: how many
// notifications wait, and what each delivery attempt came to. It
// implements backchannel.Recorder.
type LogoutMetrics struct {
	depth      prometheus.Gauge
	deliveries *prometheus.CounterVec
}

// BackChannelLogout registers the queue's metrics in t's registry and
// returns them; call it once per Telemetry (a second registration fails).
func (t *Telemetry) BackChannelLogout() (*LogoutMetrics, error) {
	m := &LogoutMetrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "backchannel_logout_queue_depth",
			Help: "Back-channel logout notifications waiting (all instances), as this instance's sender last counted them.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "backchannel_logout_deliveries_total",
			Help: "Back-channel logout results of this instance's sender: delivered (2xx), failed (each failed attempt, the last included) and given_up (dropped: attempts or age exhausted, or the client no longer takes them).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.depth, m.deliveries} {
		if err := t.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register back-channel logout metrics: %w", err)
		}
	}
	for _, o := range []string{"delivered", "failed", "given_up"} {
		m.deliveries.WithLabelValues(o)
	}
	return m, nil
}

// LogoutDepth records how many notifications the queue holds.
func (m *LogoutMetrics) LogoutDepth(n int) { m.depth.Set(float64(n)) }

// LogoutDelivery counts one result (delivered, failed or given_up).
func (m *LogoutMetrics) LogoutDelivery(result string) { m.deliveries.WithLabelValues(result).Inc() }
