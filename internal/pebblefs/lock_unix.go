// Package pebblefs holds the Pebble file system of read-only opens, shared
// by the Pebble stores (graph, telemetry, traces).
package pebblefs

import (
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// SharedLockFS is the file system of a read-only open: Pebble's own, but
// its directory lock is a shared (read) POSIX lock on the existing LOCK
// file. Pebble's writer takes an exclusive one on the same file, so
// read-only opens coexist with each other and exclude a writer, and a
// writer excludes them. (Pebble locks the directory exclusively even when
// read-only, which made parallel tetra query runs fail with "in use".)
type SharedLockFS struct{ vfs.FS }

func (fs SharedLockFS) Lock(name string) (io.Closer, error) {
	f, err := os.Open(name) // never create: a read-only open writes nothing
	if err != nil {
		return nil, err
	}
	spec := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &spec); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil // closing the file releases the lock
}
