package live

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
)

// An answer that grows past the element limit ends the subscription with
// a limit error (no half answer); its place under the key is given back.
func TestAnswerOverTheLimitEndsTheSubscription(t *testing.T) {
	st := pebble(t)
	churn(t, st, 10, 1, 3)
	h := newHubWith(t, st, Limits{}, exec.Options{Now: graphtest.Clock, MaxElements: 4})
	sess := Session{KeyID: "k", MaxSubscriptions: 1}
	c := dial(t, serve(t, h, sess))
	c.subscribe("s", `type = "service"`, nil)
	c.apply(c.must())
	churn(t, st, 20, 1, 5) // five services now
	syncHub(t, h)
	m := c.must()
	if m.Type != "error" || m.ID != "s" || m.Error.Class != api.ClassLimit || !strings.Contains(m.Error.Message, "more than 4 components") {
		t.Fatalf("want the subscription ended by the element limit; got %s", m.raw)
	}
	c.subscribe("t", `type = "database"`, nil)
	if m := c.must(); m.Type != "result" {
		t.Fatalf("the ended subscription still holds the key's only place: %s", m.raw)
	}
	c.subscribe("s", `type = "database"`, nil) // its id is free again, the key's place is not
	if m := c.must(); m.Type != "error" || m.Error.Class != api.ClassTooMany {
		t.Fatalf("%s", m.raw)
	}
}

// failingStore's first feed delivers nothing and fails once released, as
// one whose position fell behind the retention horizon does.
type failingStore struct {
	graphstore.Store
	release chan struct{}
	failed  bool
}

func (s *failingStore) Subscribe(from time.Time) (graphstore.Feed, error) {
	if !s.failed {
		s.failed = true
		return failedFeed{s.release}, nil
	}
	return s.Store.Subscribe(from)
}

type failedFeed struct{ release chan struct{} }

func (f failedFeed) Next(ctx context.Context) (*graphstore.CommitEvent, error) {
	select {
	case <-f.release:
		return nil, &graphstore.BeforeRetentionError{}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (failedFeed) Close() error { return nil }

// When the feed fails, the hub reopens it at the latest commit and
// evaluates every query again there: a change the failed feed never
// delivered still reaches clients as a diff.
func TestFeedFailureResyncsEveryQuery(t *testing.T) {
	inner := pebble(t)
	shop(t, inner)
	st := &failingStore{Store: inner, release: make(chan struct{})}
	h := newHub(t, st, Limits{})
	sub, err := h.Subscribe(context.Background(), Request{Query: `type = "service"`}, Session{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m, err := sub.Next(ctx); err != nil || m.Type != TypeResult {
		t.Fatalf("first message: %v %v", m, err)
	}
	health(t, inner, 20, "web", "service", "shop", graphstore.HealthCritical)
	close(st.release)
	m, err := sub.Next(ctx)
	if err != nil || m.Type != TypeDiff || len(m.Diff.Changed.Components) != 1 {
		t.Fatalf("the change the failed feed missed should arrive as a diff: %+v %v", m, err)
	}
}

func TestCloseTextFitsAFrame(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := closeText(long)
	if len(got) > maxCloseText || !utf8.ValidString(got) || !strings.HasPrefix(long, got) {
		t.Fatalf("closeText cut %d bytes to %d: valid %v", len(long), len(got), utf8.ValidString(got))
	}
	if closeText("short") != "short" {
		t.Fatal("a short reason is kept")
	}
}
