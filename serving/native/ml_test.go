package native

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

func mlCase(op string, attrs []*onnxpb.AttributeProto, nOut int, inputs ...tensor.Tensor) nodeCase {
	return nodeCase{op: op, domain: onnxtest.DomainML, attrs: attrs, inputs: inputs, nOut: nOut}
}

type attrList = []*onnxpb.AttributeProto

func TestLinearClassifierOneColumn(t *testing.T) {
	x := f32(sh(3, 2), 1, 1, -1, -1, 0, 0)
	base := attrList{onnxtest.AttrFloats("coefficients", 1, 2), onnxtest.AttrFloats("intercepts", 0.5),
		onnxtest.AttrString("post_transform", "LOGISTIC")}
	// Two labels: Z = [σ(−s), σ(s)] with LOGISTIC (ONNX Runtime 1.30), s = 3.5, -2.5, 0.5.
	out := mlCase("LinearClassifier", append(base, onnxtest.AttrInts("classlabels_ints", 4, 9)), 2, x).mustRun(t)
	wantI64(t, out[0], 9, 4, 9)
	wantShape(t, out[1], 3, 2)
	wantF32(t, out[1], 0.029312231, 0.97068775, 0.92414182, 0.075858180, 0.37754067, 0.62245933)
	// Three labels: one column, and labels 1/0 (ONNX Runtime's behaviour).
	out = mlCase("LinearClassifier", append(base, onnxtest.AttrInts("classlabels_ints", 4, 9, 11)), 2, x).mustRun(t)
	wantI64(t, out[0], 1, 0, 1)
	wantShape(t, out[1], 3, 1)
	wantF32(t, out[1], 3.5, -2.5, 0.5)
	_, err := mlCase("LinearClassifier", append(base, onnxtest.AttrInts("classlabels_ints", 4, 9)), 2, f32(sh(1, 3), 1, 2, 3)).run(t)
	wantInvalid(t, err, "feature count")
}

// tree1 is a tree of one branch: x0 <= 0 goes to leaf 1, else leaf 2.
func tree1(prefix string, ids []int64, w1, w2 []float32) attrList {
	var tids, nids, cids []int64
	var ws []float32
	for i, id := range ids {
		tids, nids, cids = append(tids, 0, 0), append(nids, 1, 2), append(cids, id, id)
		ws = append(ws, w1[i], w2[i])
	}
	return attrList{
		onnxtest.AttrInts("nodes_treeids", 0, 0, 0), onnxtest.AttrInts("nodes_nodeids", 0, 1, 2),
		onnxtest.AttrInts("nodes_featureids", 0, 0, 0), onnxtest.AttrStrings("nodes_modes", "BRANCH_LEQ", "LEAF", "LEAF"),
		onnxtest.AttrFloats("nodes_values", 0, 0, 0), onnxtest.AttrInts("nodes_truenodeids", 1, 0, 0),
		onnxtest.AttrInts("nodes_falsenodeids", 2, 0, 0),
		onnxtest.AttrInts(prefix+"treeids", tids...), onnxtest.AttrInts(prefix+"nodeids", nids...),
		onnxtest.AttrInts(prefix+"ids", cids...), onnxtest.AttrFloats(prefix+"weights", ws...),
	}
}

