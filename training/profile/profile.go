package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// SchemaVersion is the schema_version this package writes. Read accepts
// "lantern.profile/v1" and any minor version "lantern.profile/v1.N".
const SchemaVersion = "lantern.profile/v1"

// schemaPrefix and schemaMajor split SchemaVersion.
const (
	schemaPrefix = "lantern.profile/v"
	schemaMajor  = 1
)

// Errors.
var (
	// ErrInvalid: a Spec, Options, Row or Batch the Builder cannot use.
	ErrInvalid = errors.New("profile: invalid input")
	// ErrUnsupportedVersion: a profile of another major schema version.
	ErrUnsupportedVersion = errors.New("profile: unsupported schema version")
	// ErrMalformed: a profile document that breaks the schema's rules.
	ErrMalformed = errors.New("profile: malformed profile")
)

// Task is what the profiled model predicts.
type Task string

// Tasks.
const (
	Regression     Task = "regression"
	Classification Task = "classification"
)

// Profile is the reference profile of a model version: the training data's
// features, target and the model's predictions, summarised. See
// docs/profile.md for every field.
type Profile struct {
	SchemaVersion string `json:"schema_version"`
	// Rows is the number of rows profiled.
	Rows int64 `json:"rows"`
	// Task is what the model predicts ("" when predictions are not profiled).
	Task Task `json:"task,omitempty"`
	// Settings are the binning and sketch parameters the profile was made with.
	Settings Settings `json:"settings"`
	// Time is the range of the time column.
	Time *TimeRange `json:"time,omitempty"`
	// Numeric and Categorical profile the features, in Spec order.
	Numeric     []Numeric     `json:"numeric"`
	Categorical []Categorical `json:"categorical"`
	// Target profiles the label (numeric for regression, class frequencies
	// for classification).
	Target *Target `json:"target,omitempty"`
	// Predictions profiles the model's output on the profiled rows.
	Predictions *Predictions `json:"predictions,omitempty"`
	// Seasonal profiles the target and key features per month of year.
	Seasonal *Seasonal `json:"seasonal,omitempty"`
}

// Settings records how the profile was computed.
type Settings struct {
	// Bins is the number of quantile bins asked for per numeric feature
	// (fewer when a feature has fewer distinct values).
	Bins int `json:"bins"`
	// Quantiles is the number of points of each numeric feature's quantile
	// function (0: none): point i is the quantile at i/(Quantiles−1).
	Quantiles int `json:"quantiles"`
	// MaxCategories caps the categories listed per categorical feature.
	MaxCategories int `json:"max_categories"`
	// Sketch describes the quantile sketch behind edges, counts and quantiles.
	Sketch SketchInfo `json:"sketch"`
}

// SketchInfo describes the quantile sketch.
type SketchInfo struct {
	// Algorithm is "kll".
	Algorithm string `json:"algorithm"`
	K         int    `json:"k"`
	// RankError bounds, with 99% confidence, the error of a bin count as a
	// fraction of the feature's count (0 means every count is exact).
	RankError float64 `json:"rank_error"`
}

// TimeRange is the span of the training data.
type TimeRange struct {
	Column string       `json:"column"`
	Type   dataset.Type `json:"type"`
	// Min and Max are "YYYY-MM" for a month column, "YYYY-MM-DD" for a
	// date column; empty when the column has no value.
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// Missing counts rows without a time.
	Missing int64 `json:"missing"`
}

// Numeric profiles a numeric value (a feature, the target, a prediction,
// a class probability).
type Numeric struct {
	Name string `json:"name"`
	// Count is the number of finite values; Missing of NaN (missing)
	// values; Infinite of ±Inf values, which are left out of everything
	// else. Count + Missing + Infinite is the number of rows profiled.
	Count       int64   `json:"count"`
	Missing     int64   `json:"missing"`
	Infinite    int64   `json:"infinite,omitempty"`
	MissingRate float64 `json:"missing_rate"`
	// Mean, Std (sample standard deviation, n−1; 0 for fewer than two
	// values), Min and Max of the finite values; all 0 when Count is 0.
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	// Exact says Edges, Counts and Quantiles are exact: the value has at
	// most 32 distinct values, or few enough rows for the sketch to hold
	// them all. Otherwise counts are within Settings.Sketch.RankError ×
	// Count of the truth.
	Exact bool `json:"exact,omitempty"`
	// Edges are the inner bin edges, strictly increasing: bin 0 is
	// (−∞, Edges[0]], bin i is (Edges[i−1], Edges[i]], the last bin is
	// (Edges[last], +∞). Counts has one count per bin and sums to Count.
	Edges  []float64 `json:"edges"`
	Counts []int64   `json:"counts"`
	// Quantiles[i] is the quantile at i/(len−1): Quantiles[0] is Min and
	// the last is Max. Omitted in seasonal profiles and when Count is 0.
	Quantiles []float64 `json:"quantiles,omitempty"`
	// Sketch is the feature's KLL sketch in the binary form of package
	// internal/sketch (base64 in JSON), when Options.IncludeSketches.
	Sketch []byte `json:"sketch,omitempty"`
}

