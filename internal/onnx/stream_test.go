package onnx

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

// zeros is the data of the large initializer of writeLargeModel, allocated once.
var zeros = make([]byte, 1<<20)

// writeLargeModel writes to w a valid model (validGraph's input x and output y) whose graph also
// holds an initializer of dataSize bytes of raw data, written in chunks and never held in memory.
// The initializer comes first, so the parser must stream through it to reach the inputs.
func writeLargeModel(w io.Writer, dataSize int64) (int64, error) {
	mustMarshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	tensorHead := mustMarshal(&onnxpb.TensorProto{
		Name: proto.String("weights"), DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)), Dims: []int64{dataSize}})
	tensorHead = protowire.AppendVarint(protowire.AppendTag(tensorHead, 9, protowire.BytesType), uint64(dataSize))
	tensorLen := int64(len(tensorHead)) + dataSize
	initHead := protowire.AppendVarint(protowire.AppendTag(nil, graphInitializer, protowire.BytesType), uint64(tensorLen))
	graphRest := mustMarshal(validGraph())
	graphLen := int64(len(initHead)) + tensorLen + int64(len(graphRest))
	modelHead := mustMarshal(onnxtest.Model(nil, nil, nil))
	modelHead = protowire.AppendVarint(protowire.AppendTag(modelHead, modelGraph, protowire.BytesType), uint64(graphLen))

	var total int64
	for _, b := range [][]byte{modelHead, initHead, tensorHead} {
		n, err := w.Write(b)
		if total += int64(n); err != nil {
			return total, err
		}
	}
	for left := dataSize; left > 0; {
		n, err := w.Write(zeros[:min(left, int64(len(zeros)))])
		total, left = total+int64(n), left-int64(n)
		if err != nil {
			return total, err
		}
	}
	n, err := w.Write(graphRest)
	return total + int64(n), err
}

// TestReadSignatureLargeModel streams a 200 MiB model through a pipe, so it never exists in
// memory, and checks that parsing it allocates a tiny fraction of that.
func TestReadSignatureLargeModel(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	const size = 200 << 20
	pr, pw := io.Pipe()
	go func() {
		_, err := writeLargeModel(pw, size)
		pw.CloseWithError(err)
	}()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sig, err := ReadSignature(pr)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig.Inputs) != 1 || sig.Inputs[0].Name != "x" || len(sig.Outputs) != 1 {
		t.Errorf("got %s", jsonString(sig))
	}
	// TotalAlloc counts every allocation made meanwhile (by any goroutine), so it bounds the heap.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("parsed a %d MiB model allocating %d KiB; heap in use %d KiB", size>>20, alloc>>10, after.HeapInuse>>10)
	if alloc > 2<<20 {
		t.Errorf("parsing allocated %d KiB, want less than 2 MiB for a %d MiB model", alloc>>10, size>>20)
	}
}

