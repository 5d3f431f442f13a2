package graphstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Errors. Each is prefixed with the package name; test with errors.Is.
var (
	// ErrClosed is returned by every method of a closed store or snapshot.
	ErrClosed = errors.New("graphstore: closed")
	// ErrTimeBackwards is returned when a batch asks for a time before an
	// earlier batch's: history is append-only.
	ErrTimeBackwards = errors.New("graphstore: batch time is before an earlier batch's")
	// ErrBeforeRetention is returned for reads and feeds before the
	// retention horizon, whose history has been compacted away.
	ErrBeforeRetention = errors.New("graphstore: time is before the retention horizon")
	// ErrCorrupt is wrapped by every error about damaged data: a key or
	// value that does not decode, a checksum that does not match. The
	// store cannot answer from that data; it must not crash either.
	ErrCorrupt = errors.New("graphstore: corrupt data")
)

// BeforeRetentionError says which horizon a read fell before.
type BeforeRetentionError struct {
	At, Horizon time.Time
	// Oldest, when set, is the oldest time with data, which whoever
	// reports the error to a user may know (the store's first commit,
	// when the data began after the horizon): the message then names it.
	Oldest time.Time
}

func (e *BeforeRetentionError) Error() string {
	at := e.At.UTC().Format(time.RFC3339Nano)
	if e.Oldest.After(e.Horizon) {
		return fmt.Sprintf("graphstore: no history before %s, when the data held begins (%s was asked for)",
			e.Oldest.UTC().Format(time.RFC3339Nano), at)
	}
	return fmt.Sprintf("graphstore: no history before %s, the retention horizon: older history is not kept (%s was asked for)",
		e.Horizon.UTC().Format(time.RFC3339Nano), at)
}

func (e *BeforeRetentionError) Is(target error) bool { return target == ErrBeforeRetention }

// TimeBackwardsError says by how much a batch went back in time.
type TimeBackwardsError struct {
	Batch, Last time.Time
}

func (e *TimeBackwardsError) Error() string {
	return fmt.Sprintf("graphstore: batch time %s is before the last batch's time %s; history only moves forward",
		e.Batch.UTC().Format(time.RFC3339Nano), e.Last.UTC().Format(time.RFC3339Nano))
}

func (e *TimeBackwardsError) Is(target error) bool { return target == ErrTimeBackwards }

// DefaultRetention is how long history is kept.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultMaxFutureSkew is how far past its clock a store lets a batch be
// stamped: a sender's clock may run a little ahead, but a version stamped
// far in the future would hide every later one until then.
const DefaultMaxFutureSkew = 5 * time.Minute

// Store is the versioned topology graph. All methods are safe for concurrent
// use; writes are serialised, reads never block writes.
type Store interface {
	// Apply commits a batch atomically as one version, durable when Apply
	// returns. An invalid operation fails the whole batch (*OpError) and
	// nothing is written. A batch that changes nothing still commits a
	// version with no changes.
	Apply(ctx context.Context, b *Batch) (*Commit, error)
	// Snapshot opens a read of the graph as it was at time t; the zero time
	// reads the latest commit. The caller must Close it.
	Snapshot(t time.Time) (Snapshot, error)
	// Subscribe returns the change feed of every commit after time from, in
	// commit order, live as new batches commit; the zero time starts at the
	// oldest history kept (the retention horizon). A from before the horizon
	// fails with a *BeforeRetentionError. The caller must Close it.
	Subscribe(from time.Time) (Feed, error)
	// LastCommit returns the time of the latest commit (zero for an empty
	// store).
	LastCommit() time.Time
	// Horizon returns the oldest time that can be read.
	Horizon() time.Time
	// Compact drops history that ended before now minus the retention
	// period and moves the horizon there.
	Compact(ctx context.Context, now time.Time) (*CompactStats, error)
	// Close releases the store. Open snapshots and feeds must be closed
	// first.
	Close() error
}

// StateStore is implemented by stores that keep writer state beside the
// graph: small records a writer commits in the same atomic batch as the
// elements they describe (Batch.State), so that what it remembers and what
// it wrote can never disagree after a crash. The ingest processors keep an
// instance's open snapshot there, and a Kafka consumer its offsets.
// Safe for concurrent use.
type StateStore interface {
	// ReadState calls fn for every state key that starts with prefix, as
	// of the latest commit, in key order. value is valid only during the
	// call.
	ReadState(prefix string, fn func(key string, value []byte) error) error
}

// Commit describes a committed batch.
type Commit struct {
	Time    time.Time
	Added   int // elements that did not exist before
	Changed int // elements that got a new version
	Removed int // elements deleted
}

// CompactStats describes what Compact dropped.
type CompactStats struct {
	Horizon  time.Time
	Versions int // element versions dropped
	Postings int // index history entries dropped
	Commits  int // change-log entries dropped
}

