package automation

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tetrahq/tetra/scriptrt"
)

// Store keeps automations and the records of their runs durably, in a
// Pebble database of its own (DATA/automations; docs/storage-format.md
// draws the keys). It is safe for concurrent use; every write is synced.
type Store struct {
	db *pebble.DB
	mu sync.Mutex // serialises AppendRun's read of the last id and its write
}

// Key tags of the automation store.
const (
	tagMeta       = 0x01 // 0x01 name → value
	tagDefinition = 0x02 // 0x02 name 0x00 → Definition as JSON
	tagRun        = 0x03 // 0x03 name 0x00 id(8, big-endian) → Run as JSON
)

// storeSchema is the format version of the store.
const storeSchema = 1

// ErrInUse says another process has the store open.
var ErrInUse = errors.New("automation: the store is in use by another process")

// OpenStore opens (or creates) the automation store in dir.
func OpenStore(dir string) (*Store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("%w: %v", ErrInUse, err)
		}
		return nil, fmt.Errorf("automation: opening the store in %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema stamps a new store with its format version and refuses one
// of another version.
func (s *Store) checkSchema() error {
	key := append([]byte{tagMeta}, "schema"...)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return s.db.Set(key, binary.BigEndian.AppendUint64(nil, storeSchema), pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 8 || binary.BigEndian.Uint64(v) != storeSchema {
		return fmt.Errorf("automation: the store has format %x, this build reads format %d", v, storeSchema)
	}
	return nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func defKey(name string) []byte {
	return append(append([]byte{tagDefinition}, name...), 0)
}

func runPrefix(name string) []byte {
	return append(append([]byte{tagRun}, name...), 0)
}

func runKey(name string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(runPrefix(name), id)
}

// Put stores a definition, replacing one of the same name.
func (s *Store) Put(d *Definition) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.db.Set(defKey(d.Name), b, pebble.Sync)
}

// Get returns the definition of that name, or nil.
func (s *Store) Get(name string) (*Definition, error) {
	v, closer, err := s.db.Get(defKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return decodeDefinition(v)
}

func decodeDefinition(v []byte) (*Definition, error) {
	var d Definition
	if err := json.Unmarshal(v, &d); err != nil {
		return nil, fmt.Errorf("automation: a stored definition does not decode: %w", err)
	}
	return &d, nil
}

// List returns every definition, by name.
func (s *Store) List() ([]*Definition, error) {
	var out []*Definition
	err := s.scan([]byte{tagDefinition}, false, func(_, v []byte) (bool, error) {
		d, err := decodeDefinition(v)
		if err == nil {
			out = append(out, d)
		}
		return true, err
	})
	return out, err
}

// Delete removes a definition and its run records; it reports whether
// there was one.
func (s *Store) Delete(name string) (bool, error) {
	d, err := s.Get(name)
	if err != nil || d == nil {
		return false, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(defKey(name), nil); err != nil {
		return false, err
	}
	p := runPrefix(name)
	if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
		return false, err
	}
	return true, b.Commit(pebble.Sync)
}

// AppendRun records a run under the next id of its automation and drops
// the oldest records past keep.
func (s *Store) AppendRun(r *Run, keep int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, err := s.lastRunID(r.Automation)
	if err != nil {
		return err
	}
	r.ID = last + 1
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(runKey(r.Automation, r.ID), v, nil); err != nil {
		return err
	}
	if keep > 0 && r.ID > uint64(keep) {
		// Everything at or below ID-keep goes: one range deletion, however
		// many records a crash or a change of keep left behind.
		if err := b.DeleteRange(runPrefix(r.Automation), runKey(r.Automation, r.ID-uint64(keep)+1), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// lastRunID returns the id of an automation's newest run record (0 when
// none).
func (s *Store) lastRunID(name string) (uint64, error) {
	var last uint64
	err := s.scan(runPrefix(name), true, func(k, _ []byte) (bool, error) {
		last = binary.BigEndian.Uint64(k[len(k)-8:])
		return false, nil
	})
	return last, err
}

// Runs returns an automation's run records, newest first, at most limit
// (all when limit ≤ 0).
func (s *Store) Runs(name string, limit int) ([]*Run, error) {
	if limit <= 0 {
		limit = math.MaxInt
	}
	var out []*Run
	err := s.scan(runPrefix(name), true, func(_, v []byte) (bool, error) {
		var r Run
		if err := json.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("automation: a stored run record does not decode: %w", err)
		}
		out = append(out, &r)
		return len(out) < limit, nil
	})
	return out, err
}

// scan calls fn for every key under prefix, in order or in reverse, until
// fn returns false.
func (s *Store) scan(prefix []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	valid := it.First
	step := it.Next
	if reverse {
		valid, step = it.Last, it.Prev
	}
	for ok := valid(); ok; ok = step() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		more, err := fn(it.Key(), v)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Run is the record of one run of an automation.
type Run struct {
	ID         uint64 `json:"id"`
	Automation string `json:"automation"`
	// Trigger is what started it: interval, schedule, health, event or
	// manual.
	Trigger string `json:"trigger"`
	// Cause is the health change or event that started a handler.
	Cause      json.RawMessage `json:"cause,omitempty"`
	Started    time.Time       `json:"started"`
	DurationMs int64           `json:"durationMs"`
	// Outcome is ok or error.
	Outcome string             `json:"outcome"`
	Result  *scriptrt.Result   `json:"result,omitempty"`
	Error   *scriptrt.ErrorDoc `json:"error,omitempty"`
	// ResultBytes is the size of a result too large to keep in the
	// record (then Result is left out).
	ResultBytes int `json:"resultBytes,omitempty"`
	// HealthStates and Events count what the run wrote.
	HealthStates int `json:"healthStates,omitempty"`
	Events       int `json:"events,omitempty"`
}

// quietLogger drops Pebble's informational lines; errors still reach the
// caller as errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
