package native

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Engine runs ONNX models in pure Go. It implements serving.Engine and
// serving.Checker; the zero value is ready to use, and it is safe for
// concurrent use.
type Engine struct{}

var (
	_ serving.Engine  = (*Engine)(nil)
	_ serving.Checker = (*Engine)(nil)
	_ serving.Model   = (*Model)(nil)
)

// New returns the native engine.
func New() *Engine { return &Engine{} }

// Name returns "native".
func (e *Engine) Name() string { return "native" }

// Unsupported lists what the engine lacks to run model: operators, as
// "ai.onnx/LSTM (opset 14)" (domain, operator, the model's import of the
// domain), and graph features ("sparse initializers", "graph input \"x\" of
// type seq(tensor(FLOAT))"...). An empty list means Load should succeed; Load
// can still find an operator used with an element type the engine lacks,
// and then fails with an error wrapping serving.ErrUnsupported. The error is
// for bytes that are not a valid ONNX model.
func (e *Engine) Unsupported(model []byte) ([]string, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, fmt.Errorf("native: %w: %v", onnx.ErrInvalidModel, err)
	}
	return scan(&m)
}

// Load parses and plans a model. Of the options, only IntraOpThreads is
// used: the most goroutines a Gemm, MatMul, Softmax or tree ensemble of a
// large batch splits its rows across (0: GOMAXPROCS; 1: a Run computes on
// its goroutine). Errors wrap serving.ErrUnsupported (an *UnsupportedError
// listing what is missing) when the engine cannot run the model, and
// onnx.ErrInvalidModel when the model is not valid.
func (e *Engine) Load(ctx context.Context, model []byte, opts serving.LoadOptions) (serving.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(model, &mp); err != nil {
		return nil, fmt.Errorf("native: %w: %v", onnx.ErrInvalidModel, err)
	}
	var p *plan
	err := protect(func() (err error) {
		p, err = compile(&mp)
		return err
	})
	var ue *UnsupportedError
	switch {
	case errors.As(err, &ue):
		return nil, ue
	case err != nil:
		return nil, fmt.Errorf("native: %w", err)
	}
	return newModel(p, max(opts.IntraOpThreads, 0)), nil
}

// Model is a model loaded by the native engine. It is safe for concurrent
// use.
type Model struct {
	p       *plan
	inputs  []tensor.Info
	outputs []tensor.Info
	closed  atomic.Bool
	threads int // LoadOptions.IntraOpThreads

	pools  atomic.Pointer[map[uint64]*sync.Pool] // by input signature; copied on write
	poolMu sync.Mutex
	shared *sync.Pool // for signatures beyond maxPools
}

// maxPools bounds the number of input signatures (types and shapes) that get
// a pool of run states of their own.
const maxPools = 32

func newModel(p *plan, threads int) *Model {
	m := &Model{p: p, threads: threads}
	for _, in := range p.inputs {
		if in.def == nil {
			m.inputs = append(m.inputs, in.info)
		}
	}
	for _, o := range p.outputs {
		m.outputs = append(m.outputs, o.info)
	}
	empty := map[uint64]*sync.Pool{}
	m.pools.Store(&empty)
	m.shared = m.newPool()
	return m
}

func (m *Model) newPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		st := m.p.newState()
		st.threads = m.threads
		return st
	}}
}

// Inputs describes the inputs to feed: inputs that have an initializer are
// optional and left out (Run still accepts them by name).
func (m *Model) Inputs() []tensor.Info { return cloneInfos(m.inputs) }

// Outputs describes the outputs. A ZipMap output (a sequence of maps in
// ONNX) is a [N, C] FP32 tensor whose column j holds the probability of
// class Labels[j].
func (m *Model) Outputs() []tensor.Info { return cloneInfos(m.outputs) }

func cloneInfos(infos []tensor.Info) []tensor.Info {
	out := slices.Clone(infos)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
		out[i].Labels = slices.Clone(out[i].Labels)
	}
	return out
}

// Close releases the model's pooled memory. Run fails after Close.
func (m *Model) Close() error {
	m.closed.Store(true)
	empty := map[uint64]*sync.Pool{}
	m.pools.Store(&empty)
	return nil
}

// Run computes the requested outputs. Inputs are matched by name and checked
// (datatype, rank, fixed dimensions, data size); errors about them and about
// values the model cannot take wrap serving.ErrInvalidInput. Fixed-size
// inputs are read in place (copied once if not 8-byte aligned). Outputs are
// copied into out, reusing the capacity of Shape, Raw, Strings and of each
// element of Strings, so with recycled out tensors and inputs of fixed
// shapes a Run allocates nothing.
func (m *Model) Run(ctx context.Context, in []tensor.Tensor, out []tensor.Tensor) (err error) {
	if m.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pool := m.pool(in)
	st := pool.Get().(*state)
	healthy := false
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("native: internal error: %v", r)
			return
		}
		if healthy {
			m.release(st)
			pool.Put(st)
		}
	}()
	if err := m.bind(st, in, out); err != nil {
		healthy = true
		return err
	}
	err = m.p.execute(st, ctx)
	if err == nil {
		m.copyOut(st, out)
	}
	healthy = true
	return err
}

