package scriptrt_test

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// TestHostile runs scripts that try to hurt the process or leave the
// sandbox. Each must stop with an error that names what stopped it, and a
// normal script must run normally right after.
func TestHostile(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{Limits: scriptrt.Limits{Timeout: 2 * time.Second, MaxMemory: 64 << 20}})
	for _, tc := range []struct {
		name, src, want string
	}{
		{"infinite loop", `for (;;) {}`, "ran longer than 2s"},
		{"busy callbacks", `[1, 2, 3].map(function f() { for (;;) {} })`, "ran longer than 2s"},
		{"caught timeout goes on", `for (;;) { try { for (;;) {} } catch (e) {} }`, "ran longer than 2s"},
		{"deep recursion", `function f() { return f() } f()`, "call depth limit"},
		{"recursion through natives", `function f() { return [0].map(f) } f()`, "call depth limit"},
		{"recursion caught", `function f() { try { return f() } catch (e) { return f() } } f()`, "call depth limit"},
		{"string doubling", `var s = 'x'; for (;;) s += s`, "scriptrt: the script "}, // memory or time, whichever comes first
		{"growing array", `var a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length)`, "memory limit"},
		{"huge repeat", `'x'.repeat(2 ** 40)`, "string length limit"},
		{"huge pad", `''.padEnd(2 ** 31)`, "string length limit"},
		{"huge join", `new Array(2 ** 32 - 1).join('x')`, "array length limit"},
		{"shared join", `var b = 'x'.repeat(1 << 20); new Array(1 << 12).fill(b).join('')`, "string length limit"},
		{"huge fill", `new Array(2 ** 31).fill(0)`, "array length limit"},
		{"array-like walk", `Array.prototype.indexOf.call({length: 2 ** 52}, 1)`, "array length limit"},
		{"huge apply", `Math.max.apply(null, {length: 2 ** 31})`, "array length limit"},
		{"replace amplification", `var s = 'x'.repeat(1 << 16); s.replaceAll('', s)`, "string length limit"},
		{"shared stringify", `var b = 'x'.repeat(1 << 20); JSON.stringify(new Array(1 << 12).fill(b))`, "string length limit"},
		{"deep stringify", `var a = []; for (var i = 0; i < 100000; i++) a = [a]; JSON.stringify(a)`, "nesting limit"},
		{"deep toString", `var a = []; for (var i = 0; i < 100000; i++) a = [a]; String(a)`, "nesting limit"},
		{"deep flat", `var a = []; for (var i = 0; i < 100000; i++) a = [a]; a.flat(Infinity)`, "nesting limit"},
		{"deep result", `var a = []; for (var i = 0; i < 100000; i++) a = [a]; a`, "nesting limit"},
		{"big result", `'x'.repeat(9 << 20)`, "result size limit"},
		{"binary data", `new Uint8Array(2 ** 32)`, "ReferenceError: Uint8Array is not defined"},
		{"constructor escape", `this.constructor.constructor('return process')()`, "ReferenceError: process is not defined"},
		{"function escape", `Function('return this')().require('fs')`, "TypeError"},
		{"api constructor escape", `Topology.query.constructor('return require')()`, "ReferenceError: require is not defined"},
		{"require", `require('child_process').execSync('id')`, "ReferenceError: require is not defined"},
		{"dynamic import", `import('fs')`, "rror"},
		{"go error is not reflected", `try { Topology.query('x =') } catch (e) { throw new Error(Object.getOwnPropertyNames(e).sort().join(",") + " " + typeof e.value) }`, "Error: getMessage,message,name,query,stack undefined"},
		{"no Go names", `throw new Error([Topology.query.name, tql.name, [].map.name, Topology.query('name = "x"').then.name].join(","))`, "Error: query,tql,map,then\n"},
		{"promise never settles", `new Promise(() => {})`, "never settled"},
		{"no host globals", `throw new Error(Object.getOwnPropertyNames(globalThis).filter(n => /^[a-z]/.test(n) && !["escape", "unescape", "eval", "isFinite", "isNaN", "parseFloat", "parseInt", "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "globalThis", "undefined", "tql"].includes(n)).join(","))`, "Error: \n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A script stopped by another limit gets time to reach it: on
			// a loaded machine 2s may pass before the heap grows 64 MiB.
			req := scriptrt.Request{Script: tc.src}
			if !strings.HasPrefix(tc.want, "ran longer") && !strings.HasPrefix(tc.want, "scriptrt: the script ") {
				req.Timeout = time.Minute
			}
			start := time.Now()
			res, err := rt.Run(context.Background(), req)
			if err == nil {
				t.Fatalf("ran: %s %s", res.Type, res.Value)
			}
			if !strings.Contains(err.Error()+"\n", tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Minute {
				t.Errorf("took %s to stop", d)
			}
			if got := run(t, rt, `Topology.query('name = "checkout"').components().thenCollect(c => c.name)`); got != `Array ["checkout"]` {
				t.Errorf("the next script: %s", got)
			}
		})
	}
}

