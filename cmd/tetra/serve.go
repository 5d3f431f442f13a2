package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/demo"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/ingest/kafkalog"
	"github.com/tetrahq/tetra/ingest/receiver"
	"github.com/tetrahq/tetra/mcpserver"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/web"
)

// serveConfig is the configuration of tetra serve: the YAML file that
// --config names, with the flags' names (docs/api.md shows one). A flag
// given on the command line wins over the file.
type serveConfig struct {
	Data string `yaml:"data"`
	// Elasticsearch, when set, keeps metrics, events and spans in that
	// cluster instead of the data directory.
	Elasticsearch string `yaml:"elasticsearch"`
	Listen        string `yaml:"listen"`
	// OTLPGRPC, when set, is where the OTLP/gRPC receiver listens
	// (host:port, conventionally 4317).
	OTLPGRPC string `yaml:"otlpGrpc"`
	TLS      struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Log struct {
		Format string `yaml:"format"` // text or json
		Level  string `yaml:"level"`  // debug, info, warn, error
	} `yaml:"log"`
	Limits  api.Limits   `yaml:"limits"`
	Scripts scriptConfig `yaml:"scripts"`
	Kafka   kafkaConfig  `yaml:"kafka"`

	// demo, when not nil, runs the demo environment against the server
	// (--demo; not a setting of the file).
	demo *demoSetup
}

// kafkaConfig is the kafka section of tetra serve's configuration: the
// Kafka mode of the ingest log (docs/ingest.md). Empty brokers is the
// embedded mode.
type kafkaConfig struct {
	// Brokers are the bootstrap brokers, "host:port,host:port" (--kafka).
	Brokers string `yaml:"brokers"`
	// TopicPrefix names the topics, <prefix><kind> (default "tetra.").
	TopicPrefix string `yaml:"topicPrefix"`
	// Partitions and Replicas of the topics created when missing.
	Partitions int `yaml:"partitions"`
	Replicas   int `yaml:"replicas"`
}

// scriptConfig is the scripts section of tetra serve's configuration:
// POST /api/script/execute and the automations (docs/automations.md).
type scriptConfig struct {
	// Timeout is a script's timeout when a request names none.
	Timeout time.Duration `yaml:"timeout"`
	// MaxTimeout is the most a request's timeoutMs may ask for.
	MaxTimeout time.Duration `yaml:"maxTimeout"`
	// MaxConcurrent bounds the request scripts running at once.
	MaxConcurrent int `yaml:"maxConcurrent"`
	// AllowHosts are the hosts scripts' Http calls may reach.
	AllowHosts []string `yaml:"allowHosts"`
}

