package objstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/lantern-mlops/lantern/objstore"
)

// Sizes used by the suite. large is above the 16 MiB that S3 clients commonly
// switch to multipart uploads at, so that both paths get tested.
const (
	small = 1000
	large = 17 << 20
	huge  = 20 << 20
)

// Run runs the conformance suite. newStore must return an empty store that
// shares no keys with the stores of other calls: the subtests run in parallel,
// and call newStore concurrently.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyObject", testEmptyObject},
		{"Missing", testMissing},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"ETagChanges", testETagChanges},
		{"CreateOnly", testCreateOnly},
		{"CompareAndSwap", testCompareAndSwap},
		{"ShortWrite", testShortWrite},
		{"FailingReader", testFailingReader},
		{"CancelledPut", testCancelledPut},
		{"LargeObject", testLargeObject},
		{"List", testList},
		{"ListEmpty", testListEmpty},
		{"ListPaging", testListPaging},
		{"ListManyDelimited", testListManyDelimited},
		{"ListAfterDelete", testListAfterDelete},
		{"ListStopEarly", testListStopEarly},
		{"CreateOnlyRace", testCreateOnlyRace},
		{"ConditionalRaceLarge", testConditionalRaceLarge},
		{"CASCounter", testCASCounter},
		{"ReadersSeeWholeObjects", testReadersSeeWholeObjects},
		{"GetRange", testGetRange},
		{"Compose", testCompose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// put stores data under key and checks the returned Info.
func put(t testing.TB, s objstore.Store, key string, data []byte, opts objstore.PutOptions) objstore.Info {
	t.Helper()
	info, err := objstore.PutBytes(context.Background(), s, key, data, opts)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes, %+v): %v", key, len(data), opts, err)
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ETag == "" {
		t.Fatalf("Put(%q, %d bytes) = %+v: want Key %q, Size %d and an ETag", key, len(data), info, key, len(data))
	}
	return info
}

// get reads key whole.
func get(t testing.TB, s objstore.Store, key string) ([]byte, objstore.Info) {
	t.Helper()
	b, info, err := objstore.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(b)) {
		t.Fatalf("Get(%q) Info = %+v for %d bytes", key, info, len(b))
	}
	return b, info
}

// wantContent checks that key holds want, and returns its Info.
func wantContent(t testing.TB, s objstore.Store, key string, want []byte) objstore.Info {
	t.Helper()
	got, info := get(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, abbrev(got), abbrev(want))
	}
	return info
}

// wantAbsent checks that key does not exist.
func wantAbsent(t testing.TB, s objstore.Store, key string) {
	t.Helper()
	if info, err := s.Stat(context.Background(), key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat(%q) = %+v, %v; want ErrNotFound", key, info, err)
	}
}

// wantUnchanged checks that key still holds the object described by info with
// the content want.
func wantUnchanged(t testing.TB, s objstore.Store, key string, before objstore.Info, want []byte) {
	t.Helper()
	info := wantContent(t, s, key, want)
	if info.ETag != before.ETag {
		t.Fatalf("%q changed: ETag %q, was %q", key, info.ETag, before.ETag)
	}
}

func wantErrIs(t testing.TB, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %q", what, err, target)
	}
}

func abbrev(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:60:60], "..."...)
	}
	return b
}

// data returns n pseudo-random bytes, the same for the same seed.
func data(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = newChaCha(seed).Read(b)
	return b
}

func newChaCha(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// stream returns a reader of n pseudo-random bytes (as data(seed, n)) that is
// only an io.Reader, so stores must really stream it.
func stream(seed uint64, n int64) io.Reader {
	return &genReader{rng: newChaCha(seed), left: n}
}

type genReader struct {
	rng  *rand.ChaCha8
	left int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	_, _ = g.rng.Read(p)
	g.left -= int64(len(p))
	return len(p), nil
}

// digest returns the SHA-256 of r, and how many bytes it read.
func digest(r io.Reader) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return [32]byte(h.Sum(nil)), n, err
}

// wantStream checks that key holds stream(seed, n).
func wantStream(t testing.TB, s objstore.Store, key string, seed uint64, n int64) objstore.Info {
	t.Helper()
	want, _, _ := digest(stream(seed, n))
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	got, gotN, err := digest(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if gotN != n || info.Size != n || got != want {
		t.Fatalf("Get(%q): %d bytes (Info.Size %d), want %d bytes; content matches: %v", key, gotN, info.Size, n, got == want)
	}
	return info
}

// failingReader yields r's first n bytes, then err.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	m, err := f.r.Read(p)
	f.n -= int64(m)
	return m, err
}

// cancellingReader yields r, calling cancel once n bytes have been read; it
// keeps yielding data afterwards, so only a store that watches its context
// stops.
type cancellingReader struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	} else if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	m, err := c.r.Read(p)
	c.n -= int64(m)
	return m, err
}