func TestTreeClassifierBinaryCases(t *testing.T) {
	x := f32(sh(2, 1), -1, 1)
	// One class id (0) with class 1's probability: Z = [1−p, p].
	a := append(tree1("class_", []int64{0}, []float32{0.2}, []float32{0.9}), onnxtest.AttrInts("classlabels_int64s", 5, 9))
	out := mlCase("TreeEnsembleClassifier", a, 2, x).mustRun(t)
	wantI64(t, out[0], 5, 9)
	wantF32(t, out[1], 0.8, 0.2, 0.1, 0.9)
	// Class id 1 instead: ONNX Runtime writes [0, p].
	a = append(tree1("class_", []int64{1}, []float32{0.2}, []float32{0.9}), onnxtest.AttrInts("classlabels_int64s", 5, 9))
	out = mlCase("TreeEnsembleClassifier", a, 2, x).mustRun(t)
	wantI64(t, out[0], 5, 9)
	wantF32(t, out[1], 0, 0.2, 0, 0.9)
	// Both classes have weights: not the binary case; the label is 1 or 0
	// literally (ONNX Runtime), whatever the labels.
	a = append(tree1("class_", []int64{0, 1}, []float32{0.7, 0.3}, []float32{0.1, 0.9}), onnxtest.AttrInts("classlabels_int64s", 5, 9))
	out = mlCase("TreeEnsembleClassifier", a, 2, x).mustRun(t)
	wantI64(t, out[0], 1, 1)
	wantF32(t, out[1], 0.7, 0.3, 0.1, 0.9)
	// Mixed signs, LOGISTIC: [σ(−s), σ(s)].
	a = append(tree1("class_", []int64{0}, []float32{-2}, []float32{3}), onnxtest.AttrInts("classlabels_int64s", 0, 1),
		onnxtest.AttrString("post_transform", "LOGISTIC"))
	out = mlCase("TreeEnsembleClassifier", a, 2, x).mustRun(t)
	wantI64(t, out[0], 0, 1)
	s := func(v float64) float32 { return float32(1 / (1 + math.Exp(-v))) }
	wantF32(t, out[1], s(2), s(-2), s(-3), s(3))
}

func TestTreeRegressorTargets(t *testing.T) {
	// Target 1 is never hit: it scores 0 even with a base value (ONNX Runtime).
	a := append(tree1("target_", []int64{0}, []float32{1}, []float32{2}), onnxtest.AttrInt("n_targets", 2),
		onnxtest.AttrFloats("base_values", 10, 20))
	out := mlCase("TreeEnsembleRegressor", a, 1, f32(sh(2, 1), -1, 1)).mustRun(t)
	wantF32(t, out[0], 11, 0, 12, 0)
	_, err := mlCase("TreeEnsembleRegressor", a, 1, f32(sh(2, 3), 1, 2, 3, 4, 5, 6)).run(t)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mlCase("TreeEnsembleRegressor", a, 1, f32(sh(1, 0))).run(t)
	wantInvalid(t, err, "too few features")
	// Batch 0.
	out = mlCase("TreeEnsembleRegressor", a, 1, f32(sh(0, 1))).mustRun(t)
	wantShape(t, out[0], 0, 2)
	// A cycle is refused at load.
	cyc := attrList{
		onnxtest.AttrInts("nodes_treeids", 0, 0), onnxtest.AttrInts("nodes_nodeids", 0, 1),
		onnxtest.AttrInts("nodes_featureids", 0, 0), onnxtest.AttrStrings("nodes_modes", "BRANCH_LEQ", "BRANCH_LEQ"),
		onnxtest.AttrFloats("nodes_values", 0, 0), onnxtest.AttrInts("nodes_truenodeids", 1, 0),
		onnxtest.AttrInts("nodes_falsenodeids", 1, 0), onnxtest.AttrInt("n_targets", 1),
	}
	_, err = mlCase("TreeEnsembleRegressor", cyc, 1, f32(sh(1, 1), 0)).run(t)
	if !errors.Is(err, onnx.ErrInvalidModel) {
		t.Fatalf("cycle: %v", err)
	}
}

