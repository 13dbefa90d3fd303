package synth

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Defect is a class of data-quality defect a generator can inject, so that
// the checks in training/data can be tested. Each class maps to exactly one
// check of the data-quality report (docs/data.md lists them).
type Defect string

// The defect classes. What each does to a demand / malnutrition row:
const (
	// Duplicate repeats a row exactly, right after it (uniqueness: duplicate_row).
	Duplicate Defect = "duplicate"
	// ConflictingDuplicate adds a second row with the same key but a different
	// consumption / muac_mm (uniqueness: duplicate_key).
	ConflictingDuplicate Defect = "conflicting_duplicate"
	// Negative makes consumption / weight_kg negative (validity: out_of_range).
	Negative Defect = "negative"
	// Impossible sets population to 1,000,000,000 / age_months to 200
	// (validity: out_of_range).
	Impossible Defect = "impossible"
	// UnknownLevel puts a region / sex outside the schema's levels
	// (validity: unknown_level).
	UnknownLevel Defect = "unknown_level"
	// Inconsistent lowers population below admissions / marks oedema on a
	// child not labelled SAM (consistency: admissions_le_population /
	// status_vs_muac_oedema).
	Inconsistent Defect = "inconsistent"
	// FutureTime adds a copy of a row dated ten years later
	// (timeliness: future_time).
	FutureTime Defect = "future_time"
	// MissingRequired empties population / muac_mm (completeness: missing_value).
	MissingRequired Defect = "missing_required"
	// BadType writes text such as "1O4" into admissions / muac_mm
	// (validity: type_error). Such rows can only be written to CSV.
	BadType Defect = "bad_type"
)

// AllDefects lists the defect classes in a fixed order.
var AllDefects = []Defect{Duplicate, ConflictingDuplicate, Negative, Impossible, UnknownLevel,
	Inconsistent, FutureTime, MissingRequired, BadType}

// Defects gives the share of rows that receive each class of defect, e.g.
// {Duplicate: 0.01, BadType: 0.002}. A row gets at most one defect, and only
// a row without natural issues (empty values, late report, noisy label) gets
// one, so every injected defect is counted once by exactly one check. The
// rates must add up to at most 1.
type Defects map[Defect]float64

func (d Defects) validate() error {
	sum := 0.0
	for k, r := range d {
		known := false
		for _, a := range AllDefects {
			known = known || a == k
		}
		if !known {
			return fmt.Errorf("synth: unknown defect class %q", k)
		}
		if r < 0 || r > 1 {
			return fmt.Errorf("synth: defect %s: rate %v outside [0, 1]", k, r)
		}
		sum += r
	}
	if sum > 1 {
		return fmt.Errorf("synth: defect rates add up to %v > 1", sum)
	}
	return nil
}

// injector adds defects to a stream of rows. It draws from its own stream,
// once per row whatever happens, so the clean rows never depend on it.
type injector struct {
	rng     *rand.Rand
	classes []Defect
	cum     []float64
	// corrupt applies d to row in place; it reports false when the row does
	// not suit d (for example no admissions to exceed).
	corrupt  func(d Defect, row []any, rng *rand.Rand) bool
	injected map[Defect]int
	rows     int
}

func newInjector(d Defects, seed uint64, corrupt func(Defect, []any, *rand.Rand) bool) *injector {
	in := &injector{rng: rand.New(rand.NewPCG(seed, 0xdefec7)), corrupt: corrupt, injected: map[Defect]int{}}
	keys := make([]Defect, 0, len(d))
	for k, r := range d {
		if r > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	total := 0.0
	for _, k := range keys {
		total += d[k]
		in.classes = append(in.classes, k)
		in.cum = append(in.cum, total)
	}
	return in
}

// emit passes row on, possibly with a defect; clean says the row has no
// natural issue.
func (in *injector) emit(row []any, clean bool, emit func([]any) error) error {
	u := in.rng.Float64()
	var d Defect
	for i, c := range in.cum {
		if u < c {
			d = in.classes[i]
			break
		}
	}
	out := func() error { in.rows++; return emit(row) }
	if d == "" || !clean {
		return out()
	}
	switch d {
	case Duplicate:
		in.injected[d]++
		if err := out(); err != nil {
			return err
		}
		return out()
	case ConflictingDuplicate, FutureTime: // the row, then a corrupted copy
		if err := out(); err != nil {
			return err
		}
		if !in.corrupt(d, row, in.rng) {
			return nil
		}
		in.injected[d]++
		return out()
	}
	if in.corrupt(d, row, in.rng) {
		in.injected[d]++
	}
	return out()
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }
