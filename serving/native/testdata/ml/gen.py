#!/usr/bin/python3
"""Generate the ai.onnx.ml conformance cases of the native engine.

Run from anywhere with Debian's Python (the pyenv python3 on PATH lacks the
packages):

    apt-get install -y python3-onnx python3-sklearn python3-numpy
    /usr/bin/python3 serving/native/testdata/ml/gen.py

Each case is a directory in the layout of the ONNX backend tests: model.onnx
and test_data_set_0/{input,output}_N.pb (TensorProto). The models are small
scikit-learn models trained on synthetic data with fixed seeds, written with
onnx.helper the way skl2onnx writes them (ai.onnx.ml opset 3, default opset
17, IR 8), plus TreeEnsemble (ai.onnx.ml opset 5) versions of the same trees
and a few hand-built graphs. The expected outputs are scikit-learn's
predictions, except where noted: rows with NaN (scikit-learn 1.2 trees do
not take NaN) and hand-built graphs use the tree walk in ref_tree(), which
is first checked against scikit-learn on the rows without NaN.

A ZipMap output is stored as the [N, C] FLOAT tensor the engine returns.
"""

import os
import shutil

import numpy as np
from onnx import TensorProto, TypeProto, helper, numpy_helper
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import (Binarizer, LabelEncoder, Normalizer, OneHotEncoder,
                                   StandardScaler)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
ML3 = {"": 17, "ai.onnx.ml": 3}
ML5 = {"": 17, "ai.onnx.ml": 5}
F = 5        # features
N_TRAIN = 200
N_TEST = 12



def sigmoid(v):
    return (1.0 / (1.0 + np.exp(-v.astype(np.float64)))).astype(np.float32)

def opsets(d):
    return [helper.make_opsetid(k, v) for k, v in sorted(d.items())]


def tensor_type(elem, *dims):
    return helper.make_tensor_type_proto(elem, list(dims))