// pool returns the pool of states for the signature of in.
func (m *Model) pool(in []tensor.Tensor) *sync.Pool {
	var sig uint64
	for i := range in {
		h := uint64(14695981039346656037)
		for j := 0; j < len(in[i].Name); j++ {
			h = (h ^ uint64(in[i].Name[j])) * 1099511628211
		}
		h = (h ^ uint64(in[i].DType)) * 1099511628211
		for _, d := range in[i].Shape {
			h = (h ^ uint64(d)) * 1099511628211
		}
		sig += h * 0x9e3779b97f4a7c15 // order of the inputs does not matter
	}
	if p := (*m.pools.Load())[sig]; p != nil {
		return p
	}
	m.poolMu.Lock()
	defer m.poolMu.Unlock()
	pools := *m.pools.Load()
	if p := pools[sig]; p != nil {
		return p
	}
	if len(pools) >= maxPools {
		return m.shared
	}
	next := make(map[uint64]*sync.Pool, len(pools)+1)
	for k, v := range pools {
		next[k] = v
	}
	p := m.newPool()
	next[sig] = p
	m.pools.Store(&next)
	return p
}

// bind checks the request and points the graph inputs at the caller's data.
func (m *Model) bind(st *state, in, out []tensor.Tensor) error {
	p := m.p
	clear(st.fed)
	for i := range in {
		t := &in[i]
		k, ok := p.inputIdx[t.Name]
		if !ok {
			return invalidf("unknown input %q (the model's inputs are %s)", t.Name, describeInfos(m.inputs))
		}
		if st.fed[k] {
			return invalidf("input %q is given twice", t.Name)
		}
		st.fed[k] = true
		gi := &p.inputs[k]
		if t.DType != gi.info.DType {
			return invalidf("input %q: expected datatype %s, got %s", t.Name, gi.info.DType, describeDType(t.DType))
		}
		if gi.rankKnown && !shapeFits(gi.info.Shape, t.Shape) {
			return invalidf("input %q: expected shape %s, got %s", t.Name, shapeString(gi.info.Shape), shapeString(t.Shape))
		}
		if err := t.Validate(); err != nil {
			return invalidf("%v", err)
		}
		if _, ok := checkedElems(t.Shape); !ok {
			return invalidf("input %q: shape %s is too large", t.Name, shapeString(t.Shape))
		}
		v := &st.vals[gi.value]
		v.DType, v.Shape = t.DType, t.Shape
		if t.DType == tensor.String {
			v.Strings, v.Raw = t.Strings, nil
			continue
		}
		v.Strings = nil
		if isAligned(t.Raw) {
			v.Raw = t.Raw
			continue
		}
		buf := st.inBufs[k]
		if cap(buf) < len(t.Raw) {
			buf = tensor.Alloc(len(t.Raw))
		}
		buf = buf[:len(t.Raw)]
		copy(buf, t.Raw)
		st.inBufs[k] = buf
		v.Raw = buf
	}
	for k, fed := range st.fed {
		if fed {
			continue
		}
		gi := &p.inputs[k]
		if gi.def == nil {
			return invalidf("missing input %q (%s %s)", gi.info.Name, gi.info.DType, shapeString(gi.info.Shape))
		}
		st.vals[gi.value] = *gi.def
	}
	if len(out) == 0 {
		return invalidf("no outputs requested (the model's outputs are %s)", describeInfos(m.outputs))
	}
	clear(st.want)
	for j := range out {
		k, ok := p.outIdx[out[j].Name]
		if !ok {
			return invalidf("unknown output %q (the model's outputs are %s)", out[j].Name, describeInfos(m.outputs))
		}
		if st.want[k] {
			return invalidf("output %q is requested twice", out[j].Name)
		}
		st.want[k] = true
	}
	return nil
}

// copyOut copies the requested outputs into the caller's tensors.
func (m *Model) copyOut(st *state, out []tensor.Tensor) {
	for j := range out {
		o := &out[j]
		v := &st.vals[m.p.outputs[m.p.outIdx[o.Name]].value]
		o.DType = v.DType
		o.Shape = append(o.Shape[:0], v.Shape...)
		if o.Shape == nil {
			o.Shape = []int64{} // a scalar; does not allocate
		}
		n := numElems(v.Shape)
		if v.DType == tensor.String {
			o.Raw = o.Raw[:0]
			if cap(o.Strings) < n {
				o.Strings = append(o.Strings[:cap(o.Strings)], make([][]byte, n-cap(o.Strings))...)
			}
			o.Strings = o.Strings[:n]
			for i, s := range v.Strings[:n] {
				o.Strings[i] = append(o.Strings[i][:0], s...)
			}
			continue
		}
		o.Strings = o.Strings[:0]
		o.SetLen(n)
		copy(o.Raw, v.Raw)
	}
}

// release drops the state's references to the caller's memory.
func (m *Model) release(st *state) {
	for _, gi := range m.p.inputs {
		v := &st.vals[gi.value]
		v.Raw, v.Strings, v.Shape = nil, nil, nil
	}
	for id := range m.p.values {
		if m.p.values[id].alias {
			st.vals[id].Raw, st.vals[id].Strings = nil, nil
		}
	}
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

func describeDType(d tensor.DType) string {
	if d == tensor.Invalid {
		return "no datatype"
	}
	return d.String()
}

func describeInfos(infos []tensor.Info) string {
	parts := make([]string, len(infos))
	for i, in := range infos {
		parts[i] = strconv.Quote(in.Name) + " (" + in.DType.String() + " " + shapeString(in.Shape) + ")"
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