// runServe implements tetra serve: the store, the engine and the API on
// one address until SIGINT or SIGTERM, then a drain and a clean close.
func runServe(e *env, args []string) int {
	fs := newFlags(e, "serve")
	cfg := serveConfig{Data: defaultDataDir, Listen: "127.0.0.1:7070"}
	cfg.Log.Format, cfg.Log.Level = "text", "info"
	configFile := fs.String("config", "", "read settings from the YAML `FILE` (flags win over it)")
	data := dataFlag(fs)
	esURL := elasticFlag(fs)
	listen := fs.String("listen", cfg.Listen, "listen on `ADDR` (host:port; a port of 0 picks a free one)")
	otlpGRPC := fs.String("otlp-grpc", "", "also receive OTLP over gRPC on `ADDR` (host:port, e.g. 127.0.0.1:4317)")
	cert := fs.String("tls-cert", "", "serve HTTPS with the certificate in `FILE` (PEM)")
	key := fs.String("tls-key", "", "the private key of --tls-cert, in `FILE` (PEM)")
	logFormat := fs.String("log-format", cfg.Log.Format, "log lines as `text` or json")
	logLevel := fs.String("log-level", cfg.Log.Level, "log from `LEVEL` up: debug, info, warn, error")
	dc := demo.DefaultConfig()
	demoOn := fs.Bool("demo", false, "run a simulated web shop whose agents report to this server (a temporary data directory unless --data is given)")
	demoSpeed := fs.Float64("demo-speed", dc.Speed, "with --demo, play the scenario `N` times faster than real time")
	demoSeed := fs.Uint64("demo-seed", dc.Seed, "with --demo, the seed of the simulated environment")
	kafkaBrokers := fs.String("kafka", "", "ingest through Kafka at `BROKERS` (host:port,…); each node keeps a full topology replica")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) > 0 {
		return misuse(e, fs, "unexpected argument %q", pos[0])
	}
	if *configFile != "" {
		if err := readConfig(*configFile, &cfg); err != nil {
			return userError(e, "serve", err)
		}
	}
	fileData := cfg.Data != defaultDataDir // the configuration file named one
	set := fs.given()
	override(set, "data", &cfg.Data, *data)
	override(set, "elasticsearch", &cfg.Elasticsearch, *esURL)
	override(set, "listen", &cfg.Listen, *listen)
	override(set, "otlp-grpc", &cfg.OTLPGRPC, *otlpGRPC)
	override(set, "tls-cert", &cfg.TLS.Cert, *cert)
	override(set, "tls-key", &cfg.TLS.Key, *key)
	override(set, "log-format", &cfg.Log.Format, *logFormat)
	override(set, "log-level", &cfg.Log.Level, *logLevel)
	override(set, "kafka", &cfg.Kafka.Brokers, *kafkaBrokers)
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return misuse(e, fs, "--tls-cert and --tls-key go together")
	}
	if *demoOn && !set["log-level"] {
		// The simulated agents report every two seconds: a line per
		// request would bury what the demo prints.
		cfg.Log.Level = "warn"
	}
	// The log lines, and serve's own messages to stderr after them, go
	// through one buffer, in order, flushed shortly after each line and
	// when serve returns.
	lb := newLogBuffer(e.stderr, logFlushDelay)
	defer lb.Flush()
	logger, err := newLogger(lb, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return misuse(e, fs, "%v", err)
	}
	if *demoOn {
		if cfg.TLS.Cert != "" {
			return misuse(e, fs, "--demo reports to the server over plain HTTP: leave out --tls-cert")
		}
		if *demoSpeed <= 0 {
			return misuse(e, fs, "--demo-speed %v: want a positive factor (1 is real time)", *demoSpeed)
		}
		dc.Speed, dc.Seed = *demoSpeed, *demoSeed
		// Only a directory named for this run is used: not $TETRA_DATA,
		// which may hold data the demo should not write into.
		named := set["data"] || fileData
		if cfg.demo, err = prepareDemo(&cfg, named, dc, e.now()); err != nil {
			return userError(e, "serve", err)
		}
		defer cfg.demo.cleanup()
	} else if set["demo-speed"] || set["demo-seed"] {
		return misuse(e, fs, "--demo-speed and --demo-seed go with --demo")
	}
	buffered := *e
	buffered.stderr = lb
	return serve(&buffered, cfg, logger)
}

// override sets *dst to v when the flag was given, or when the file left
// the setting empty.
func override(set map[string]bool, name string, dst *string, v string) {
	if set[name] || *dst == "" {
		*dst = v
	}
}

