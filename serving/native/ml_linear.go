package native

import (
	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainML, "LinearRegressor", []int{1}, buildLinearRegressor)
	register(domainML, "LinearClassifier", []int{1}, buildLinearClassifier)
}

// mlInputTypes are the input types of most ai.onnx.ml operators.
var mlInputTypes = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32}

// rowsOf reads an [N, F] or [F] input as N rows of F float32 features,
// converting other types into scratch.
func rowsOf(c *runCtx, x *tensor.Tensor, allowScalar bool) (rows, feats int, data []float32, err error) {
	switch len(x.Shape) {
	case 0:
		if !allowScalar {
			return 0, 0, nil, invalidf("input is a scalar; expected [N, F] or [F]")
		}
		rows, feats = 1, 1
	case 1:
		rows, feats = 1, int(x.Shape[0])
	case 2:
		rows, feats = int(x.Shape[0]), int(x.Shape[1])
	default:
		return 0, 0, nil, invalidf("input has shape %s; expected [N, F] or [F]", shapeString(x.Shape))
	}
	n := rows * feats
	switch x.DType {
	case tensor.Float32:
		return rows, feats, view[float32](x.Raw)[:n], nil
	case tensor.Float64:
		d := growF32(&c.sc.f32, n)
		for i, v := range view[float64](x.Raw)[:n] {
			d[i] = float32(v)
		}
		return rows, feats, d, nil
	case tensor.Int64:
		d := growF32(&c.sc.f32, n)
		for i, v := range view[int64](x.Raw)[:n] {
			d[i] = float32(v)
		}
		return rows, feats, d, nil
	case tensor.Int32:
		d := growF32(&c.sc.f32, n)
		for i, v := range view[int32](x.Raw)[:n] {
			d[i] = float32(v)
		}
		return rows, feats, d, nil
	}
	return 0, 0, nil, invalidf("input is %s", x.DType)
}

// LinearRegressor: Y[N, T] = X·Wᵀ + b, then the post-transform.
type linearRegressor struct {
	coef       []float32
	intercepts []float32 // nil unless there is one per target
	targets    int
	post       postTransform
}

func buildLinearRegressor(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	k := &linearRegressor{}
	t, err := b.attrs.int("targets", 1)
	if err != nil {
		return err
	}
	if t < 1 || t > 1<<20 {
		return invalidModelf("targets=%d", t)
	}
	k.targets = int(t)
	coef, _, err := b.attrs.floats("coefficients")
	if err != nil {
		return err
	}
	k.coef = coef
	ic, _, err := b.attrs.floats("intercepts")
	if err != nil {
		return err
	}
	if len(ic) == k.targets {
		k.intercepts = ic
	}
	ps, err := b.attrs.str("post_transform", "NONE")
	if err != nil {
		return err
	}
	if k.post, err = parsePost(ps); err != nil {
		return err
	}
	b.k = k
	b.outputs(valueType{tensor.Float32, []int64{batchDim(b.in[0].shape), t}})
	return nil
}

// batchDim is the static N of an [N, F] or [F] input.
func batchDim(s []int64) int64 {
	switch len(s) {
	case 1:
		return 1
	case 2:
		return s[0]
	}
	return -1
}

func (k *linearRegressor) run(c *runCtx, in, out []*tensor.Tensor) error {
	rows, feats, x, err := rowsOf(c, in[0], true)
	if err != nil {
		return err
	}
	if len(k.coef) != k.targets*feats {
		return invalidf("the model has %d coefficients for %d targets, the input %d features", len(k.coef), k.targets, feats)
	}
	if tooLarge(rows, k.targets) {
		return invalidf("%d rows of %d targets is too large", rows, k.targets)
	}
	y := out[0]
	ensure2(y, tensor.Float32, int64(rows), int64(k.targets))
	z := view[float32](y.Raw)
	matmulNT(z, x, k.coef, rows, k.targets, feats)
	if k.intercepts != nil {
		for r := 0; r < rows; r++ {
			row := z[r*k.targets : (r+1)*k.targets]
			for j, b := range k.intercepts {
				row[j] += b
			}
		}
	}
	batchedUpdate(k.post, z, rows, k.targets)
	return nil
}

// batchedUpdate is ONNX Runtime's batched_update_scores_inplace without a
// second class: rows of width ≥ 2 get the transform; rows of one score get
// PROBIT only.
func batchedUpdate(p postTransform, z []float32, rows, width int) {
	if p == postNone || width == 0 {
		return
	}
	if width == 1 {
		if p == postProbit {
			for i, s := range z[:rows] {
				z[i] = probit32(s)
			}
		}
		return
	}
	for r := 0; r < rows; r++ {
		transformRow(p, z[r*width:(r+1)*width])
	}
}

// LinearClassifier: scores Z = X·Wᵀ + b; Y = the label of the best score.
// One score column with two labels is a binary classifier: Y = labels[1]
// if the score is > 0, and Z = [1−s, s], or [σ(−s), σ(s)] with LOGISTIC
// (as ONNX Runtime 1.30 does; its other post-transforms are not applied).
type linearClassifier struct {
	coef       []float32
	intercepts []float32
	classes    int
	ints       []int64
	strs       [][]byte
	useStrings bool
	post       postTransform
	addSecond  bool
	pos, neg   int64  // labels of a one-column model
	posS, negS []byte // the same with string labels
}