// TestTreeFastWalk checks the fast walks (int32 keys, complete and linked
// layouts, several threads) against the ordinary walk, bit for bit, on
// random trees of every comparison mode, with and without missing-value
// tracking, balanced or not, shallow or deep, one target or several, every
// aggregation, and inputs full of ties, zeros, infinities and NaN.
func TestTreeFastWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32}
	pick := func(nanOK bool) float32 {
		for {
			v := float32(r.NormFloat64())
			if r.IntN(3) == 0 {
				v = specials[r.IntN(len(specials))]
			}
			if nanOK || v == v {
				return v
			}
		}
	}
	const feats = 5
	for trial := range 300 {
		modes := []uint8{modeLEQ}
		switch trial % 4 {
		case 1:
			modes = []uint8{modeLEQ, modeLT}
		case 2, 3:
			modes = []uint8{modeLEQ, modeLT, modeGT, modeGTE}
		}
		missing := trial%4 == 3
		nt := 1 + r.IntN(3)*(trial%2)
		e := &ensemble[float32]{nTargets: nt, agg: aggregate(r.IntN(4))}
		maxDepth := 1 + r.IntN(15)
		bushy := r.IntN(2) == 0
		var grow func(d int) int32
		grow = func(d int) int32 {
			i := int32(len(e.nodes))
			e.nodes = append(e.nodes, treeNode[float32]{})
			if d == maxDepth || d > 0 && !bushy && r.IntN(3) == 0 || d > 0 && bushy && r.IntN(20) == 0 {
				n := 1 + r.IntN(2)
				nd := treeNode[float32]{mode: modeLeaf, t: int32(len(e.weights)), f: int32(n)}
				for range n {
					w := treeWeight[float32]{target: int32(r.IntN(nt)), value: float32(r.NormFloat64())}
					e.weights = append(e.weights, w)
				}
				nd.value = e.weights[nd.t].value
				e.nodes[i] = nd
				return i
			}
			nd := treeNode[float32]{mode: modes[r.IntN(len(modes))], feature: int32(r.IntN(feats)), value: pick(true),
				missingTrue: missing && r.IntN(2) == 0}
			nd.t = grow(d + 1)
			nd.f = grow(d + 1)
			e.nodes[i] = nd
			return i
		}
		for range 1 + r.IntN(24) {
			e.roots = append(e.roots, grow(0))
		}
		if err := e.prepare(); err != nil || e.fast == nil {
			t.Fatalf("trial %d: prepare: %v, fast %v", trial, err, e.fast != nil)
		}
		ref := *e
		ref.fast = nil
		fast, slow := newTreeKernel(e, tensor.Float32, nil), newTreeKernel(&ref, tensor.Float32, nil)
		for _, rows := range []int{1, 3, 70, 300, 1000} {
			x := make([]float32, rows*feats)
			for i := range x {
				x[i] = pick(trial%3 != 0)
			}
			in := tensor.FromFloat32("x", []int64{int64(rows), feats}, x)
			threads := 1 + r.IntN(3)
			var got, want tensor.Tensor
			if err := fast.run(&runCtx{st: &state{threads: threads}, sc: &scratch{}}, []*tensor.Tensor{&in}, []*tensor.Tensor{&got}); err != nil {
				t.Fatal(err)
			}
			if err := slow.run(&runCtx{st: &state{threads: 1}, sc: &scratch{}}, []*tensor.Tensor{&in}, []*tensor.Tensor{&want}); err != nil {
				t.Fatal(err)
			}
			g, w := view[float32](got.Raw), view[float32](want.Raw)
			for i := range w {
				if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
					t.Fatalf("trial %d (modes %v, missing %v, %d targets, agg %d, depth %d, %d trees, %d complete), %d rows, threads %d: score %d: fast walk %v, ordinary walk %v",
						trial, modes, missing, nt, e.agg, maxDepth, len(e.roots), len(e.fast.order), rows, threads, i, g[i], w[i])
				}
			}
		}
	}
}

