package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// IntakePath is where a StackState receiver takes agent payloads.
const IntakePath = "/stsAgent/intake"

// Target is the receiver the simulation reports to.
type Target struct {
	// URL is the server's base URL (http://127.0.0.1:7070); payloads go
	// to URL + IntakePath.
	URL string
	// Key is an API key of role ingest, sent as the agent sends it.
	Key string
	// Client sends the requests; nil is a client with a 10 s timeout.
	Client *http.Client
}

// Runner reports a simulation to a receiver at a steady pace.
type Runner struct {
	Sim    *Sim
	Target Target
	// Interval is the wall time between reports; 0 is 2 s.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Run reports every Interval until ctx is done. A report the receiver
// refuses or does not answer is logged, and the next one sends the whole
// topology again; Run itself only ends with ctx. OnReport, when not nil,
// is called after each round with the number of reports accepted.
func (r *Runner) Run(ctx context.Context, onReport func(accepted int)) {
	interval := r.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := r.round(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger().Warn("demo: report not delivered; resending everything next time", "err", err)
			r.Sim.Reset()
		}
		if onReport != nil {
			onReport(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round sends one Step's reports, in order, stopping at the first
// failure.
func (r *Runner) round(ctx context.Context) (int, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	reports := r.Sim.Step(now())
	for i, rep := range reports {
		if err := r.Target.Send(ctx, rep); err != nil {
			return i, err
		}
	}
	return len(reports), nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Logger
}

// Send POSTs one report as the agent's transactional forwarder does:
// gzip-compressed JSON, the key in the sts-api-key header (and X-API-Key,
// the server's own).
func (t Target) Send(ctx context.Context, rep Report) error {
	body, err := gzipJSON(rep.Intake)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(t.URL, "/")+IntakePath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("sts-hostname", rep.Agent)
	if t.Key != "" {
		req.Header.Set("sts-api-key", t.Key)
		req.Header.Set("X-API-Key", t.Key)
	}
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", IntakePath, resp.Status, bytes.TrimSpace(msg))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

func gzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
