package serving

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// linearEngine is a test engine that runs only ai.onnx.ml LinearRegressor
// models (y = x·c + b), enough to tell versions apart in the core's tests.
// The real engines are tested in their own packages and end to end.
type linearEngine struct {
	name  string
	delay time.Duration
	loads atomic.Int64
	runs  atomic.Int64
	open  atomic.Int64
}

func (e *linearEngine) Name() string { return e.name }

func (e *linearEngine) Load(_ context.Context, data []byte, _ LoadOptions) (Model, error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, err
	}
	m := &linearModel{e: e}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() != "LinearRegressor" {
			return nil, fmt.Errorf("%w: test engine runs only LinearRegressor, not %s", ErrUnsupported, n.GetOpType())
		}
		for _, a := range n.GetAttribute() {
			switch a.GetName() {
			case "coefficients":
				m.coef = a.GetFloats()
			case "intercepts":
				m.bias = a.GetFloats()[0]
			}
		}
	}
	m.in = []tensor.Info{{Name: "features", DType: tensor.Float32, Shape: []int64{-1, int64(len(m.coef))}}}
	m.out = []tensor.Info{{Name: "prediction", DType: tensor.Float32, Shape: []int64{-1, 1}}}
	e.loads.Add(1)
	e.open.Add(1)
	return m, nil
}

type linearModel struct {
	e       *linearEngine
	coef    []float32
	bias    float32
	in, out []tensor.Info
	closed  atomic.Bool
}

func (m *linearModel) Inputs() []tensor.Info  { return m.in }
func (m *linearModel) Outputs() []tensor.Info { return m.out }

func (m *linearModel) Run(_ context.Context, in []tensor.Tensor, out []tensor.Tensor) error {
	if m.closed.Load() {
		panic("Run after Close")
	}
	m.e.runs.Add(1)
	if m.e.delay > 0 {
		time.Sleep(m.e.delay)
	}
	x := in[0].Float32s()
	rows := in[0].Shape[0]
	o := &out[0]
	o.DType = tensor.Float32
	o.Shape = append(o.Shape[:0], rows, 1)
	o.SetLen(int(rows))
	y := o.Float32s()
	f := len(m.coef)
	for r := range int(rows) {
		s := m.bias
		for j, c := range m.coef {
			s += c * x[r*f+j]
		}
		y[r] = s
	}
	return nil
}

func (m *linearModel) Close() error {
	if m.closed.Swap(true) {
		panic("closed twice")
	}
	m.e.open.Add(-1)
	return nil
}
