package eval

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// ErrInvalid is wrapped by every error about the input (lengths that do
// not match, a NaN prediction, probabilities that do not sum to 1).
var ErrInvalid = errors.New("eval: invalid input")

// Metric is a metric value. NaN means undefined on the data (for example
// WAPE when every actual is 0); it is encoded as JSON null (and null
// decodes as NaN), since JSON has no NaN.
type Metric float64

var (
	_ json.Marshaler   = Metric(0)
	_ json.Unmarshaler = (*Metric)(nil)
)

// undefined is the NaN Metric.
var undefined = Metric(math.NaN())

// Defined reports whether m is a number (not NaN or ±Inf).
func (m Metric) Defined() bool { return !math.IsNaN(float64(m)) && !math.IsInf(float64(m), 0) }

// MarshalJSON writes m as a number, or null when it is undefined.
func (m Metric) MarshalJSON() ([]byte, error) {
	if !m.Defined() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(m), 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (m *Metric) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = undefined
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Metric(f)
	return nil
}

// ratio is num/den, undefined when den is 0.
func ratio(num, den float64) Metric {
	if den == 0 {
		return undefined
	}
	return Metric(num / den)
}
