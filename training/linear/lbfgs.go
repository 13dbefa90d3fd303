package linear

import (
	"context"
	"math"

	"gonum.org/v1/gonum/floats"
)

// lbfgs minimises a smooth function with limited-memory BFGS (Nocedal and
// Wright, algorithm 7.4: the two-loop recursion over the last `memory`
// steps) and a backtracking line search under the Armijo condition.
// (gonum/optimize would do, but it pulls in a module this repository does
// not require.)
type lbfgs struct {
	memory  int
	maxIter int
	gtol    float64 // stop when max |gradient| is below
	ftol    float64 // stop when f decreases by less than ftol·max(1,|f|) for 10 iterations
}

// minimize moves x (in place) to a minimum of f, which returns the value at
// x and writes the gradient into grad. It returns the final value and the
// number of iterations.
func (o lbfgs) minimize(ctx context.Context, f func(x, grad []float64) float64, x []float64) (float64, int, error) {
	n := len(x)
	g := make([]float64, n)
	fx := f(x, g)
	s := make([][]float64, o.memory)
	y := make([][]float64, o.memory)
	rho := make([]float64, o.memory)
	for i := range s {
		s[i], y[i] = make([]float64, n), make([]float64, n)
	}
	alpha := make([]float64, o.memory)
	d, xNew, gNew := make([]float64, n), make([]float64, n), make([]float64, n)
	stored, head, flat := 0, 0, 0
	iter := 0
	for ; iter < o.maxIter; iter++ {
		if err := ctx.Err(); err != nil {
			return fx, iter, err
		}
		if floats.Norm(g, math.Inf(1)) < o.gtol {
			break
		}
		// d = −H·g by the two-loop recursion.
		copy(d, g)
		for k := range stored {
			i := (head - 1 - k + o.memory) % o.memory
			alpha[i] = rho[i] * floats.Dot(s[i], d)
			floats.AddScaled(d, -alpha[i], y[i])
		}
		if stored > 0 {
			last := (head - 1 + o.memory) % o.memory
			floats.Scale(floats.Dot(s[last], y[last])/floats.Dot(y[last], y[last]), d)
		} else {
			floats.Scale(1/max(floats.Norm(g, 2), 1), d)
		}
		for k := stored - 1; k >= 0; k-- {
			i := (head - 1 - k + o.memory) % o.memory
			beta := rho[i] * floats.Dot(y[i], d)
			floats.AddScaled(d, alpha[i]-beta, s[i])
		}
		floats.Scale(-1, d)
		slope := floats.Dot(g, d)
		if slope >= 0 { // not a descent direction: restart from the gradient
			stored = 0
			copy(d, g)
			floats.Scale(-1/max(floats.Norm(g, 2), 1), d)
			slope = floats.Dot(g, d)
		}
		// Backtracking line search.
		step, fNew := 1.0, 0.0
		ok := false
		for range 40 {
			copy(xNew, x)
			floats.AddScaled(xNew, step, d)
			fNew = f(xNew, gNew)
			if fNew <= fx+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			break // no progress possible: x is a minimum up to rounding
		}
		// Store the step if the curvature condition holds.
		i := head
		floats.SubTo(s[i], xNew, x)
		floats.SubTo(y[i], gNew, g)
		if sy := floats.Dot(s[i], y[i]); sy > 1e-12 {
			rho[i] = 1 / sy
			head = (head + 1) % o.memory
			stored = min(stored+1, o.memory)
		}
		if fx-fNew < o.ftol*max(1, math.Abs(fx)) {
			flat++
		} else {
			flat = 0
		}
		copy(x, xNew)
		copy(g, gNew)
		fx = fNew
		if flat >= 10 {
			iter++
			break
		}
	}
	return fx, iter, nil
}