// Categorical profiles a categorical value (a feature, class labels).
type Categorical struct {
	Name string `json:"name"`
	// Count is the number of non-missing values, Missing of missing ones.
	Count       int64   `json:"count"`
	Missing     int64   `json:"missing"`
	MissingRate float64 `json:"missing_rate"`
	// Distinct is the number of distinct categories counted; Truncated
	// says more appeared than the profile tracks individually
	// (Options.TrackCategories), the later ones being counted in Other.
	Distinct  int64 `json:"distinct"`
	Truncated bool  `json:"truncated,omitempty"`
	// Categories are the most frequent categories, most frequent first
	// (ties by value), at most Settings.MaxCategories; class labels list
	// every class in class order instead. Other counts the rest.
	Categories []Category `json:"categories"`
	Other      Other      `json:"other"`
}

// Category is one category's frequency.
type Category struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
	// Frequency is Count / the feature's (non-missing) Count.
	Frequency float64 `json:"frequency"`
}

// Other is the bucket of the categories not listed.
type Other struct {
	Count     int64   `json:"count"`
	Frequency float64 `json:"frequency"`
	// Categories is how many distinct categories it holds (not counting
	// those past the tracking limit).
	Categories int64 `json:"categories"`
}

// Target profiles the label column.
type Target struct {
	Name string `json:"name"`
	// Numeric for a regression target, Labels for a classification one.
	Numeric *Numeric     `json:"numeric,omitempty"`
	Labels  *Categorical `json:"labels,omitempty"`
}

// Predictions profiles the model's output.
type Predictions struct {
	Task Task `json:"task"`
	// Value profiles a regression model's prediction.
	Value *Numeric `json:"value,omitempty"`
	// Labels are the predicted classes' frequencies (every class, in
	// class order) and Probabilities the predicted probability of each
	// class (named after the class), for a classifier.
	Labels        *Categorical `json:"labels,omitempty"`
	Probabilities []Numeric    `json:"probabilities,omitempty"`
}

// Seasonal profiles the data per month of year, so that a monitor can
// compare a live window with the same months of the training period.
type Seasonal struct {
	// Column is the time column the months come from.
	Column string `json:"column"`
	// Months has twelve entries, January (1) to December (12).
	Months []Month `json:"months"`
}

// Month is the profile of the rows of one month of year.
type Month struct {
	Month int   `json:"month"`
	Rows  int64 `json:"rows"`
	// Target profiles a regression target in this month; Features the
	// seasonal features (Spec.Seasonal), in that order.
	Target   *Numeric  `json:"target,omitempty"`
	Features []Numeric `json:"features,omitempty"`
}

// Feature returns the numeric feature named name.
func (p *Profile) Feature(name string) (*Numeric, bool) {
	for i := range p.Numeric {
		if p.Numeric[i].Name == name {
			return &p.Numeric[i], true
		}
	}
	return nil, false
}

// CategoricalFeature returns the categorical feature named name.
func (p *Profile) CategoricalFeature(name string) (*Categorical, bool) {
	for i := range p.Categorical {
		if p.Categorical[i].Name == name {
			return &p.Categorical[i], true
		}
	}
	return nil, false
}

// WriteJSON writes the profile as compact JSON.
func (p *Profile) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(p)
}

