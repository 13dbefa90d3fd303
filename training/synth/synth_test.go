package synth

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"math"
	"slices"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// digest hashes the rows a generator emits, with their Go types.
type digest struct {
	h    hash.Hash
	rows int
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) emit(row []any) error {
	d.rows++
	for _, v := range row {
		fmt.Fprintf(d.h, "%T:%v|", v, v)
	}
	d.h.Write([]byte{'\n'})
	return nil
}

func (d *digest) sum() string { return fmt.Sprintf("%x", d.h.Sum(nil)) }

func TestDeterministic(t *testing.T) {
	shift := &Shift{FloodDistricts: []string{"D002", "D007"}, FromMonth: "2023-07"}
	defects := Defects{Duplicate: 0.01, Negative: 0.01, BadType: 0.01, FutureTime: 0.01}
	tests := []struct {
		name string
		gen  func(seed uint64, emit func([]any) error) error
	}{
		{"demand", func(seed uint64, emit func([]any) error) error {
			_, err := Demand(DemandConfig{Seed: seed}, emit)
			return err
		}},
		{"demand/shift+defects", func(seed uint64, emit func([]any) error) error {
			_, err := Demand(DemandConfig{Seed: seed, Shift: shift, Defects: defects}, emit)
			return err
		}},
		{"malnutrition", func(seed uint64, emit func([]any) error) error {
			_, err := Malnutrition(MalnutritionConfig{Seed: seed, Records: 5000}, emit)
			return err
		}},
		{"malnutrition/shift+defects", func(seed uint64, emit func([]any) error) error {
			_, err := Malnutrition(MalnutritionConfig{Seed: seed, Records: 5000, Shift: shift, Defects: defects}, emit)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sums := map[uint64]string{}
			for _, seed := range []uint64{1, 1, 2} {
				d := newDigest()
				if err := tt.gen(seed, d.emit); err != nil {
					t.Fatal(err)
				}
				if d.rows == 0 {
					t.Fatal("no rows")
				}
				if prev, ok := sums[seed]; ok && prev != d.sum() {
					t.Fatalf("seed %d gave different rows on a second run", seed)
				}
				sums[seed] = d.sum()
			}
			if sums[1] == sums[2] {
				t.Error("seeds 1 and 2 gave the same rows")
			}
		})
	}
}

