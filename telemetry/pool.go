package telemetry

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStatser is a store with a connection pool (store/postgres).
type PoolStatser interface {
	PoolStats() *pgxpool.Stat
}

// poolCollector reads the pool's statistics at scrape time: they are the
// pool's own counters, so nothing is kept here between scrapes.
type poolCollector struct {
	pool PoolStatser

	acquired, idle, constructing, total, max *prometheus.Desc
	acquires, emptyAcquires, canceled        *prometheus.Desc
	acquireSeconds, emptyWaitSeconds         *prometheus.Desc
	newConns, lifetimeDestroys, idleDestroys *prometheus.Desc
}

func newPoolCollector(p PoolStatser) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "db_pool", name), help, nil, nil)
	}
	return &poolCollector{
		pool:             p,
		acquired:         d("acquired_connections", "Connections in use by a query or transaction."),
		idle:             d("idle_connections", "Open connections waiting for work."),
		constructing:     d("constructing_connections", "Connections being opened."),
		total:            d("total_connections", "Open connections, acquired, idle and constructing."),
		max:              d("max_connections", "The pool's size limit."),
		acquires:         d("acquires_total", "Successful connection acquisitions."),
		emptyAcquires:    d("empty_acquires_total", "Acquisitions that had to wait for a connection because none was idle."),
		canceled:         d("canceled_acquires_total", "Acquisitions abandoned because their context ended."),
		acquireSeconds:   d("acquire_duration_seconds_total", "Total time spent acquiring connections."),
		emptyWaitSeconds: d("empty_acquire_wait_seconds_total", "Total time acquisitions waited because no connection was idle."),
		newConns:         d("new_connections_total", "Connections opened."),
		lifetimeDestroys: d("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroys:     d("max_idle_destroys_total", "Connections closed for being idle too long."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.constructing, c.total, c.max, c.acquires, c.emptyAcquires,
		c.canceled, c.acquireSeconds, c.emptyWaitSeconds, c.newConns, c.lifetimeDestroys, c.idleDestroys} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.PoolStats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.constructing, float64(s.ConstructingConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.canceled, float64(s.CanceledAcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyWaitSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(s.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(s.MaxIdleDestroyCount()))
}
