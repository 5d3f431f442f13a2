// Package crashtest cuts the power under a writer in tests: it runs the
// writer while taking crash images of Pebble's crash-simulating file
// system (vfs.NewCrashableMem) at random moments, each with the last unit
// of work the writer had seen acknowledged before the cut. A test then
// recovers a store from each image and checks that everything acknowledged
// is there, whole. Test machinery only.
package crashtest

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Image is the file system as a power cut left it.
type Image struct {
	// Acked is the last unit of work acknowledged before the cut (-1:
	// none). Units are numbered from 0 in the order write acknowledges them.
	Acked int
	FS    *vfs.MemFS
}

// Run runs write in a goroutine and takes images of fs at random pauses of
// up to maxPause until write returns. write calls ack(i) once unit i is
// acknowledged (durable by its contract). Each image keeps what was synced
// and a random share of what was not, as a power cut does. seed makes the
// images' randomness repeatable. A write error fails the test.
func Run(t testing.TB, r *rand.Rand, seed uint64, fs *vfs.MemFS, maxPause time.Duration, write func(ack func(int)) error) []Image {
	t.Helper()
	acked := make(chan int, 1024)
	done := make(chan error, 1)
	go func() { done <- write(func(i int) { acked <- i }) }()
	var images []Image
	last := -1
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		case <-time.After(time.Duration(r.Int64N(int64(maxPause)))):
		}
		for drained := false; !drained; {
			select {
			case i := <-acked:
				last = i
			default:
				drained = true
			}
		}
		// Every unit acknowledged before the cut must survive it.
		images = append(images, Image{Acked: last, FS: fs.CrashClone(vfs.CrashCloneCfg{
			UnsyncedDataPercent: r.IntN(101), RNG: rand.New(rand.NewPCG(seed, uint64(len(images)))),
		})})
	}
	return images
}