// readConfig reads a YAML configuration file; unknown settings are errors
// (a misspelt limit must not pass silently).
func readConfig(path string, cfg *serveConfig) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// serve runs the server with a checked configuration.
func serve(e *env, cfg serveConfig, logger *slog.Logger) int {
	keys, err := api.NewKeyRing(api.NewKeyFile(cfg.Data))
	if err != nil {
		return userError(e, "serve", err)
	}
	for _, addr := range []string{cfg.Listen, cfg.OTLPGRPC} {
		if addr != "" && keys.Len() == 0 && !api.IsLoopbackHost(addr) {
			return userError(e, "serve", fmt.Errorf("refusing to listen on %s without API keys: anyone who reaches it could read everything; "+
				"create a key first (tetra key create --data %s --role admin NAME), or listen on 127.0.0.1", addr, cfg.Data))
		}
	}
	st, err := openStore(cfg.Data, readWrite, e.now)
	if err != nil {
		return userError(e, "serve", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store", "err", err)
			return
		}
		logger.Info("store closed", "data", cfg.Data)
	}()
	ds, err := openData(cfg.Data, cfg.Elasticsearch, readWrite, e.now)
	if err != nil {
		return userError(e, "serve", err)
	}
	defer func() {
		if err := ds.Close(); err != nil {
			logger.Error("closing the data stores", "err", err)
		}
	}()
	limits, stores := cfg.Limits, ds.engineStores()
	eng := exec.New(st, exec.Options{MaxElements: limits.MaxElements, Timeout: limits.QueryTimeout, Data: stores})
	si := &storeInfo{st: st}
	srv := api.New(api.Config{Engine: eng, Keys: keys, Store: si, Limits: limits, Logger: logger, Version: buildVersion(), Now: e.now})
	autos, err := openAutomationStore(cfg.Data)
	if err != nil {
		return userError(e, "serve", err)
	}
	defer autos.Close()
	m, err := mount(srv, mountDeps{eng: eng, graph: st, data: ds, events: stores.Events, autos: autos, scripts: cfg.Scripts, kafka: cfg.Kafka, now: e.now, logger: logger,
		demo: cfg.demo != nil})
	if err != nil {
		return userError(e, "serve", err)
	}
	si.log = m.log
	m.automations.Start()
	defer m.automations.Close() // after the drain, before the stores close
	// The log stops after the server has drained (every request it
	// answered is durable) and before the store closes: the embedded
	// writer commits what is queued, the Kafka replica its batch under way.
	defer m.log.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return userError(e, "serve", err)
	}
	printListening(e.stdout, srv, ln.Addr(), cfg, keys.Len())
	if cfg.OTLPGRPC != "" {
		// Stopped after the HTTP server has drained and before the
		// writer closes: every export it answered is durable.
		stop, err := serveOTLPGRPC(e.stdout, m.receiver, cfg, srv.Limits().DrainTimeout, logger)
		if err != nil {
			ln.Close()
			return userError(e, "serve", err)
		}
		defer stop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopDemo := func() {}
	if cfg.demo != nil {
		dctx, dcancel := context.WithCancel(ctx)
		wait, err := cfg.demo.start(dctx, ln.Addr(), logger)
		if err != nil {
			dcancel()
			ln.Close()
			return userError(e, "serve", err)
		}
		stopDemo = func() { dcancel(); wait() }
		defer stopDemo()
		cfg.demo.printTry(e.stdout, ln.Addr())
	}
	if e.interrupt != nil {
		// The server stops gracefully on the first SIGINT or SIGTERM.
		stop, release := e.interrupt()
		defer release()
		go func() {
			select {
			case <-stop:
				logger.Info("stop signal received")
				// The simulated agents stop first, so that the drain
				// does not refuse their last reports.
				stopDemo()
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	go compactEvery(ctx, st, e.now, logger)
	go compactDataEvery(ctx, ds, e.now, logger)
	if err := srv.Serve(ctx, ln, cfg.TLS.Cert, cfg.TLS.Key); err != nil {
		return userError(e, "serve", err)
	}
	return exitOK
}

// mountDeps is what the components tetra serve mounts need.
type mountDeps struct {
	eng     *exec.Engine
	graph   *pebblestore.Store
	data    *dataStores          // nil: the receiver stores topology only
	events  telemetry.EventStore // where scripts' events go
	autos   *automation.Store
	scripts scriptConfig
	kafka   kafkaConfig
	now     func() time.Time
	logger  *slog.Logger
	// demo: the demo's agents report the services of its traces
	// themselves (an "opentelemetry" source of their own), so the
	// receiver derives none from its spans.
	demo bool
}

// mounted are the mounted components that need closing.
type mounted struct {
	hub         *live.Hub
	automations *automation.Manager // not started: the caller starts it
	log         ingestLog           // the embedded writer or the Kafka node: close after the drain
	receiver    *receiver.Receiver
}

// ingestLog is the log the receiver appends to, as tetra serve runs it.
type ingestLog interface {
	ingest.Log
	Close() error
}

// mount mounts what other packages serve on the API server: live
// subscriptions, the receiver (POST /stsAgent/intake, writing through the
// embedded log: one writer with group commit), the script endpoint, the
// automation routes, MCP and the web view. A test checks that every API
// route mounted here is documented.
func mount(srv *api.Server, d mountDeps) (*mounted, error) {
	hub, err := live.New(live.Config{Engine: d.eng, Store: d.graph, Logger: d.logger, Registerer: srv.Registry()})
	if err != nil {
		return nil, err
	}
	hub.Mount(srv)
	pipe, rc, err := mountReceiver(srv, d.graph, d.data, d.kafka, d.logger, d.demo)
	if err != nil {
		return nil, err
	}
	mgr, err := mountServices(srv, d)
	if err != nil {
		pipe.Close()
		return nil, err
	}
	view, err := web.New()
	if err != nil {
		pipe.Close()
		mgr.Close()
		return nil, err
	}
	for _, p := range view.Routes() {
		srv.HandlePage(p, view)
	}
	return &mounted{hub: hub, automations: mgr, log: pipe, receiver: rc}, nil
}

// mountReceiver mounts the receiver over the ingest log, started here
// (the caller closes it): the embedded writer, the graph store's one
// writer, or with Kafka brokers the Kafka node, which produces what the
// receiver accepts and is the store's one writer as it replicates the
// topology topic. Metrics, events and spans go to data's stores (nil: the
// receiver stores topology only): straight in the embedded mode, through
// their topics and the node's data consumer in the Kafka mode.
func mountReceiver(srv *api.Server, graph *pebblestore.Store, data *dataStores, kc kafkaConfig, logger *slog.Logger, demo bool) (ingestLog, *receiver.Receiver, error) {
	proc, err := ingest.NewTopologyProcessor(graph)
	if err != nil {
		return nil, nil, err
	}
	stores := data.writers()
	cfg := receiver.Config{Logger: logger, NoServiceTopology: demo}
	var log ingestLog
	if kc.Brokers != "" {
		kcfg := kafkalog.Config{Brokers: kafkalog.ParseBrokers(kc.Brokers), TopicPrefix: kc.TopicPrefix,
			Partitions: kc.Partitions, Replicas: kc.Replicas, Logger: logger, Registerer: srv.Registry(), Data: stores}
		if kcfg.DataGroup, err = dataGroup(data, kc.TopicPrefix); err != nil {
			return nil, nil, err
		}
		node, err := kafkalog.Open(kcfg, proc)
		if err != nil {
			return nil, nil, err
		}
		log = node
		// The receiver produces the data to its topics; the node's data
		// consumer writes it to the stores.
		lw := ingest.LogWriter{Log: node}
		stores = ingest.DataStores{Metrics: lw, Events: lw, Spans: lw}
		if data == nil || data.tel == nil {
			stores.Metrics, stores.Events = nil, nil
		}
		if data == nil || data.traces == nil {
			stores.Spans = nil
		}
	} else {
		log = ingest.NewPipeline(proc, ingest.PipelineOptions{})
	}
	cfg.Log, cfg.Metrics, cfg.Events, cfg.Spans = log, stores.Metrics, stores.Events, stores.Spans
	rc, err := receiver.New(cfg)
	if err == nil {
		err = rc.Mount(srv)
	}
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	return log, rc, nil
}

// writers returns the append side of the data stores (none of a nil d).
func (d *dataStores) writers() ingest.DataStores {
	var out ingest.DataStores
	if d == nil {
		return out
	}
	if d.tel != nil {
		out.Metrics, out.Events = d.tel, d.tel
	}
	if d.traces != nil {
		out.Spans = d.traces
	}
	return out
}

// dataGroup is the Kafka consumer group that writes metrics, events and
// spans to data: one for the cluster when every node shares the stores
// (Elasticsearch), so each record is written once; else the node's own,
// named after the id kept in its data directory, so each node's embedded
// stores hold everything, as its topology replica does.
func dataGroup(data *dataStores, prefix string) (string, error) {
	if data == nil || data.shared {
		return kafkalog.DataGroupName(prefix, ""), nil
	}
	id, err := nodeID(data.dir)
	if err != nil {
		return "", err
	}
	return kafkalog.DataGroupName(prefix, id), nil
}

// nodeID returns the id of the node whose data directory is dir, made
// and kept in dir/node-id on first use: a new directory is a new node,
// whose own consumer group reads the data topics from their start.
func nodeID(dir string) (string, error) {
	p := filepath.Join(dir, "node-id")
	if b, err := os.ReadFile(p); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(r[:])
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", err
	}
	return id, nil
}

// serveOTLPGRPC serves the OTLP/gRPC receiver on cfg.OTLPGRPC (with the
// server's TLS, if any) until the returned stop, which waits for the
// exports in flight for up to drain.
func serveOTLPGRPC(w io.Writer, rc *receiver.Receiver, cfg serveConfig, drain time.Duration, logger *slog.Logger) (stop func(), err error) {
	g, err := rc.NewGRPC(receiver.GRPCOptions{TLSCert: cfg.TLS.Cert, TLSKey: cfg.TLS.Key})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.OTLPGRPC)
	if err != nil {
		return nil, fmt.Errorf("--otlp-grpc: %w", err)
	}
	fmt.Fprintf(w, "tetra serve: OTLP/gRPC on %s (TraceService, MetricsService, LogsService)\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := g.Serve(ln); err != nil {
			logger.Error("OTLP/gRPC receiver", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		g.Stop(ctx)
		<-done
	}, nil
}

// printListening says what listens where, on stdout, once at start.
func printListening(w io.Writer, srv *api.Server, addr net.Addr, cfg serveConfig, keys int) {
	scheme := "http"
	if cfg.TLS.Cert != "" {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s", scheme, addr)
	fmt.Fprintf(w, "tetra serve: data in %s\n", cfg.Data)
	fmt.Fprintf(w, "tetra serve: listening on %s\n", base)
	for _, r := range srv.Routes() {
		method, path, _ := strings.Cut(r, " ")
		fmt.Fprintf(w, "  %-6s %s%s\n", method, base, strings.TrimSuffix(path, "{$}")) // "/{$}" is the page at "/"
	}
	if keys == 0 {
		fmt.Fprintf(w, "tetra serve: no API keys, so no key checks; serving on loopback only (tetra key create adds one)\n")
	} else {
		fmt.Fprintf(w, "tetra serve: %d API keys; requests need one (X-API-Key)\n", keys)
	}
}

// compactDataEvery drops telemetry and spans past retention once an hour
// while the server runs.
func compactDataEvery(ctx context.Context, ds *dataStores, now func() time.Time, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ds.compact(ctx, now()); err != nil {
				logger.Error("compacting telemetry and traces", "err", err)
			}
		}
	}
}

// compactEvery drops expired history once an hour while the server runs,
// as one-shot commands do when they write.
func compactEvery(ctx context.Context, st *pebblestore.Store, now func() time.Time, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			stats, err := compactIfDue(ctx, st, now())
			if err != nil {
				logger.Error("compacting expired history", "err", err)
			} else if stats != nil {
				logger.Info("compacted expired history", "versions", stats.Versions, "postings", stats.Postings)
			}
		}
	}
}

