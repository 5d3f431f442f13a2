package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// timers fires monitors on their interval and scheduled scripts on their
// schedule. One goroutine sleeps until the earliest due automation.
func (m *Manager) timers() {
	defer m.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		due, wait := m.dueTimers(time.Now())
		for _, name := range due {
			m.fire(name, trigger{kind: kindTrigger(name, m)})
		}
		t.Reset(wait)
		select {
		case <-m.ctx.Done():
			return
		case <-m.wake:
		case <-t.C:
		}
	}
}

func kindTrigger(name string, m *Manager) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.autos[name]; a != nil && a.def.Kind == KindScheduled {
		return "schedule"
	}
	return "interval"
}

// dueTimers returns the automations due at now, moves their next fire
// on, and says how long to sleep until the next one.
func (m *Manager) dueTimers(now time.Time) ([]string, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []string
	wait := time.Hour
	for name, a := range m.autos {
		if a.next.IsZero() || a.def.Disabled {
			continue
		}
		if !a.next.After(now) {
			due = append(due, name)
			a.next = a.nextFire(now)
		}
		wait = min(wait, a.next.Sub(now))
	}
	slices.Sort(due)
	return due, max(wait, time.Millisecond)
}

// nextFire is the fire after now.
func (a *auto) nextFire(now time.Time) time.Time {
	if a.def.Kind == KindScheduled {
		return a.sched.Next(now)
	}
	next := a.next.Add(time.Duration(a.def.Interval))
	if !next.After(now) { // fell behind (a long pause): no burst of catch-up runs
		next = now.Add(time.Duration(a.def.Interval))
	}
	return next
}

// HealthChange is the cause of a health handler's run, the script's
// `event`.
type HealthChange struct {
	// Field is healthState (the component's own state) or
	// propagatedHealthState.
	Field     string         `json:"field"`
	Before    string         `json:"before"`
	After     string         `json:"after"`
	Time      time.Time      `json:"time"`
	Component exec.Component `json:"component"`
}

// followHealth follows the graph's change feed and fires the health
// handlers whose filter holds a component whose health changed. It only
// reads the feed, so ingestion never waits for it; if it falls behind
// past the retention horizon it starts again from the latest commit.
func (m *Manager) followHealth() {
	defer m.wg.Done()
	for m.ctx.Err() == nil {
		feed, err := m.cfg.Feed()
		if err != nil {
			m.log.Error("automation: opening the change feed; health handlers wait", "err", err)
			if !sleep(m.ctx, 5*time.Second) {
				return
			}
			continue
		}
		err = m.drainFeed(feed)
		feed.Close()
		if err != nil && m.ctx.Err() == nil {
			m.log.Error("automation: the change feed stopped; following it again from the latest commit", "err", err)
			if !sleep(m.ctx, time.Second) {
				return
			}
		}
	}
}

func (m *Manager) drainFeed(feed graphstore.Feed) error {
	for {
		ev, err := feed.Next(m.ctx)
		if err != nil {
			return err
		}
		changes := healthChanges(ev)
		if len(changes) == 0 {
			continue
		}
		for _, h := range m.healthHandlers() {
			if err := m.matchHealth(h, ev.Time, changes); err != nil {
				m.log.Error("automation: matching a health change", "automation", h.def.Name, "err", err)
			}
		}
	}
}

// healthChanges returns the components of a commit whose health changed,
// by id: the own state when it changed (the cause), else the propagated
// state (a dependency's).
func healthChanges(ev *graphstore.CommitEvent) map[graphstore.ID]HealthChange {
	out := map[graphstore.ID]HealthChange{}
	for _, ch := range ev.Changes {
		if ch.Kind != graphstore.KindComponent || ch.After == nil {
			continue
		}
		var before graphstore.Component // UNKNOWN and UNKNOWN for a new component
		if ch.Before != nil {
			before = *ch.Before.Component()
		}
		after := ch.After.Component()
		switch {
		case before.Health != after.Health:
			out[ch.ID] = HealthChange{Field: "healthState", Before: before.Health.String(), After: after.Health.String(), Time: ev.Time}
		case before.Propagated != after.Propagated:
			out[ch.ID] = HealthChange{Field: "propagatedHealthState", Before: before.Propagated.String(),
				After: after.Propagated.String(), Time: ev.Time}
		}
	}
	return out
}

// healthHandler is a snapshot of a handler with a health trigger.
type healthHandler struct {
	def    *Definition
	filter lang.Expr
	scope  lang.Expr
}

func (m *Manager) healthHandlers() []healthHandler {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []healthHandler
	for _, a := range m.autos {
		if a.def.Disabled || a.def.Kind != KindHandler || a.def.Trigger.Health == nil {
			continue
		}
		h := healthHandler{def: a.def, scope: a.scope}
		if f := a.def.Trigger.Health.Filter; f != "" {
			h.filter, _ = lang.ParseFilter(f) // checked when applied
		}
		out = append(out, h)
	}
	return out
}

