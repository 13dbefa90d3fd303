package export

import (
	"fmt"
	"strconv"

	"github.com/lantern-mlops/lantern/internal/onnx/build"
	"github.com/lantern-mlops/lantern/training/linear"
	"github.com/lantern-mlops/lantern/training/mlp"
)

// scaler adds the standardisation (x − mean)·scale as an ai.onnx.ml Scaler
// and returns its output.
func scaler(g *build.Graph, mean, scale []float32) string {
	g.Node(build.DomainML, "Scaler", []string{InputFeatures}, []string{"standardised"},
		build.Floats("offset", mean), build.Floats("scale", scale))
	return "standardised"
}

func checkClassifier(features, classes []string, mean, scale []float32) error {
	if err := checkNames("feature", features); err != nil {
		return err
	}
	if err := checkNames("class", classes); err != nil {
		return err
	}
	if len(classes) < 2 {
		return fmt.Errorf("%w: %d classes", ErrModel, len(classes))
	}
	if len(mean) != len(features) || len(scale) != len(features) {
		return fmt.Errorf("%w: %d features but %d means and %d scales", ErrModel, len(features), len(mean), len(scale))
	}
	return nil
}

// Logistic writes a multinomial logistic regression as an ai.onnx.ml
// Scaler (the standardisation) and a LinearClassifier with SOFTMAX and
// classlabels_strings: input "features" FLOAT [N, F], outputs "label"
// STRING [N] (the class of the highest score) and "probabilities" FLOAT
// [N, K] (columns in the order of class_names).
func Logistic(m *linear.Model, opts Options) ([]byte, error) {
	nf, nk := len(m.FeatureNames), len(m.Classes)
	if err := checkClassifier(m.FeatureNames, m.Classes, m.Mean, m.Scale); err != nil {
		return nil, err
	}
	if len(m.Coef) != nf*nk || len(m.Intercept) != nk {
		return nil, fmt.Errorf("%w: %d coefficients and %d intercepts for %d features and %d classes", ErrModel, len(m.Coef), len(m.Intercept), nf, nk)
	}
	g := build.NewGraph("lantern_logistic")
	featuresInput(g, nf)
	classifierOutputs(g, nk)
	z := scaler(g, m.Mean, m.Scale)
	// ONNX Runtime reads multi_class but does not use it: with one
	// intercept per class (no binary special case, so two classes work
	// too) the label is the first highest score and SOFTMAX turns the
	// scores into probabilities. 1 says "multinomial" to other readers.
	g.Node(build.DomainML, "LinearClassifier", []string{z}, []string{OutputLabel, OutputProbabilities},
		build.Strings("classlabels_strings", m.Classes),
		build.Floats("coefficients", m.Coef),
		build.Floats("intercepts", m.Intercept),
		build.Int("multi_class", 1),
		build.String("post_transform", "SOFTMAX"),
	)
	return finish(g, header{trainer: "logistic", family: FamilyClassification, features: m.FeatureNames, classes: m.Classes, params: m.Params}, opts)
}

// MLP writes a multilayer perceptron as Scaler → Gemm (transB) → Relu … →
// Gemm → Softmax, the "probabilities" FLOAT [N, K], and ArgMax →
// LabelEncoder (class index → class name) for "label" STRING [N].
func MLP(m *mlp.Model, opts Options) ([]byte, error) {
	nf, nk := len(m.FeatureNames), len(m.Classes)
	if err := checkClassifier(m.FeatureNames, m.Classes, m.Mean, m.Scale); err != nil {
		return nil, err
	}
	if len(m.Layers) == 0 || m.Layers[0].In != nf || m.Layers[len(m.Layers)-1].Out != nk {
		return nil, fmt.Errorf("%w: layers do not map %d features to %d classes", ErrModel, nf, nk)
	}
	g := build.NewGraph("lantern_mlp")
	featuresInput(g, nf)
	classifierOutputs(g, nk)
	x := scaler(g, m.Mean, m.Scale)
	width := nf
	for i, l := range m.Layers {
		if l.In != width || len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			return nil, fmt.Errorf("%w: layer %d is %d×%d with %d weights and %d biases after a layer of width %d", ErrModel, i, l.Out, l.In, len(l.W), len(l.B), width)
		}
		name := "layer" + strconv.Itoa(i)
		w := g.Floats(name+".weight", []int64{int64(l.Out), int64(l.In)}, l.W)
		b := g.Floats(name+".bias", []int64{int64(l.Out)}, l.B)
		g.Node(build.DomainONNX, "Gemm", []string{x, w, b}, []string{name}, build.Int("transB", 1))
		x = name
		if i < len(m.Layers)-1 {
			g.Node(build.DomainONNX, "Relu", []string{x}, []string{name + ".relu"})
			x = name + ".relu"
		}
		width = l.Out
	}
	g.Node(build.DomainONNX, "Softmax", []string{x}, []string{OutputProbabilities}, build.Int("axis", 1))
	g.Node(build.DomainONNX, "ArgMax", []string{OutputProbabilities}, []string{"class_index"}, build.Int("axis", 1), build.Int("keepdims", 0))
	keys := make([]int64, nk)
	for k := range keys {
		keys[k] = int64(k)
	}
	g.Node(build.DomainML, "LabelEncoder", []string{"class_index"}, []string{OutputLabel},
		build.Ints("keys_int64s", keys),
		build.Strings("values_strings", m.Classes),
		build.String("default_string", ""),
	)
	return finish(g, header{trainer: "mlp", family: FamilyClassification, features: m.FeatureNames, classes: m.Classes, params: m.Params}, opts)
}
