//go:build cgo

package ort

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Model is a model loaded into an ONNX Runtime session. It implements
// serving.Model and is safe for concurrent use.
type Model struct {
	inputs  []input  // in session order
	outputs []output // in session order
	inIndex map[string]int
	outIdx  map[string]int
	calls   sync.Pool // *call, scratch space of Run

	mu   sync.RWMutex // Run reads sess, Close clears it
	sess *onnxruntime.DynamicAdvancedSession
}

var _ serving.Model = (*Model)(nil)

// input is a model input.
type input struct {
	tensor.Info
	rankKnown bool // false: the model does not say the rank; Info.Shape is nil
}

// output is a model output.
type output struct {
	tensor.Info
	scalar bool // a fixed-size rank-0 tensor, which Run allocates
	// zipMap outputs are sequences of maps from class label to probability,
	// returned as a [N, len(Labels)] FP32 tensor. Their keys are INT64
	// (intCols) or STRING (strCols).
	zipMap  bool
	intKeys []int64
	intCols map[int64]int
	strCols map[string]int
}

// Load creates an ONNX Runtime session for a model. Bytes that are not a
// valid model, and models with no inputs, wrap onnx.ErrInvalidModel (with the
// messages of the registry's upload checks). Models ONNX Runtime cannot run,
// and models whose inputs or outputs Lantern cannot carry (sequences and maps
// other than ZipMap outputs, FLOAT16/BFLOAT16 outputs, STRING scalar outputs),
// wrap serving.ErrUnsupported. Bad options wrap errkind.Invalid. ONNX Runtime
// cannot stop a load in progress, so ctx is only checked before.
func (e *Engine) Load(ctx context.Context, model []byte, opts serving.LoadOptions) (serving.Model, error) {
	if e.lib == "" {
		return nil, fmt.Errorf("%w: the engine was not made with ort.New", ErrNoLibrary)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	sig, err := onnx.ReadSignature(bytes.NewReader(model))
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	if sig.ExternalData {
		return nil, unsupportedf("the model keeps initializer data in external files, which a model loaded from bytes cannot reach")
	}
	var ins, outs []onnxruntime.InputOutputInfo
	err = protect("read the model's inputs and outputs", func() (err error) {
		ins, outs, err = onnxruntime.GetInputOutputInfoWithONNXData(model)
		return err
	})
	if err != nil {
		return nil, loadError(err)
	}
	m, err := newModel(model, sig, ins, outs)
	if err != nil {
		return nil, err
	}
	var optErr error
	err = protect("create the session", func() error {
		so, err := sessionOptions(opts)
		if err != nil {
			optErr = err
			return nil
		}
		defer so.Destroy()
		inNames := make([]string, len(m.inputs))
		for i, in := range m.inputs {
			inNames[i] = in.Name
		}
		outNames := make([]string, len(m.outputs))
		for i, out := range m.outputs {
			outNames[i] = out.Name
		}
		m.sess, err = onnxruntime.NewDynamicAdvancedSessionWithONNXData(model, inNames, outNames, so)
		return err
	})
	if optErr != nil {
		return nil, fmt.Errorf("onnxruntime: session options: %w", optErr)
	}
	if err != nil {
		return nil, loadError(err)
	}
	return m, nil
}

// newModel describes a model's inputs and outputs from what ONNX Runtime
// reports (ins, outs), completed by the model's signature and ZipMap labels.
func newModel(model []byte, sig *onnx.Signature, ins, outs []onnxruntime.InputOutputInfo) (*Model, error) {
	// DynamicAdvancedSession.Run indexes its inputs and panics without one.
	if len(ins) == 0 {
		return nil, unsupportedf("the model has no inputs to feed; Lantern serves models that compute outputs from request inputs")
	}
	declared := map[string]onnx.Tensor{}
	for _, t := range slices.Concat(sig.Inputs, sig.Outputs) {
		declared[t.Name] = t
	}
	m := &Model{inIndex: make(map[string]int, len(ins)), outIdx: make(map[string]int, len(outs))}
	for i, info := range ins {
		if info.OrtValueType != onnxruntime.ONNXTypeTensor {
			return nil, unsupportedf("input %q is a %s; Lantern can only feed tensors", info.Name, valueKind(info, declared))
		}
		dt, ok := dtypeOf(info.DataType)
		if !ok {
			return nil, unsupportedf("input %q has element type %s, which Lantern cannot carry", info.Name, elemName(info.DataType))
		}
		in := input{Info: tensor.Info{Name: info.Name, DType: dt, Shape: []int64(info.Dimensions)}, rankKnown: true}
		// ONNX Runtime reports an unknown rank as rank 0; the model tells them apart.
		if d, ok := declared[info.Name]; ok && d.Shape == nil {
			in.Shape, in.rankKnown = nil, false
		}
		if in.rankKnown && len(in.Shape) == 0 && dt == tensor.String {
			return nil, unsupportedf("input %q is a STRING scalar, which onnxruntime_go cannot create", info.Name)
		}
		if in.rankKnown && len(in.Shape) == 0 && (dt == tensor.Float16 || dt == tensor.BFloat16) {
			return nil, unsupportedf("input %q is a %s scalar, which onnxruntime_go cannot create", info.Name, dt.ONNX())
		}
		m.inIndex[in.Name] = i
		m.inputs = append(m.inputs, in)
	}

	var zipMaps []string
	for _, info := range outs {
		if info.OrtValueType == onnxruntime.ONNXTypeSequence {
			zipMaps = append(zipMaps, info.Name)
		}
	}
	var labels map[string][]string
	if len(zipMaps) > 0 {
		var err error
		if labels, err = zipMapLabels(model, zipMaps); err != nil {
			return nil, fmt.Errorf("onnxruntime: read the ZipMap class labels: %w", err)
		}
	}
	for i, info := range outs {
		var out output
		switch info.OrtValueType {
		case onnxruntime.ONNXTypeTensor:
			dt, ok := dtypeOf(info.DataType)
			if !ok {
				return nil, unsupportedf("output %q has element type %s, which Lantern cannot carry", info.Name, elemName(info.DataType))
			}
			if dt == tensor.Float16 || dt == tensor.BFloat16 {
				// onnxruntime_go v1.27.0 copies only one byte per element of
				// a 16-bit float output that ONNX Runtime allocates.
				return nil, unsupportedf("output %q is %s, which onnxruntime_go cannot return; add a Cast to FLOAT at the end of the model", info.Name, dt.ONNX())
			}
			out = output{Info: tensor.Info{Name: info.Name, DType: dt, Shape: []int64(info.Dimensions)}}
			if d, ok := declared[info.Name]; ok && d.Shape == nil {
				out.Shape = nil
			} else if len(out.Shape) == 0 {
				// onnxruntime_go cannot wrap a rank-0 output that ONNX Runtime
				// allocates; Run passes a scalar of its own instead.
				if dt == tensor.String {
					return nil, unsupportedf("output %q is a STRING scalar, which onnxruntime_go cannot return", info.Name)
				}
				out.scalar = true
			}
		case onnxruntime.ONNXTypeSequence:
			d := declared[info.Name]
			l := labels[info.Name]
			if d.Type != "seq(map(int64,tensor(float)))" && d.Type != "seq(map(string,tensor(float)))" &&
				d.Type != "seq(map(int64,float))" && d.Type != "seq(map(string,float))" || l == nil {
				return nil, unsupportedf("output %q is a %s that no ZipMap produces; Lantern returns sequences only as ZipMap class probabilities",
					info.Name, valueKind(info, declared))
			}
			var err error
			if out, err = zipMapOutput(info.Name, d.KeyType, l); err != nil {
				return nil, err
			}
		default:
			return nil, unsupportedf("output %q is a %s; Lantern can only return tensors and ZipMap class probabilities", info.Name, valueKind(info, declared))
		}
		m.outIdx[out.Name] = i
		m.outputs = append(m.outputs, out)
	}
	n, k := len(m.inputs), len(m.outputs)
	m.calls.New = func() any {
		return &call{ins: make([]onnxruntime.Value, n), outs: make([]onnxruntime.Value, k), fed: make([]bool, n), want: make([]bool, k)}
	}
	return m, nil
}

// zipMapOutput describes a ZipMap output with the given key type and labels.
func zipMapOutput(name, keyType string, labels []string) (output, error) {
	out := output{
		Info:   tensor.Info{Name: name, DType: tensor.Float32, Shape: []int64{-1, int64(len(labels))}, Labels: labels},
		zipMap: true,
	}
	switch keyType {
	case "INT64":
		out.intKeys = make([]int64, len(labels))
		out.intCols = make(map[int64]int, len(labels))
		for j, l := range labels {
			k, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				return output{}, unsupportedf("output %q: ZipMap label %q is not an integer", name, l)
			}
			out.intKeys[j], out.intCols[k] = k, j
		}
	case "STRING":
		out.strCols = make(map[string]int, len(labels))
		for j, l := range labels {
			out.strCols[l] = j
		}
	default:
		return output{}, unsupportedf("output %q: ZipMap keys of type %s", name, keyType)
	}
	return out, nil
}

