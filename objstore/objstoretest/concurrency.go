package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

// race runs fn(i) for i in [0, n) in goroutines released together.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testCreateOnlyRace(t *testing.T, s objstore.Store) {
	const writers = 16
	var wins, winner atomic.Int32
	race(writers, func(i int) {
		_, err := objstore.PutBytes(t.Context(), s, "k", []byte(fmt.Sprintf("writer %02d", i)), objstore.PutOptions{IfNoneMatch: true})
		switch {
		case err == nil:
			wins.Add(1)
			winner.Store(int32(i))
		case !errors.Is(err, objstore.ErrPrecondition):
			t.Errorf("writer %d: %v, want nil or ErrPrecondition", i, err)
		}
	})
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d create-only writers won, want exactly 1", n)
	}
	wantContent(t, s, "k", []byte(fmt.Sprintf("writer %02d", winner.Load())))
}

// testConditionalRaceLarge races create-only and compare-and-swap writers of
// objects large enough for multipart uploads, which must honour conditions
// when they complete, not only when they start.
func testConditionalRaceLarge(t *testing.T, s objstore.Store) {
	const writers = 4
	for _, mode := range []string{"create-only", "compare-and-swap"} {
		t.Run(mode, func(t *testing.T) {
			key := "large/" + mode
			var opts objstore.PutOptions
			if mode == "create-only" {
				opts.IfNoneMatch = true
			} else {
				opts.IfMatch = put(t, s, key, []byte("initial"), objstore.PutOptions{}).ETag
			}
			var wins atomic.Int32
			var winner atomic.Int64
			race(writers, func(i int) {
				_, err := s.Put(t.Context(), key, stream(uint64(100+i), large), -1, opts)
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(int64(i))
				case !errors.Is(err, objstore.ErrPrecondition):
					t.Errorf("writer %d: %v, want nil or ErrPrecondition", i, err)
				}
			})
			if n := wins.Load(); n != 1 {
				t.Fatalf("%d writers won, want exactly 1", n)
			}
			wantStream(t, s, key, uint64(100+winner.Load()), large)
		})
	}
}

// testCASCounter increments a counter with read-modify-CAS loops from many
// goroutines: no increment may be lost or applied twice.
func testCASCounter(t *testing.T, s objstore.Store) {
	const (
		workers    = 16
		increments = 50
	)
	counter := func(n int) []byte { return []byte(fmt.Sprintf("%08d", n)) } // fixed size on purpose
	put(t, s, "counter", counter(0), objstore.PutOptions{})
	var mu sync.Mutex
	written := map[int]int{} // value -> worker that wrote it
	var retries atomic.Int64
	race(workers, func(w int) {
		ctx := t.Context()
		for range increments {
			for {
				b, info, err := objstore.ReadAll(ctx, s, "counter")
				if err != nil {
					t.Errorf("worker %d: read: %v", w, err)
					return
				}
				n, err := strconv.Atoi(string(b))
				if err != nil {
					t.Errorf("worker %d: counter holds %q", w, b)
					return
				}
				_, err = objstore.PutBytes(ctx, s, "counter", counter(n+1), objstore.PutOptions{IfMatch: info.ETag})
				if errors.Is(err, objstore.ErrPrecondition) {
					retries.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("worker %d: CAS: %v", w, err)
					return
				}
				mu.Lock()
				if other, dup := written[n+1]; dup {
					t.Errorf("workers %d and %d both wrote %d", other, w, n+1)
				}
				written[n+1] = w
				mu.Unlock()
				break
			}
		}
	})
	b, _ := get(t, s, "counter")
	if want := counter(workers * increments); !bytes.Equal(b, want) {
		t.Fatalf("counter = %s after %d increments, want %s", b, workers*increments, want)
	}
	t.Logf("%d increments, %d CAS retries", workers*increments, retries.Load())
}

// testReadersSeeWholeObjects reads an object while it is being overwritten:
// every read must return one complete version.
func testReadersSeeWholeObjects(t *testing.T, s objstore.Store) {
	const (
		size     = 3 << 20
		versions = 12
		readers  = 4
	)
	version := func(v byte) io.Reader { return io.LimitReader(byteReader(v), size) }
	if _, err := s.Put(t.Context(), "obj", version(1), size, objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := readWhole(t.Context(), s, "obj", size); err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				reads.Add(1)
			}
		})
	}
	for v := byte(2); v <= versions; v++ {
		if _, err := s.Put(t.Context(), "obj", version(v), size, objstore.PutOptions{}); err != nil {
			t.Errorf("write version %d: %v", v, err)
			break
		}
	}
	close(done)
	wg.Wait()
	t.Logf("%d reads during %d overwrites", reads.Load(), versions-1)
}

// readWhole reads key and checks it is size bytes of a single value.
func readWhole(ctx context.Context, s objstore.Store, key string, size int64) error {
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if int64(len(b)) != size || info.Size != size {
		return fmt.Errorf("read %d bytes (Info.Size %d), want %d", len(b), info.Size, size)
	}
	for i := range b {
		if b[i] != b[0] {
			return fmt.Errorf("mixed versions: byte %d is %d, byte 0 is %d", i, b[i], b[0])
		}
	}
	return nil
}

// byteReader is an endless stream of one byte value.
type byteReader byte

func (b byteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
