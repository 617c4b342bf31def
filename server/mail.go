package server

import (
	"fmt"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/notify"
	"github.com/gatehouse/gatehouse/store"
)

// startMail starts the mail outbox's sender when SMTP is configured: every
// instance runs one, and they share the outbox's rows. Close stops it (a
// delivery under way is cut at once; its message is tried again after its
// lease). Without SMTP nothing is queued and nothing runs.
func (s *Server) startMail(cfg config.Config, st store.Store) error {
	s.mailDone = make(chan struct{})
	sender := smtpSender(cfg, s.logger)
	if sender == nil {
		close(s.mailDone)
		return nil
	}
	metrics, err := s.tel.MailOutbox()
	if err != nil {
		return fmt.Errorf("server: mail metrics: %w", err)
	}
	out := notify.NewOutbox(st, sender, notify.OutboxOptions{
		MaxAttempts:  cfg.MailQueue.MaxAttempts,
		MaxAge:       cfg.MailQueue.MaxAge,
		PollInterval: cfg.MailQueue.PollInterval,
		Logger:       s.logger,
		Recorder:     metrics,
	})
	go func() {
		defer close(s.mailDone)
		out.Run(s.background)
	}()
	return nil
}
