// Package profile computes the reference profile stored with every trained
// model version: a few kilobytes that describe the training data and the
// model's predictions on it, against which the drift monitor compares
// live traffic.
//
// A Builder makes the profile in one streaming pass, whatever the number
// of rows: Add takes a row, AddBatch and AddMatrix take the column-major
// tables of package dataset, and nothing is kept per row. Each numeric
// feature feeds a KLL quantile sketch (package internal/sketch), Welford's
// running mean and variance, and missing counts; each categorical feature
// a frequency table with a cap. At the end Profile turns the sketches into
// decile bins (edges deduplicated for discrete features, the first and last
// bins open-ended), bin counts, and a compact quantile function.
//
// The JSON form is versioned ("schema_version": "lantern.profile/v1") and
// documented field by field in docs/profile.md, with a JSON Schema in
// docs/profile.schema.json. Read validates a profile on load and refuses
// another major version; fields it does not know are ignored, which is how
// minor versions add to the format.
package profile