// TestPrototypeTampering changes every shared-looking thing in one run;
// the next run sees none of it.
func TestPrototypeTampering(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{})
	tamper := `
		Object.prototype.polluted = 1;
		Array.prototype.map = function () { return ["tampered"] };
		Array.prototype.join = null;
		JSON.stringify = () => "tampered";
		String.prototype.repeat = () => "tampered";
		Topology.query = () => "tampered";
		Object.freeze(Object.prototype);
		globalThis.leftover = 42;
		Error = function () { throw 1 };
		[].map(x => x)[0]`
	if got := run(t, rt, tamper); got != `String "tampered"` {
		t.Fatalf("tampering run: %s", got)
	}
	got := run(t, rt, `[typeof leftover, ({}).polluted, [1, 2].map(x => x * 2), [1, 2].join("-"), JSON.stringify({a: 1}), "ab".repeat(2), Object.isFrozen(Object.prototype)]`)
	if want := `Array ["undefined",null,[2,4],"1-2","{\"a\":1}","abab",false]`; oneLine(got) != want {
		t.Errorf("next run: %s, want %s", got, want)
	}
	if got := run(t, rt, `Topology.query('name = "catalog"').components().thenCollect(c => c.name)`); got != `Array ["catalog"]` {
		t.Errorf("next run's API: %s", got)
	}
	// A script that broke its own Error still gets API errors.
	if got := run(t, rt, `Error = function () { throw 1 }; Topology.query('nmae = 1')`); !strings.Contains(got, "unknown key") {
		t.Errorf("API error after Error was replaced: %s", got)
	}
}

// TestCancel stops a run when the caller's context ends, with the
// context's error.
func TestCancel(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := rt.Run(ctx, scriptrt.Request{Script: `for (;;) {}`})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	var to *scriptrt.TimeoutError
	_, err = rt.Run(context.Background(), scriptrt.Request{Script: `for (;;) {}`, Timeout: 100 * time.Millisecond})
	if !errors.As(err, &to) || to.Timeout != 100*time.Millisecond || scriptrt.ErrorBody(err).TimeoutMs != 100 {
		t.Fatalf("err %v, want a TimeoutError of 100ms", err)
	}
}

