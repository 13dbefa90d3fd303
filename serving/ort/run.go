//go:build cgo

package ort

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// call is the scratch space of one Run, recycled through Model.calls.
type call struct {
	ins  []onnxruntime.Value // per model input
	outs []onnxruntime.Value // per model output, allocated by ONNX Runtime
	fed  []bool              // per model input: seen in the request
	want []bool              // per model output: requested
	pin  runtime.Pinner      // input buffers ONNX Runtime reads in place
}

// liveValues counts the ONNX Runtime values Run holds; tests check it
// returns to zero.
var liveValues atomic.Int64

// Run computes the requested outputs. Inputs are matched by name and checked
// against the model (type, rank, fixed dimensions) before ONNX Runtime sees
// them; errors about them wrap serving.ErrInvalidInput. Fixed-size inputs are
// read in place from their Raw buffers (copied once if not 8-byte aligned);
// outputs are copied into out, reusing capacity. A cancelled ctx stops the
// run through ONNX Runtime's terminate flag.
func (m *Model) Run(ctx context.Context, in []tensor.Tensor, out []tensor.Tensor) (err error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.sess == nil {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := m.calls.Get().(*call)
	defer m.release(c)
	if err := m.check(c, in, out); err != nil {
		return err
	}
	return protect("run", func() error { return m.run(ctx, c, in, out) })
}

// release destroys every ONNX Runtime value of a call and recycles it.
func (m *Model) release(c *call) {
	for _, vs := range [][]onnxruntime.Value{c.ins, c.outs} {
		for i, v := range vs {
			if v != nil {
				_ = protect("destroy a value", v.Destroy)
				liveValues.Add(-1)
				vs[i] = nil
			}
		}
	}
	c.pin.Unpin()
	clear(c.fed)
	clear(c.want)
	m.calls.Put(c)
}

// check validates the request against the model.
func (m *Model) check(c *call, in, out []tensor.Tensor) error {
	for i := range in {
		t := &in[i]
		k, ok := m.inIndex[t.Name]
		if !ok {
			return invalidf("unknown input %q (the model's inputs are %s)", t.Name, m.inputNames())
		}
		if c.fed[k] {
			return invalidf("input %q is given twice", t.Name)
		}
		c.fed[k] = true
		if err := m.inputs[k].check(t); err != nil {
			return err
		}
	}
	for k, fed := range c.fed {
		if !fed {
			return invalidf("missing input %q (%s)", m.inputs[k].Name, describe(m.inputs[k].Info))
		}
	}
	if len(out) == 0 {
		return invalidf("no outputs requested (the model's outputs are %s)", m.outputNames())
	}
	for j := range out {
		k, ok := m.outIdx[out[j].Name]
		if !ok {
			return invalidf("unknown output %q (the model's outputs are %s)", out[j].Name, m.outputNames())
		}
		if c.want[k] {
			return invalidf("output %q is requested twice", out[j].Name)
		}
		c.want[k] = true
	}
	return nil
}

// check validates one input tensor.
func (in *input) check(t *tensor.Tensor) error {
	if t.DType != in.DType {
		return invalidf("input %q: expected %s, got %s", in.Name, describe(in.Info), describe(tensor.Info{DType: t.DType, Shape: t.Shape}))
	}
	if in.rankKnown && !shapeFits(in.Shape, t.Shape) {
		return invalidf("input %q: expected shape %s, got %s", in.Name, shapeString(in.Shape), shapeString(t.Shape))
	}
	if err := t.Validate(); err != nil {
		return invalidf("%v", err)
	}
	if t.DType == tensor.String {
		if len(t.Shape) == 0 {
			return invalidf("input %q: STRING scalars are not supported by onnxruntime_go; send shape [1]", in.Name)
		}
		for i, s := range t.Strings {
			// Strings reach ONNX Runtime as C strings.
			if bytes.IndexByte(s, 0) >= 0 {
				return invalidf("input %q: element %d contains a NUL byte, which ONNX Runtime's C API cannot pass", in.Name, i)
			}
		}
	} else if len(t.Shape) == 0 && (t.DType == tensor.Float16 || t.DType == tensor.BFloat16) {
		return invalidf("input %q: %s scalars are not supported by onnxruntime_go", in.Name, t.DType)
	}
	return nil
}

// shapeFits reports whether got has want's rank and its fixed dimensions.
func shapeFits(want, got []int64) bool {
	if len(want) != len(got) {
		return false
	}
	for i, d := range want {
		if d >= 0 && got[i] != d {
			return false
		}
	}
	return true
}

// shapeString prints a shape as [-1 4], or [?] for an unknown rank.
func shapeString(s []int64) string {
	if s == nil {
		return "[?]"
	}
	return fmt.Sprint(s)
}

func describe(i tensor.Info) string {
	return i.DType.String() + " " + shapeString(i.Shape)
}

func (m *Model) inputNames() string {
	names := make([]string, len(m.inputs))
	for i, in := range m.inputs {
		names[i] = fmt.Sprintf("%q (%s)", in.Name, describe(in.Info))
	}
	return strings.Join(names, ", ")
}

func (m *Model) outputNames() string {
	names := make([]string, len(m.outputs))
	for i, out := range m.outputs {
		names[i] = strconv.Quote(out.Name)
	}
	return strings.Join(names, ", ")
}

// run feeds the checked inputs to ONNX Runtime and copies the outputs.
func (m *Model) run(ctx context.Context, c *call, in, out []tensor.Tensor) error {
	for i := range in {
		k := m.inIndex[in[i].Name]
		v, err := newValue(&in[i], &c.pin)
		if err != nil {
			return fmt.Errorf("onnxruntime: input %q: %w", in[i].Name, err)
		}
		c.ins[k] = v
		liveValues.Add(1)
	}

	for k := range m.outputs {
		if m.outputs[k].scalar {
			v, err := emptyScalar(m.outputs[k].DType)
			if err != nil {
				return fmt.Errorf("onnxruntime: output %q: %w", m.outputs[k].Name, err)
			}
			c.outs[k] = v
			liveValues.Add(1)
		}
	}

	var opts *onnxruntime.RunOptions
	if ctx.Done() != nil {
		var err error
		if opts, err = onnxruntime.NewRunOptions(); err != nil {
			return fmt.Errorf("onnxruntime: run options: %w", err)
		}
		terminated := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(terminated)
			_ = opts.Terminate()
		})
		defer func() {
			if !stop() {
				<-terminated // Terminate is running: let it finish before Destroy
			}
			_ = opts.Destroy()
		}()
	}
	defer func() { // also when onnxruntime_go panics after allocating some outputs
		for k, v := range c.outs {
			if v != nil && !m.outputs[k].scalar {
				liveValues.Add(1)
			}
		}
	}()
	if err := m.sess.RunWithOptions(c.ins, c.outs, opts); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("onnxruntime: run: %w", ctxErr)
		}
		return runError(err)
	}
	for j := range out {
		k := m.outIdx[out[j].Name]
		if err := m.outputs[k].copyTo(&out[j], c.outs[k]); err != nil {
			return err
		}
	}
	return nil
}

