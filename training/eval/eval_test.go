package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

const tol = 1e-12

func near(a Metric, b float64) bool {
	if math.IsNaN(b) {
		return math.IsNaN(float64(a))
	}
	return math.Abs(float64(a)-b) <= tol*math.Max(1, math.Abs(b))
}

func month(y, m int) int { return y*12 + m - 1 }

func TestRegressionHandComputed(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name                        string
		y, pred                     []float64
		n, mapeRows                 int
		wape, mape, rmse, mae, bias float64
		actual, predicted           float64
	}{
		{
			// e = ŷ−y = 2, 1, 0, −6
			name: "mixed", y: []float64{10, 0, 5, 20}, pred: []float64{12, 1, 5, 14},
			n: 4, mapeRows: 3,
			wape: 9.0 / 35, mape: (0.2 + 0 + 0.3) / 3, rmse: math.Sqrt(41.0 / 4), mae: 9.0 / 4, bias: -3.0 / 35,
			actual: 35, predicted: 32,
		},
		{
			name: "all zero actuals", y: []float64{0, 0}, pred: []float64{1, 0},
			n: 2, wape: nan, mape: nan, rmse: math.Sqrt(0.5), mae: 0.5, bias: nan, predicted: 1,
		},
		{
			name: "NaN rows skipped", y: []float64{4, nan, 2}, pred: []float64{2, 7, nan},
			n: 1, mapeRows: 1, wape: 0.5, mape: 0.5, rmse: 2, mae: 2, bias: -0.5, actual: 4, predicted: 2,
		},
		{name: "empty", n: 0, wape: nan, mape: nan, rmse: nan, mae: nan, bias: nan},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Regression(c.y, c.pred)
			if m.N != c.n || m.MAPERows != c.mapeRows || m.Actual != c.actual || m.Predicted != c.predicted {
				t.Errorf("n=%d mape_rows=%d totals=%v/%v, want %d %d %v/%v", m.N, m.MAPERows, m.Actual, m.Predicted, c.n, c.mapeRows, c.actual, c.predicted)
			}
			for _, x := range []struct {
				name string
				got  Metric
				want float64
			}{{"wape", m.WAPE, c.wape}, {"mape", m.MAPE, c.mape}, {"rmse", m.RMSE, c.rmse}, {"mae", m.MAE, c.mae}, {"bias", m.Bias, c.bias}} {
				if !near(x.got, x.want) {
					t.Errorf("%s = %v, want %v", x.name, x.got, x.want)
				}
			}
		})
	}
}

func TestSeasonalNaive(t *testing.T) {
	nan := math.NaN()
	hist := Series{
		District: []string{"A", "A", "B", "B", "B", "B"},
		Month:    []int{month(2020, 3), month(2020, 7), month(2019, 5), month(2020, 1), month(2020, 3), month(2020, 6)},
		Value:    []float64{3, 7, 50, 10, 30, nan},
	}
	cases := []struct {
		district string
		month    int
		want     float64
		src      Source
	}{
		{"A", month(2021, 3), 3, SourceLag12},
		{"A", month(2021, 7), 7, SourceLag12},
		{"B", month(2021, 5), 50, SourceLag24},    // 2020-05 missing, 2019-05 there
		{"B", month(2021, 7), 20, SourceYearMean}, // mean of 2020-01 and 2020-03 (2019-08 … 2020-07)
		{"B", month(2021, 6), 20, SourceYearMean}, // 2020-06 is NaN: not observed
		{"A", month(2022, 3), 3, SourceLag24},     // two years back
		{"A", month(2023, 3), nan, SourceNone},    // history too old
		{"C", month(2021, 1), nan, SourceNone},    // unknown district
		{"B", month(2020, 3), nan, SourceNone},    // nothing before 2019-03
	}
	var ds []string
	var ms []int
	for _, c := range cases {
		ds = append(ds, c.district)
		ms = append(ms, c.month)
	}
	pred, src, err := SeasonalNaive(hist, ds, ms)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if !near(Metric(pred[i]), c.want) || src[i] != c.src {
			t.Errorf("%s %s: got %v (%s), want %v (%s)", c.district, FormatMonth(c.month), pred[i], src[i], c.want, c.src)
		}
	}

	dup := Series{District: []string{"A", "A"}, Month: []int{5, 5}, Value: []float64{1, 2}}
	if _, _, err := SeasonalNaive(dup, nil, nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "two values") {
		t.Errorf("duplicate history: %v", err)
	}
	if got := FormatMonth(month(2023, 1)); got != "2023-01" {
		t.Errorf("FormatMonth = %q", got)
	}
}

