package teltest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/telemetry"
)

// ParseFilter reads the suite's filter notation (the stores know no query
// language): alternatives separated by " | ", each a conjunction of atoms
// separated by spaces:
//
//	f=a,b   f is a or b          f!=a    not (f = a)
//	f~a*b   f matches the glob   f<3 f<=3 f>3 f>=3   numeric comparison
//
// An empty input is no filter.
func ParseFilter(s string) (telemetry.Expr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var ors []telemetry.Expr
	for _, alt := range strings.Split(s, " | ") {
		var ands []telemetry.Expr
		for _, atom := range fields(alt) {
			e, err := parseAtom(atom)
			if err != nil {
				return nil, err
			}
			ands = append(ands, e)
		}
		if len(ands) == 1 {
			ors = append(ors, ands[0])
		} else {
			ors = append(ors, &telemetry.And{Xs: ands})
		}
	}
	if len(ors) == 1 {
		return ors[0], nil
	}
	return &telemetry.Or{Xs: ors}, nil
}

func parseAtom(a string) (telemetry.Expr, error) {
	for _, op := range []struct {
		s  string
		op telemetry.CompareOp
	}{{"<=", telemetry.Le}, {">=", telemetry.Ge}, {"<", telemetry.Lt}, {">", telemetry.Gt}} {
		if f, v, ok := strings.Cut(a, op.s); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("bad number in %q", a)
			}
			return &telemetry.Compare{Field: f, Op: op.op, Value: n}, nil
		}
	}
	if f, v, ok := strings.Cut(a, "!="); ok {
		return &telemetry.Not{X: &telemetry.Match{Field: f, Values: strings.Split(v, ",")}}, nil
	}
	if f, v, ok := strings.Cut(a, "~"); ok {
		return &telemetry.Match{Field: f, Globs: []telemetry.Glob{{Parts: strings.Split(v, "*")}}}, nil
	}
	if f, v, ok := strings.Cut(a, "="); ok {
		return &telemetry.Match{Field: f, Values: strings.Split(v, ",")}, nil
	}
	return nil, fmt.Errorf("bad filter atom %q", a)
}