def save(name, nodes, inputs, outputs, inits, feeds, expected, ops=ML3, ir=8):
    """Write one case. inputs/outputs: lists of (name, TypeProto);
    feeds/expected: numpy arrays in the order of inputs/outputs."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_value_info(n, t) for n, t in inputs],
        [helper.make_value_info(n, t) for n, t in outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=opsets(ops), producer_name="lantern-gen")
    model.ir_version = ir
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, ((n, _), a) in enumerate(zip(inputs, feeds)):
        write_tensor(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), a, n)
    for i, ((n, _), a) in enumerate(zip(outputs, expected)):
        write_tensor(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), a, n)


def write_tensor(path, a, name):
    a = np.asarray(a)
    if a.dtype.kind in "UO":
        a = a.astype(object)
    t = numpy_helper.from_array(a, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def seq_of_maps(key):
    """The type of a ZipMap output: seq(map(key, tensor(float)))."""
    t = TypeProto()
    t.sequence_type.elem_type.map_type.key_type = key
    t.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    return t


def rng(seed):
    return np.random.RandomState(seed)


def test_x(seed, nan_rows=0):
    x = rng(seed).normal(size=(N_TEST, F)).astype(np.float32)
    for i in range(nan_rows):  # NaN in different features of the last rows
        x[N_TEST - 1 - i, i % F] = np.nan
        if i % 2:
            x[N_TEST - 1 - i, (i + 2) % F] = np.nan
    return x


# ----------------------------------------------------------------------------
# Trees

class Tree:
    """A decision tree as node arrays (sklearn numbering, node 0 the root)."""

    def __init__(self, left, right, feature, threshold, leaf_values, missing_true):
        self.left, self.right = left, right
        self.feature, self.threshold = feature, threshold
        self.leaf_values = leaf_values  # node -> array of per-target/class values
        self.missing_true = missing_true  # node -> bool

    @staticmethod
    def from_sklearn(t, values, missing_rule=None):
        tr = t.tree_
        leaves = {i: np.asarray(values(tr.value[i]), dtype=np.float64)
                  for i in range(tr.node_count) if tr.children_left[i] == -1}
        miss = {i: bool(missing_rule(i)) if missing_rule else False for i in range(tr.node_count)}
        return Tree(tr.children_left, tr.children_right, tr.feature,
                    tr.threshold.astype(np.float32), leaves, miss)

    def walk(self, x):
        i = 0
        while self.left[i] != -1:
            v = x[self.feature[i]]
            ok = v <= self.threshold[i]
            if not ok and self.missing_true[i] and np.isnan(v):
                ok = True
            i = self.left[i] if ok else self.right[i]
        return self.leaf_values[i]


def even_nodes(i):
    """The missing_value_tracks_true rule of the NaN cases: even node ids."""
    return i % 2 == 0


def v3_tree_attrs(trees, prefix, targets_of_leaf, weight_scale=1.0):
    """TreeEnsemble{Regressor,Classifier} (opset 1/3) node and weight
    attributes. targets_of_leaf(values) yields (target or class id, weight)."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true",
                         prefix + "treeids", prefix + "nodeids", prefix + "ids", prefix + "weights"]}
    for ti, t in enumerate(trees):
        for i in range(len(t.left)):
            a["nodes_treeids"].append(ti)
            a["nodes_nodeids"].append(i)
            leaf = t.left[i] == -1
            a["nodes_featureids"].append(0 if leaf else int(t.feature[i]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_values"].append(0.0 if leaf else float(t.threshold[i]))
            a["nodes_truenodeids"].append(0 if leaf else int(t.left[i]))
            a["nodes_falsenodeids"].append(0 if leaf else int(t.right[i]))
            a["nodes_missing_value_tracks_true"].append(int(t.missing_true[i]) if not leaf else 0)
            if leaf:
                for tid, w in targets_of_leaf(t.leaf_values[i]):
                    a[prefix + "treeids"].append(ti)
                    a[prefix + "nodeids"].append(i)
                    a[prefix + "ids"].append(int(tid))
                    a[prefix + "weights"].append(float(w * weight_scale))
    if not any(a["nodes_missing_value_tracks_true"]):
        del a["nodes_missing_value_tracks_true"]
    return a


def v5_tree_attrs(trees, targets_of_leaf, weight_scale=1.0, dtype=np.float32):
    """TreeEnsemble (ml opset 5) attributes for the same trees."""
    feats, splits, ti_, tl, fi, fl, miss = [], [], [], [], [], [], []
    leaf_t, leaf_w, roots = [], [], []
    for t in trees:
        inner = [i for i in range(len(t.left)) if t.left[i] != -1]
        leaves = [i for i in range(len(t.left)) if t.left[i] == -1]
        base_n, base_l = len(feats), len(leaf_t)
        # one leaf entry per leaf (single target/class weight each)
        lidx = {}
        for i in leaves:
            pairs = list(targets_of_leaf(t.leaf_values[i]))
            assert len(pairs) == 1, "v5 cases use one weight per leaf"
            lidx[i] = base_l + len(lidx)
            leaf_t.append(int(pairs[0][0]))
            leaf_w.append(float(pairs[0][1] * weight_scale))
        nidx = {i: base_n + k for k, i in enumerate(inner)}
        roots.append(nidx[0])
        for i in inner:
            feats.append(int(t.feature[i]))
            splits.append(float(t.threshold[i]))
            miss.append(int(t.missing_true[i]))
            for child, ids, flags in ((t.left[i], ti_, tl), (t.right[i], fi, fl)):
                if t.left[child] == -1:
                    ids.append(lidx[child])
                    flags.append(1)
                else:
                    ids.append(nidx[child])
                    flags.append(0)
    a = dict(tree_roots=roots, nodes_featureids=feats,
             nodes_modes=numpy_helper.from_array(np.zeros(len(feats), np.uint8), "nodes_modes"),
             nodes_splits=numpy_helper.from_array(np.array(splits, dtype=dtype), "nodes_splits"),
             nodes_truenodeids=ti_, nodes_trueleafs=tl, nodes_falsenodeids=fi, nodes_falseleafs=fl,
             leaf_targetids=leaf_t,
             leaf_weights=numpy_helper.from_array(np.array(leaf_w, dtype=dtype), "leaf_weights"))
    if any(miss):
        a["nodes_missing_value_tracks_true"] = miss
    return a


def ref_sum(trees, x, scale=1.0, base=0.0):
    return np.array([[base + scale * sum(t.walk(r)[0] for t in trees)] for r in x])


def regression_data(seed, targets=1):
    X, y = make_regression(n_samples=N_TRAIN, n_features=F, n_targets=targets, noise=5.0, random_state=seed)
    return X.astype(np.float32), y


def classification_data(seed, classes):
    X, y = make_classification(n_samples=N_TRAIN, n_features=F, n_informative=4, n_redundant=0,
                               n_classes=classes, n_clusters_per_class=1, random_state=seed)
    return X.astype(np.float32), y


def x_in():
    return [("X", tensor_type(TensorProto.FLOAT, None, F))]


def check_close(a, b, what):
    assert np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-5, atol=1e-5), what


def regressors():
    # DecisionTreeRegressor, with NaN rows and missing_value_tracks_true.
    X, y = regression_data(1)
    dt = DecisionTreeRegressor(max_depth=4, random_state=0).fit(X, y)
    tree = Tree.from_sklearn(dt, lambda v: v[:, 0], even_nodes)
    x = test_x(11, nan_rows=3)
    want = ref_sum([tree], x)
    clean = ~np.isnan(x).any(axis=1)
    check_close(want[clean, 0], dt.predict(x[clean]), "dt reference")
    attrs = v3_tree_attrs([tree], "target_", lambda v: [(0, v[0])])
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                            n_targets=1, aggregate_function="SUM", post_transform="NONE", **attrs)
    save("dt_regressor_nan", [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [],
         [x], [want.astype(np.float32)])

    # RandomForestRegressor: SUM of value/n (as skl2onnx), AVERAGE, MIN, MAX.
    rf = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
    trees = [Tree.from_sklearn(e, lambda v: v[:, 0]) for e in rf.estimators_]
    x = test_x(12)
    per_tree = np.array([[t.walk(r)[0] for t in trees] for r in x])
    check_close(per_tree.mean(axis=1), rf.predict(x), "rf reference")
    for agg, want, scale in [("SUM", rf.predict(x), 1.0 / len(trees)), ("AVERAGE", rf.predict(x), 1.0),
                             ("MIN", per_tree.min(axis=1), 1.0), ("MAX", per_tree.max(axis=1), 1.0)]:
        attrs = v3_tree_attrs(trees, "target_", lambda v: [(0, v[0])], scale)
        node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                                n_targets=1, aggregate_function=agg, **attrs)
        save("rf_regressor_" + agg.lower(), [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [],
             [x], [want.reshape(-1, 1).astype(np.float32)])

    # Two targets (the N-target path).
    X2, y2 = regression_data(2, targets=2)
    rf2 = RandomForestRegressor(n_estimators=4, max_depth=3, random_state=0).fit(X2, y2)
    trees2 = [Tree.from_sklearn(e, lambda v: v[:, 0]) for e in rf2.estimators_]
    attrs = v3_tree_attrs(trees2, "target_", lambda v: [(0, v[0]), (1, v[1])], 1.0 / len(trees2))
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                            n_targets=2, aggregate_function="SUM", **attrs)
    x = test_x(13)
    save("rf_regressor_2_targets", [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 2))], [],
         [x], [rf2.predict(x).astype(np.float32)])

    # GradientBoostingRegressor: base value + learning_rate * leaves, NaN rows.
    gb = GradientBoostingRegressor(n_estimators=10, max_depth=3, learning_rate=0.1, random_state=0).fit(X, y)
    gtrees = [Tree.from_sklearn(e[0], lambda v: v[:, 0], even_nodes) for e in gb.estimators_]
    base = float(gb.init_.constant_.ravel()[0])
    x = test_x(14, nan_rows=4)
    want = ref_sum(gtrees, x, gb.learning_rate, base)
    clean = ~np.isnan(x).any(axis=1)
    check_close(want[clean, 0], gb.predict(x[clean]), "gb reference")
    attrs = v3_tree_attrs(gtrees, "target_", lambda v: [(0, v[0])], gb.learning_rate)
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                            n_targets=1, base_values=[base], **attrs)
    save("gb_regressor_nan", [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [],
         [x], [want.astype(np.float32)])

    # The same with DOUBLE input and *_as_tensor attributes (opset 3).
    attrs = v3_tree_attrs(gtrees, "target_", lambda v: [(0, v[0])], gb.learning_rate)
    attrs["nodes_values_as_tensor"] = numpy_helper.from_array(np.array(attrs.pop("nodes_values"), np.float64), "v")
    attrs["target_weights_as_tensor"] = numpy_helper.from_array(np.array(attrs.pop("target_weights"), np.float64), "w")
    attrs["base_values_as_tensor"] = numpy_helper.from_array(np.array([base], np.float64), "b")
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, **attrs)
    save("gb_regressor_double", [node], [("X", tensor_type(TensorProto.DOUBLE, None, F))],
         [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [], [x.astype(np.float64)], [want.astype(np.float32)])

    # TreeEnsemble (ml opset 5): the GB trees, FLOAT and DOUBLE.
    for dtype, elem, suffix in [(np.float32, TensorProto.FLOAT, ""), (np.float64, TensorProto.DOUBLE, "_double")]:
        attrs = v5_tree_attrs(gtrees, lambda v: [(0, v[0])], gb.learning_rate, dtype)
        nodes = [helper.make_node("TreeEnsemble", ["X"], ["S"], domain="ai.onnx.ml", n_targets=1,
                                  aggregate_function=1, post_transform=0, **attrs),
                 helper.make_node("Add", ["S", "base"], ["Y"])]
        inits = [numpy_helper.from_array(np.array([base], dtype), "base")]
        save("gb_regressor_v5" + suffix, nodes, [("X", tensor_type(elem, None, F))],
             [("Y", tensor_type(elem, None, 1))], inits, [x.astype(dtype)], [want.astype(dtype)],
             ops=ML5, ir=10)

    # PROBIT (one target): the post-transform ONNX Runtime approximates
    # (Winitzki, a = 0.147). The weights are scaled so that the score is in
    # (0, 1); the expected values apply the same formula, in float32, to the
    # float32 sum of the weights in tree order (how the engine and ONNX
    # Runtime accumulate).
    sc = 1.0 / len(trees) / 1000.0
    attrs = v3_tree_attrs(trees, "target_", lambda v: [(0, v[0])], sc)
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                            post_transform="PROBIT", base_values=[0.5], **attrs)
    x = test_x(15)
    s = []
    for r in x:
        acc = np.float32(0)
        for t in trees:
            acc = np.float32(acc + np.float32(float(t.walk(r)[0] * sc)))
        s.append(np.float32(acc + np.float32(0.5)))
    save("rf_regressor_probit", [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [],
         [x], [probit32(np.array(s, np.float32)).reshape(-1, 1)])


def probit32(p):
    """ONNX Runtime's ComputeProbit in float32."""
    f = np.float32
    x = (f(2) * p.astype(np.float32) - f(1)).astype(np.float32)
    sgn = np.where(x < 0, f(-1), f(1)).astype(np.float32)
    x = ((f(1) - x) * (f(1) + x)).astype(np.float32)
    lg = np.log(x).astype(np.float32)
    v = (f(2) / (f(np.pi) * f(0.147)) + f(0.5) * lg).astype(np.float32)
    v2 = (f(1) / f(0.147) * lg).astype(np.float32)
    v3 = (-v + np.sqrt((v * v - v2).astype(np.float32))).astype(np.float32)
    return (f(np.sqrt(2)) * sgn * np.sqrt(v3).astype(np.float32)).astype(np.float32)


def classifiers():
    # DecisionTreeClassifier, binary, string labels: the binary case
    # (one class id, class 1's probability as the weight, as skl2onnx).
    X, y = classification_data(3, 2)
    labels = np.array(["no", "yes"])
    dt = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, labels[y])
    tree = Tree.from_sklearn(dt, lambda v: v[0] / v[0].sum())
    attrs = v3_tree_attrs([tree], "class_", lambda v: [(0, v[1])])
    x = test_x(21)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
                            classlabels_strings=list(labels), post_transform="NONE", **attrs)
    save("dt_classifier_binary", [node], x_in(),
         [("label", tensor_type(TensorProto.STRING, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 2))],
         [], [x], [dt.predict(x), dt.predict_proba(x).astype(np.float32)])

    # RandomForestClassifier, binary (int labels 3 and 7), through ZipMap.
    rfb = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, np.array([3, 7])[y])
    trees = [Tree.from_sklearn(e, lambda v: v[0] / v[0].sum()) for e in rfb.estimators_]
    attrs = v3_tree_attrs(trees, "class_", lambda v: [(0, v[1])], 1.0 / len(trees))
    x = test_x(22)
    nodes = [helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probability_tensor"], domain="ai.onnx.ml",
                              classlabels_int64s=[3, 7], **attrs),
             helper.make_node("ZipMap", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml",
                              classlabels_int64s=[3, 7])]
    seqmap = seq_of_maps(TensorProto.INT64)
    save("rf_classifier_binary_zipmap", nodes, x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", seqmap)],
         [], [x], [rfb.predict(x), rfb.predict_proba(x).astype(np.float32)])

    # RandomForestClassifier, 3 classes; and its TreeEnsemble + ArgMax form.
    X3, y3 = classification_data(4, 3)
    rf = RandomForestClassifier(n_estimators=6, max_depth=3, random_state=0).fit(X3, y3)
    trees = [Tree.from_sklearn(e, lambda v: v[0] / v[0].sum()) for e in rf.estimators_]
    x = test_x(23)
    proba = rf.predict_proba(x)
    top2 = np.sort(proba, axis=1)[:, -2:]
    x = x[(top2[:, 1] - top2[:, 0]) > 1e-4]  # no near ties for the label
    proba = rf.predict_proba(x)
    attrs = v3_tree_attrs(trees, "class_", lambda v: [(k, v[k]) for k in range(3)], 1.0 / len(trees))
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
                            classlabels_int64s=[0, 1, 2], **attrs)
    save("rf_classifier_multiclass", [node], x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 3))],
         [], [x], [rf.predict(x), proba.astype(np.float32)])

    # TreeEnsemble allows one weight per leaf: one tree per class.
    v5trees, v5targets = [], []
    for t in trees:
        for k in range(3):
            v5trees.append(t)
            v5targets.append(k)
    parts = []
    for t, k in zip(v5trees, v5targets):
        parts.append(v5_tree_attrs([t], lambda v, k=k: [(k, v[k])], 1.0 / len(trees)))
    attrs = merge_v5(parts)
    nodes = [helper.make_node("TreeEnsemble", ["X"], ["probabilities"], domain="ai.onnx.ml", n_targets=3,
                              aggregate_function=1, post_transform=0, **attrs),
             helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)]
    save("rf_classifier_v5_argmax", nodes, x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 3))],
         [], [x], [rf.predict(x), proba.astype(np.float32)], ops=ML5, ir=10)

    # GradientBoostingClassifier, binary: one class id, mixed-sign weights,
    # LOGISTIC, base value: Z = [σ(−s), σ(s)].
    gb = GradientBoostingClassifier(n_estimators=8, max_depth=2, learning_rate=0.2, random_state=0).fit(X, y)
    gtrees = [Tree.from_sklearn(e[0], lambda v: v[:, 0]) for e in gb.estimators_]
    base = float(gb._raw_predict_init(X[:1])[0, 0])
    attrs = v3_tree_attrs(gtrees, "class_", lambda v: [(0, v[0])], gb.learning_rate)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
                            classlabels_int64s=[0, 1], post_transform="LOGISTIC", base_values=[base], **attrs)
    x = test_x(24)
    save("gb_classifier_binary", [node], x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 2))],
         [], [x], [gb.predict(x), gb.predict_proba(x).astype(np.float32)])

    # GradientBoostingClassifier, 3 classes: SOFTMAX, one base value per class.
    gb3 = GradientBoostingClassifier(n_estimators=6, max_depth=2, learning_rate=0.2, random_state=0).fit(X3, y3)
    trees3, ids = [], []
    for stage in gb3.estimators_:
        for k in range(3):
            trees3.append(Tree.from_sklearn(stage[k], lambda v: v[:, 0]))
            ids.append(k)
    a = v3_tree_attrs(trees3, "class_", lambda v: [(0, v[0])], gb3.learning_rate)
    # set the class id of each tree's weights
    tree_class = dict(enumerate(ids))
    a["class_ids"] = [tree_class[t] for t in a["class_treeids"]]
    base3 = [float(v) for v in gb3._raw_predict_init(X3[:1])[0]]
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
                            classlabels_int64s=[0, 1, 2], post_transform="SOFTMAX", base_values=base3, **a)
    x = test_x(25)
    save("gb_classifier_multiclass", [node], x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 3))],
         [], [x], [gb3.predict(x), gb3.predict_proba(x).astype(np.float32)])


