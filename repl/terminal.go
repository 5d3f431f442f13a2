package repl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// lineReader reads the shell's input one line at a time. It is used by one
// goroutine.
type lineReader interface {
	// ReadLine reads one line, showing prompt where there is a terminal.
	// It returns errInterrupt when the user pressed Ctrl-C (the line is
	// dropped) and io.EOF at the end of the input (Ctrl-D).
	ReadLine(prompt string) (string, error)
	// Remember adds a statement to the history.
	Remember(stmt string)
	Close() error
}

// editor is the line editor on a terminal: github.com/chzyer/readline,
// with Emacs keys, history search (Ctrl-R) and completion.
type editor struct {
	rl *readline.Instance
}

func newEditor(cfg Config, comp *completer) (*editor, error) {
	fd := int(cfg.Terminal.Fd())
	if cfg.HistoryFile != "" {
		if err := prepareHistory(cfg.HistoryFile); err != nil {
			fmt.Fprintf(cfg.Err, "warning: no history is kept: %v\n", err)
			cfg.HistoryFile = ""
		}
	}
	var saved *readline.State
	limit := cfg.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 "tetra> ",
		HistoryFile:            cfg.HistoryFile,
		HistoryLimit:           limit,
		DisableAutoSaveHistory: true, // a statement of several lines is saved once, whole
		HistorySearchFold:      true,
		AutoComplete:           readlineCompleter{comp},
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n", // readline's way of saying: print nothing more
		Stdin:                  readline.NewCancelableStdin(cfg.In),
		Stdout:                 cfg.Out,
		Stderr:                 cfg.Err,
		FuncIsTerminal:         func() bool { return true },
		FuncGetWidth: func() int {
			if w, _, err := readline.GetSize(fd); err == nil && w > 0 {
				return w
			}
			return 80
		},
		FuncMakeRaw: func() (err error) {
			saved, err = readline.MakeRaw(fd)
			return err
		},
		FuncExitRaw: func() error {
			if saved == nil {
				return nil
			}
			return readline.Restore(fd, saved)
		},
	})
	if err != nil {
		return nil, err
	}
	if cfg.HistoryFile != "" {
		// readline trims a long history by writing a new file, created
		// readable by all: make it the user's alone again.
		os.Chmod(cfg.HistoryFile, 0o600)
	}
	return &editor{rl: rl}, nil
}

func (e *editor) ReadLine(prompt string) (string, error) {
	e.rl.SetPrompt(prompt)
	line, err := e.rl.Readline()
	if err == readline.ErrInterrupt {
		return "", errInterrupt
	}
	return line, err
}

// Remember saves a statement as one line, so that recalling it brings all
// of it back to edit.
func (e *editor) Remember(stmt string) {
	e.rl.SaveHistory(strings.Join(strings.Fields(stmt), " "))
}

func (e *editor) Close() error { return e.rl.Close() }

// prepareHistory makes the history file's directory and the file, readable
// by the user alone (queries can say what a user looks for), so that
// readline, which would quietly keep no history, finds it.
func prepareHistory(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// readlineCompleter adapts the completer to readline, which asks with the
// line and the cursor and inserts what follows the word typed.
type readlineCompleter struct{ c *completer }

func (r readlineCompleter) Do(line []rune, pos int) ([][]rune, int) {
	cands, typed := r.c.completeAt(string(line[:pos]))
	n := len([]rune(typed))
	out := make([][]rune, 0, len(cands))
	for _, c := range cands {
		rs := []rune(c)
		if len(rs) >= n {
			out = append(out, rs[n:])
		}
	}
	return out, n
}

// plainReader reads a script: lines without prompts, history or editing.
type plainReader struct {
	r    *bufio.Reader
	line int
}

// maxLine bounds a line of a script; a query is at most 64 KiB
// (lang.DefaultLimits), so a longer line can only be a mistake.
const maxLine = 1 << 20

// errLineTooLong is returned for a line longer than maxLine, which is
// skipped: the script goes on with the next line.
type errLineTooLong struct{ line int }

func (e errLineTooLong) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes; it was skipped, with the statement it was part of", e.line, maxLine)
}

func newPlainReader(in io.Reader) *plainReader {
	return &plainReader{r: bufio.NewReaderSize(in, 64<<10)}
}

func (p *plainReader) ReadLine(string) (string, error) {
	p.line++
	var line []byte
	tooLong := false
	for {
		chunk, err := p.r.ReadSlice('\n')
		if !tooLong && len(line)+len(chunk) > maxLine+1 {
			tooLong, line = true, nil // keep reading to the end of the line, keeping nothing
		}
		if !tooLong {
			line = append(line, chunk...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && (len(line) > 0 || tooLong):
		case err != nil:
			return "", err
		}
		break
	}
	if tooLong {
		return "", errLineTooLong{p.line}
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (p *plainReader) Remember(string) {}
func (p *plainReader) Close() error    { return nil }

// pendingText is the lines of a statement typed so far, which a completion
// on the next line needs for its context. The shell sets it before each
// line; readline's goroutine reads it while completing.
type pendingText struct {
	mu     sync.Mutex
	text   string
	script bool // the lines are a :script's
}
