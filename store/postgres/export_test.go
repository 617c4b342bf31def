package postgres

// BarrierTimeouts is how many revocations of s stopped waiting for the
// listeners' acknowledgements because the bound ran out.
func BarrierTimeouts(s *Store) int64 { return s.feed.timeouts.Load() }

// BarrierWaiters is how many notifications of s are still awaited.
func BarrierWaiters(s *Store) int {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return len(s.feed.waiters)
}
