package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// automations is what tetra automation does, against a data directory or
// a server: both print the same.
type automations interface {
	Apply(ctx context.Context, d *automation.Definition) (*automation.Status, error)
	List(ctx context.Context) ([]automation.Status, error)
	Run(ctx context.Context, name string, event []byte) (*automation.Run, error)
	Runs(ctx context.Context, name string, limit int) ([]*automation.Run, error)
	Delete(ctx context.Context, name string) error
	Close() error
}

// runAutomation implements tetra automation.
func runAutomation(e *env, args []string) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	if subcommandHelp(e, "automation", append([]string{sub}, args...)) {
		return exitOK
	}
	fs := newFlags(e, "automation "+sub)
	data := dataFlag(fs)
	server := fs.String("server", e.getenv("TETRA_SERVER"), "manage the automations of the tetra server at `URL` (default $TETRA_SERVER)")
	key := fs.String("key", e.getenv("TETRA_API_KEY"), "API `KEY` for --server, of role script or admin (default $TETRA_API_KEY)")
	// Each subcommand has only its own flags, so its help lists only them.
	file, event, limit := new(string), new(string), new(int)
	*limit = 20
	switch sub {
	case "apply":
		fs.StringVar(file, "f", "", "apply the definitions in `FILE` (YAML or JSON; - reads stdin)")
	case "run":
		fs.StringVar(event, "event", "", "run with this `JSON` as the script's event")
	case "runs":
		fs.IntVar(limit, "limit", 20, "show the newest `N` runs")
	}
	asJSON := fs.Bool("json", false, "print JSON")
	switch sub {
	case "apply", "list", "run", "runs", "delete":
	case "":
		return misuse(e, newFlags(e, "automation"), "give a subcommand: apply, list, run, runs or delete")
	default:
		return misuse(e, newFlags(e, "automation"), "unknown subcommand %q: apply, list, run, runs or delete", sub)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if code := checkAutomationArgs(e, fs, sub, pos, fs.given(), *server != ""); code != exitOK {
		return code
	}
	var defs []*automation.Definition
	if sub == "apply" {
		if defs, err = readDefinitions(e, *file); err != nil {
			return userError(e, "automation", err)
		}
	}
	var back automations
	if *server != "" {
		back, err = remoteAutomations(*server, *key)
	} else {
		back, err = localAutomations(e, *data, sub == "run")
	}
	if err != nil {
		return userError(e, "automation", err)
	}
	defer back.Close()
	a := &automationCmd{e: e, back: back, asJSON: *asJSON}
	name := ""
	if len(pos) > 0 {
		name = pos[0]
	}
	return a.do(sub, name, defs, []byte(*event), *limit)
}

// checkAutomationArgs checks the flags and arguments of a subcommand.
func checkAutomationArgs(e *env, fs *flags, sub string, pos []string, set map[string]bool, remote bool) int {
	needsName := sub == "run" || sub == "runs" || sub == "delete"
	switch {
	case needsName && len(pos) != 1:
		return misuse(e, fs, "%s takes one automation name", sub)
	case !needsName && len(pos) > 0:
		return misuse(e, fs, "unexpected argument %q", pos[0])
	case sub == "apply" && !set["f"]:
		return misuse(e, fs, "apply needs -f FILE (YAML or JSON definitions)")
	case sub != "apply" && set["f"]:
		return misuse(e, fs, "-f goes with apply")
	case sub != "run" && set["event"]:
		return misuse(e, fs, "--event goes with run")
	case sub != "runs" && set["limit"]:
		return misuse(e, fs, "--limit goes with runs")
	case remote && set["data"]:
		return misuse(e, fs, "--data reads a data directory, --server asks a server: give one")
	case !remote && set["key"]:
		return misuse(e, fs, "--key goes with --server")
	}
	return exitOK
}

