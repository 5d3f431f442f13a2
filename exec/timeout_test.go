package exec_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/lang"
)

// TestTimeouts: a query past the engine's timeout fails with a
// TimeoutError, also when its work only revisits components it has already
// counted; a caller's own deadline is reported as the caller's.
func TestTimeouts(t *testing.T) {
	st, now := generatedStore(t, 2000, 0)
	// The same neighbourhood, united with itself many times: after the first
	// copy nothing new is counted against the element limit.
	copies := make([]string, 300)
	for i := range copies {
		copies[i] = `withNeighborsOf(components = (id = 1001), levels = "all", direction = "both")`
	}
	hostile, err := lang.Parse(strings.Join(copies, " OR "))
	if err != nil {
		t.Fatal(lang.Render(strings.Join(copies, " OR "), err))
	}

	eng := exec.New(st, exec.Options{Now: now, Timeout: 20 * time.Millisecond})
	start := time.Now()
	_, err = eng.Run(context.Background(), hostile)
	var te *exec.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("after %v: err = %v, want a TimeoutError", time.Since(start), err)
	}
	// RunJSON too (the REST answer's path): its context is made lazily.
	start = time.Now()
	_, err = eng.RunJSON(context.Background(), nil, hostile, exec.QueryOptions{}, exec.EncodeOptions{})
	if !errors.As(err, &te) {
		t.Fatalf("RunJSON after %v: err = %v, want a TimeoutError", time.Since(start), err)
	}

	// The caller's deadline is the caller's: not the engine's timeout.
	eng = exec.New(st, exec.Options{Now: now, Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = eng.Run(ctx, hostile)
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		t.Fatalf("err = %v, want the caller's context.DeadlineExceeded", err)
	}
}

// generatedStore opens a Pebble store in a temporary directory with a
// generated graph of comps components and hours of hourly churn, and
// returns it with the clock it and its engines use (an hour after the last
// churn batch).
func generatedStore(t *testing.T, comps, hours int) (*pebblestore.Store, func() time.Time) {
	t.Helper()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return end.Add(time.Hour) }
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := topogen.Default(end)
	cfg.Components, cfg.Hours = comps, hours
	if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return st, now
}
