package automation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// Kind is what starts an automation.
type Kind string

const (
	// KindMonitor runs on an interval and returns health states, which
	// replace its health stream.
	KindMonitor Kind = "monitor"
	// KindHandler runs when a component's health changes or an event
	// matches.
	KindHandler Kind = "handler"
	// KindScheduled runs on a cron schedule.
	KindScheduled Kind = "scheduled"
)

// Definition is an automation as users write it (YAML or JSON) and as it
// is stored. docs/automations.md describes every field.
type Definition struct {
	Name        string `json:"name" yaml:"name"`
	Kind        Kind   `json:"kind" yaml:"kind"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Script      string `json:"script" yaml:"script"`
	// Interval is a monitor's period ("1m").
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// Schedule is a scheduled script's cron expression (five fields, or
	// @hourly, @every 10m, …), in UTC.
	Schedule string `json:"schedule,omitempty" yaml:"schedule,omitempty"`
	// Trigger says what starts a handler.
	Trigger *Trigger `json:"trigger,omitempty" yaml:"trigger,omitempty"`
	// Timeout bounds one run (Limits.Timeout of the manager by default).
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// MaxMemoryMB is one run's heap budget in MiB (the manager's default
	// when zero).
	MaxMemoryMB int `json:"maxMemoryMB,omitempty" yaml:"maxMemoryMB,omitempty"`
	// Disabled keeps the automation stored without running it on its
	// own (it still runs on demand).
	Disabled bool `json:"disabled,omitempty" yaml:"disabled,omitempty"`

	// Set by the server, not by users: who applied it, and the scope its
	// runs are confined to (the applying key's).
	Owner   string    `json:"owner,omitempty" yaml:"owner,omitempty"`
	Scope   string    `json:"scope,omitempty" yaml:"scope,omitempty"`
	Created time.Time `json:"created,omitzero" yaml:"created,omitempty"`
	Updated time.Time `json:"updated,omitzero" yaml:"updated,omitempty"`
}

// Trigger is what starts a handler: a change of health, or an event.
type Trigger struct {
	Health *HealthTrigger `json:"health,omitempty" yaml:"health,omitempty"`
	Event  *EventTrigger  `json:"event,omitempty" yaml:"event,omitempty"`
}

// HealthTrigger fires when the health state of a component that matches
// Filter changes: its own state (healthState) or its propagated state
// (propagatedHealthState, which a dependency's change moves).
type HealthTrigger struct {
	// Filter is an STQL filter of components ("" for every component).
	Filter string `json:"filter,omitempty" yaml:"filter,omitempty"`
	// States, when not empty, keeps only changes to one of these states.
	States []string `json:"states,omitempty" yaml:"states,omitempty"`
}

// EventTrigger fires for every event that matches Filter (a filter of
// EVENTS WHERE).
type EventTrigger struct {
	Filter string `json:"filter,omitempty" yaml:"filter,omitempty"`
}

// Duration is a time.Duration written as "90s", "1m30s".
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write 30s, 5m, 1h)", b)
	}
	*d = Duration(v)
	return nil
}

// Limits on definitions.
const (
	MaxScriptBytes = 256 << 10
	MinInterval    = time.Second
	MaxTimeout     = 10 * time.Minute
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidationError lists what is wrong with a definition.
type ValidationError struct {
	Name     string
	Problems []string
}

func (e *ValidationError) Error() string {
	name := e.Name
	if name == "" {
		name = "(no name)"
	}
	return fmt.Sprintf("automation %s: %s", name, strings.Join(e.Problems, "; "))
}

// Validate checks a definition and returns the problems found, all of
// them, or nil. It compiles the script and parses filters and
// schedules, so a stored automation can always start.
func (d *Definition) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !nameRE.MatchString(d.Name) {
		add("name %q must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", d.Name)
	}
	switch {
	case strings.TrimSpace(d.Script) == "":
		add("script is empty")
	case len(d.Script) > MaxScriptBytes:
		add("script is %d bytes, more than %d KiB", len(d.Script), MaxScriptBytes>>10)
	default:
		if err := scriptrt.Check(d.Script); err != nil {
			add("script: %v", strings.TrimPrefix(err.Error(), "scriptrt: "))
		}
	}
	if d.Timeout < 0 || time.Duration(d.Timeout) > MaxTimeout {
		add("timeout %s must be between 0 (the default) and %s", d.Timeout, MaxTimeout)
	}
	if d.MaxMemoryMB < 0 || d.MaxMemoryMB > 4096 {
		add("maxMemoryMB %d must be between 0 (the default) and 4096", d.MaxMemoryMB)
	}
	d.validateKind(add)
	if len(p) > 0 {
		return &ValidationError{Name: d.Name, Problems: p}
	}
	return nil
}

// validateKind checks the fields of the automation's kind, and that the
// fields of other kinds are not set (a misplaced field is a mistake).
func (d *Definition) validateKind(add func(string, ...any)) {
	switch d.Kind {
	case KindMonitor:
		if time.Duration(d.Interval) < MinInterval {
			add("a monitor needs an interval of at least %s (interval: 1m)", MinInterval)
		}
	case KindScheduled:
		if _, err := ParseSchedule(d.Schedule); err != nil {
			add("schedule: %v", err)
		}
	case KindHandler:
		d.validateTrigger(add)
	default:
		add("kind %q must be monitor, handler or scheduled", d.Kind)
		return
	}
	if d.Kind != KindMonitor && d.Interval != 0 {
		add("interval is for monitors; a %s does not take one", d.Kind)
	}
	if d.Kind != KindScheduled && d.Schedule != "" {
		add("schedule is for scheduled scripts; a %s does not take one", d.Kind)
	}
	if d.Kind != KindHandler && d.Trigger != nil {
		add("trigger is for handlers; a %s does not take one", d.Kind)
	}
}

func (d *Definition) validateTrigger(add func(string, ...any)) {
	t := d.Trigger
	if t == nil || (t.Health == nil) == (t.Event == nil) {
		add("a handler needs one trigger: trigger: {health: {filter: …}} or trigger: {event: {filter: …}}")
		return
	}
	if h := t.Health; h != nil {
		if h.Filter != "" {
			if _, err := lang.ParseFilter(h.Filter); err != nil {
				add("trigger.health.filter: %v", err)
			}
		}
		for _, s := range h.States {
			if _, err := scriptrt.CheckHealthState(scriptrt.HealthState{Component: "x", State: s}); err != nil {
				add("trigger.health.states: %q is not a health state (CLEAR, DEVIATING, CRITICAL, UNKNOWN)", s)
			}
		}
	}
	if e := t.Event; e != nil && e.Filter != "" {
		if _, err := lang.Parse("EVENTS WHERE " + e.Filter); err != nil {
			add("trigger.event.filter: %v", err)
		}
	}
}

// scheduleParser reads five-field cron expressions and descriptors
// (@hourly, @every 10m).
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron expression.
func ParseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New(`a scheduled script needs a cron expression (schedule: "*/5 * * * *" or "@hourly")`)
	}
	if strings.HasPrefix(strings.TrimSpace(spec), "TZ=") || strings.HasPrefix(strings.TrimSpace(spec), "CRON_TZ=") {
		return nil, errors.New("schedules are in UTC; a time zone prefix is not accepted")
	}
	s, err := scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", spec, err)
	}
	return s, nil
}

// Decode reads definitions from YAML or JSON: one definition, a list of
// them, or (YAML) several documents. Unknown fields are errors.
func Decode(r io.Reader) ([]*Definition, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 16<<20 {
		return nil, errors.New("automation definitions larger than 16 MiB")
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return decodeJSON(t)
	}
	return decodeYAML(b)
}

func decodeJSON(b []byte) ([]*Definition, error) {
	if b[0] == '[' {
		var defs []*Definition
		return defs, strictJSON(b, &defs)
	}
	var d Definition
	if err := strictJSON(b, &d); err != nil {
		return nil, err
	}
	return []*Definition{&d}, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("reading JSON: %w", err)
	}
	return nil
}

func decodeYAML(b []byte) ([]*Definition, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var out []*Definition
	for i := 1; ; i++ {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading YAML document %d: %w", i, err)
		}
		defs, err := yamlDefinitions(&node)
		if err != nil {
			return nil, fmt.Errorf("reading YAML document %d: %w", i, err)
		}
		out = append(out, defs...)
	}
}

// yamlDefinitions decodes one YAML document: a definition or a list.
func yamlDefinitions(node *yaml.Node) ([]*Definition, error) {
	doc := node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	var out []*Definition
	if doc.Kind == yaml.SequenceNode {
		for _, n := range doc.Content {
			d, err := yamlDefinition(n)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, nil
	}
	d, err := yamlDefinition(doc)
	return []*Definition{d}, err
}

// yamlDefinition decodes a mapping strictly: Node.Decode does not know
// KnownFields, so the node is re-encoded and decoded with it.
func yamlDefinition(n *yaml.Node) (*Definition, error) {
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}
