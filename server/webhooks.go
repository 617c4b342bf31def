package server

import (
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/telemetry"
	"github.com/gatehouse/gatehouse/webhooks"
)

// startWebhooks starts the webhook delivery worker: every instance runs
// one, and they share the outbox's rows. Close stops it (a POST under way
// is cut; its delivery is tried again after its lease).
func (s *Server) startWebhooks(cfg config.Config, st store.Store, svc *domain.Service, metrics *telemetry.WebhookMetrics) {
	s.webhooksDone = make(chan struct{})
	q := cfg.Webhooks
	worker := webhooks.New(st, svc, webhooks.Options{
		MaxAttempts:  q.MaxAttempts,
		MaxAge:       q.MaxAge,
		PollInterval: q.PollInterval,
		BaseBackoff:  q.BackoffBase,
		Timeout:      q.Timeout,
		Retention:    q.Retention,
		Logger:       s.logger,
		Recorder:     metrics,
	})
	go func() {
		defer close(s.webhooksDone)
		worker.Run(s.background)
	}()
}
