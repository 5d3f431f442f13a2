// Package kv holds the key and value encodings shared by the Pebble stores
// (the graph store, telemetry and traces): order-preserving integers and escaped strings for
// keys, and length-prefixed fields for values. docs/storage-format.md draws
// the keys built with them.
package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
)

// ErrCorrupt is a key or value that does not decode.
var ErrCorrupt = errors.New("kv: corrupt record")

// AppendTime appends a signed time (or any int64) so that byte order is
// numeric order: big-endian with the sign bit flipped.
func AppendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

// Time decodes AppendTime's 8 bytes.
func Time(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// AppendUint64 appends a big-endian uint64.
func AppendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendUint32 appends a big-endian uint32.
func AppendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendEscaped appends s so that byte order of the encodings is the order
// of the strings and no encoding is a prefix of another: each 0x00 becomes
// 0x00 0xFF and the string ends with 0x00 0x01.
func AppendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, s[i])
		}
	}
	return append(b, 0, 1)
}

// Escaped decodes an escaped string at the start of b and returns it and
// the rest of b.
func Escaped(b []byte) (string, []byte, error) {
	var out []byte
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 || i+1 >= len(b) {
			return "", nil, ErrCorrupt
		}
		out = append(out, b[:i]...)
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			b = b[i+2:]
		case 1:
			return string(out), b[i+2:], nil
		default:
			return "", nil, ErrCorrupt
		}
	}
}

// PrefixEnd returns the smallest key greater than every key with prefix p
// (nil when there is none).
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ---- values ----

// AppendString appends a length-prefixed string.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes appends length-prefixed bytes.
func AppendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendStrings appends a count and the strings.
func AppendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = AppendString(b, s)
	}
	return b
}

// Reader decodes values written with the Append functions. The first error
// sticks: every later read returns zero values, and Err reports it.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first decoding error.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes not read yet: a bound on the count of what
// follows, each item of which takes at least a byte.
func (r *Reader) Len() int { return len(r.b) }

// Done reports an error unless every byte was read.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrCorrupt
	}
	return r.err
}

func (r *Reader) fail() { r.err, r.b = ErrCorrupt, nil }

// Fail records a corruption found by the caller.
func (r *Reader) Fail() { r.fail() }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Float reads 8 bytes of a float64.
func (r *Reader) Float() float64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Bytes reads length-prefixed bytes; the result aliases the input.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Fixed reads n bytes (a sub-slice of the value, not a copy).
func (r *Reader) Fixed(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// String reads a length-prefixed string (a copy).
func (r *Reader) String() string { return string(r.Bytes()) }

// Strings reads a count and the strings.
func (r *Reader) Strings() []string {
	n := r.Uvarint()
	if n > uint64(len(r.b)) { // each string takes at least a byte
		r.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.String()
	}
	return out
}

// AppendFloat appends a float64 as 8 little-endian bytes.
func AppendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

// Time reads 8 bytes written by AppendTime.
func (r *Reader) Time() int64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := Time(r.b)
	r.b = r.b[8:]
	return v
}

// AppendVarint appends a signed varint.
func AppendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendUvarint appends an unsigned varint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
