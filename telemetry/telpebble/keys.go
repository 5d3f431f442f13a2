package telpebble

import (
	"github.com/tetrahq/tetra/internal/kv"
)

// Tables: the first byte of every key. docs/storage-format.md draws them.
const (
	tagMeta       byte = 0x01 // name → value
	tagSeries     byte = 0x02 // id(8) → series record
	tagLastWindow byte = 0x03 // id(8) → window(8): the series' newest chunk
	tagChunk      byte = 0x04 // window(8) id(8) seq(8) → tsz chunk
	tagWAL        byte = 0x05 // window(8) seq(8) → samples not yet in chunks (format 2 and older)
	tagDirty      byte = 0x06 // window(8) → ∅: a window some series has several chunks in
	tagSealed     byte = 0x07 // window(8) → seq(8): the sample log is in chunks up to seq
	tagEvent      byte = 0x10 // time(8) esc(id) → event record
	tagEventTerm  byte = 0x11 // day(8) esc(term) time(8) esc(id) → ∅
)

// WindowMs is the width of a chunk window: every chunk holds samples of one
// window, and a window's chunks are sealed together.
const WindowMs = 2 * 60 * 60 * 1000

// DayMs is the width of an event index partition, the unit of event
// retention.
const DayMs = 24 * 60 * 60 * 1000

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func windowOf(t int64) int64 { return floorDiv(t, WindowMs) }
func dayOf(t int64) int64    { return floorDiv(t, DayMs) }

func metaKey(name string) []byte { return append([]byte{tagMeta}, name...) }

func seriesKey(id uint64) []byte { return kv.AppendUint64([]byte{tagSeries}, id) }

func lastWindowKey(id uint64) []byte { return kv.AppendUint64([]byte{tagLastWindow}, id) }

// chunkPrefix is the prefix of a series' chunks in a window.
func chunkPrefix(dst []byte, w int64, id uint64) []byte {
	dst = append(dst, tagChunk)
	dst = kv.AppendTime(dst, w)
	return kv.AppendUint64(dst, id)
}

func chunkKey(w int64, id, seq uint64) []byte {
	return kv.AppendUint64(chunkPrefix(make([]byte, 0, 25), w, id), seq)
}

// windowStart is the first chunk key of window w.
func windowStart(tag byte, w int64) []byte { return kv.AppendTime([]byte{tag}, w) }

func walKey(w int64, seq uint64) []byte {
	return kv.AppendUint64(kv.AppendTime([]byte{tagWAL}, w), seq)
}

func sealedKey(w int64) []byte { return windowStart(tagSealed, w) }

func eventKey(t int64, id string) []byte {
	return kv.AppendEscaped(kv.AppendTime([]byte{tagEvent}, t), id)
}

// eventTermPrefix is the prefix of a term's postings in a day.
func eventTermPrefix(day int64, term string) []byte {
	return kv.AppendEscaped(kv.AppendTime([]byte{tagEventTerm}, day), term)
}

func eventTermKey(day int64, term string, t int64, id string) []byte {
	return kv.AppendEscaped(kv.AppendTime(eventTermPrefix(day, term), t), id)
}

// Event terms: an indexed field and its value in one string.
func fieldTerm(field, value string) string { return "f" + field + "\x00" + value }
func tagTerm(key, value string) string     { return "t" + key + "\x00" + value }
func identTerm(id string) string           { return "i" + id }

// windowFromKey decodes a window written with kv.AppendTime.
func windowFromKey(b []byte) int64 { return kv.Time(b) }