// Snapshot is a read of the graph at one time. A Snapshot is used by one
// goroutine at a time. Returned slices and elements are owned by the caller
// to read, never to modify; elements are immutable and may be shared.
type Snapshot interface {
	// Time is the time the snapshot reads at.
	Time() time.Time
	// Postings returns the elements carrying term in index ix at the
	// snapshot's time, ascending.
	Postings(ix Index, term string) ([]ID, error)
	// Terms calls fn for every term of index ix that starts with prefix, in
	// order. It may report terms that no element carries at the snapshot's
	// time (their Postings are then empty); it never misses one.
	Terms(ix Index, prefix string, fn func(term string) error) error
	// Element returns the version of an element live at the snapshot's
	// time, or nil when it did not exist then.
	Element(id ID) (*Element, error)
	// Adjacent appends to dst the traversable relations that touch
	// component id at the snapshot's time, outgoing (IdxOut) or incoming
	// (IdxIn), ascending by relation id, and returns the extended slice
	// (pass a reused buffer[:0] to avoid allocating per call).
	Adjacent(id ID, ix Index, dst []Adjacency) ([]Adjacency, error)
	// AdjacentPage is Adjacent for one page: the traversable relations
	// whose id is greater than after, at most max of them (all when max ≤
	// 0). A traversal through a hub reads it a page at a time and can stop
	// (at the element limit) without reading the rest.
	AdjacentPage(id ID, ix Index, after ID, max int, dst []Adjacency) ([]Adjacency, error)
	// LookupExternal returns the element a source's external id names, or 0.
	LookupExternal(kind Kind, source, ext string) (ID, error)
	// Estimate returns the number of live elements carrying a term now; a
	// planner's guide, not an exact count at the snapshot's time.
	Estimate(ix Index, term string) (int, error)
	// Close releases the snapshot.
	Close() error
}

// SetReader is implemented by snapshots that can hand out postings as
// compressed bitmaps, for set algebra without materialising id lists (the
// Pebble store's snapshots at the current time, from its in-memory index
// of the present graph). A wrapper of a Snapshot should forward it.
type SetReader interface {
	// PostingSet returns the elements carrying term in index ix at the
	// snapshot's time, ids as uint32. ok is false when the snapshot cannot
	// answer from memory (use Postings). The bitmap is shared and
	// immutable: never modify it.
	PostingSet(ix Index, term string) (set *roaring.Bitmap, ok bool, err error)
}

// DenseBlocks are the ids of a posting set again as plain bit words, in
// the blocks of 65,536 ids where the set is dense: block b, when not nil,
// has bit id&63 of word id>>6&1023 set for every id of the set with
// id>>16 == b, and no other; a nil block (or one past the end) says
// nothing about its ids (read the bitmap there). Intersecting dense blocks
// is a loop of word ANDs, where a compressed bitmap compares its sorted
// arrays an element at a time. Shared and immutable: never modify them.
type DenseBlocks []*[1024]uint64

// DenseSetReader is implemented by snapshots that can hand out, beside a
// posting set's bitmap (SetReader), its dense blocks (the Pebble store's
// snapshots at the current time). A wrapper of a Snapshot may forward it;
// callers fall back to SetReader.
type DenseSetReader interface {
	// PostingBlocks is PostingSet with the set's dense blocks (nil when it
	// has none).
	PostingBlocks(ix Index, term string) (set *roaring.Bitmap, dense DenseBlocks, ok bool, err error)
}

// SortedSetReader is implemented by snapshots that can hand out a short
// posting set as a sorted slice (the Pebble store's snapshots at the
// current time, for sets of up to about a thousand ids): copying out a
// selective filter's ids then reads a few cache lines in order instead of
// walking a bitmap's containers, which at a million components lie
// scattered over the heap. A wrapper of a Snapshot need not forward it:
// callers fall back to SetReader.
type SortedSetReader interface {
	// PostingSorted returns the elements carrying term in index ix at the
	// snapshot's time, ascending, ids as uint32. ok is false when the
	// snapshot does not hold the set so (a long set, or not in memory).
	// The slice is shared and immutable: never modify it.
	PostingSorted(ix Index, term string) (ids []uint32, ok bool, err error)
}

// AdjacencyViewer is implemented by snapshots that can hand out one side
// of a component's adjacency without copying it (the Pebble store's
// snapshots: at a past time from its element cache; at the current time
// they convert the present graph's packed list into a new one, and relate
// results through AmongReader instead). Relating a result's
// components reads every component's outgoing side once; a copy of each
// was most of the time of a broad filter. A wrapper of a Snapshot need not
// forward it: callers fall back to Adjacent.
type AdjacencyViewer interface {
	// AdjacentView returns what Adjacent would append: the traversable
	// relations that touch component id on one side (IdxOut or IdxIn) at
	// the snapshot's time, ascending by relation id. ok is false when the
	// snapshot cannot hand out a list without a copy (use Adjacent). The
	// slice is shared and immutable: read it, never modify or append to it.
	AdjacentView(id ID, ix Index) (l []Adjacency, ok bool, err error)
}