func buildLinearClassifier(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	k := &linearClassifier{}
	var err error
	coef, ok, err := b.attrs.floats("coefficients")
	if err != nil {
		return err
	}
	if !ok || len(coef) == 0 {
		return invalidModelf("attribute coefficients is required")
	}
	k.coef = coef
	if k.intercepts, _, err = b.attrs.floats("intercepts"); err != nil {
		return err
	}
	k.classes = len(k.intercepts)
	if k.classes == 0 {
		return invalidModelf("attribute intercepts is required (its length is the number of classes)")
	}
	ints, hasInts, err := b.attrs.ints("classlabels_ints")
	if err != nil {
		return err
	}
	strs, hasStrs, err := b.attrs.strs("classlabels_strings")
	if err != nil {
		return err
	}
	if hasInts == hasStrs && (len(ints) > 0) == (len(strs) > 0) {
		return invalidModelf("exactly one of classlabels_ints and classlabels_strings must be set")
	}
	k.useStrings = len(strs) > 0
	k.ints, k.strs = ints, strs
	labels := len(ints) + len(strs)
	if k.classes > 1 && labels < k.classes {
		return invalidModelf("%d class labels for %d classes", labels, k.classes)
	}
	ps, err := b.attrs.str("post_transform", "NONE")
	if err != nil {
		return err
	}
	if k.post, err = parsePost(ps); err != nil {
		return err
	}
	if _, err := b.attrs.int("multi_class", 0); err != nil {
		return err
	}
	zcols := int64(k.classes)
	if k.classes == 1 {
		k.pos, k.neg, k.posS, k.negS = 1, 0, []byte("1"), []byte("0")
		if labels == 2 {
			k.addSecond = true
			zcols = 2
			if k.useStrings {
				k.negS, k.posS = strs[0], strs[1]
			} else {
				k.neg, k.pos = ints[0], ints[1]
			}
		}
	}
	yType := tensor.Int64
	if k.useStrings {
		yType = tensor.String
	}
	n := batchDim(b.in[0].shape)
	b.k = k
	b.outputs(valueType{yType, []int64{n}}, valueType{tensor.Float32, []int64{n, zcols}})
	return nil
}

func (k *linearClassifier) run(c *runCtx, in, out []*tensor.Tensor) error {
	rows, feats, x, err := rowsOf(c, in[0], false)
	if err != nil {
		return err
	}
	if len(k.coef) != k.classes*feats {
		return invalidf("the model has %d coefficients for %d classes, the input %d features", len(k.coef), k.classes, feats)
	}
	if tooLarge(rows, k.classes+1) {
		return invalidf("%d rows of %d classes is too large", rows, k.classes)
	}
	// Raw scores, [rows, classes] (x may be in c.sc.f32).
	scores := growF32Alt(c, rows*k.classes)
	matmulNT(scores, x, k.coef, rows, k.classes, feats)
	for r := 0; r < rows; r++ {
		row := scores[r*k.classes : (r+1)*k.classes]
		for j, b := range k.intercepts {
			row[j] += b
		}
	}
	if y := out[0]; y != nil {
		if k.useStrings {
			ensure1(y, tensor.String, int64(rows))
		} else {
			ensure1(y, tensor.Int64, int64(rows))
		}
		for r := 0; r < rows; r++ {
			row := scores[r*k.classes : (r+1)*k.classes]
			if k.classes == 1 {
				positive := row[0] > 0
				switch {
				case k.useStrings && positive:
					y.Strings[r] = k.posS
				case k.useStrings:
					y.Strings[r] = k.negS
				case positive:
					view[int64](y.Raw)[r] = k.pos
				default:
					view[int64](y.Raw)[r] = k.neg
				}
				continue
			}
			best, bi := row[0], 0
			for j, v := range row[1:] {
				if v > best {
					best, bi = v, j+1
				}
			}
			if k.useStrings {
				y.Strings[r] = k.strs[bi]
			} else {
				view[int64](y.Raw)[r] = k.ints[bi]
			}
		}
	}
	if len(out) < 2 || out[1] == nil {
		return nil
	}
	zc := k.classes
	if k.addSecond {
		zc = 2
	}
	zt := out[1]
	ensure2(zt, tensor.Float32, int64(rows), int64(zc))
	z := view[float32](zt.Raw)
	switch {
	case k.classes > 1:
		copy(z, scores)
		batchedUpdate(k.post, z, rows, k.classes)
	case k.post == postProbit:
		// ONNX Runtime transforms the scores where they are, packed at the
		// start of Z; the rest of Z is not written (here: zeros).
		clear(z)
		for r, s := range scores[:rows] {
			z[r] = probit32(s)
		}
	case k.addSecond && k.post == postLogistic:
		// ONNX Runtime 1.30 applies the logistic to both columns here.
		for r, s := range scores[:rows] {
			z[2*r], z[2*r+1] = logistic32(-s), logistic32(s)
		}
	case k.addSecond:
		for r, s := range scores[:rows] {
			z[2*r], z[2*r+1] = 1-s, s
		}
	default:
		copy(z, scores)
	}
	return nil
}

// growF32Alt is a second float32 scratch buffer (in f64's memory).
func growF32Alt(c *runCtx, n int) []float32 {
	words := (n + 1) / 2
	buf := growF64(&c.sc.f64, words)
	return view[float32](bytesOf(buf))[:n]
}
