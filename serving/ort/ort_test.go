//go:build cgo

package ort

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// testEngine returns an engine on $LANTERN_ORT_LIB. Without the library the
// test is skipped, unless LANTERN_INTEGRATION=1 (make test), where it fails.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	lib := os.Getenv(EnvLibraryPath)
	if lib == "" {
		missing(t, "LANTERN_ORT_LIB is not set")
	} else if _, err := os.Stat(lib); err != nil {
		missing(t, fmt.Sprintf("LANTERN_ORT_LIB=%s: %v", lib, err))
	}
	e, err := New(Options{LibraryPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("LANTERN_INTEGRATION") == "1" {
		t.Fatalf("ONNX Runtime library not available (%s): run `make onnxruntime` and export LANTERN_ORT_LIB, or run `make test`", why)
	}
	t.Skipf("ONNX Runtime library not available (%s); run `make onnxruntime` and export LANTERN_ORT_LIB", why)
}

func load(t testing.TB, e *Engine, model []byte, opts serving.LoadOptions) serving.Model {
	t.Helper()
	m, err := e.Load(context.Background(), model, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// run runs m and returns the named outputs.
func run(t testing.TB, m serving.Model, in []tensor.Tensor, names ...string) []tensor.Tensor {
	t.Helper()
	out := make([]tensor.Tensor, len(names))
	for i, n := range names {
		out[i].Name = n
	}
	if err := m.Run(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func features(rows ...[]float32) tensor.Tensor {
	return tensor.FromFloat32("features", []int64{int64(len(rows)), int64(len(rows[0]))}, slices.Concat(rows...))
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-5*math.Max(1, math.Abs(b)) }

func TestEngine(t *testing.T) {
	e := testEngine(t)
	if e.Name() != "onnxruntime" {
		t.Errorf("Name = %q", e.Name())
	}
	if !strings.HasPrefix(e.Version(), "1.") {
		t.Errorf("Version = %q, want 1.x", e.Version())
	}
	t.Logf("ONNX Runtime %s from %s", e.Version(), e.LibraryPath())
	// A second engine shares the environment; the empty options reuse it too.
	for _, opts := range []Options{{LibraryPath: e.LibraryPath()}, {}} {
		e2, err := New(opts)
		if err != nil || e2.Version() != e.Version() {
			t.Errorf("New(%+v) = %v, %v", opts, e2, err)
		}
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(other, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{LibraryPath: other}); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("New with another library = %v, want an error saying one is already loaded", err)
	}
}

func TestDemandLinear(t *testing.T) {
	m := load(t, testEngine(t), fixture(t, "demand_linear.onnx"), serving.LoadOptions{})
	checkInfo(t, m.Inputs(), tensor.Info{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 5}})
	checkInfo(t, m.Outputs(), tensor.Info{Name: "prediction", DType: tensor.Float32, Shape: []int64{-1, 1}})
	rows := [][]float32{{9.99, 1, 21.5, 5, 0}, {12.49, 0, 18, 2, 0}, {0, 0, 0, 0, 1}}
	out := run(t, m, []tensor.Tensor{features(rows...)}, "prediction")[0]
	if !slices.Equal(out.Shape, []int64{3, 1}) || out.DType != tensor.Float32 {
		t.Fatalf("prediction is %s %v", out.DType, out.Shape)
	}
	want := []float64{72.75, 0, 145} // 120 - 124.875 + 30 + 37.625 + 10; ...
	want[1] = float64(demandIntercept) + float64(demandCoef[0])*12.49 + float64(demandCoef[2])*18 + float64(demandCoef[3])*2
	for i, got := range out.Float32s() {
		if !near(float64(got), want[i]) {
			t.Errorf("row %d: prediction %v, want %v", i, got, want[i])
		}
	}
}

func TestRiskMLP(t *testing.T) {
	e := testEngine(t)
	rows := [][]float32{{35, 1.2, 0.3, 0}, {-1, 0.5, 2, 3}, {0, 0, 0, 0}, {4, -3, 1, 2}}
	for _, name := range []string{"risk_mlp.onnx", "risk_mlp_ir3.onnx"} {
		for _, level := range []string{"disable", "basic", "extended", "all"} {
			t.Run(name+"/"+level, func(t *testing.T) {
				m := load(t, e, fixture(t, name), serving.LoadOptions{OptimizationLevel: level, IntraOpThreads: 1})
				checkInfo(t, m.Inputs(), tensor.Info{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 4}})
				checkInfo(t, m.Outputs(),
					tensor.Info{Name: "label", DType: tensor.Int64, Shape: []int64{-1}},
					tensor.Info{Name: "probabilities", DType: tensor.Float32, Shape: []int64{-1, 2}})
				out := run(t, m, []tensor.Tensor{features(rows...)}, "probabilities", "label")
				checkMLP(t, rows, out[0], out[1])
			})
		}
	}
}

func checkMLP(t testing.TB, rows [][]float32, probs, labels tensor.Tensor) {
	t.Helper()
	if !slices.Equal(probs.Shape, []int64{int64(len(rows)), 2}) || !slices.Equal(labels.Shape, []int64{int64(len(rows))}) {
		t.Fatalf("shapes %v and %v", probs.Shape, labels.Shape)
	}
	for i, x := range rows {
		p, label := riskMLP(x)
		got := probs.Float32s()[2*i : 2*i+2]
		if !near(float64(got[0]), p[0]) || !near(float64(got[1]), p[1]) || labels.Int64s()[i] != label {
			t.Errorf("row %d: probabilities %v label %d, want %v %d", i, got, labels.Int64s()[i], p, label)
		}
	}
}

func TestPriceTree(t *testing.T) {
	m := load(t, testEngine(t), fixture(t, "price_tree.onnx"), serving.LoadOptions{})
	rows := [][]float32{{60, 2, 5}, {80, 3, 50}, {80.5, 1, 20}, {120, 4, 21}, {79, 2.01, 0}}
	out := run(t, m, []tensor.Tensor{features(rows...)}, "prediction")[0]
	for i, x := range rows {
		if want := priceTree(x[0], x[1], x[2]); out.Float32s()[i] != want {
			t.Errorf("row %d %v: %v, want %v", i, x, out.Float32s()[i], want)
		}
	}
}

func TestIrisZipMap(t *testing.T) {
	m := load(t, testEngine(t), fixture(t, "iris_logreg.onnx"), serving.LoadOptions{})
	checkInfo(t, m.Outputs(),
		tensor.Info{Name: "output_label", DType: tensor.Int64, Shape: []int64{-1}},
		tensor.Info{Name: "output_probability", DType: tensor.Float32, Shape: []int64{-1, 3}, Labels: []string{"0", "1", "2"}})
	rows := [][]float32{{5.1, 3.5, 1.4, 0.2}, {6.3, 2.5, 4.9, 1.5}, {7.7, 3, 6.1, 2.3}, {5.9, 3, 4.2, 1.5}}
	out := run(t, m, []tensor.Tensor{features(rows...)}, "output_probability", "output_label")
	probs, labels := out[0], out[1]
	if probs.DType != tensor.Float32 || !slices.Equal(probs.Shape, []int64{4, 3}) {
		t.Fatalf("output_probability is %s %v", probs.DType, probs.Shape)
	}
	for i, x := range rows {
		p, label := irisLogreg(x)
		got := probs.Float32s()[3*i : 3*i+3]
		for c := range p {
			if !near(float64(got[c]), p[c]) {
				t.Errorf("row %d: probabilities %v, want %v", i, got, p)
				break
			}
		}
		if labels.Int64s()[i] != label {
			t.Errorf("row %d: label %d, want %d", i, labels.Int64s()[i], label)
		}
	}
	// Only the label: the outputs not asked for are computed and dropped.
	if got := run(t, m, []tensor.Tensor{features(rows...)}, "output_label")[0]; !slices.Equal(got.Int64s(), labels.Int64s()) {
		t.Errorf("labels alone: %v", got.Int64s())
	}
}

func TestStringZipMap(t *testing.T) {
	m := load(t, testEngine(t), stringClassifier(), serving.LoadOptions{})
	checkInfo(t, m.Outputs(),
		tensor.Info{Name: "label", DType: tensor.String, Shape: []int64{-1}},
		tensor.Info{Name: "probs", DType: tensor.Float32, Shape: []int64{-1, 3}, Labels: []string{"spam", "ham", "eggs"}})
	x := tensor.FromFloat32("x", []int64{3, 2}, []float32{3, 0, 0, 3, -2, -2})
	out := run(t, m, []tensor.Tensor{x}, "label", "probs")
	if got := stringsOf(out[0]); !slices.Equal(got, []string{"spam", "ham", "eggs"}) {
		t.Errorf("labels %q", got)
	}
	for i := range 3 {
		row := out[1].Float32s()[3*i : 3*i+3]
		xs := x.Float32s()[2*i : 2*i+2]
		z := []float64{float64(xs[0]), float64(xs[1]), -float64(xs[0]) - float64(xs[1]) + 0.5}
		p, _ := softmax(z)
		for c := range p {
			if !near(float64(row[c]), p[c]) {
				t.Errorf("row %d: %v, want %v", i, row, p)
				break
			}
		}
	}
}

func TestStrings(t *testing.T) {
	m := load(t, testEngine(t), labelCodec(), serving.LoadOptions{})
	checkInfo(t, m.Inputs(), tensor.Info{Name: "word", DType: tensor.String, Shape: []int64{-1}})
	words := []string{"high", "low", "nope", "", "mid", "héllo wörld"}
	in := tensor.Tensor{Name: "word", DType: tensor.String, Shape: []int64{int64(len(words))}}
	for _, w := range words {
		in.Strings = append(in.Strings, []byte(w))
	}
	out := make([]tensor.Tensor, 2)
	out[0].Name, out[1].Name = "echo", "id"
	// The second run reuses the first's buffers.
	for range 2 {
		if err := m.Run(context.Background(), []tensor.Tensor{in}, out); err != nil {
			t.Fatal(err)
		}
		if got := stringsOf(out[0]); !slices.Equal(got, []string{"HIGH", "LOW", "unknown", "unknown", "MID", "unknown"}) {
			t.Errorf("echo = %q", got)
		}
		if got := out[1].Int64s(); !slices.Equal(got, []int64{2, 0, -1, -1, 1, -1}) {
			t.Errorf("id = %v", got)
		}
	}
	in.Strings[0] = []byte("hi\x00gh")
	err := m.Run(context.Background(), []tensor.Tensor{in}, out)
	wantInvalid(t, err, `input "word": element 0 contains a NUL byte`)
}

func stringsOf(t tensor.Tensor) []string {
	s := make([]string, len(t.Strings))
	for i, b := range t.Strings {
		s[i] = string(b)
	}
	return s
}

func TestUnknownRankAndScalar(t *testing.T) {
	m := load(t, testEngine(t), scaleModel(onnxtest.TensorType(onnxpb.TensorProto_FLOAT)), serving.LoadOptions{})
	checkInfo(t, m.Inputs(),
		tensor.Info{Name: "x", DType: tensor.Float32, Shape: nil},
		tensor.Info{Name: "k", DType: tensor.Float32, Shape: []int64{}})
	k := tensor.FromFloat32("k", []int64{}, []float32{2.5})
	for _, shape := range [][]int64{{4}, {2, 2}, {1, 2, 2}} {
		x := tensor.FromFloat32("x", shape, []float32{1, 2, 3, 4})
		y := run(t, m, []tensor.Tensor{k, x}, "y")[0]
		if !slices.Equal(y.Shape, shape) || !slices.Equal(y.Float32s(), []float32{2.5, 5, 7.5, 10}) {
			t.Errorf("x %v: y = %v %v", shape, y.Shape, y.Float32s())
		}
	}
	// The scalar is checked: rank 1 is not rank 0.
	err := m.Run(context.Background(), []tensor.Tensor{tensor.FromFloat32("k", []int64{1}, []float32{2}),
		tensor.FromFloat32("x", []int64{1}, []float32{1})}, []tensor.Tensor{{Name: "y"}})
	wantInvalid(t, err, `input "k": expected shape [], got [1]`)
}

// TestScalarOutput: onnxruntime_go cannot wrap a rank-0 output ONNX Runtime
// allocates, so Run passes its own.
func TestScalarOutput(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		elem  onnxpb.TensorProto_DataType
		dtype tensor.DType
		want  string
	}{
		{onnxpb.TensorProto_FLOAT, tensor.Float32, "[6]"},
		{onnxpb.TensorProto_DOUBLE, tensor.Float64, "[6]"},
		{onnxpb.TensorProto_INT64, tensor.Int64, "[6]"},
		{onnxpb.TensorProto_BOOL, tensor.Bool, "[true]"},
	} {
		t.Run(tc.elem.String(), func(t *testing.T) {
			m := load(t, e, sumModel(tc.elem), serving.LoadOptions{})
			checkInfo(t, m.Outputs(), tensor.Info{Name: "y", DType: tc.dtype, Shape: []int64{}})
			out := []tensor.Tensor{{Name: "y"}}
			for range 3 {
				if err := m.Run(context.Background(), []tensor.Tensor{tensor.FromFloat32("x", []int64{3}, []float32{1, 2, 3})}, out); err != nil {
					t.Fatal(err)
				}
				if y := out[0]; y.Shape == nil || len(y.Shape) != 0 || y.DType != tc.dtype || values(y) != tc.want {
					t.Errorf("y = %s %v %s, want %s [] %s", y.DType, y.Shape, values(y), tc.dtype, tc.want)
				}
			}
		})
	}
	_, err := e.Load(context.Background(), sumModel(onnxpb.TensorProto_STRING), serving.LoadOptions{})
	if !errors.Is(err, serving.ErrUnsupported) || !strings.Contains(err.Error(), `output "y" is a STRING scalar`) {
		t.Errorf("Load(STRING scalar output) = %v, want ErrUnsupported naming the output", err)
	}
	if n := liveValues.Load(); n != 0 {
		t.Errorf("%d ONNX Runtime values still alive", n)
	}
}

func TestFloat16(t *testing.T) {
	e := testEngine(t)
	// FLOAT16 in: fed from Raw like any fixed-size type.
	m := load(t, e, castModel(onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_FLOAT), serving.LoadOptions{})
	x := tensor.Tensor{Name: "x", DType: tensor.Float16, Shape: []int64{3}, Raw: tensor.Aligned([]byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38})} // 1, -2, 0.5
	if y := run(t, m, []tensor.Tensor{x}, "y")[0]; !slices.Equal(y.Float32s(), []float32{1, -2, 0.5}) {
		t.Errorf("y = %v", y.Float32s())
	}
	// FLOAT16 out: onnxruntime_go v1.27.0 cannot return it.
	_, err := e.Load(context.Background(), castModel(onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_FLOAT16), serving.LoadOptions{})
	if !errors.Is(err, serving.ErrUnsupported) || !strings.Contains(err.Error(), `output "y" is FLOAT16`) {
		t.Errorf("Load(FLOAT16 output) = %v, want ErrUnsupported naming the output", err)
	}
}

func TestTypes(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		in, out onnxpb.TensorProto_DataType
		x       tensor.Tensor
		want    string
	}{
		{onnxpb.TensorProto_INT32, onnxpb.TensorProto_DOUBLE, tensor.Tensor{DType: tensor.Int32, Raw: le(int32(-7), int32(9))}, "[-7 9]"},
		{onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, tensor.Tensor{DType: tensor.Float64, Raw: le(2.9, -3.1)}, "[2 -3]"},
		{onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL, tensor.Tensor{DType: tensor.Uint8, Raw: []byte{0, 200}}, "[false true]"},
		{onnxpb.TensorProto_BOOL, onnxpb.TensorProto_INT8, tensor.Tensor{DType: tensor.Bool, Raw: []byte{1, 0}}, "[1 0]"},
		{onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16, tensor.Tensor{DType: tensor.Int16, Raw: le(int16(3), int16(4))}, "[3 4]"},
		{onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64, tensor.Tensor{DType: tensor.Uint32, Raw: le(uint32(5), uint32(6))}, "[5 6]"},
		{onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_STRING, tensor.FromFloat32("", nil, []float32{1.5, -2}), "[1.5 -2]"},
	} {
		t.Run(tc.in.String()+"->"+tc.out.String(), func(t *testing.T) {
			m := load(t, e, castModel(tc.in, tc.out), serving.LoadOptions{})
			x := tc.x
			x.Name, x.Shape, x.Raw = "x", []int64{2}, tensor.Aligned(x.Raw)
			y := run(t, m, []tensor.Tensor{x}, "y")[0]
			if got := values(y); got != tc.want {
				t.Errorf("y = %s (%s), want %s", got, y.DType, tc.want)
			}
		})
	}
}

