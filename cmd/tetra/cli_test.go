package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestCLI runs the files under testdata/cli: each `tetra` directive is one
// command line (shell-quoted; $DATA is a data directory private to the
// file, $TESTDATA the repository's testdata), and the expected output is
// its exit status, stdout and stderr. With `tetra stdin`, the lines after
// the command line are its standard input; `tetra env=NAME=VALUE` sets an
// environment variable for it.
func TestCLI(t *testing.T) {
	datadriven.Walk(t, "testdata/cli", func(t *testing.T, path string) {
		data := t.TempDir()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "tetra" {
				t.Fatalf("unknown directive %q", d.Cmd)
			}
			line, stdin := strings.TrimSpace(d.Input), ""
			if d.HasArg("stdin") {
				line, stdin, _ = strings.Cut(d.Input, "\n")
				stdin += "\n"
			}
			repl := strings.NewReplacer("$DATA", data, "$TESTDATA", "../../testdata")
			line = repl.Replace(line)
			args, err := shellWords(line)
			if err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{}
			for _, a := range d.CmdArgs {
				if a.Key == "env" {
					for _, v := range a.Vals {
						k, val, _ := strings.Cut(v, "=")
						vars[k] = repl.Replace(val)
					}
				}
			}
			code, out, errOut := runTetraEnv(t, stdin, vars, args...)
			var b strings.Builder
			fmt.Fprintf(&b, "exit %d\n", code)
			b.WriteString(strings.ReplaceAll(reviewable(diskSize.ReplaceAllString(out, "${1}(size)")), data, "$DATA"))
			if errOut != "" {
				b.WriteString("stderr:\n" + strings.ReplaceAll(errOut, data, "$DATA"))
			}
			return b.String()
		})
	})
}

// diskSize is the size tetra info reports, which depends on the store's
// files, not on what the tests check.
var diskSize = regexp.MustCompile(`(?m)^(Disk: +).*$`)

// reviewable indents a result document (tetra query --json prints one
// compact line) so that the expected output can be read in review.
func reviewable(out string) string {
	if !strings.HasPrefix(out, `{"schemaVersion":`) {
		return out
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(out), "", "  "); err != nil {
		return out
	}
	return buf.String()
}

// shellWords splits a command line as a POSIX shell would for plain words
// and single- or double-quoted ones (no expansion, backslash escapes inside
// double quotes only).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %s", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`, s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %s", s)
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
