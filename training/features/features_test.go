package features

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

type demandRow struct {
	district, region                        string
	month                                   int // dataset.Month
	pop, adm, cons, stock, flood, displaced float64
}

func demandFrameOf(rows []demandRow) *dataset.Frame {
	district := &dataset.Column{Name: ColDistrict, Type: dataset.String}
	region := &dataset.Column{Name: ColRegion, Type: dataset.String}
	num := func(name string, t dataset.Type) *dataset.Column { return &dataset.Column{Name: name, Type: t} }
	month, pop, adm, cons := num(ColMonth, dataset.Month), num(ColPopulation, dataset.Int), num(ColAdmissions, dataset.Int), num(ColConsumption, dataset.Float)
	stock, flood, disp := num(ColStockout, dataset.Bool), num(ColFlood, dataset.Bool), num(ColDisplaced, dataset.Int)
	for _, r := range rows {
		district.AppendString(r.district, false)
		region.AppendString(r.region, r.region == "")
		month.Num = append(month.Num, float64(r.month))
		pop.Num = append(pop.Num, r.pop)
		adm.Num = append(adm.Num, r.adm)
		cons.Num = append(cons.Num, r.cons)
		stock.Num = append(stock.Num, r.stock)
		flood.Num = append(flood.Num, r.flood)
		disp.Num = append(disp.Num, r.displaced)
	}
	return &dataset.Frame{Columns: []*dataset.Column{district, region, month, pop, adm, cons, stock, flood, disp}}
}

func col(t *testing.T, d *Demand, name string) []float32 {
	t.Helper()
	j := slices.Index(d.X.Names, name)
	if j < 0 {
		t.Fatalf("no feature %q in %v", name, d.X.Names)
	}
	return d.X.Cols[j]
}

func same(a, b float32) bool { return a == b || (a != a && b != b) }

