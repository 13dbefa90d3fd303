package mlflowscore

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// appendPredictions writes {"predictions": ...}. With frameStyle and
// outputs that all have one row per input row, it is a list of records
// {output: value}, like MLflow's onnx flavor's DataFrame as records;
// otherwise an object {output: tensor}, like its dict of arrays.
func appendPredictions(buf []byte, resp *serving.InferResponse, info serving.ModelInfo, frameStyle bool, rows int) ([]byte, error) {
	labels := map[string][]string{}
	for _, o := range info.Outputs {
		if len(o.Labels) > 0 {
			labels[o.Name] = o.Labels
		}
	}
	records := frameStyle
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		if t.DType == tensor.Invalid || t.DType > tensor.String {
			return nil, fmt.Errorf("output %q has no datatype", t.Name)
		}
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("invalid output from the backend: %w", err)
		}
		if len(t.Shape) == 0 || t.Shape[0] != int64(rows) {
			records = false
		}
	}
	buf = append(buf, `{"predictions":`...)
	if records {
		buf = append(buf, '[')
		for r := range rows {
			if r > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '{')
			for i := range resp.Outputs {
				t := &resp.Outputs[i]
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendString(buf, t.Name)
				buf = append(buf, ':')
				buf = appendRow(buf, t, r, labels[t.Name])
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	} else {
		buf = append(buf, '{')
		for i := range resp.Outputs {
			t := &resp.Outputs[i]
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, t.Name)
			buf = append(buf, ':')
			k := 0
			buf = appendNested(buf, t, t.Shape, labels[t.Name], &k)
		}
		buf = append(buf, '}')
	}
	return append(buf, '}'), nil
}

// appendRow writes row r of t: a scalar when a row holds one value (MLflow
// flattens [N, 1] to N values), an object of label to value for a
// labelled row (ZipMap), else nested lists.
func appendRow(buf []byte, t *tensor.Tensor, r int, labels []string) []byte {
	inner := t.Shape[1:]
	per := int(tensor.NumElements(inner))
	k := r * per
	if per == 1 && len(labels) != 1 {
		return appendElem(buf, t, k)
	}
	return appendNested(buf, t, inner, labels, &k)
}

// appendNested writes the elements of t from *k on as nested lists of the
// given shape; a last dimension matching labels becomes an object.
func appendNested(buf []byte, t *tensor.Tensor, shape []int64, labels []string, k *int) []byte {
	if len(shape) == 0 {
		buf = appendElem(buf, t, *k)
		*k++
		return buf
	}
	if len(shape) == 1 && len(labels) > 0 && shape[0] == int64(len(labels)) {
		buf = append(buf, '{')
		for j, l := range labels {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, l)
			buf = append(buf, ':')
			buf = appendElem(buf, t, *k)
			*k++
		}
		return append(buf, '}')
	}
	buf = append(buf, '[')
	for j := range shape[0] {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = appendNested(buf, t, shape[1:], labels, k)
	}
	return append(buf, ']')
}

// appendElem writes element k of t. Floats are written in the shortest
// form that reads back to the same value of their type; NaN and
// infinities as Python's json writes them (NaN, Infinity, -Infinity).
func appendElem(buf []byte, t *tensor.Tensor, k int) []byte {
	raw := t.Raw
	le := binary.LittleEndian
	switch t.DType {
	case tensor.Bool:
		if raw[k] != 0 {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case tensor.Uint8:
		return strconv.AppendUint(buf, uint64(raw[k]), 10)
	case tensor.Uint16:
		return strconv.AppendUint(buf, uint64(le.Uint16(raw[2*k:])), 10)
	case tensor.Uint32:
		return strconv.AppendUint(buf, uint64(le.Uint32(raw[4*k:])), 10)
	case tensor.Uint64:
		return strconv.AppendUint(buf, le.Uint64(raw[8*k:]), 10)
	case tensor.Int8:
		return strconv.AppendInt(buf, int64(int8(raw[k])), 10)
	case tensor.Int16:
		return strconv.AppendInt(buf, int64(int16(le.Uint16(raw[2*k:]))), 10)
	case tensor.Int32:
		return strconv.AppendInt(buf, int64(int32(le.Uint32(raw[4*k:]))), 10)
	case tensor.Int64:
		return strconv.AppendInt(buf, int64(le.Uint64(raw[8*k:])), 10)
	case tensor.Float16:
		return appendFloat(buf, float64(float16to32(le.Uint16(raw[2*k:]))), 32)
	case tensor.BFloat16:
		return appendFloat(buf, float64(math.Float32frombits(uint32(le.Uint16(raw[2*k:]))<<16)), 32)
	case tensor.Float32:
		return appendFloat(buf, float64(math.Float32frombits(le.Uint32(raw[4*k:]))), 32)
	case tensor.Float64:
		return appendFloat(buf, math.Float64frombits(le.Uint64(raw[8*k:])), 64)
	case tensor.String:
		return appendString(buf, string(t.Strings[k]))
	}
	return append(buf, "null"...)
}

func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(buf, f, format, -1, bits)
}

// float16to32 converts IEEE 754 half precision bits to a float32.
func float16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: normalise.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// appendString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, `\ufffd`...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