// le encodes values little-endian, as Raw holds them.
func le(vs ...any) []byte {
	var b bytes.Buffer
	for _, v := range vs {
		switch v := v.(type) {
		case float64:
			u := math.Float64bits(v)
			for i := range 8 {
				b.WriteByte(byte(u >> (8 * i)))
			}
		case int16, uint16, int32, uint32:
			n, size := toU64(v)
			for i := range size {
				b.WriteByte(byte(n >> (8 * i)))
			}
		}
	}
	return b.Bytes()
}

func toU64(v any) (uint64, int) {
	switch v := v.(type) {
	case int16:
		return uint64(uint16(v)), 2
	case uint16:
		return uint64(v), 2
	case int32:
		return uint64(uint32(v)), 4
	case uint32:
		return uint64(v), 4
	}
	return 0, 0
}

// values prints a tensor's elements.
func values(t tensor.Tensor) string {
	switch t.DType {
	case tensor.Float32:
		return fmt.Sprint(t.Float32s())
	case tensor.Float64:
		return fmt.Sprint(t.Float64s())
	case tensor.Int64:
		return fmt.Sprint(t.Int64s())
	case tensor.Bool:
		return fmt.Sprint(t.Bools())
	case tensor.Int8:
		return fmt.Sprint(t.Int8s())
	case tensor.Uint16:
		return fmt.Sprint(t.Uint16s())
	case tensor.Uint64:
		return fmt.Sprint(t.Uint64s())
	case tensor.String:
		return fmt.Sprint(stringsOf(t))
	}
	return "?"
}

