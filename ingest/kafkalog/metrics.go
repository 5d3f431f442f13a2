package kafkalog

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetrahq/tetra/ingest"
)

// metrics are the node's self-metrics.
type metrics struct {
	produce    *prometheus.HistogramVec
	produceErr *prometheus.CounterVec
	records    *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	kindLag    *prometheus.GaugeVec
	committed  *prometheus.GaugeVec
	data       *prometheus.CounterVec
	kindOf     func(topic string) string

	mu   sync.Mutex
	end  map[ingest.Position]int64 // end offset by topic/partition (Offset unused)
	lags map[ingest.Position]int64 // lag by topic/partition (Offset unused)
}

func newMetrics(reg prometheus.Registerer, n *Node) (*metrics, error) {
	m := &metrics{
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tetra_kafka_produce_seconds",
			Help:    "Time for the brokers to acknowledge a record (acks=all), by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"kind"}),
		produceErr: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tetra_kafka_produce_errors_total",
			Help: "Records the brokers did not acknowledge (the sender got 503), by kind."}, []string{"kind"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tetra_kafka_records_total",
			Help: "Records consumed into this node's store, by outcome (applied; skipped as already applied; refused, e.g. a stop_snapshot with none open; undecodable; invalid, refused by the store; failed, a store commit to retry)."},
			[]string{"outcome"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tetra_kafka_consumer_lag",
			Help: "Records of a partition not yet committed to this node's store."}, []string{"topic", "partition"}),
		committed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tetra_kafka_committed_offset",
			Help: "The last offset of a partition committed to this node's store."}, []string{"topic", "partition"}),
		kindLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tetra_kafka_lag",
			Help: "Records of a kind not yet written: topology, by this node's replica; metrics, events and traces, by the data consumer group."},
			[]string{"kind"}),
		data: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tetra_kafka_data_records_total",
			Help: "Metrics, events and traces records of the data consumer, by kind and outcome (written; undecodable; invalid, refused by a store; failed, a write to retry; uncommitted, written but its offset not committed, so written again)."},
			[]string{"kind", "outcome"}),
		kindOf: n.kindOf,
		end:    map[ingest.Position]int64{},
		lags:   map[ingest.Position]int64{},
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.produce, m.produceErr, m.records, m.lag, m.committed, m.kindLag, m.data,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tetra_kafka_connected",
			Help: "1 while the brokers answer and the last produce succeeded."}, func() float64 {
			if n.Check() != nil {
				return 0
			}
			return 1
		})}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) produced(k ingest.DataKind, d time.Duration, err error) {
	if err != nil {
		m.produceErr.WithLabelValues(string(k)).Inc()
		return
	}
	m.produce.WithLabelValues(string(k)).Observe(d.Seconds())
}

// setLag records a partition's end offset (the offset its next record
// will get) and the next offset the store needs.
func (m *metrics) setLag(topic string, part int, end, next int64) {
	m.mu.Lock()
	m.end[ingest.Position{Topic: topic, Partition: part}] = end
	m.mu.Unlock()
	m.setPartLag(topic, part, max(end-next, 0))
}

// setPartLag sets a partition's lag and its kind's.
func (m *metrics) setPartLag(topic string, part int, lag int64) {
	m.lag.WithLabelValues(topic, strconv.Itoa(part)).Set(float64(lag))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lags[ingest.Position{Topic: topic, Partition: part}] = lag
	var sum int64
	for p, l := range m.lags {
		if p.Topic == topic {
			sum += l
		}
	}
	m.kindLag.WithLabelValues(m.kindOf(topic)).Set(float64(sum))
}

// applied moves a partition's committed offset and lag after a commit.
func (m *metrics) applied(p ingest.Position) {
	ps := strconv.Itoa(p.Partition)
	m.committed.WithLabelValues(p.Topic, ps).Set(float64(p.Offset))
	m.mu.Lock()
	end, ok := m.end[ingest.Position{Topic: p.Topic, Partition: p.Partition}]
	m.mu.Unlock()
	if ok {
		m.setPartLag(p.Topic, p.Partition, max(end-p.Offset-1, 0))
	}
}
