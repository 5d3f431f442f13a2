package repl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/internal/usermsg"
	"github.com/tetrahq/tetra/lang"
)

// Config is what a shell needs. Backend is required; the rest has
// defaults.
type Config struct {
	Backend Backend
	// In, Out and Err are the shell's streams. Results go to Out, errors
	// to Err.
	In       io.Reader
	Out, Err io.Writer
	// Terminal, when not nil, is the terminal the shell talks to (os.Stdin
	// for a user at one; In and Out must be attached to it): the shell
	// then edits lines (in raw mode), prompts, completes, keeps history,
	// fits tables to the terminal's width and shows timing. When nil, it
	// reads statements from In without prompts, as a script, and prints
	// tables whole.
	Terminal *os.File
	// HistoryFile is where the history is kept across sessions ("" keeps
	// none); HistoryLimit bounds it (DefaultHistoryLimit when zero).
	HistoryFile  string
	HistoryLimit int
	// Interrupt delivers the user's Ctrl-C while a statement runs (the
	// SIGINT a terminal sends outside raw mode): the statement is
	// cancelled and the shell goes on. Nil means statements run to the
	// end.
	Interrupt <-chan os.Signal
	// Now is the clock (time.Now when nil): :at resolves relative times
	// against it, and timing is measured with it.
	Now func() time.Time
	// RunningNote is how long a statement runs before the shell says that
	// Ctrl-C cancels it (DefaultRunningNote when zero; terminal only).
	RunningNote time.Duration
}

// DefaultHistoryLimit is how many statements the history keeps.
const DefaultHistoryLimit = 1000

// DefaultRunningNote is how long a statement runs before the shell says
// how to cancel it.
const DefaultRunningNote = time.Second

// ErrFailed is returned by Run for a script (no terminal) in which a
// statement failed; each failure was printed to Err as it happened.
var ErrFailed = errors.New("repl: a statement failed")

// errInterrupt is a line reader's answer to Ctrl-C at the prompt.
var errInterrupt = errors.New("interrupted")

// shell is one session: its settings and its input.
type shell struct {
	backend  Backend
	in       lineReader
	out, err io.Writer
	cfg      Config
	now      func() time.Time
	values   *valueCache
	comp     *completer

	buf   statementBuffer // the lines of what is being typed
	queue []unit          // units completed and not yet run
	eof   bool            // a script's input has ended

	at     time.Time // :at; zero is now
	format string    // "table" or "json"
	timing bool
	failed bool
}

// Run runs a shell until the user leaves (:quit, Ctrl-D, the end of In) or
// ctx is done. It returns an error only when the terminal or the history
// cannot be set up, or, for a script, ErrFailed.
func Run(ctx context.Context, cfg Config) error {
	s := &shell{backend: cfg.Backend, out: cfg.Out, err: cfg.Err, cfg: cfg, now: cfg.Now, format: "table",
		timing: cfg.Terminal != nil}
	if s.now == nil {
		s.now = time.Now
	}
	s.values = newValueCache(cfg.Backend, s.now)
	s.comp = newCompleter(s.values.lookup)
	var err error
	if cfg.Terminal != nil {
		s.in, err = newEditor(cfg, s.comp)
	} else {
		s.in = newPlainReader(cfg.In)
	}
	if err != nil {
		return err
	}
	defer s.in.Close()
	s.loop(ctx)
	if s.failed && cfg.Terminal == nil {
		return ErrFailed
	}
	return nil
}

func (s *shell) loop(ctx context.Context) {
	for ctx.Err() == nil {
		u, err := s.next()
		var long errLineTooLong
		switch {
		case errors.Is(err, errInterrupt):
			s.buf.reset() // Ctrl-C at the prompt drops what is pending
			continue
		case errors.As(err, &long):
			// The statement it was part of is dropped with it: run
			// without one of its lines, it could mean something else.
			s.buf.reset()
			s.failf("%v", long)
			continue
		case errors.Is(err, io.EOF): // Ctrl-D or the end of a script
			return
		case err != nil:
			s.failf("reading the input: %v", err)
			return
		}
		switch {
		case strings.HasPrefix(u.text, ":script\n"): // JavaScript of several lines does not fit on one
		case u.meta:
			s.in.Remember(u.text)
		default:
			s.in.Remember(u.text + ";") // recalled, it runs on Enter
		}
		if s.execute(ctx, u) {
			return
		}
	}
}

// next returns the next unit to run: a statement or a meta command line,
// reading lines until one is complete (input.go says when). At the end of
// a script, what is pending is the last unit.
func (s *shell) next() (unit, error) {
	for len(s.queue) == 0 {
		if s.eof {
			return unit{}, io.EOF
		}
		s.comp.setPending(s.buf.text(), s.buf.script)
		line, err := s.in.ReadLine(s.prompt())
		if errors.Is(err, io.EOF) && s.cfg.Terminal == nil {
			units, ok := s.buf.end()
			if !ok {
				s.failf(":script without :end at the end of the input; it was not run")
			}
			s.queue, s.eof = units, true
			continue
		}
		if err != nil {
			return unit{}, err
		}
		s.queue = s.buf.add(line)
	}
	u := s.queue[0]
	s.queue = s.queue[1:]
	return u, nil
}

