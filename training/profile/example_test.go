package profile_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/profile"
)

var update = flag.Bool("update", false, "rewrite testdata/example.json")

// exampleProfile profiles a small demand data set: three districts, two
// years of months, two numeric features, a region, the target and the
// model's predictions, with 4 bins and 5 quantile points to keep it short.
func exampleProfile() *profile.Profile {
	r := rand.New(rand.NewPCG(2024, 1))
	spec := profile.Spec{
		Numeric:     []string{"consumption_lag12", "stock_on_hand"},
		Categorical: []string{"region"},
		Time:        "month", TimeType: dataset.Month,
		Target: "consumption", Task: profile.Regression,
		Seasonal: []string{"consumption_lag12"},
	}
	b, err := profile.NewBuilder(spec, &profile.Options{Bins: 4, Quantiles: 5, Seed: 1})
	if err != nil {
		panic(err)
	}
	regions := []string{"north", "north", "south"}
	for d := range 3 {
		for m := range 24 {
			month := float64(2022*12 + m)
			season := 1 + 0.4*math.Sin(2*math.Pi*float64(m%12)/12)
			y := math.Round(float64(100*(d+1)) * season * (1 + 0.1*r.NormFloat64()))
			lag := math.Round(float64(100*(d+1)) * season)
			stock := math.NaN()
			if r.IntN(10) > 0 {
				stock = math.Round(r.ExpFloat64() * 300)
			}
			err := b.Add(profile.Row{
				Num: []float64{lag, stock}, Cat: []string{regions[d]},
				Time: month, Target: y, Pred: math.Round(lag * 1.02),
			})
			if err != nil {
				panic(err)
			}
		}
	}
	return b.Profile()
}

// TestExampleGolden keeps testdata/example.json, the example in
// docs/profile.md, in step with the code (go test -run Golden -update).
func TestExampleGolden(t *testing.T) {
	got, err := json.MarshalIndent(exampleProfile(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "example.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: run go test ./training/profile -run Golden -update", path)
	}
	if _, err := profile.Read(bytes.NewReader(want)); err != nil {
		t.Errorf("the example does not validate: %v", err)
	}
}

func ExampleBuilder() {
	spec := profile.Spec{Numeric: []string{"muac_mm"}, Categorical: []string{"sex"}}
	b, err := profile.NewBuilder(spec, nil)
	if err != nil {
		panic(err)
	}
	for i, muac := range []float64{112, 118, 121, 125, 125, 131, 134, 140, math.NaN(), 150} {
		sex := []string{"f", "m"}[i%2]
		if err := b.Add(profile.Row{Num: []float64{muac}, Cat: []string{sex}}); err != nil {
			panic(err)
		}
	}
	p := b.Profile()
	m := p.Numeric[0]
	fmt.Printf("%s: %d values, %.0f%% missing, mean %.1f, range %v–%v\n", m.Name, m.Count, 100*m.MissingRate, m.Mean, m.Min, m.Max)
	fmt.Println("edges ", m.Edges)
	fmt.Println("counts", m.Counts)
	// Output:
	// muac_mm: 9 values, 10% missing, mean 128.4, range 112–150
	// edges  [112 118 121 125 131 134 140]
	// counts [1 1 1 2 1 1 1 1]
}
