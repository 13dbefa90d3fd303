package sketch

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// The binary form, little-endian:
//
//	offset size  field
//	0      4     magic "LKLL"
//	4      1     format version (1)
//	5      1     number of levels L (1..64)
//	6      2     reserved, 0
//	8      4     k
//	12     8     seed
//	20     8     coin generator state
//	28     8     n, the number of values added
//	36     8     min (float64 bits)
//	44     8     max (float64 bits)
//	52     4*L   number of values at each level
//	...    8*Σ   the values, level 0 first (float64 bits)
//
// A sketch of R retained values in L levels takes 52 + 4L + 8R bytes: about
// 5 KB for K = 200 after a million values.
const (
	binaryMagic   = "LKLL"
	binaryVersion = 1
	headerSize    = 52
	maxLevels     = 64
)

// JSONFormat is the "format" member of a sketch's JSON form.
const JSONFormat = "lantern.kll/v1"

var (
	_ encoding.BinaryMarshaler   = (*Sketch)(nil)
	_ encoding.BinaryUnmarshaler = (*Sketch)(nil)
	_ encoding.BinaryAppender    = (*Sketch)(nil)
	_ json.Marshaler             = (*Sketch)(nil)
	_ json.Unmarshaler           = (*Sketch)(nil)
)

// MarshalBinary encodes the sketch (see AppendBinary).
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, s.BinarySize()))
}

// BinarySize is the length of the sketch's binary form.
func (s *Sketch) BinarySize() int {
	if s.levels == nil {
		return headerSize + 4
	}
	return headerSize + 4*len(s.levels) + 8*s.size
}

// AppendBinary appends the sketch's compact binary form to b. The form
// holds the whole state, coin generator included, so a decoded sketch
// continues exactly as the original would have.
func (s *Sketch) AppendBinary(b []byte) ([]byte, error) {
	if s.levels == nil {
		s.init()
	}
	b = append(b, binaryMagic...)
	b = append(b, binaryVersion, byte(len(s.levels)), 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(s.k))
	b = binary.LittleEndian.AppendUint64(b, s.seed)
	b = binary.LittleEndian.AppendUint64(b, s.rng)
	b = binary.LittleEndian.AppendUint64(b, s.n)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.min))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.max))
	for _, lv := range s.levels {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(lv)))
	}
	for _, lv := range s.levels {
		for _, v := range lv {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b, nil
}

// UnmarshalBinary replaces s with the sketch encoded in data. Data that is
// not a well-formed sketch (wrong magic or version, truncated, weights that
// do not add up to n, unsorted levels, NaNs) is refused with ErrCorrupt.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	if len(data) < headerSize || string(data[:4]) != binaryMagic {
		return fmt.Errorf("%w: not a KLL sketch", ErrCorrupt)
	}
	if data[4] != binaryVersion {
		return fmt.Errorf("%w: unsupported binary version %d", ErrCorrupt, data[4])
	}
	nl := int(data[5])
	if nl < 1 || nl > maxLevels {
		return fmt.Errorf("%w: %d levels", ErrCorrupt, nl)
	}
	le := binary.LittleEndian
	st := state{
		k:    int(le.Uint32(data[8:])),
		seed: le.Uint64(data[12:]),
		rng:  le.Uint64(data[20:]),
		n:    le.Uint64(data[28:]),
		min:  math.Float64frombits(le.Uint64(data[36:])),
		max:  math.Float64frombits(le.Uint64(data[44:])),
	}
	p := data[headerSize:]
	if len(p) < 4*nl {
		return fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	counts := make([]int, nl)
	total := 0
	for h := range counts {
		counts[h] = int(le.Uint32(p[4*h:]))
		total += counts[h]
	}
	p = p[4*nl:]
	if total < 0 || len(p) != 8*total {
		return fmt.Errorf("%w: %d bytes of values for %d values", ErrCorrupt, len(p), total)
	}
	st.levels = make([][]float64, nl)
	for h, c := range counts {
		lv := make([]float64, c)
		for i := range lv {
			lv[i] = math.Float64frombits(le.Uint64(p))
			p = p[8:]
		}
		st.levels[h] = lv
	}
	return st.restore(s)
}

// state is a sketch's serialisable state, validated by restore.
type state struct {
	k        int
	seed     uint64
	rng      uint64
	n        uint64
	min, max float64
	levels   [][]float64
}

