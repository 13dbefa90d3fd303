// Package dataset is the in-memory table the training jobs share: a schema
// and typed columns, built by the loaders in training/data, read by feature
// engineering, trainers, evaluation and the reference profile.
//
// Columns are stored once, column-major: numbers as float64 (NaN for a
// missing value), strings dictionary-encoded (code -1 for a missing value),
// so a million-row dataset of a dozen columns takes about a hundred
// megabytes and is never copied row by row.
package dataset