def merge_v5(parts):
    """Concatenate the attributes of several v5 ensembles of one tree each."""
    out = {k: [] for k in ["tree_roots", "nodes_featureids", "nodes_truenodeids", "nodes_trueleafs",
                           "nodes_falsenodeids", "nodes_falseleafs", "leaf_targetids"]}
    splits, weights = [], []
    for p in parts:
        n, nl = len(out["nodes_featureids"]), len(out["leaf_targetids"])
        out["tree_roots"] += [r + n for r in p["tree_roots"]]
        out["nodes_featureids"] += p["nodes_featureids"]
        for ids, flags in (("nodes_truenodeids", "nodes_trueleafs"), ("nodes_falsenodeids", "nodes_falseleafs")):
            out[ids] += [i + (nl if f else n) for i, f in zip(p[ids], p[flags])]
            out[flags] += p[flags]
        out["leaf_targetids"] += p["leaf_targetids"]
        splits += list(numpy_helper.to_array(p["nodes_splits"]))
        weights += list(numpy_helper.to_array(p["leaf_weights"]))
    out["nodes_modes"] = numpy_helper.from_array(np.zeros(len(splits), np.uint8), "nodes_modes")
    out["nodes_splits"] = numpy_helper.from_array(np.array(splits, np.float32), "nodes_splits")
    out["leaf_weights"] = numpy_helper.from_array(np.array(weights, np.float32), "leaf_weights")
    return out