func (st *state) restore(s *Sketch) error {
	if st.k < MinK || st.k > MaxK {
		return fmt.Errorf("%w: k=%d out of range", ErrCorrupt, st.k)
	}
	if len(st.levels) < 1 || len(st.levels) > maxLevels {
		return fmt.Errorf("%w: %d levels", ErrCorrupt, len(st.levels))
	}
	var weight uint64
	size := 0
	for h, lv := range st.levels {
		hi, lo := bits.Mul64(uint64(len(lv)), uint64(1)<<h)
		var carry uint64
		weight, carry = bits.Add64(weight, lo, 0)
		if hi != 0 || carry != 0 {
			return fmt.Errorf("%w: weights overflow", ErrCorrupt)
		}
		size += len(lv)
		for i, v := range lv {
			if v != v {
				return fmt.Errorf("%w: NaN at level %d", ErrCorrupt, h)
			}
			if h > 0 && i > 0 && lv[i-1] > v {
				return fmt.Errorf("%w: level %d is not sorted", ErrCorrupt, h)
			}
			if v < st.min || v > st.max {
				return fmt.Errorf("%w: value %v outside [min, max]", ErrCorrupt, v)
			}
		}
	}
	if weight != st.n {
		return fmt.Errorf("%w: retained weight %d != n %d", ErrCorrupt, weight, st.n)
	}
	if st.n == 0 {
		st.min, st.max = math.Inf(1), math.Inf(-1)
	} else if st.min != st.min || st.max != st.max || st.min > st.max {
		return fmt.Errorf("%w: bad min/max", ErrCorrupt)
	}
	*s = Sketch{k: st.k, seed: st.seed, rng: st.rng, n: st.n, min: st.min, max: st.max, levels: st.levels, size: size}
	s.computeCaps()
	s.levels[0] = append(make([]float64, 0, max(s.capacity, len(s.levels[0]))), s.levels[0]...)
	return nil
}

// sketchJSON is the JSON form: readable, for debugging and for other
// languages; the binary form is about half the size.
type sketchJSON struct {
	Format string        `json:"format"`
	K      int           `json:"k"`
	Seed   uint64        `json:"seed,string"`
	State  uint64        `json:"state,string"`
	N      uint64        `json:"n"`
	Min    *jsonFloat    `json:"min,omitempty"`
	Max    *jsonFloat    `json:"max,omitempty"`
	Levels [][]jsonFloat `json:"levels"`
}

// MarshalJSON encodes the sketch as
//
//	{"format":"lantern.kll/v1","k":200,"seed":"1","state":"…","n":3,
//	 "min":1,"max":3,"levels":[[3,1,2]]}
//
// levels[h] holds the values of weight 2^h; ±Inf are written as the strings
// "+Inf" and "-Inf"; seed and state are decimal strings (they are 64-bit).
func (s *Sketch) MarshalJSON() ([]byte, error) {
	if s.levels == nil {
		s.init()
	}
	j := sketchJSON{Format: JSONFormat, K: s.k, Seed: s.seed, State: s.rng, N: s.n, Levels: make([][]jsonFloat, len(s.levels))}
	if s.n > 0 {
		mn, mx := jsonFloat(s.min), jsonFloat(s.max)
		j.Min, j.Max = &mn, &mx
	}
	for h, lv := range s.levels {
		j.Levels[h] = make([]jsonFloat, len(lv))
		for i, v := range lv {
			j.Levels[h][i] = jsonFloat(v)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON replaces s with the sketch encoded by MarshalJSON, with the
// same validation as UnmarshalBinary.
func (s *Sketch) UnmarshalJSON(data []byte) error {
	var j sketchJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if j.Format != JSONFormat {
		return fmt.Errorf("%w: format %q, want %q", ErrCorrupt, j.Format, JSONFormat)
	}
	st := state{k: j.K, seed: j.Seed, rng: j.State, n: j.N, levels: make([][]float64, len(j.Levels))}
	if j.N > 0 {
		if j.Min == nil || j.Max == nil {
			return fmt.Errorf("%w: min and max are required when n > 0", ErrCorrupt)
		}
		st.min, st.max = float64(*j.Min), float64(*j.Max)
	}
	for h, lv := range j.Levels {
		st.levels[h] = make([]float64, len(lv))
		for i, v := range lv {
			st.levels[h][i] = float64(v)
		}
	}
	return st.restore(s)
}

// jsonFloat is a float64 that encodes ±Inf as "+Inf"/"-Inf".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case v != v:
		return nil, fmt.Errorf("sketch: NaN value")
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}