func TestBadInputs(t *testing.T) {
	m := load(t, testEngine(t), fixture(t, "risk_mlp.onnx"), serving.LoadOptions{})
	good := features([]float32{1, 2, 3, 4})
	probs := []tensor.Tensor{{Name: "probabilities"}}
	for _, tc := range []struct {
		name string
		in   []tensor.Tensor
		out  []tensor.Tensor
		want string
	}{
		{"wrong width", []tensor.Tensor{features([]float32{1, 2, 3})}, probs,
			`input "features": expected shape [-1 4], got [1 3]`},
		{"wrong rank", []tensor.Tensor{tensor.FromFloat32("features", []int64{4}, []float32{1, 2, 3, 4})}, probs,
			`input "features": expected shape [-1 4], got [4]`},
		{"wrong type", []tensor.Tensor{tensor.FromInt64("features", []int64{1, 4}, []int64{1, 2, 3, 4})}, probs,
			`input "features": expected FP32 [-1 4], got INT64 [1 4]`},
		{"short data", []tensor.Tensor{{Name: "features", DType: tensor.Float32, Shape: []int64{2, 4}, Raw: good.Raw}}, probs,
			`input "features": shape [2 4] of FP32 needs 32 bytes of data, got 16`},
		{"missing", nil, probs, `missing input "features" (FP32 [-1 4])`},
		{"unknown", []tensor.Tensor{good, tensor.FromFloat32("extra", []int64{1}, []float32{1})}, probs,
			`unknown input "extra" (the model's inputs are "features" (FP32 [-1 4]))`},
		{"twice", []tensor.Tensor{good, good}, probs, `input "features" is given twice`},
		{"unknown output", []tensor.Tensor{good}, []tensor.Tensor{{Name: "probs"}},
			`unknown output "probs" (the model's outputs are "label", "probabilities")`},
		{"output twice", []tensor.Tensor{good}, []tensor.Tensor{{Name: "label"}, {Name: "label"}}, `output "label" is requested twice`},
		{"no outputs", []tensor.Tensor{good}, nil, `no outputs requested`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, m.Run(context.Background(), tc.in, tc.out), tc.want)
		})
	}
	// The model still runs, and no value was left behind.
	checkMLP(t, [][]float32{{1, 2, 3, 4}}, run(t, m, []tensor.Tensor{good}, "probabilities", "label")[0],
		run(t, m, []tensor.Tensor{good}, "label")[0])
	if n := liveValues.Load(); n != 0 {
		t.Errorf("%d ONNX Runtime values still alive", n)
	}
}