// empty backs zero-element tensors: onnxruntime_go refuses an empty buffer.
var empty [8]byte

// newValue makes an ONNX Runtime value of a checked input. Fixed-size data
// is not copied: ONNX Runtime reads Raw, pinned until the call is released.
func newValue(t *tensor.Tensor, pin *runtime.Pinner) (onnxruntime.Value, error) {
	shape := onnxruntime.Shape(t.Shape)
	if t.DType == tensor.String {
		st, err := onnxruntime.NewStringTensor(shape)
		if err != nil {
			return nil, err
		}
		strs := make([]string, len(t.Strings))
		for i, s := range t.Strings {
			strs[i] = string(s)
		}
		if err := st.SetContents(strs); err != nil {
			_ = st.Destroy()
			return nil, err
		}
		return st, nil
	}
	if len(t.Shape) == 0 {
		return newScalar(t)
	}
	raw := t.Raw
	if len(raw) == 0 {
		raw = empty[:]
	} else {
		raw = tensor.Aligned(raw)
		pin.Pin(unsafe.SliceData(raw))
	}
	return onnxruntime.NewCustomDataTensor(shape, raw, onnxruntime.TensorElementDataType(t.DType.ONNXElem()))
}

// newScalar makes a rank-0 value, which NewCustomDataTensor cannot.
func newScalar(t *tensor.Tensor) (onnxruntime.Value, error) {
	switch t.DType {
	case tensor.Float32:
		return onnxruntime.NewScalar(t.Float32s()[0])
	case tensor.Float64:
		return onnxruntime.NewScalar(t.Float64s()[0])
	case tensor.Int8:
		return onnxruntime.NewScalar(t.Int8s()[0])
	case tensor.Int16:
		return onnxruntime.NewScalar(t.Int16s()[0])
	case tensor.Int32:
		return onnxruntime.NewScalar(t.Int32s()[0])
	case tensor.Int64:
		return onnxruntime.NewScalar(t.Int64s()[0])
	case tensor.Uint8:
		return onnxruntime.NewScalar(t.Uint8s()[0])
	case tensor.Uint16:
		return onnxruntime.NewScalar(t.Uint16s()[0])
	case tensor.Uint32:
		return onnxruntime.NewScalar(t.Uint32s()[0])
	case tensor.Uint64:
		return onnxruntime.NewScalar(t.Uint64s()[0])
	case tensor.Bool:
		return onnxruntime.NewScalar(t.Bools()[0])
	}
	return nil, fmt.Errorf("%s scalars are not supported", t.DType)
}

