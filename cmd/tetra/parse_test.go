package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testClock is the time the commands think it is in tests: the CLI files
// use fixed times, which must not fall out of retention as the calendar
// moves on.
func testClock() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }

// runTetra runs the command in-process and returns its exit status and
// streams.
func runTetra(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runTetraEnv(t, stdin, nil, args...)
}

// runTetraEnv runs the command with environment variables.
func runTetraEnv(t *testing.T, stdin string, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &env{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, now: testClock,
		lookupEnv: func(k string) string { return vars[k] }})
	return code, stdout.String(), stderr.String()
}

// TestParseQuery prints the canonical form of a valid query.
func TestParseQuery(t *testing.T) {
	code, out, errOut := runTetra(t, "", "parse", `name IN ("appA","appB") not label = 'bck'`)
	if code != exitOK || out != "name IN (\"appA\", \"appB\") NOT label = \"bck\"\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runTetra(t, "", "parse", `metrics where name = "cpu" aggregate avg by 60m`)
	if code != exitOK || out != "METRICS WHERE name = \"cpu\" AGGREGATE mean BY 1h\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
}

// TestParseQueryError prints the caret error of a bad query to stderr.
func TestParseQueryError(t *testing.T) {
	code, out, errOut := runTetra(t, "", "parse", `name = "DLL_DB”`)
	want := "error: unterminated string: typographic quote ” where a straight quote was meant\n" +
		"  1 | name = \"DLL_DB”\n" +
		"    |               ^\n" +
		"hint: this is a typographic quote (”); use a straight quote (\")\n"
	if code != exitUser || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

// TestParseMisuse checks the command-line mistakes that exit 2.
func TestParseMisuse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "q.txt")
	if err := os.WriteFile(file, []byte("name = \"a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"parse"}, exitMisuse, "no query"},
		{[]string{"parse", "-f", file, `name = "a"`}, exitMisuse, "not both"},
		{[]string{"parse", `name = "a"`, "-f", file}, exitMisuse, "not both"},
		{[]string{"parse", "name", "=", "a"}, exitMisuse, "one query at a time"},
		{[]string{"parse", "-x", `name = "a"`}, exitMisuse, "unknown flag -x\n"},
		{[]string{"parse", "-f"}, exitMisuse, "-f needs FILE after it"},
	} {
		code, out, errOut := runTetra(t, "", tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.msg)
		}
	}
}

// TestParseFile checks a file, and stdin, line by line: comments and
// blank lines skipped, TSV lines checked by their query column, failures
// listed with their line number and source.
func TestParseFile(t *testing.T) {
	input := strings.Join([]string{
		"# a comment",
		"name = \"a\"",
		"",
		"   ",
		"  # an indented comment",
		"docs/page.md\tlabel IN (\"x\")",
		"docs/other.md [doc typo]\tname = \"DLL_DB”",
		"enviroment = \"prod\"\r",
		"TOPOLOGY type = \"service\" AT \"-1h\"",
	}, "\n")
	path := filepath.Join(t.TempDir(), "queries.tsv")
	if err := os.WriteFile(path, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"parse", "-f", path}, {"parse", "-f", "-"}, {"parse", "-f=-"}} {
		code, out, errOut := runTetra(t, input, args...)
		if code != exitUser || out != "3 passed, 2 failed\n" {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
		for _, want := range []string{
			"line 7 (docs/other.md [doc typo]):\nerror: unterminated string",
			"  7 | name = \"DLL_DB”\n    |               ^\n",
			"line 8:\nerror: unknown key \"enviroment\"\n  8 | enviroment = \"prod\"\n    | ^^^^^^^^^^\nhint: did you mean \"environment\"?\n",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%q: stderr lacks %q:\n%s", args, want, errOut)
			}
		}
	}
}

// TestParseFileAllPass exits 0 when every line parses, or there is none.
func TestParseFileAllPass(t *testing.T) {
	code, out, errOut := runTetra(t, "\ufeffname = \"a\"\n# done\n", "parse", "-f", "-")
	if code != exitOK || out != "1 passed, 0 failed\n" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runTetra(t, "", "parse", "-f", "-")
	if code != exitOK || out != "0 passed, 0 failed\n" {
		t.Errorf("empty input: exit %d, stdout %q", code, out)
	}
}

// TestParseFileMissing reports a file that cannot be opened as a user error.
func TestParseFileMissing(t *testing.T) {
	code, out, errOut := runTetra(t, "", "parse", "-f", filepath.Join(t.TempDir(), "nope.txt"))
	if code != exitUser || out != "" || !strings.Contains(errOut, "tetra parse: ") || !strings.Contains(errOut, "nope.txt") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestParseCorpus checks the shared corpus through the command: everything
// passes but the eight documentation typos with a typographic quote.
func TestParseCorpus(t *testing.T) {
	code, out, errOut := runTetra(t, "", "parse", "-f", filepath.Join("..", "..", "testdata", "stql", "docs-corpus.tsv"))
	if code != exitUser || out != "254 passed, 8 failed\n" {
		t.Errorf("exit %d, stdout %q", code, out)
	}
	if n := strings.Count(errOut, "[doc typo: curly quote]):\nerror: unterminated string: typographic quote"); n != 8 {
		t.Errorf("%d typographic-quote failures reported, want 8:\n%s", n, errOut)
	}
}
