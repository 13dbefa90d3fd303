package dataset

import "math"

// Standardise returns the mean and 1/std (population) of each column over
// rows, for z-scoring features; a constant column gets scale 1.
func (m *Matrix) Standardise(rows []int) (mean, scale []float32) {
	mean, scale = make([]float32, len(m.Cols)), make([]float32, len(m.Cols))
	for j, col := range m.Cols {
		s := 0.0
		for _, r := range rows {
			s += float64(col[r])
		}
		mu := s / float64(len(rows))
		v := 0.0
		for _, r := range rows {
			d := float64(col[r]) - mu
			v += d * d
		}
		sd := math.Sqrt(v / float64(len(rows)))
		mean[j], scale[j] = float32(mu), 1
		if sd > 1e-12 {
			scale[j] = float32(1 / sd)
		}
	}
	return mean, scale
}

// ClassWeights returns the loss weight of each class: the explicit weights
// (nil: 1), times n/(K·n_k) when balanced, so every class weighs as much
// in total (rare SAM cases count as much as the common "none").
func ClassWeights(counts []int, explicit []float64, balanced bool) []float64 {
	w := make([]float64, len(counts))
	n := 0
	for _, c := range counts {
		n += c
	}
	for k := range w {
		w[k] = 1
		if explicit != nil {
			w[k] = explicit[k]
		}
		if balanced && counts[k] > 0 {
			w[k] *= float64(n) / float64(len(counts)*counts[k])
		}
	}
	return w
}