// emptyScalar allocates a rank-0 output.
func emptyScalar(dt tensor.DType) (onnxruntime.Value, error) {
	switch dt {
	case tensor.Float32:
		return onnxruntime.NewEmptyScalar[float32]()
	case tensor.Float64:
		return onnxruntime.NewEmptyScalar[float64]()
	case tensor.Int8:
		return onnxruntime.NewEmptyScalar[int8]()
	case tensor.Int16:
		return onnxruntime.NewEmptyScalar[int16]()
	case tensor.Int32:
		return onnxruntime.NewEmptyScalar[int32]()
	case tensor.Int64:
		return onnxruntime.NewEmptyScalar[int64]()
	case tensor.Uint8:
		return onnxruntime.NewEmptyScalar[uint8]()
	case tensor.Uint16:
		return onnxruntime.NewEmptyScalar[uint16]()
	case tensor.Uint32:
		return onnxruntime.NewEmptyScalar[uint32]()
	case tensor.Uint64:
		return onnxruntime.NewEmptyScalar[uint64]()
	case tensor.Bool:
		return onnxruntime.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("%s scalars are not supported", dt)
}

// copyTo copies an output value allocated by ONNX Runtime into dst.
func (o *output) copyTo(dst *tensor.Tensor, v onnxruntime.Value) error {
	if o.zipMap {
		return o.copyZipMap(dst, v)
	}
	switch t := v.(type) {
	case *onnxruntime.Tensor[float32]:
		setRaw(dst, tensor.Float32, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[float64]:
		setRaw(dst, tensor.Float64, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[int64]:
		setRaw(dst, tensor.Int64, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[int32]:
		setRaw(dst, tensor.Int32, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[int16]:
		setRaw(dst, tensor.Int16, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[int8]:
		setRaw(dst, tensor.Int8, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[uint64]:
		setRaw(dst, tensor.Uint64, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[uint32]:
		setRaw(dst, tensor.Uint32, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[uint16]:
		setRaw(dst, tensor.Uint16, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[uint8]:
		setRaw(dst, tensor.Uint8, t.GetShape(), t.GetData())
	case *onnxruntime.Tensor[bool]:
		setRaw(dst, tensor.Bool, t.GetShape(), t.GetData())
	case *onnxruntime.Scalar[float32]:
		setScalar(dst, tensor.Float32, t.GetData())
	case *onnxruntime.Scalar[float64]:
		setScalar(dst, tensor.Float64, t.GetData())
	case *onnxruntime.Scalar[int64]:
		setScalar(dst, tensor.Int64, t.GetData())
	case *onnxruntime.Scalar[int32]:
		setScalar(dst, tensor.Int32, t.GetData())
	case *onnxruntime.Scalar[int16]:
		setScalar(dst, tensor.Int16, t.GetData())
	case *onnxruntime.Scalar[int8]:
		setScalar(dst, tensor.Int8, t.GetData())
	case *onnxruntime.Scalar[uint64]:
		setScalar(dst, tensor.Uint64, t.GetData())
	case *onnxruntime.Scalar[uint32]:
		setScalar(dst, tensor.Uint32, t.GetData())
	case *onnxruntime.Scalar[uint16]:
		setScalar(dst, tensor.Uint16, t.GetData())
	case *onnxruntime.Scalar[uint8]:
		setScalar(dst, tensor.Uint8, t.GetData())
	case *onnxruntime.Scalar[bool]:
		setScalar(dst, tensor.Bool, t.GetData())
	case *onnxruntime.StringTensor:
		strs, err := t.GetContents()
		if err != nil {
			return fmt.Errorf("onnxruntime: output %q: %w", o.Name, err)
		}
		dst.DType, dst.Shape = tensor.String, t.GetShape()
		dst.SetLen(len(strs))
		for i, s := range strs {
			dst.Strings[i] = append(dst.Strings[i][:0], s...)
		}
	default:
		return fmt.Errorf("onnxruntime: output %q: unexpected value %T", o.Name, v)
	}
	return nil
}

// setRaw copies data into dst.Raw, reusing its capacity.
func setRaw[T any](dst *tensor.Tensor, dt tensor.DType, shape onnxruntime.Shape, data []T) {
	dst.DType, dst.Shape = dt, shape // GetShape returned a copy
	dst.SetLen(len(data))
	if len(data) > 0 {
		copy(dst.Raw, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), len(dst.Raw)))
	}
}

// setScalar stores v in dst as a rank-0 tensor.
func setScalar[T any](dst *tensor.Tensor, dt tensor.DType, v T) {
	dst.DType, dst.Shape = dt, []int64{}
	dst.SetLen(1)
	copy(dst.Raw, unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v)))
}

// copyZipMap turns a sequence of maps (one per row, class label to
// probability) into a [N, C] FP32 tensor whose columns follow o.Labels.
func (o *output) copyZipMap(dst *tensor.Tensor, v onnxruntime.Value) error {
	seq, ok := v.(*onnxruntime.Sequence)
	if !ok {
		return fmt.Errorf("onnxruntime: output %q: expected a sequence, got %T", o.Name, v)
	}
	rows, err := seq.GetValues()
	if err != nil {
		return fmt.Errorf("onnxruntime: output %q: %w", o.Name, err)
	}
	cols := len(o.Labels)
	dst.DType, dst.Shape = tensor.Float32, []int64{int64(len(rows)), int64(cols)}
	dst.SetLen(len(rows) * cols)
	probs := dst.Float32s()
	clear(probs)
	for i, r := range rows {
		mp, ok := r.(*onnxruntime.Map)
		if !ok {
			return fmt.Errorf("onnxruntime: output %q row %d: expected a map, got %T", o.Name, i, r)
		}
		keys, values, err := mp.GetKeysAndValues()
		if err != nil {
			return fmt.Errorf("onnxruntime: output %q row %d: %w", o.Name, i, err)
		}
		if err := o.fillRow(probs[i*cols:(i+1)*cols], keys, values); err != nil {
			return fmt.Errorf("onnxruntime: output %q row %d: %w", o.Name, i, err)
		}
	}
	return nil
}

// fillRow places one map's values in the columns of their keys.
func (o *output) fillRow(row []float32, keys, values onnxruntime.Value) error {
	var vals []float32
	switch t := values.(type) {
	case *onnxruntime.Tensor[float32]:
		vals = t.GetData()
	case *onnxruntime.Tensor[float64]:
		vals = make([]float32, len(t.GetData()))
		for i, x := range t.GetData() {
			vals[i] = float32(x)
		}
	default:
		return fmt.Errorf("map values are %T, not floats", values)
	}
	switch k := keys.(type) {
	case *onnxruntime.Tensor[int64]:
		if o.intCols == nil {
			return fmt.Errorf("map keys are INT64, the model declares STRING")
		}
		ks := k.GetData()
		if len(ks) != len(vals) {
			return fmt.Errorf("%d keys for %d values", len(ks), len(vals))
		}
		for j, key := range ks {
			col := j
			if j >= len(o.intKeys) || o.intKeys[j] != key { // ZipMap keeps the label order
				var ok bool
				if col, ok = o.intCols[key]; !ok {
					return fmt.Errorf("class %d is not one of the ZipMap labels", key)
				}
			}
			row[col] = vals[j]
		}
	case *onnxruntime.StringTensor:
		if o.strCols == nil {
			return fmt.Errorf("map keys are STRING, the model declares INT64")
		}
		ks, err := k.GetContents()
		if err != nil {
			return err
		}
		if len(ks) != len(vals) {
			return fmt.Errorf("%d keys for %d values", len(ks), len(vals))
		}
		for j, key := range ks {
			col, ok := o.strCols[key]
			if !ok {
				return fmt.Errorf("class %q is not one of the ZipMap labels", key)
			}
			row[col] = vals[j]
		}
	default:
		return fmt.Errorf("map keys are %T", keys)
	}
	return nil
}