// TestRuntimeRejects: inputs that pass the static checks but that ONNX
// Runtime refuses are invalid input too.
func TestRuntimeRejects(t *testing.T) {
	m := load(t, testEngine(t), addModel(), serving.LoadOptions{})
	a := tensor.FromFloat32("a", []int64{2, 3}, make([]float32, 6))
	b := tensor.FromFloat32("b", []int64{3, 3}, make([]float32, 9))
	err := m.Run(context.Background(), []tensor.Tensor{a, b}, []tensor.Tensor{{Name: "sum"}})
	wantInvalid(t, err, "onnxruntime rejected the inputs")
	t.Logf("%v", err)
	// An empty batch.
	a.Shape, a.Raw, b.Shape, b.Raw = []int64{0, 3}, nil, []int64{0, 3}, nil
	if out := run(t, m, []tensor.Tensor{a, b}, "sum")[0]; !slices.Equal(out.Shape, []int64{0, 3}) || len(out.Raw) != 0 {
		t.Errorf("empty batch: sum %v with %d bytes", out.Shape, len(out.Raw))
	}
	if n := liveValues.Load(); n != 0 {
		t.Errorf("%d ONNX Runtime values still alive", n)
	}
}

func wantInvalid(t testing.TB, err error, msg string) {
	t.Helper()
	if !errors.Is(err, serving.ErrInvalidInput) {
		t.Fatalf("error %v, want one wrapping ErrInvalidInput", err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
}

func checkInfo(t testing.TB, got []tensor.Info, want ...tensor.Info) {
	t.Helper()
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("info:\n got %+v\nwant %+v", got, want)
	}
}

func TestBadModels(t *testing.T) {
	e := testEngine(t)
	for _, tc := range []struct {
		name  string
		model []byte
		kind  error
		msg   string
	}{
		{"empty", fixture(t, "invalid/empty.onnx"), onnx.ErrInvalidModel, "empty"},
		{"truncated", fixture(t, "invalid/truncated.onnx"), onnx.ErrInvalidModel, ""},
		{"random", fixture(t, "invalid/random.onnx"), onnx.ErrInvalidModel, ""},
		{"text", fixture(t, "invalid/text.onnx"), onnx.ErrInvalidModel, "text"},
		{"zip", fixture(t, "invalid/demand_linear.zip"), onnx.ErrInvalidModel, "ZIP"},
		{"no inputs", constantModel(), onnx.ErrInvalidModel, "no inputs"},
		{"unknown op", unknownOpModel(), serving.ErrUnsupported, "FrobnicateTensor"},
		{"mistyped", mistypedModel(), onnx.ErrInvalidModel, "cannot load the model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := e.Load(context.Background(), tc.model, serving.LoadOptions{})
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Load = %v, want %v saying %q", err, tc.kind, tc.msg)
			}
			t.Logf("%v", err)
		})
	}
	// A model with no inputs would make DynamicAdvancedSession.Run panic: refused.
	ins, outs := []onnxruntime.InputOutputInfo{}, []onnxruntime.InputOutputInfo{
		{Name: "y", OrtValueType: onnxruntime.ONNXTypeTensor, DataType: onnxruntime.TensorElementDataTypeFloat}}
	if _, err := newModel(constantModel(), &onnx.Signature{}, ins, outs); !errors.Is(err, serving.ErrUnsupported) ||
		!strings.Contains(err.Error(), "no inputs") {
		t.Errorf("newModel without inputs = %v", err)
	}
}