// BatchViewer is implemented by snapshots that can read many elements or
// adjacency lists in one call (the Pebble store's snapshots: at the
// current time from its present graph, whose packed lists it converts in
// one allocation per call, at a past time from its element cache). Building a result reads a row and an adjacency list per
// component; one call per few hundred ids runs as tight loops whose cache
// misses overlap, where a call per id waited for each in turn. A wrapper
// of a Snapshot need not forward it: callers fall back to Element and
// AdjacentView.
type BatchViewer interface {
	// ElementsView sets dst[i] (len(dst) == len(ids)) to the element
	// ids[i] as Element would return it, when the snapshot holds it in
	// memory; it leaves dst[i] nil otherwise (not held, or not live: ask
	// Element). ok is false when the snapshot cannot answer from memory at
	// all. The elements are shared and immutable.
	ElementsView(ids []ID, dst []*Element) (ok bool, err error)
	// AdjacentViews sets dst[i] to what AdjacentView(ids[i], ix) returns
	// (reading the store for the lists it does not hold in memory); ok is
	// false when the snapshot cannot answer this way (then dst is
	// unspecified). The slices are shared and immutable.
	AdjacentViews(ids []ID, ix Index, dst [][]Adjacency) (ok bool, err error)
}

// RefViewer is implemented by snapshots that can hand out many elements
// without reading them (the Pebble store's snapshots). ElementRefs is
// BatchViewer's ElementsView for a caller that keeps the elements and
// reads them later, if at all (a query's result, which hands out its rows
// on demand): the snapshot does not read an element's memory to check or
// warm it, so a broad answer costs a slot read per element instead of the
// cache misses of every row. dst[i] is the element ids[i] as Element would
// return it, or nil (ask Element); ok is false when the snapshot cannot
// answer from memory at all. A wrapper of a Snapshot need not forward it:
// callers fall back to ElementsView.
type RefViewer interface {
	ElementRefs(ids []ID, dst []*Element) (ok bool, err error)
}

// AmongReader is implemented by snapshots that can relate a set of
// components in memory (the Pebble store's snapshots at the current time,
// from its present graph's packed adjacency). Relating a broad result (a
// tenth of a million components) reads every component's outgoing side
// and tests some three hundred thousand other ends against the result;
// one call per batch runs that as a loop over arrays, where handing out
// every list and testing it in the caller missed the processor's caches
// twice per component. A wrapper of a Snapshot need not forward it:
// callers fall back to BatchViewer.AdjacentViews or Adjacent.
type AmongReader interface {
	// RelationsAmong appends to dst the traversable relations going out
	// of each component of ids whose other end is in among: in the order
	// of ids, each component's ascending by relation id. ok is false
	// when the snapshot cannot answer from memory; then dst is returned
	// as it was.
	RelationsAmong(ids []ID, among Members, dst []ID) (_ []ID, ok bool, err error)
}

// Members is a set of component ids to test adjacent components against
// (AmongReader): bit words over a range when Words is not nil (id is a
// member when id ≥ Lo and bit (id-Lo)%64 of Words[(id-Lo)/64] is set),
// else the test Has.
type Members struct {
	Lo    ID
	Words []uint64
	Has   func(ID) bool
}

// VersionReader is implemented by snapshots that can tell which version of
// an element is live without decoding it (the Pebble store reads its
// version directory). CHANGES compares the versions at its two times and
// decodes only the elements that changed. A wrapper of a Snapshot should
// forward it.
type VersionReader interface {
	// Version returns the commit time (ns) of the version of element id
	// live at the snapshot's time, 0 when none is.
	Version(id ID) (int64, error)
}

// Adjacency is one relation at a component: the relation and the component
// at its other end.
type Adjacency struct {
	Relation ID
	Other    ID
}

// ChangeOp says what a commit did to an element.
type ChangeOp uint8

const (
	Added   ChangeOp = iota + 1 // the element did not exist before the commit
	Changed                     // the element got a new version
	Removed                     // the element was deleted
)

func (op ChangeOp) String() string {
	switch op {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("ChangeOp(%d)", uint8(op))
}

// Change is one element changed by a commit, with its version before (nil
// when Added) and after (nil when Removed).
type Change struct {
	ID     ID
	Kind   Kind
	Op     ChangeOp
	Before *Element
	After  *Element
}

// CommitEvent is one commit on the change feed.
type CommitEvent struct {
	Time    time.Time
	Changes []Change // ordered by element id
}

// Feed delivers commits in order. It is used by one goroutine at a time.
type Feed interface {
	// Next blocks until the next commit is available or ctx is done.
	Next(ctx context.Context) (*CommitEvent, error)
	// Close releases the feed; a blocked Next returns ErrClosed.
	Close() error
}