// storeInfo gives the server the Pebble store's health and figures, and
// the ingest log's: a Kafka node that cannot reach its brokers makes the
// server unready (it could neither accept intake nor stay current).
type storeInfo struct {
	st  *pebblestore.Store
	log any // set once mounted, before serving
}

func (s *storeInfo) Check() error {
	if err := s.st.Check(); err != nil {
		return err
	}
	if c, ok := s.log.(interface{ Check() error }); ok {
		return c.Check()
	}
	return nil
}

func (s *storeInfo) Stats() api.StoreStats {
	p := s.st.Stats()
	return api.StoreStats{DiskBytes: p.DiskBytes, Compactions: p.Compactions, CompactionDebt: p.CompactionDebt,
		BlockCacheHits: p.BlockCacheHits, BlockCacheMisses: p.BlockCacheMisses, BlockCacheBytes: p.BlockCacheBytes,
		MemtableBytes: p.MemtableBytes, ReadAmp: p.ReadAmp, LastCommit: s.st.LastCommit(), Horizon: s.st.Horizon(),
		HeldSince: heldSince(s.st), Retention: s.st.Retention()}
}

// mountServices mounts the script endpoint, the automation routes and MCP, with
// a runtime over the engine, and returns the automation manager (not yet
// started).
func mountServices(srv *api.Server, d mountDeps) (*automation.Manager, error) {
	cfg, graph := d.scripts, d.graph
	rt, err := scriptrt.New(scriptrt.Config{Engine: d.eng, Now: d.now, HTTP: scriptrt.HTTPConfig{AllowHosts: cfg.AllowHosts},
		Limits: scriptrt.Limits{Timeout: cfg.Timeout}})
	if err != nil {
		return nil, err
	}
	sink := graphSink{graph, d.events}
	mgr, err := automation.NewManager(automation.Config{Store: d.autos, Runtime: rt, Engine: d.eng, Sink: sink, Logger: d.logger, Now: d.now,
		Timeout: cfg.Timeout, Feed: func() (graphstore.Feed, error) { return graph.Subscribe(graph.LastCommit()) }})
	if err != nil {
		return nil, err
	}
	srv.Handle("POST /mcp", api.RoleRead, mcpserver.Handler(mcpserver.Config{Engine: d.eng, Runtime: rt, Now: d.now, Version: version}))
	return mgr, scriptapi.Mount(srv, scriptapi.Config{Runtime: rt, Timeout: cfg.Timeout, MaxTimeout: cfg.MaxTimeout,
		MaxConcurrent: cfg.MaxConcurrent, Sink: sink, Automations: mgr})
}
