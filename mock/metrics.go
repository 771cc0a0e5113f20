package mock

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series served at /metrics. Each Server has its own registry, so
// several mocks in one test process do not collide.
type metrics struct {
	reg          *prometheus.Registry
	issued       prometheus.Counter
	rejections   *prometheus.CounterVec
	tokenLatency prometheus.Observer
	apiLatency   prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.issued = prometheus.NewCounter(prometheus.CounterOpts{Name: "authzmock_tokens_issued_total",
		Help: "Access tokens issued by the token endpoint (a cached token answered again counts once per answer)."})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authzmock_rejections_total",
		Help: "Requests refused, by endpoint (token, api) and reason."}, []string{"endpoint", "reason"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "authzmock_request_duration_seconds",
		Help:    "Time to answer a request, by handler (token, api).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
		[]string{"handler"})
	m.tokenLatency = lat.WithLabelValues("token")
	m.apiLatency = lat.WithLabelValues("api")
	m.reg.MustRegister(m.issued, m.rejections, lat, collectors.NewGoCollector())
	return m
}

func (m *metrics) rejection(endpoint, reason string) {
	m.rejections.WithLabelValues(endpoint, reason).Inc()
}

func since(start time.Time) float64 { return time.Since(start).Seconds() }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
