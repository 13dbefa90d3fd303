package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

// TestReadSignatureAtAgrees: the seeking reader gives the same signature,
// or refuses the same files, as the streaming one.
func TestReadSignatureAtAgrees(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.onnx")
	more, _ := filepath.Glob("testdata/invalid/*")
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			sig, err := ReadSignature(bytes.NewReader(data))
			checkAt(t, data, sig, err)
		})
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestReadSignatureAtSkipsWeights: on a 40 MiB model it reads kilobytes.
func TestReadSignatureAtSkipsWeights(t *testing.T) {
	m := onnxtest.WithPadding(onnxtest.LinearRegressor([]string{"a", "b"}, []float32{1, 2}, 3), 40<<20)
	data := onnxtest.Marshal(m)
	c := &countingReaderAt{r: bytes.NewReader(data)}
	sig, err := ReadSignatureAt(c, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(sig.Inputs) != 1 || sig.Inputs[0].Name != "features" {
		t.Fatalf("signature %s", jsonString(sig))
	}
	if c.n.Load() > 1<<20 {
		t.Fatalf("read %d bytes of a %d-byte model", c.n.Load(), len(data))
	}
	t.Logf("read %d bytes of %d", c.n.Load(), len(data))
	// Cut inside the skipped weights: still reported as truncated.
	if _, err := ReadSignatureAt(bytes.NewReader(data[:len(data)/2]), int64(len(data)/2)); err == nil {
		t.Fatal("truncated model accepted")
	}
}
