package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/onnx/build"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Names of the models' inputs and outputs.
const (
	InputFeatures       = "features"      // FLOAT [N, F]
	OutputPrediction    = "prediction"    // regressors: FLOAT [N, 1]
	OutputLabel         = "label"         // classifiers: STRING [N]
	OutputProbabilities = "probabilities" // classifiers: FLOAT [N, K]
	batchDim            = "N"
)

// Metadata keys the exporters write.
const (
	MetaFeatureNames  = "feature_names"   // comma-separated, the columns of "features"
	MetaClassNames    = "class_names"     // comma-separated, classifiers: the label of each probability column
	MetaModelFamily   = "model_family"    // "demand-forecast" or "classification" unless Options.Family says otherwise
	MetaTrainer       = "trainer"         // "gbrt", "logistic" or "mlp"
	MetaTrainerParams = "trainer_params"  // the trainer's Params as JSON
	MetaVersion       = "lantern_version" // the Lantern build that wrote the model
)

// Model families written by default.
const (
	FamilyDemand         = "demand-forecast"
	FamilyClassification = "classification"
)

// Operator sets the exporters import.
var opsets = map[string]int64{build.DomainONNX: build.OpsetONNX, build.DomainML: build.OpsetML}

// ErrModel is wrapped by errors about a model that cannot be exported.
var ErrModel = errors.New("export: invalid model")

// Options add to an exported model. The zero value works.
type Options struct {
	// Family is the model_family metadata (default by exporter).
	Family string
	// Metadata adds metadata properties (for example the feature encodings
	// of features.DemandSpec.Metadata); the exporter's own keys win.
	Metadata map[string]string
	// Version is the lantern_version metadata (default: this build's).
	Version string
	// ModelVersion is the ONNX model_version (0: left out).
	ModelVersion int64
	// Doc is the model's doc_string.
	Doc string
}

// header is what every exported model shares.
type header struct {
	trainer  string
	family   string
	features []string
	classes  []string
	params   any
}

// checkNames rejects names that would not survive a comma-separated list.
func checkNames(kind string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: no %s names", ErrModel, kind)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, ",") || strings.TrimSpace(n) != n {
			return fmt.Errorf("%w: %s name %q (empty, with a comma or surrounding spaces)", ErrModel, kind, n)
		}
		if seen[n] {
			return fmt.Errorf("%w: %s name %q twice", ErrModel, kind, n)
		}
		seen[n] = true
	}
	return nil
}

// finish wraps g in a model with h's metadata and serializes it.
func finish(g *build.Graph, h header, opts Options) ([]byte, error) {
	params, err := json.Marshal(h.params)
	if err != nil {
		return nil, fmt.Errorf("export: trainer params: %w", err)
	}
	md := maps.Clone(opts.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	md[MetaFeatureNames] = strings.Join(h.features, ",")
	if h.classes != nil {
		md[MetaClassNames] = strings.Join(h.classes, ",")
	}
	md[MetaModelFamily] = h.family
	if opts.Family != "" {
		md[MetaModelFamily] = opts.Family
	}
	md[MetaTrainer] = h.trainer
	md[MetaTrainerParams] = string(params)
	md[MetaVersion] = opts.Version
	if opts.Version == "" {
		md[MetaVersion] = buildinfo.String()
	}
	m, err := build.Model(g, build.ModelOptions{
		Opsets:          opsets,
		ProducerVersion: md[MetaVersion],
		ModelVersion:    opts.ModelVersion,
		Doc:             opts.Doc,
		Metadata:        md,
	})
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", h.trainer, err)
	}
	return build.Marshal(m)
}

// featuresInput declares the "features" input.
func featuresInput(g *build.Graph, nf int) {
	g.Input(InputFeatures, build.TensorType(onnxpb.TensorProto_FLOAT, build.Sym(batchDim), build.Fixed(nf)))
}

// classifierOutputs declares "label" and "probabilities".
func classifierOutputs(g *build.Graph, nk int) {
	g.Output(OutputLabel, build.TensorType(onnxpb.TensorProto_STRING, build.Sym(batchDim)))
	g.Output(OutputProbabilities, build.TensorType(onnxpb.TensorProto_FLOAT, build.Sym(batchDim), build.Fixed(nk)))
}
