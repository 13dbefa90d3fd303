package oip

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// TestFastFloat checks the fast number paths against strconv: FP64 must be
// correctly rounded, FP32 must equal the float64 narrowed to float32.
func TestFastFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	var lits []string
	add := func(s ...string) { lits = append(lits, s...) }
	add("0", "-0", "0.0", "1", "-1", "0.1", "1e-7", "3.4028234663852886e38", "3.4028235e38", "3.4028236e38",
		"1.1754943508222875e-38", "1.401298464324817e-45", "1e-46", "123456789012345678901234", "1e22", "1e23",
		"9007199254740993", "0.10000000149011612", "-47.380947113037109", "1E+2", "2.5e-3", "100.00000000000000000001")
	for range 200000 {
		f32 := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f32)) || math.IsInf(float64(f32), 0) {
			continue
		}
		f64 := math.Float64frombits(r.Uint64())
		if math.IsNaN(f64) || math.IsInf(f64, 0) {
			continue
		}
		small := r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))
		// A float32 rounding midpoint, written exactly and nearly.
		next := math.Nextafter32(f32, float32(math.Inf(1)))
		mid := (float64(f32) + float64(next)) / 2
		add(strconv.FormatFloat(float64(f32), 'g', 17, 64), strconv.FormatFloat(float64(f32), 'g', -1, 32),
			strconv.FormatFloat(float64(f32), 'e', -1, 64), strconv.FormatFloat(f64, 'g', -1, 64),
			strconv.FormatFloat(small, 'f', -1, 64), strconv.FormatFloat(small, 'g', 17, 64),
			strconv.FormatFloat(mid, 'g', 17, 64), strconv.FormatFloat(mid, 'e', 30, 64),
			strconv.FormatFloat(math.Nextafter(mid, 0), 'g', 17, 64))
	}
	for _, lit := range lits {
		ref, err := strconv.ParseFloat(lit, 64)
		if v, ok := fastFloat64([]byte(lit)); ok && (err != nil || v != ref || math.Signbit(v) != math.Signbit(ref)) {
			t.Fatalf("fastFloat64(%s) = %v, want %v", lit, v, ref)
		}
		ref32 := float32(ref)
		if v, ok := fastFloat32([]byte(lit)); ok && (err != nil || v != ref32 || math.Signbit(float64(v)) != math.Signbit(float64(ref32))) {
			t.Fatalf("fastFloat32(%s) = %v, want %v", lit, v, ref32)
		}
		if v, ok := slowFloat32([]byte(lit)); ok != (err == nil && !math.IsInf(float64(ref32), 0)) || ok && v != ref32 {
			t.Fatalf("slowFloat32(%s) = %v %v", lit, v, ok)
		}
	}
}

func TestParseUint(t *testing.T) {
	for _, tt := range []struct {
		s  string
		v  uint64
		ok bool
	}{
		{"0", 0, true}, {"18446744073709551615", math.MaxUint64, true}, {"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false}, {"1844674407370955161", 1844674407370955161, true}, {"", 0, false},
	} {
		if v, ok := parseUint([]byte(tt.s)); v != tt.v || ok != tt.ok {
			t.Errorf("parseUint(%q) = %v, %v", tt.s, v, ok)
		}
	}
}

func TestDecodeRawHugeShape(t *testing.T) {
	for _, shape := range [][]int64{{1 << 62}, {1 << 61, 4}, {math.MaxInt64}} {
		tt := tensor.Tensor{Name: "x", DType: tensor.Float64, Shape: shape}
		if err := decodeRaw("input", &tt, nil, false); err == nil {
			t.Errorf("shape %v accepted with no data", shape)
		}
		tt.DType = tensor.String
		if err := decodeRaw("input", &tt, make([]byte, 8), false); err == nil {
			t.Errorf("BYTES shape %v accepted", shape)
		}
	}
}