// Read decodes a profile and validates it. A profile of another major
// schema version is refused with ErrUnsupportedVersion; unknown fields are
// ignored (they come from a newer minor version).
func Read(r io.Reader) (*Profile, error) {
	var p Profile
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// CheckVersion accepts "lantern.profile/v1" and "lantern.profile/v1.N".
func CheckVersion(v string) error {
	rest, ok := strings.CutPrefix(v, schemaPrefix)
	if !ok {
		return fmt.Errorf("%w: %q is not a lantern.profile schema version", ErrUnsupportedVersion, v)
	}
	majorStr, minorStr, hasMinor := strings.Cut(rest, ".")
	major, err := strconv.Atoi(majorStr)
	if err != nil || major < 0 || (hasMinor && !isDigits(minorStr)) {
		return fmt.Errorf("%w: malformed schema version %q", ErrUnsupportedVersion, v)
	}
	if major != schemaMajor {
		return fmt.Errorf("%w: %q (this build reads major version %d)", ErrUnsupportedVersion, v, schemaMajor)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Validate checks the profile against the schema's rules: the version,
// counts that add up (per feature and per bin), strictly increasing finite
// edges, rates and frequencies in [0, 1], and unique names.
func (p *Profile) Validate() error {
	if err := CheckVersion(p.SchemaVersion); err != nil {
		return err
	}
	v := &validator{}
	if p.Rows < 0 {
		v.fail("rows is negative")
	}
	switch p.Task {
	case "", Regression, Classification:
	default:
		v.fail("unknown task %q", p.Task)
	}
	if p.Settings.Bins < 1 || p.Settings.Quantiles < 0 || p.Settings.Quantiles == 1 || p.Settings.MaxCategories < 0 {
		v.fail("settings out of range: %+v", p.Settings)
	}
	if p.Time != nil {
		v.time(p.Time)
	}
	names := make(map[string]bool)
	for i := range p.Numeric {
		n := &p.Numeric[i]
		v.unique(names, n.Name)
		v.numeric("numeric "+n.Name, n, p.Rows, p.Settings.Quantiles)
	}
	for i := range p.Categorical {
		c := &p.Categorical[i]
		v.unique(names, c.Name)
		v.categorical("categorical "+c.Name, c, p.Rows)
	}
	if t := p.Target; t != nil {
		if (t.Numeric == nil) == (t.Labels == nil) {
			v.fail("target %q must have exactly one of numeric and labels", t.Name)
		}
		if t.Numeric != nil {
			v.numeric("target", t.Numeric, p.Rows, p.Settings.Quantiles)
		}
		if t.Labels != nil {
			v.categorical("target", t.Labels, p.Rows)
		}
	}
	if pr := p.Predictions; pr != nil {
		if pr.Task != p.Task {
			v.fail("predictions task %q differs from the profile's %q", pr.Task, p.Task)
		}
		switch pr.Task {
		case Regression:
			if pr.Value == nil {
				v.fail("regression predictions need a value profile")
			} else {
				v.numeric("predictions", pr.Value, p.Rows, p.Settings.Quantiles)
			}
		case Classification:
			if pr.Labels == nil {
				v.fail("classification predictions need labels")
			} else {
				v.categorical("predicted labels", pr.Labels, p.Rows)
			}
			for i := range pr.Probabilities {
				v.numeric("probability of "+pr.Probabilities[i].Name, &pr.Probabilities[i], p.Rows, p.Settings.Quantiles)
			}
		}
	}
	if s := p.Seasonal; s != nil {
		if len(s.Months) != 12 {
			v.fail("seasonal has %d months, want 12", len(s.Months))
		}
		var total int64
		for i, m := range s.Months {
			if m.Month != i+1 || m.Rows < 0 {
				v.fail("seasonal month %d: month %d with %d rows", i+1, m.Month, m.Rows)
				continue
			}
			total += m.Rows
			if m.Target != nil {
				v.numeric(fmt.Sprintf("seasonal month %d target", m.Month), m.Target, m.Rows, 0)
			}
			for j := range m.Features {
				v.numeric(fmt.Sprintf("seasonal month %d %s", m.Month, m.Features[j].Name), &m.Features[j], m.Rows, 0)
			}
		}
		if total > p.Rows {
			v.fail("seasonal months hold %d rows, more than the profile's %d", total, p.Rows)
		}
	}
	return v.err()
}

type validator struct{ errs []error }

func (v *validator) fail(format string, a ...any) {
	if len(v.errs) < 20 {
		v.errs = append(v.errs, fmt.Errorf(format, a...))
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrMalformed, errors.Join(v.errs...))
}

func (v *validator) unique(seen map[string]bool, name string) {
	if name == "" {
		v.fail("a feature has no name")
	}
	if seen[name] {
		v.fail("feature %q appears twice", name)
	}
	seen[name] = true
}

func rate(x float64) bool { return x >= 0 && x <= 1 }

const rateTolerance = 1e-9

func (v *validator) numeric(what string, n *Numeric, rows int64, quantiles int) {
	if n.Count < 0 || n.Missing < 0 || n.Infinite < 0 || n.Count+n.Missing+n.Infinite != rows {
		v.fail("%s: count %d + missing %d + infinite %d != rows %d", what, n.Count, n.Missing, n.Infinite, rows)
	}
	if !rate(n.MissingRate) || (rows > 0 && math.Abs(n.MissingRate-float64(n.Missing)/float64(rows)) > rateTolerance) {
		v.fail("%s: missing_rate %v does not match %d of %d", what, n.MissingRate, n.Missing, rows)
	}
	for _, x := range []float64{n.Mean, n.Std, n.Min, n.Max} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v.fail("%s: non-finite statistic", what)
		}
	}
	if n.Count > 0 && (n.Min > n.Max || n.Std < 0) {
		v.fail("%s: min %v > max %v or negative std", what, n.Min, n.Max)
	}
	if len(n.Counts) != len(n.Edges)+1 {
		v.fail("%s: %d counts for %d edges", what, len(n.Counts), len(n.Edges))
	}
	for i, e := range n.Edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && !(n.Edges[i-1] < e)) {
			v.fail("%s: edges are not finite and strictly increasing", what)
			break
		}
	}
	var sum int64
	for _, c := range n.Counts {
		if c < 0 {
			v.fail("%s: negative bin count", what)
		}
		sum += c
	}
	if sum != n.Count {
		v.fail("%s: bin counts sum to %d, count is %d", what, sum, n.Count)
	}
	if q := n.Quantiles; len(q) > 0 {
		if quantiles > 0 && len(q) != quantiles {
			v.fail("%s: %d quantiles, settings say %d", what, len(q), quantiles)
		}
		for i := range q {
			if math.IsNaN(q[i]) || (i > 0 && q[i] < q[i-1]) {
				v.fail("%s: quantiles are not non-decreasing", what)
				break
			}
		}
		if q[0] != n.Min || q[len(q)-1] != n.Max {
			v.fail("%s: quantiles must run from min to max", what)
		}
	}
}

