package native

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

var (
	fuzzOnce   sync.Once
	fuzzModels []serving.Model
)

// fuzzTargets loads the testdata models, plus an MLP and a tree ensemble.
func fuzzTargets(tb testing.TB) []serving.Model {
	fuzzOnce.Do(func() {
		files, _ := filepath.Glob(filepath.Join("testdata", "ml", "*", "model.onnx"))
		var models [][]byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			models = append(models, b)
		}
		models = append(models, mlpModel(5, 6, 8, 3), treeModel(5, 10, 4, 6))
		for _, b := range models {
			m, err := New().Load(context.Background(), b, serving.LoadOptions{})
			if err != nil {
				tb.Fatal(err)
			}
			fuzzModels = append(fuzzModels, m)
		}
	})
	return fuzzModels
}

// bytesReader hands out fuzz bytes, then zeros.
type bytesReader struct{ b []byte }

func (r *bytesReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *bytesReader) u32() uint32 {
	var w [4]byte
	for i := range w {
		w[i] = r.byte()
	}
	return binary.LittleEndian.Uint32(w[:])
}

// FuzzRun feeds inputs made from random bytes (any values, NaN and
// infinities included; dimensions sometimes wrong) to every model: Run may
// refuse them but must never panic, and never need its last-resort recover.
func FuzzRun(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x7f})
	f.Add([]byte{17, 3, 1, 200, 9, 9, 9, 9, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{30, 0, 2, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		models := fuzzTargets(t)
		r := &bytesReader{b: data}
		m := models[int(r.byte())%len(models)]
		batch := int64(r.byte() % 5)
		var in []tensor.Tensor
		for _, info := range m.Inputs() {
			shape := make([]int64, len(info.Shape))
			for i, d := range info.Shape {
				shape[i] = d
				if d < 0 {
					shape[i] = batch
				}
			}
			switch r.byte() % 8 { // sometimes a wrong shape
			case 0:
				if len(shape) > 0 {
					shape[len(shape)-1] += int64(r.byte() % 3)
				}
			case 1:
				shape = append(shape, 1)
			}
			x := tensor.Tensor{Name: info.Name, DType: info.DType, Shape: shape}
			n := int(tensor.NumElements(shape))
			if n < 0 || n > 1<<12 {
				return
			}
			x.SetLen(n)
			switch info.DType {
			case tensor.String:
				for i := range x.Strings {
					x.Strings[i] = []byte(strings.Repeat("a", int(r.byte()%3)) + string(rune('a'+r.byte()%26)))
				}
			case tensor.Float32:
				for i, v := range x.Float32s() {
					_ = v
					x.Float32s()[i] = math.Float32frombits(r.u32())
				}
			case tensor.Float64:
				for i := range x.Float64s() {
					x.Float64s()[i] = float64(math.Float32frombits(r.u32()))
				}
			default:
				for i := range x.Raw {
					x.Raw[i] = r.byte()
				}
			}
			in = append(in, x)
		}
		out := outputsOf(m)
		if err := m.Run(context.Background(), in, out); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%v", err)
		}
	})
}

// FuzzLoad loads corrupted models: Load may refuse them but must not
// panic; what loads must run on zeros without panicking.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "ml", "*", "model.onnx"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := New().Load(context.Background(), data, serving.LoadOptions{})
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%v", err)
			}
			return
		}
		defer m.Close()
		var in []tensor.Tensor
		for _, info := range m.Inputs() {
			shape := make([]int64, len(info.Shape))
			for i, d := range info.Shape {
				shape[i] = max(d, 1)
			}
			n := tensor.NumElements(shape)
			if n < 0 || n > 1<<12 {
				return
			}
			x := tensor.Tensor{Name: info.Name, DType: info.DType, Shape: shape}
			x.SetLen(int(n))
			in = append(in, x)
		}
		if err := m.Run(context.Background(), in, outputsOf(m)); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%v", err)
		}
	})
}
