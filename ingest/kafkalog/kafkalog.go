package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/tetrahq/tetra/ingest"
)

// Kinds are the data kinds with a topic, in the order they are created.
var Kinds = []ingest.DataKind{"topology", "health", "metrics", "events", "traces"}

// ReplicaKinds are the kinds every node consumes whole into its own store.
// Health joins when health records exist; metrics, events and traces are
// consumed by a consumer group (Config.DataGroup).
var ReplicaKinds = []ingest.DataKind{ingest.KindTopology}

// DefaultDataGroup is the consumer group of the data topics when the data
// stores are shared by every node (Elasticsearch), after the topic prefix:
// "tetra.telemetry".
const DefaultDataGroup = "telemetry"

// Defaults of Config.
const (
	DefaultTopicPrefix    = "tetra."
	DefaultPartitions     = 12
	DefaultMaxRecordBytes = ingest.DefaultMaxBytes + 1<<20
	DefaultAppendTimeout  = 10 * time.Second
	DefaultRetryAfter     = 5 * time.Second
	DefaultProbeInterval  = 2 * time.Second
	DefaultMaxBatch       = 20_000 // elements of one store commit
)

// Config configures a Node. Zero fields take the defaults.
type Config struct {
	// Brokers are the bootstrap brokers, host:port (required).
	Brokers []string
	// TopicPrefix names the topics: <prefix><kind> (default "tetra.").
	TopicPrefix string
	// Partitions of each topic the node creates (default 12). Topics that
	// exist keep theirs.
	Partitions int
	// Replicas is the replication factor of the topics the node creates;
	// 0 leaves it to the broker (default.replication.factor).
	Replicas int
	// MaxRecordBytes bounds one record as produced; the topics are created
	// with this max.message.bytes (default: the decoder's limit + 1 MiB).
	MaxRecordBytes int
	// AppendTimeout bounds one Append, retries included (default 10 s).
	AppendTimeout time.Duration
	// RetryAfter is what an *ingest.UnavailableError tells the sender
	// (default 5 s).
	RetryAfter time.Duration
	// ProbeInterval is how often the node asks the brokers for the log's
	// end offsets (lag, health, new partitions) (default 2 s).
	ProbeInterval time.Duration
	// MaxBatch bounds the elements of one store commit (default 20,000).
	MaxBatch int
	// Data are the stores the node writes metrics, events and spans to,
	// as a member of the consumer group DataGroup; a kind without a store
	// is not consumed. Zero: the node consumes no data topic.
	Data ingest.DataStores
	// DataGroup is the consumer group of the data topics (required with
	// Data): one group for stores every node shares, so that each record
	// is written once per cluster (<prefix>telemetry, DataGroupName), or a
	// group of the node's own for a store only it has, so that each node's
	// store holds everything (DataGroupName with the node's id).
	DataGroup string
	// Logger receives connection and apply problems (slog.Default()).
	Logger *slog.Logger
	// Registerer takes the self-metrics; nil registers none.
	Registerer prometheus.Registerer
}

func (c *Config) fill() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers given (--kafka host:port,…)")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafka: broker %q: want host:port", b)
		}
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.AppendTimeout <= 0 {
		c.AppendTimeout = DefaultAppendTimeout
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Data.Kinds()) > 0 && c.DataGroup == "" {
		return errors.New("kafka: data stores given without a consumer group (Config.DataGroup)")
	}
	return nil
}

// DataGroupName returns the data consumer group: <prefix>telemetry for
// stores every node shares (node ""), <prefix>telemetry.<node> for a
// node's own.
func DataGroupName(prefix, node string) string {
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	if node == "" {
		return prefix + DefaultDataGroup
	}
	return prefix + DefaultDataGroup + "." + node
}

// ParseBrokers splits "host:port,host:port" into brokers.
func ParseBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Topic returns the topic of a kind.
func (c *Config) Topic(k ingest.DataKind) string { return c.TopicPrefix + string(k) }

