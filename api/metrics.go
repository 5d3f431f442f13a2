package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's own Prometheus metrics, in a registry the
// server owns (mounted components register theirs in it through
// Server.Registry).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	queries  *prometheus.HistogramVec
	// observers remembers each label pair's histogram: finding it in
	// the vector hashes and checks the label values, and formatting a
	// status allocates, on every request otherwise.
	observers observers
}

// observers maps a histogram vector's two label values to the histogram.
// There are few pairs (routes × statuses, statement kinds × outcomes).
// Safe for concurrent use.
type observers struct {
	mu sync.RWMutex
	m  map[observerKey]prometheus.Observer
}

type observerKey struct {
	vec  *prometheus.HistogramVec
	a, b string
	n    int
}

// get returns vec's histogram of the label values a and b, or of a and n
// when b is empty.
func (o *observers) get(vec *prometheus.HistogramVec, a, b string, n int) prometheus.Observer {
	k := observerKey{vec: vec, a: a, b: b, n: n}
	o.mu.RLock()
	h, ok := o.m[k]
	o.mu.RUnlock()
	if ok {
		return h
	}
	if b == "" {
		b = strconv.Itoa(n)
	}
	h = vec.WithLabelValues(a, b)
	o.mu.Lock()
	if o.m == nil {
		o.m = make(map[observerKey]prometheus.Observer)
	}
	o.m[k] = h
	o.mu.Unlock()
	return h
}

// latencyBuckets span 50 µs to 30 s: a selective query answers in well
// under a millisecond, a broad one in seconds.
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tetra_http_request_duration_seconds", Help: "HTTP requests by route and status.", Buckets: latencyBuckets,
		}, []string{"route", "status"}),
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tetra_query_duration_seconds", Help: "Queries run through the API, by statement kind and outcome (ok or an error class).",
			Buckets: latencyBuckets,
		}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.queries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{s: s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tetra_api_keys", Help: "API keys in force (0: no key checks)."},
			func() float64 { return float64(s.keyCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tetra_ready", Help: "1 while the server is ready to serve (see /readyz)."},
			func() float64 {
				if s.readiness() == nil {
					return 1
				}
				return 0
			}),
	)
	return m
}

func (m *metrics) request(route string, status int, d time.Duration) {
	m.observers.get(m.requests, route, "", status).Observe(d.Seconds())
}

func (m *metrics) query(kind string, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = string(Classify(err).Class)
	}
	m.observers.get(m.queries, kind, outcome, 0).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// storeCollector exports the store's statistics at scrape time.
type storeCollector struct{ s *Server }

var (
	descDisk        = prometheus.NewDesc("tetra_store_disk_bytes", "Bytes the store occupies on disk.", nil, nil)
	descCompactions = prometheus.NewDesc("tetra_store_compactions_total", "Pebble compactions since the store opened.", nil, nil)
	descDebt        = prometheus.NewDesc("tetra_store_compaction_debt_bytes", "Bytes Pebble estimates it must compact to reach a steady shape.", nil, nil)
	descCacheHits   = prometheus.NewDesc("tetra_store_block_cache_hits_total", "Block cache hits.", nil, nil)
	descCacheMisses = prometheus.NewDesc("tetra_store_block_cache_misses_total", "Block cache misses.", nil, nil)
	descCacheBytes  = prometheus.NewDesc("tetra_store_block_cache_bytes", "Bytes held in the block cache.", nil, nil)
	descMemtable    = prometheus.NewDesc("tetra_store_memtable_bytes", "Bytes in memtables.", nil, nil)
	descReadAmp     = prometheus.NewDesc("tetra_store_read_amplification", "Sorted runs a read may visit (Pebble's read amplification).", nil, nil)
	descLastCommit  = prometheus.NewDesc("tetra_store_last_commit_timestamp_seconds", "Time of the latest committed version.", nil, nil)
	descHorizon     = prometheus.NewDesc("tetra_store_horizon_timestamp_seconds", "Oldest readable time (the retention horizon).", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDisk, descCompactions, descDebt, descCacheHits, descCacheMisses,
		descCacheBytes, descMemtable, descReadAmp, descLastCommit, descHorizon} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.cfg.Store == nil {
		return
	}
	st := c.s.cfg.Store.Stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descDisk, float64(st.DiskBytes))
	counter(descCompactions, float64(st.Compactions))
	gauge(descDebt, float64(st.CompactionDebt))
	counter(descCacheHits, float64(st.BlockCacheHits))
	counter(descCacheMisses, float64(st.BlockCacheMisses))
	gauge(descCacheBytes, float64(st.BlockCacheBytes))
	gauge(descMemtable, float64(st.MemtableBytes))
	gauge(descReadAmp, float64(st.ReadAmp))
	if !st.LastCommit.IsZero() {
		gauge(descLastCommit, float64(st.LastCommit.UnixNano())/1e9)
	}
	gauge(descHorizon, float64(st.Horizon.UnixNano())/1e9)
}