// valueKind names the type of a non-tensor input or output for messages.
func valueKind(info onnxruntime.InputOutputInfo, declared map[string]onnx.Tensor) string {
	if d, ok := declared[info.Name]; ok && d.Type != "" {
		return d.Type
	}
	return strings.ToLower(strings.TrimPrefix(info.OrtValueType.String(), "ONNX_TYPE_"))
}

// dtypeOf maps an ONNX Runtime element type; ONNX Runtime numbers them as
// ONNX's TensorProto.DataType does.
func dtypeOf(t onnxruntime.TensorElementDataType) (tensor.DType, bool) {
	return tensor.FromONNXElem(int32(t))
}

func elemName(t onnxruntime.TensorElementDataType) string { return onnx.ElemTypeName(int32(t)) }

// checkOptions validates LoadOptions before any ONNX Runtime object is made.
func checkOptions(o serving.LoadOptions) error {
	if _, ok := optimizationLevels[o.OptimizationLevel]; !ok {
		return fmt.Errorf("%w: onnxruntime: optimization level %q (want disable, basic, extended or all)", errkind.Invalid, o.OptimizationLevel)
	}
	if o.IntraOpThreads < 0 || o.InterOpThreads < 0 {
		return fmt.Errorf("%w: onnxruntime: thread counts must not be negative (intra-op %d, inter-op %d)", errkind.Invalid, o.IntraOpThreads, o.InterOpThreads)
	}
	return nil
}