// Node is one tetra serve node's side of the Kafka log: the ingest.Log
// that receivers append to (a producer), and the replica that applies
// every partition of the topology topic to the node's store through its
// TopologyProcessor. It connects in the background and keeps retrying with
// backoff: until the topics are there and the brokers answer, Append
// answers *ingest.UnavailableError and Check says why. Safe for concurrent
// use.
type Node struct {
	cfg    Config
	proc   *ingest.TopologyProcessor
	client *kafka.Client
	writer *kafka.Writer
	m      *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	ready      bool           // topics exist and the replica consumers run
	dataOn     bool           // the data consumer runs
	probeErr   error          // the last failure to reach the brokers, nil once they answer
	produceErr error          // the last Append's failure, nil after a success
	parts      map[string]int // partitions consumed, by topic
	batches    chan fetched
}

// Open starts a node over brokers; proc is the node's one topology writer
// (nothing else may write the store's topology). Close stops it.
func Open(cfg Config, proc *ingest.TopologyProcessor) (*Node, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	addr := kafka.TCP(cfg.Brokers...)
	tr := &kafka.Transport{DialTimeout: 3 * time.Second, IdleTimeout: 30 * time.Second, MetadataTTL: 5 * time.Second}
	n := &Node{
		cfg:    cfg,
		proc:   proc,
		client: &kafka.Client{Addr: addr, Timeout: 5 * time.Second, Transport: tr},
		writer: &kafka.Writer{
			Addr:         addr,
			Balancer:     partitionBalancer{}, // by key as Java clients do, or as addressed
			RequiredAcks: kafka.RequireAll,
			// One Append waits for its own acknowledgement; concurrent
			// Appends share produce requests.
			BatchTimeout:    time.Millisecond,
			BatchSize:       1000,
			BatchBytes:      int64(cfg.MaxRecordBytes),
			MaxAttempts:     3,
			WriteBackoffMin: 100 * time.Millisecond,
			WriteBackoffMax: time.Second,
			Compression:     kafka.Lz4,
			Transport:       tr,
		},
		parts:   map[string]int{},
		batches: make(chan fetched, 256),
	}
	m, err := newMetrics(cfg.Registerer, n)
	if err != nil {
		return nil, err
	}
	n.m = m
	n.probeErr = errors.New("kafka: connecting to " + strings.Join(cfg.Brokers, ","))
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(2)
	go n.run()
	go n.apply()
	return n, nil
}

// Append implements ingest.Log: it produces rec to its kind's topic, keyed
// by rec.Key, and returns once every in-sync replica has it (acks=all).
func (n *Node) Append(ctx context.Context, rec *ingest.Record) (*ingest.Ack, error) {
	if n.ctx.Err() != nil {
		return nil, ingest.ErrClosed
	}
	if err := n.connected(); err != nil {
		return nil, n.unavailable(err)
	}
	rec.Stamp(time.Now())
	return n.produce(ctx, rec, -1)
}

// produce produces rec to its kind's topic, to partition part (-1: the
// partition of its key), and returns once every in-sync replica has it.
func (n *Node) produce(ctx context.Context, rec *ingest.Record, part int) (*ingest.Ack, error) {
	b, err := rec.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if len(b) > n.cfg.MaxRecordBytes {
		return nil, &ingest.TooLargeError{Limit: int64(n.cfg.MaxRecordBytes)}
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.AppendTimeout)
	defer cancel()
	start := time.Now()
	msg := kafka.Message{Topic: n.cfg.Topic(rec.Kind), Key: []byte(rec.Key), Value: b}
	if part >= 0 {
		msg.Headers = []kafka.Header{{Key: partitionHeader, Value: []byte(strconv.Itoa(part))}}
	}
	err = n.writer.WriteMessages(ctx, msg)
	n.m.produced(rec.Kind, time.Since(start), err)
	n.mu.Lock()
	n.produceErr = err
	n.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			return nil, ctx.Err() // the sender went away
		}
		n.cfg.Logger.Warn("kafka: produce failed", "topic", n.cfg.Topic(rec.Kind), "err", err)
		return nil, n.unavailable(fmt.Errorf("kafka: producing to %s: %w", n.cfg.Topic(rec.Kind), err))
	}
	return &ingest.Ack{}, nil
}

