package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/demo"
)

// tetra serve --demo: the server, and a simulated web shop whose agents
// report to the server's own receiver (POST /stsAgent/intake, and OTLP
// spans to /v1/traces) with an ingest key, as real agents would. Nothing
// reaches the store any other way.

// Names of the keys --demo makes; made again (the old ones revoked) at
// every start, so a kept data directory does not collect them.
const (
	demoAgentKey = "demo-agent" // role ingest: the simulated agents
	demoUserKey  = "demo"       // role admin: the user trying the tour
)

// demoSetup is what --demo prepared before the server starts.
type demoSetup struct {
	cfg      demo.Config
	temp     bool   // the data directory is temporary: removed at the end
	data     string // the data directory
	agentKey string // the simulated agents' key (the secret)
	userKey  string // the user's key, printed once
}

// prepareDemo makes the data directory (a temporary one unless --data was
// given) and the demo's keys, before the server reads its keys.
func prepareDemo(cfg *serveConfig, dataGiven bool, dc demo.Config, now time.Time) (*demoSetup, error) {
	d := &demoSetup{cfg: dc, data: cfg.Data}
	if !dataGiven {
		dir, err := os.MkdirTemp("", "tetra-demo-")
		if err != nil {
			return nil, err
		}
		d.temp, d.data, cfg.Data = true, dir, dir
	}
	keys := api.NewKeyFile(d.data)
	old, err := keys.Load()
	if err != nil {
		d.cleanup()
		return nil, err
	}
	for _, k := range old {
		if k.Name == demoAgentKey || k.Name == demoUserKey {
			if _, err := keys.Revoke(k.ID); err != nil {
				d.cleanup()
				return nil, err
			}
		}
	}
	if _, d.agentKey, err = keys.Create(api.NewKey{Name: demoAgentKey, Role: api.RoleIngest}, now); err == nil {
		_, d.userKey, err = keys.Create(api.NewKey{Name: demoUserKey, Role: api.RoleAdmin}, now)
	}
	if err != nil {
		d.cleanup()
		return nil, err
	}
	return d, nil
}

// cleanup removes a temporary data directory.
func (d *demoSetup) cleanup() {
	if d.temp {
		os.RemoveAll(d.data)
	}
}

// start runs the simulation against the server listening on addr until
// ctx is done; wait returns once it has stopped.
func (d *demoSetup) start(ctx context.Context, addr net.Addr, logger *slog.Logger) (wait func(), err error) {
	base := "http://" + loopbackAddr(addr)
	return demo.Start(ctx, demo.Options{Config: d.cfg, Target: demo.Target{URL: base, Key: d.agentKey},
		Logger: logger.With("component", "demo")})
}

// loopbackAddr is where this process reaches its own listener: the
// loopback address when it listens on every interface.
func loopbackAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// printTry says, once at start, what the demo is and what to try.
func (d *demoSetup) printTry(w io.Writer, addr net.Addr) {
	base := "http://" + loopbackAddr(addr)
	where := d.data
	if d.temp {
		where += " (temporary: removed when the server stops)"
	}
	fmt.Fprintf(w, `
tetra serve --demo: a simulated web shop on Kubernetes reports to %s%s as StackState agents
would (ingest key %q), its spans to %s%s; seed %d, speed %s. Data in %s.

Try, in another terminal (the key is an admin key, printed only now):

  export TETRA_SERVER=%s TETRA_API_KEY=%s
  tetra query 'type = "service"'
  tetra describe node-3
  tetra query 'withNeighborsOf(components = (name = "orders-db"), levels = "3", direction = "up", relationTypes = ("calls", "uses"))'
  tetra query 'label = "app:checkout" CHANGES FROM "-3m" TO "now"'
  tetra repl    (then :watch type = "pod" AND label = "app:checkout")

or open %s/ in a browser (paste the key when asked). README.md has the tour.
`, base, demo.IntakePath, demoAgentKey, base, demo.TracesPath, d.cfg.Seed, strconv.FormatFloat(d.cfg.Speed, 'g', -1, 64), where,
		base, d.userKey, base)
}
