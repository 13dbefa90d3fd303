package training

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/tensor"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/dataset"
)

// load reads and checks the dataset.
func load(ctx context.Context, cfg *Config, schema *dataset.Schema) (*dataset.Frame, *Result, error) {
	cfg.Progress("load", cfg.Data)
	frame, quality, err := data.Load(ctx, cfg.Data, schema, cfg.DataOptions)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", cfg.Data, err)
	}
	res := &Result{Quality: quality, Rows: frame.Len(), Files: map[string][]byte{}}
	cfg.Progress("quality", fmt.Sprintf("%d rows read, %d loaded, %d dropped, %d values set missing",
		quality.Rows.Read, quality.Rows.Loaded, quality.Rows.Dropped, quality.Rows.ValuesSetMissing))
	if err := quality.Verify(*cfg.Quality); err != nil {
		return nil, res, err
	}
	return frame, res, nil
}

// checkParity runs the exported model on the native engine over the test
// rows and compares it with the in-memory model: predictions (regression)
// or probabilities (classification, k per row), 1e-4 relative.
func checkParity(ctx context.Context, onnx []byte, x *dataset.Matrix, rows []int, pred, probs []float64) error {
	m, err := native.New().Load(ctx, onnx, serving.LoadOptions{})
	if err != nil {
		return fmt.Errorf("the exported model does not load: %w", err)
	}
	defer m.Close()
	sub := x.Subset(rows)
	in := make([]float32, 0, sub.Rows*len(sub.Cols))
	row := make([]float32, len(sub.Cols))
	for i := range sub.Rows {
		in = append(in, sub.Row(i, row)...)
	}
	var out []tensor.Tensor
	for _, o := range m.Outputs() {
		out = append(out, tensor.Tensor{Name: o.Name})
	}
	if err := m.Run(ctx, []tensor.Tensor{tensor.FromFloat32("features", []int64{int64(sub.Rows), int64(len(sub.Cols))}, in)}, out); err != nil {
		return fmt.Errorf("the exported model does not run: %w", err)
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-4*math.Max(1, math.Max(math.Abs(a), math.Abs(b))) }
	for _, o := range out {
		switch o.Name {
		case "prediction":
			for k, v := range o.Float32s() {
				if !close(float64(v), pred[rows[k]]) {
					return fmt.Errorf("the exported model predicts %g for test row %d, the trained model %g", v, rows[k], pred[rows[k]])
				}
			}
		case "probabilities":
			kk := int(o.Shape[1])
			for k, v := range o.Float32s() {
				r, c := k/kk, k%kk
				if want := probs[rows[r]*kk+c]; !close(float64(v), want) {
					return fmt.Errorf("the exported model gives probability %g for test row %d, the trained model %g", v, rows[r], want)
				}
			}
		}
	}
	return nil
}

type tensorSpec struct {
	name  string
	dtype string
	shape []int
}

// mlmodel is an MLflow MLmodel file describing the ONNX model, so MLflow
// tools recognise the version (mlflow.onnx flavor, pyfunc).
func mlmodel(features []string, outputs []tensorSpec) []byte {
	spec := func(ts []tensorSpec) string {
		var parts []string
		for _, t := range ts {
			b, _ := json.Marshal(map[string]any{"type": "tensor", "name": t.name, "tensor-spec": map[string]any{"dtype": t.dtype, "shape": t.shape}})
			parts = append(parts, string(b))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	in := spec([]tensorSpec{{"features", "float32", []int{-1, len(features)}}})
	sum := sha256.Sum256([]byte(in + spec(outputs)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "artifact_path: model\nflavors:\n  onnx:\n    code: null\n    data: model.onnx\n    onnx_version: 1.12.0\n    providers:\n    - CPUExecutionProvider\n")
	fmt.Fprintf(&b, "  python_function:\n    data: model.onnx\n    loader_module: mlflow.onnx\n    python_version: 3.11.0\n")
	fmt.Fprintf(&b, "mlflow_version: 2.9.2\nmodel_uuid: %s\n", hex.EncodeToString(sum[:16]))
	fmt.Fprintf(&b, "signature:\n  inputs: '%s'\n  outputs: '%s'\n", in, spec(outputs))
	fmt.Fprintf(&b, "metadata:\n  producer: lantern\n  feature_names: %s\n", strings.Join(features, ","))
	return b.Bytes()
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func sortedKeys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