func (n *Node) unavailable(err error) error {
	return &ingest.UnavailableError{Err: err, RetryAfter: n.cfg.RetryAfter}
}

// connected returns why the node cannot produce, or nil.
func (n *Node) connected() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.ready {
		return n.probeErr
	}
	return nil
}

// Check returns nil while the brokers answer and the last produce (if
// any) succeeded: readiness reflects it.
func (n *Node) Check() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.probeErr != nil:
		return n.probeErr
	case n.produceErr != nil:
		return fmt.Errorf("kafka: the last produce failed: %w", n.produceErr)
	}
	return nil
}

// Close stops producing and consuming; records being applied are
// committed first.
func (n *Node) Close() error {
	n.cancel()
	n.wg.Wait()
	return n.writer.Close()
}

// run sets the log up (topics, consumers) and then probes the brokers,
// retrying with backoff while they cannot be reached.
func (n *Node) run() {
	defer n.wg.Done()
	bo := backoff{min: 200 * time.Millisecond, max: 5 * time.Second}
	for n.ctx.Err() == nil {
		err := n.step()
		n.setProbe(err)
		wait := n.cfg.ProbeInterval
		if err != nil {
			wait = bo.next()
		} else {
			bo.reset()
		}
		select {
		case <-n.ctx.Done():
		case <-time.After(wait):
		}
	}
}

// step creates the topics once, starts a consumer for every partition not
// yet consumed, and updates the lag gauges.
func (n *Node) step() error {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	n.mu.Lock()
	ready := n.ready
	n.mu.Unlock()
	if !ready {
		if err := n.createTopics(ctx); err != nil {
			return err
		}
	}
	parts, err := n.partitions(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	for topic, count := range parts {
		for p := n.parts[topic]; p < count; p++ {
			n.wg.Add(1)
			go n.consume(topic, p)
		}
		n.parts[topic] = max(n.parts[topic], count)
	}
	n.ready = true
	if !n.dataOn && len(n.cfg.Data.Kinds()) > 0 {
		n.dataOn = true
		n.wg.Add(1)
		go n.consumeData()
	}
	n.mu.Unlock()
	if err := n.probeLag(ctx, parts); err != nil {
		return err
	}
	n.tick(ctx, parts)
	return n.probeDataLag(ctx)
}

// tick produces a tick record to every topology partition on whose clock a
// REPEAT_STATES check state has expired, so that every replica deletes it
// at the same place of the partition, though no sender writes to it
// (ingest/expiry.go). Every node may do so; a second tick deletes nothing.
func (n *Node) tick(ctx context.Context, parts map[string]int) {
	topic, now := n.cfg.Topic(ingest.KindTopology), time.Now()
	for p := range parts[topic] {
		if !n.proc.Due(ingest.Clock(topic, p), now) {
			continue
		}
		if _, err := n.produce(ctx, ingest.NewTickRecord(now), p); err != nil {
			n.cfg.Logger.Warn("kafka: producing a health expiry tick", "topic", topic, "partition", p, "err", err)
		}
	}
}

// partitionHeader addresses a record to a partition (a tick).
const partitionHeader = "tetra-partition"

// partitionBalancer partitions a record by its key's murmur2 hash, as Java
// clients do, or to the partition its header names.
type partitionBalancer struct{}

func (partitionBalancer) Balance(msg kafka.Message, partitions ...int) int {
	for _, h := range msg.Headers {
		if h.Key != partitionHeader {
			continue
		}
		if p, err := strconv.Atoi(string(h.Value)); err == nil && slices.Contains(partitions, p) {
			return p
		}
	}
	return (&kafka.Murmur2Balancer{}).Balance(msg, partitions...)
}

func (n *Node) setProbe(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	was := n.probeErr
	if err != nil {
		n.probeErr = fmt.Errorf("kafka: brokers %s: %w", strings.Join(n.cfg.Brokers, ","), err)
		if was == nil || was.Error() != n.probeErr.Error() {
			n.cfg.Logger.Warn("kafka: cannot reach the log; retrying", "err", err)
		}
		return
	}
	if was != nil {
		n.cfg.Logger.Info("kafka: connected", "brokers", strings.Join(n.cfg.Brokers, ","))
	}
	// The brokers answer again: a produce that failed before is history
	// (the next one tells anew).
	n.probeErr, n.produceErr = nil, nil
}

// createTopics creates every kind's topic; one that exists is kept as it is.
func (n *Node) createTopics(ctx context.Context) error {
	req := &kafka.CreateTopicsRequest{}
	for _, k := range Kinds {
		rf := n.cfg.Replicas
		if rf <= 0 {
			rf = -1
		}
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: n.cfg.Topic(k), NumPartitions: n.cfg.Partitions, ReplicationFactor: rf,
			ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(n.cfg.MaxRecordBytes)}}})
	}
	resp, err := n.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", topic, terr)
		}
	}
	return nil
}

