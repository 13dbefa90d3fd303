package registry

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	s              *Service
	writes         *prometheus.CounterVec
	registrations  *prometheus.CounterVec
	conflicts      prometheus.Counter
	feedEvents     prometheus.Counter
	feedErrors     prometheus.Counter
	eventErrors    prometheus.Counter
	eventsRepaired prometheus.Counter
	purged         prometheus.Counter
	collected      prometheus.Counter
	uploadedBytes  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lantern", Subsystem: "registry", Name: name, Help: help})
	}
	m := &metrics{
		s: s,
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "registry", Name: "writes_total",
			Help: "Committed registry writes by audit action.",
		}, []string{"action"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "registry", Name: "registrations_total",
			Help: "Model versions registered, by status.",
		}, []string{"status"}),
		conflicts:      c("cas_conflicts_total", "Conditional writes that lost to a concurrent writer and were retried."),
		feedEvents:     c("feed_events_total", "Events from other processes applied from the change feed."),
		feedErrors:     c("feed_errors_total", "Failed polls of the change feed."),
		eventErrors:    c("event_write_errors_total", "Audit events that could not be written (the janitor rebuilds them)."),
		eventsRepaired: c("events_repaired_total", "Audit events rebuilt by the janitor after a writer crashed."),
		purged:         c("versions_purged_total", "Deleted versions whose files were removed."),
		collected:      c("uploads_collected_total", "Abandoned uploads whose files were garbage-collected."),
		uploadedBytes:  c("uploaded_bytes_total", "Artifact bytes stored."),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.writes, m.registrations, m.conflicts, m.feedEvents, m.feedErrors,
		m.eventErrors, m.eventsRepaired, m.purged, m.collected, m.uploadedBytes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "lantern", Subsystem: "registry", Name: "models",
			Help: "Registered models in the index.",
		}, func() float64 { return float64(m.liveModels()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "lantern", Subsystem: "registry", Name: "versions",
			Help: "Live model versions in the index.",
		}, func() float64 { return float64(m.liveVersions()) }),
	)
	return m
}

func (m *metrics) liveModels() int {
	ix := m.s.idx
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byName)
}

func (m *metrics) liveVersions() int {
	ix := m.s.idx
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := 0
	for _, e := range ix.byName {
		for _, v := range e.versions {
			if !v.Deleted {
				n++
			}
		}
	}
	return n
}