func TestDemandLagsFollowTheCalendar(t *testing.T) {
	jan := 2022 * 12
	nan := math.NaN()
	// Out of order, with a gap (no row for April), a missing report in
	// February and a stock-out in May; another district in between.
	rows := []demandRow{
		{"A", "north", jan + 4, 1000, 50, 140, 1, 0, 10}, // May: stock-out
		{"A", "north", jan + 0, 1000, 10, 100, 0, 0, 0},  // Jan
		{"B", "south", jan + 0, 500, 5, 7, 0, 1, 0},
		{"A", "north", jan + 2, 1000, 30, 120, 0, 1, 30}, // Mar
		{"A", "north", jan + 1, 1000, 20, nan, 0, 0, 20}, // Feb: not reported
		{"A", "north", jan + 5, 1000, 60, 150, 0, 0, 0},  // Jun
		{"A", "north", jan + 12, 1100, 70, 160, 0, 0, 0}, // next Jan
	}
	d, err := BuildDemand(demandFrameOf(rows), DemandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.X.Rows != len(rows) || d.District[2] != "B" || d.Month[0] != jan+4 {
		t.Fatalf("rows out of the frame's order: %v %v", d.District, d.Month)
	}
	lag1, lag2, lag3, lag12 := col(t, d, ConsumptionLag1), col(t, d, ConsumptionLag2), col(t, d, ConsumptionLag3), col(t, d, ConsumptionLag12)
	mean3, mean12 := col(t, d, ConsumptionMean3), col(t, d, ConsumptionMean12)
	n := float32(nan)
	for _, c := range []struct {
		row                                    int
		lag1, lag2, lag3, lag12, mean3, mean12 float32
	}{
		{1, n, n, n, n, n, n},                               // Jan: no history
		{4, 100, n, n, n, 100, 100},                         // Feb
		{3, n, 100, n, n, 100, 100},                         // Mar: Feb not reported
		{0, n, 120, n, n, 120, 110},                         // May: no April row
		{5, 140, n, 120, n, 130, (100 + 120 + 140) / 3.0},   // Jun: May's censored value is a lag
		{6, n, n, n, 100, n, (100 + 120 + 140 + 150) / 4.0}, // next Jan: lag 12 is last Jan
	} {
		got := []float32{lag1[c.row], lag2[c.row], lag3[c.row], lag12[c.row], mean3[c.row], mean12[c.row]}
		want := []float32{c.lag1, c.lag2, c.lag3, c.lag12, c.mean3, c.mean12}
		for k := range got {
			if !same(got[k], want[k]) {
				t.Errorf("row %d (%s %s): lags/means %v, want %v", c.row, d.District[c.row], monthString(d.Month[c.row]), got, want)
				break
			}
		}
	}
	// Stock-out: censored target, flagged for the next month.
	if !math.IsNaN(d.Y[0]) || !d.Censored[0] || col(t, d, StockoutLag1)[5] != 1 || col(t, d, StockoutLag1)[3] != 0 {
		t.Errorf("stock-out: Y %v censored %v stockout_lag1 %v", d.Y[0], d.Censored[0], col(t, d, StockoutLag1))
	}
	if !math.IsNaN(d.Y[4]) || d.Y[3] != 120 {
		t.Errorf("targets %v", d.Y)
	}
	// Previous month's admissions, flood, displacement.
	if a, f, dp := col(t, d, AdmissionsLag1)[3], col(t, d, FloodLag1)[3], col(t, d, DisplacedLag1)[3]; a != 20 || f != 0 || dp != 20 {
		t.Errorf("March: admissions_lag1 %v flood_lag1 %v displaced_lag1 %v", a, f, dp)
	}
	if !same(col(t, d, AdmissionsLag1)[0], n) {
		t.Errorf("May with no April row: admissions_lag1 %v", col(t, d, AdmissionsLag1)[0])
	}
	// Calendar and region.
	if moy, lean := col(t, d, MonthOfYear)[5], col(t, d, LeanSeason)[5]; moy != 6 || lean != 1 {
		t.Errorf("June: month_of_year %v lean %v", moy, lean)
	}
	if col(t, d, LeanSeason)[1] != 0 || col(t, d, MonthCos)[1] != 1 || col(t, d, MonthSin)[1] != 0 {
		t.Error("January calendar features")
	}
	if !slices.Equal(d.Spec.Regions, []string{"north", "south"}) || col(t, d, RegionCode)[2] != 1 {
		t.Errorf("regions %v codes %v", d.Spec.Regions, col(t, d, RegionCode))
	}
	if l := d.Labeled(); !slices.Equal(l, []int{1, 2, 3, 5, 6}) {
		t.Errorf("labeled %v", l)
	}
	train, valid := d.SplitByMonth(jan + 3)
	if !slices.Equal(train, []int{1, 2, 3}) || !slices.Equal(valid, []int{5, 6}) {
		t.Errorf("split %v %v", train, valid)
	}
}

// TestDemandNoLeakage: changing anything a row reports about its own month
// (or later months) leaves its features unchanged.
func TestDemandNoLeakage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var rows []demandRow
	for d := range 3 {
		for m := range 30 {
			rows = append(rows, demandRow{string(rune('A' + d)), "r", 24000 + m, 1000, float64(r.IntN(100)), float64(r.IntN(500)), float64(r.IntN(2)), float64(r.IntN(2)), float64(r.IntN(50))})
		}
	}
	base, err := BuildDemand(demandFrameOf(rows), DemandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{5, 29, 40, 75} {
		changed := slices.Clone(rows)
		changed[i].cons += 1000
		changed[i].adm += 1000
		changed[i].flood = 1 - changed[i].flood
		changed[i].displaced += 1000
		changed[i].stock = 1 - changed[i].stock
		for k := i + 1; k < len(changed) && changed[k].district == changed[i].district; k++ {
			changed[k].cons, changed[k].adm = -1, -1 // the future
		}
		d, err := BuildDemand(demandFrameOf(changed), DemandOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range d.X.Cols {
			if !same(d.X.Cols[j][i], base.X.Cols[j][i]) {
				t.Errorf("row %d: changing its own month's values changed %s: %v -> %v", i, d.X.Names[j], base.X.Cols[j][i], d.X.Cols[j][i])
			}
		}
	}
}

// TestDemandVectorMatchesFrame: a forecasting client's record gives the
// same features as the frame.
func TestDemandVectorMatchesFrame(t *testing.T) {
	jan := 2023 * 12
	var rows []demandRow
	for m := range 14 {
		rows = append(rows, demandRow{"A", "east", jan + m, 900, float64(10 + m), float64(100 + 3*m), float64(m % 5 / 4), float64(m % 3 / 2), float64(m)})
	}
	rows[6].cons = math.NaN()
	d, err := BuildDemand(demandFrameOf(rows), DemandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := DemandInput{Month: jan + 13, Region: "east", Population: 900, AdmissionsPrev: rows[12].adm,
		DisplacedPrev: rows[12].displaced, FloodPrev: rows[12].flood, StockoutPrev: rows[12].stock}
	for k := range in.Consumption {
		in.Consumption[k] = rows[13-k-1].cons
	}
	v, err := d.Spec.Vector(&in, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := d.X.Row(13, nil)
	for j := range v {
		if !same(v[j], row[j]) {
			t.Errorf("%s: vector %v, frame %v", d.X.Names[j], v[j], row[j])
		}
	}
	// Unknown regions encode as NaN.
	spec := NewDemandSpec(DemandOptions{Regions: []string{"east"}})
	if c := spec.RegionCode("west"); c == c {
		t.Errorf("unknown region code %v", c)
	}
	if _, err := spec.Vector(&DemandInput{Static: []float64{1}}, nil); !errors.Is(err, ErrMissing) {
		t.Errorf("static attribute count not checked: %v", err)
	}
}

func TestDemandErrors(t *testing.T) {
	rows := []demandRow{{"A", "n", 100, 1, 1, 1, 0, 0, 0}, {"A", "n", 100, 1, 1, 2, 0, 0, 0}}
	if _, err := BuildDemand(demandFrameOf(rows), DemandOptions{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate month: %v", err)
	}
	f := demandFrameOf(rows[:1])
	f.Columns = slices.DeleteFunc(f.Columns, func(c *dataset.Column) bool { return c.Name == ColConsumption })
	if _, err := BuildDemand(f, DemandOptions{}); !errors.Is(err, ErrColumn) {
		t.Errorf("no consumption column: %v", err)
	}
	if _, err := BuildDemand(demandFrameOf(rows[:1]), DemandOptions{Static: []string{"remoteness"}}); !errors.Is(err, ErrColumn) {
		t.Errorf("missing static column: %v", err)
	}
}

func TestMalnutrition(t *testing.T) {
	str := func(name string, v ...string) *dataset.Column {
		c := &dataset.Column{Name: name, Type: dataset.String}
		for _, s := range v {
			c.AppendString(s, s == "")
		}
		return c
	}
	num := func(name string, t dataset.Type, v ...float64) *dataset.Column {
		return &dataset.Column{Name: name, Type: t, Num: v}
	}
	nan := math.NaN()
	f := &dataset.Frame{Columns: []*dataset.Column{
		str(ColChild, "c1", "c2", "c3", "c4", "c5"),
		str(ColSex, "F", "M", "m", "", "F"),
		num(ColAge, dataset.Int, 12, 30, 50, 20, 24),
		num(ColMUAC, dataset.Float, 110, 122, 140, 130, nan),
		num(ColWeight, dataset.Float, 6.4, 10, 16, 11, 10),
		num(ColHeight, dataset.Float, 80, 100, 105, 85, 90),
		num(ColOedema, dataset.Bool, 1, 0, 0, 0, 0),
		str(ColStatus, "sam", "MAM", "none", "none", "none"),
		num(ColVisitDate, dataset.Date, 19000, 19001, nan, 19003, 19004),
	}}
	m, err := BuildMalnutrition(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.X.Rows != 3 || m.Dropped != 2 || !slices.Equal(m.Rows, []int{0, 1, 2}) || !slices.Equal(m.Y, []int{2, 1, 0}) {
		t.Fatalf("rows %v dropped %d labels %v", m.Rows, m.Dropped, m.Y)
	}
	if !slices.Equal(m.Child, []string{"c1", "c2", "c3"}) || !slices.Equal(m.VisitDate, []int{19000, 19001, -1}) {
		t.Errorf("ids %v %v", m.Child, m.VisitDate)
	}
	want := []float32{12, 0, 110, 6.4, 80, 1, float32(6.4 / 0.64)}
	if got := m.X.Row(0, nil); !slices.Equal(got, want) {
		t.Errorf("row 0 features %v, want %v", got, want)
	}
	v, err := MalnutritionVector(MalnutritionInput{AgeMonths: 30, Sex: "M", MUACmm: 122, WeightKg: 10, HeightCm: 100}, nil)
	if err != nil || !slices.Equal(v, m.X.Row(1, nil)) {
		t.Errorf("vector %v (%v), frame %v", v, err, m.X.Row(1, nil))
	}
	for _, in := range []MalnutritionInput{
		{AgeMonths: 30, Sex: "x", MUACmm: 1, WeightKg: 1, HeightCm: 1},
		{AgeMonths: nan, Sex: "F", MUACmm: 1, WeightKg: 1, HeightCm: 1},
		{AgeMonths: 1, Sex: "F", MUACmm: 1, WeightKg: 1, HeightCm: 0},
	} {
		if _, err := MalnutritionVector(in, nil); !errors.Is(err, ErrMissing) {
			t.Errorf("%+v: %v", in, err)
		}
	}
	// Without a status column (new data to score) no row is dropped for it.
	f.Columns = slices.DeleteFunc(f.Columns, func(c *dataset.Column) bool { return c.Name == ColStatus })
	m, err = BuildMalnutrition(f)
	if err != nil || m.Y != nil || m.X.Rows != 3 {
		t.Errorf("without status: %v rows, labels %v, %v", m.X.Rows, m.Y, err)
	}
	if md := MalnutritionMetadata(); md["class_names"] != "none,mam,sam" {
		t.Errorf("metadata %v", md)
	}
}
