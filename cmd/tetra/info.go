package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/repl"
)

// runInfo implements tetra info: what a data directory or a server holds
// (its time span, retention, counts by source) and its versions; for a
// data directory the same document GET /api/info answers with.
func runInfo(e *env, args []string) int {
	fs := newFlags(e, "info")
	t := targetFlags(fs)
	out := outputFlag(fs, "table", "table", "json")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) > 0:
		return misuse(e, fs, "unexpected argument %q", pos[0])
	case t.problem() != "":
		return misuse(e, fs, "%s", t.problem())
	}
	ctx, interrupted, release := e.stopOnInterrupt()
	defer release()
	info, where, err := readInfo(ctx, e, t)
	if err != nil {
		if interrupted() {
			return interruptedExit(e, "info", "")
		}
		return userError(e, "info", err)
	}
	if *out == "json" {
		return printJSON(e, info)
	}
	writeInfo(e.stdout, where, info, repl.TerminalWidth(e.stdout))
	return exitOK
}

// readInfo asks the server, or builds the same answer from the data
// directory. where names it.
func readInfo(ctx context.Context, e *env, t *target) (*api.Info, string, error) {
	if t.remote() {
		c, err := t.client()
		if err != nil {
			return nil, "", err
		}
		ctx, cancel := withTimeout(ctx, exec.DefaultTimeout)
		defer cancel()
		info, err := c.Info(ctx)
		return info, "server " + *t.server, err
	}
	l, err := t.openLocal(e, exec.Options{})
	if err != nil {
		return nil, "", err
	}
	defer l.Close()
	sum, err := l.eng.Summary(ctx, exec.QueryOptions{})
	if err != nil {
		return nil, "", err
	}
	st := (&storeInfo{st: l.st}).Stats()
	b := readBuildInfo()
	return &api.Info{
		Version: api.InfoVersion{Tetra: b.Version, ResultSchemaVersion: b.ResultSchema, StackStateAPI: b.StackStateAPI},
		Now:     e.now().UTC(),
		Store: &api.InfoStore{HeldSince: timeOrNil(st.HeldSince), Horizon: timeOrNil(st.Horizon), LastCommit: timeOrNil(st.LastCommit),
			RetentionSeconds: int64(st.Retention / time.Second), DiskBytes: st.DiskBytes},
		Summary: sum,
	}, "data directory " + *t.data, nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() || t.UnixNano() == 0 {
		return nil
	}
	t = t.UTC()
	return &t
}

// writeInfo prints an info document for people.
func writeInfo(w io.Writer, where string, info *api.Info, width int) {
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-12s %s\n", k+":", fmt.Sprintf(format, args...)) }
	row("Reading", "%s", where)
	if s := info.Store; s != nil {
		switch {
		case s.LastCommit == nil:
			row("Holds", "nothing yet")
		case s.HeldSince != nil:
			row("Holds", "%s → %s (%s)", stamp(*s.HeldSince), stamp(*s.LastCommit), span(s.LastCommit.Sub(*s.HeldSince)))
		default:
			row("Holds", "up to %s", stamp(*s.LastCommit))
		}
		row("Retention", "%s of history%s", span(time.Duration(s.RetentionSeconds)*time.Second), horizonNote(s))
		row("Disk", "%s", bytesText(s.DiskBytes))
	}
	sum := info.Summary
	row("Now", "%s components, %s relations (%s)", count(sum.Components), count(sum.Relations), stamp(sum.At))
	v := info.Version
	row("Versions", "tetra %s; result JSON schemaVersion %d; StackState API %s", v.Tetra, v.ResultSchemaVersion, v.StackStateAPI)
	if len(sum.Sources) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSources:")
	t := repl.Table{Columns: []repl.Column{
		{Header: "  SOURCE", Keep: 3, Min: 12, ElideMiddle: true}, {Header: "COMPONENTS", Fixed: true, Keep: 2}, {Header: "RELATIONS", Fixed: true, Keep: 1}}}
	for _, s := range sum.Sources {
		t.Rows = append(t.Rows, []string{"  " + s.Source, strconv.Itoa(s.Components), strconv.Itoa(s.Relations)})
	}
	t.Write(w, width)
}

func horizonNote(s *api.InfoStore) string {
	if s.Horizon == nil {
		return "; none dropped yet"
	}
	return "; nothing before " + stamp(*s.Horizon) + " can be asked for"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// span shows a duration in days, hours or minutes.
func span(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64) + " days"
	case d >= 2*time.Hour:
		return strconv.FormatFloat(d.Round(time.Minute).Hours(), 'f', 1, 64) + " hours"
	}
	return d.Round(time.Second).String()
}

// count writes a number with thousands separated.
func count(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// printJSON prints v as indented JSON on stdout.
func printJSON(e *env, v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return userError(e, "", err)
	}
	return exitOK
}
