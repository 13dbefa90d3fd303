package sketch_test

import (
	"fmt"

	"github.com/lantern-mlops/lantern/internal/sketch"
)

func Example() {
	// Two windows of a feature, sketched separately and merged.
	a, b := sketch.New(0, 1), sketch.New(0, 2)
	for i := range 500_000 {
		a.Add(float64(i % 1000))
		b.Add(float64(1000 + i%1000))
	}
	if err := a.Merge(b); err != nil {
		panic(err)
	}
	fmt.Println("count", a.Count(), "min", a.Min(), "max", a.Max())
	fmt.Printf("median within 1%%: %v\n", abs(a.Quantile(0.5)-1000) <= 20)
	fmt.Printf("rank of 500 within 1%%: %v\n", abs(a.Rank(500)-0.25) <= 0.01)
	b2, _ := a.MarshalBinary()
	fmt.Println("bytes < 6000:", len(b2) < 6000)
	// Output:
	// count 1000000 min 0 max 1999
	// median within 1%: true
	// rank of 500 within 1%: true
	// bytes < 6000: true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
