package repl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tetrahq/tetra/exec"
)

// WriteResult renders a result as text tables for a terminal: what
// `tetra query` prints, and what the shell will print.
func WriteResult(w io.Writer, res *exec.Result) error {
	switch {
	case res.Topology != nil:
		return writeTopology(w, res.Topology)
	case res.Changes != nil:
		return writeChanges(w, res.Changes)
	}
	_, err := fmt.Fprintln(w, "(no result)")
	return err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func writeTopology(w io.Writer, r *exec.TopologyResult) error {
	fmt.Fprintf(w, "%s at %s\n", plural(len(r.Components), "component"), stamp(r.EvaluatedAt))
	names := map[uint64]string{}
	if len(r.Components) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tTYPE\tLAYER\tDOMAIN\tENVIRONMENTS\tHEALTH\tLABELS")
		for _, c := range r.Components {
			names[c.ID] = c.Name
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, cell(c.Name), cell(c.Type), cell(c.Layer),
				cell(c.Domain), list(c.Environments), c.HealthState, list(c.Labels))
		}
		tw.Flush()
	}
	if len(r.Relations) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%s\n", plural(len(r.Relations), "relation"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSOURCE\tTARGET")
	for _, rel := range r.Relations {
		fmt.Fprintf(tw, "%d\t%s\t%d %s\t%d %s\n", rel.ID, cell(rel.Type), rel.Source, names[rel.Source], rel.Target, names[rel.Target])
	}
	return tw.Flush()
}

func writeChanges(w io.Writer, r *exec.ChangesResult) error {
	fmt.Fprintf(w, "changes from %s to %s: %d added, %d removed, %d changed\n", stamp(r.From), stamp(r.To),
		len(r.Added.Components)+len(r.Added.Relations), len(r.Removed.Components)+len(r.Removed.Relations),
		len(r.Changed.Components)+len(r.Changed.Relations))
	for _, c := range r.Added.Components {
		fmt.Fprintf(w, "+ component %d %s (%s)\n", c.ID, c.Name, c.Type)
	}
	for _, c := range r.Removed.Components {
		fmt.Fprintf(w, "- component %d %s (%s)\n", c.ID, c.Name, c.Type)
	}
	for _, c := range r.Changed.Components {
		fmt.Fprintf(w, "~ component %d %s (%s): %s\n", c.After.ID, c.After.Name, c.After.Type, strings.Join(c.Fields, ", "))
	}
	for _, rel := range r.Added.Relations {
		fmt.Fprintf(w, "+ relation %d %s %d → %d\n", rel.ID, rel.Type, rel.Source, rel.Target)
	}
	for _, rel := range r.Removed.Relations {
		fmt.Fprintf(w, "- relation %d %s %d → %d\n", rel.ID, rel.Type, rel.Source, rel.Target)
	}
	for _, rel := range r.Changed.Relations {
		fmt.Fprintf(w, "~ relation %d %s: %s\n", rel.After.ID, rel.After.Type, strings.Join(rel.Fields, ", "))
	}
	return nil
}

// cell keeps a table cell on one line and visible when empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
}

// maxListCell is how wide a list column gets; --json shows everything.
const maxListCell = 60

func list(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	s := cell(strings.Join(l, ","))
	if r := []rune(s); len(r) > maxListCell {
		s = string(r[:maxListCell-1]) + "…"
	}
	return s
}
