package eval

import (
	"fmt"
	"math"
)

// ClassificationMetrics scores a classifier over N labelled rows.
type ClassificationMetrics struct {
	N int `json:"n"`
	// Accuracy is the fraction of rows predicted right.
	Accuracy Metric `json:"accuracy"`
	// MacroF1 is the unweighted mean of the per-class F1 over the classes
	// that occur (as actual or predicted), so a rare class such as SAM
	// counts as much as a common one.
	MacroF1 Metric `json:"macro_f1"`
	// Brier is the multi-class Brier score, mean over rows of
	// Σ_c (p_c − [y = c])², from 0 (perfect) to 2; LogLoss is the mean of
	// −ln p_y with p clipped at 1e-15. Both are null without probabilities.
	Brier   Metric `json:"brier"`
	LogLoss Metric `json:"log_loss"`
	// Classes has one entry per class, in the order of the class list.
	Classes   []ClassMetrics `json:"classes"`
	Confusion Confusion      `json:"confusion"`
}

// ClassMetrics scores one class, one-vs-rest.
type ClassMetrics struct {
	Class string `json:"class"`
	// Support is the number of rows of this class; Predicted the number
	// of rows predicted as this class.
	Support   int `json:"support"`
	Predicted int `json:"predicted"`
	// Precision is TP/Predicted (null when nothing was predicted as the
	// class); Recall is TP/Support (null when the class has no rows); F1
	// is 2TP/(Support+Predicted): 0 when either is 0 but not both, null
	// when the class neither occurs nor is predicted.
	Precision Metric `json:"precision"`
	Recall    Metric `json:"recall"`
	F1        Metric `json:"f1"`
}

// Confusion is a confusion matrix: Counts[i][j] is the number of rows of
// actual class Classes[i] predicted as Classes[j].
type Confusion struct {
	Classes []string `json:"classes"`
	Counts  [][]int  `json:"counts"`
}

// ClassificationData is a classifier's predictions.
type ClassificationData struct {
	// Classes names the classes; classes are referred to by index.
	Classes []string
	// Actual is each row's class (-1: no label, the row is skipped).
	Actual []int
	// Pred is each row's predicted class: the model's decision, which may
	// use tuned thresholds rather than the largest probability.
	Pred []int
	// Proba, optional, holds each row's class probabilities:
	// Proba[i][c], summing to 1 (within 1e-3).
	Proba [][]float64
	// Split names each row's split; nil puts every row in "overall" only.
	Split []string
}

// ClassificationOptions configures EvaluateClassifier. The zero value works.
type ClassificationOptions struct {
	// PrimarySplit is the split of the headline metrics; "" means "test"
	// when the data has one, else "overall".
	PrimarySplit string
}

// logLossEps clips probabilities before the logarithm (as scikit-learn does).
const logLossEps = 1e-15

// probTolerance is how far a row's probabilities may sum from 1.
const probTolerance = 1e-3

// Classification scores predicted classes (and, if proba is not nil,
// probabilities) against actual classes. Rows whose actual class is -1
// are skipped.
func Classification(classes []string, actual, pred []int, proba [][]float64) (ClassificationMetrics, error) {
	d := ClassificationData{Classes: classes, Actual: actual, Pred: pred, Proba: proba}
	if err := d.validate(); err != nil {
		return ClassificationMetrics{}, err
	}
	a := newClsAcc(len(classes), proba != nil)
	for i := range actual {
		if actual[i] >= 0 {
			a.add(actual[i], pred[i], rowProba(proba, i))
		}
	}
	return a.metrics(classes), nil
}

// EvaluateClassifier scores a classifier on every split and overall.
func EvaluateClassifier(d ClassificationData, o ClassificationOptions) (*Report, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	n := len(d.Actual)
	names, idx, err := splitIndex(d.Split, n)
	if err != nil {
		return nil, err
	}
	primary, err := choosePrimary(o.PrimarySplit, names)
	if err != nil {
		return nil, err
	}
	C, hasP := len(d.Classes), d.Proba != nil
	overall := newClsAcc(C, hasP)
	per := make([]*clsAcc, len(names))
	for j := range per {
		per[j] = newClsAcc(C, hasP)
	}
	for i := range n {
		accs := []*clsAcc{overall}
		if idx != nil {
			accs = append(accs, per[idx[i]])
		}
		for _, a := range accs {
			a.rows++
			if d.Actual[i] < 0 {
				a.skipped++
				continue
			}
			a.add(d.Actual[i], d.Pred[i], rowProba(d.Proba, i))
		}
	}
	result := func(name string, a *clsAcc) ClassificationSplit {
		return ClassificationSplit{Split: name, Rows: a.rows, Skipped: a.skipped, ClassificationMetrics: a.metrics(d.Classes)}
	}
	rep := &ClassificationReport{Overall: result(Overall, overall)}
	for j, name := range names {
		rep.Splits = append(rep.Splits, result(name, per[j]))
	}
	return &Report{SchemaVersion: SchemaVersion, Task: TaskClassification, PrimarySplit: primary, Classification: rep}, nil
}