// TestScopeHolds runs, for a caller scoped to the checkout app, every way a
// script could read the topology; nothing outside the scope comes back.
func TestScopeHolds(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{})
	scope, err := lang.ParseFilter(`label = "app:checkout"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`Topology.query('name = "*"').components()`,
		`Topology.query('name = "*"').relations()`,
		`tql('withNeighborsOf(components = (name = "checkout"), levels = "all")').then(r => r.components)`,
		`tql('name = "*" CHANGES FROM "-3h"').then(r => r.added.components.concat(r.removed.components))`,
		`Topology.query('name = "*"').at('-90m').diff(Topology.query('name = "*"')).components().then(c => c.added.concat(c.removed))`,
		`Async.sequence([1, 2, 3, 4, 5, 7, 8, 9, 10].map(id => Component.withId(id).get().catchError(() => null))).then(l => l.filter(c => c))`,
	} {
		res, err := rt.Run(context.Background(), scriptrt.Request{Script: src, Scope: scope})
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		for _, name := range []string{"frontend", "catalog", "orders", "node-1", "shop-prod"} {
			if strings.Contains(string(res.Value), `"name":"`+name+`"`) {
				t.Errorf("%s: a scoped script read %s: %s", src, name, res.Value)
			}
		}
	}
}

// TestMemoryWatchdog measures that a script allocating without end is
// stopped near its budget: the process heap stays far below what would
// hurt a 24 GiB machine, and a later script runs.
func TestMemoryWatchdog(t *testing.T) {
	const budget = 64 << 20
	rt := newRuntime(t, scriptrt.Config{Limits: scriptrt.Limits{MaxMemory: budget, Timeout: 60 * time.Second}})
	for _, tc := range []struct {
		src       string
		maxGrowth uint64 // MiB
	}{
		{`var a = []; for (;;) a.push({i: a.length, s: 'x' + a.length})`, 256},
		{`var a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length)`, 256},
		// Each step doubles the string in one uninterruptible copy, and a
		// copy holds off the collector's stop-the-world, so the watchdog
		// may see a step late on a loaded machine: about 750 MiB measured,
		// a step more when it is late.
		{`var s = 'x'; for (;;) s += s`, 2048},
	} {
		src := tc.src
		runtime.GC()
		base := heapBytes()
		peak := base
		var mu sync.Mutex
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					h := heapBytes()
					mu.Lock()
					peak = max(peak, h)
					mu.Unlock()
				}
			}
		}()
		_, err := rt.Run(context.Background(), scriptrt.Request{Script: src})
		close(stop)
		<-done
		var lim *scriptrt.LimitError
		if !errors.As(err, &lim) || lim.Limit != scriptrt.LimitMemory {
			t.Errorf("%s: err %v, want the memory limit", src, err)
		}
		growth := (peak - base) >> 20
		t.Logf("%s: stopped with the heap %d MiB over its start (budget %d MiB): %v", src, growth, budget>>20, err)
		if growth > tc.maxGrowth {
			t.Errorf("%s: the heap grew by %d MiB", src, growth)
		}
		if got := run(t, rt, `1 + 1`); got != "Number 2" {
			t.Errorf("after %s: %s", src, got)
		}
	}
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestConcurrentRuns runs scripts from many goroutines at once on one
// Runtime, hostile ones among them: each gets its own answer (run it with
// -race).
func TestConcurrentRuns(t *testing.T) {
	rt := newRuntime(t, scriptrt.Config{Limits: scriptrt.Limits{Timeout: time.Second}})
	scripts := map[string]string{
		`Topology.query('type = "service"').components().thenCollect(c => c.name)`: `Array ["frontend","checkout","catalog"]`,
		`Component.withId(6).get().then(c => c.name)`:                              `String "checkout"`,
		`Object.prototype.x = 1; Array.prototype.map = null; [].x`:                 `Number 1`,
		`({}).x`:                 `Undefined null`,
		`[1, 2].map(x => x + 1)`: `Array [2,3]`,
		`for (;;) {}`:            "error: scriptrt: the script ran longer than 1s (the script timeout) and was stopped",
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := 0
			for src, want := range scripts {
				if i++; (i+g)%3 == 0 && strings.HasPrefix(src, "for") {
					continue // not every goroutine waits out the timeout
				}
				if got := run(t, rt, src); got != want {
					t.Errorf("%s: got %s, want %s", src, got, want)
				}
			}
		}()
	}
	wg.Wait()
}
