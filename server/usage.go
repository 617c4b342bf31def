package server

import (
	"context"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/usage"
)

// newUsage builds the usage recorder the domain (sign-ins) and the
// provider (client sign-ins, tokens) count into; startUsage runs it.
func (s *Server) newUsage(cfg config.Config, st store.Store) {
	s.usage = usage.New(st, usage.Options{Interval: cfg.Usage.FlushInterval, Logger: s.logger})
}

// startUsage flushes the recorder every usage.flush_interval until Close,
// which waits for its last flush: call Close after the HTTP server has
// stopped, so that the last requests' counts are in it.
func (s *Server) startUsage() {
	s.usageDone = make(chan struct{})
	go func() {
		defer close(s.usageDone)
		s.usage.Run(s.background)
	}()
}

// FlushUsage adds what this instance has counted to the usage table now,
// rather than at the next interval: tests read the figures at a moment of
// their choosing.
func (s *Server) FlushUsage(ctx context.Context) error { return s.usage.Flush(ctx) }
