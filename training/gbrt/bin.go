package gbrt

import (
	"math"
	"slices"
)

// edgesOf returns the bin edges of sorted, non-NaN values: strictly
// increasing float32 values, at most maxBins-1 of them. Bin b holds the x
// with edges[b-1] < x <= edges[b] (the first bin has no lower bound, the last
// no upper one). With few distinct values every value gets its own bin;
// otherwise the edges fall between distinct values at about equal counts,
// so a frequent value fills a bin alone.
func edgesOf(sorted []float32, maxBins int) []float32 {
	distinct := 0
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			distinct++
		}
	}
	if distinct <= 1 {
		return nil
	}
	var edges []float32
	if distinct <= maxBins {
		edges = make([]float32, 0, distinct-1)
		for i := 1; i < len(sorted); i++ {
			if sorted[i] != sorted[i-1] {
				edges = append(edges, between(sorted[i-1], sorted[i]))
			}
		}
		return edges
	}
	// Walk the runs of equal values; close a bin at the end of a run once
	// it holds its share of the values.
	total := float64(len(sorted))
	edges = make([]float32, 0, maxBins-1)
	for i := 1; i < len(sorted) && len(edges) < maxBins-1; i++ {
		if sorted[i] != sorted[i-1] && float64(i) >= float64(len(edges)+1)*total/float64(maxBins) {
			edges = append(edges, between(sorted[i-1], sorted[i]))
		}
	}
	return edges
}

// between returns a float32 edge e with lo <= e < hi: the midpoint when it
// rounds strictly below hi, else lo.
func between(lo, hi float32) float32 {
	if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return lo
	}
	m := float32(float64(lo) + (float64(hi)-float64(lo))/2)
	if !(m >= lo && m < hi) {
		return lo
	}
	return m
}

// sortedSample collects the non-NaN values of col at rows and sorts them.
func sortedSample(dst []float32, col []float32, rows []int) []float32 {
	dst = dst[:0]
	for _, r := range rows {
		if v := col[r]; v == v {
			dst = append(dst, v)
		}
	}
	slices.Sort(dst)
	return dst
}