// readDefinitions reads and checks the definitions of a file: every
// mistake of every definition is reported before anything is applied.
func readDefinitions(e *env, file string) ([]*automation.Definition, error) {
	r, closeFn, err := openInput(e, file)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	defs, err := automation.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(defs) == 0 {
		return nil, fmt.Errorf("%s holds no automation", file)
	}
	var errs []error
	for _, d := range defs {
		if err := d.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return defs, errors.Join(errs...)
}

type automationCmd struct {
	e      *env
	back   automations
	asJSON bool
}

func (a *automationCmd) do(sub, name string, defs []*automation.Definition, event []byte, limit int) int {
	ctx := context.Background()
	switch sub {
	case "apply":
		return a.apply(ctx, defs)
	case "list":
		l, err := a.back.List(ctx)
		if err != nil {
			return userError(a.e, "automation", err)
		}
		if a.asJSON {
			return a.printJSON(l)
		}
		return a.printList(l)
	case "run":
		return a.run(ctx, name, event)
	case "runs":
		runs, err := a.back.Runs(ctx, name, limit)
		if err != nil {
			return userError(a.e, "automation", err)
		}
		if a.asJSON {
			return a.printJSON(runs)
		}
		return a.printRuns(runs)
	}
	if err := a.back.Delete(ctx, name); err != nil {
		return userError(a.e, "automation", err)
	}
	fmt.Fprintf(a.e.stdout, "deleted %s\n", name)
	return exitOK
}

func (a *automationCmd) apply(ctx context.Context, defs []*automation.Definition) int {
	var out []*automation.Status
	for _, d := range defs {
		st, err := a.back.Apply(ctx, d)
		if err != nil {
			return userError(a.e, "automation", err)
		}
		out = append(out, st)
		if !a.asJSON {
			fmt.Fprintf(a.e.stdout, "applied %s %s\n", st.Kind, st.Name)
		}
	}
	if a.asJSON {
		return a.printJSON(out)
	}
	return exitOK
}

// run runs an automation now and prints the record; a failed run exits 1.
func (a *automationCmd) run(ctx context.Context, name string, event []byte) int {
	if len(event) > 0 && !json.Valid(event) {
		return userError(a.e, "automation", errors.New("--event is not valid JSON"))
	}
	r, err := a.back.Run(ctx, name, event)
	if err != nil {
		return userError(a.e, "automation", err)
	}
	if code := a.printJSON(r); code != exitOK {
		return code
	}
	if r.Outcome != "ok" {
		return userError(a.e, "automation", fmt.Errorf("%s failed: %s", name, strings.TrimPrefix(r.Error.Message, "scriptrt: ")))
	}
	return exitOK
}

func (a *automationCmd) printJSON(v any) int {
	enc := json.NewEncoder(a.e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return userError(a.e, "automation", err)
	}
	return exitOK
}

func (a *automationCmd) printList(l []automation.Status) int {
	tw := tabwriter.NewWriter(a.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tWHEN\tLAST RUN\tOUTCOME\tFAILURES")
	for _, s := range l {
		last, outcome := "-", "-"
		if s.LastRun != nil {
			last, outcome = s.LastRun.Started.Format(time.RFC3339), s.LastRun.Outcome
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.Name, s.Kind, when(s.Definition), last, outcome, s.Failures)
	}
	if err := tw.Flush(); err != nil {
		return userError(a.e, "automation", err)
	}
	return exitOK
}

// when says what starts an automation, in a few words.
func when(d *automation.Definition) string {
	switch {
	case d.Disabled:
		return "disabled"
	case d.Kind == automation.KindMonitor:
		return "every " + d.Interval.String()
	case d.Kind == automation.KindScheduled:
		return d.Schedule
	case d.Trigger != nil && d.Trigger.Health != nil:
		return "health " + d.Trigger.Health.Filter
	case d.Trigger != nil && d.Trigger.Event != nil:
		return "event " + d.Trigger.Event.Filter
	}
	return "-"
}

func (a *automationCmd) printRuns(runs []*automation.Run) int {
	tw := tabwriter.NewWriter(a.e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tTRIGGER\tDURATION\tOUTCOME\tDETAIL")
	for _, r := range runs {
		detail := ""
		switch {
		case r.Error != nil:
			detail = strings.TrimPrefix(r.Error.Message, "scriptrt: ")
		case r.Result != nil:
			detail = string(r.Result.Value)
		case r.ResultBytes > 0:
			detail = fmt.Sprintf("(a result of %d bytes, not kept)", r.ResultBytes)
		}
		if len(detail) > 80 {
			detail = detail[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%dms\t%s\t%s\n", r.ID, r.Started.Format(time.RFC3339), r.Trigger, r.DurationMs, r.Outcome, detail)
	}
	if err := tw.Flush(); err != nil {
		return userError(a.e, "automation", err)
	}
	return exitOK
}

// remote manages a server's automations.
type remote struct{ c *client.Client }

func remoteAutomations(server, key string) (automations, error) {
	c, err := client.New(server, client.Options{Key: key})
	return remote{c}, err
}

func (r remote) Apply(ctx context.Context, d *automation.Definition) (*automation.Status, error) {
	return r.c.ApplyAutomation(ctx, d)
}
func (r remote) List(ctx context.Context) ([]automation.Status, error) {
	return r.c.ListAutomations(ctx)
}
func (r remote) Run(ctx context.Context, name string, event []byte) (*automation.Run, error) {
	return r.c.RunAutomation(ctx, name, event)
}
func (r remote) Runs(ctx context.Context, name string, limit int) ([]*automation.Run, error) {
	return r.c.AutomationRuns(ctx, name, limit)
}
func (r remote) Delete(ctx context.Context, name string) error {
	return r.c.DeleteAutomation(ctx, name)
}
func (r remote) Close() error { return nil }

// localAutos manages the automations of a data directory, with the manager a
// server runs (not started: nothing runs on its own here).
type localAutos struct {
	m     *automation.Manager
	store *automation.Store
	graph *pebblestore.Store
	data  *dataStores
}

// localAutomations opens a data directory's automations, its graph and its
// data stores (for writing when a run may write health states and events).
func localAutomations(e *env, dir string, write bool) (automations, error) {
	mode := readOnly
	if write {
		mode = readWrite
	}
	graph, err := openStore(dir, mode, e.now)
	if err != nil {
		return nil, err
	}
	l := &localAutos{graph: graph}
	if l.data, err = openData(dir, "", mode, e.now); err != nil {
		l.Close()
		return nil, err
	}
	if l.store, err = openAutomationStore(dir); err != nil {
		l.Close()
		return nil, err
	}
	if l.m, err = newAutomationManager(e, graph, l.data, l.store, nil); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *localAutos) Apply(_ context.Context, d *automation.Definition) (*automation.Status, error) {
	d.Owner, d.Scope = "local", ""
	if _, err := l.m.Apply(d); err != nil {
		return nil, err
	}
	return l.m.Get(d.Name, ""), nil
}
func (l *localAutos) List(context.Context) ([]automation.Status, error) { return l.m.List(""), nil }
func (l *localAutos) Run(ctx context.Context, name string, event []byte) (*automation.Run, error) {
	return l.m.RunNow(ctx, name, event)
}
func (l *localAutos) Runs(_ context.Context, name string, limit int) ([]*automation.Run, error) {
	if l.m.Get(name, "") == nil {
		return nil, &automation.NotFoundError{Name: name}
	}
	return l.m.Runs(name, limit)
}
func (l *localAutos) Delete(_ context.Context, name string) error {
	ok, err := l.m.Delete(name)
	if err == nil && !ok {
		err = &automation.NotFoundError{Name: name}
	}
	return err
}

// Close closes what localAutomations opened, in the reverse order; it is
// also how a half-done localAutomations undoes itself.
func (l *localAutos) Close() error {
	var errs []error
	if l.m != nil {
		l.m.Close()
	}
	if l.store != nil {
		errs = append(errs, l.store.Close())
	}
	if l.data != nil {
		errs = append(errs, l.data.Close())
	}
	return errors.Join(append(errs, l.graph.Close())...)
}

// openAutomationStore opens DATA/automations, saying what to do when a
// server holds it.
func openAutomationStore(dir string) (*automation.Store, error) {
	st, err := automation.OpenStore(filepath.Join(dir, "automations"))
	if errors.Is(err, automation.ErrInUse) {
		return nil, fmt.Errorf("the automations of %s are in use by a running tetra serve; manage them with --server URL", dir)
	}
	return st, err
}

// newAutomationManager makes the manager of a data directory's
// automations, with a runtime over the graph and the data stores and the
// sink that writes into them.
func newAutomationManager(e *env, graph *pebblestore.Store, data *dataStores, st *automation.Store, logger *slog.Logger) (*automation.Manager, error) {
	stores := data.engineStores()
	eng := exec.New(graph, exec.Options{Now: e.now, Data: stores})
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: e.now})
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return automation.NewManager(automation.Config{Store: st, Runtime: rt, Engine: eng, Sink: graphSink{graph, stores.Events}, Logger: logger, Now: e.now,
		Feed: func() (graphstore.Feed, error) { return graph.Subscribe(graph.LastCommit()) }})
}