// partitions returns the partition count of every replica topic.
func (n *Node) partitions(ctx context.Context) (map[string]int, error) {
	var topics []string
	for _, k := range ReplicaKinds {
		topics = append(topics, n.cfg.Topic(k))
	}
	return n.partitionsOf(ctx, topics)
}

// partitionsOf returns the partition count of topics.
func (n *Node) partitionsOf(ctx context.Context, topics []string) (map[string]int, error) {
	md, err := n.client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("reading metadata: %w", err)
	}
	out := map[string]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		out[t.Name] = len(t.Partitions)
	}
	for _, t := range topics {
		if out[t] == 0 {
			return nil, fmt.Errorf("topic %s has no partitions", t)
		}
	}
	return out, nil
}

// probeLag asks for the end offsets of the replica topics and sets the
// lag gauges: end offset minus the next offset the store needs.
func (n *Node) probeLag(ctx context.Context, parts map[string]int) error {
	return n.eachEnd(ctx, parts, func(topic string, part int, end int64) {
		next := int64(0)
		if off, ok := n.proc.Committed(topic, part); ok {
			next = off + 1
		}
		n.m.setLag(topic, part, end, next)
	})
}

// eachEnd lists the end offset (the offset the next record will get) of
// every partition of parts.
func (n *Node) eachEnd(ctx context.Context, parts map[string]int, f func(topic string, part int, end int64)) error {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for topic, count := range parts {
		for p := range count {
			req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
		}
	}
	resp, err := n.client.ListOffsets(ctx, req)
	if err != nil {
		return fmt.Errorf("listing offsets: %w", err)
	}
	for topic, ps := range resp.Topics {
		for _, po := range ps {
			if po.Error != nil {
				return fmt.Errorf("listing offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			f(topic, po.Partition, po.LastOffset)
		}
	}
	return nil
}

// probeDataLag sets the lag gauges of the data topics: end offset minus
// the data group's committed offset (the group's, so with a shared group
// every node reports the cluster's lag).
func (n *Node) probeDataLag(ctx context.Context) error {
	topics := n.dataTopics()
	if len(topics) == 0 {
		return nil
	}
	parts, err := n.partitionsOf(ctx, topics)
	if err != nil {
		return err
	}
	req := &kafka.OffsetFetchRequest{GroupID: n.cfg.DataGroup, Topics: map[string][]int{}}
	for topic, count := range parts {
		for p := range count {
			req.Topics[topic] = append(req.Topics[topic], p)
		}
	}
	resp, err := n.client.OffsetFetch(ctx, req)
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return fmt.Errorf("reading the offsets of consumer group %s: %w", n.cfg.DataGroup, err)
	}
	committed := map[ingest.Position]int64{}
	for topic, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error == nil && p.CommittedOffset >= 0 {
				committed[ingest.Position{Topic: topic, Partition: p.Partition}] = p.CommittedOffset
			}
		}
	}
	return n.eachEnd(ctx, parts, func(topic string, part int, end int64) {
		// The committed offset is the next one to read; none: the start.
		n.m.setLag(topic, part, end, committed[ingest.Position{Topic: topic, Partition: part}])
	})
}

// backoff doubles a wait from min to max.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }
