package mlflowscore

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// featureNames is the model's feature_names property, split.
func featureNames(info serving.ModelInfo) []string {
	s := strings.TrimSpace(info.Properties[FeatureNamesProperty])
	if s == "" {
		return nil
	}
	names := strings.Split(s, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	return names
}

// buildInputs maps a parsed request to the model's inputs.
func buildInputs(info serving.ModelInfo, req *request) ([]tensor.Tensor, error) {
	if len(info.Inputs) == 0 {
		return nil, badRequestf("model %q has no inputs", info.Name)
	}
	if req.frame == nil {
		if len(info.Inputs) != 1 {
			return nil, badRequestf("a list can only feed a model with one input; model %q has inputs %s: send an object keyed by input name", info.Name, inputNames(info))
		}
		t, err := nestedTensor(info.Inputs[0], req.tensor)
		if err != nil {
			return nil, err
		}
		return []tensor.Tensor{t}, nil
	}
	if len(info.Inputs) == 1 {
		t, err := frameToSingle(info, req.frame)
		if err != nil {
			return nil, err
		}
		return []tensor.Tensor{t}, nil
	}
	return frameByName(info, req.frame)
}

func inputNames(info serving.ModelInfo) string {
	names := make([]string, len(info.Inputs))
	for i, in := range info.Inputs {
		names[i] = in.Name
	}
	return describeColumns(names)
}

// frameToSingle builds the one input of a model from a frame: [N, F] from
// the feature columns, or the rows of a column named like the input.
func frameToSingle(info serving.ModelInfo, fr *frame) (tensor.Tensor, error) {
	in := info.Inputs[0]
	n := fr.rows()
	features := featureNames(info)
	var cols []int
	switch {
	case len(fr.columns) == 1 && fr.columns[0] == in.Name:
		// One column named like the input: a tensor per row.
		return stackColumn(in, fr.cols[0], fr.columns[0])
	case len(features) > 0 && fr.columns != nil:
		index := make(map[string]int, len(fr.columns))
		for j, c := range fr.columns {
			index[c] = j
		}
		var missing []string
		for _, f := range features {
			j, ok := index[f]
			if !ok {
				missing = append(missing, f)
			}
			cols = append(cols, j)
		}
		if len(missing) > 0 {
			return tensor.Tensor{}, badRequestf("missing column(s) %s; model %q takes the columns %s", describeColumns(missing), info.Name, describeColumns(features))
		}
		var unknown []string
		for _, c := range fr.columns {
			if !slices.Contains(features, c) {
				unknown = append(unknown, c)
			}
		}
		if len(unknown) > 0 {
			return tensor.Tensor{}, badRequestf("unknown column(s) %s; model %q takes the columns %s", describeColumns(unknown), info.Name, describeColumns(features))
		}
	case len(features) > 0:
		if len(fr.cols) != len(features) {
			return tensor.Tensor{}, badRequestf("the data has %d unnamed columns; model %q takes the columns %s", len(fr.cols), info.Name, describeColumns(features))
		}
		fallthrough
	default:
		for j := range fr.cols {
			cols = append(cols, j)
		}
	}
	width := len(cols)
	var shape []int64
	switch rank := len(in.Shape); {
	case rank == 2 || rank == 0:
		if rank == 2 && in.Shape[1] >= 0 && in.Shape[1] != int64(width) {
			return tensor.Tensor{}, badRequestf("model input %q takes %d values per row (shape %v) but the data has %d columns", in.Name, in.Shape[1], in.Shape, width)
		}
		shape = []int64{int64(n), int64(width)}
	case rank == 1 && width == 1:
		shape = []int64{int64(n)}
	default:
		return tensor.Tensor{}, badRequestf("model input %q has shape %v, which a data frame of %d columns cannot feed; send \"inputs\" with a tensor", in.Name, in.Shape, width)
	}
	t := newTensor(in, shape, n*width)
	for i := range n {
		for j, c := range cols {
			if err := setValue(&t, i*width+j, fr.cols[c][i]); err != nil {
				return tensor.Tensor{}, badRequestf("column %q, row %d: %s", columnLabel(fr, c), i, err.Error())
			}
		}
	}
	return t, nil
}

func columnLabel(fr *frame, j int) string {
	if fr.columns != nil {
		return fr.columns[j]
	}
	return strconv.Itoa(j)
}

// frameByName feeds each input of a model from the column of its name.
func frameByName(info serving.ModelInfo, fr *frame) ([]tensor.Tensor, error) {
	if fr.columns == nil {
		return nil, badRequestf("model %q has several inputs (%s): name the columns after them", info.Name, inputNames(info))
	}
	index := make(map[string]int, len(fr.columns))
	for j, c := range fr.columns {
		index[c] = j
	}
	var missing []string
	for _, in := range info.Inputs {
		if _, ok := index[in.Name]; !ok {
			missing = append(missing, in.Name)
		}
	}
	if len(missing) > 0 {
		return nil, badRequestf("missing column(s) %s; model %q takes one column per input: %s", describeColumns(missing), info.Name, inputNames(info))
	}
	var unknown []string
	for _, c := range fr.columns {
		if !slices.ContainsFunc(info.Inputs, func(in tensor.Info) bool { return in.Name == c }) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		return nil, badRequestf("unknown column(s) %s; model %q takes one column per input: %s", describeColumns(unknown), info.Name, inputNames(info))
	}
	ts := make([]tensor.Tensor, len(info.Inputs))
	for i, in := range info.Inputs {
		t, err := stackColumn(in, fr.cols[index[in.Name]], in.Name)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return ts, nil
}

// stackColumn makes an input from a column: scalars give [N] (or [N, 1]
// for a 2-D input), nested lists give [N, ...] when they all have the
// same shape.
func stackColumn(in tensor.Info, values []any, column string) (tensor.Tensor, error) {
	n := len(values)
	var inner []int64 // the shape of each row's value
	if n > 0 {
		var err error
		if inner, err = nestedShape(values[0]); err != nil {
			return tensor.Tensor{}, badRequestf("column %q, row 0: %s", column, err.Error())
		}
	}
	shape := append([]int64{int64(n)}, inner...)
	if len(inner) == 0 && len(in.Shape) == 2 && (in.Shape[1] == 1 || in.Shape[1] < 0) {
		shape = append(shape, 1) // scalars for an [N, 1] input
	}
	count := tensor.NumElements(shape)
	if count < 0 || count > math.MaxInt32 {
		return tensor.Tensor{}, badRequestf("column %q: shape %v is too large", column, shape)
	}
	t := newTensor(in, shape, int(count))
	per := int(count) / max(n, 1)
	for i, v := range values {
		k := i * per
		if err := flatten(&t, v, inner, &k); err != nil {
			return tensor.Tensor{}, badRequestf("column %q, row %d: %s", column, i, err.Error())
		}
	}
	return t, nil
}

// nestedTensor makes an input from a nested list.
func nestedTensor(in tensor.Info, v any) (tensor.Tensor, error) {
	shape, err := nestedShape(v)
	if err != nil {
		return tensor.Tensor{}, badRequestf("input %q: %s", in.Name, err.Error())
	}
	count := tensor.NumElements(shape)
	if count < 0 || count > math.MaxInt32 {
		return tensor.Tensor{}, badRequestf("input %q: shape %v is too large", in.Name, shape)
	}
	t := newTensor(in, shape, int(count))
	k := 0
	if err := flatten(&t, v, shape, &k); err != nil {
		return tensor.Tensor{}, badRequestf("input %q: %s", in.Name, err.Error())
	}
	return t, nil
}

// nestedShape is the shape of a nested list, following first elements;
// flatten checks that the rest agrees.
func nestedShape(v any) ([]int64, error) {
	var shape []int64
	for depth := 0; ; depth++ {
		list, ok := v.([]any)
		if !ok {
			if _, isObj := v.(map[string]any); isObj {
				return nil, errorString("an object is not a value")
			}
			return shape, nil
		}
		if depth == 32 {
			return nil, errorString("lists nest more than 32 deep")
		}
		shape = append(shape, int64(len(list)))
		if len(list) == 0 {
			return shape, nil
		}
		v = list[0]
	}
}

// flatten writes v, of the given shape, into t from element *k on.
func flatten(t *tensor.Tensor, v any, shape []int64, k *int) error {
	if len(shape) == 0 {
		if err := setValue(t, *k, v); err != nil {
			return err
		}
		*k++
		return nil
	}
	list, ok := v.([]any)
	if !ok || int64(len(list)) != shape[0] {
		return errorString("the nested lists are not rectangular (every list at one depth must have the same length)")
	}
	for _, e := range list {
		if err := flatten(t, e, shape[1:], k); err != nil {
			return err
		}
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

func newTensor(in tensor.Info, shape []int64, n int) tensor.Tensor {
	t := tensor.Tensor{Name: in.Name, DType: in.DType, Shape: shape}
	t.SetLen(n)
	return t
}

// setValue writes cell v as element k of t, converting it to t's type.
func setValue(t *tensor.Tensor, k int, v any) error {
	dt := t.DType
	switch x := v.(type) {
	case nil:
		switch dt {
		case tensor.Float16, tensor.BFloat16, tensor.Float32, tensor.Float64:
			return setFloat(t, k, math.NaN())
		}
		return errorString("a missing value (null or an empty cell) for " + dt.OIP() + " data; only float inputs take missing values (as NaN)")
	case string:
		if after, ok := strings.CutPrefix(x, nonFinitePrefix); ok {
			f, _ := strconv.ParseFloat(after, 64)
			return setNumber(t, k, after, f, false)
		}
		if dt == tensor.String {
			t.Strings[k] = []byte(x)
			return nil
		}
		return errorString("the string " + strconv.Quote(x) + " for " + dt.OIP() + " data; send numbers as JSON numbers")
	case csvCell:
		s := string(x)
		switch dt {
		case tensor.String:
			t.Strings[k] = []byte(s)
			return nil
		case tensor.Bool:
			switch strings.ToLower(s) {
			case "true", "1":
				t.Raw[k] = 1
				return nil
			case "false", "0":
				t.Raw[k] = 0
				return nil
			}
			return errorString(strconv.Quote(s) + " is not a boolean (True, False, 1 or 0)")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return errorString(strconv.Quote(s) + " is not a number")
		}
		return setNumber(t, k, s, f, err != nil)
	case bool:
		if dt != tensor.Bool {
			return errorString("a boolean for " + dt.OIP() + " data")
		}
		if x {
			t.Raw[k] = 1
		} else {
			t.Raw[k] = 0
		}
		return nil
	case json.Number:
		if dt == tensor.String || dt == tensor.Bool {
			return errorString("the number " + x.String() + " for " + dt.OIP() + " data")
		}
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil && !isRangeErr(err) {
			return errorString(x.String() + " is not a number")
		}
		return setNumber(t, k, x.String(), f, err != nil)
	case []any:
		return errorString("a list where a single value belongs")
	case map[string]any:
		return errorString("an object where a single value belongs")
	}
	return errorString("an unsupported value")
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// setNumber writes the number lit (f as a float64; outOfRange if lit is
// beyond float64) as element k.
func setNumber(t *tensor.Tensor, k int, lit string, f float64, outOfRange bool) error {
	dt := t.DType
	switch dt {
	case tensor.Float16, tensor.BFloat16, tensor.Float32, tensor.Float64:
		if outOfRange || dt == tensor.Float32 && !math.IsInf(f, 0) && math.IsInf(float64(float32(f)), 0) {
			return errorString(lit + " is out of range for " + dt.OIP())
		}
		return setFloat(t, k, f)
	case tensor.Bool, tensor.String:
		return errorString("a number for " + dt.OIP() + " data")
	}
	// Integers: exact when written as one, else a whole float.
	if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return setInt(t, k, lit, v, 0, false)
	}
	if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
		return setInt(t, k, lit, 0, u, true)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return errorString(lit + " is not a whole number, as " + dt.OIP() + " data must be")
	}
	if f < -(1<<63) || f >= 1<<64 {
		return errorString(lit + " is out of range for " + dt.OIP())
	}
	if f < 0 {
		return setInt(t, k, lit, int64(f), 0, false)
	}
	return setInt(t, k, lit, 0, uint64(f), true)
}

var intMin = map[tensor.DType]int64{tensor.Int8: math.MinInt8, tensor.Int16: math.MinInt16, tensor.Int32: math.MinInt32, tensor.Int64: math.MinInt64}
var intMax = map[tensor.DType]uint64{
	tensor.Int8: math.MaxInt8, tensor.Int16: math.MaxInt16, tensor.Int32: math.MaxInt32, tensor.Int64: math.MaxInt64,
	tensor.Uint8: math.MaxUint8, tensor.Uint16: math.MaxUint16, tensor.Uint32: math.MaxUint32, tensor.Uint64: math.MaxUint64,
}

// setInt writes v (or u when unsigned is true, for values over MaxInt64)
// after checking the range of t's type.
func setInt(t *tensor.Tensor, k int, lit string, v int64, u uint64, positive bool) error {
	dt := t.DType
	signed := dt >= tensor.Int8 && dt <= tensor.Int64
	var bits uint64
	switch {
	case positive:
		if u > intMax[dt] {
			return errorString(lit + " is out of range for " + dt.OIP())
		}
		bits = u
	case v < 0:
		if !signed || v < intMin[dt] {
			return errorString(lit + " is out of range for " + dt.OIP())
		}
		bits = uint64(v)
	default:
		if uint64(v) > intMax[dt] {
			return errorString(lit + " is out of range for " + dt.OIP())
		}
		bits = uint64(v)
	}
	switch dt.Size() {
	case 1:
		t.Raw[k] = byte(bits)
	case 2:
		binary.LittleEndian.PutUint16(t.Raw[2*k:], uint16(bits))
	case 4:
		binary.LittleEndian.PutUint32(t.Raw[4*k:], uint32(bits))
	default:
		binary.LittleEndian.PutUint64(t.Raw[8*k:], bits)
	}
	return nil
}

func setFloat(t *tensor.Tensor, k int, f float64) error {
	switch t.DType {
	case tensor.Float64:
		binary.LittleEndian.PutUint64(t.Raw[8*k:], math.Float64bits(f))
	case tensor.Float32:
		binary.LittleEndian.PutUint32(t.Raw[4*k:], math.Float32bits(float32(f)))
	case tensor.Float16:
		binary.LittleEndian.PutUint16(t.Raw[2*k:], float16bits(float32(f)))
	case tensor.BFloat16:
		binary.LittleEndian.PutUint16(t.Raw[2*k:], bfloat16bits(float32(f)))
	}
	return nil
}

// float16bits converts to IEEE 754 half precision, rounding to nearest even.
func float16bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff > 0x7f800000: // NaN
		return sign | 0x7e00
	case exp >= 0x1f: // overflow or infinity
		return sign | 0x7c00
	case exp <= 0: // subnormal or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		if rem := mant & (1<<shift - 1); rem > half || rem == half && r&1 == 1 {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || rem == 0x1000 && r&1 == 1 {
		r++ // may carry into the exponent, up to infinity: correct
	}
	return sign | uint16(r)
}

// bfloat16bits converts to bfloat16, rounding to nearest even.
func bfloat16bits(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
