package serving

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lantern-mlops/lantern/internal/errkind"
)

type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	inference     *prometheus.HistogramVec
	queue         *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
	loadSeconds   *prometheus.HistogramVec
	loadFailures  *prometheus.CounterVec
	shadow        *prometheus.CounterVec
	shadowDropped prometheus.Counter
}

var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer, m *Manager) *metrics {
	x := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "requests_total",
			Help: "Inference requests by model, version, protocol and result code (gRPC code names).",
		}, []string{"model", "version", "protocol", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "request_duration_seconds",
			Help: "Inference request latency inside the server (routing, validation, queue, engine).", Buckets: latencyBuckets,
		}, []string{"model", "version", "protocol"}),
		inference: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "inference_duration_seconds",
			Help: "Engine time per run (one request, or one batch).", Buckets: latencyBuckets,
		}, []string{"model", "version"}),
		queue: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "queue_duration_seconds",
			Help: "Time requests wait in the dynamic batching queue.", Buckets: latencyBuckets,
		}, []string{"model"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "batch_size",
			Help: "Rows per engine run under dynamic batching.", Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}, []string{"model"}),
		loadSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "model_load_duration_seconds",
			Help: "Time to fetch, load and warm a model version.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"model"}),
		loadFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "model_load_failures_total",
			Help: "Model versions that could not be loaded.",
		}, []string{"model"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "shadow_requests_total",
			Help: "Requests replayed on a shadow version, by result code.",
		}, []string{"model", "version", "code"}),
		shadowDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "shadow_dropped_total",
			Help: "Shadow copies dropped because the shadow queue was full.",
		}),
	}
	if reg == nil {
		return x
	}
	reg.MustRegister(x.requests, x.latency, x.inference, x.queue, x.batchSize, x.loadSeconds, x.loadFailures, x.shadow, x.shadowDropped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "lantern", Subsystem: "serving", Name: "registry_offline",
			Help: "1 while the registry is unreachable and the server serves what it has.",
		}, func() float64 {
			if m.Offline() {
				return 1
			}
			return 0
		}),
		&versionCollector{m: m},
	)
	return x
}

func (x *metrics) observe(req *InferRequest, version, code string, d time.Duration) {
	proto := req.Protocol
	if proto == "" {
		proto = "other"
	}
	x.requests.WithLabelValues(req.Model, version, proto, code).Inc()
	if code == "OK" {
		x.latency.WithLabelValues(req.Model, version, proto).Observe(d.Seconds())
	}
}

func codeOf(err error) string {
	if err == nil {
		return "OK"
	}
	return errkind.GRPCCode(err).String()
}

// versionCollector exports the version each model is serving.
type versionCollector struct{ m *Manager }

var versionDesc = prometheus.NewDesc("lantern_serving_model_version", "The registry version a served model is running (1 per loaded version).", []string{"model", "version", "engine"}, nil)

func (c *versionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- versionDesc }

func (c *versionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.m.Status() {
		if st.Version > 0 {
			ch <- prometheus.MustNewConstMetric(versionDesc, prometheus.GaugeValue, 1, st.Model, formatInt(st.Version), st.Engine)
		}
	}
}

// protoObservers are a loaded version's metrics for one protocol, looked up
// once instead of on every request.
type protoObservers struct {
	ok        prometheus.Counter
	latency   prometheus.Observer
	inference prometheus.Observer
}

func (l *loaded) observers(x *metrics, protocol string) *protoObservers {
	if protocol == "" {
		protocol = "other"
	}
	if o, ok := l.obs.Load(protocol); ok {
		return o.(*protoObservers)
	}
	v := l.versionString()
	o := &protoObservers{
		ok:        x.requests.WithLabelValues(l.name, v, protocol, "OK"),
		latency:   x.latency.WithLabelValues(l.name, v, protocol),
		inference: x.inference.WithLabelValues(l.name, v),
	}
	actual, _ := l.obs.LoadOrStore(protocol, o)
	return actual.(*protoObservers)
}
