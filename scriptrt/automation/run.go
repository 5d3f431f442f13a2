package automation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tetrahq/tetra/scriptrt"
)

// work runs an automation for t, then for whatever queued meanwhile, one
// run at a time. It owns a.running until it returns.
func (m *Manager) work(a *auto, t trigger) {
	defer m.wg.Done()
	for {
		r := m.runOnce(a, t)
		m.mu.Lock()
		m.settleLocked(a, r)
		if len(a.queue) == 0 || m.closed || a.deleted {
			a.running = false
			dropped := a.queue
			a.queue = nil
			m.mu.Unlock()
			for _, q := range dropped {
				if q.done != nil {
					q.done <- r
				}
			}
			if t.done != nil {
				t.done <- r
			}
			return
		}
		next := a.queue[0]
		a.queue = a.queue[1:]
		m.mu.Unlock()
		if t.done != nil {
			t.done <- r
		}
		t = next
	}
}

// settleLocked records a run's outcome in the automation's state: the
// failure count and the backoff after failures. REQUIRES: m.mu.
func (m *Manager) settleLocked(a *auto, r *Run) {
	a.last = r
	if r.Outcome == "ok" {
		a.failures, a.backoff, a.lastOK = 0, time.Time{}, r.Started
		return
	}
	if r.Trigger == "manual" {
		return // trying one out does not pause the automation
	}
	a.failures++
	pause := m.cfg.Backoff << min(a.failures-1, 20)
	a.backoff = time.Now().Add(min(pause, m.cfg.MaxBackoff))
	m.log.Warn("automation run failed", "automation", a.def.Name, "trigger", r.Trigger,
		"failures", a.failures, "paused_for", min(pause, m.cfg.MaxBackoff).String(), "err", r.Error.Message)
}

// runOnce runs the script once within the automation's limits, in one of
// the manager's slots, and records the run.
func (m *Manager) runOnce(a *auto, t trigger) *Run {
	d := a.def
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	case <-m.ctx.Done():
		return m.record(a, t, time.Now(), 0, nil, context.Canceled)
	}
	req := scriptrt.Request{Script: d.Script, Name: d.Name, Timeout: m.cfg.Timeout, Scope: a.scope,
		Sink: m.cfg.Sink, Source: "automation:" + d.Name,
		Limits: &scriptrt.Limits{MaxMemory: m.cfg.MaxMemory, MaxResultBytes: 1 << 20}}
	if d.Timeout > 0 {
		req.Timeout = time.Duration(d.Timeout)
	}
	req.Limits.Timeout = req.Timeout
	if d.MaxMemoryMB > 0 {
		req.Limits.MaxMemory = int64(d.MaxMemoryMB) << 20
	}
	if d.Kind == KindMonitor {
		req.Monitor = MonitorStream(d.Name)
	}
	req.Arguments = arguments(t)
	started := m.cfg.Now().UTC()
	t0 := time.Now()
	res, err := m.cfg.Runtime.Run(m.ctx, req)
	return m.record(a, t, started, time.Since(t0), res, err)
}

// MonitorStream is the health stream a monitor's states replace.
func MonitorStream(name string) string { return "urn:tetra:monitor:" + name }

// arguments binds the trigger's cause as the script's `event` variable
// (null when the run has none) and the trigger's kind as `trigger`.
func arguments(t trigger) []byte {
	cause := json.RawMessage("null")
	if len(t.cause) > 0 {
		cause = t.cause
	}
	b, _ := json.Marshal(map[string]any{"event": cause, "trigger": t.kind})
	return b
}

// record makes and stores the record of a run.
func (m *Manager) record(a *auto, t trigger, started time.Time, d time.Duration, res *scriptrt.Result, err error) *Run {
	r := &Run{Automation: a.def.Name, Trigger: t.kind, Cause: t.cause, Started: started, DurationMs: d.Milliseconds(), Outcome: "ok"}
	if err != nil {
		r.Outcome, r.Error = "error", scriptrt.ErrorBody(err)
	} else {
		r.HealthStates, r.Events = res.HealthStates, res.Events
		if len(res.Value) <= maxKeptResult {
			r.Result = res
		} else {
			r.ResultBytes = len(res.Value)
		}
	}
	if len(r.Cause) > maxKeptResult {
		r.Cause = nil
	}
	if a.deleted {
		return r // deleted while it ran: leave no record behind
	}
	if err := m.cfg.Store.AppendRun(r, m.cfg.KeepRuns); err != nil {
		m.log.Error("recording an automation run", "automation", a.def.Name, "err", err)
	}
	return r
}
