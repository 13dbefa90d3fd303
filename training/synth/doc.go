// Package synth generates the synthetic datasets Lantern's training jobs,
// tests and demos run on: monthly demand for a nutrition supply per district
// (the forecasting family) and child anthropometry records labelled with
// acute-malnutrition status (the classification family).
//
// Generation is deterministic: the same configuration and seed give the same
// rows, in the same order, on every platform (math/rand/v2 PCG streams). Each
// district (demand) draws from its own stream, so a Shift or a change to one
// district leaves every other district's rows unchanged, and injected defects
// draw from a stream of their own, so the clean rows are the same with or
// without them.
//
// Rows are streamed to a callback one at a time, so a generator can write
// millions of rows through training/data's Writer without holding them; the
// *Frame functions collect them into a dataset.Frame instead. A row is one
// value per schema field, in schema order: nil (missing), string, int64,
// float64 or bool; months as "YYYY-MM" and dates as "YYYY-MM-DD" strings. The
// callback must not keep the row slice, which is reused.
//
// docs/data.md describes what the generators model and the schemas.
package synth