// demandRows collects generated demand rows as copies.
func demandRows(t *testing.T, cfg DemandConfig) ([][]any, DemandStats) {
	t.Helper()
	var rows [][]any
	st, err := Demand(cfg, func(r []any) error { rows = append(rows, slices.Clone(r)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return rows, st
}

func monthOfYear(row []any) int {
	m, _ := dataset.ParseMonth(row[2].(string))
	return int(m)%12 + 1
}

func TestDemandSeasonalPeak(t *testing.T) {
	rows, _ := demandRows(t, DemandConfig{Seed: 3, Districts: 120})
	var sum [13]float64
	var n [13]int
	for _, r := range rows {
		if c, ok := r[5].(float64); ok && !r[6].(bool) {
			sum[monthOfYear(r)] += c
			n[monthOfYear(r)]++
		}
	}
	means := make([]float64, 13)
	for m := 1; m <= 12; m++ {
		means[m] = sum[m] / float64(n[m])
	}
	byMean := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	slices.SortFunc(byMean, func(a, b int) int { return -cmpF(means[a], means[b]) })
	top := slices.Sorted(slices.Values(byMean[:4]))
	if !slices.Equal(top, []int{6, 7, 8, 9}) {
		t.Errorf("top four months by mean consumption = %v, want the lean season June-September (means %.1f)", top, means[1:])
	}
	if ratio := means[byMean[0]] / means[byMean[11]]; ratio < 1.5 {
		t.Errorf("peak/trough = %.2f, want a marked season (>= 1.5)", ratio)
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDemandTrendAndDrivers(t *testing.T) {
	rows, st := demandRows(t, DemandConfig{Seed: 4, Districts: 120})
	// Upward trend: the last year consumes more than the first.
	yearTotal := map[string]float64{}
	for _, r := range rows {
		if c, ok := r[5].(float64); ok {
			yearTotal[r[2].(string)[:4]] += c
		}
	}
	if first, last := yearTotal["2020"], yearTotal["2025"]; last < 1.15*first {
		t.Errorf("consumption 2020 %.0f, 2025 %.0f: want an upward trend", first, last)
	}
	// Consumption follows admissions, about 1.1 cartons a child; stock-outs censor it.
	var ratio [2]float64
	var n [2]int
	for _, r := range rows {
		c, ok := r[5].(float64)
		if adm := r[4].(int64); ok && adm > 20 {
			k := 0
			if r[6].(bool) {
				k = 1
			}
			ratio[k] += c / float64(adm)
			n[k]++
		}
	}
	normal, stockout := ratio[0]/float64(n[0]), ratio[1]/float64(n[1])
	if normal < 0.9 || normal > 1.3 {
		t.Errorf("cartons per admission = %.2f, want about 1.1", normal)
	}
	if stockout > 0.8*normal {
		t.Errorf("cartons per admission in stock-out months %.2f vs %.2f: want censored consumption", stockout, normal)
	}
	// Rates of the natural issues are near their defaults.
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"missing reports", float64(st.MissingReports) / float64(st.DistrictMonths), 0.02},
		{"empty consumption", float64(st.EmptyConsumption) / float64(st.Rows), 0.01},
		{"late reports", float64(st.LateReports) / float64(st.Rows), 0.04},
	} {
		if c.got < c.want*0.7 || c.got > c.want*1.5 {
			t.Errorf("%s: rate %.4f, want about %.2f", c.name, c.got, c.want)
		}
	}
	if s := float64(st.Stockouts) / float64(st.Rows); s < 0.03 || s > 0.15 {
		t.Errorf("stock-out rate %.3f", s)
	}
	if st.Floods == 0 || st.Rows+st.MissingReports != st.DistrictMonths {
		t.Errorf("stats %+v", st)
	}
}

func TestDemandFloodRaisesDemand(t *testing.T) {
	rows, _ := demandRows(t, DemandConfig{Seed: 5, Districts: 400, MissingRate: -1, EmptyRate: -1})
	// rows are complete: index by district and month.
	const months = 72
	adm := func(d, t int) float64 { return float64(rows[t*400+d][4].(int64)) }
	var up, n float64
	for t := 1; t+1 < months; t++ {
		for d := range 400 {
			if rows[t*400+d][7].(bool) && adm(d, t-1) > 10 {
				up += adm(d, t+1) / adm(d, t-1)
				n++
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %v floods", n)
	}
	// A flood multiplies demand by 1.45 a month later; the lean season alone
	// gives much less between the months around July-September.
	if up/n < 1.25 {
		t.Errorf("admissions a month after a flood / a month before = %.2f over %v floods, want a surge", up/n, n)
	}
}

func TestDemandShift(t *testing.T) {
	base, _ := demandRows(t, DemandConfig{Seed: 6})
	shift := &Shift{FloodDistricts: []string{"D003", "D010"}, FromMonth: "2024-01", Factor: 1.6}
	drift, _ := demandRows(t, DemandConfig{Seed: 6, Shift: shift})
	key := func(r []any) string { return r[0].(string) + r[2].(string) }
	byKey := map[string][]any{}
	for _, r := range drift {
		byKey[key(r)] = r
	}
	var before, after [2]float64
	for _, r := range base {
		d := byKey[key(r)]
		affected := r[0] == "D003" || r[0] == "D010"
		if !affected || r[2].(string) < "2024-01" {
			if !slices.Equal(r, d) {
				t.Fatalf("row %v changed to %v though outside the shift", r, d)
			}
			continue
		}
		if r[2] == "2024-01" && !d[7].(bool) {
			t.Errorf("%s not flooded in 2024-01", r[0])
		}
		before[0] += float64(r[4].(int64))
		after[0] += float64(d[4].(int64))
	}
	if len(drift) != len(base) {
		t.Errorf("%d rows with the shift, %d without", len(drift), len(base))
	}
	if f := after[0] / before[0]; f < 1.5 || f > 2.2 {
		t.Errorf("admissions in shifted districts × %.2f, want about 1.6 (plus the flood)", f)
	}
	_ = after[1]
}

func malnutritionRows(t *testing.T, cfg MalnutritionConfig) ([][]any, MalnutritionStats) {
	t.Helper()
	var rows [][]any
	st, err := Malnutrition(cfg, func(r []any) error { rows = append(rows, slices.Clone(r)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return rows, st
}

func whoOf(r []any) int {
	whz := math.NaN()
	if w, ok := r[6].(float64); ok {
		whz = WHZ(w, r[7].(float64), r[4] == "M")
	}
	return WHOStatus(int(r[5].(int64)), r[8].(bool), whz)
}

func TestMalnutritionPrevalenceAndLabels(t *testing.T) {
	tests := []struct {
		noise, wantNoise float64
	}{
		{0, 0.03}, // default
		{0.10, 0.10},
		{-1, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.noise), func(t *testing.T) {
			rows, st := malnutritionRows(t, MalnutritionConfig{Seed: 7, Records: 60_000, LabelNoise: tt.noise})
			if len(rows) != 60_000 || st.Rows != 60_000 {
				t.Fatalf("%d rows, want 60000", len(rows))
			}
			var agree, sam, mam, trueSAM, trueMAM int
			for _, r := range rows {
				who := whoOf(r)
				if Statuses[who] == r[9] {
					agree++
				}
				switch who {
				case 2:
					trueSAM++
				case 1:
					trueMAM++
				}
				switch r[9] {
				case "sam":
					sam++
				case "mam":
					mam++
				}
			}
			n := float64(len(rows))
			if got := 1 - float64(agree)/n; math.Abs(got-tt.wantNoise) > 0.005 {
				t.Errorf("labels disagreeing with the WHO rule: %.4f, want %.2f", got, tt.wantNoise)
			}
			if st.NoisyLabels != len(rows)-agree {
				t.Errorf("NoisyLabels = %d, counted %d", st.NoisyLabels, len(rows)-agree)
			}
			t.Logf("true SAM %.4f MAM %.4f; labels SAM %.4f MAM %.4f", float64(trueSAM)/n, float64(trueMAM)/n, float64(sam)/n, float64(mam)/n)
			if p := float64(trueSAM) / n; p < 0.03 || p > 0.05 {
				t.Errorf("SAM prevalence %.3f, want 3-5%%", p)
			}
			if p := float64(trueMAM) / n; p < 0.10 || p > 0.15 {
				t.Errorf("MAM prevalence %.3f, want 10-15%%", p)
			}
			if tt.wantNoise <= 0.03 { // more noise blurs the classes
				if p := float64(sam) / n; p < 0.03 || p > 0.05 {
					t.Errorf("SAM labels %.3f, want 3-5%%", p)
				}
				if p := float64(mam) / n; p < 0.10 || p > 0.15 {
					t.Errorf("MAM labels %.3f, want 10-15%%", p)
				}
			}
			if st.Labels["sam"] != sam || st.Labels["mam"] != mam {
				t.Errorf("Labels = %v, counted sam %d mam %d", st.Labels, sam, mam)
			}
		})
	}
}

func TestMalnutritionAnthropometry(t *testing.T) {
	rows, st := malnutritionRows(t, MalnutritionConfig{Seed: 8, Records: 40_000})
	type visit struct {
		birth float64
	}
	first := map[string]float64{}
	var wBoys, wGirls, nBoys, nGirls float64
	var young, old [2]float64 // mean MUAC by age group
	for _, r := range rows {
		age := r[3].(int64)
		muac := r[5].(int64)
		if age < 6 || age > 59 || muac < 80 || muac > 220 {
			t.Fatalf("implausible row %v", r)
		}
		if w, ok := r[6].(float64); ok {
			h := r[7].(float64)
			if w < 2 || w > 35 || h < 45 || h > 130 {
				t.Fatalf("implausible row %v", r)
			}
			if bmi := w / (h * h / 1e4); bmi < 8 || bmi > 25 {
				t.Fatalf("implausible weight for height %v", r)
			}
			if age >= 24 && age < 36 {
				if r[4] == "M" {
					wBoys, nBoys = wBoys+w, nBoys+1
				} else {
					wGirls, nGirls = wGirls+w, nGirls+1
				}
			}
		}
		if age < 12 {
			young[0], young[1] = young[0]+float64(muac), young[1]+1
		} else if age >= 48 {
			old[0], old[1] = old[0]+float64(muac), old[1]+1
		}
		d, _ := dataset.ParseDate(r[2].(string))
		birth := dataset.MonthOfDate(d) - float64(age)
		if b, ok := first[r[0].(string)]; ok {
			if math.Abs(b-birth) > 1 {
				t.Errorf("child %s: birth month %v, earlier %v", r[0], birth, b)
			}
		} else {
			first[r[0].(string)] = birth
		}
	}
	if wBoys/nBoys <= wGirls/nGirls {
		t.Errorf("boys 24-35 months %.2f kg, girls %.2f: want boys heavier", wBoys/nBoys, wGirls/nGirls)
	}
	if young[0]/young[1] >= old[0]/old[1] {
		t.Errorf("MUAC under 12 months %.1f, 48+ months %.1f: want it to grow with age", young[0]/young[1], old[0]/old[1])
	}
	if st.Children != len(first) || st.FollowUps != len(rows)-len(first) || st.FollowUps == 0 {
		t.Errorf("stats %+v, %d distinct children", st, len(first))
	}
	if f := float64(st.MUACOnly) / float64(len(rows)); f < 0.04 || f > 0.06 {
		t.Errorf("MUAC-only share %.3f, want 5%%", f)
	}
}

func TestMalnutritionShift(t *testing.T) {
	shift := &Shift{FloodDistricts: []string{"D001", "D002", "D003", "D004", "D005", "D006"}, FromMonth: "2023-01", MUACDrop: 10}
	rows, _ := malnutritionRows(t, MalnutritionConfig{Seed: 9, Records: 60_000, Shift: shift, LabelNoise: -1})
	var muac, acute [2][2]float64 // [shifted district][after FromMonth]
	var n [2][2]float64
	for _, r := range rows {
		s := 0
		if slices.Contains(shift.FloodDistricts, r[1].(string)) {
			s = 1
		}
		a := 0
		if r[2].(string) >= "2023-01" {
			a = 1
		}
		muac[s][a] += float64(r[5].(int64))
		if r[9] != "none" {
			acute[s][a]++
		}
		n[s][a]++
	}
	mean := func(x [2][2]float64, s, a int) float64 { return x[s][a] / n[s][a] }
	drop := (mean(muac, 1, 0) - mean(muac, 1, 1)) - (mean(muac, 0, 0) - mean(muac, 0, 1))
	if drop < 6 || drop > 14 {
		t.Errorf("MUAC fell %.1f mm more in the shifted districts, want about 10", drop)
	}
	if r := mean(acute, 1, 1) / mean(acute, 0, 1); r < 1.5 {
		t.Errorf("MAM+SAM prevalence after the shift: %.3f in flooded districts vs %.3f, want much higher",
			mean(acute, 1, 1), mean(acute, 0, 1))
	}
}

func TestDefectsLeaveCleanRows(t *testing.T) {
	clean, _ := demandRows(t, DemandConfig{Seed: 10})
	dup, st := demandRows(t, DemandConfig{Seed: 10, Defects: Defects{Duplicate: 0.05}})
	if st.Injected[Duplicate] == 0 || len(dup) != len(clean)+st.Injected[Duplicate] {
		t.Fatalf("%d rows, %d clean, injected %v", len(dup), len(clean), st.Injected)
	}
	var dedup [][]any
	for i, r := range dup {
		if i > 0 && slices.Equal(r, dup[i-1]) {
			continue
		}
		dedup = append(dedup, r)
	}
	if len(dedup) != len(clean) {
		t.Fatalf("%d rows after removing duplicates, want %d", len(dedup), len(clean))
	}
	for i := range clean {
		if !slices.Equal(clean[i], dedup[i]) {
			t.Fatalf("row %d: %v, want %v", i, dedup[i], clean[i])
		}
	}
}

func TestFrames(t *testing.T) {
	f, st, err := DemandFrame(DemandConfig{Seed: 11})
	if err != nil || f.Len() != st.Rows {
		t.Fatalf("DemandFrame: %d rows, stats %d, %v", f.Len(), st.Rows, err)
	}
	if c := f.Col("consumption"); c == nil || c.Type != dataset.Float {
		t.Fatal("no consumption column")
	}
	m, mst, err := MalnutritionFrame(MalnutritionConfig{Seed: 11, Records: 1000})
	if err != nil || m.Len() != mst.Rows {
		t.Fatalf("MalnutritionFrame: %d rows, stats %d, %v", m.Len(), mst.Rows, err)
	}
	if _, _, err := DemandFrame(DemandConfig{Seed: 11, Defects: Defects{BadType: 0.5}}); err == nil {
		t.Error("DemandFrame with BadType defects succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"bad start", func() error { _, err := Demand(DemandConfig{Start: "2020-13"}, nil); return err }()},
		{"unknown shift district", func() error {
			_, err := Demand(DemandConfig{Shift: &Shift{FloodDistricts: []string{"D999"}, FromMonth: "2021-01"}}, nil)
			return err
		}()},
		{"bad shift month", func() error {
			_, err := Malnutrition(MalnutritionConfig{Shift: &Shift{FromMonth: "soon"}}, nil)
			return err
		}()},
		{"rates over 1", func() error {
			_, err := Demand(DemandConfig{Defects: Defects{Duplicate: 0.6, Negative: 0.6}}, nil)
			return err
		}()},
		{"unknown defect", func() error {
			_, err := Malnutrition(MalnutritionConfig{Defects: Defects{"typo": 0.1}}, nil)
			return err
		}()},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestSchemas(t *testing.T) {
	for _, s := range []*dataset.Schema{DemandSchema(), MalnutritionSchema()} {
		for _, k := range append(slices.Clone(s.Key), s.Time, s.Target) {
			f, ok := s.Field(k)
			if !ok || !f.Required {
				t.Errorf("%s: key, time or target %q is not a required field", s.Name, k)
			}
		}
	}
}

func BenchmarkDemand(b *testing.B) {
	for b.Loop() {
		if _, err := Demand(DemandConfig{Seed: 1, Districts: 100, Months: 100}, func([]any) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10_000/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkMalnutrition(b *testing.B) {
	for b.Loop() {
		if _, err := Malnutrition(MalnutritionConfig{Seed: 1, Records: 10_000}, func([]any) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10_000/b.Elapsed().Seconds(), "rows/s")
}
