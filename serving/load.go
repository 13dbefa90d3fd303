package serving

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Checker is implemented by engines that can tell, without loading, which
// operators of a model they lack (the native engine). "auto" uses it.
type Checker interface {
	Unsupported(model []byte) ([]string, error)
}

// nanOps route or replace missing values, so models using them may get NaN inputs.
var nanOps = []string{"TreeEnsembleRegressor", "TreeEnsembleClassifier", "TreeEnsemble", "Imputer", "IsNaN"}

// load fetches v's model file (cache first), picks an engine, loads and warms it.
func (m *Manager) load(ctx context.Context, name string, v *registry.Version) (*loaded, error) {
	if v.Status != registry.StatusReady {
		return nil, fmt.Errorf("version %d of %q is %s, not READY", v.Version, name, v.Status)
	}
	sha := modelSHA(v)
	if v.ModelFile == "" || sha == "" {
		return nil, fmt.Errorf("version %d of %q: %w", v.Version, name, errNoModelFile)
	}
	var size int64
	for _, a := range v.Artifacts {
		if a.Path == v.ModelFile {
			size = a.Size
		}
	}
	data, err := m.cache.fetch(ctx, sha, size, func(ctx context.Context) (io.ReadCloser, error) {
		return m.src.Open(ctx, name, v.Version, v.ModelFile)
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s of version %d: %w", v.ModelFile, v.Version, err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("version %d of %q: model file is not valid ONNX: %w", v.Version, name, err)
	}
	engineName, model, err := m.pickEngine(ctx, name, data)
	if err != nil {
		return nil, err
	}
	l := &loaded{
		name: name, version: v, engine: engineName, model: model, loadedAt: time.Now(),
		drained: make(chan struct{}), inputs: map[string]tensor.Info{},
	}
	for _, in := range model.Inputs() {
		l.inputs[in.Name] = in
	}
	for _, out := range model.Outputs() {
		l.outputs = append(l.outputs, out.Name)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if slices.Contains(nanOps, n.GetOpType()) {
			l.allowNaN = true
		}
	}
	l.info = ModelInfo{
		Name: name, Versions: []string{l.versionString()}, Platform: "onnx_onnxv1",
		Inputs: model.Inputs(), Outputs: model.Outputs(),
		Properties: map[string]string{"engine": engineName, "sha256": sha, "registry_version": l.versionString()},
	}
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == "feature_names" {
			l.info.Properties["feature_names"] = p.GetValue()
		}
	}
	if err := warmUp(ctx, l); err != nil {
		_ = model.Close()
		return nil, fmt.Errorf("version %d of %q loaded on %s but a warm-up inference failed: %w", v.Version, name, engineName, err)
	}
	if bo, ok := m.batchOptions(name); ok && bo.MaxBatch > 1 {
		l.batch = newBatcher(l, bo, m.metrics)
	}
	return l, nil
}

// pickEngine loads the model on the configured engine, or for "auto" on
// the native engine when it has every operator, else ONNX Runtime.
func (m *Manager) pickEngine(ctx context.Context, name string, data []byte) (string, Model, error) {
	choice := m.opts.Engine
	if c, ok := m.opts.EngineFor[name]; ok {
		choice = c
	}
	if choice != "auto" {
		model, err := m.opts.Engines[choice].Load(ctx, data, m.opts.Load)
		return choice, model, err
	}
	native := m.opts.Engines["native"]
	var missing []string
	if c, ok := native.(Checker); ok {
		var err error
		if missing, err = c.Unsupported(data); err != nil {
			return "", nil, err
		}
	}
	if len(missing) == 0 {
		model, err := native.Load(ctx, data, m.opts.Load)
		if err == nil || !errors.Is(err, ErrUnsupported) {
			return "native", model, err
		}
	}
	if ort := m.opts.Engines["onnxruntime"]; ort != nil {
		model, err := ort.Load(ctx, data, m.opts.Load)
		return "onnxruntime", model, err
	}
	return "", nil, fmt.Errorf("%w: the native engine lacks %s, and ONNX Runtime is not available: run `make onnxruntime` and start with --ort-lib PATH (or LANTERN_ORT_LIB)",
		ErrUnsupported, strings.Join(missing, ", "))
}

// warmUp runs one inference with zeros (batch 1), so the first real request
// does not pay for lazy initialisation, and a model that cannot run is
// refused before it replaces a working version.
func warmUp(ctx context.Context, l *loaded) error {
	var in []tensor.Tensor
	for _, info := range l.info.Inputs {
		shape := make([]int64, len(info.Shape))
		for i, d := range info.Shape {
			shape[i] = max(d, 1)
		}
		t := tensor.Tensor{Name: info.Name, DType: info.DType, Shape: shape}
		n := int(tensor.NumElements(shape))
		t.SetLen(n)
		if t.DType == tensor.String {
			for i := range t.Strings {
				t.Strings[i] = []byte{}
			}
		}
		in = append(in, t)
	}
	resp, err := l.run(ctx, &InferRequest{Inputs: in})
	resp.Release()
	return err
}