func rowProba(p [][]float64, i int) []float64 {
	if p == nil {
		return nil
	}
	return p[i]
}

func (d *ClassificationData) validate() error {
	C, n := len(d.Classes), len(d.Actual)
	if C < 2 {
		return fmt.Errorf("%w: %d classes, need at least 2", ErrInvalid, C)
	}
	seen := make(map[string]bool, C)
	for _, c := range d.Classes {
		if seen[c] {
			return fmt.Errorf("%w: class %q listed twice", ErrInvalid, c)
		}
		seen[c] = true
	}
	if len(d.Pred) != n || (d.Proba != nil && len(d.Proba) != n) || (d.Split != nil && len(d.Split) != n) {
		return fmt.Errorf("%w: %d actuals, %d predictions, %d probability rows, %d splits",
			ErrInvalid, n, len(d.Pred), len(d.Proba), len(d.Split))
	}
	for i := range n {
		if y := d.Actual[i]; y < -1 || y >= C {
			return fmt.Errorf("%w: row %d: actual class %d not in [-1, %d)", ErrInvalid, i, y, C)
		}
		if p := d.Pred[i]; p < 0 || p >= C {
			return fmt.Errorf("%w: row %d: predicted class %d not in [0, %d)", ErrInvalid, i, p, C)
		}
		if d.Proba == nil {
			continue
		}
		row := d.Proba[i]
		if len(row) != C {
			return fmt.Errorf("%w: row %d has %d probabilities for %d classes", ErrInvalid, i, len(row), C)
		}
		var sum float64
		for _, p := range row {
			if !(p >= -probTolerance && p <= 1+probTolerance) {
				return fmt.Errorf("%w: row %d: probability %v", ErrInvalid, i, p)
			}
			sum += p
		}
		if math.Abs(sum-1) > probTolerance {
			return fmt.Errorf("%w: row %d: probabilities sum to %v", ErrInvalid, i, sum)
		}
	}
	return nil
}

type clsAcc struct {
	rows, skipped int
	conf          [][]int
	n             int
	hasP          bool
	brier, logl   float64
}

func newClsAcc(C int, hasP bool) *clsAcc {
	conf := make([][]int, C)
	for i := range conf {
		conf[i] = make([]int, C)
	}
	return &clsAcc{conf: conf, hasP: hasP}
}

func (a *clsAcc) add(y, pred int, p []float64) {
	a.n++
	a.conf[y][pred]++
	if p == nil {
		return
	}
	for c, pc := range p {
		t := pc
		if c == y {
			t = pc - 1
		}
		a.brier += t * t
	}
	a.logl -= math.Log(min(max(p[y], logLossEps), 1))
}

func (a *clsAcc) metrics(classes []string) ClassificationMetrics {
	C := len(classes)
	m := ClassificationMetrics{
		N: a.n, Brier: undefined, LogLoss: undefined,
		Confusion: Confusion{Classes: classes, Counts: a.conf},
	}
	var correct int
	var f1sum float64
	var f1n int
	for c := range C {
		tp := a.conf[c][c]
		correct += tp
		var support, predicted int
		for j := range C {
			support += a.conf[c][j]
			predicted += a.conf[j][c]
		}
		cm := ClassMetrics{
			Class: classes[c], Support: support, Predicted: predicted,
			Precision: ratio(float64(tp), float64(predicted)),
			Recall:    ratio(float64(tp), float64(support)),
			F1:        ratio(2*float64(tp), float64(support+predicted)),
		}
		if cm.F1.Defined() {
			f1sum += float64(cm.F1)
			f1n++
		}
		m.Classes = append(m.Classes, cm)
	}
	m.Accuracy = ratio(float64(correct), float64(a.n))
	m.MacroF1 = ratio(f1sum, float64(f1n))
	if a.hasP && a.n > 0 {
		m.Brier = Metric(a.brier / float64(a.n))
		m.LogLoss = Metric(a.logl / float64(a.n))
	}
	return m
}
