package repl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tetrahq/tetra/internal/usermsg"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// :script runs JavaScript with StackState's script APIs through the
// backend (scriptrt in process, POST /api/script/execute on a server) and
// prints its value as JSON.

func (s *shell) script(ctx context.Context, src string) {
	if strings.TrimSpace(src) == "" {
		s.failf("usage: :script JS, or :script alone and then the script's lines up to :end")
		return
	}
	start := s.now()
	var res *scriptrt.Result
	err := s.cancellable(ctx, true, func(ctx context.Context) (err error) {
		res, err = s.backend.Script(ctx, src)
		return err
	})
	took := s.now().Sub(start)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		s.failf("cancelled after %s", roundDuration(took))
		return
	case err != nil:
		s.failed = true
		fmt.Fprint(s.err, escapeLines(ScriptError(err)))
		return
	}
	if err := s.printScriptValue(res); err != nil {
		s.failf("%v", err)
	}
	if s.timing {
		fmt.Fprintf(s.out, "time: %s\n", roundDuration(took))
	}
	s.gap()
}

// printScriptValue prints a script's value as indented JSON (with
// :format json, StackState's typed result, {"_type", "value"}).
func (s *shell) printScriptValue(res *scriptrt.Result) error {
	var doc any = res.Value
	if s.format == "json" {
		doc = scriptrt.Response{Result: res}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = s.out.Write(escapeJSON(out.Bytes()))
	return err
}

// ScriptError renders a failed script's error for a user: a query of the
// script that failed with the caret under its part, anything else as its
// message (with the script position the runtime gives).
func ScriptError(err error) string {
	var se *scriptrt.ScriptError
	if errors.As(err, &se) && se.Query != "" && lang.Locate(se.Query, se.Err) != nil {
		return fmt.Sprintf("script error at %d:%d, in this query:\n%s", se.Line, se.Column, lang.Render(se.Query, se.Err))
	}
	return "error: " + usermsg.Message(err) + "\n"
}