def hand_built_trees():
    """Branch modes, NaN routing and set membership on hand-built trees; the
    expected values are the rules written out."""
    x = np.array([[0.5, 1.0], [1.0, 1.0], [2.0, -1.0], [np.nan, 0.0], [3.0, np.nan], [1.0, 2.0],
                  [5.0, 0.25], [np.nan, np.nan]], np.float32)
    # Tree 0: LT 1.0 on x0 (NaN tracks true) -> GTE 1.0 on x1 | NEQ 1.0 on x0
    # Tree 1: GT 0.5 on x1 (NaN tracks false) -> EQ 2.0 on x0 | leaf
    nodes = dict(
        nodes_treeids=[0] * 7 + [1] * 5,
        nodes_nodeids=list(range(7)) + list(range(5)),
        nodes_featureids=[0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        nodes_modes=["BRANCH_LT", "BRANCH_GTE", "BRANCH_NEQ", "LEAF", "LEAF", "LEAF", "LEAF",
                     "BRANCH_GT", "BRANCH_EQ", "LEAF", "LEAF", "LEAF"],
        nodes_values=[1.0, 1.0, 1.0, 0, 0, 0, 0, 0.5, 2.0, 0, 0, 0],
        nodes_truenodeids=[1, 3, 5, 0, 0, 0, 0, 1, 3, 0, 0, 0],
        nodes_falsenodeids=[2, 4, 6, 0, 0, 0, 0, 2, 4, 0, 0, 0],
        nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        target_treeids=[0, 0, 0, 0, 1, 1, 1],
        target_nodeids=[3, 4, 5, 6, 2, 3, 4],
        target_ids=[0, 0, 0, 0, 0, 0, 0],
        target_weights=[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    )

    def tree0(a, b):
        if a < 1.0 or np.isnan(a):
            return 1.0 if b >= 1.0 else 2.0
        return 4.0 if a != 1.0 else 8.0

    def tree1(a, b):
        if b > 0.5:
            return 32.0 if (a == 2.0 or np.isnan(a)) else 64.0
        return 16.0

    want = np.array([[tree0(a, b) + tree1(a, b)] for a, b in x], np.float32)
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1, **nodes)
    save("tree_branch_modes", [node], [("X", tensor_type(TensorProto.FLOAT, None, 2))],
         [("Y", tensor_type(TensorProto.FLOAT, None, 1))], [], [x], [want])

    # TreeEnsemble with BRANCH_MEMBER (mode 6) and a single-leaf tree.
    cat = np.array([[1], [2], [3], [4], [5], [np.nan], [7], [0]], np.float32)
    attrs = dict(
        tree_roots=[0, 2],
        nodes_modes=numpy_helper.from_array(np.array([6, 0, 6], np.uint8), "nodes_modes"),
        nodes_featureids=[0, 0, 0],
        nodes_splits=numpy_helper.from_array(np.array([0, 4.5, 0], np.float32), "nodes_splits"),
        nodes_truenodeids=[0, 1, 3], nodes_trueleafs=[1, 1, 1],
        nodes_falsenodeids=[1, 2, 3], nodes_falseleafs=[0, 1, 1],
        nodes_missing_value_tracks_true=[0, 1, 0],
        membership_values=numpy_helper.from_array(np.array([1, 3, 5, np.nan, 7, np.nan], np.float32), "m"),
        leaf_targetids=[0, 0, 1, 1],
        leaf_weights=numpy_helper.from_array(np.array([10, 20, 30, 100], np.float32), "leaf_weights"),
    )

    def ens(v):
        t0 = 10.0 if v in (1, 3, 5) else (20.0 if (v <= 4.5 or np.isnan(v)) else 30.0)
        out = [0.0, 100.0]  # tree 1: a MEMBER node whose branches both go to leaf 3
        out[0 if t0 < 30 else 1] += t0
        return out
    want = np.array([ens(v) for v in cat[:, 0]], np.float32)
    node = helper.make_node("TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=2, **attrs)
    save("tree_v5_member", [node], [("X", tensor_type(TensorProto.FLOAT, None, 1))],
         [("Y", tensor_type(TensorProto.FLOAT, None, 2))], [], [cat], [want], ops=ML5, ir=10)


def linear():
    X, y = classification_data(5, 2)
    x = test_x(31)
    seqmap_i = seq_of_maps(TensorProto.INT64)
    seqmap_s = seq_of_maps(TensorProto.STRING)

    # Binary LogisticRegression: rows [-w, w], intercepts [-b, b], LOGISTIC,
    # string labels through ZipMap.
    labels = np.array(["churn", "stay"])
    lr = LogisticRegression(random_state=0).fit(X, labels[y])
    w, b = lr.coef_[0], lr.intercept_[0]
    nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "probability_tensor"], domain="ai.onnx.ml",
                              coefficients=list(np.concatenate([-w, w])), intercepts=[-b, b],
                              classlabels_strings=list(labels), post_transform="LOGISTIC", multi_class=0),
             helper.make_node("ZipMap", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml",
                              classlabels_strings=list(labels))]
    save("logreg_binary_zipmap", nodes, x_in(),
         [("label", tensor_type(TensorProto.STRING, None)), ("probabilities", seqmap_s)],
         [], [x], [lr.predict(x), lr.predict_proba(x).astype(np.float32)])

    # Multinomial LogisticRegression: SOFTMAX, int labels, ZipMap.
    X3, y3 = classification_data(6, 3)
    lr3 = LogisticRegression(multi_class="multinomial", random_state=0).fit(X3, y3 + 10)
    nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "probability_tensor"], domain="ai.onnx.ml",
                              coefficients=list(lr3.coef_.ravel()), intercepts=list(lr3.intercept_),
                              classlabels_ints=[10, 11, 12], post_transform="SOFTMAX", multi_class=1),
             helper.make_node("ZipMap", ["probability_tensor"], ["probabilities"], domain="ai.onnx.ml",
                              classlabels_int64s=[10, 11, 12])]
    x = test_x(32)
    save("logreg_multinomial_zipmap", nodes, x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", seqmap_i)],
         [], [x], [lr3.predict(x), lr3.predict_proba(x).astype(np.float32)])

    # One-vs-rest LogisticRegression: LOGISTIC, then Normalizer L1.
    ovr = LogisticRegression(multi_class="ovr", random_state=0).fit(X3, y3)
    nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                              coefficients=list(ovr.coef_.ravel()), intercepts=list(ovr.intercept_),
                              classlabels_ints=[0, 1, 2], post_transform="LOGISTIC", multi_class=0),
             helper.make_node("Normalizer", ["scores"], ["probabilities"], domain="ai.onnx.ml", norm="L1")]
    save("logreg_ovr", nodes, x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 3))],
         [], [x], [ovr.predict(x), ovr.predict_proba(x).astype(np.float32)])

    # One coefficient row and two labels (ONNX Runtime's binary case): the
    # label is labels[1] when the score is > 0, and with LOGISTIC
    # Z = [sigmoid(-s), sigmoid(s)] (what ONNX Runtime 1.30 computes; checked
    # by serving's differential test). Expected: those rules (not scikit-learn).
    s = (x @ w.astype(np.float32) + np.float32(b)).astype(np.float32)
    node = helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=list(w), intercepts=[b], classlabels_ints=[4, 9],
                            post_transform="LOGISTIC")
    save("linear_classifier_one_column", [node], x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("scores", tensor_type(TensorProto.FLOAT, None, 2))],
         [], [x], [np.where(s > 0, 9, 4).astype(np.int64), np.stack([sigmoid(-s), sigmoid(s)], axis=1).astype(np.float32)])

    # LinearRegression with two targets.
    Xr, yr = regression_data(7, targets=2)
    reg = LinearRegression().fit(Xr, yr)
    node = helper.make_node("LinearRegressor", ["X"], ["Y"], domain="ai.onnx.ml",
                            coefficients=list(reg.coef_.ravel()), intercepts=list(reg.intercept_), targets=2)
    x = test_x(33)
    save("linear_regression_2_targets", [node], x_in(), [("Y", tensor_type(TensorProto.FLOAT, None, 2))],
         [], [x], [reg.predict(x).astype(np.float32)])

    # MLPClassifier as Gemm/Relu/Gemm/Softmax/ArgMax; the second layer is
    # stored [out, in] with transB=1, as PyTorch exports.
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0).fit(X3, y3)
    W0, W1 = mlp.coefs_
    b0, b1 = mlp.intercepts_
    inits = [numpy_helper.from_array(W0.astype(np.float32), "W0"), numpy_helper.from_array(b0.astype(np.float32), "b0"),
             numpy_helper.from_array(W1.T.astype(np.float32), "W1"), numpy_helper.from_array(b1.astype(np.float32), "b1")]
    nodes = [helper.make_node("Gemm", ["X", "W0", "b0"], ["h"]),
             helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("Gemm", ["hr", "W1", "b1"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
             helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0)]
    x = test_x(34)
    save("mlp_classifier", nodes, x_in(),
         [("label", tensor_type(TensorProto.INT64, None)), ("probabilities", tensor_type(TensorProto.FLOAT, None, 3))],
         inits, [x], [mlp.predict(x), mlp.predict_proba(x).astype(np.float32)])


def transformers():
    X = rng(41).normal(loc=3.0, scale=2.0, size=(N_TRAIN, F)).astype(np.float32)
    x = rng(42).normal(loc=3.0, scale=2.0, size=(N_TEST, F)).astype(np.float32)
    f_in = x_in()
    f_out = [("Y", tensor_type(TensorProto.FLOAT, None, F))]

    sc = StandardScaler().fit(X)
    node = helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml",
                            offset=list(sc.mean_), scale=list(1 / sc.scale_))
    save("scaler", [node], f_in, f_out, [], [x], [sc.transform(x).astype(np.float32)])

    for norm in ["l1", "l2", "max"]:
        xx = np.abs(x) if norm == "max" else x  # scikit-learn's max is of |x|; ONNX's of x
        node = helper.make_node("Normalizer", ["X"], ["Y"], domain="ai.onnx.ml", norm=norm.upper())
        save("normalizer_" + norm, [node], f_in, f_out, [], [xx],
             [Normalizer(norm=norm).fit_transform(xx).astype(np.float32)])

    bz = Binarizer(threshold=3.0)
    node = helper.make_node("Binarizer", ["X"], ["Y"], domain="ai.onnx.ml", threshold=3.0)
    save("binarizer", [node], f_in, f_out, [], [x], [bz.fit_transform(x).astype(np.float32)])

    Xn = X.copy()
    Xn[rng(43).rand(*Xn.shape) < 0.2] = np.nan
    xn = x.copy()
    xn[rng(44).rand(*xn.shape) < 0.3] = np.nan
    imp = SimpleImputer(strategy="mean").fit(Xn)
    node = helper.make_node("Imputer", ["X"], ["Y"], domain="ai.onnx.ml",
                            imputed_value_floats=list(imp.statistics_), replaced_value_float=float("nan"))
    save("imputer_mean", [node], f_in, f_out, [], [xn], [imp.transform(xn).astype(np.float32)])

    idx = numpy_helper.from_array(np.array([4, 0, 2], np.int64), "idx")
    node = helper.make_node("ArrayFeatureExtractor", ["X", "idx"], ["Y"], domain="ai.onnx.ml")
    save("array_feature_extractor", [node], f_in, [("Y", tensor_type(TensorProto.FLOAT, None, 3))], [idx],
         [x], [x[:, [4, 0, 2]]])

    # OneHotEncoder on an INT64 and on a STRING column; unknown categories
    # give zeros (handle_unknown="ignore").
    cats = rng(45).randint(0, 4, size=(N_TRAIN, 1)).astype(np.int64)
    enc = OneHotEncoder(handle_unknown="ignore").fit(cats)
    xc = np.array([[0], [3], [1], [7], [2], [-1]], np.int64)
    node = helper.make_node("OneHotEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            cats_int64s=[int(c) for c in enc.categories_[0]], zeros=1)
    save("onehot_int64", [node], [("X", tensor_type(TensorProto.INT64, None, 1))],
         [("Y", tensor_type(TensorProto.FLOAT, None, 1, 4))], [], [xc],
         [enc.transform(xc).toarray().astype(np.float32).reshape(-1, 1, 4)])
    scats = np.array(["red", "green", "blue"])[rng(46).randint(0, 3, size=(N_TRAIN, 1))]
    senc = OneHotEncoder(handle_unknown="ignore").fit(scats)
    xs = np.array([["blue"], ["red"], ["purple"], ["green"]])
    node = helper.make_node("OneHotEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            cats_strings=list(senc.categories_[0]), zeros=1)
    save("onehot_strings", [node], [("X", tensor_type(TensorProto.STRING, None, 1))],
         [("Y", tensor_type(TensorProto.FLOAT, None, 1, 3))], [], [xs],
         [senc.transform(xs).toarray().astype(np.float32).reshape(-1, 1, 3)])


def label_encoders():
    le = LabelEncoder().fit(["paris", "tokyo", "amsterdam", "lima"])
    classes = list(le.classes_)
    # string -> int (default -1 for an unknown city)
    x = np.array(["tokyo", "lima", "berlin", "amsterdam", "paris"])
    want = np.array([classes.index(c) if c in classes else -1 for c in x], np.int64)
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            keys_strings=classes, values_int64s=list(range(len(classes))), default_int64=-1)
    save("label_encoder_string_int", [node], [("X", tensor_type(TensorProto.STRING, None))],
         [("Y", tensor_type(TensorProto.INT64, None))], [], [x], [want])
    check = le.transform([c for c in x if c in classes])
    assert list(check) == [v for v in want if v >= 0]
    # int -> string (inverse_transform, default for an unknown code)
    codes = np.array([0, 3, 9, 1, 2], np.int64)
    want = np.array([classes[c] if c < len(classes) else "_Unused" for c in codes])
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            keys_int64s=list(range(len(classes))), values_strings=classes)
    save("label_encoder_int_string", [node], [("X", tensor_type(TensorProto.INT64, None))],
         [("Y", tensor_type(TensorProto.STRING, None))], [], [codes], [want])
    # float keys
    fle = LabelEncoder().fit([0.5, 2.25, 1.5, 0.5])
    fk = [float(v) for v in fle.classes_]
    xf = np.array([1.5, 0.5, 3.0, 2.25], np.float32)
    want = np.array([fk.index(v) if v in fk else -7 for v in xf], np.int64)
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            keys_floats=fk, values_int64s=list(range(len(fk))), default_int64=-7)
    save("label_encoder_float_int", [node], [("X", tensor_type(TensorProto.FLOAT, None))],
         [("Y", tensor_type(TensorProto.INT64, None))], [], [xf], [want])
    # opset 4: DOUBLE keys as a tensor with a NaN key, INT16 values, default_tensor
    keys = np.array([1.0, np.nan, 2.5], np.float64)
    xd = np.array([2.5, np.nan, 1.0, 4.0], np.float64)
    want = np.array([3, 2, 1, 42], np.int16)
    node = helper.make_node("LabelEncoder", ["X"], ["Y"], domain="ai.onnx.ml",
                            keys_tensor=numpy_helper.from_array(keys, "keys"),
                            values_tensor=numpy_helper.from_array(np.array([1, 2, 3], np.int16), "values"),
                            default_tensor=numpy_helper.from_array(np.array([42], np.int16), "default"))
    save("label_encoder_v4_nan_key", [node], [("X", tensor_type(TensorProto.DOUBLE, None))],
         [("Y", tensor_type(TensorProto.INT16, None))], [], [xd], [want], ops={"": 17, "ai.onnx.ml": 4}, ir=9)


if __name__ == "__main__":
    for d in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, d)):
            shutil.rmtree(os.path.join(HERE, d))
    regressors()
    classifiers()
    hand_built_trees()
    linear()
    transformers()
    label_encoders()
    print("wrote", len([d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d))]), "cases")
