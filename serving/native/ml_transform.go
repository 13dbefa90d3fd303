package native

import (
	"math"
)

// postTransform is the score transform of the ai.onnx.ml classifiers and
// regressors, computed in float32 as ONNX Runtime does (ml_common.h).
type postTransform uint8

const (
	postNone postTransform = iota
	postLogistic
	postSoftmax
	postSoftmaxZero
	postProbit
)

func parsePost(s string) (postTransform, error) {
	switch s {
	case "NONE":
		return postNone, nil
	case "LOGISTIC":
		return postLogistic, nil
	case "SOFTMAX":
		return postSoftmax, nil
	case "SOFTMAX_ZERO":
		return postSoftmaxZero, nil
	case "PROBIT":
		return postProbit, nil
	}
	return 0, invalidModelf("post_transform %q is not NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT", s)
}

// logistic32 is 1/(1+e^-|x|), mirrored for negative x.
func logistic32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	e := float32(math.Exp(float64(-a)))
	one := float32(1)
	v := one / (one + e)
	if x < 0 {
		return one - v
	}
	return v
}

// Constants of ONNX Runtime's ErfInv, rounded to float32 before use as the
// C++ code does.
var (
	erfPi   = float32(math.Pi)
	erfA    = float32(0.147)
	erfSqrt = float32(math.Sqrt2)
)

// erfInv32 is the Winitzki approximation of erf⁻¹ (a = 0.147), in float32.
func erfInv32(x float32) float32 {
	sgn := float32(1)
	if x < 0 {
		sgn = -1
	}
	x = (1 - x) * (1 + x)
	lg := float32(math.Log(float64(x)))
	two, half, one := float32(2), float32(0.5), float32(1)
	v := two/(erfPi*erfA) + half*lg
	v2 := one / erfA * lg
	v3 := -v + float32(math.Sqrt(float64(v*v-v2)))
	return sgn * float32(math.Sqrt(float64(v3)))
}

// probit32 is √2·erf⁻¹(2x−1).
func probit32(x float32) float32 {
	two, one := float32(2), float32(1)
	return erfSqrt * erfInv32(two*x-one)
}

// softmax32 normalises v in place: subtract the maximum, exponentiate,
// divide by the float32 sum.
func softmax32(v []float32) {
	m := float32(-math.MaxFloat32)
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	var sum float32
	for i, x := range v {
		e := float32(math.Exp(float64(x - m)))
		v[i] = e
		sum += e
	}
	for i := range v {
		v[i] /= sum
	}
}

// softmaxZero32 is softmax32 where values within 1e-7 of zero are left out
// of the sum and stay near zero.
func softmaxZero32(v []float32) {
	m := float32(-math.MaxFloat32)
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	expNegMax := float32(math.Exp(float64(-m)))
	var sum float32
	for i, x := range v {
		if x > 0.0000001 || x < -0.0000001 {
			e := float32(math.Exp(float64(x - m)))
			v[i] = e
			sum += e
		} else {
			v[i] = x * expNegMax
		}
	}
	for i := range v {
		v[i] /= sum
	}
}

// transformRow applies a post-transform to the scores of one row (two or
// more scores), in place.
func transformRow(p postTransform, v []float32) {
	switch p {
	case postProbit:
		for i, x := range v {
			v[i] = probit32(x)
		}
	case postLogistic:
		for i, x := range v {
			v[i] = logistic32(x)
		}
	case postSoftmax:
		softmax32(v)
	case postSoftmaxZero:
		softmaxZero32(v)
	}
}

// writeScores is ONNX Runtime's write_scores: scores of one row become the
// row of Z. With one score (binary classification), addSecond says how the
// second column is made: 0 or 1 give [1−s, s]; 2 or 3 give [−s, s], or
// [σ(−s), σ(s)] with LOGISTIC; -1 writes s alone. PROBIT on one score writes
// probit(s) alone. z has room for max(len(scores), 2) values; values not
// written are set to 0.
func writeScores(p postTransform, scores []float32, z []float32, addSecond int) {
	if len(scores) >= 2 {
		transformRow(p, scores)
		copy(z, scores)
		return
	}
	if len(scores) == 0 {
		return
	}
	s := scores[0]
	for i := range z {
		z[i] = 0
	}
	if p == postProbit {
		z[0] = probit32(s)
		return
	}
	switch addSecond {
	case 0, 1:
		z[0], z[1] = 1-s, s
	case 2, 3:
		if p == postLogistic {
			z[0], z[1] = logistic32(-s), logistic32(s)
		} else {
			z[0], z[1] = -s, s
		}
	default:
		z[0] = s
	}
}
