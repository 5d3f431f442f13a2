package ptytest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Timeout is how long Wait waits for the screen: generous, because the
// machines that run the tests are shared.
var Timeout = 30 * time.Second

// Term is a program running in a pseudo-terminal, as if a user sat at it:
// the program is the session leader with the terminal as its controlling
// terminal, so Ctrl-C typed outside raw mode reaches it as SIGINT.
type Term struct {
	t      testing.TB
	cmd    *exec.Cmd
	ptm    *os.File
	screen *Screen
	read   chan struct{} // closed when the output has been read to its end
	exited chan struct{}
	err    error // the program's exit, once exited is closed
}

// Start starts cmd in a terminal of cols by rows. The program is killed
// and waited for when the test ends, if it has not exited.
func Start(t testing.TB, cmd *exec.Cmd, cols, rows int) *Term {
	t.Helper()
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		t.Fatalf("start %s in a terminal: %v", cmd.Path, err)
	}
	tm := &Term{t: t, cmd: cmd, ptm: ptm, screen: NewScreen(cols, rows), read: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		defer close(tm.read)
		io.Copy(tm.screen, ptm) // ends with EIO once the program and its terminal are gone
	}()
	go func() {
		tm.err = cmd.Wait()
		close(tm.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.exited:
		default:
			cmd.Process.Kill()
			<-tm.exited
		}
		ptm.Close()
	})
	return tm
}

// Type sends keys to the program as a user's typing would: text, and
// control characters such as "\t" (Tab), "\r" (Enter), "\x03" (Ctrl-C),
// "\x04" (Ctrl-D), "\x12" (Ctrl-R), "\x1b[A" (Up).
func (tm *Term) Type(keys string) {
	tm.t.Helper()
	if _, err := tm.ptm.Write([]byte(keys)); err != nil {
		tm.t.Fatalf("type %q: %v", keys, err)
	}
}

// Signal sends the program a signal (a test's hook into it: a child that
// commits a change on SIGUSR1, say).
func (tm *Term) Signal(sig os.Signal) error { return tm.cmd.Process.Signal(sig) }

// Screen is what the terminal shows.
func (tm *Term) Screen() *Screen { return tm.screen }

// Wait waits until cond holds for the screen, and fails the test with the
// screen if it does not within Timeout.
func (tm *Term) Wait(what string, cond func(*Screen) bool) {
	tm.t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond(tm.screen) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("waited %s for %s; the screen:\n%s\n(cursor line %q)", Timeout, what, tm.screen.Text(), tm.screen.CursorLine())
		}
		select {
		case <-tm.exited:
			<-tm.read
			if !cond(tm.screen) {
				tm.t.Fatalf("the program exited (%v) while waiting for %s; the screen:\n%s", tm.err, what, tm.screen.Text())
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitText waits until the screen shows text somewhere.
func (tm *Term) WaitText(text string) {
	tm.t.Helper()
	tm.Wait(fmt.Sprintf("%q on the screen", text), func(s *Screen) bool { return strings.Contains(s.Text(), text) })
}

// WaitCursorLine waits until the line the cursor is on reads line. Blanks
// at the end of a line do not show, so they are not compared.
func (tm *Term) WaitCursorLine(line string) {
	tm.t.Helper()
	line = strings.TrimRight(line, " ")
	tm.Wait(fmt.Sprintf("the cursor line to read %q", line), func(s *Screen) bool { return s.CursorLine() == line })
}

// Count is how many lines of the screen contain text.
func (s *Screen) Count(text string) int {
	n := 0
	for _, l := range s.Lines() {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// WaitExit waits for the program to exit and returns its error (nil for
// status 0).
func (tm *Term) WaitExit() error {
	tm.t.Helper()
	select {
	case <-tm.exited:
	case <-time.After(Timeout):
		tm.t.Fatalf("the program did not exit within %s; the screen:\n%s", Timeout, tm.screen.Text())
	}
	select {
	case <-tm.read:
	case <-time.After(Timeout):
	}
	return tm.err
}

// ExitCode returns the exit status of err from WaitExit.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