// matchHealth runs the handler's filter over the changed components at the
// commit's time, within its scope, and fires it once per match.
func (m *Manager) matchHealth(h healthHandler, at time.Time, changes map[graphstore.ID]HealthChange) error {
	ids := make([]string, 0, len(changes))
	for id, c := range changes {
		if len(h.def.Trigger.Health.States) == 0 || slices.ContainsFunc(h.def.Trigger.Health.States, func(s string) bool {
			return strings.EqualFold(s, c.After)
		}) {
			ids = append(ids, strconv.FormatUint(uint64(id), 10))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	q := "id IN (" + strings.Join(ids, ", ") + ")"
	if h.filter != nil {
		q = "(" + lang.Format(h.filter) + ") AND " + q
	}
	stmt, err := lang.Parse(q)
	if err != nil {
		return err
	}
	res, err := m.cfg.Engine.RunWith(m.ctx, stmt, exec.QueryOptions{Now: at, Scope: h.scope})
	if err != nil {
		return err
	}
	for _, c := range res.Topology.Components.All() {
		hc := changes[graphstore.ID(c.ID)]
		hc.Component = c
		cause, _ := json.Marshal(hc)
		m.fire(h.def.Name, trigger{kind: "health", cause: cause})
	}
	return nil
}

// pollEvents looks for new events matching each event handler's filter
// every EventPoll, through the engine's EVENTS statement (within the
// handler's scope), and fires the handler once per event.
func (m *Manager) pollEvents() {
	defer m.wg.Done()
	seen := map[string]*eventCursor{}
	t := time.NewTicker(m.cfg.EventPoll)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		for _, h := range m.eventHandlers() {
			c := seen[h.def.Name]
			if c == nil || c.filter != h.def.Trigger.Event.Filter {
				c = &eventCursor{filter: h.def.Trigger.Event.Filter, from: m.cfg.Now().UnixMilli()}
				seen[h.def.Name] = c
			}
			if err := m.pollHandler(h, c); err != nil && !c.failed {
				c.failed = true // say it once, not every poll
				m.log.Error("automation: polling events", "automation", h.def.Name, "err", err)
			}
		}
	}
}

// eventCursor is where an event handler's polling stands: events up to
// from have been seen, and those at exactly from by id (both ends of a
// range are included).
type eventCursor struct {
	filter string
	from   int64
	atFrom map[string]bool
	failed bool
}

func (m *Manager) eventHandlers() []healthHandler {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []healthHandler
	for _, a := range m.autos {
		if !a.def.Disabled && a.def.Kind == KindHandler && a.def.Trigger.Event != nil {
			out = append(out, healthHandler{def: a.def, scope: a.scope})
		}
	}
	return out
}

// polledEvent is the part of an event of the result document the poller
// needs; the whole event is the handler's cause.
type polledEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
}

func (m *Manager) pollHandler(h healthHandler, c *eventCursor) error {
	to := m.cfg.Now().UnixMilli()
	q := fmt.Sprintf("EVENTS FROM %d TO %d", c.from, to)
	if f := c.filter; f != "" {
		q = fmt.Sprintf("EVENTS WHERE %s FROM %d TO %d", f, c.from, to)
	}
	stmt, err := lang.Parse(q)
	if err != nil {
		return err
	}
	res, err := m.cfg.Engine.RunWith(m.ctx, stmt, exec.QueryOptions{Scope: h.scope})
	if err != nil {
		return err
	}
	// The result part of EVENTS is read through the one result encoder,
	// so this package needs no knowledge of the event store's types.
	doc, err := exec.AppendJSON(m.ctx, nil, res, exec.EncodeOptions{})
	if err != nil {
		return err
	}
	var parts struct {
		Events *struct {
			Events []json.RawMessage `json:"events"`
		} `json:"events"`
	}
	if err := json.Unmarshal(doc, &parts); err != nil || parts.Events == nil {
		return errors.New("automation: the EVENTS result has no events part")
	}
	c.failed = false
	m.fireEvents(h.def.Name, c, parts.Events.Events)
	return nil
}

// fireEvents fires a handler for the events it has not seen, oldest first,
// and moves the cursor to the newest.
func (m *Manager) fireEvents(name string, c *eventCursor, events []json.RawMessage) {
	newest, atNewest := c.from, map[string]bool{}
	for i := len(events) - 1; i >= 0; i-- { // results come newest first
		var e polledEvent
		if json.Unmarshal(events[i], &e) != nil || (e.Timestamp == c.from && c.atFrom[e.ID]) {
			continue
		}
		switch {
		case e.Timestamp > newest:
			newest, atNewest = e.Timestamp, map[string]bool{e.ID: true}
		case e.Timestamp == newest:
			atNewest[e.ID] = true
		}
		m.fire(name, trigger{kind: "event", cause: events[i]})
	}
	if newest > c.from {
		c.from, c.atFrom = newest, atNewest
	} else {
		for id := range atNewest {
			if c.atFrom == nil {
				c.atFrom = map[string]bool{}
			}
			c.atFrom[id] = true
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