// demandFixture is a small evaluation worked out by hand in
// TestEvaluateDemand: five scored test rows and one skipped, one train row.
func demandFixture() (DemandData, Series) {
	nan := math.NaN()
	d := DemandData{
		District: []string{"A", "A", "B", "B", "C", "B", "A"},
		Month:    []int{month(2023, 7), month(2023, 8), month(2023, 7), month(2023, 8), month(2023, 8), month(2023, 9), month(2023, 1)},
		Split:    []string{"test", "test", "test", "test", "test", "test", "train"},
		Actual:   []float64{110, 190, 12, 20, 5, nan, 50},
		Pred:     []float64{105, 200, 11, 26, 5, 9, 40},
	}
	h := Series{
		District: []string{"A", "A", "B", "B"},
		Month:    []int{month(2022, 7), month(2022, 8), month(2022, 7), month(2021, 8)},
		Value:    []float64{100, 200, 10, 30},
	}
	return d, h
}

func TestEvaluateDemand(t *testing.T) {
	d, h := demandFixture()
	r, err := EvaluateDemand(d, DemandOptions{History: &h, WorstDistricts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.PrimarySplit != "test" || r.Task != TaskRegression || len(r.Regression.Splits) != 2 || r.Regression.Splits[0].Split != "test" {
		t.Fatalf("primary %q task %q splits %+v", r.PrimarySplit, r.Task, r.Regression.Splits)
	}
	test := r.Regression.Splits[0]
	// Model errors −5, +10, −1, +6, 0 on actuals 110, 190, 12, 20, 5.
	// Baseline: 100 (lag12), 200 (lag12), 10 (lag12), 30 (lag24), none.
	checks := []struct {
		name string
		got  Metric
		want float64
	}{
		{"model wape", test.Model.WAPE, 22.0 / 337},
		{"model bias", test.Model.Bias, 10.0 / 337},
		{"baseline wape", test.Baseline.WAPE, 32.0 / 332},
		{"model wape on baseline rows", test.ModelOnBaselineRows.WAPE, 22.0 / 332},
		{"coverage", test.BaselineCoverage, 0.8},
		{"improvement", test.WAPEImprovement, 1 - 22.0/32},
		{"overall wape", r.Regression.Overall.Model.WAPE, 32.0 / 387},
		{"overall coverage", r.Regression.Overall.BaselineCoverage, 4.0 / 6},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if test.Rows != 6 || test.Skipped != 1 || test.Model.N != 5 || test.Baseline.N != 4 {
		t.Errorf("rows %d skipped %d n %d baseline n %d", test.Rows, test.Skipped, test.Model.N, test.Baseline.N)
	}
	if s := test.BaselineSources; s["lag12"] != 3 || s["lag24"] != 1 || s["none"] != 1 || len(s) != 3 {
		t.Errorf("sources %v", s)
	}
	w := test.WorstDistricts
	if len(w) != 2 || w[0].District != "A" || w[1].District != "B" ||
		!near(w[0].ErrorShare, 15.0/22) || !near(w[0].WAPE, 0.05) || !near(w[0].BaselineWAPE, 20.0/300) ||
		!near(w[1].WAPE, 7.0/32) || w[1].AbsError != 7 {
		t.Errorf("worst districts %+v", w)
	}
	if r.Regression.Splits[1].WorstDistricts != nil || r.Regression.Overall.WorstDistricts != nil {
		t.Error("worst districts should be listed for the primary split only")
	}

	m := r.Metrics()
	want := map[string]float64{
		"wape": 22.0 / 337, "test_wape": 22.0 / 337, "overall_wape": 32.0 / 387, "train_wape": 0.2,
		"baseline_wape": 32.0 / 332, "wape_improvement": 1 - 22.0/32, "baseline_coverage": 0.8, "rows": 5,
	}
	for k, v := range want {
		if !near(Metric(m[k]), v) {
			t.Errorf("Metrics()[%q] = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["train_baseline_wape"]; ok {
		t.Error("undefined metric train_baseline_wape should be left out")
	}

	// Without a history option the rows are their own history: no row has one a year earlier.
	r2, err := EvaluateDemand(d, DemandOptions{PrimarySplit: Overall})
	if err != nil {
		t.Fatal(err)
	}
	if r2.PrimarySplit != Overall || r2.Regression.Overall.BaselineCoverage != 0 || r2.Regression.Overall.WAPEImprovement.Defined() {
		t.Errorf("self-history: %+v", r2.Regression.Overall)
	}
}

func TestEvaluateDemandErrors(t *testing.T) {
	d, _ := demandFixture()
	bad := d
	bad.Pred = append([]float64{math.NaN()}, d.Pred[1:]...)
	if _, err := EvaluateDemand(bad, DemandOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NaN prediction: %v", err)
	}
	bad = d
	bad.Actual = d.Actual[:2]
	if _, err := EvaluateDemand(bad, DemandOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("length mismatch: %v", err)
	}
	if _, err := EvaluateDemand(d, DemandOptions{PrimarySplit: "valid"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing primary split: %v", err)
	}
	bad = d
	bad.Split = []string{"test", "overall", "test", "test", "test", "test", "train"}
	if _, err := EvaluateDemand(bad, DemandOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("reserved split name: %v", err)
	}
}

func TestClassificationHandComputed(t *testing.T) {
	classes := []string{"none", "MAM", "SAM"}
	actual := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}
	pred := []int{0, 0, 0, 1, 1, 1, 0, 2, 1, 2}
	m, err := Classification(classes, actual, pred, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantConf := [][]int{{3, 1, 0}, {1, 2, 0}, {0, 1, 2}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if m.Confusion.Counts[i][j] != wantConf[i][j] {
				t.Fatalf("confusion %v, want %v", m.Confusion.Counts, wantConf)
			}
		}
	}
	if !near(m.Accuracy, 0.7) || !near(m.MacroF1, (0.75+4.0/7+0.8)/3) || m.Brier.Defined() || m.LogLoss.Defined() {
		t.Errorf("accuracy %v macro-F1 %v brier %v log loss %v", m.Accuracy, m.MacroF1, m.Brier, m.LogLoss)
	}
	want := []struct {
		support, predicted int
		p, r, f1           float64
	}{{4, 4, 0.75, 0.75, 0.75}, {3, 4, 0.5, 2.0 / 3, 4.0 / 7}, {3, 2, 1, 2.0 / 3, 0.8}}
	for c, w := range want {
		g := m.Classes[c]
		if g.Class != classes[c] || g.Support != w.support || g.Predicted != w.predicted || !near(g.Precision, w.p) || !near(g.Recall, w.r) || !near(g.F1, w.f1) {
			t.Errorf("class %s: %+v, want %+v", classes[c], g, w)
		}
	}

	// Probabilities: Brier (0.08 + 0.32)/2, log loss −(ln 0.8 + ln 0.6)/2.
	m, err = Classification([]string{"a", "b"}, []int{0, 1}, []int{0, 1}, [][]float64{{0.8, 0.2}, {0.4, 0.6}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m.Brier, 0.2) || !near(m.LogLoss, -(math.Log(0.8)+math.Log(0.6))/2) {
		t.Errorf("brier %v log loss %v", m.Brier, m.LogLoss)
	}
	// A probability of 0 for the true class is clipped, not infinite.
	m, _ = Classification([]string{"a", "b"}, []int{0}, []int{1}, [][]float64{{0, 1}})
	if !near(m.LogLoss, -math.Log(1e-15)) || !near(m.Brier, 2) {
		t.Errorf("clipped log loss %v brier %v", m.LogLoss, m.Brier)
	}

	// A class that neither occurs nor is predicted is left out of macro-F1.
	m, _ = Classification([]string{"a", "b", "c"}, []int{0, 1, -1}, []int{0, 1, 2}, nil)
	c := m.Classes[2]
	if m.N != 2 || !near(m.MacroF1, 1) || c.Precision.Defined() || c.Recall.Defined() || c.F1.Defined() {
		t.Errorf("absent class: n=%d macro-F1 %v, class c %+v", m.N, m.MacroF1, c)
	}
	// Predicted but never actual: precision 0, recall undefined, F1 0 (counts in the macro).
	m, _ = Classification([]string{"a", "b"}, []int{0, 0}, []int{0, 1}, nil)
	if c := m.Classes[1]; !near(c.Precision, 0) || c.Recall.Defined() || !near(c.F1, 0) || !near(m.MacroF1, (2.0/3+0)/2) {
		t.Errorf("predicted-only class %+v, macro-F1 %v", c, m.MacroF1)
	}
}

func TestClassificationInvalid(t *testing.T) {
	cases := map[string]ClassificationData{
		"one class":    {Classes: []string{"a"}, Actual: []int{0}, Pred: []int{0}},
		"dup class":    {Classes: []string{"a", "a"}, Actual: []int{0}, Pred: []int{0}},
		"pred range":   {Classes: []string{"a", "b"}, Actual: []int{0}, Pred: []int{2}},
		"actual range": {Classes: []string{"a", "b"}, Actual: []int{-2}, Pred: []int{0}},
		"lengths":      {Classes: []string{"a", "b"}, Actual: []int{0, 1}, Pred: []int{0}},
		"proba sum":    {Classes: []string{"a", "b"}, Actual: []int{0}, Pred: []int{0}, Proba: [][]float64{{0.5, 0.4}}},
		"proba width":  {Classes: []string{"a", "b"}, Actual: []int{0}, Pred: []int{0}, Proba: [][]float64{{1}}},
		"proba NaN":    {Classes: []string{"a", "b"}, Actual: []int{0}, Pred: []int{0}, Proba: [][]float64{{math.NaN(), 1}}},
	}
	for name, d := range cases {
		if _, err := EvaluateClassifier(d, ClassificationOptions{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// float32 rounding is tolerated.
	d := ClassificationData{Classes: []string{"a", "b"}, Actual: []int{0}, Pred: []int{0}, Proba: [][]float64{{float64(float32(0.7)), float64(float32(0.3)) - 1e-7}}}
	if _, err := EvaluateClassifier(d, ClassificationOptions{}); err != nil {
		t.Errorf("near-1 probabilities refused: %v", err)
	}
}

func TestEvaluateClassifierSplitsAndMetrics(t *testing.T) {
	d := ClassificationData{
		Classes: []string{"none", "MAM", "SAM"},
		Actual:  []int{0, 2, 2, 1, 0, 2, -1},
		Pred:    []int{0, 2, 0, 1, 0, 2, 0},
		Split:   []string{"train", "train", "test", "test", "test", "test", "test"},
	}
	r, err := EvaluateClassifier(d, ClassificationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	test := r.Classification.split("test")
	if r.PrimarySplit != "test" || test.Rows != 5 || test.Skipped != 1 || test.N != 4 {
		t.Fatalf("primary %q, test split %+v", r.PrimarySplit, test)
	}
	m := r.Metrics()
	for k, v := range map[string]float64{
		"sam_recall": 0.5, "test_sam_recall": 0.5, "train_sam_recall": 1, "overall_sam_recall": 2.0 / 3,
		"accuracy": 0.75, "sam_support": 2, "mam_f1": 1, "rows": 4, "sam_precision": 1,
	} {
		if !near(Metric(m[k]), v) {
			t.Errorf("Metrics()[%q] = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["brier"]; ok {
		t.Error("brier without probabilities should be left out")
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	d, h := demandFixture()
	r, err := EvaluateDemand(d, DemandOptions{History: &h, WorstDistricts: 3})
	if err != nil {
		t.Fatal(err)
	}
	r.Gate(DefaultGates())
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"baseline_wape": null`) {
		t.Errorf("undefined metrics should be null in JSON:\n%s", buf.String())
	}
	back, err := ReadReport(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Metrics(), r.Metrics(); len(got) != len(want) {
		t.Errorf("metrics after round trip: %d, want %d", len(got), len(want))
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v after round trip, want %v", k, got[k], v)
			}
		}
	}
	if back.Regression.Splits[1].Baseline.WAPE.Defined() {
		t.Error("null should decode as undefined")
	}
	if back.Gates == nil || back.Gates.Passed != r.Gates.Passed || len(back.Gates.Failures) != len(r.Gates.Failures) {
		t.Errorf("gates after round trip: %+v", back.Gates)
	}

	for name, doc := range map[string]string{
		"major":   `{"schema_version":"lantern.metrics/v2","task":"regression","regression":{}}`,
		"neither": `{"schema_version":"lantern.metrics/v1","task":"regression"}`,
		"other":   `{"schema_version":"something","regression":{}}`,
	} {
		if _, err := ReadReport(strings.NewReader(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := ReadReport(strings.NewReader(`{"schema_version":"lantern.metrics/v1.3","task":"regression","regression":{},"new_field":1}`)); err != nil {
		t.Errorf("a newer minor version should be read: %v", err)
	}
}

func TestMetricJSON(t *testing.T) {
	b, err := json.Marshal([]Metric{1.5, undefined, Metric(math.Inf(1)), 0})
	if err != nil || string(b) != "[1.5,null,null,0]" {
		t.Errorf("got %s, %v", b, err)
	}
	var back []Metric
	if err := json.Unmarshal(b, &back); err != nil || back[0] != 1.5 || back[1].Defined() || back[3] != 0 {
		t.Errorf("got %v, %v", back, err)
	}
}