var optimizationLevels = map[string]onnxruntime.GraphOptimizationLevel{
	"":         onnxruntime.GraphOptimizationLevelEnableAll,
	"all":      onnxruntime.GraphOptimizationLevelEnableAll,
	"extended": onnxruntime.GraphOptimizationLevelEnableExtended,
	"basic":    onnxruntime.GraphOptimizationLevelEnableBasic,
	"disable":  onnxruntime.GraphOptimizationLevelDisableAll,
}

// sessionOptions turns LoadOptions into ONNX Runtime session options. Nodes
// run one after another unless InterOpThreads asks for more than one thread,
// which only a parallel execution mode uses.
func sessionOptions(o serving.LoadOptions) (*onnxruntime.SessionOptions, error) {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	mode := onnxruntime.ExecutionMode(onnxruntime.ExecutionModeSequential)
	if o.InterOpThreads > 1 {
		mode = onnxruntime.ExecutionModeParallel
	}
	err = so.SetExecutionMode(mode)
	if err == nil {
		err = so.SetGraphOptimizationLevel(optimizationLevels[o.OptimizationLevel])
	}
	if err == nil && o.IntraOpThreads > 0 {
		err = so.SetIntraOpNumThreads(o.IntraOpThreads)
	}
	if err == nil && o.InterOpThreads > 0 {
		err = so.SetInterOpNumThreads(o.InterOpThreads)
	}
	if err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

// Inputs describes the inputs to feed, in the model's order.
func (m *Model) Inputs() []tensor.Info {
	infos := make([]tensor.Info, len(m.inputs))
	for i, in := range m.inputs {
		infos[i] = cloneInfo(in.Info)
	}
	return infos
}

// Outputs describes the outputs, in the model's order. A ZipMap output is
// [-1, C] FP32 with its class labels in Labels.
func (m *Model) Outputs() []tensor.Info {
	infos := make([]tensor.Info, len(m.outputs))
	for i, out := range m.outputs {
		infos[i] = cloneInfo(out.Info)
	}
	return infos
}

func cloneInfo(i tensor.Info) tensor.Info {
	i.Shape = slices.Clone(i.Shape)
	i.Labels = slices.Clone(i.Labels)
	return i
}

// Close destroys the session. It waits for runs in progress; it is safe to
// call more than once.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sess == nil {
		return nil
	}
	err := protect("destroy the session", m.sess.Destroy)
	m.sess = nil
	return err
}