// prompt is "tetra> ", with the :at time when one is set; a continuation
// prompt as wide while a statement is pending, and "js> " in a :script.
func (s *shell) prompt() string {
	p := "tetra> "
	if !s.at.IsZero() {
		p = "tetra @" + stamp(s.at) + "> "
	}
	switch {
	case s.buf.script:
		return strings.Repeat(" ", len(p)-4) + "js> "
	case s.buf.empty():
		return p
	}
	return strings.Repeat(" ", len(p)-5) + "...> "
}

// execute runs one statement or meta command; it returns true to leave.
func (s *shell) execute(ctx context.Context, u unit) bool {
	if u.meta {
		return s.meta(ctx, u.text)
	}
	s.query(ctx, u.text)
	return false
}

func (s *shell) runOptions() RunOptions { return RunOptions{At: s.at} }

// parses checks a query locally before it is sent anywhere, so a syntax
// error shows with its caret at once, without a round trip.
func (s *shell) parses(src string) bool {
	if _, err := lang.Parse(src); err != nil {
		s.queryError(src, err)
		return false
	}
	return true
}

func (s *shell) query(ctx context.Context, src string) {
	if !s.parses(src) {
		return
	}
	start := s.now()
	var res *exec.Result
	err := s.cancellable(ctx, true, func(ctx context.Context) (err error) {
		res, err = s.backend.Run(ctx, src, s.runOptions())
		return err
	})
	took := s.now().Sub(start)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() == nil:
		s.failf("cancelled after %s", roundDuration(took))
		return
	case err != nil:
		s.queryError(src, err)
		return
	}
	if err := s.print(ctx, res); err != nil {
		s.failf("%v", err)
	}
	if s.timing {
		fmt.Fprintf(s.out, "time: %s\n", roundDuration(took))
	}
	s.gap()
}

// gap leaves a blank line after a result on a terminal, so that the next
// prompt stands apart from it.
func (s *shell) gap() {
	if s.cfg.Terminal != nil {
		fmt.Fprintln(s.out)
	}
}

// print writes a result in the current format: tables, or the result JSON
// of tetra query --json (exec.AppendJSON), indented on a terminal for
// reading.
func (s *shell) print(ctx context.Context, res *exec.Result) error {
	if s.format != "json" {
		return Render(s.out, res, Options{Width: s.width()})
	}
	doc, err := exec.AppendJSON(ctx, nil, res, exec.EncodeOptions{})
	if err != nil {
		return err
	}
	doc = escapeJSON(doc)
	if s.cfg.Terminal != nil {
		var b bytes.Buffer
		if err := json.Indent(&b, doc, "", "  "); err != nil {
			return err
		}
		doc = b.Bytes()
	}
	_, err = s.out.Write(doc)
	return err
}

// width is the terminal's width now (it may have been resized), or 0.
func (s *shell) width() int {
	if s.cfg.Terminal == nil {
		return 0
	}
	return TerminalWidth(s.cfg.Terminal)
}

// cancellable runs f, cancelling its context when the user presses Ctrl-C,
// and, with note, says how to cancel once it has run for a while (a watch,
// which prints as it goes, does not).
func (s *shell) cancellable(ctx context.Context, note bool, f func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drain(s.cfg.Interrupt) // a Ctrl-C pressed before this statement is not for it
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var noteC <-chan time.Time
	if note && s.cfg.Terminal != nil && s.cfg.Interrupt != nil {
		d := s.cfg.RunningNote
		if d <= 0 {
			d = DefaultRunningNote
		}
		t := time.NewTimer(d)
		defer t.Stop()
		noteC = t.C
	}
	noted := false
	for {
		select {
		case err := <-done:
			if noted {
				fmt.Fprint(s.out, "\r\033[K") // take the note back
			}
			return err
		case <-s.cfg.Interrupt:
			cancel()
		case <-noteC:
			fmt.Fprint(s.out, "running… (Ctrl-C cancels)")
			noted = true
		}
	}
}

func drain(ch <-chan os.Signal) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// queryError prints a failed statement's error: the caret under the part
// of the query it is about and the hint, or the message.
func (s *shell) queryError(src string, err error) {
	s.failed = true
	fmt.Fprint(s.err, escapeLines(usermsg.Render(src, err)))
}

// errorText is an error's message as a user reads it.
func errorText(err error) string { return usermsg.Message(err) }

// failf prints an error of the shell itself.
func (s *shell) failf(format string, args ...any) {
	s.failed = true
	fmt.Fprintln(s.err, escapeLines("error: "+fmt.Sprintf(format, args...)))
}

// roundDuration keeps three significant figures or so.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