func TestLoadOptions(t *testing.T) {
	e := testEngine(t)
	model := fixture(t, "risk_mlp.onnx")
	for _, opts := range []serving.LoadOptions{
		{OptimizationLevel: "fast"},
		{IntraOpThreads: -1},
	} {
		if _, err := e.Load(context.Background(), model, opts); !errors.Is(err, errkind.Invalid) {
			t.Errorf("Load(%+v) = %v, want an invalid-argument error", opts, err)
		}
	}
	m := load(t, e, model, serving.LoadOptions{IntraOpThreads: 2, InterOpThreads: 2, OptimizationLevel: "extended"})
	checkMLP(t, [][]float32{{1, 2, 3, 4}}, run(t, m, []tensor.Tensor{features([]float32{1, 2, 3, 4})}, "probabilities")[0],
		run(t, m, []tensor.Tensor{features([]float32{1, 2, 3, 4})}, "label")[0])

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Load(ctx, model, serving.LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(cancelled) = %v", err)
	}
}

func TestForest(t *testing.T) {
	f := newForest(20, 4, 6, 1)
	m := load(t, testEngine(t), f.model(), serving.LoadOptions{})
	rows := make([][]float32, 50)
	for i := range rows {
		rows[i] = make([]float32, f.features)
		for j := range rows[i] {
			rows[i][j] = float32((i*7+j*13)%100) / 100
		}
	}
	out := run(t, m, []tensor.Tensor{features(rows...)}, "prediction")[0]
	for i, x := range rows {
		if got, want := out.Float32s()[i], f.predict(x); math.Abs(float64(got)-want) > 1e-4 {
			t.Errorf("row %d: %v, want %v", i, got, want)
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	m := load(t, testEngine(t), fixture(t, "risk_mlp.onnx"), serving.LoadOptions{})
	const goroutines, runs = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*goroutines)
	// Half the goroutines share one input: ONNX Runtime reads it in place.
	shared := [][]float32{{1, 2, 3, 4}, {-4, 3, -2, 1}}
	sharedIn := []tensor.Tensor{features(shared...)}
	for range goroutines {
		wg.Go(func() {
			out := []tensor.Tensor{{Name: "probabilities"}, {Name: "label"}}
			for range runs {
				if err := m.Run(context.Background(), sharedIn, out); err != nil {
					errs <- err
					return
				}
				for i, x := range shared {
					if p, label := riskMLP(x); !near(float64(out[0].Float32s()[2*i]), p[0]) || out[1].Int64s()[i] != label {
						errs <- fmt.Errorf("shared input row %d: %v, want %v", i, out[0].Float32s(), p)
						return
					}
				}
			}
		})
	}
	for g := range goroutines {
		wg.Go(func() {
			out := []tensor.Tensor{{Name: "probabilities"}, {Name: "label"}}
			for r := range runs {
				rows := make([][]float32, 1+(g+r)%7)
				for i := range rows {
					rows[i] = []float32{float32(g), float32(r), float32(i), float32(g - r)}
				}
				if err := m.Run(context.Background(), []tensor.Tensor{features(rows...)}, out); err != nil {
					errs <- err
					return
				}
				for i, x := range rows {
					p, label := riskMLP(x)
					if got := out[0].Float32s()[2*i]; !near(float64(got), p[0]) || out[1].Int64s()[i] != label {
						errs <- fmt.Errorf("goroutine %d run %d row %d: %v/%d, want %v/%d", g, r, i, got, out[1].Int64s()[i], p[0], label)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClose(t *testing.T) {
	e := testEngine(t)
	m, err := e.Load(context.Background(), fixture(t, "demand_linear.onnx"), serving.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := []tensor.Tensor{features([]float32{1, 2, 3, 4, 5})}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				if err := m.Run(context.Background(), in, []tensor.Tensor{{Name: "prediction"}}); err != nil {
					if !errors.Is(err, errClosed) {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCancel(t *testing.T) {
	// ONNX Runtime looks at the terminate flag between nodes: a long chain.
	m := load(t, testEngine(t), matMulChain(100, 256), serving.LoadOptions{IntraOpThreads: 1})
	x := tensor.FromFloat32("x", []int64{128, 256}, make([]float32, 128*256))
	out := []tensor.Tensor{{Name: "y"}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx, []tensor.Tensor{x}, out); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(cancelled) = %v", err)
	}

	var full time.Duration
	for range 2 { // the first run warms up
		start := time.Now()
		if err := m.Run(context.Background(), []tensor.Tensor{x}, out); err != nil {
			t.Fatal(err)
		}
		full = time.Since(start)
	}
	ctx, cancel = context.WithTimeout(context.Background(), full/10)
	defer cancel()
	start := time.Now()
	err := m.Run(ctx, []tensor.Tensor{x}, out)
	t.Logf("full run %v; run with a %v deadline: %v after %v", full, full/10, err, time.Since(start))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline = %v, want DeadlineExceeded", err)
	}
	if n := liveValues.Load(); n != 0 {
		t.Errorf("%d ONNX Runtime values still alive", n)
	}
}

// TestLeaks runs many times, with good and bad inputs, and checks that every
// ONNX Runtime value was destroyed and that the process does not grow.
func TestLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := testEngine(t)
	mlp := load(t, e, fixture(t, "risk_mlp.onnx"), serving.LoadOptions{IntraOpThreads: 1})
	iris := load(t, e, fixture(t, "iris_logreg.onnx"), serving.LoadOptions{IntraOpThreads: 1})
	codec := load(t, e, labelCodec(), serving.LoadOptions{IntraOpThreads: 1})
	rows := make([][]float32, 256)
	for i := range rows {
		rows[i] = []float32{float32(i), 1, 2, 3}
	}
	x := features(rows...)
	words := tensor.Tensor{Name: "word", DType: tensor.String, Shape: []int64{64}, Strings: slices.Repeat([][]byte{[]byte("mid")}, 64)}
	bad := features([]float32{1, 2, 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mlpOut := []tensor.Tensor{{Name: "probabilities"}, {Name: "label"}}
	irisOut := []tensor.Tensor{{Name: "output_probability"}}
	codecOut := []tensor.Tensor{{Name: "echo"}}
	round := func() {
		if err := mlp.Run(ctx, []tensor.Tensor{x}, mlpOut); err != nil {
			t.Fatal(err)
		}
		if err := iris.Run(ctx, []tensor.Tensor{x}, irisOut); err != nil {
			t.Fatal(err)
		}
		if err := codec.Run(ctx, []tensor.Tensor{words}, codecOut); err != nil {
			t.Fatal(err)
		}
		if err := mlp.Run(ctx, []tensor.Tensor{bad}, mlpOut); err == nil {
			t.Fatal("bad input accepted")
		}
	}
	for range 300 {
		round()
	}
	before := rss(t)
	const rounds = 3000
	for range rounds {
		round()
	}
	after := rss(t)
	t.Logf("RSS %d MiB -> %d MiB after %d rounds", before>>20, after>>20, rounds)
	// A leak of the outputs alone would be 3000 * (256*12 + 256*12 + 64*...) bytes, over 18 MiB.
	if after-before > 8<<20 {
		t.Errorf("RSS grew by %d MiB over %d rounds", (after-before)>>20, rounds)
	}
	if n := liveValues.Load(); n != 0 {
		t.Errorf("%d ONNX Runtime values still alive", n)
	}
}

// rss returns the resident set size of the process, after a GC.
func rss(t testing.TB) int64 {
	runtime.GC()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestMissingLibrary checks the errors of New without a usable library. The
// cases that need a process where ONNX Runtime is not loaded yet run in a
// child process.
func TestMissingLibrary(t *testing.T) {
	if mode := os.Getenv("LANTERN_ORT_TEST_CHILD"); mode != "" {
		_, err := New(Options{LibraryPath: os.Getenv("LANTERN_ORT_TEST_LIB")})
		fmt.Printf("ERR=%v\n", err)
		if errors.Is(err, ErrNoLibrary) {
			fmt.Println("IS=ErrNoLibrary")
		}
		return
	}
	_, err := New(Options{LibraryPath: filepath.Join(t.TempDir(), "nope", "libonnxruntime.so.1")})
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "make onnxruntime") ||
		!strings.Contains(err.Error(), "LANTERN_ORT_LIB") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("New(missing file) = %v", err)
	}
	notALib := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(notALib, []byte("this is not a shared library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, lib, want string }{
		{"unset", "", "no library configured"},
		{"not a library", notALib, "Error loading ONNX shared library"},
		{"directory", t.TempDir(), "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibrary$")
			cmd.Env = append(os.Environ(), "LANTERN_ORT_TEST_CHILD=1", "LANTERN_ORT_TEST_LIB="+tc.lib, EnvLibraryPath+"=")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, "IS=ErrNoLibrary") || !strings.Contains(s, tc.want) || !strings.Contains(s, "make onnxruntime") {
				t.Errorf("child says:\n%s\nwant ErrNoLibrary, %q and the advice", s, tc.want)
			}
		})
	}
}

func TestProtect(t *testing.T) {
	err := protect("frobnicate", func() error { panic("index out of range [0] with length 0") })
	if err == nil || !strings.Contains(err.Error(), "frobnicate: panic in onnxruntime_go: index out of range") {
		t.Errorf("protect = %v", err)
	}
	if err := protect("x", func() error { return nil }); err != nil {
		t.Errorf("protect = %v", err)
	}
}

func TestZipMapLabels(t *testing.T) {
	labels, err := zipMapLabels(fixture(t, "iris_logreg.onnx"), []string{"output_probability", "output_label"})
	if err != nil || fmt.Sprint(labels) != "map[output_probability:[0 1 2]]" {
		t.Errorf("zipMapLabels(iris) = %v, %v", labels, err)
	}
	labels, err = zipMapLabels(stringClassifier(), []string{"probs"})
	if err != nil || fmt.Sprint(labels) != "map[probs:[spam ham eggs]]" {
		t.Errorf("zipMapLabels(string classifier) = %v, %v", labels, err)
	}
	if _, err := zipMapLabels(fixture(t, "invalid/truncated.onnx"), []string{"x"}); err == nil {
		t.Error("zipMapLabels(truncated) succeeded")
	}
}
