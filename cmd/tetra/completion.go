package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tetrahq/tetra/repl"
)

// Shell completion. The scripts tetra completion prints ask the binary
// itself what may come next (tetra __complete WORDS… CURRENT), as
// kubectl's and other cobra-built tools' scripts do, so they know every
// command's flags as its flag set defines them and never go stale. The
// answer is one candidate a line; a last line ":file" or ":dir" asks the
// shell to complete file or directory names instead.

// completeCommand is the hidden command the scripts call.
const completeCommand = "__complete"

// errCompleting stops a command at parseFlags when tetra __complete only
// wants its flag set.
var errCompleting = errors.New("completing")

// completion receives the flag set of the command being completed.
type completion struct{ fs *flags }

// subcommands are the words that may follow a command.
var subcommands = map[string][]string{
	"key":        {"create", "list", "revoke"},
	"script":     {"run"},
	"completion": {"bash", "zsh", "fish"},
}

// fileFlags take a file name, dirFlags a directory.
var (
	fileFlags = map[string]bool{"f": true, "config": true, "tls-cert": true, "tls-key": true, "history": true}
	dirFlags  = map[string]bool{"data": true}
	// flagValues are the values of flags whose values are a closed set
	// other than output formats (choiceValue knows those).
	flagValues = map[string][]string{
		"role":       {"read", "ingest", "script", "admin"},
		"log-format": {"text", "json"},
		"log-level":  {"debug", "info", "warn", "error"},
	}
)

// runComplete implements tetra __complete WORDS… CURRENT.
func runComplete(e *env, args []string) int {
	if len(args) == 0 {
		args = []string{""}
	}
	cur, words := args[len(args)-1], args[:len(args)-1]
	for _, c := range candidates(e, words, cur) {
		if strings.HasPrefix(c, cur) || strings.HasPrefix(c, ":") {
			fmt.Fprintln(e.stdout, c)
		}
	}
	return exitOK
}

// candidates lists what may stand at the word being completed.
func candidates(e *env, words []string, cur string) []string {
	if len(words) == 0 {
		return commandOrder
	}
	cmd, ok := commands()[words[0]]
	switch {
	case !ok:
		return nil
	case words[0] == "help":
		if len(words) == 1 {
			return commandOrder
		}
		return subcommands[words[1]]
	case len(words) == 1 && subcommands[words[0]] != nil && !strings.HasPrefix(cur, "-"):
		return subcommands[words[0]]
	case words[0] == "completion" || words[0] == "version" && !strings.HasPrefix(cur, "-"):
		return nil
	}
	c := &completion{}
	sub := *e
	sub.completing, sub.stdout, sub.stderr = c, io.Discard, io.Discard
	cmd.run(&sub, words[1:])
	if c.fs == nil {
		return nil
	}
	if f := c.fs.Lookup(flagName(words[len(words)-1])); f != nil && takesValue(f) {
		return flagValueCandidates(f)
	}
	if strings.HasPrefix(cur, "-") {
		return flagNames(c.fs)
	}
	return positional(c.fs, words)
}

func flagName(word string) string {
	if !strings.HasPrefix(word, "-") {
		return "\x00" // no flag has this name
	}
	name, _, _ := strings.Cut(strings.TrimLeft(word, "-"), "=")
	return name
}

func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

func flagValueCandidates(f *flag.Flag) []string {
	switch {
	case fileFlags[f.Name]:
		return []string{":file"}
	case dirFlags[f.Name]:
		return []string{":dir"}
	}
	if c, ok := f.Value.(*choiceValue); ok {
		return c.allowed
	}
	return flagValues[f.Name]
}

// flagNames lists a command's flags as --name (single letters as -x).
func flagNames(fs *flags) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			out = append(out, "-"+f.Name)
		} else {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// positional completes a command's arguments: the keys of tetra values,
// the files of tetra load.
func positional(fs *flags, words []string) []string {
	switch fs.name {
	case "values":
		if countPositional(fs, words[1:]) == 0 {
			return repl.ValueKeys()
		}
	case "load":
		return []string{":file"}
	}
	return nil
}

// countPositional counts the arguments that are not flags or their
// values.
func countPositional(fs *flags, args []string) int {
	n := 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			n++
			continue
		}
		if f := fs.Lookup(flagName(a)); f != nil && takesValue(f) && !strings.Contains(a, "=") {
			i++
		}
	}
	return n
}

// runCompletion implements tetra completion bash|zsh|fish.
func runCompletion(e *env, args []string) int {
	fs := newFlags(e, "completion")
	pos, err := parseFlags(fs, args)
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) != 1:
		return misuse(e, fs, "name the shell: bash, zsh or fish")
	}
	script, ok := completionScripts[pos[0]]
	if !ok {
		return misuse(e, fs, "no completion for %q: bash, zsh or fish", pos[0])
	}
	fmt.Fprint(e.stdout, script)
	return exitOK
}

var completionScripts = map[string]string{
	"bash": `# bash completion for tetra. Load it with:
#   source <(tetra completion bash)
# or install it: tetra completion bash > /etc/bash_completion.d/tetra
_tetra() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local IFS=$'\n'
    local -a out
    out=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null))
    COMPREPLY=()
    if [ ${#out[@]} -eq 0 ]; then
        return
    fi
    case ${out[${#out[@]}-1]} in
    :file)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    :dir)
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur")) ;;
    *)
        COMPREPLY=($(compgen -W "${out[*]}" -- "$cur")) ;;
    esac
}
complete -F _tetra tetra
`,
	"zsh": `#compdef tetra
# zsh completion for tetra. Load it with:
#   source <(tetra completion zsh)
# or install it: tetra completion zsh > "${fpath[1]}/_tetra"
_tetra() {
    local -a out
    out=("${(@f)$(${words[1]} __complete ${words[2,CURRENT-1]} "${words[CURRENT]}" 2>/dev/null)}")
    out=(${out:#})
    (( ${#out} )) || return 1
    case ${out[-1]} in
    :file) _files ;;
    :dir) _files -/ ;;
    *) compadd -- "${out[@]}" ;;
    esac
}
if [ "$funcstack[1]" = "_tetra" ]; then
    _tetra "$@"
else
    compdef _tetra tetra
fi
`,
	"fish": `# fish completion for tetra. Load it with:
#   tetra completion fish | source
# or install it: tetra completion fish > ~/.config/fish/completions/tetra.fish
function __tetra_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l rest
    if test (count $tokens) -gt 1
        set rest $tokens[2..-1]
    end
    set -l out ($tokens[1] __complete $rest "$cur" 2>/dev/null)
    test (count $out) -gt 0; or return
    switch $out[-1]
        case :file
            __fish_complete_path "$cur"
        case :dir
            __fish_complete_directories "$cur"
        case '*'
            printf '%s\n' $out
    end
end
complete -c tetra -f -a '(__tetra_complete)'
`,
}