func TestTreeEnsembleSingleLeafTree(t *testing.T) {
	a := attrList{
		onnxtest.AttrInts("tree_roots", 0), onnxtest.AttrInts("nodes_featureids", 0),
		{Name: strp("nodes_modes"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: protoOf("m", tensor.Tensor{DType: tensor.Uint8, Shape: sh(1), Raw: []byte{0}})},
		{Name: strp("nodes_splits"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: onnxtest.Floats("s", []int64{1}, []float32{0})},
		onnxtest.AttrInts("nodes_truenodeids", 0), onnxtest.AttrInts("nodes_trueleafs", 1),
		onnxtest.AttrInts("nodes_falsenodeids", 0), onnxtest.AttrInts("nodes_falseleafs", 1),
		onnxtest.AttrInts("leaf_targetids", 0),
		{Name: strp("leaf_weights"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: onnxtest.Floats("w", []int64{1}, []float32{2.5})},
		onnxtest.AttrInt("n_targets", 1),
	}
	nc := mlCase("TreeEnsemble", a, 1, f32(sh(2, 1), -1, float32(math.NaN())))
	nc.opset = 5
	wantF32(t, nc.mustRun(t)[0], 2.5, 2.5)
}

func strp(s string) *string { return &s }

func TestMLTransformers(t *testing.T) {
	nan := float32(math.NaN())
	_, err := mlCase("Binarizer", attrList{onnxtest.AttrFloat("threshold", 0)}, 1, f32(sh(2), 1, nan)).run(t)
	wantInvalid(t, err, "Binarizer NaN")
	out := mlCase("Binarizer", attrList{onnxtest.AttrFloat("threshold", 0.5)}, 1, i64(sh(3), 0, 1, 2)).mustRun(t)
	wantI64(t, out[0], 0, 1, 1)

	out = mlCase("Scaler", attrList{onnxtest.AttrFloats("offset", 1), onnxtest.AttrFloats("scale", 2)}, 1, i64(sh(2, 2), 1, 2, 3, 4)).mustRun(t)
	wantF32(t, out[0], 0, 2, 4, 6)

	out = mlCase("Normalizer", attrList{onnxtest.AttrString("norm", "L2")}, 1, f32(sh(2, 2), 3, -4, 0, 0)).mustRun(t)
	wantF32(t, out[0], 0.6, -0.8, 0, 0)

	out = mlCase("Imputer", attrList{onnxtest.AttrFloats("imputed_value_floats", 7, 8), onnxtest.AttrFloat("replaced_value_float", nan)}, 1,
		f32(sh(2, 2), nan, 1, 2, nan)).mustRun(t)
	wantF32(t, out[0], 7, 1, 2, 8)

	_, err = mlCase("OneHotEncoder", attrList{onnxtest.AttrInts("cats_int64s", 1, 2), onnxtest.AttrInt("zeros", 0)}, 1, i64(sh(1), 3)).run(t)
	wantInvalid(t, err, "unknown category")
	out = mlCase("OneHotEncoder", attrList{onnxtest.AttrInts("cats_int64s", 1, 2)}, 1, f32(sh(3), 2.7, 1, -1)).mustRun(t)
	wantShape(t, out[0], 3, 2)
	wantF32(t, out[0], 0, 1, 1, 0, 0, 0)

	out = mlCase("ArrayFeatureExtractor", nil, 1, strs(sh(3), "a", "b", "c"), i64(sh(2), 2, 0)).mustRun(t)
	wantShape(t, out[0], 1, 2)
	if string(out[0].Strings[0]) != "c" || string(out[0].Strings[1]) != "a" {
		t.Fatalf("AFE strings: %q", out[0].Strings)
	}
	_, err = mlCase("ArrayFeatureExtractor", nil, 1, f32(sh(1, 2), 1, 2), i64(sh(1), -1)).run(t)
	wantInvalid(t, err, "negative index")
}

func TestLabelEncoderV1(t *testing.T) {
	a := attrList{onnxtest.AttrStrings("classes_strings", "a", "b", "c"), onnxtest.AttrInt("default_int64", -5)}
	nc := mlCase("LabelEncoder", a, 1, strs(sh(3), "c", "z", "a"))
	nc.opset = 1
	wantI64(t, nc.mustRun(t)[0], 2, -5, 0)
	nc = mlCase("LabelEncoder", a, 1, i64(sh(3), 1, 7, -1))
	nc.opset = 1
	out := nc.mustRun(t)
	if g := out[0].Strings; string(g[0]) != "b" || string(g[1]) != "_Unused" || string(g[2]) != "_Unused" {
		t.Fatalf("int to string: %q", g)
	}
	// Version 2: the first of repeated keys counts.
	out = mlCase("LabelEncoder", attrList{onnxtest.AttrStrings("keys_strings", "x", "x"), onnxtest.AttrInts("values_int64s", 1, 2)}, 1,
		strs(sh(1), "x")).mustRun(t)
	wantI64(t, out[0], 1)
}