func (v *validator) categorical(what string, c *Categorical, rows int64) {
	if c.Count < 0 || c.Missing < 0 || c.Count+c.Missing != rows {
		v.fail("%s: count %d + missing %d != rows %d", what, c.Count, c.Missing, rows)
	}
	if !rate(c.MissingRate) || (rows > 0 && math.Abs(c.MissingRate-float64(c.Missing)/float64(rows)) > rateTolerance) {
		v.fail("%s: missing_rate %v does not match %d of %d", what, c.MissingRate, c.Missing, rows)
	}
	seen := make(map[string]bool, len(c.Categories))
	sum := c.Other.Count
	for _, k := range c.Categories {
		if seen[k.Value] {
			v.fail("%s: category %q listed twice", what, k.Value)
		}
		seen[k.Value] = true
		if k.Count < 0 || !rate(k.Frequency) {
			v.fail("%s: category %q: count %d frequency %v", what, k.Value, k.Count, k.Frequency)
		}
		sum += k.Count
	}
	if sum != c.Count || c.Other.Count < 0 || !rate(c.Other.Frequency) {
		v.fail("%s: categories and other sum to %d, count is %d", what, sum, c.Count)
	}
	if c.Distinct < int64(len(c.Categories)) {
		v.fail("%s: distinct %d < %d categories listed", what, c.Distinct, len(c.Categories))
	}
}

func (v *validator) time(t *TimeRange) {
	var parse func(string) (int, error)
	switch t.Type {
	case dataset.Month:
		parse = parseMonth
	case dataset.Date:
		parse = parseDate
	default:
		v.fail("time column %q has type %q, want month or date", t.Column, t.Type)
		return
	}
	if (t.Min == "") != (t.Max == "") {
		v.fail("time range needs both min and max")
		return
	}
	if t.Min == "" {
		return
	}
	lo, err1 := parse(t.Min)
	hi, err2 := parse(t.Max)
	if err := errors.Join(err1, err2); err != nil {
		v.fail("time range: %v", err)
	} else if lo > hi {
		v.fail("time range: min %s after max %s", t.Min, t.Max)
	}
	if t.Missing < 0 {
		v.fail("time range: negative missing count")
	}
}
