// Package sketch is a mergeable quantile sketch over float64: a KLL sketch
// (Karnin, Lang and Liberty, "Optimal Quantile Approximation in Streams",
// FOCS 2016) in the lazy-compaction form that Apache DataSketches uses.
//
// A Sketch summarises a stream of any length in a few kilobytes and answers
// rank and quantile queries with a bounded error in rank: for the default
// K = 200, Rank(x) is within about 1.3% of the true fraction of values <= x
// with 99% confidence (RankError reports the bound for a sketch's K), and the
// value Quantile(q) has a true rank within the same distance of q. Min, Max
// and Count are exact, and the sketch is exact (every value kept) until it
// first holds K values.
//
// Sketches merge: merging the sketches of several streams gives a sketch of
// their union with the same guarantee, so a training job can profile in
// parallel and a drift monitor can combine per-window sketches.
//
// The only randomness is the coin that picks which half of a level to keep
// when it is compacted, drawn from a generator seeded by New's seed and
// saved in the serialised form: the same seed and the same input give the
// same sketch, bit for bit, on every platform.
//
// Add is allocation-free once the sketch has reached its size (about 30 ns
// per value), which is what a serving path that keeps a sketch per feature
// per window needs. A Sketch is not safe for concurrent use, not even for
// queries, which cache a sorted view; callers guard it or keep one per
// goroutine and Merge.
package sketch
