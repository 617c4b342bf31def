package server

import (
	"fmt"

	"github.com/gatehouse/gatehouse/backchannel"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// startBackChannel starts the back-channel logout sender: every instance
// runs one, and they share the queue's rows. Close stops it (a POST under
// way is cut; its notification is tried again after its lease).
func (s *Server) startBackChannel(cfg config.Config, st store.Store) error {
	s.logoutDone = make(chan struct{})
	metrics, err := s.tel.BackChannelLogout()
	if err != nil {
		close(s.logoutDone)
		return fmt.Errorf("server: back-channel logout metrics: %w", err)
	}
	q := cfg.BackChannelLogout
	sender := backchannel.New(st, s.keys, backchannel.Options{
		Issuer:       cfg.Issuer,
		MaxAttempts:  q.MaxAttempts,
		MaxAge:       q.MaxAge,
		PollInterval: q.PollInterval,
		BaseBackoff:  q.BackoffBase,
		Timeout:      q.Timeout,
		Logger:       s.logger,
		Recorder:     metrics,
	})
	go func() {
		defer close(s.logoutDone)
		sender.Run(s.background)
	}()
	return nil
}
