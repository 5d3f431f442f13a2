package live

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's self-metrics, all named tetra_live_*.
type metrics struct {
	connections   prometheus.Gauge
	subscriptions prometheus.Gauge
	views         prometheus.Gauge
	commits       prometheus.Counter
	evaluations   *prometheus.CounterVec
	messages      *prometheus.CounterVec
	closes        *prometheus.CounterVec
	latency       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tetra_live_connections", Help: "Open WebSocket connections of live subscriptions."}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tetra_live_subscriptions", Help: "Live subscriptions, over WebSocket and in-process."}),
		views: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tetra_live_queries", Help: "Distinct subscribed queries (query and scope); subscribers of one share its evaluations."}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tetra_live_commits_total", Help: "Commits taken from the store's change feed."}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tetra_live_evaluations_total",
			Help: "Query evaluations, by reason: subscribe (a new query), change (a commit hit what it read: the query ran again), maintain (a filter's answer updated in place from the changes), resume, once (a time-travel query)."},
			[]string{"reason"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tetra_live_messages_sent_total", Help: "WebSocket messages sent, by type."}, []string{"type"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tetra_live_connections_closed_total", Help: "WebSocket connections closed, by reason."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tetra_live_diff_latency_seconds",
			Help:    "From reading a commit off the change feed to writing the diff it caused to a client.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connections, m.subscriptions, m.views, m.commits, m.evaluations, m.messages, m.closes, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// sent counts a message written to a client, and a diff's latency.
func (m *metrics) sent(msg *Message) {
	m.messages.WithLabelValues(string(msg.Type)).Inc()
	if msg.Type == TypeDiff && !msg.observed.IsZero() {
		m.latency.Observe(time.Since(msg.observed).Seconds())
	}
}
