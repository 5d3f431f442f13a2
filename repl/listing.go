package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Listings of what the data holds, as psql's \d lists tables: the values
// of a topology key and how many components carry each (:values, and
// tetra values).

// MaxValueList is how many values one listing shows.
const MaxValueList = 500

// ValueKey resolves a key as typed (any accepted spelling) to its
// canonical name, or says which keys have values.
func ValueKey(typed string) (string, error) {
	key := lang.Words().KeyAliases[strings.ToLower(typed)]
	if key == "" || key == "id" {
		return "", fmt.Errorf("%q is not a key with values; the keys are %s", typed, strings.Join(valueKeys(), ", "))
	}
	return key, nil
}

// keyNotes says what each key's values are.
var keyNotes = map[string]string{
	"name":        "component names",
	"type":        "component types (service, pod, host, …)",
	"layer":       "layers (Services, Containers, Machines, …)",
	"domain":      "domains",
	"environment": "environments",
	"label":       "labels (key:value)",
	"healthstate": "health states",
	"identifier":  "identifiers (urn:…), exact",
}

// WriteKeys lists the keys that have values.
func WriteKeys(w io.Writer, o Options) error {
	t := Table{Columns: []Column{{Header: "KEY", Name: true, Keep: 2}, {Header: "VALUES", Keep: 1}}}
	for _, k := range valueKeys() {
		t.Rows = append(t.Rows, []string{k, keyNotes[k]})
	}
	return o.table(w, t)
}

// WriteValues lists values of key with their counts; more says the
// listing stopped at its limit.
func WriteValues(w io.Writer, key string, vals []exec.ValueCount, more bool, o Options) error {
	bw := bufio.NewWriter(w)
	t := Table{Columns: []Column{
		{Header: strings.ToUpper(key), Keep: 2, Min: 12, ElideMiddle: true, Name: true},
		{Header: "COMPONENTS", Fixed: true, Keep: 3},
	}}
	for _, v := range vals {
		t.Rows = append(t.Rows, []string{v.Value, strconv.Itoa(v.Components)})
	}
	if len(vals) == 0 {
		line(bw, o, "no %s values", key)
	} else if err := o.table(bw, t); err != nil {
		return err
	}
	if more {
		line(bw, o, "(the first %d; give a prefix to see others)", len(vals))
	}
	return bw.Flush()
}

func (s *shell) listValues(ctx context.Context, arg string) {
	fields := strings.Fields(arg)
	o := Options{Width: s.width()}
	if len(fields) == 0 {
		if err := WriteKeys(s.out, o); err != nil {
			s.failf("%v", err)
		}
		return
	}
	key, err := ValueKey(fields[0])
	if err != nil {
		s.failf("%v", err)
		return
	}
	prefix := ""
	if len(fields) > 1 {
		prefix = strings.Trim(strings.Join(fields[1:], " "), `"'`)
	}
	var vals []exec.ValueCount
	err = s.cancellable(ctx, true, func(ctx context.Context) (err error) {
		vals, err = s.backend.ValueCounts(ctx, key, prefix, MaxValueList+1, s.runOptions())
		return err
	})
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		s.failf("cancelled")
		return
	case err != nil:
		s.queryError(arg, err)
		return
	}
	more := len(vals) > MaxValueList
	if more {
		vals = vals[:MaxValueList]
	}
	if err := WriteValues(s.out, key, vals, more, o); err != nil {
		s.failf("%v", err)
	}
	s.gap()
}

// ValueKeys are the keys tetra values and :values list the values of.
func ValueKeys() []string { return valueKeys() }