// TestOnePass is the registry's upload path: the bytes are hashed, stored and parsed in one pass
// over the stream, by teeing it into ReadSignature.
func TestOnePass(t *testing.T) {
	data := readFixture(t, "risk_mlp.onnx")
	want, err := ReadSignature(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("TeeReader", func(t *testing.T) {
		h := sha256.New()
		var stored bytes.Buffer
		sig, err := ReadSignature(io.TeeReader(iotest.HalfReader(bytes.NewReader(data)), io.MultiWriter(h, &stored)))
		if err != nil {
			t.Fatal(err)
		}
		checkOnePass(t, data, want, sig, h.Sum(nil), stored.Bytes())
	})

	t.Run("SignatureReader", func(t *testing.T) {
		h := sha256.New()
		sr := NewSignatureReader(io.TeeReader(iotest.OneByteReader(bytes.NewReader(data)), h))
		defer sr.Close()
		stored, err := io.ReadAll(sr) // the store's Put
		if err != nil {
			t.Fatal(err)
		}
		sig, err := sr.Signature()
		if err != nil {
			t.Fatal(err)
		}
		checkOnePass(t, data, want, sig, h.Sum(nil), stored)
	})

	t.Run("SignatureReader large", func(t *testing.T) {
		if testing.Short() {
			t.Skip("streams 64 MiB")
		}
		const size = 64 << 20
		wantHash := sha256.New()
		if _, err := writeLargeModel(wantHash, size); err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe() // the upload
		go func() {
			_, err := writeLargeModel(pw, size)
			pw.CloseWithError(err)
		}()
		h := sha256.New()
		sr := NewSignatureReader(io.TeeReader(pr, h))
		defer sr.Close()
		n, err := io.Copy(io.Discard, sr) // the store's Put
		if err != nil {
			t.Fatal(err)
		}
		sig, err := sr.Signature()
		if err != nil {
			t.Fatal(err)
		}
		if n < size || !bytes.Equal(h.Sum(nil), wantHash.Sum(nil)) || sig.Inputs[0].Name != "x" {
			t.Errorf("stored %d bytes, hash %x (want %x), signature %s", n, h.Sum(nil), wantHash.Sum(nil), jsonString(sig))
		}
	})
}

func checkOnePass(t *testing.T, data []byte, want, sig *Signature, hash, stored []byte) {
	t.Helper()
	if sum := sha256.Sum256(data); !bytes.Equal(hash, sum[:]) {
		t.Errorf("hash = %x, want %x", hash, sum)
	}
	if !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes that differ from the %d of the model", len(stored), len(data))
	}
	if jsonString(sig) != jsonString(want) {
		t.Errorf("signature = %s, want %s", jsonString(sig), jsonString(want))
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestSignatureReaderRejectsEarly(t *testing.T) {
	// A 16 MiB zip: the store must not be made to read (and write) all of it.
	const size = 16 << 20
	src := &countingReader{r: io.MultiReader(bytes.NewReader(readFixture(t, "invalid/demand_linear.zip")), bytes.NewReader(make([]byte, size)))}
	sr := NewSignatureReader(src)
	defer sr.Close()
	_, err := io.Copy(io.Discard, sr)
	checkFormatError(t, err, true, "ZIP archive")
	if src.n > 1<<20 {
		t.Errorf("the store read %d bytes of an invalid upload before it was refused", src.n)
	}
	_, serr := sr.Signature()
	if serr != err {
		t.Errorf("Signature() = %v, want the error Read returned: %v", serr, err)
	}
}

func TestSignatureReaderEarlyEnd(t *testing.T) {
	data := readFixture(t, "risk_mlp.onnx")

	t.Run("Signature before EOF", func(t *testing.T) {
		sr := NewSignatureReader(bytes.NewReader(data))
		if _, err := io.ReadFull(sr, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		_, err := sr.Signature()
		checkFormatError(t, err, true, "truncated")
	})
	t.Run("Close without reading", func(t *testing.T) {
		sr := NewSignatureReader(bytes.NewReader(data))
		if err := sr.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := sr.Signature(); !errors.Is(err, errClosed) {
			t.Errorf("Signature() after Close = %v, want %v", err, errClosed)
		}
	})
	t.Run("source error", func(t *testing.T) {
		boom := errors.New("client disconnected")
		sr := NewSignatureReader(io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(boom)))
		defer sr.Close()
		if _, err := io.Copy(io.Discard, sr); !errors.Is(err, boom) {
			t.Errorf("Read error = %v, want %v", err, boom)
		}
		if _, err := sr.Signature(); !errors.Is(err, boom) || errors.Is(err, ErrInvalidModel) {
			t.Errorf("Signature() error = %v, want %v", err, boom)
		}
	})
}

// BenchmarkReadSignature parses a 50 MiB model held in memory: the cost of the parser alone.
func BenchmarkReadSignature(b *testing.B) {
	var buf bytes.Buffer
	if _, err := writeLargeModel(&buf, 50<<20); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadSignature(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignatureReader is BenchmarkReadSignature through SignatureReader, as the registry
// uses it: the bytes are handed from the reading goroutine to the parser through a pipe.
func BenchmarkSignatureReader(b *testing.B) {
	var buf bytes.Buffer
	if _, err := writeLargeModel(&buf, 50<<20); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sr := NewSignatureReader(bytes.NewReader(data))
		if _, err := io.CopyBuffer(io.Discard, sr, make([]byte, 256<<10)); err != nil {
			b.Fatal(err)
		}
		if _, err := sr.Signature(); err != nil {
			b.Fatal(err)
		}
	}
}
