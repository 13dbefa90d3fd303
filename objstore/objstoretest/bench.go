package objstoretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

// Bench runs the standard benchmarks against stores from newStore (one per
// sub-benchmark): small Put, Get and compare-and-swap, and 64 MiB streamed
// Put (known and unknown size) and Get. Run it with -benchmem.
func Bench(b *testing.B, newStore func(b *testing.B) objstore.Store) {
	const smallSize = 1 << 10
	b.Run("Put1KiB", func(b *testing.B) {
		s := newStore(b)
		body := data(9, smallSize)
		b.SetBytes(smallSize)
		i := 0
		for b.Loop() {
			if _, err := objstore.PutBytes(b.Context(), s, "bench/"+strconv.Itoa(i%1024), body, objstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Get1KiB", func(b *testing.B) {
		s := newStore(b)
		put(b, s, "bench/obj", data(9, smallSize), objstore.PutOptions{})
		b.SetBytes(smallSize)
		for b.Loop() {
			if _, _, err := objstore.ReadAll(b.Context(), s, "bench/obj"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CASIncrement", func(b *testing.B) {
		s := newStore(b)
		put(b, s, "bench/counter", []byte("0"), objstore.PutOptions{})
		for b.Loop() {
			if err := increment(b.Context(), s, "bench/counter"); err != nil {
				b.Fatal(err)
			}
		}
	})
	const bigSize = 64 << 20
	for _, size := range []int64{bigSize, -1} {
		b.Run(fmt.Sprintf("Put64MiBStreamed/size=%d", size), func(b *testing.B) {
			s := newStore(b)
			block := data(10, 1<<20)
			b.SetBytes(bigSize)
			for b.Loop() {
				if _, err := s.Put(b.Context(), "bench/big", repeatReader(block, bigSize), size, objstore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Get64MiB", func(b *testing.B) {
		s := newStore(b)
		if _, err := s.Put(b.Context(), "bench/big", repeatReader(data(10, 1<<20), bigSize), bigSize, objstore.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(bigSize)
		for b.Loop() {
			rc, _, err := s.Get(b.Context(), "bench/big")
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// increment adds one to the decimal counter at key with a CAS loop.
func increment(ctx context.Context, s objstore.Store, key string) error {
	for {
		b, info, err := objstore.ReadAll(ctx, s, key)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(b))
		if err != nil {
			return err
		}
		_, err = objstore.PutBytes(ctx, s, key, []byte(strconv.Itoa(n+1)), objstore.PutOptions{IfMatch: info.ETag})
		if !errors.Is(err, objstore.ErrPrecondition) {
			return err
		}
	}
}

// repeatReader streams block repeatedly up to n bytes. It is a plain
// io.Reader, so a store cannot seek it or learn its size.
func repeatReader(block []byte, n int64) io.Reader {
	return &repeater{block: block, left: n}
}

type repeater struct {
	block []byte
	off   int
	left  int64
}

func (r *repeater) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	r.left -= int64(n)
	return n, nil
}
